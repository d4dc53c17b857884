-- What agents report beyond v1 (keep in step with ../sqlite/0013_inventory.sql): containers,
-- temperatures, disk health and GPUs, the containers each server watches, temperature levels,
-- and the alert kinds they raise.

-- Each machine's latest report of each key, as the heartbeat carried it (a JSON array); NULL
-- until a heartbeat carried that key. A heartbeat without a key leaves its column alone.
CREATE TABLE server_inventory (
    server_pk BIGINT PRIMARY KEY REFERENCES servers(pk) ON DELETE CASCADE,
    containers TEXT,
    temperatures TEXT,
    fans TEXT,
    disk_health TEXT,
    raid_arrays TEXT,
    zfs_pools TEXT,
    gpus TEXT,
    updated_at BIGINT NOT NULL
);

-- Containers whose state alerts, by name (Compose keeps names across re-creation).
CREATE TABLE watched_containers (
    server_pk BIGINT NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (server_pk, name)
);
-- "Watch all running containers": every container seen running is added to the list.
ALTER TABLE servers ADD COLUMN watch_all_containers BOOLEAN NOT NULL DEFAULT FALSE;

ALTER TABLE alert_thresholds
    ADD COLUMN temp_cpu_high BIGINT NOT NULL DEFAULT 85,
    ADD COLUMN temp_cpu_critical BIGINT NOT NULL DEFAULT 95,
    ADD COLUMN temp_drive_high BIGINT NOT NULL DEFAULT 60,
    ADD COLUMN temp_drive_critical BIGINT NOT NULL DEFAULT 70,
    ADD COLUMN temp_chipset_high BIGINT NOT NULL DEFAULT 80,
    ADD COLUMN temp_chipset_critical BIGINT NOT NULL DEFAULT 95,
    ADD COLUMN temp_gpu_high BIGINT NOT NULL DEFAULT 85,
    ADD COLUMN temp_gpu_critical BIGINT NOT NULL DEFAULT 95,
    ADD COLUMN temp_ambient_high BIGINT NOT NULL DEFAULT 45,
    ADD COLUMN temp_ambient_critical BIGINT NOT NULL DEFAULT 55,
    ADD COLUMN temp_other_high BIGINT NOT NULL DEFAULT 80,
    ADD COLUMN temp_other_critical BIGINT NOT NULL DEFAULT 95,
    ADD COLUMN temp_sustained_seconds BIGINT NOT NULL DEFAULT 120,
    ADD COLUMN temp_clear_seconds BIGINT NOT NULL DEFAULT 120,
    ADD COLUMN temp_hysteresis_celsius BIGINT NOT NULL DEFAULT 5;

ALTER TABLE alerts DROP CONSTRAINT alerts_alert_type_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_alert_type_check
    CHECK (alert_type IN ('cpu', 'memory', 'disk', 'offline', 'service', 'container', 'temperature', 'disk_health'));
