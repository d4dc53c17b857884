-- What agents report beyond v1 (keep in step with ../postgres/0013_inventory.sql): containers,
-- temperatures, disk health and GPUs, the containers each server watches, temperature levels,
-- and the alert kinds they raise.

-- Each machine's latest report of each key, as the heartbeat carried it (a JSON array); NULL
-- until a heartbeat carried that key. A heartbeat without a key leaves its column alone.
CREATE TABLE server_inventory (
    server_pk INTEGER PRIMARY KEY REFERENCES servers(pk) ON DELETE CASCADE,
    containers TEXT,
    temperatures TEXT,
    fans TEXT,
    disk_health TEXT,
    raid_arrays TEXT,
    zfs_pools TEXT,
    gpus TEXT,
    updated_at INTEGER NOT NULL
);

-- Containers whose state alerts, by name (Compose keeps names across re-creation).
CREATE TABLE watched_containers (
    server_pk INTEGER NOT NULL REFERENCES servers(pk) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (server_pk, name)
);
-- "Watch all running containers": every container seen running is added to the list.
ALTER TABLE servers ADD COLUMN watch_all_containers INTEGER NOT NULL DEFAULT FALSE;

ALTER TABLE alert_thresholds ADD COLUMN temp_cpu_high INTEGER NOT NULL DEFAULT 85;
ALTER TABLE alert_thresholds ADD COLUMN temp_cpu_critical INTEGER NOT NULL DEFAULT 95;
ALTER TABLE alert_thresholds ADD COLUMN temp_drive_high INTEGER NOT NULL DEFAULT 60;
ALTER TABLE alert_thresholds ADD COLUMN temp_drive_critical INTEGER NOT NULL DEFAULT 70;
ALTER TABLE alert_thresholds ADD COLUMN temp_chipset_high INTEGER NOT NULL DEFAULT 80;
ALTER TABLE alert_thresholds ADD COLUMN temp_chipset_critical INTEGER NOT NULL DEFAULT 95;
ALTER TABLE alert_thresholds ADD COLUMN temp_gpu_high INTEGER NOT NULL DEFAULT 85;
ALTER TABLE alert_thresholds ADD COLUMN temp_gpu_critical INTEGER NOT NULL DEFAULT 95;
ALTER TABLE alert_thresholds ADD COLUMN temp_ambient_high INTEGER NOT NULL DEFAULT 45;
ALTER TABLE alert_thresholds ADD COLUMN temp_ambient_critical INTEGER NOT NULL DEFAULT 55;
ALTER TABLE alert_thresholds ADD COLUMN temp_other_high INTEGER NOT NULL DEFAULT 80;
ALTER TABLE alert_thresholds ADD COLUMN temp_other_critical INTEGER NOT NULL DEFAULT 95;
ALTER TABLE alert_thresholds ADD COLUMN temp_sustained_seconds INTEGER NOT NULL DEFAULT 120;
ALTER TABLE alert_thresholds ADD COLUMN temp_clear_seconds INTEGER NOT NULL DEFAULT 120;
ALTER TABLE alert_thresholds ADD COLUMN temp_hysteresis_celsius INTEGER NOT NULL DEFAULT 5;

-- The new alert kinds. SQLite cannot alter a CHECK constraint; widening one changes no stored
-- row, which is the case its documentation allows editing the schema text for
-- (sqlite.org/lang_altertable.html, "other kinds of table schema changes"). The migration
-- runner bumps schema_version after a migration that does this, so connections reparse it.
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(sql, '''offline'', ''service'')', '''offline'', ''service'', ''container'', ''temperature'', ''disk_health'')')
WHERE type = 'table' AND name = 'alerts';
PRAGMA writable_schema = OFF;
