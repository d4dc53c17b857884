-- Compact history (PostgreSQL flavour). Keep in step with ../sqlite/0004_compact_history.sql.
--
-- One row per server and instant holding all of that heartbeat's samples (and one per server and
-- bucket for the rollups), encoded by src/codec.rs, instead of one row per series: a heartbeat
-- then dirties one B-tree page instead of ~25. The old per-series tables are converted by the
-- 'compact-history' upgrade step (src/ops/upgrade.rs), which drops them when done.

CREATE TABLE history_raw (
    server_pk BIGINT NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    ts BIGINT NOT NULL,
    samples BYTEA NOT NULL,
    PRIMARY KEY (server_pk, ts)
);

CREATE TABLE history_5m (
    server_pk BIGINT NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    ts BIGINT NOT NULL,
    aggregates BYTEA NOT NULL,
    PRIMARY KEY (server_pk, ts)
);

CREATE TABLE history_1h (
    server_pk BIGINT NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    ts BIGINT NOT NULL,
    aggregates BYTEA NOT NULL,
    PRIMARY KEY (server_pk, ts)
);

-- Buckets below a rollup watermark that received late samples (an agent replaying its spool):
-- the next retention run recomputes just these, instead of lowering the watermark for everyone.
CREATE TABLE rollup_dirty (
    server_pk BIGINT NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    tier TEXT NOT NULL CHECK (tier IN ('5m', '1h')),
    ts BIGINT NOT NULL,
    PRIMARY KEY (server_pk, tier, ts)
);

-- Everything before these marks has been pruned from the raw and 5-minute tiers: a late sample
-- below them is merged into its bucket rather than the bucket being recomputed from what is left.
INSERT INTO rollup_watermarks (tier, watermark)
    SELECT 'raw-pruned', COALESCE((SELECT MIN(ts) FROM samples_raw), (SELECT watermark FROM rollup_watermarks WHERE tier = '5m'));
INSERT INTO rollup_watermarks (tier, watermark)
    SELECT '5m-pruned', COALESCE((SELECT MIN(ts) FROM samples_5m), (SELECT watermark FROM rollup_watermarks WHERE tier = '1h'));

-- The newest state of every service a server reports, updated in place by each heartbeat;
-- service_status keeps only the changes from now on.
CREATE TABLE service_current (
    server_pk BIGINT NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    service_name TEXT NOT NULL,
    ts BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'stopped', 'failed', 'unknown')),
    status_reason TEXT,
    pid BIGINT,
    memory_mb DOUBLE PRECISION,
    cpu_percent DOUBLE PRECISION,
    PRIMARY KEY (server_pk, service_name)
);
INSERT INTO service_current (server_pk, service_name, ts, status, status_reason, pid, memory_mb, cpu_percent)
    SELECT s.server_pk, s.service_name, s.ts, s.status, s.status_reason, s.pid, s.memory_mb, s.cpu_percent
    FROM service_status s
    WHERE s.ts = (SELECT MAX(m.ts) FROM service_status m WHERE m.server_pk = s.server_pk AND m.service_name = s.service_name);

-- Upgrade steps that need code rather than SQL; each is deleted once it has run.
CREATE TABLE pending_upgrades (name TEXT PRIMARY KEY);
INSERT INTO pending_upgrades (name) VALUES ('compact-history');
