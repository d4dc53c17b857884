-- Service grace periods (keep in step with ../postgres/0011_service_grace.sql).
--
-- How long an expected service may be reported down before its alert opens: per service
-- (NULL: the global default) and the global default in the thresholds (0: the first report, v1).
ALTER TABLE expected_services ADD COLUMN grace_seconds INTEGER;
ALTER TABLE alert_thresholds ADD COLUMN service_grace_seconds INTEGER NOT NULL DEFAULT 0;
