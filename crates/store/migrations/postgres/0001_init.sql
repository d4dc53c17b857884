-- Homelab Command schema, PostgreSQL flavour. Timestamps are BIGINT milliseconds since the epoch
-- (UTC); booleans are BOOLEAN. Keep in step with ../sqlite/0001_init.sql.

CREATE TABLE servers (
    pk BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    guid TEXT UNIQUE,
    hostname TEXT NOT NULL,
    display_name TEXT,
    ip_address TEXT,
    status TEXT NOT NULL DEFAULT 'unknown' CHECK (status IN ('online', 'offline', 'unknown')),
    tdp_watts BIGINT,
    cpu_model TEXT,
    cpu_cores BIGINT,
    machine_category TEXT,
    machine_category_source TEXT,
    idle_watts BIGINT,
    os_distribution TEXT,
    os_version TEXT,
    kernel_version TEXT,
    architecture TEXT,
    updates_available BIGINT,
    security_updates BIGINT,
    is_paused BOOLEAN NOT NULL DEFAULT FALSE,
    paused_at BIGINT,
    agent_version TEXT,
    agent_mode TEXT,
    is_inactive BOOLEAN NOT NULL DEFAULT FALSE,
    inactive_since BIGINT,
    last_seen BIGINT,
    tailscale_hostname TEXT,
    machine_type TEXT NOT NULL DEFAULT 'server' CHECK (machine_type IN ('server', 'workstation')),
    ssh_username TEXT,
    sudo_mode TEXT NOT NULL DEFAULT 'passwordless' CHECK (sudo_mode IN ('passwordless', 'password')),
    config_user TEXT,
    assigned_packs TEXT,
    drift_detection_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    latest_metrics TEXT,
    latest_metrics_at BIGINT,
    filesystems TEXT,
    network_interfaces TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row per (server, metric, subject); samples refer to it by a small integer.
CREATE TABLE series (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    server_pk BIGINT NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    metric TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    UNIQUE (server_pk, metric, subject)
);

CREATE TABLE samples_raw (
    series_id BIGINT NOT NULL REFERENCES series(id) ON DELETE CASCADE,
    ts BIGINT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (series_id, ts)
);

CREATE TABLE samples_5m (
    series_id BIGINT NOT NULL REFERENCES series(id) ON DELETE CASCADE,
    ts BIGINT NOT NULL,
    avg DOUBLE PRECISION NOT NULL,
    min DOUBLE PRECISION NOT NULL,
    max DOUBLE PRECISION NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (series_id, ts)
);

CREATE TABLE samples_1h (
    series_id BIGINT NOT NULL REFERENCES series(id) ON DELETE CASCADE,
    ts BIGINT NOT NULL,
    avg DOUBLE PRECISION NOT NULL,
    min DOUBLE PRECISION NOT NULL,
    max DOUBLE PRECISION NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (series_id, ts)
);

-- Everything before a tier's watermark has been rolled up into that tier.
CREATE TABLE rollup_watermarks (
    tier TEXT PRIMARY KEY,
    watermark BIGINT NOT NULL
);
INSERT INTO rollup_watermarks (tier, watermark) VALUES ('5m', 0), ('1h', 0);

CREATE TABLE service_status (
    server_pk BIGINT NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    service_name TEXT NOT NULL,
    ts BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'stopped', 'failed', 'unknown')),
    status_reason TEXT,
    pid BIGINT,
    memory_mb DOUBLE PRECISION,
    cpu_percent DOUBLE PRECISION,
    PRIMARY KEY (server_pk, service_name, ts)
);
CREATE INDEX idx_service_status_ts ON service_status (ts);

CREATE TABLE pending_packages (
    server_pk BIGINT NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    name TEXT NOT NULL,
    current_version TEXT NOT NULL,
    new_version TEXT NOT NULL,
    repository TEXT NOT NULL,
    is_security BOOLEAN NOT NULL,
    detected_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (server_pk, name)
);

CREATE TABLE registration_tokens (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    token_prefix TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('readonly', 'readwrite')),
    display_name TEXT,
    monitored_services TEXT,
    expires_at BIGINT NOT NULL,
    claimed_at BIGINT,
    claimed_by_server_pk BIGINT REFERENCES servers(pk) ON DELETE SET NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE agent_credentials (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    server_pk BIGINT NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    server_guid TEXT NOT NULL,
    api_token_hash TEXT NOT NULL,
    api_token_prefix TEXT NOT NULL,
    is_legacy BOOLEAN NOT NULL DEFAULT FALSE,
    last_used_at BIGINT,
    revoked_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX idx_agent_credentials_guid ON agent_credentials (server_guid);
-- At most one active credential per agent.
CREATE UNIQUE INDEX uq_agent_credentials_active ON agent_credentials (server_guid) WHERE revoked_at IS NULL;

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
