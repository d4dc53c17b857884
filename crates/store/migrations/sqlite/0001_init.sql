-- Homelab Command schema, SQLite flavour. Timestamps are INTEGER milliseconds since the epoch
-- (UTC); booleans are INTEGER 0/1. Keep in step with ../postgres/0001_init.sql.

CREATE TABLE servers (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    guid TEXT UNIQUE,
    hostname TEXT NOT NULL,
    display_name TEXT,
    ip_address TEXT,
    status TEXT NOT NULL DEFAULT 'unknown' CHECK (status IN ('online', 'offline', 'unknown')),
    tdp_watts INTEGER,
    cpu_model TEXT,
    cpu_cores INTEGER,
    machine_category TEXT,
    machine_category_source TEXT,
    idle_watts INTEGER,
    os_distribution TEXT,
    os_version TEXT,
    kernel_version TEXT,
    architecture TEXT,
    updates_available INTEGER,
    security_updates INTEGER,
    is_paused INTEGER NOT NULL DEFAULT FALSE,
    paused_at INTEGER,
    agent_version TEXT,
    agent_mode TEXT,
    is_inactive INTEGER NOT NULL DEFAULT FALSE,
    inactive_since INTEGER,
    last_seen INTEGER,
    tailscale_hostname TEXT,
    machine_type TEXT NOT NULL DEFAULT 'server' CHECK (machine_type IN ('server', 'workstation')),
    ssh_username TEXT,
    sudo_mode TEXT NOT NULL DEFAULT 'passwordless' CHECK (sudo_mode IN ('passwordless', 'password')),
    config_user TEXT,
    assigned_packs TEXT,
    drift_detection_enabled INTEGER NOT NULL DEFAULT TRUE,
    latest_metrics TEXT,
    latest_metrics_at INTEGER,
    filesystems TEXT,
    network_interfaces TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- One row per (server, metric, subject); samples refer to it by a small integer.
CREATE TABLE series (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    server_pk INTEGER NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    metric TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    UNIQUE (server_pk, metric, subject)
);

CREATE TABLE samples_raw (
    series_id INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,
    ts INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;

CREATE TABLE samples_5m (
    series_id INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,
    ts INTEGER NOT NULL,
    avg REAL NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;

CREATE TABLE samples_1h (
    series_id INTEGER NOT NULL REFERENCES series(id) ON DELETE CASCADE,
    ts INTEGER NOT NULL,
    avg REAL NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;

-- Everything before a tier's watermark has been rolled up into that tier.
CREATE TABLE rollup_watermarks (
    tier TEXT PRIMARY KEY,
    watermark INTEGER NOT NULL
);
INSERT INTO rollup_watermarks (tier, watermark) VALUES ('5m', 0), ('1h', 0);

CREATE TABLE service_status (
    server_pk INTEGER NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    service_name TEXT NOT NULL,
    ts INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'stopped', 'failed', 'unknown')),
    status_reason TEXT,
    pid INTEGER,
    memory_mb REAL,
    cpu_percent REAL,
    PRIMARY KEY (server_pk, service_name, ts)
) WITHOUT ROWID;
CREATE INDEX idx_service_status_ts ON service_status (ts);

CREATE TABLE pending_packages (
    server_pk INTEGER NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    name TEXT NOT NULL,
    current_version TEXT NOT NULL,
    new_version TEXT NOT NULL,
    repository TEXT NOT NULL,
    is_security INTEGER NOT NULL,
    detected_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (server_pk, name)
);

CREATE TABLE registration_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    token_prefix TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('readonly', 'readwrite')),
    display_name TEXT,
    monitored_services TEXT,
    expires_at INTEGER NOT NULL,
    claimed_at INTEGER,
    claimed_by_server_pk INTEGER REFERENCES servers(pk) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE agent_credentials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    server_pk INTEGER NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    server_guid TEXT NOT NULL,
    api_token_hash TEXT NOT NULL,
    api_token_prefix TEXT NOT NULL,
    is_legacy INTEGER NOT NULL DEFAULT FALSE,
    last_used_at INTEGER,
    revoked_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX idx_agent_credentials_guid ON agent_credentials (server_guid);
-- At most one active credential per agent.
CREATE UNIQUE INDEX uq_agent_credentials_active ON agent_credentials (server_guid) WHERE revoked_at IS NULL;

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
