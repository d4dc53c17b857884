-- Service grace periods (keep in step with ../sqlite/0011_service_grace.sql).
--
-- How long an expected service may be reported down before its alert opens: per service
-- (NULL: the global default) and the global default in the thresholds (0: the first report, v1).
ALTER TABLE expected_services ADD COLUMN grace_seconds BIGINT;
ALTER TABLE alert_thresholds ADD COLUMN service_grace_seconds BIGINT NOT NULL DEFAULT 0;
