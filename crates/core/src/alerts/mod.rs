//! The alert engine: threshold, offline and service-down alerts as one pure function.
//!
//! [`evaluate`] takes the alert states of one server, one [`Observation`] (a heartbeat, a clock
//! tick or a person's acknowledge/resolve), the server's context and the [`Rules`], and returns the
//! states that changed plus the [`AlertEvent`]s to record. It reads no clock and touches no storage,
//! so the store can run it inside the transaction that persists its result, and every timing rule
//! is tested exactly by passing `now` in.
//!
//! An alert is identified by its [`AlertKey`] (kind + subject: `cpu`, `disk:/srv`, `service:plex`,
//! `offline`); each key has at most one active alert, and the store backs that up with a unique
//! index on the key.

pub mod clock;
pub mod engine;
pub mod state;
pub mod text;
pub mod thresholds;

#[cfg(test)]
mod inventory_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod topology_tests;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use clock::{Clock, ManualClock};
pub use engine::{
    AlertEvent, Evaluation, EventKind, ExpectedService, HeartbeatSample, Observation, Parent, Rules, ServerContext,
    ServiceStatus, Topology, evaluate,
};
pub use state::{ActiveAlert, AlertState, PendingBreach, RestartCount};
pub use thresholds::{
    Cooldowns, CooldownsUpdate, Merged, MetricThreshold, MetricThresholdUpdate, NotificationSettings,
    NotificationSettingsUpdate, TemperatureLevels, TemperatureLevelsUpdate, TemperatureThresholds,
    TemperatureThresholdsUpdate, Thresholds, ThresholdsUpdate,
};

/// What an alert is about; the string forms are the v1 `alert_type` values and are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AlertKind {
    Cpu,
    Memory,
    Disk,
    Offline,
    Service,
    /// Not in v1: a watched Docker or Podman container (subject: its name).
    Container,
    /// Not in v1: a temperature sensor, a GPU or a disk (subject: the sensor).
    Temperature,
    /// Not in v1: S.M.A.R.T., software RAID and ZFS pools (subject: `smart:/dev/sda`, …).
    #[serde(rename = "disk_health")]
    DiskHealth,
}

impl AlertKind {
    pub const ALL: [AlertKind; 8] = [
        AlertKind::Cpu,
        AlertKind::Memory,
        AlertKind::Disk,
        AlertKind::Offline,
        AlertKind::Service,
        AlertKind::Container,
        AlertKind::Temperature,
        AlertKind::DiskHealth,
    ];

    /// The v1 `alert_type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Cpu => "cpu",
            AlertKind::Memory => "memory",
            AlertKind::Disk => "disk",
            AlertKind::Offline => "offline",
            AlertKind::Service => "service",
            AlertKind::Container => "container",
            AlertKind::Temperature => "temperature",
            AlertKind::DiskHealth => "disk_health",
        }
    }

    /// The inverse of [`AlertKind::as_str`].
    pub fn parse(text: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// Whether alerts of this kind are about one named thing (a mount point, a service).
    pub fn has_subject(self) -> bool {
        !matches!(self, AlertKind::Cpu | AlertKind::Memory | AlertKind::Offline)
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a crash-loop key appends to the service's name.
const CRASH_LOOP_SUFFIX: &str = ":crash-loop";
/// What a restart-loop key appends to the container's name.
const RESTART_LOOP_SUFFIX: &str = ":restart-loop";

/// Identifies one alert slot of a server: at most one alert per key is active at a time.
///
/// The subject is empty for `cpu`, `memory` and `offline`, the mount point for `disk` and the
/// service name for `service`. Storing the subject as a column (instead of parsing it out of the
/// title, as v1 did) is what makes service matching exact.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AlertKey {
    pub kind: AlertKind,
    pub subject: String,
}

impl AlertKey {
    pub fn cpu() -> Self {
        AlertKey { kind: AlertKind::Cpu, subject: String::new() }
    }

    pub fn memory() -> Self {
        AlertKey { kind: AlertKind::Memory, subject: String::new() }
    }

    pub fn offline() -> Self {
        AlertKey { kind: AlertKind::Offline, subject: String::new() }
    }

    /// A per-mount disk key; heartbeats without a filesystem list use the mount `/`.
    pub fn disk(mount_point: impl Into<String>) -> Self {
        AlertKey { kind: AlertKind::Disk, subject: mount_point.into() }
    }

    pub fn service(name: impl Into<String>) -> Self {
        AlertKey { kind: AlertKind::Service, subject: name.into() }
    }

    /// The crash-loop key of a service (`service:plex:crash-loop`): a `service` alert of its own,
    /// so it can be open beside the service's down alert. Expected-service names cannot contain
    /// `:`, so it never collides with one.
    pub fn crash_loop(name: &str) -> Self {
        AlertKey { kind: AlertKind::Service, subject: format!("{name}{CRASH_LOOP_SUFFIX}") }
    }

    /// A watched container's key: down, missing or unhealthy. Container names cannot contain
    /// `:`, so it never collides with [`AlertKey::restart_loop`].
    pub fn container(name: impl Into<String>) -> Self {
        AlertKey { kind: AlertKind::Container, subject: name.into() }
    }

    /// A watched container whose restart counter climbs (`container:plex:restart-loop`).
    pub fn restart_loop(name: &str) -> Self {
        AlertKey { kind: AlertKind::Container, subject: format!("{name}{RESTART_LOOP_SUFFIX}") }
    }

    /// The container a container key is about.
    pub fn container_name(&self) -> Option<&str> {
        (self.kind == AlertKind::Container)
            .then(|| self.subject.strip_suffix(RESTART_LOOP_SUFFIX).unwrap_or(self.subject.as_str()))
    }

    pub fn temperature(sensor: impl Into<String>) -> Self {
        AlertKey { kind: AlertKind::Temperature, subject: sensor.into() }
    }

    /// A disk-health key: `smart:<device>` (the drive's verdict), `sectors:<device>` (its
    /// failure counters), `md:<array>` or `zfs:<pool>`.
    pub fn disk_health(check: &str, subject: &str) -> Self {
        AlertKey { kind: AlertKind::DiskHealth, subject: format!("{check}:{subject}") }
    }

    /// Whether this is a service's crash-loop key.
    pub fn is_crash_loop(&self) -> bool {
        self.kind == AlertKind::Service && self.subject.ends_with(CRASH_LOOP_SUFFIX)
    }

    /// The compact form for the store's unique index: `cpu`, `disk:/srv`, `service:plex`, `offline`.
    pub fn key_string(&self) -> String {
        if self.subject.is_empty() { self.kind.as_str().to_owned() } else { format!("{}:{}", self.kind, self.subject) }
    }

    /// The inverse of [`AlertKey::key_string`]. Kinds with a subject need one and the others may
    /// not have one, so every valid key has exactly one string form.
    pub fn parse(text: &str) -> Option<AlertKey> {
        match text.split_once(':') {
            Some((kind, subject)) => {
                let kind = AlertKind::parse(kind).filter(|kind| kind.has_subject() && !subject.is_empty())?;
                Some(AlertKey { kind, subject: subject.to_owned() })
            }
            None => AlertKind::parse(text)
                .filter(|kind| !kind.has_subject())
                .map(|kind| AlertKey { kind, subject: String::new() }),
        }
    }

    /// The v1 `service_name` of an alert, now taken from the key rather than the title (for a
    /// crash loop, the service's name).
    pub fn service_name(&self) -> Option<&str> {
        (self.kind == AlertKind::Service)
            .then(|| self.subject.strip_suffix(CRASH_LOOP_SUFFIX).unwrap_or(self.subject.as_str()))
    }
}

impl fmt::Display for AlertKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key_string())
    }
}

impl FromStr for AlertKey {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        AlertKey::parse(text).ok_or_else(|| format!("invalid alert key '{text}'"))
    }
}

/// How urgent an alert is. Ordered from `Low` to `Critical`, so escalation is `>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::Critical, Severity::High, Severity::Medium, Severity::Low];

    /// The stored and wire form: `critical`, `high`, `medium`, `low`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Capitalised as v1 titles and Slack headers show it (`Critical`, `High`).
    pub fn title_case(self) -> &'static str {
        match self {
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
            Severity::Critical => "Critical",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|severity| severity.as_str() == text)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lifecycle of an alert record: open → acknowledged (optional) → resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Resolved,
}

impl AlertStatus {
    pub const ALL: [AlertStatus; 3] = [AlertStatus::Open, AlertStatus::Acknowledged, AlertStatus::Resolved];

    /// The stored and wire form: `open`, `acknowledged`, `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Option<AlertStatus> {
        AlertStatus::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

impl fmt::Display for AlertStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
