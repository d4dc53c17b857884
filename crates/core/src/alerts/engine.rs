//! The evaluation function: `(states, observation, server, rules) -> (changed states, events)`.
//!
//! # Rules (each pinned by a test in `alerts::tests`)
//! - **Sustained window.** A metric at or above its high level starts a breach timer
//!   (`first_breach_at`); the alert opens once `now − first_breach_at ≥ sustained_seconds`
//!   (0 = on the first breach). Dropping below the high level before that resets the timer.
//! - **One alert per key.** Further breaches update the open alert, never open a second one. If
//!   the value is already at or above critical when the window is met, the alert opens critical.
//! - **Escalation** high → critical is immediate once the alert is open (event `Escalated`).
//!   **De-escalation** critical → high happens when the value falls below `critical − hysteresis`
//!   (event `DeEscalated`), so a value hovering at the critical level does not flap.
//! - **Resolution, calm and honest.** An open metric alert resolves on the heartbeat whose value
//!   is a clear drop: below the high level and at or below `high − hysteresis` (default 5 points;
//!   see [`MetricThreshold::effective_hysteresis`]), so disk 85 → 75 with high 80 resolves at once,
//!   as in v1. A value below the high level but within the margin (78 with high 80) resolves once
//!   it has stayed below the high level for `clear_seconds` (default 120 s, two heartbeats;
//!   counted from `below_high_since`); a value back at or above the high level restarts that
//!   count, so a value crossing the level at every heartbeat stays one alert. `clear_seconds = 0`
//!   is v1's rule: the first heartbeat below the high level resolves.
//! - **The alert follows the value.** While an alert is active, a heartbeat that changes its value
//!   (or a service's reported status) and causes no other event emits [`EventKind::Updated`]
//!   (never notified), so the alert's title and actual value say what was last observed.
//! - **Reminders** when `now − last_notified_at ≥ cooldown` (v1: critical 30 min, every other
//!   severity 240 min), evaluated whenever the key is observed. Acknowledged alerts get no
//!   reminders but still escalate and auto-resolve (v1 did neither: its defect); an escalation
//!   notifies but keeps the acknowledgement, so reminders stay silenced.
//! - **Manual resolve** closes the alert and resets the key, so a continuing breach starts a new
//!   sustained window and then opens a new alert. (For offline alerts the window is the offline
//!   timeout, which has usually elapsed already, so the next tick reopens it.)
//! - **Offline** (on [`Observation::Tick`]): not a workstation, not paused, seen at least once and
//!   silent for `server_offline_seconds` (with the hub's grace after its own downtime:
//!   [`crate::status::Silence`]) → a critical offline alert, reminded on the critical cooldown.
//!   Any heartbeat resolves it; so does the server becoming a workstation.
//! - **Dependencies**: a machine behind a parent that has missed a heartbeat gets no offline
//!   alert of its own: it waits for the parent's verdict, and when the parent is offline its
//!   silence is the parent's, whose alert names the machines behind it ("2 machines behind it are
//!   unreachable: pi, nas"). When the parent is back, the machines behind it get a heartbeat
//!   interval plus the timeout to report before they can be declared offline on their own.
//! - **Maintenance** (`is_paused`): no new alerts and no notifications; open alerts may still
//!   escalate or resolve (with `notify: false`) and send no reminders. Breach timers keep running,
//!   so a breach that outlasts the maintenance window opens as soon as maintenance ends.
//! - **Service down**, on every heartbeat carrying a service list: an expected, enabled service
//!   reported `stopped`/`failed` starts a timer (`first_breach_at`) and opens HIGH (critical
//!   service) or MEDIUM once it has been down for its grace period (the service's
//!   `grace_seconds`, else the thresholds' `service_grace_seconds`; 0, the default, opens on the
//!   first report, as v1), one alert per service by exact name. `running` before the grace
//!   period is over clears the timer, so a restart raises nothing; `running` resolves an open
//!   alert (even if the service is no longer expected, so such alerts cannot stay open for
//!   ever); `unknown`, unreported, unconfigured and disabled services change nothing. Severity
//!   is fixed when the alert opens.
//! - **Crash loops** (agents that report systemd's restart counter, `restarts`): an expected,
//!   enabled service whose counter rises by at least 3 within 10 minutes while the heartbeat
//!   that sees the rise reports it running opens its own alert (key `service:<name>:crash-loop`,
//!   HIGH for critical services, else MEDIUM), reminded like a service alert; it resolves once
//!   the counter has not risen for 10 minutes. The key's state keeps the counter's changes (the
//!   first report is the baseline, a lower count after a reboot a new one), so only a change
//!   writes anything. A rise while the service is reported down is the down rules' business.
//! - A `null` metric leaves its key untouched; so does a non-finite value.
//!
//! [`MetricThreshold::effective_hysteresis`]: super::thresholds::MetricThreshold::effective_hysteresis

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::state::{ActiveAlert, AlertState, RestartCount};
use super::text;
use super::thresholds::{
    CRASH_LOOP_RESTARTS, CRASH_LOOP_SECONDS, Cooldowns, DISK_COUNTERS_QUIET_SECONDS, MetricThreshold,
    NotificationSettings, RESTART_LOOP_RESTARTS, Thresholds,
};
use super::{AlertKey, AlertKind, AlertStatus, Severity};
use crate::heartbeat::HeartbeatRequest;
use crate::inventory::{TemperatureReading, temperature_readings};
use crate::status::{self, MachineType};
use crate::time::{self, Timestamp};

/// An expected service of a server (v1 `expected_services`), as far as alerting needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedService {
    pub service_name: String,
    /// Critical services alert at HIGH, others at MEDIUM.
    pub is_critical: bool,
    /// Disabled services raise nothing.
    pub enabled: bool,
    /// How long the service may be reported down before its alert opens; `None` uses the
    /// thresholds' `service_grace_seconds`.
    #[serde(default)]
    pub grace_seconds: Option<i64>,
}

/// What the engine needs to know about the server an observation belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerContext {
    pub server_id: String,
    /// What titles and notifications call the machine: its hostname, as in v1 (the store falls
    /// back to the display name only when there is no hostname).
    pub name: String,
    /// Workstations are expected to be off at times.
    pub machine_type: MachineType,
    /// Maintenance mode.
    pub is_paused: bool,
    /// Hub receive time of the last heartbeat; `None` if never heard from.
    #[serde(default, with = "time::rfc3339_option")]
    pub last_seen: Option<Timestamp>,
    #[serde(default)]
    pub expected_services: Vec<ExpectedService>,
    /// Names of the containers whose state alerts (watched by hand, or seen running while the
    /// machine's "watch all running containers" switch was on).
    #[serde(default)]
    pub watched_containers: Vec<String>,
    /// The machine this one sits behind, and those behind it; read for clock ticks only.
    #[serde(default)]
    pub topology: Topology,
}

/// Where a machine sits: behind a parent (its switch, router or hypervisor) and in front of
/// children. A parent's outage is one alert, not one per machine behind it (like Alertmanager's
/// inhibition and Zabbix's dependencies).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Topology {
    pub parent: Option<Parent>,
    /// Names of the machines behind this one that fell silent with it (last heard no later than
    /// one heartbeat interval after it), for its offline alert's message.
    #[serde(default)]
    pub unreachable_behind: Vec<String>,
}

/// The machine a server depends on, as its offline rule needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parent {
    #[serde(default, with = "time::rfc3339_option")]
    pub last_seen: Option<Timestamp>,
    /// When its latest offline alert resolved: the machines behind it get a heartbeat interval
    /// plus the timeout from then to report, as after the hub's own downtime.
    #[serde(default, with = "time::rfc3339_option")]
    pub back_at: Option<Timestamp>,
}

impl ServerContext {
    /// Workstations are expected to be switched off, so they never get offline alerts.
    pub fn is_workstation(&self) -> bool {
        self.machine_type.is_workstation()
    }
}

/// A service status as agents report it; anything unrecognised counts as `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceStatus {
    Running,
    Stopped,
    Failed,
    Unknown,
}

impl ServiceStatus {
    pub fn parse(text: &str) -> ServiceStatus {
        match text {
            "running" => ServiceStatus::Running,
            "stopped" => ServiceStatus::Stopped,
            "failed" => ServiceStatus::Failed,
            _ => ServiceStatus::Unknown,
        }
    }

    /// The agent's wording, as used in service alert titles.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceStatus::Running => "running",
            ServiceStatus::Stopped => "stopped",
            ServiceStatus::Failed => "failed",
            ServiceStatus::Unknown => "unknown",
        }
    }
}

/// The alert-relevant content of one heartbeat.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeartbeatSample {
    pub cpu_percent: Option<f64>,
    pub memory_percent: Option<f64>,
    /// Usage percent per mount point.
    pub disks: BTreeMap<String, f64>,
    /// `None` when the heartbeat carried no service list: then service alerts are left alone.
    pub services: Option<BTreeMap<String, ServiceStatus>>,
    /// systemd's restart counter per service, for the services whose report carried one.
    pub restarts: BTreeMap<String, i64>,
    /// Containers by name; `None` when the heartbeat carried no container list.
    pub containers: Option<BTreeMap<String, ContainerSeen>>,
    /// Every temperature reading: sensors, GPUs and disks.
    pub temperatures: Vec<TemperatureReading>,
    /// S.M.A.R.T. reports (only the disks the heartbeat listed).
    pub disks_health: Vec<DiskSeen>,
    /// Software RAID arrays: name → state (`clean`, `degraded`, `rebuilding`, `inactive`).
    pub raid_arrays: BTreeMap<String, String>,
    /// ZFS pools: name → health (`ONLINE`, `DEGRADED`, …).
    pub zfs_pools: BTreeMap<String, String>,
}

/// What container alerting needs of one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSeen {
    pub state: String,
    pub health: Option<String>,
    pub exit_code: Option<i64>,
    pub restart_count: Option<i64>,
}

impl ContainerSeen {
    /// What is wrong with it, if anything: `exited (code 137)`, `restarting`, `unhealthy`, …
    /// A paused container was paused on purpose and is not a problem.
    fn problem(&self) -> Option<String> {
        match self.state.as_str() {
            "running" if self.health.as_deref() == Some("unhealthy") => Some("unhealthy".to_owned()),
            "running" | "paused" => None,
            "exited" => Some(match self.exit_code {
                Some(code) => format!("exited (code {code})"),
                None => "exited".to_owned(),
            }),
            other => Some(other.to_owned()),
        }
    }
}

/// What disk-health alerting needs of one S.M.A.R.T. report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskSeen {
    pub device: String,
    pub passed: Option<bool>,
    /// The sum of the counters that only grow on a failing disk, when any was reported.
    pub failure_count: Option<i64>,
}

impl HeartbeatSample {
    /// Extracts what alerting needs. Disks come from `filesystems` (one entry per mount; the last
    /// wins on duplicates); a heartbeat without a (non-empty) filesystem list falls back to
    /// `metrics.disk_percent` as the mount `/`, so old agents keep their root-disk alert.
    pub fn from_request(heartbeat: &HeartbeatRequest) -> Self {
        let metrics = heartbeat.metrics.as_ref();
        let mut disks = BTreeMap::new();
        match heartbeat.filesystems.as_deref() {
            Some(filesystems) if !filesystems.is_empty() => {
                for fs in filesystems {
                    disks.insert(fs.mount_point.clone(), fs.percent);
                }
            }
            _ => {
                if let Some(percent) = metrics.and_then(|m| m.disk_percent) {
                    disks.insert("/".to_owned(), percent);
                }
            }
        }
        let services = heartbeat
            .services
            .as_ref()
            .map(|services| services.iter().map(|s| (s.name.clone(), ServiceStatus::parse(&s.status))).collect());
        let restarts = heartbeat
            .services
            .iter()
            .flatten()
            .filter_map(|s| s.restarts.map(|count| (s.name.clone(), count)))
            .collect();
        let containers = heartbeat.containers.as_ref().map(|containers| {
            containers
                .iter()
                .map(|c| {
                    let seen = ContainerSeen {
                        state: c.state.clone(),
                        health: c.health.clone(),
                        exit_code: c.exit_code,
                        restart_count: c.restart_count,
                    };
                    (c.name.clone(), seen)
                })
                .collect()
        });
        HeartbeatSample {
            cpu_percent: metrics.and_then(|m| m.cpu_percent),
            memory_percent: metrics.and_then(|m| m.memory_percent),
            disks,
            services,
            restarts,
            containers,
            temperatures: temperatures_of(heartbeat),
            disks_health: heartbeat
                .disk_health
                .iter()
                .flatten()
                .map(|d| DiskSeen {
                    device: d.device.clone(),
                    passed: d.passed,
                    failure_count: d
                        .failure_counters()
                        .iter()
                        .filter_map(|(_, count)| *count)
                        .reduce(|sum, count| sum.saturating_add(count)),
                })
                .collect(),
            raid_arrays: heartbeat.raid_arrays.iter().flatten().map(|r| (r.name.clone(), r.state.clone())).collect(),
            zfs_pools: heartbeat.zfs_pools.iter().flatten().map(|p| (p.name.clone(), p.health.clone())).collect(),
        }
    }
}

/// Every temperature a heartbeat reports, as the engine judges them ([`temperature_readings`]).
pub fn temperatures_of(heartbeat: &HeartbeatRequest) -> Vec<TemperatureReading> {
    temperature_readings(
        heartbeat.temperatures.as_deref().unwrap_or_default(),
        heartbeat.gpus.as_deref().unwrap_or_default(),
        heartbeat.disk_health.as_deref().unwrap_or_default(),
    )
}

/// One input to the engine. Every variant carries `now` (the hub clock), never read inside.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// A heartbeat arrived (with or without metrics); it also resolves an offline alert.
    Heartbeat { sample: HeartbeatSample, now: Timestamp },
    /// The offline job's periodic check of one server (uses `ServerContext::last_seen`).
    Tick { now: Timestamp },
    /// A person acknowledged the active alert of `key`. With `alert_id` set, only that alert.
    Acknowledge { key: AlertKey, alert_id: Option<i64>, now: Timestamp },
    /// A person resolved the active alert of `key`. With `alert_id` set, only that alert.
    Resolve { key: AlertKey, alert_id: Option<i64>, now: Timestamp },
}

impl Observation {
    /// The hub-clock instant the observation happened at.
    pub fn now(&self) -> Timestamp {
        match self {
            Observation::Heartbeat { now, .. }
            | Observation::Tick { now }
            | Observation::Acknowledge { now, .. }
            | Observation::Resolve { now, .. } => *now,
        }
    }
}

/// The configuration the engine applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rules {
    pub thresholds: Thresholds,
    pub cooldowns: Cooldowns,
    /// Since when the hub has been watching, after it was itself down ([`status::Silence`]).
    pub watching_since: Option<Timestamp>,
}

impl Rules {
    pub fn new(thresholds: &Thresholds, notifications: &NotificationSettings) -> Self {
        Rules { thresholds: *thresholds, cooldowns: notifications.cooldowns, watching_since: None }
    }

    /// How silence is judged under these rules.
    pub fn silence(&self) -> status::Silence {
        status::Silence::new(&self.thresholds, self.watching_since)
    }
}

/// What happened to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A new alert: insert an `alerts` row (status open) and set its id on the state.
    Opened,
    /// Severity rose (high → critical): update severity, title, message and values of the row.
    Escalated,
    /// Severity fell (critical → high) while still in breach: update the row likewise.
    DeEscalated,
    /// Still in breach after the cooldown: a notification only, the row keeps its texts.
    Reminder,
    /// The alert closed: status resolved, `resolved_at = at`, `auto_resolved = auto`.
    Resolved { auto: bool },
    /// A person acknowledged it: status acknowledged, `acknowledged_at = at`.
    Acknowledged,
    /// The observed value (or service status) changed while the alert stayed active: update the
    /// row's title and actual value. Never notified (`notify` is always false), so it never
    /// reaches the outbox.
    Updated,
}

impl EventKind {
    /// A stable name for an outbox column: `opened`, `escalated`, `de_escalated`, `reminder`,
    /// `resolved`, `acknowledged`, `updated`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Opened => "opened",
            EventKind::Escalated => "escalated",
            EventKind::DeEscalated => "de_escalated",
            EventKind::Reminder => "reminder",
            EventKind::Resolved { .. } => "resolved",
            EventKind::Acknowledged => "acknowledged",
            EventKind::Updated => "updated",
        }
    }
}

/// One change of one alert, with everything the `alerts` table and the notifier need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    pub kind: EventKind,
    pub key: AlertKey,
    /// The v1 `alert_type` (same as `key.kind`, repeated for readers of the serialised event).
    pub alert_type: AlertKind,
    /// The `alerts` row concerned; `None` for `Opened` (the store assigns it).
    pub alert_id: Option<i64>,
    pub server_id: String,
    pub server_name: String,
    /// The severity after the event (for a resolution: the severity the alert had).
    pub severity: Severity,
    /// The severity before an escalation or de-escalation.
    pub previous_severity: Option<Severity>,
    pub title: String,
    pub message: String,
    /// The level that was crossed (0 for offline, service and resolution events, as in v1).
    pub threshold_value: f64,
    /// The observed value (0 for offline and service alerts, as in v1).
    pub actual_value: f64,
    /// Resolutions: seconds since the breach began (for offline: since the server fell silent).
    pub duration_seconds: Option<i64>,
    #[serde(with = "time::rfc3339")]
    pub at: Timestamp,
    /// Whether this event should reach notification channels: false in maintenance and for
    /// acknowledgements and manual resolutions (v1 notified neither).
    pub notify: bool,
}

impl AlertEvent {
    /// v1's resolved-message duration: whole minutes, truncated.
    pub fn duration_minutes(&self) -> Option<i64> {
        self.duration_seconds.map(|seconds| seconds / 60)
    }
}

/// The result of one evaluation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    /// States that differ from the input, in key order: upsert each (or delete it when
    /// [`AlertState::is_idle`]). Unchanged states are not listed, so a healthy heartbeat writes nothing.
    pub states: Vec<AlertState>,
    /// Events in the order they happened; write them in the same transaction as `states`.
    pub events: Vec<AlertEvent>,
}

/// Applies one observation to the alert states of one server.
///
/// `states` are the server's stored states (any order; keys not present count as idle). The
/// function is total: it never panics, whatever the input.
pub fn evaluate(states: &[AlertState], server: &ServerContext, rules: &Rules, observation: &Observation) -> Evaluation {
    let before: BTreeMap<AlertKey, &AlertState> = states.iter().map(|s| (s.key.clone(), s)).collect();
    let mut run = Run {
        states: states.iter().map(|s| (s.key.clone(), s.clone())).collect(),
        ctx: Ctx { server, rules, now: observation.now() },
        events: Vec::new(),
    };
    match observation {
        Observation::Heartbeat { sample, .. } => run.heartbeat(sample),
        Observation::Tick { .. } => run.tick(),
        Observation::Acknowledge { key, alert_id, .. } => run.acknowledge(key, *alert_id),
        Observation::Resolve { key, alert_id, .. } => run.resolve_by_hand(key, *alert_id),
    }
    let states = run
        .states
        .into_values()
        .filter(|state| match before.get(&state.key) {
            Some(old) => *old != state,
            None => !state.is_idle(),
        })
        .collect();
    Evaluation { states, events: run.events }
}

#[derive(Clone, Copy)]
struct Ctx<'a> {
    server: &'a ServerContext,
    rules: &'a Rules,
    now: Timestamp,
}

/// Texts and values of one event.
struct Texts {
    title: String,
    message: String,
    threshold: f64,
    actual: f64,
}

impl Texts {
    /// An event about a state rather than a level (offline, services, containers, disks): no
    /// threshold and no value, 0 in both as in v1.
    fn plain(title: String, message: String) -> Self {
        Texts { title, message, threshold: 0.0, actual: 0.0 }
    }
}

impl Ctx<'_> {
    fn paused(&self) -> bool {
        self.server.is_paused
    }

    fn event(&self, kind: EventKind, state: &AlertState, severity: Severity, texts: Texts) -> AlertEvent {
        AlertEvent {
            kind,
            key: state.key.clone(),
            alert_type: state.key.kind,
            alert_id: state.active.as_ref().and_then(|active| active.alert_id),
            server_id: self.server.server_id.clone(),
            server_name: self.server.name.clone(),
            severity,
            previous_severity: None,
            title: texts.title,
            message: texts.message,
            threshold_value: texts.threshold,
            actual_value: texts.actual,
            duration_seconds: None,
            at: self.now,
            notify: !self.paused(),
        }
    }

    /// Whether at least `millis` have passed from `since` to now (false if the clock went back).
    fn reached(&self, since: Timestamp, millis: i64) -> bool {
        (self.now - since).num_milliseconds() >= millis
    }
}

struct Run<'a> {
    states: BTreeMap<AlertKey, AlertState>,
    ctx: Ctx<'a>,
    events: Vec<AlertEvent>,
}

/// The state of `key`, created idle if the server has none yet.
fn entry(states: &mut BTreeMap<AlertKey, AlertState>, key: AlertKey) -> &mut AlertState {
    states.entry(key.clone()).or_insert_with(|| AlertState::new(key))
}

impl Run<'_> {
    fn heartbeat(&mut self, sample: &HeartbeatSample) {
        self.metric(AlertKey::cpu(), sample.cpu_percent);
        self.metric(AlertKey::memory(), sample.memory_percent);
        for (mount, percent) in &sample.disks {
            self.metric(AlertKey::disk(mount.clone()), Some(*percent));
        }
        if let Some(services) = &sample.services {
            for (name, status) in services {
                self.service(name, *status);
                if let Some(count) = sample.restarts.get(name) {
                    self.crash_loop(name, *status, *count);
                }
            }
        }
        for reading in &sample.temperatures {
            let threshold = self.ctx.rules.thresholds.temperature.for_kind(&reading.kind);
            let key = AlertKey::temperature(reading.sensor.clone());
            evaluate_metric(entry(&mut self.states, key), &threshold, reading.celsius, &self.ctx, &mut self.events);
        }
        if let Some(containers) = &sample.containers {
            self.containers(containers);
        }
        for disk in &sample.disks_health {
            self.disk_health(disk);
        }
        for (name, state) in &sample.raid_arrays {
            let severity = match state.as_str() {
                "clean" => None,
                "rebuilding" => Some(Severity::High),
                _ => Some(Severity::Critical),
            };
            self.array(AlertKey::disk_health("md", name), "RAID array", name, state, severity);
        }
        for (name, health) in &sample.zfs_pools {
            let severity = (health != "ONLINE").then_some(Severity::Critical);
            self.array(AlertKey::disk_health("zfs", name), "ZFS pool", name, health, severity);
        }
        // Any heartbeat, with or without metrics, proves the server is back.
        let ctx = self.ctx;
        if let Some(state) = self.states.get_mut(&AlertKey::offline())
            && state.active.is_some()
        {
            let name = &ctx.server.name;
            let texts = Texts::plain(text::online_title(name), text::online_message(name));
            close(state, &ctx, &mut self.events, true, texts);
        }
    }

    fn metric(&mut self, key: AlertKey, value: Option<f64>) {
        let Some(value) = value.filter(|value| value.is_finite()) else { return };
        let Some(threshold) = self.ctx.rules.thresholds.metric(key.kind).copied() else { return };
        evaluate_metric(entry(&mut self.states, key), &threshold, value, &self.ctx, &mut self.events);
    }

    fn service(&mut self, name: &str, status: ServiceStatus) {
        let ctx = self.ctx;
        let server_name = ctx.server.name.as_str();
        let expected = ctx.server.expected_services.iter().find(|e| e.service_name == name);
        let monitored = expected.filter(|e| e.enabled);
        let events = &mut self.events;
        let state = entry(&mut self.states, AlertKey::service(name));
        match status {
            ServiceStatus::Running if state.active.is_some() => {
                let texts = Texts::plain(
                    text::service_running_title(name, server_name),
                    text::service_running_message(name, server_name),
                );
                close(state, &ctx, events, true, texts);
            }
            // Back before its grace period ran out: a restart, not an outage.
            ServiceStatus::Running => state.reset(),
            ServiceStatus::Stopped | ServiceStatus::Failed => {
                let Some(expected) = monitored else {
                    // Unconfigured or disabled: raise nothing, remind nothing.
                    return;
                };
                let status_text = status.as_str();
                let texts = |_: Severity| {
                    Texts::plain(
                        text::service_title(name, status_text, server_name),
                        text::service_message(name, server_name, status_text),
                    )
                };
                if state.active.is_some() {
                    let previous = state.service_status.replace(status_text.to_owned());
                    let events_before = events.len();
                    remind(state, &ctx, events, texts);
                    if events.len() == events_before && previous.as_deref() != Some(status_text) {
                        update(state, &ctx, events, texts(Severity::High));
                    }
                } else {
                    let since = *state.first_breach_at.get_or_insert(ctx.now);
                    state.service_status = Some(status_text.to_owned());
                    let grace = expected.grace_seconds.unwrap_or(ctx.rules.thresholds.service_grace_seconds);
                    if !ctx.paused() && ctx.reached(since, grace.max(0).saturating_mul(1000)) {
                        let severity = if expected.is_critical { Severity::High } else { Severity::Medium };
                        open(state, severity, &ctx, events, texts(severity));
                    }
                }
            }
            ServiceStatus::Unknown => {}
        }
    }

    /// Crash loops: see the rules at the top of this module.
    fn crash_loop(&mut self, name: &str, status: ServiceStatus, count: i64) {
        let ctx = self.ctx;
        let key = AlertKey::crash_loop(name);
        let expected = ctx.server.expected_services.iter().find(|e| e.service_name == name && e.enabled);
        if expected.is_none() && !self.states.contains_key(&key) {
            return;
        }
        let server_name = ctx.server.name.as_str();
        let minutes = CRASH_LOOP_SECONDS / 60;
        let rise = Rise {
            count,
            counting: status == ServiceStatus::Running,
            at_least: CRASH_LOOP_RESTARTS,
            window_seconds: CRASH_LOOP_SECONDS,
            severity: expected.map(|e| if e.is_critical { Severity::High } else { Severity::Medium }),
        };
        let texts = |increase: i64| {
            Texts::plain(
                text::crash_loop_title(name, server_name),
                text::crash_loop_message(name, server_name, increase, minutes),
            )
        };
        let over = || {
            Texts::plain(
                text::crash_loop_over_title(name, server_name),
                text::crash_loop_over_message(name, server_name, minutes),
            )
        };
        counter_rise(entry(&mut self.states, key), &rise, &ctx, &mut self.events, texts, over);
    }

    /// Watched containers: down, missing or unhealthy (after the service grace period, like a
    /// service), and restart loops. An alert on a container no longer watched is closed.
    fn containers(&mut self, seen: &BTreeMap<String, ContainerSeen>) {
        let ctx = self.ctx;
        let server_name = ctx.server.name.as_str();
        let watched = &ctx.server.watched_containers;
        let alerting: Vec<String> = self
            .states
            .values()
            .filter(|state| {
                state.key.kind == AlertKind::Container && state.key.container_name() == Some(&state.key.subject)
            })
            .map(|state| state.key.subject.clone())
            .collect();
        let mut names: Vec<&str> =
            watched.iter().map(String::as_str).chain(alerting.iter().map(String::as_str)).collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            let is_watched = watched.iter().any(|w| w == name);
            let container = seen.get(name);
            let problem = match container {
                Some(container) => container.problem(),
                None => Some("missing".to_owned()),
            };
            let events = &mut self.events;
            let state = entry(&mut self.states, AlertKey::container(name));
            match problem {
                _ if !is_watched => {
                    let texts = Texts::plain(
                        text::container_running_title(name, server_name),
                        text::container_unwatched_message(name, server_name),
                    );
                    close(state, &ctx, events, true, texts);
                }
                None if state.active.is_some() => {
                    let texts = Texts::plain(
                        text::container_running_title(name, server_name),
                        text::container_running_message(name, server_name),
                    );
                    close(state, &ctx, events, true, texts);
                }
                None => state.reset(),
                Some(problem) => {
                    let texts = |_: Severity| {
                        Texts::plain(
                            text::container_title(name, &problem, server_name),
                            text::container_message(name, server_name, &problem),
                        )
                    };
                    if state.active.is_some() {
                        let previous = state.service_status.replace(problem.clone());
                        let events_before = events.len();
                        remind(state, &ctx, events, texts);
                        if events.len() == events_before && previous.as_deref() != Some(problem.as_str()) {
                            update(state, &ctx, events, texts(Severity::High));
                        }
                    } else {
                        let since = *state.first_breach_at.get_or_insert(ctx.now);
                        state.service_status = Some(problem.clone());
                        let grace = ctx.rules.thresholds.service_grace_seconds;
                        if !ctx.paused() && ctx.reached(since, grace.max(0).saturating_mul(1000)) {
                            open(state, Severity::High, &ctx, events, texts(Severity::High));
                        }
                    }
                }
            }
        }
        for (name, container) in seen {
            let key = AlertKey::restart_loop(name);
            let is_watched = watched.iter().any(|w| w == name);
            let Some(count) = container.restart_count else { continue };
            if !is_watched && !self.states.contains_key(&key) {
                continue;
            }
            let minutes = CRASH_LOOP_SECONDS / 60;
            let rise = Rise {
                count,
                // Docker counts a restart when it happens; the container may be caught running,
                // restarting or exited between two, all of which are the loop.
                counting: true,
                at_least: RESTART_LOOP_RESTARTS,
                window_seconds: CRASH_LOOP_SECONDS,
                severity: is_watched.then_some(Severity::High),
            };
            let texts = |increase: i64| {
                Texts::plain(
                    text::restart_loop_title(name, server_name),
                    text::restart_loop_message(name, server_name, increase, minutes),
                )
            };
            let over = || {
                Texts::plain(
                    text::restart_loop_over_title(name, server_name),
                    text::restart_loop_over_message(name, server_name, minutes),
                )
            };
            counter_rise(entry(&mut self.states, key), &rise, &ctx, &mut self.events, texts, over);
        }
    }

    /// A disk's S.M.A.R.T. verdict (FAILED is critical at once) and its failure counters (any
    /// rise is high; resolved after a quiet day).
    fn disk_health(&mut self, disk: &DiskSeen) {
        let ctx = self.ctx;
        let server_name = ctx.server.name.as_str();
        let device = disk.device.as_str();
        if let Some(passed) = disk.passed {
            let failing = (!passed).then(|| {
                Texts::plain(
                    text::smart_failed_title(device, server_name),
                    text::smart_failed_message(device, server_name),
                )
            });
            let passing = Texts::plain(
                text::smart_passed_title(device, server_name),
                text::smart_passed_message(device, server_name),
            );
            let severity = failing.map(|texts| (Severity::Critical, texts));
            condition(
                entry(&mut self.states, AlertKey::disk_health("smart", device)),
                severity,
                passing,
                &ctx,
                &mut self.events,
            );
        }
        if let Some(count) = disk.failure_count {
            let hours = DISK_COUNTERS_QUIET_SECONDS / 3600;
            let rise = Rise {
                count,
                counting: true,
                at_least: 1,
                window_seconds: DISK_COUNTERS_QUIET_SECONDS,
                severity: Some(Severity::High),
            };
            let texts = |increase: i64| Texts {
                title: text::sectors_title(device, server_name),
                message: text::sectors_message(device, server_name, increase, hours),
                threshold: 0.0,
                actual: count as f64,
            };
            let over = || Texts {
                title: text::sectors_quiet_title(device, server_name),
                message: text::sectors_quiet_message(device, server_name, hours),
                threshold: 0.0,
                actual: count as f64,
            };
            let key = AlertKey::disk_health("sectors", device);
            counter_rise(entry(&mut self.states, key), &rise, &ctx, &mut self.events, texts, over);
        }
    }

    /// A RAID array or ZFS pool: `severity` is `None` when it is healthy.
    fn array(&mut self, key: AlertKey, what: &str, name: &str, state_text: &str, severity: Option<Severity>) {
        let ctx = self.ctx;
        let server_name = ctx.server.name.as_str();
        let problem = severity.map(|severity| {
            let texts = Texts::plain(
                text::array_title(what, name, state_text, server_name),
                text::array_message(what, name, state_text, server_name),
            );
            (severity, texts)
        });
        let healthy = Texts::plain(
            text::array_title(what, name, state_text, server_name),
            text::array_healthy_message(what, name, state_text, server_name),
        );
        condition(entry(&mut self.states, key), problem, healthy, &ctx, &mut self.events);
    }

    fn tick(&mut self) {
        let ctx = self.ctx;
        let server = ctx.server;
        let name = server.name.as_str();
        let parent = server.topology.parent.as_ref();
        // The same rule as the status every view shows; behind a parent that came back, the
        // machine gets the same grace as after the hub's own downtime.
        let mut silence = ctx.rules.silence();
        if let Some(back_at) = parent.and_then(|parent| parent.back_at) {
            silence.watching_since = Some(silence.watching_since.map_or(back_at, |since| since.max(back_at)));
        }
        let silent_since = server.last_seen.filter(|seen| silence.is_silent(*seen, ctx.now));
        // A parent that missed a heartbeat may be why this machine is silent: its verdict decides.
        let behind_silent_parent = parent.is_some_and(|parent| {
            parent
                .last_seen
                .is_some_and(|seen| (ctx.now - seen).num_seconds() > crate::status::HEARTBEAT_INTERVAL_SECONDS)
        });
        let events = &mut self.events;
        let state = entry(&mut self.states, AlertKey::offline());
        let unreachable = &server.topology.unreachable_behind;
        let offline_texts = |_: Severity| {
            Texts::plain(text::offline_title(name), text::offline_message_with_unreachable(name, unreachable))
        };
        if state.active.is_none() {
            if let Some(seen) = silent_since
                && !server.is_workstation()
                && !ctx.paused()
                && !behind_silent_parent
            {
                state.first_breach_at = Some(seen);
                open(state, Severity::Critical, &ctx, events, offline_texts(Severity::Critical));
            }
        } else if server.is_workstation() {
            let texts = Texts::plain(text::online_title(name), text::now_workstation_message(name));
            close(state, &ctx, events, true, texts);
        } else if server.last_seen.is_some() && silent_since.is_none() {
            // A heartbeat arrived that was not evaluated (it normally resolves the alert itself).
            let texts = Texts::plain(text::online_title(name), text::online_message(name));
            close(state, &ctx, events, true, texts);
        } else {
            remind(state, &ctx, events, offline_texts);
        }
    }

    fn acknowledge(&mut self, key: &AlertKey, alert_id: Option<i64>) {
        let ctx = self.ctx;
        let Some(state) = self.states.get_mut(key) else { return };
        let Some(active) = state.active.as_mut() else { return };
        if !ids_match(active.alert_id, alert_id) || active.status != AlertStatus::Open {
            return;
        }
        active.status = AlertStatus::Acknowledged;
        active.acknowledged_at = Some(ctx.now);
        let severity = active.severity;
        let texts = Texts {
            title: text::acknowledged_title(&ctx.server.name, key),
            message: text::acknowledged_message(),
            threshold: metric_level(&ctx, key, severity),
            actual: state.current_value.unwrap_or(0.0),
        };
        let event = AlertEvent { notify: false, ..ctx.event(EventKind::Acknowledged, state, severity, texts) };
        self.events.push(event);
    }

    fn resolve_by_hand(&mut self, key: &AlertKey, alert_id: Option<i64>) {
        let ctx = self.ctx;
        let Some(state) = self.states.get_mut(key) else { return };
        let Some(active) = state.active.as_ref() else { return };
        if !ids_match(active.alert_id, alert_id) {
            return;
        }
        let texts = Texts {
            title: text::manually_resolved_title(&ctx.server.name, key),
            message: text::manually_resolved_message(),
            threshold: 0.0,
            actual: state.current_value.unwrap_or(0.0),
        };
        close(state, &ctx, &mut self.events, false, texts);
    }
}

/// A counter that should not climb: a service's or container's restarts, a disk's bad sectors.
struct Rise {
    count: i64,
    /// Whether this report's rise counts; a rise that does not starts a new baseline.
    counting: bool,
    /// The rise within the window that opens the alert.
    at_least: i64,
    /// The window; the alert resolves once the counter has not risen for as long.
    window_seconds: i64,
    /// The severity to open at; `None` when the subject is not monitored (an open alert still
    /// resolves).
    severity: Option<Severity>,
}

/// The counter rule shared by crash loops, restart loops and failing disks. The key's state
/// keeps the counter's changes (the first report is the baseline, a lower count after a reboot
/// a new one), so only a change writes anything.
fn counter_rise(
    state: &mut AlertState,
    rise: &Rise,
    ctx: &Ctx<'_>,
    events: &mut Vec<AlertEvent>,
    texts: impl Fn(i64) -> Texts,
    over: impl FnOnce() -> Texts,
) {
    let window = rise.window_seconds.saturating_mul(1000);
    let now = RestartCount { at: ctx.now, count: rise.count };
    match state.restarts.last().copied() {
        None => state.restarts.push(now),
        Some(last) if rise.count < last.count || (rise.count > last.count && !rise.counting) => {
            state.restarts = vec![now];
        }
        Some(last) if rise.count > last.count => state.restarts.push(now),
        Some(_) => {}
    }
    if let Some(baseline) = state.restarts.iter().rposition(|r| ctx.reached(r.at, window)) {
        state.restarts.drain(..baseline);
    }
    let (Some(first), Some(newest)) = (state.restarts.first().copied(), state.restarts.last().copied()) else {
        return;
    };
    let increase = newest.count - first.count;
    if state.active.is_some() {
        if ctx.reached(newest.at, window) {
            close(state, ctx, events, true, over());
        } else {
            remind(state, ctx, events, |_| texts(increase));
        }
    } else if let Some(severity) = rise.severity
        && increase >= rise.at_least
        && rise.counting
        && !ctx.paused()
    {
        state.first_breach_at = state.restarts.get(1).map(|r| r.at);
        open(state, severity, ctx, events, texts(increase));
    }
}

/// A condition that is either fine or a problem of some severity, with no timer: opens at once,
/// follows the severity both ways (notified), reminds, and resolves when fine.
fn condition(
    state: &mut AlertState,
    problem: Option<(Severity, Texts)>,
    fine: Texts,
    ctx: &Ctx<'_>,
    events: &mut Vec<AlertEvent>,
) {
    let current = state.active.as_ref().map(|active| active.severity);
    match (problem, current) {
        (None, Some(_)) => close(state, ctx, events, true, fine),
        (None, None) => {}
        (Some((severity, texts)), None) => {
            if !ctx.paused() {
                state.first_breach_at = Some(ctx.now);
                open(state, severity, ctx, events, texts);
            }
        }
        (Some((severity, texts)), Some(current)) if severity != current => {
            let kind = if severity > current { EventKind::Escalated } else { EventKind::DeEscalated };
            change_severity(state, severity, kind, ctx, events, texts);
        }
        (Some((_, texts)), Some(_)) => remind(state, ctx, events, |_| texts),
    }
}

fn ids_match(active: Option<i64>, requested: Option<i64>) -> bool {
    match (active, requested) {
        (Some(active), Some(requested)) => active == requested,
        _ => true,
    }
}

/// The threshold an alert of `severity` on `key` stands for (0 for non-metric keys).
fn metric_level(ctx: &Ctx<'_>, key: &AlertKey, severity: Severity) -> f64 {
    ctx.rules.thresholds.metric(key.kind).map_or(0.0, |threshold| threshold.level(severity))
}

fn evaluate_metric(
    state: &mut AlertState,
    threshold: &MetricThreshold,
    value: f64,
    ctx: &Ctx<'_>,
    events: &mut Vec<AlertEvent>,
) {
    let target = if value >= threshold.critical_percent as f64 {
        Some(Severity::Critical)
    } else if value >= threshold.high_percent as f64 {
        Some(Severity::High)
    } else {
        None
    };
    let name = ctx.server.name.as_str();
    let key = state.key.clone();
    let texts = |severity: Severity| Texts {
        title: text::metric_title(name, &key, severity, value),
        message: text::metric_message(name, &key, severity, value, threshold.level(severity)),
        threshold: threshold.level(severity),
        actual: value,
    };

    let Some(current) = state.active.as_ref().map(|active| active.severity) else {
        let Some(severity) = target else {
            // Below the high level with no alert: any running breach timer starts over.
            state.reset();
            return;
        };
        let since = *state.first_breach_at.get_or_insert(ctx.now);
        state.current_value = Some(value);
        if !ctx.paused() && ctx.reached(since, threshold.sustained_seconds.saturating_mul(1000)) {
            open(state, severity, ctx, events, texts(severity));
        }
        return;
    };

    let previous_value = state.current_value.replace(value);
    let high = threshold.high_percent as f64;
    let cleared = if threshold.resolves_at_once(value) {
        true
    } else if value < high {
        let since = *state.below_high_since.get_or_insert(ctx.now);
        ctx.reached(since, threshold.clear_seconds.saturating_mul(1000))
    } else {
        state.below_high_since = None;
        false
    };
    if cleared {
        let texts = Texts {
            title: text::metric_resolved_title(name, &key, value),
            message: text::metric_resolved_message(name, &key, value),
            threshold: 0.0,
            actual: value,
        };
        close(state, ctx, events, true, texts);
        return;
    }
    let events_before = events.len();
    if target == Some(Severity::Critical) && current < Severity::Critical {
        let texts = Texts {
            message: text::escalation_message(&key, value, threshold.level(Severity::Critical)),
            ..texts(Severity::Critical)
        };
        change_severity(state, Severity::Critical, EventKind::Escalated, ctx, events, texts);
    } else if current == Severity::Critical && value < threshold.de_escalate_below() {
        let texts = Texts {
            message: text::de_escalation_message(name, &key, value, threshold.level(Severity::Critical)),
            ..texts(Severity::High)
        };
        change_severity(state, Severity::High, EventKind::DeEscalated, ctx, events, texts);
    } else {
        remind(state, ctx, events, texts);
    }
    if events.len() == events_before && previous_value != Some(value) {
        update(state, ctx, events, texts(current));
    }
}

/// Tells the store the active alert's observed value changed (see [`EventKind::Updated`]).
fn update(state: &AlertState, ctx: &Ctx<'_>, events: &mut Vec<AlertEvent>, texts: Texts) {
    let Some(active) = state.active.as_ref() else { return };
    let event = ctx.event(EventKind::Updated, state, active.severity, texts);
    events.push(AlertEvent { notify: false, ..event });
}

/// Opens the key's alert. Callers have checked maintenance: an opening always notifies.
fn open(state: &mut AlertState, severity: Severity, ctx: &Ctx<'_>, events: &mut Vec<AlertEvent>, texts: Texts) {
    state.active = Some(ActiveAlert {
        alert_id: None,
        severity,
        status: AlertStatus::Open,
        opened_at: ctx.now,
        last_notified_at: ctx.now,
        acknowledged_at: None,
    });
    events.push(ctx.event(EventKind::Opened, state, severity, texts));
}

fn change_severity(
    state: &mut AlertState,
    severity: Severity,
    kind: EventKind,
    ctx: &Ctx<'_>,
    events: &mut Vec<AlertEvent>,
    texts: Texts,
) {
    let Some(active) = state.active.as_mut() else { return };
    let previous = active.severity;
    active.severity = severity;
    if !ctx.paused() {
        active.last_notified_at = ctx.now;
    }
    events.push(AlertEvent { previous_severity: Some(previous), ..ctx.event(kind, state, severity, texts) });
}

/// Emits a reminder if the alert is open (not acknowledged), not in maintenance, and its cooldown
/// has fully elapsed since the last notification.
fn remind(state: &mut AlertState, ctx: &Ctx<'_>, events: &mut Vec<AlertEvent>, texts: impl FnOnce(Severity) -> Texts) {
    let Some(active) = state.active.as_mut() else { return };
    let cooldown = ctx.rules.cooldowns.millis_for(active.severity);
    if active.status != AlertStatus::Open || ctx.paused() || !ctx.reached(active.last_notified_at, cooldown) {
        return;
    }
    active.last_notified_at = ctx.now;
    let severity = active.severity;
    events.push(ctx.event(EventKind::Reminder, state, severity, texts(severity)));
}

/// Resolves the key's active alert and returns the key to idle.
fn close(state: &mut AlertState, ctx: &Ctx<'_>, events: &mut Vec<AlertEvent>, auto: bool, texts: Texts) {
    let Some(active) = state.active.as_ref() else { return };
    let severity = active.severity;
    let duration_seconds = state.first_breach_at.map(|since| (ctx.now - since).num_seconds().max(0));
    let event = ctx.event(EventKind::Resolved { auto }, state, severity, texts);
    events.push(AlertEvent { duration_seconds, notify: event.notify && auto, ..event });
    state.reset();
}
