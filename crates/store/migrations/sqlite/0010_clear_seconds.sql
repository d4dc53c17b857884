-- Clear periods (keep in step with ../postgres/0010_clear_seconds.sql).
--
-- How long a metric below its high level but within the hysteresis margin must stay there before
-- its open alert resolves (core's MetricThreshold::clear_seconds). Existing rows get the default.
ALTER TABLE alert_thresholds ADD COLUMN cpu_clear_seconds INTEGER NOT NULL DEFAULT 120;
ALTER TABLE alert_thresholds ADD COLUMN memory_clear_seconds INTEGER NOT NULL DEFAULT 120;
ALTER TABLE alert_thresholds ADD COLUMN disk_clear_seconds INTEGER NOT NULL DEFAULT 120;
