-- Per-channel delivery of outbox events (SQLite flavour). An event is routed once: one row per
-- channel that wants it, each retried and dead-lettered on its own, so a failing channel never
-- holds back or duplicates the others. Keep in step with ../postgres/0003_notifications.sql.

ALTER TABLE alert_events ADD COLUMN routed_at INTEGER;
CREATE INDEX idx_alert_events_unrouted ON alert_events (id) WHERE routed_at IS NULL;

CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id INTEGER NOT NULL REFERENCES alert_events(id) ON DELETE CASCADE,
    channel_id TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead', 'discarded')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER,
    UNIQUE (event_id, channel_id)
);
CREATE INDEX idx_deliveries_due ON deliveries (status, next_attempt_at);
