-- Typed settings (SQLite flavour). Keep in step with ../postgres/0007_typed_settings.sql.
--
-- The untyped `settings` documents become tables: one row of alert thresholds and one of
-- notification settings (no row: the v1 defaults), one row per notification channel and one per
-- server tag. The documents themselves are parsed by the 'typed-settings' upgrade step
-- (src/ops/upgrade.rs), which fills these tables and drops `settings`.

CREATE TABLE alert_thresholds (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    cpu_high_percent INTEGER NOT NULL,
    cpu_critical_percent INTEGER NOT NULL,
    cpu_sustained_seconds INTEGER NOT NULL,
    cpu_sustained_heartbeats INTEGER,
    cpu_hysteresis_percent INTEGER NOT NULL,
    memory_high_percent INTEGER NOT NULL,
    memory_critical_percent INTEGER NOT NULL,
    memory_sustained_seconds INTEGER NOT NULL,
    memory_sustained_heartbeats INTEGER,
    memory_hysteresis_percent INTEGER NOT NULL,
    disk_high_percent INTEGER NOT NULL,
    disk_critical_percent INTEGER NOT NULL,
    disk_sustained_seconds INTEGER NOT NULL,
    disk_sustained_heartbeats INTEGER,
    disk_hysteresis_percent INTEGER NOT NULL,
    server_offline_seconds INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE notification_settings (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    slack_webhook_url TEXT NOT NULL,
    cooldown_critical_minutes INTEGER NOT NULL,
    cooldown_high_minutes INTEGER NOT NULL,
    notify_on_critical INTEGER NOT NULL,
    notify_on_high INTEGER NOT NULL,
    notify_on_remediation INTEGER NOT NULL,
    notify_on_action_failure INTEGER NOT NULL,
    notify_on_action_success INTEGER NOT NULL,
    notify_on_auto_resolve INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- One row per channel the dispatcher sends through. `settings` is the kind-specific JSON object
-- (URLs, tokens, SMTP), secrets as stored before. A deleted channel stays as a tombstone
-- (`deleted_at` set, settings emptied) so that its deliveries keep naming it; `v1_slack` marks the
-- row standing for v1's `slack_webhook_url`, kept by the store from the notification settings.
CREATE TABLE channels (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT TRUE,
    min_severity TEXT NOT NULL DEFAULT 'low' CHECK (min_severity IN ('critical', 'high', 'medium', 'low')),
    on_firing INTEGER NOT NULL DEFAULT TRUE,
    on_reminders INTEGER NOT NULL DEFAULT TRUE,
    on_resolutions INTEGER NOT NULL DEFAULT TRUE,
    settings TEXT NOT NULL DEFAULT '{}',
    v1_slack INTEGER NOT NULL DEFAULT FALSE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
);
-- Every channel a delivery names starts as a tombstone; the upgrade step revives those the
-- channels document (or the v1 Slack URL) still holds.
INSERT INTO channels (id, kind, enabled, created_at, updated_at, deleted_at)
    SELECT channel_id, 'unknown', FALSE, MIN(created_at), MIN(created_at), MIN(created_at)
    FROM deliveries GROUP BY channel_id;

CREATE TABLE server_tags (
    server_pk INTEGER NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (server_pk, tag)
) WITHOUT ROWID;

-- A delivery always names a channel row. There is no ON DELETE: channels are never removed, only
-- tombstoned (src/ops/channels.rs), so the delivery log and alert timelines keep their history.
-- SQLite cannot add a foreign key to an existing table: rebuild deliveries with it.
CREATE TABLE deliveries_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id INTEGER NOT NULL REFERENCES alert_events(id) ON DELETE CASCADE,
    channel_id TEXT NOT NULL REFERENCES channels(id),
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead', 'discarded')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER,
    UNIQUE (event_id, channel_id)
);
INSERT INTO deliveries_new (id, event_id, channel_id, status, attempts, next_attempt_at, last_error, created_at, delivered_at)
    SELECT id, event_id, channel_id, status, attempts, next_attempt_at, last_error, created_at, delivered_at FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
CREATE INDEX idx_deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX idx_deliveries_channel ON deliveries (channel_id, status);

INSERT INTO pending_upgrades (name) VALUES ('typed-settings');
