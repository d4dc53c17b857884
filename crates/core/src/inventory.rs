//! What the agent sees beyond v1: containers, temperatures and fans, disk health (S.M.A.R.T.,
//! software RAID, ZFS) and GPUs.
//!
//! Each is an optional heartbeat key that a v1 hub ignores. `None` means *not collected* (an
//! older agent, or no Docker socket, no `smartctl`, no GPU): the hub keeps what it knew and
//! neither raises nor resolves anything on it. `Some(vec![])` means *collected, and there is
//! none*: a watched container that is no longer listed is missing.

use serde::{Deserialize, Serialize};

use crate::time::{self, Timestamp};
use crate::validate::Validator;

/// The temperature sensor a disk's S.M.A.R.T. temperature is charted and alerted as:
/// `disk/sda` for `/dev/sda`.
pub fn disk_sensor(device: &str) -> String {
    format!("disk/{}", device.strip_prefix("/dev/").unwrap_or(device))
}

/// A machine's latest report of each key, and which of its containers are watched.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MachineInventory {
    /// `null`: never reported (no Docker or Podman socket, or an agent without the collector).
    pub containers: Option<Vec<ContainerReport>>,
    pub temperatures: Option<Vec<TemperatureReport>>,
    pub fans: Option<Vec<FanReport>>,
    pub disk_health: Option<Vec<DiskHealthReport>>,
    pub raid_arrays: Option<Vec<RaidArrayReport>>,
    pub zfs_pools: Option<Vec<ZfsPoolReport>>,
    pub gpus: Option<Vec<GpuReport>>,
    /// When the last heartbeat carrying any of these keys arrived.
    #[serde(with = "time::rfc3339_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub updated_at: Option<Timestamp>,
    /// Containers whose state alerts, by name.
    pub watched_containers: Vec<String>,
    /// Whether every container seen running is watched from then on.
    pub watch_all_containers: bool,
}

impl MachineInventory {
    /// Containers running, and listed in all.
    pub fn container_counts(&self) -> Option<(usize, usize)> {
        let containers = self.containers.as_ref()?;
        Some((containers.iter().filter(|c| c.state == "running").count(), containers.len()))
    }

    /// Watched containers that are not running well (down, missing or unhealthy).
    pub fn watched_containers_down(&self) -> Vec<&str> {
        let Some(containers) = &self.containers else { return Vec::new() };
        self.watched_containers
            .iter()
            .filter(|name| {
                containers.iter().find(|c| &c.name == *name).is_none_or(|c| {
                    !matches!(c.state.as_str(), "running" | "paused") || c.health.as_deref() == Some("unhealthy")
                })
            })
            .map(String::as_str)
            .collect()
    }

    /// The hottest temperature sensor (GPUs and disks included, as the engine judges them), as
    /// `(sensor, °C)`.
    pub fn hottest(&self) -> Option<(String, f64)> {
        temperature_readings(
            self.temperatures.as_deref().unwrap_or_default(),
            self.gpus.as_deref().unwrap_or_default(),
            self.disk_health.as_deref().unwrap_or_default(),
        )
        .into_iter()
        .max_by(|a, b| a.celsius.total_cmp(&b.celsius))
        .map(|reading| (reading.sensor, reading.celsius))
    }
}

/// One temperature reading, with the kind whose levels apply.
#[derive(Debug, Clone, PartialEq)]
pub struct TemperatureReading {
    pub sensor: String,
    pub kind: String,
    pub celsius: f64,
}

/// Every temperature reported, as sensors: hwmon and thermal sensors as named, GPUs as
/// `gpu/<id>` and disks that hwmon does not already cover (SATA through S.M.A.R.T.; NVMe drives
/// report through hwmon) as `disk/<device>` ([`disk_sensor`]); readings that are not numbers are
/// left out. The one rule for what the alert engine judges, what the charts draw and which
/// sensor the fleet view calls the hottest, so that all three name the same sensors.
pub fn temperature_readings(
    temperatures: &[TemperatureReport],
    gpus: &[GpuReport],
    disks: &[DiskHealthReport],
) -> Vec<TemperatureReading> {
    let sensors = temperatures.iter().map(|t| TemperatureReading {
        sensor: t.sensor.clone(),
        kind: t.kind.clone(),
        celsius: t.celsius,
    });
    let gpus = gpus.iter().filter_map(|g| {
        g.temperature_celsius.map(|celsius| TemperatureReading {
            sensor: format!("gpu/{}", g.id),
            kind: "gpu".to_owned(),
            celsius,
        })
    });
    let disks = disks.iter().filter(|d| d.protocol != "nvme").filter_map(|d| {
        d.temperature_celsius.map(|celsius| TemperatureReading {
            sensor: disk_sensor(&d.device),
            kind: "drive".to_owned(),
            celsius,
        })
    });
    sensors.chain(gpus).chain(disks).filter(|t| t.celsius.is_finite()).collect()
}

/// Container states as the Docker and Podman Engine APIs name them.
pub const CONTAINER_STATES: [&str; 7] = ["created", "running", "restarting", "paused", "exited", "removing", "dead"];

/// Container health as the Engine API reports it when the image defines a health check.
pub const CONTAINER_HEALTH: [&str; 3] = ["healthy", "unhealthy", "starting"];

/// What a temperature sensor measures; thresholds are set per kind.
pub const SENSOR_KINDS: [&str; 6] = ["cpu", "drive", "chipset", "gpu", "ambient", "other"];

/// A disk's transport as `smartctl` names it.
pub const DISK_PROTOCOLS: [&str; 3] = ["ata", "nvme", "scsi"];

/// `/proc/mdstat` states, reduced to what the hub acts on.
pub const RAID_STATES: [&str; 4] = ["clean", "degraded", "rebuilding", "inactive"];

/// `zpool list -H -o health` values.
pub const ZFS_HEALTH: [&str; 6] = ["ONLINE", "DEGRADED", "FAULTED", "OFFLINE", "UNAVAIL", "REMOVED"];

/// GPU vendors the agent reads.
pub const GPU_VENDORS: [&str; 2] = ["nvidia", "amd"];

/// One Docker or Podman container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContainerReport {
    /// The engine's container id (64 hex characters, or its 12-character short form).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    pub id: String,
    /// Without the leading `/` the Engine API puts before it.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 255))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(max_length = 512))]
    pub image: String,
    /// `docker` or `podman`: which socket it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(docker|podman)$"))]
    pub engine: Option<String>,
    /// One of [`CONTAINER_STATES`].
    #[cfg_attr(feature = "openapi", schema(pattern = "^(created|running|restarting|paused|exited|removing|dead)$"))]
    pub state: String,
    /// One of [`CONTAINER_HEALTH`]; absent when the image has no health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(healthy|unhealthy|starting)$"))]
    pub health: Option<String>,
    /// The last exit code (meaningful when `exited`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// The engine's restart counter (restart policies); rising fast means a crash loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub restart_count: Option<i64>,
    /// RFC 3339, as the engine reports it; absent when it never started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub started_at: Option<String>,
    /// Share of one core: like `top`, may exceed 100 on several cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub cpu_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub memory_used_bytes: Option<i64>,
    /// The cgroup limit, or the machine's memory when unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub memory_limit_bytes: Option<i64>,
    /// Cumulative since the container started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub network_rx_bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub network_tx_bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub block_read_bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub block_write_bytes: Option<i64>,
    /// `com.docker.compose.project` label, so the dashboard can group a stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 255))]
    pub compose_project: Option<String>,
    /// `com.docker.compose.service` label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 255))]
    pub compose_service: Option<String>,
}

/// One temperature sensor (hwmon `tempN_input`, or a thermal zone when hwmon has none).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TemperatureReport {
    /// Unique on the machine and stable across boots: `<chip>/<label>`, e.g.
    /// `coretemp/Package id 0`, `nvme0/Composite`, `thermal/x86_pkg_temp`.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 255))]
    pub sensor: String,
    /// One of [`SENSOR_KINDS`].
    #[cfg_attr(feature = "openapi", schema(pattern = "^(cpu|drive|chipset|gpu|ambient|other)$"))]
    pub kind: String,
    #[cfg_attr(feature = "openapi", schema(minimum = -100, maximum = 300))]
    pub celsius: f64,
    /// The chip's own warning point (`tempN_max`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = -100, maximum = 300))]
    pub high_celsius: Option<f64>,
    /// The chip's own critical point (`tempN_crit`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = -100, maximum = 300))]
    pub critical_celsius: Option<f64>,
}

/// One fan (hwmon `fanN_input`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FanReport {
    /// `<chip>/<label>`, e.g. `nct6775/fan2`.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 255))]
    pub sensor: String,
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1000000))]
    pub rpm: f64,
}

/// One disk's S.M.A.R.T. report (`smartctl --json -a`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiskHealthReport {
    /// The device path, e.g. `/dev/sda`, `/dev/nvme0`.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 255))]
    pub device: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 255))]
    pub model: Option<String>,
    /// Identifies the disk when device names move between boots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 255))]
    pub serial: Option<String>,
    /// One of [`DISK_PROTOCOLS`].
    #[cfg_attr(feature = "openapi", schema(pattern = "^(ata|nvme|scsi)$"))]
    pub protocol: String,
    /// The overall self-assessment; `false` means the drive predicts its own failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = -100, maximum = 300))]
    pub temperature_celsius: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub power_on_hours: Option<i64>,
    /// ATA attribute 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub reallocated_sectors: Option<i64>,
    /// ATA attribute 197.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub pending_sectors: Option<i64>,
    /// ATA attribute 198.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub uncorrectable_sectors: Option<i64>,
    /// NVMe: share of the rated endurance used (may exceed 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 255))]
    pub percentage_used: Option<i64>,
    /// NVMe: unrecovered data integrity errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub media_errors: Option<i64>,
}

impl DiskHealthReport {
    /// The counters that only grow on a failing disk, by name, for "increased since" checks.
    pub fn failure_counters(&self) -> [(&'static str, Option<i64>); 4] {
        [
            ("reallocated_sectors", self.reallocated_sectors),
            ("pending_sectors", self.pending_sectors),
            ("uncorrectable_sectors", self.uncorrectable_sectors),
            ("media_errors", self.media_errors),
        ]
    }
}

/// One Linux software RAID array (`/proc/mdstat`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RaidArrayReport {
    /// `md0`, …
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub name: String,
    /// `raid1`, `raid5`, …
    #[cfg_attr(feature = "openapi", schema(max_length = 32))]
    pub level: String,
    /// One of [`RAID_STATES`].
    #[cfg_attr(feature = "openapi", schema(pattern = "^(clean|degraded|rebuilding|inactive)$"))]
    pub state: String,
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1024))]
    pub devices_total: i64,
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1024))]
    pub devices_active: i64,
    /// Progress of a resync, recovery or reshape, when one runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100))]
    pub rebuild_percent: Option<f64>,
}

/// One ZFS pool (`zpool list`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ZfsPoolReport {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 255))]
    pub name: String,
    /// One of [`ZFS_HEALTH`].
    #[cfg_attr(feature = "openapi", schema(pattern = "^(ONLINE|DEGRADED|FAULTED|OFFLINE|UNAVAIL|REMOVED)$"))]
    pub health: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub size_bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub allocated_bytes: Option<i64>,
}

/// One GPU.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GpuReport {
    /// Stable on the machine: `nvidia0`, `card1`, …
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub id: String,
    /// One of [`GPU_VENDORS`].
    #[cfg_attr(feature = "openapi", schema(pattern = "^(nvidia|amd)$"))]
    pub vendor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 255))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100))]
    pub utilisation_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub memory_used_bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub memory_total_bytes: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = -100, maximum = 300))]
    pub temperature_celsius: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 10000))]
    pub power_watts: Option<f64>,
}

/// The highest temperature a report can plausibly carry; hwmon reports 127 °C or more for a
/// disconnected probe on some chips, which is still within range and shows as what it is.
const MAX_CELSIUS: f64 = 300.0;
const MIN_CELSIUS: f64 = -100.0;

pub(crate) fn validate_container(v: &mut Validator, c: &ContainerReport) {
    v.str_len("id", &c.id, 1, 128);
    v.str_len("name", &c.name, 1, 255);
    v.str_len("image", &c.image, 0, 512);
    v.opt_one_of("engine", c.engine.as_deref(), &["docker", "podman"]);
    v.one_of("state", &c.state, &CONTAINER_STATES);
    v.opt_one_of("health", c.health.as_deref(), &CONTAINER_HEALTH);
    v.range_i64("restart_count", c.restart_count, 0, None);
    v.opt_str_len("started_at", c.started_at.as_deref(), 0, 64);
    v.range_f64("cpu_percent", c.cpu_percent, 0.0, None);
    v.range_i64("memory_used_bytes", c.memory_used_bytes, 0, None);
    v.range_i64("memory_limit_bytes", c.memory_limit_bytes, 0, None);
    v.range_i64("network_rx_bytes", c.network_rx_bytes, 0, None);
    v.range_i64("network_tx_bytes", c.network_tx_bytes, 0, None);
    v.range_i64("block_read_bytes", c.block_read_bytes, 0, None);
    v.range_i64("block_write_bytes", c.block_write_bytes, 0, None);
    v.opt_str_len("compose_project", c.compose_project.as_deref(), 0, 255);
    v.opt_str_len("compose_service", c.compose_service.as_deref(), 0, 255);
}

pub(crate) fn validate_temperature(v: &mut Validator, t: &TemperatureReport) {
    v.str_len("sensor", &t.sensor, 1, 255);
    v.one_of("kind", &t.kind, &SENSOR_KINDS);
    v.range_f64("celsius", Some(t.celsius), MIN_CELSIUS, Some(MAX_CELSIUS));
    v.range_f64("high_celsius", t.high_celsius, MIN_CELSIUS, Some(MAX_CELSIUS));
    v.range_f64("critical_celsius", t.critical_celsius, MIN_CELSIUS, Some(MAX_CELSIUS));
}

pub(crate) fn validate_fan(v: &mut Validator, f: &FanReport) {
    v.str_len("sensor", &f.sensor, 1, 255);
    v.range_f64("rpm", Some(f.rpm), 0.0, Some(1_000_000.0));
}

pub(crate) fn validate_disk(v: &mut Validator, d: &DiskHealthReport) {
    v.str_len("device", &d.device, 1, 255);
    v.opt_str_len("model", d.model.as_deref(), 0, 255);
    v.opt_str_len("serial", d.serial.as_deref(), 0, 255);
    v.one_of("protocol", &d.protocol, &DISK_PROTOCOLS);
    v.range_f64("temperature_celsius", d.temperature_celsius, MIN_CELSIUS, Some(MAX_CELSIUS));
    v.range_i64("power_on_hours", d.power_on_hours, 0, None);
    v.range_i64("reallocated_sectors", d.reallocated_sectors, 0, None);
    v.range_i64("pending_sectors", d.pending_sectors, 0, None);
    v.range_i64("uncorrectable_sectors", d.uncorrectable_sectors, 0, None);
    v.range_i64("percentage_used", d.percentage_used, 0, Some(255));
    v.range_i64("media_errors", d.media_errors, 0, None);
}

pub(crate) fn validate_raid(v: &mut Validator, r: &RaidArrayReport) {
    v.str_len("name", &r.name, 1, 64);
    v.str_len("level", &r.level, 0, 32);
    v.one_of("state", &r.state, &RAID_STATES);
    v.range_i64("devices_total", Some(r.devices_total), 0, Some(1024));
    v.range_i64("devices_active", Some(r.devices_active), 0, Some(1024));
    v.range_f64("rebuild_percent", r.rebuild_percent, 0.0, Some(100.0));
}

pub(crate) fn validate_zfs_pool(v: &mut Validator, p: &ZfsPoolReport) {
    v.str_len("name", &p.name, 1, 255);
    v.one_of("health", &p.health, &ZFS_HEALTH);
    v.range_i64("size_bytes", p.size_bytes, 0, None);
    v.range_i64("allocated_bytes", p.allocated_bytes, 0, None);
}

pub(crate) fn validate_gpu(v: &mut Validator, g: &GpuReport) {
    v.str_len("id", &g.id, 1, 64);
    v.one_of("vendor", &g.vendor, &GPU_VENDORS);
    v.opt_str_len("name", g.name.as_deref(), 0, 255);
    v.range_f64("utilisation_percent", g.utilisation_percent, 0.0, Some(100.0));
    v.range_i64("memory_used_bytes", g.memory_used_bytes, 0, None);
    v.range_i64("memory_total_bytes", g.memory_total_bytes, 0, None);
    v.range_f64("temperature_celsius", g.temperature_celsius, MIN_CELSIUS, Some(MAX_CELSIUS));
    v.range_f64("power_watts", g.power_watts, 0.0, Some(10_000.0));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(device: &str, protocol: &str, celsius: f64) -> DiskHealthReport {
        DiskHealthReport {
            device: device.into(),
            protocol: protocol.into(),
            temperature_celsius: Some(celsius),
            ..DiskHealthReport::default()
        }
    }

    /// The fleet view's hottest sensor is one the engine judges: an NVMe drive's S.M.A.R.T.
    /// reading is left to its hwmon sensor, as the engine does, so the two never name two sensors
    /// for one drive.
    #[test]
    fn the_hottest_sensor_is_one_the_engine_judges() {
        let inventory = MachineInventory {
            temperatures: Some(vec![TemperatureReport {
                sensor: "nvme/Composite".into(),
                kind: "drive".into(),
                celsius: 52.0,
                ..TemperatureReport::default()
            }]),
            disk_health: Some(vec![disk("/dev/nvme0", "nvme", 71.0), disk("/dev/sda", "ata", 38.0)]),
            ..MachineInventory::default()
        };
        assert_eq!(inventory.hottest(), Some(("nvme/Composite".to_owned(), 52.0)));
        let judged = temperature_readings(
            inventory.temperatures.as_deref().unwrap_or_default(),
            &[],
            inventory.disk_health.as_deref().unwrap_or_default(),
        );
        let sensors: Vec<&str> = judged.iter().map(|t| t.sensor.as_str()).collect();
        assert_eq!(sensors, ["nvme/Composite", "disk/sda"]);
    }
}
