//! Alert configuration: thresholds and notification settings in their v1 JSON shapes, with the
//! v1 defaults, validation, and the partial updates of `PUT /config/thresholds` and
//! `PUT /config/notifications`.
//!
//! Our additions (the hysteresis margin, the clear period) have serde defaults, so every v1 payload and every
//! document stored by v1 still parses.

use serde::{Deserialize, Serialize};

use super::{AlertKind, Severity};
use crate::validate::{ValidationErrors, Validator};

/// Resolve margin used when a stored or submitted threshold does not name one.
pub const DEFAULT_HYSTERESIS_PERCENT: i64 = 5;
/// Upper bound on the hysteresis margin: wider than this and an alert would hardly ever clear.
pub const MAX_HYSTERESIS_PERCENT: i64 = 50;
/// Clear period used when a stored or submitted threshold does not name one: two heartbeat
/// intervals of the default agent, so a recovery inside the margin is reported within two minutes.
pub const DEFAULT_CLEAR_SECONDS: i64 = 120;
/// Upper bound on the clear period, the same as on the sustained window.
pub const MAX_CLEAR_SECONDS: i64 = 600;
/// Upper bound on a service's grace period (global default or per service): an hour.
pub const MAX_SERVICE_GRACE_SECONDS: i64 = 3600;
/// A crash loop: an expected service's restart counter rose by at least this much within
/// [`CRASH_LOOP_SECONDS`] while every heartbeat reported it running.
pub const CRASH_LOOP_RESTARTS: i64 = 3;
/// The crash-loop window; the alert resolves once the counter has not risen for this long.
pub const CRASH_LOOP_SECONDS: i64 = 600;
/// A container's restart counter rising by this much within [`CRASH_LOOP_SECONDS`] is a
/// restart loop, like a service's crash loop.
pub const RESTART_LOOP_RESTARTS: i64 = 3;
/// A disk whose failure counters rose within this window is reported; the alert resolves once
/// they have not risen for as long.
pub const DISK_COUNTERS_QUIET_SECONDS: i64 = 24 * 3600;
/// The v1 default for `server_offline_seconds`.
pub const DEFAULT_OFFLINE_SECONDS: i64 = 180;

/// Levels and timing for one metric (CPU, memory or disk).
///
/// Deserialising always applies the v1 rule for the deprecated `sustained_heartbeats`: when it is
/// set and `sustained_seconds` is 0, `sustained_seconds` becomes `sustained_heartbeats × 60`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "MetricThresholdFields")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricThreshold {
    /// Percent (0–100) at or above which the metric is in breach at `high` severity.
    pub high_percent: i64,
    /// Percent (0–100, above `high_percent`) at or above which the breach is `critical`.
    pub critical_percent: i64,
    /// How long (0–600 s) a breach must last before an alert opens; 0 fires on the first breach.
    pub sustained_seconds: i64,
    /// Deprecated v1 field (0–10 or null), kept so v1 clients round-trip it.
    pub sustained_heartbeats: Option<i64>,
    /// Not in v1: an open alert resolves only once the value is below `high_percent` minus this
    /// margin (0–50, default 5), so a value hovering at the threshold does not flap.
    pub hysteresis_percent: i64,
    /// Not in v1: how long (0–600 s, default 120) a value below `high_percent` but within the
    /// hysteresis margin must stay there before the open alert resolves. The margin stops a value
    /// crossing the level at every heartbeat from flapping; this bounds what it costs a real
    /// recovery. 0 resolves on the first heartbeat below `high_percent`, as v1 did.
    pub clear_seconds: i64,
}

/// The wire form of [`MetricThreshold`] before the v1 normalisation is applied.
#[derive(Deserialize)]
struct MetricThresholdFields {
    high_percent: i64,
    critical_percent: i64,
    #[serde(default)]
    sustained_seconds: i64,
    #[serde(default)]
    sustained_heartbeats: Option<i64>,
    #[serde(default = "default_hysteresis")]
    hysteresis_percent: i64,
    #[serde(default = "default_clear_seconds")]
    clear_seconds: i64,
}

fn default_hysteresis() -> i64 {
    DEFAULT_HYSTERESIS_PERCENT
}

fn default_clear_seconds() -> i64 {
    DEFAULT_CLEAR_SECONDS
}

impl From<MetricThresholdFields> for MetricThreshold {
    fn from(fields: MetricThresholdFields) -> Self {
        let mut threshold = MetricThreshold {
            high_percent: fields.high_percent,
            critical_percent: fields.critical_percent,
            sustained_seconds: fields.sustained_seconds,
            sustained_heartbeats: fields.sustained_heartbeats,
            hysteresis_percent: fields.hysteresis_percent,
            clear_seconds: fields.clear_seconds,
        };
        threshold.normalise();
        threshold
    }
}

impl MetricThreshold {
    /// A threshold with the default hysteresis and clear period and no deprecated heartbeat count.
    pub fn new(high_percent: i64, critical_percent: i64, sustained_seconds: i64) -> Self {
        MetricThreshold {
            high_percent,
            critical_percent,
            sustained_seconds,
            sustained_heartbeats: None,
            hysteresis_percent: DEFAULT_HYSTERESIS_PERCENT,
            clear_seconds: DEFAULT_CLEAR_SECONDS,
        }
    }

    /// v1 converts the deprecated heartbeat count to seconds whenever a threshold is built.
    pub fn normalise(&mut self) {
        if let Some(heartbeats) = self.sustained_heartbeats
            && self.sustained_seconds == 0
        {
            self.sustained_seconds = heartbeats.saturating_mul(60);
        }
    }

    /// The level a severity fires at (`critical_percent` for critical, `high_percent` otherwise).
    pub fn level(&self, severity: Severity) -> f64 {
        if severity == Severity::Critical { self.critical_percent as f64 } else { self.high_percent as f64 }
    }

    /// The hysteresis margin the engine applies: the configured one, but never more than half the
    /// high level, so that a very low high level (allowed by v1) can still resolve.
    pub fn effective_hysteresis(&self) -> f64 {
        let configured = self.hysteresis_percent.max(0) as f64;
        configured.min(self.high_percent.max(0) as f64 / 2.0)
    }

    /// A value at or below this (and below `high_percent`) is a clear drop: an open alert
    /// resolves on that heartbeat. Between it and `high_percent` the clear period applies.
    pub fn resolve_at_once_at(&self) -> f64 {
        self.high_percent as f64 - self.effective_hysteresis()
    }

    /// Whether `value` resolves an open alert on the heartbeat that reports it.
    pub fn resolves_at_once(&self, value: f64) -> bool {
        value < self.high_percent as f64 && value <= self.resolve_at_once_at()
    }

    /// An open critical alert drops back to high once the value is strictly below this.
    pub fn de_escalate_below(&self) -> f64 {
        self.critical_percent as f64 - self.effective_hysteresis()
    }

    fn check_ranges(&self, v: &mut Validator) {
        v.range_i64("high_percent", Some(self.high_percent), 0, Some(100));
        v.range_i64("critical_percent", Some(self.critical_percent), 0, Some(100));
        v.range_i64("sustained_seconds", Some(self.sustained_seconds), 0, Some(600));
        v.range_i64("sustained_heartbeats", self.sustained_heartbeats, 0, Some(10));
        v.range_i64("hysteresis_percent", Some(self.hysteresis_percent), 0, Some(MAX_HYSTERESIS_PERCENT));
        v.range_i64("clear_seconds", Some(self.clear_seconds), 0, Some(MAX_CLEAR_SECONDS));
    }

    /// The cross-field rule, reported on `critical_percent` and naming the other field.
    fn check_order(&self, metric: &str, v: &mut Validator) {
        if self.critical_percent <= self.high_percent {
            v.custom(
                "critical_percent",
                "value_error",
                &format!("must be greater than {metric}.high_percent ({})", self.high_percent),
                self.critical_percent.into(),
            );
        }
    }
}

/// The `thresholds` configuration document (v1 shape plus our hysteresis margins and clear periods).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Thresholds {
    #[serde(default = "default_cpu")]
    pub cpu: MetricThreshold,
    #[serde(default = "default_memory")]
    pub memory: MetricThreshold,
    #[serde(default = "default_disk")]
    pub disk: MetricThreshold,
    /// Silence (≥ 30 s) after which a server is offline; unlike v1, the engine honours it.
    #[serde(default = "default_offline_seconds")]
    pub server_offline_seconds: i64,
    /// Not in v1: how long (0–3600 s) an expected service may be reported stopped or failed
    /// before its alert opens, for services that set no grace period of their own. 0 (the
    /// default) alerts on the first such report, as v1 and the seed's acceptance criteria.
    #[serde(default)]
    pub service_grace_seconds: i64,
    /// Not in v1: levels per sensor kind (CPU, drive, chipset, GPU, ambient, other), with the
    /// same sustain and clear rules as CPU.
    #[serde(default)]
    pub temperature: TemperatureThresholds,
}

/// A temperature sensor kind's warning and critical points, in °C.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TemperatureLevels {
    /// At or above this (0–150 °C) the sensor is in breach at `high` severity.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 150))]
    pub high_celsius: i64,
    /// At or above this (0–150 °C, above `high_celsius`) the breach is `critical`.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 150))]
    pub critical_celsius: i64,
}

impl TemperatureLevels {
    const fn new(high_celsius: i64, critical_celsius: i64) -> Self {
        TemperatureLevels { high_celsius, critical_celsius }
    }
}

/// Temperature alerting: levels per sensor kind plus the timing every kind shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TemperatureThresholds {
    /// CPU packages and cores (default 85/95 °C: most desktop CPUs throttle near 100).
    pub cpu: TemperatureLevels,
    /// Disks, NVMe included (default 60/70 °C: drives are rated to about 60–70).
    pub drive: TemperatureLevels,
    /// Chipsets and VRMs (default 80/95 °C).
    pub chipset: TemperatureLevels,
    /// GPUs (default 85/95 °C).
    pub gpu: TemperatureLevels,
    /// Case and room probes, ACPI zones (default 45/55 °C).
    pub ambient: TemperatureLevels,
    /// Anything else (default 80/95 °C).
    pub other: TemperatureLevels,
    /// How long (0–600 s, default 120) a breach must last before an alert opens.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 600))]
    pub sustained_seconds: i64,
    /// How long (0–600 s, default 120) a reading within the margin must stay below the high
    /// level before the alert resolves.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 600))]
    pub clear_seconds: i64,
    /// Resolve margin in °C (0–50, default 5).
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 50))]
    pub hysteresis_celsius: i64,
}

impl Default for TemperatureThresholds {
    fn default() -> Self {
        TemperatureThresholds {
            cpu: TemperatureLevels::new(85, 95),
            drive: TemperatureLevels::new(60, 70),
            chipset: TemperatureLevels::new(80, 95),
            gpu: TemperatureLevels::new(85, 95),
            ambient: TemperatureLevels::new(45, 55),
            other: TemperatureLevels::new(80, 95),
            sustained_seconds: 120,
            clear_seconds: DEFAULT_CLEAR_SECONDS,
            hysteresis_celsius: DEFAULT_HYSTERESIS_PERCENT,
        }
    }
}

impl TemperatureThresholds {
    /// The kinds and their levels, in document order ([`crate::inventory::SENSOR_KINDS`]).
    pub fn kinds(&self) -> [(&'static str, TemperatureLevels); 6] {
        [
            ("cpu", self.cpu),
            ("drive", self.drive),
            ("chipset", self.chipset),
            ("gpu", self.gpu),
            ("ambient", self.ambient),
            ("other", self.other),
        ]
    }

    fn levels_mut(&mut self, kind: &str) -> Option<&mut TemperatureLevels> {
        Some(match kind {
            "cpu" => &mut self.cpu,
            "drive" => &mut self.drive,
            "chipset" => &mut self.chipset,
            "gpu" => &mut self.gpu,
            "ambient" => &mut self.ambient,
            "other" => &mut self.other,
            _ => return None,
        })
    }

    /// The engine's threshold for a sensor of `kind` (an unknown kind counts as `other`): the
    /// metric rules apply unchanged with degrees in place of percent.
    pub fn for_kind(&self, kind: &str) -> MetricThreshold {
        let levels = self.kinds().into_iter().find(|(name, _)| *name == kind).map_or(self.other, |(_, l)| l);
        MetricThreshold {
            high_percent: levels.high_celsius,
            critical_percent: levels.critical_celsius,
            sustained_seconds: self.sustained_seconds,
            sustained_heartbeats: None,
            hysteresis_percent: self.hysteresis_celsius,
            clear_seconds: self.clear_seconds,
        }
    }

    fn check(&self, v: &mut Validator) {
        for (kind, levels) in self.kinds() {
            v.at(kind, |v| {
                v.range_i64("high_celsius", Some(levels.high_celsius), 0, Some(150));
                v.range_i64("critical_celsius", Some(levels.critical_celsius), 0, Some(150));
                if levels.critical_celsius <= levels.high_celsius {
                    v.custom(
                        "critical_celsius",
                        "value_error",
                        &format!("must be greater than temperature.{kind}.high_celsius ({})", levels.high_celsius),
                        levels.critical_celsius.into(),
                    );
                }
            });
        }
        v.range_i64("sustained_seconds", Some(self.sustained_seconds), 0, Some(600));
        v.range_i64("clear_seconds", Some(self.clear_seconds), 0, Some(MAX_CLEAR_SECONDS));
        v.range_i64("hysteresis_celsius", Some(self.hysteresis_celsius), 0, Some(MAX_HYSTERESIS_PERCENT));
    }

    /// Applies a partial update, returning the dotted names (under `temperature.`) that changed.
    fn apply(&mut self, update: &TemperatureThresholdsUpdate) -> Vec<String> {
        let mut updated = Vec::new();
        for (kind, patch) in update.kinds() {
            let Some(patch) = patch else { continue };
            let Some(levels) = self.levels_mut(kind) else { continue };
            for (field, slot, value) in [
                ("high_celsius", &mut levels.high_celsius, patch.high_celsius),
                ("critical_celsius", &mut levels.critical_celsius, patch.critical_celsius),
            ] {
                set_if_changed(&format!("temperature.{kind}.{field}"), slot, value, &mut updated);
            }
        }
        for (field, slot, value) in [
            ("sustained_seconds", &mut self.sustained_seconds, update.sustained_seconds),
            ("clear_seconds", &mut self.clear_seconds, update.clear_seconds),
            ("hysteresis_celsius", &mut self.hysteresis_celsius, update.hysteresis_celsius),
        ] {
            set_if_changed(&format!("temperature.{field}"), slot, value, &mut updated);
        }
        updated
    }
}

/// One sensor kind in a `PUT /config/thresholds` body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TemperatureLevelsUpdate {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 150))]
    pub high_celsius: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 150))]
    pub critical_celsius: Option<i64>,
}

/// The `temperature` object of a `PUT /config/thresholds` body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TemperatureThresholdsUpdate {
    #[serde(default)]
    pub cpu: Option<TemperatureLevelsUpdate>,
    #[serde(default)]
    pub drive: Option<TemperatureLevelsUpdate>,
    #[serde(default)]
    pub chipset: Option<TemperatureLevelsUpdate>,
    #[serde(default)]
    pub gpu: Option<TemperatureLevelsUpdate>,
    #[serde(default)]
    pub ambient: Option<TemperatureLevelsUpdate>,
    #[serde(default)]
    pub other: Option<TemperatureLevelsUpdate>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 600))]
    pub sustained_seconds: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 600))]
    pub clear_seconds: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 50))]
    pub hysteresis_celsius: Option<i64>,
}

impl TemperatureThresholdsUpdate {
    fn kinds(&self) -> [(&'static str, Option<TemperatureLevelsUpdate>); 6] {
        [
            ("cpu", self.cpu),
            ("drive", self.drive),
            ("chipset", self.chipset),
            ("gpu", self.gpu),
            ("ambient", self.ambient),
            ("other", self.other),
        ]
    }

    fn check_ranges(&self, v: &mut Validator) {
        for (kind, patch) in self.kinds() {
            let Some(patch) = patch else { continue };
            v.at(kind, |v| {
                v.range_i64("high_celsius", patch.high_celsius, 0, Some(150));
                v.range_i64("critical_celsius", patch.critical_celsius, 0, Some(150));
            });
        }
        v.range_i64("sustained_seconds", self.sustained_seconds, 0, Some(600));
        v.range_i64("clear_seconds", self.clear_seconds, 0, Some(MAX_CLEAR_SECONDS));
        v.range_i64("hysteresis_celsius", self.hysteresis_celsius, 0, Some(MAX_HYSTERESIS_PERCENT));
    }
}

fn default_cpu() -> MetricThreshold {
    MetricThreshold::new(85, 95, 180)
}

fn default_memory() -> MetricThreshold {
    MetricThreshold::new(85, 95, 180)
}

fn default_disk() -> MetricThreshold {
    MetricThreshold::new(80, 95, 0)
}

fn default_offline_seconds() -> i64 {
    DEFAULT_OFFLINE_SECONDS
}

impl Default for Thresholds {
    /// The v1 defaults (contract §2.7): CPU/memory 85/95 sustained 180 s, disk 80/95 immediate.
    fn default() -> Self {
        Thresholds {
            cpu: default_cpu(),
            memory: default_memory(),
            disk: default_disk(),
            server_offline_seconds: DEFAULT_OFFLINE_SECONDS,
            service_grace_seconds: 0,
            temperature: TemperatureThresholds::default(),
        }
    }
}

impl Thresholds {
    /// The threshold of a metric kind; `None` for offline and service alerts.
    pub fn metric(&self, kind: AlertKind) -> Option<&MetricThreshold> {
        match kind {
            AlertKind::Cpu => Some(&self.cpu),
            AlertKind::Memory => Some(&self.memory),
            AlertKind::Disk => Some(&self.disk),
            AlertKind::Offline
            | AlertKind::Service
            | AlertKind::Container
            | AlertKind::Temperature
            | AlertKind::DiskHealth => None,
        }
    }

    fn metrics(&self) -> [(&'static str, &MetricThreshold); 3] {
        [("cpu", &self.cpu), ("memory", &self.memory), ("disk", &self.disk)]
    }

    /// Every range and the critical-above-high rule, with errors under `body.<metric>.<field>`.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = Validator::new("body");
        for (name, threshold) in self.metrics() {
            v.at(name, |v| {
                threshold.check_ranges(v);
                threshold.check_order(name, v);
            });
        }
        v.range_i64("server_offline_seconds", Some(self.server_offline_seconds), 30, None);
        v.range_i64("service_grace_seconds", Some(self.service_grace_seconds), 0, Some(MAX_SERVICE_GRACE_SECONDS));
        v.at("temperature", |v| self.temperature.check(v));
        v.finish()
    }

    /// Applies a `PUT /config/thresholds` body.
    ///
    /// Per-field range errors are reported first (nothing is merged); then the merged document is
    /// validated as a whole, which is where the critical-above-high rule can fail. `updated` lists
    /// the dotted names of the fields whose value changed, in document order.
    pub fn merge(&self, update: &ThresholdsUpdate) -> Result<Merged<Thresholds>, ValidationErrors> {
        update.validate()?;
        let mut merged = *self;
        let mut updated = Vec::new();
        let pairs = [
            ("cpu", &mut merged.cpu, &update.cpu),
            ("memory", &mut merged.memory, &update.memory),
            ("disk", &mut merged.disk, &update.disk),
        ];
        for (name, threshold, patch) in pairs {
            let before = *threshold;
            if let Some(patch) = patch {
                patch.apply_to(threshold);
            }
            threshold.normalise();
            let fields = [
                ("high_percent", before.high_percent != threshold.high_percent),
                ("critical_percent", before.critical_percent != threshold.critical_percent),
                ("sustained_seconds", before.sustained_seconds != threshold.sustained_seconds),
                ("sustained_heartbeats", before.sustained_heartbeats != threshold.sustained_heartbeats),
                ("hysteresis_percent", before.hysteresis_percent != threshold.hysteresis_percent),
                ("clear_seconds", before.clear_seconds != threshold.clear_seconds),
            ];
            updated
                .extend(fields.into_iter().filter(|(_, changed)| *changed).map(|(field, _)| format!("{name}.{field}")));
        }
        if let Some(seconds) = update.server_offline_seconds
            && seconds != merged.server_offline_seconds
        {
            merged.server_offline_seconds = seconds;
            updated.push("server_offline_seconds".to_owned());
        }
        if let Some(seconds) = update.service_grace_seconds
            && seconds != merged.service_grace_seconds
        {
            merged.service_grace_seconds = seconds;
            updated.push("service_grace_seconds".to_owned());
        }
        if let Some(temperature) = &update.temperature {
            updated.extend(merged.temperature.apply(temperature));
        }
        merged.validate()?;
        Ok(Merged { config: merged, updated })
    }
}

/// The result of a partial configuration update: the full document to persist and the dotted
/// names of the fields that changed (the v1 `updated` list).
#[derive(Debug, Clone, PartialEq)]
pub struct Merged<T> {
    pub config: T,
    pub updated: Vec<String>,
}

/// One metric in a `PUT /config/thresholds` body; absent and `null` both mean "keep" (as in v1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricThresholdUpdate {
    /// 0–100; below `critical_percent` (once merged with the stored thresholds).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100))]
    pub high_percent: Option<i64>,
    /// 0–100; above `high_percent` (once merged with the stored thresholds).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100))]
    pub critical_percent: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 600))]
    pub sustained_seconds: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 10))]
    pub sustained_heartbeats: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 50))]
    pub hysteresis_percent: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 600))]
    pub clear_seconds: Option<i64>,
}

impl MetricThresholdUpdate {
    fn apply_to(&self, threshold: &mut MetricThreshold) {
        if let Some(value) = self.high_percent {
            threshold.high_percent = value;
        }
        if let Some(value) = self.critical_percent {
            threshold.critical_percent = value;
        }
        if let Some(value) = self.sustained_seconds {
            threshold.sustained_seconds = value;
        }
        if let Some(value) = self.sustained_heartbeats {
            threshold.sustained_heartbeats = Some(value);
        }
        if let Some(value) = self.hysteresis_percent {
            threshold.hysteresis_percent = value;
        }
        if let Some(value) = self.clear_seconds {
            threshold.clear_seconds = value;
        }
    }

    fn check_ranges(&self, v: &mut Validator) {
        v.range_i64("high_percent", self.high_percent, 0, Some(100));
        v.range_i64("critical_percent", self.critical_percent, 0, Some(100));
        v.range_i64("sustained_seconds", self.sustained_seconds, 0, Some(600));
        v.range_i64("sustained_heartbeats", self.sustained_heartbeats, 0, Some(10));
        v.range_i64("hysteresis_percent", self.hysteresis_percent, 0, Some(MAX_HYSTERESIS_PERCENT));
        v.range_i64("clear_seconds", self.clear_seconds, 0, Some(MAX_CLEAR_SECONDS));
    }
}

/// `PUT /config/thresholds` body: only the fields sent (and not `null`) change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ThresholdsUpdate {
    #[serde(default)]
    pub cpu: Option<MetricThresholdUpdate>,
    #[serde(default)]
    pub memory: Option<MetricThresholdUpdate>,
    #[serde(default)]
    pub disk: Option<MetricThresholdUpdate>,
    /// At least 30.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 30))]
    pub server_offline_seconds: Option<i64>,
    /// 0–3600.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 3600))]
    pub service_grace_seconds: Option<i64>,
    #[serde(default)]
    pub temperature: Option<TemperatureThresholdsUpdate>,
}

impl ThresholdsUpdate {
    /// Per-field ranges only (the v1 FastAPI-style 422); cross-field rules need the merged document.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = Validator::new("body");
        for (name, patch) in [("cpu", &self.cpu), ("memory", &self.memory), ("disk", &self.disk)] {
            if let Some(patch) = patch {
                v.at(name, |v| patch.check_ranges(v));
            }
        }
        v.range_i64("server_offline_seconds", self.server_offline_seconds, 30, None);
        v.range_i64("service_grace_seconds", self.service_grace_seconds, 0, Some(MAX_SERVICE_GRACE_SECONDS));
        if let Some(temperature) = &self.temperature {
            v.at("temperature", |v| temperature.check_ranges(v));
        }
        v.finish()
    }
}

/// Minimum time between two notifications about the same alert, per severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cooldowns {
    /// Reminder interval for critical alerts (5–1440 min, default 30).
    #[serde(default = "default_critical_minutes")]
    pub critical_minutes: i64,
    /// Reminder interval for every other severity, medium included as in v1 (15–1440 min, default 240).
    #[serde(default = "default_high_minutes")]
    pub high_minutes: i64,
}

fn default_critical_minutes() -> i64 {
    30
}

fn default_high_minutes() -> i64 {
    240
}

impl Default for Cooldowns {
    fn default() -> Self {
        Cooldowns { critical_minutes: default_critical_minutes(), high_minutes: default_high_minutes() }
    }
}

impl Cooldowns {
    /// The reminder interval for an alert of `severity`, in milliseconds (v1: critical uses
    /// `critical_minutes`, everything else `high_minutes`).
    pub fn millis_for(&self, severity: Severity) -> i64 {
        let minutes = if severity == Severity::Critical { self.critical_minutes } else { self.high_minutes };
        minutes.saturating_mul(60_000)
    }

    fn check_ranges(critical: Option<i64>, high: Option<i64>, v: &mut Validator) {
        v.range_i64("critical_minutes", critical, 5, Some(1440));
        v.range_i64("high_minutes", high, 15, Some(1440));
    }
}

/// The `notifications` configuration document, v1 shape and defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotificationSettings {
    /// Slack incoming-webhook URL; empty means Slack is off.
    #[serde(default)]
    pub slack_webhook_url: String,
    #[serde(default)]
    pub cooldowns: Cooldowns,
    /// Gate for critical alerts (v1 §3.9); medium and low alerts have no gate and always go out.
    #[serde(default = "yes")]
    pub notify_on_critical: bool,
    /// Gate for high alerts.
    #[serde(default = "yes")]
    pub notify_on_high: bool,
    /// With `notify_on_auto_resolve`, gates resolution messages (v1 required both).
    #[serde(default = "yes")]
    pub notify_on_remediation: bool,
    /// Remediation actions (out of the alerting scope; stored and returned).
    #[serde(default = "yes")]
    pub notify_on_action_failure: bool,
    /// Remediation actions (out of the alerting scope; stored and returned).
    #[serde(default)]
    pub notify_on_action_success: bool,
    /// With `notify_on_remediation`, gates resolution messages.
    #[serde(default = "yes")]
    pub notify_on_auto_resolve: bool,
}

fn yes() -> bool {
    true
}

impl Default for NotificationSettings {
    fn default() -> Self {
        NotificationSettings {
            slack_webhook_url: String::new(),
            cooldowns: Cooldowns::default(),
            notify_on_critical: true,
            notify_on_high: true,
            notify_on_remediation: true,
            notify_on_action_failure: true,
            notify_on_action_success: false,
            notify_on_auto_resolve: true,
        }
    }
}

impl NotificationSettings {
    /// Cooldown ranges (v1: critical 5–1440 min, high 15–1440 min), under `body.cooldowns.*`.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = Validator::new("body");
        v.at("cooldowns", |v| {
            Cooldowns::check_ranges(Some(self.cooldowns.critical_minutes), Some(self.cooldowns.high_minutes), v)
        });
        v.finish()
    }

    /// Applies a `PUT /config/notifications` body. Unlike v1, all eight settings are merged (v1
    /// silently dropped `notify_on_action_*` and `notify_on_auto_resolve`).
    pub fn merge(&self, update: &NotificationSettingsUpdate) -> Result<Merged<NotificationSettings>, ValidationErrors> {
        update.validate()?;
        let mut merged = self.clone();
        let mut updated = Vec::new();
        if let Some(url) = &update.slack_webhook_url
            && *url != merged.slack_webhook_url
        {
            merged.slack_webhook_url = url.clone();
            updated.push("slack_webhook_url".to_owned());
        }
        if let Some(cooldowns) = &update.cooldowns {
            for (name, slot, value) in [
                ("cooldowns.critical_minutes", &mut merged.cooldowns.critical_minutes, cooldowns.critical_minutes),
                ("cooldowns.high_minutes", &mut merged.cooldowns.high_minutes, cooldowns.high_minutes),
            ] {
                set_if_changed(name, slot, value, &mut updated);
            }
        }
        for (name, slot, value) in [
            ("notify_on_critical", &mut merged.notify_on_critical, update.notify_on_critical),
            ("notify_on_high", &mut merged.notify_on_high, update.notify_on_high),
            ("notify_on_remediation", &mut merged.notify_on_remediation, update.notify_on_remediation),
            ("notify_on_action_failure", &mut merged.notify_on_action_failure, update.notify_on_action_failure),
            ("notify_on_action_success", &mut merged.notify_on_action_success, update.notify_on_action_success),
            ("notify_on_auto_resolve", &mut merged.notify_on_auto_resolve, update.notify_on_auto_resolve),
        ] {
            set_if_changed(name, slot, value, &mut updated);
        }
        merged.validate()?;
        Ok(Merged { config: merged, updated })
    }
}

fn set_if_changed<T: PartialEq>(name: &str, slot: &mut T, value: Option<T>, updated: &mut Vec<String>) {
    if let Some(value) = value
        && *slot != value
    {
        *slot = value;
        updated.push(name.to_owned());
    }
}

/// The `cooldowns` object of a `PUT /config/notifications` body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CooldownsUpdate {
    /// 5–1440 minutes.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 5, maximum = 1440))]
    pub critical_minutes: Option<i64>,
    /// 15–1440 minutes.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 15, maximum = 1440))]
    pub high_minutes: Option<i64>,
}

/// `PUT /config/notifications` body: only the fields sent (and not `null`) change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotificationSettingsUpdate {
    /// Any string; `""` turns Slack off (v1 does not validate the URL either).
    #[serde(default)]
    pub slack_webhook_url: Option<String>,
    #[serde(default)]
    pub cooldowns: Option<CooldownsUpdate>,
    #[serde(default)]
    pub notify_on_critical: Option<bool>,
    #[serde(default)]
    pub notify_on_high: Option<bool>,
    #[serde(default)]
    pub notify_on_remediation: Option<bool>,
    #[serde(default)]
    pub notify_on_action_failure: Option<bool>,
    #[serde(default)]
    pub notify_on_action_success: Option<bool>,
    #[serde(default)]
    pub notify_on_auto_resolve: Option<bool>,
}

impl NotificationSettingsUpdate {
    /// Per-field ranges of the fields sent (the v1 422 for cooldowns out of range).
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = Validator::new("body");
        if let Some(cooldowns) = &self.cooldowns {
            v.at("cooldowns", |v| Cooldowns::check_ranges(cooldowns.critical_minutes, cooldowns.high_minutes, v));
        }
        v.finish()
    }
}
