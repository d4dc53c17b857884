//! The v1 heartbeat: what agents send every minute, and what the hub answers.

use serde::{Deserialize, Serialize};

use crate::inventory::{
    self, ContainerReport, DiskHealthReport, FanReport, GpuReport, RaidArrayReport, TemperatureReport, ZfsPoolReport,
};
use crate::time::{self, Timestamp};
use crate::validate::{ValidationErrors, Validator, is_uuid_v4};

/// How far ahead of the hub's clock an agent timestamp may be. Clock skew of a few seconds is
/// normal; a timestamp further ahead would place history in the future and break range queries.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 300;

/// Service states an agent may report.
pub const SERVICE_STATUSES: [&str; 4] = ["running", "stopped", "failed", "unknown"];

/// `POST /api/v1/agents/heartbeat` body. Unknown keys are ignored, as in v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeartbeatRequest {
    /// Stable agent identity (lower-case UUID v4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
    )]
    pub server_guid: Option<String>,
    /// Server slug (`^[a-z0-9-]+$`).
    #[cfg_attr(feature = "openapi", schema(pattern = "^[a-z0-9-]+$", min_length = 1, max_length = 100))]
    pub server_id: String,
    /// The machine's host name, 1–255 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 255))]
    pub hostname: String,
    /// The agent's clock; any RFC 3339 offset, stored as UTC. Relative to the hub's clock (which
    /// a schema cannot state): at most 300 s ahead, and not older than the hourly history kept
    /// (`retention.hourly_days`, two years by default); otherwise 422 naming `timestamp`.
    #[serde(with = "time::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub timestamp: Timestamp,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 20))]
    pub agent_version: Option<String>,
    /// `readonly` or `readwrite`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(readonly|readwrite)$"))]
    pub agent_mode: Option<String>,
    #[serde(default)]
    pub os_info: Option<OsInfo>,
    #[serde(default)]
    pub metrics: Option<Metrics>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub updates_available: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub security_updates: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<ServiceReport>>,
    /// When present (even empty) it replaces the server's pending package list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<Vec<PackageReport>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_info: Option<CpuInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filesystems: Option<Vec<FilesystemReport>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interfaces: Option<Vec<InterfaceReport>>,
    /// Not in v1 (nor the other keys below, which a v1 hub ignores): Docker and Podman
    /// containers. Absent = not collected; see [`crate::inventory`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub containers: Option<Vec<ContainerReport>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperatures: Option<Vec<TemperatureReport>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fans: Option<Vec<FanReport>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_health: Option<Vec<DiskHealthReport>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raid_arrays: Option<Vec<RaidArrayReport>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zfs_pools: Option<Vec<ZfsPoolReport>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<Vec<GpuReport>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OsInfo {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub distribution: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub version: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub kernel: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 20))]
    pub architecture: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CpuInfo {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 255))]
    pub cpu_model: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1024))]
    pub cpu_cores: Option<i64>,
}

/// Whole-machine metrics; every field is optional (a failed collector sends null).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Metrics {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100))]
    pub cpu_percent: Option<f64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100))]
    pub memory_percent: Option<f64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub memory_total_mb: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub memory_used_mb: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100))]
    pub disk_percent: Option<f64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub disk_total_gb: Option<f64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub disk_used_gb: Option<f64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub network_rx_bytes: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub network_tx_bytes: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub load_1m: Option<f64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub load_5m: Option<f64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub load_15m: Option<f64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub uptime_seconds: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceReport {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 255))]
    pub name: String,
    /// `running`, `stopped`, `failed` or `unknown`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^(running|stopped|failed|unknown)$"))]
    pub status: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 255))]
    pub status_reason: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub pid: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub memory_mb: Option<f64>,
    /// Not capped at 100: a multi-threaded process can use several cores.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub cpu_percent: Option<f64>,
    /// Not in v1 (a v1 hub ignores it): systemd's restart counter (`NRestarts`) of the unit, so
    /// the hub can see a crash loop that every heartbeat reports as running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub restarts: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PackageReport {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 255))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub current_version: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub new_version: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 255))]
    pub repository: String,
    pub is_security: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FilesystemReport {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 255))]
    pub mount_point: String,
    #[cfg_attr(feature = "openapi", schema(max_length = 255))]
    pub device: String,
    #[cfg_attr(feature = "openapi", schema(max_length = 50))]
    pub fs_type: String,
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub total_bytes: i64,
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub used_bytes: i64,
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub available_bytes: i64,
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100))]
    pub percent: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InterfaceReport {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub rx_bytes: i64,
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub tx_bytes: i64,
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub rx_packets: i64,
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub tx_packets: i64,
    pub is_up: bool,
}

/// The v1 answer; the command-channel lists stay for old agents and are always empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeartbeatResponse {
    pub status: String,
    pub server_registered: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub pending_commands: Vec<serde_json::Value>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<i64>))]
    pub results_acknowledged: Vec<serde_json::Value>,
}

impl HeartbeatResponse {
    pub fn ok(server_registered: bool) -> Self {
        HeartbeatResponse {
            status: "ok".into(),
            server_registered,
            pending_commands: Vec::new(),
            results_acknowledged: Vec::new(),
        }
    }
}

impl HeartbeatRequest {
    /// Checks every v1 constraint (with the v1 defects fixed: service CPU may exceed 100 %),
    /// plus a bound on clock skew relative to the hub's `now`.
    pub fn validate(&self, now: Timestamp) -> Result<(), ValidationErrors> {
        self.validate_kept(now, None)
    }

    /// [`HeartbeatRequest::validate`], also refusing a timestamp older than `history_from`, the
    /// oldest instant the hub keeps history for: such a heartbeat would be answered 200 and
    /// stored nowhere (the next retention run deletes it), which tells the agent nothing about
    /// its clock.
    pub fn validate_kept(&self, now: Timestamp, history_from: Option<Timestamp>) -> Result<(), ValidationErrors> {
        let mut v = Validator::new("body");
        if let Some(guid) = self.server_guid.as_ref().filter(|guid| !is_uuid_v4(guid)) {
            v.custom(
                "server_guid",
                "string_pattern_mismatch",
                "should be a lower-case UUID version 4",
                guid.as_str().into(),
            );
        }
        v.slug("server_id", &self.server_id);
        v.str_len("hostname", &self.hostname, 1, 255);
        let skew = (self.timestamp - now).num_seconds();
        if skew > MAX_CLOCK_SKEW_SECONDS {
            v.custom(
                "timestamp",
                "datetime_future",
                &format!(
                    "is {skew} s ahead of the hub clock (at most {MAX_CLOCK_SKEW_SECONDS} s allowed); check the agent's time synchronisation"
                ),
                time::format(&self.timestamp).into(),
            );
        }
        if let Some(from) = history_from.filter(|from| self.timestamp < *from) {
            v.custom(
                "timestamp",
                "datetime_past",
                &format!(
                    "is before {}, older than the history the hub keeps; check the agent's clock",
                    time::format(&from)
                ),
                time::format(&self.timestamp).into(),
            );
        }
        v.opt_str_len("agent_version", self.agent_version.as_deref(), 0, 20);
        v.opt_one_of("agent_mode", self.agent_mode.as_deref(), &["readonly", "readwrite"]);
        if let Some(os) = &self.os_info {
            v.at("os_info", |v| {
                v.opt_str_len("distribution", os.distribution.as_deref(), 0, 100);
                v.opt_str_len("version", os.version.as_deref(), 0, 100);
                v.opt_str_len("kernel", os.kernel.as_deref(), 0, 100);
                v.opt_str_len("architecture", os.architecture.as_deref(), 0, 20);
            });
        }
        if let Some(m) = &self.metrics {
            v.at("metrics", |v| validate_metrics(v, m));
        }
        v.range_i64("updates_available", self.updates_available, 0, None);
        v.range_i64("security_updates", self.security_updates, 0, None);
        if let Some(cpu) = &self.cpu_info {
            v.at("cpu_info", |v| {
                v.opt_str_len("cpu_model", cpu.cpu_model.as_deref(), 0, 255);
                v.range_i64("cpu_cores", cpu.cpu_cores, 1, Some(1024));
            });
        }
        for_each(&mut v, "services", self.services.as_deref(), |v, s| {
            v.str_len("name", &s.name, 1, 255);
            v.one_of("status", &s.status, &SERVICE_STATUSES);
            v.opt_str_len("status_reason", s.status_reason.as_deref(), 0, 255);
            v.range_i64("pid", s.pid, 0, None);
            v.range_f64("memory_mb", s.memory_mb, 0.0, None);
            v.range_f64("cpu_percent", s.cpu_percent, 0.0, None);
            v.range_i64("restarts", s.restarts, 0, None);
        });
        for_each(&mut v, "packages", self.packages.as_deref(), |v, p| {
            v.str_len("name", &p.name, 1, 255);
            v.str_len("current_version", &p.current_version, 1, 100);
            v.str_len("new_version", &p.new_version, 1, 100);
            v.str_len("repository", &p.repository, 1, 255);
        });
        for_each(&mut v, "filesystems", self.filesystems.as_deref(), |v, f| {
            v.str_len("mount_point", &f.mount_point, 1, 255);
            v.str_len("device", &f.device, 0, 255);
            v.str_len("fs_type", &f.fs_type, 0, 50);
            v.range_i64("total_bytes", Some(f.total_bytes), 0, None);
            v.range_i64("used_bytes", Some(f.used_bytes), 0, None);
            v.range_i64("available_bytes", Some(f.available_bytes), 0, None);
            v.range_f64("percent", Some(f.percent), 0.0, Some(100.0));
        });
        for_each(&mut v, "network_interfaces", self.network_interfaces.as_deref(), |v, i| {
            v.str_len("name", &i.name, 1, 64);
            v.range_i64("rx_bytes", Some(i.rx_bytes), 0, None);
            v.range_i64("tx_bytes", Some(i.tx_bytes), 0, None);
            v.range_i64("rx_packets", Some(i.rx_packets), 0, None);
            v.range_i64("tx_packets", Some(i.tx_packets), 0, None);
        });
        for_each(&mut v, "containers", self.containers.as_deref(), inventory::validate_container);
        for_each(&mut v, "temperatures", self.temperatures.as_deref(), inventory::validate_temperature);
        for_each(&mut v, "fans", self.fans.as_deref(), inventory::validate_fan);
        for_each(&mut v, "disk_health", self.disk_health.as_deref(), inventory::validate_disk);
        for_each(&mut v, "raid_arrays", self.raid_arrays.as_deref(), inventory::validate_raid);
        for_each(&mut v, "zfs_pools", self.zfs_pools.as_deref(), inventory::validate_zfs_pool);
        for_each(&mut v, "gpus", self.gpus.as_deref(), inventory::validate_gpu);
        v.finish()
    }
}

fn for_each<T>(v: &mut Validator, field: &str, items: Option<&[T]>, check: impl Fn(&mut Validator, &T)) {
    let Some(items) = items else { return };
    v.at(field, |v| {
        for (index, item) in items.iter().enumerate() {
            v.at(index, |v| check(v, item));
        }
    });
}

fn validate_metrics(v: &mut Validator, m: &Metrics) {
    v.range_f64("cpu_percent", m.cpu_percent, 0.0, Some(100.0));
    v.range_f64("memory_percent", m.memory_percent, 0.0, Some(100.0));
    v.range_i64("memory_total_mb", m.memory_total_mb, 0, None);
    v.range_i64("memory_used_mb", m.memory_used_mb, 0, None);
    v.range_f64("disk_percent", m.disk_percent, 0.0, Some(100.0));
    v.range_f64("disk_total_gb", m.disk_total_gb, 0.0, None);
    v.range_f64("disk_used_gb", m.disk_used_gb, 0.0, None);
    v.range_i64("network_rx_bytes", m.network_rx_bytes, 0, None);
    v.range_i64("network_tx_bytes", m.network_tx_bytes, 0, None);
    v.range_f64("load_1m", m.load_1m, 0.0, None);
    v.range_f64("load_5m", m.load_5m, 0.0, None);
    v.range_f64("load_15m", m.load_15m, 0.0, None);
    v.range_i64("uptime_seconds", m.uptime_seconds, 0, None);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        time::parse("2026-01-19T12:00:30Z").unwrap()
    }

    fn parse(json: &str) -> HeartbeatRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_v1_example_is_valid_and_extra_keys_are_ignored() {
        let hb = parse(
            r#"{"server_id":"omv-mediaserver","hostname":"mediaserver.home.lan","timestamp":"2026-01-19T12:00:00Z",
                "metrics":{"cpu_percent":45.2,"memory_percent":62.5,"disk_percent":78.3,"reboot_required":true},
                "future_field":1}"#,
        );
        assert_eq!(hb.metrics.as_ref().unwrap().cpu_percent, Some(45.2));
        hb.validate(now()).unwrap();
    }

    #[test]
    fn service_cpu_above_100_is_accepted() {
        let hb = parse(
            r#"{"server_id":"a","hostname":"a","timestamp":"2026-01-19T12:00:00+00:00",
                "services":[{"name":"plex","status":"running","cpu_percent":340.5}]}"#,
        );
        hb.validate(now()).unwrap();
    }

    #[test]
    fn every_invalid_field_is_reported_with_its_path() {
        let hb = parse(
            r#"{"server_guid":"NOT-A-GUID","server_id":"Bad Id","hostname":"","timestamp":"2026-01-19T12:00:00Z",
                "metrics":{"cpu_percent":101},"services":[{"name":"x","status":"sleeping"}],
                "filesystems":[{"mount_point":"/","device":"d","fs_type":"ext4","total_bytes":-1,"used_bytes":0,"available_bytes":0,"percent":5}]}"#,
        );
        let fields: Vec<String> =
            hb.validate(now()).unwrap_err().0.iter().map(|e| crate::validate::FieldError::field_name(&e.loc)).collect();
        assert_eq!(
            fields,
            [
                "server_guid",
                "server_id",
                "hostname",
                "metrics.cpu_percent",
                "services[0].status",
                "filesystems[0].total_bytes"
            ]
        );
    }

    #[test]
    fn timestamps_far_in_the_future_are_rejected_but_old_ones_are_not() {
        let mut hb = parse(r#"{"server_id":"a","hostname":"a","timestamp":"2026-01-19T12:06:00Z"}"#);
        assert_eq!(hb.validate(now()).unwrap_err().0[0].kind, "datetime_future");
        hb.timestamp = time::parse("2026-01-18T12:00:00Z").unwrap();
        hb.validate(now()).unwrap();
    }

    #[test]
    fn timestamps_older_than_the_kept_history_are_rejected() {
        let from = time::parse("2024-01-19T12:00:00Z").unwrap();
        let mut hb = parse(r#"{"server_id":"a","hostname":"a","timestamp":"2024-01-19T12:00:00Z"}"#);
        hb.validate_kept(now(), Some(from)).unwrap();
        for old in ["2024-01-19T11:59:59.999Z", "1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z"] {
            hb.timestamp = time::parse(old).unwrap();
            let errors = hb.validate_kept(now(), Some(from)).unwrap_err().0;
            assert_eq!(
                (errors[0].kind.as_str(), errors[0].msg.split(':').next()),
                ("datetime_past", Some("timestamp"))
            );
        }
    }

    #[test]
    fn the_keys_beyond_v1_are_optional_and_validated_with_their_paths() {
        let plain = parse(r#"{"server_id":"a","hostname":"a","timestamp":"2026-01-19T12:00:00Z"}"#);
        assert_eq!((plain.containers.as_ref(), plain.gpus.as_ref()), (None, None));

        let hb = parse(
            r#"{"server_id":"a","hostname":"a","timestamp":"2026-01-19T12:00:00Z",
                "containers":[{"id":"3f2a","name":"plex","image":"plexinc/pms","state":"running","health":"healthy",
                               "restart_count":0,"cpu_percent":150.5,"compose_project":"media"}],
                "temperatures":[{"sensor":"coretemp/Package id 0","kind":"cpu","celsius":54.0,"high_celsius":80.0}],
                "fans":[{"sensor":"nct6775/fan2","rpm":812}],
                "disk_health":[{"device":"/dev/sda","protocol":"ata","passed":true,"reallocated_sectors":0}],
                "raid_arrays":[{"name":"md0","level":"raid1","state":"clean","devices_total":2,"devices_active":2}],
                "zfs_pools":[{"name":"tank","health":"ONLINE"}],
                "gpus":[{"id":"nvidia0","vendor":"nvidia","utilisation_percent":12,"temperature_celsius":41}]}"#,
        );
        hb.validate(now()).unwrap();
        assert_eq!(hb.containers.as_ref().unwrap()[0].compose_project.as_deref(), Some("media"));

        let bad = parse(
            r#"{"server_id":"a","hostname":"a","timestamp":"2026-01-19T12:00:00Z",
                "containers":[{"id":"3f2a","name":"plex","image":"x","state":"sleeping"}],
                "temperatures":[{"sensor":"t","kind":"cpu","celsius":1000}],
                "disk_health":[{"device":"/dev/sda","protocol":"usb"}],
                "raid_arrays":[{"name":"md0","level":"raid1","state":"clean","devices_total":-1,"devices_active":0}],
                "zfs_pools":[{"name":"tank","health":"online"}],
                "gpus":[{"id":"g","vendor":"intel"}]}"#,
        );
        let fields: Vec<String> = bad
            .validate(now())
            .unwrap_err()
            .0
            .iter()
            .map(|e| crate::validate::FieldError::field_name(&e.loc))
            .collect();
        assert_eq!(
            fields,
            [
                "containers[0].state",
                "temperatures[0].celsius",
                "disk_health[0].protocol",
                "raid_arrays[0].devices_total",
                "zfs_pools[0].health",
                "gpus[0].vendor"
            ]
        );
    }
}
