-- Alerts, alert engine state, expected services and the notification outbox (PostgreSQL flavour).
-- Timestamps are BIGINT milliseconds (UTC); booleans are BOOLEAN. Keep in step with
-- ../sqlite/0002_alerts.sql.

-- Alert history: one row per alert, from opening to resolution. Never pruned.
CREATE TABLE alerts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    server_pk BIGINT NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    alert_type TEXT NOT NULL CHECK (alert_type IN ('cpu', 'memory', 'disk', 'offline', 'service')),
    -- The engine's key (`cpu`, `disk:/srv`, `service:plex`) and its subject (mount point, service
    -- name), stored instead of being parsed out of the title as v1 did.
    alert_key TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    severity TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
    title TEXT NOT NULL,
    message TEXT,
    threshold_value DOUBLE PRECISION,
    actual_value DOUBLE PRECISION,
    created_at BIGINT NOT NULL,
    acknowledged_at BIGINT,
    resolved_at BIGINT,
    auto_resolved BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at BIGINT NOT NULL
);
CREATE INDEX idx_alerts_server_status ON alerts (server_pk, status);
CREATE INDEX idx_alerts_severity_status ON alerts (severity, status);
CREATE INDEX idx_alerts_created_at ON alerts (created_at);
-- At most one open or acknowledged alert per key, even with two hubs writing.
CREATE UNIQUE INDEX uq_alerts_active_key ON alerts (server_pk, alert_key) WHERE status <> 'resolved';

-- The engine's per-key memory (`homelab_core::alerts::AlertState` as JSON). Idle keys have no
-- row. The two plain columns mirror the JSON so that pending breaches can be found by SQL.
CREATE TABLE alert_states (
    server_pk BIGINT NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    alert_key TEXT NOT NULL,
    state TEXT NOT NULL,
    first_breach_at BIGINT,
    active_severity TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (server_pk, alert_key)
);

CREATE TABLE expected_services (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    server_pk BIGINT NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    service_name TEXT NOT NULL,
    display_name TEXT,
    is_critical BOOLEAN NOT NULL DEFAULT FALSE,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at BIGINT NOT NULL,
    UNIQUE (server_pk, service_name)
);

-- Outbox: every alert event that should notify, written in the transaction that caused it and
-- kept until delivered or given up on (dead).
CREATE TABLE alert_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id BIGINT REFERENCES alerts(id) ON DELETE CASCADE,
    server_pk BIGINT NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('opened', 'escalated', 'de_escalated', 'reminder', 'resolved', 'acknowledged')),
    severity TEXT NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed', 'dead')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX idx_alert_events_due ON alert_events (status, next_attempt_at);
CREATE INDEX idx_alert_events_alert ON alert_events (alert_id);
CREATE INDEX idx_alert_events_server ON alert_events (server_pk);
