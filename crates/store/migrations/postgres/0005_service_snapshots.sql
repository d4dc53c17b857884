-- The newest state of every service a server reports, as one JSON array per server sorted by
-- name (see store/src/ops/service_states.rs): a heartbeat rewrites one row instead of one per
-- service. service_status still logs the changes.
CREATE TABLE service_snapshots (
    server_pk BIGINT PRIMARY KEY REFERENCES servers(pk) ON DELETE CASCADE,
    services TEXT NOT NULL
);
INSERT INTO service_snapshots (server_pk, services)
    SELECT server_pk, json_agg(json_build_object(
        'name', service_name, 'ts', ts, 'status', status, 'status_reason', status_reason,
        'pid', pid, 'memory_mb', memory_mb, 'cpu_percent', cpu_percent) ORDER BY service_name)::text
    FROM service_current
    GROUP BY server_pk;
DROP TABLE service_current;
