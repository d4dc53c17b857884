-- Retention runs as small write units, a batch of servers at a time, so it never holds the
-- writer for long (store/src/ops/history.rs). A tier's next range is claimed first, rolled up
-- server by server (the cursor is the last server done), then marked done. Ingest compares late
-- samples with the claimed mark, so one arriving for a server already rolled up is still queued.
INSERT INTO rollup_watermarks (tier, watermark) SELECT '5m-claimed', watermark FROM rollup_watermarks WHERE tier = '5m';
INSERT INTO rollup_watermarks (tier, watermark) SELECT '1h-claimed', watermark FROM rollup_watermarks WHERE tier = '1h';
INSERT INTO rollup_watermarks (tier, watermark) VALUES ('5m-cursor', 0), ('1h-cursor', 0);
