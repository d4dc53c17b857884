-- Typed settings (PostgreSQL flavour). Keep in step with ../sqlite/0007_typed_settings.sql.
--
-- The untyped `settings` documents become tables: one row of alert thresholds and one of
-- notification settings (no row: the v1 defaults), one row per notification channel and one per
-- server tag. The documents themselves are parsed by the 'typed-settings' upgrade step
-- (src/ops/upgrade.rs), which fills these tables and drops `settings`.

CREATE TABLE alert_thresholds (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    cpu_high_percent BIGINT NOT NULL,
    cpu_critical_percent BIGINT NOT NULL,
    cpu_sustained_seconds BIGINT NOT NULL,
    cpu_sustained_heartbeats BIGINT,
    cpu_hysteresis_percent BIGINT NOT NULL,
    memory_high_percent BIGINT NOT NULL,
    memory_critical_percent BIGINT NOT NULL,
    memory_sustained_seconds BIGINT NOT NULL,
    memory_sustained_heartbeats BIGINT,
    memory_hysteresis_percent BIGINT NOT NULL,
    disk_high_percent BIGINT NOT NULL,
    disk_critical_percent BIGINT NOT NULL,
    disk_sustained_seconds BIGINT NOT NULL,
    disk_sustained_heartbeats BIGINT,
    disk_hysteresis_percent BIGINT NOT NULL,
    server_offline_seconds BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE notification_settings (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    slack_webhook_url TEXT NOT NULL,
    cooldown_critical_minutes BIGINT NOT NULL,
    cooldown_high_minutes BIGINT NOT NULL,
    notify_on_critical BOOLEAN NOT NULL,
    notify_on_high BOOLEAN NOT NULL,
    notify_on_remediation BOOLEAN NOT NULL,
    notify_on_action_failure BOOLEAN NOT NULL,
    notify_on_action_success BOOLEAN NOT NULL,
    notify_on_auto_resolve BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row per channel the dispatcher sends through. `settings` is the kind-specific JSON object
-- (URLs, tokens, SMTP), secrets as stored before. A deleted channel stays as a tombstone
-- (`deleted_at` set, settings emptied) so that its deliveries keep naming it; `v1_slack` marks the
-- row standing for v1's `slack_webhook_url`, kept by the store from the notification settings.
CREATE TABLE channels (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    min_severity TEXT NOT NULL DEFAULT 'low' CHECK (min_severity IN ('critical', 'high', 'medium', 'low')),
    on_firing BOOLEAN NOT NULL DEFAULT TRUE,
    on_reminders BOOLEAN NOT NULL DEFAULT TRUE,
    on_resolutions BOOLEAN NOT NULL DEFAULT TRUE,
    settings TEXT NOT NULL DEFAULT '{}',
    v1_slack BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
-- Every channel a delivery names starts as a tombstone; the upgrade step revives those the
-- channels document (or the v1 Slack URL) still holds.
INSERT INTO channels (id, kind, enabled, created_at, updated_at, deleted_at)
    SELECT channel_id, 'unknown', FALSE, MIN(created_at), MIN(created_at), MIN(created_at)
    FROM deliveries GROUP BY channel_id;

CREATE TABLE server_tags (
    server_pk BIGINT NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (server_pk, tag)
);

-- A delivery always names a channel row. There is no ON DELETE: channels are never removed, only
-- tombstoned (src/ops/channels.rs), so the delivery log and alert timelines keep their history.
ALTER TABLE deliveries ADD CONSTRAINT deliveries_channel_id_fkey FOREIGN KEY (channel_id) REFERENCES channels(id);
CREATE INDEX idx_deliveries_channel ON deliveries (channel_id, status);

INSERT INTO pending_upgrades (name) VALUES ('typed-settings');
