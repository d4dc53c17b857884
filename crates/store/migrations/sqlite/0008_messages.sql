-- Notification messages (SQLite flavour). Keep in step with ../postgres/0008_messages.sql.
--
-- A message is the frozen set of one channel's deliveries that go out together under one
-- delivery id (`<channel>-<message id>`): once framed, a message always carries the same events,
-- so a receiver may drop duplicates by that id. A channel sends its messages in id order, one at
-- a time, so an alert's resolution can never overtake its opening. The lease names the hub
-- process sending it (`lease_instance`, `lease_token`): only that process can record the outcome,
-- and a restarted hub takes back its own leases at once.
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id TEXT NOT NULL REFERENCES channels(id),
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead', 'discarded')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_instance TEXT,
    lease_token TEXT,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER
);
CREATE INDEX idx_messages_channel ON messages (channel_id, status, id);
CREATE INDEX idx_messages_due ON messages (status, next_attempt_at);

-- `group_key` (the alert kind) and `server_pk` let the framing see storms without decoding
-- payloads; rows routed before this migration are framed as ordinary, one-server events.
ALTER TABLE deliveries ADD COLUMN message_id INTEGER REFERENCES messages(id);
ALTER TABLE deliveries ADD COLUMN group_key TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN server_pk INTEGER NOT NULL DEFAULT 0;
CREATE INDEX idx_deliveries_message ON deliveries (message_id);
CREATE INDEX idx_deliveries_unframed ON deliveries (channel_id, id) WHERE message_id IS NULL AND status = 'pending';
CREATE INDEX idx_deliveries_recent ON deliveries (channel_id, group_key, created_at);

-- A storm in progress on a channel for one group of events: until `storm_until`, the group's
-- new events are held and then sent together as one follow-up. Shared by every hub.
CREATE TABLE channel_storms (
    channel_id TEXT NOT NULL REFERENCES channels(id),
    group_key TEXT NOT NULL,
    storm_until INTEGER NOT NULL,
    PRIMARY KEY (channel_id, group_key)
);
