-- History partitioned by time (PostgreSQL only; SQLite's history tables stay as they are).
--
-- Each tier becomes PARTITION BY RANGE (ts) with a DEFAULT partition that takes any row no
-- partition covers, so no write ever fails for want of one. The store creates the partitions
-- (src/ops/partitions.rs: raw one day wide, 5-minute one week, hourly 30 days) when it opens and
-- at every retention run, moving the default partition's rows of each new range into it, and
-- retention drops whole partitions instead of deleting rows. The rows of the old tables are
-- copied into the default partitions here and moved by that maintenance.

ALTER TABLE history_raw RENAME TO history_raw_unpartitioned;
ALTER TABLE history_raw_unpartitioned RENAME CONSTRAINT history_raw_pkey TO history_raw_unpartitioned_pkey;
CREATE TABLE history_raw (
    server_pk BIGINT NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    ts BIGINT NOT NULL,
    samples BYTEA NOT NULL,
    PRIMARY KEY (server_pk, ts)
) PARTITION BY RANGE (ts);
CREATE TABLE history_raw_default PARTITION OF history_raw DEFAULT;
INSERT INTO history_raw (server_pk, ts, samples) SELECT server_pk, ts, samples FROM history_raw_unpartitioned;
DROP TABLE history_raw_unpartitioned;

ALTER TABLE history_5m RENAME TO history_5m_unpartitioned;
ALTER TABLE history_5m_unpartitioned RENAME CONSTRAINT history_5m_pkey TO history_5m_unpartitioned_pkey;
CREATE TABLE history_5m (
    server_pk BIGINT NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    ts BIGINT NOT NULL,
    aggregates BYTEA NOT NULL,
    PRIMARY KEY (server_pk, ts)
) PARTITION BY RANGE (ts);
CREATE TABLE history_5m_default PARTITION OF history_5m DEFAULT;
INSERT INTO history_5m (server_pk, ts, aggregates) SELECT server_pk, ts, aggregates FROM history_5m_unpartitioned;
DROP TABLE history_5m_unpartitioned;

ALTER TABLE history_1h RENAME TO history_1h_unpartitioned;
ALTER TABLE history_1h_unpartitioned RENAME CONSTRAINT history_1h_pkey TO history_1h_unpartitioned_pkey;
CREATE TABLE history_1h (
    server_pk BIGINT NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    ts BIGINT NOT NULL,
    aggregates BYTEA NOT NULL,
    PRIMARY KEY (server_pk, ts)
) PARTITION BY RANGE (ts);
CREATE TABLE history_1h_default PARTITION OF history_1h DEFAULT;
INSERT INTO history_1h (server_pk, ts, aggregates) SELECT server_pk, ts, aggregates FROM history_1h_unpartitioned;
DROP TABLE history_1h_unpartitioned;
