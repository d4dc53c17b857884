//! Exact tests of every engine rule, driven by a manual clock.

use std::collections::BTreeMap;

use chrono::Duration;
use serde_json::json;

use super::thresholds::MetricThreshold;
use super::*;
use crate::heartbeat::HeartbeatRequest;
use crate::time::{self, Timestamp};

pub(super) fn t0() -> Timestamp {
    time::parse("2026-01-19T12:00:00Z").unwrap()
}

pub(super) fn secs(n: i64) -> Duration {
    Duration::seconds(n)
}

pub(super) fn mins(n: i64) -> Duration {
    Duration::minutes(n)
}

fn millis(n: i64) -> Duration {
    Duration::milliseconds(n)
}

/// Plays the store's part: keeps the states, deletes idle ones, and numbers new alerts.
pub(super) struct Hub {
    pub(super) clock: ManualClock,
    pub(super) states: BTreeMap<AlertKey, AlertState>,
    pub(super) server: ServerContext,
    pub(super) rules: Rules,
    next_id: i64,
    /// `Updated` events, kept apart so that the other tests read only what notifies or changes
    /// an alert's lifecycle.
    pub(super) updates: Vec<AlertEvent>,
}

impl Hub {
    pub(super) fn new() -> Self {
        Hub {
            clock: ManualClock::new(t0()),
            states: BTreeMap::new(),
            server: ServerContext {
                server_id: "nas".into(),
                name: "nas.local".into(),
                machine_type: crate::status::MachineType::Server,
                is_paused: false,
                last_seen: None,
                expected_services: vec![
                    ExpectedService {
                        service_name: "plex".into(),
                        is_critical: true,
                        enabled: true,
                        grace_seconds: None,
                    },
                    ExpectedService {
                        service_name: "sql".into(),
                        is_critical: false,
                        enabled: true,
                        grace_seconds: None,
                    },
                    ExpectedService {
                        service_name: "backup".into(),
                        is_critical: true,
                        enabled: false,
                        grace_seconds: None,
                    },
                ],
                watched_containers: Vec::new(),
                topology: Default::default(),
            },
            rules: Rules::default(),
            next_id: 1,
            updates: Vec::new(),
        }
    }

    pub(super) fn advance(&self, step: Duration) {
        self.clock.advance(step);
    }

    fn observe(&mut self, observation: Observation) -> Vec<AlertEvent> {
        let states: Vec<AlertState> = self.states.values().cloned().collect();
        let evaluation = evaluate(&states, &self.server, &self.rules, &observation);
        for state in evaluation.states {
            if state.is_idle() {
                self.states.remove(&state.key);
            } else {
                self.states.insert(state.key.clone(), state);
            }
        }
        let mut events = evaluation.events;
        for event in &mut events {
            if event.kind == EventKind::Opened {
                assert_eq!(event.alert_id, None);
                event.alert_id = Some(self.next_id);
                if let Some(state) = self.states.get_mut(&event.key) {
                    state.set_alert_id(self.next_id);
                }
                self.next_id += 1;
            }
        }
        let (updates, events): (Vec<_>, Vec<_>) = events.into_iter().partition(|e| e.kind == EventKind::Updated);
        self.updates.extend(updates);
        events
    }

    /// A heartbeat as the hub records it: `last_seen` moves to now.
    pub(super) fn heartbeat(&mut self, sample: HeartbeatSample) -> Vec<AlertEvent> {
        let now = self.clock.now();
        self.server.last_seen = Some(now);
        self.observe(Observation::Heartbeat { sample, now })
    }

    fn cpu(&mut self, value: f64) -> Vec<AlertEvent> {
        self.heartbeat(HeartbeatSample { cpu_percent: Some(value), ..Default::default() })
    }

    fn disk(&mut self, mount: &str, value: f64) -> Vec<AlertEvent> {
        self.heartbeat(HeartbeatSample { disks: [(mount.to_owned(), value)].into(), ..Default::default() })
    }

    fn services(&mut self, reports: &[(&str, &str)]) -> Vec<AlertEvent> {
        let services = reports.iter().map(|(name, status)| (name.to_string(), ServiceStatus::parse(status))).collect();
        self.heartbeat(HeartbeatSample { services: Some(services), ..Default::default() })
    }

    fn tick(&mut self) -> Vec<AlertEvent> {
        let now = self.clock.now();
        self.observe(Observation::Tick { now })
    }

    fn ack(&mut self, key: AlertKey) -> Vec<AlertEvent> {
        let now = self.clock.now();
        self.observe(Observation::Acknowledge { key, alert_id: None, now })
    }

    fn resolve(&mut self, key: AlertKey) -> Vec<AlertEvent> {
        let now = self.clock.now();
        self.observe(Observation::Resolve { key, alert_id: None, now })
    }

    pub(super) fn active(&self, key: &AlertKey) -> Option<&ActiveAlert> {
        self.states.get(key).and_then(|state| state.active.as_ref())
    }
}

pub(super) fn kinds(events: &[AlertEvent]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind).collect()
}

pub(super) fn only(events: Vec<AlertEvent>) -> AlertEvent {
    assert_eq!(events.len(), 1, "expected exactly one event, got {events:#?}");
    events.into_iter().next().unwrap()
}

// ---- 1. Sustained window -------------------------------------------------------------------

#[test]
fn a_breach_shorter_than_the_sustained_window_fires_nothing_and_resets() {
    let mut hub = Hub::new();
    assert!(hub.cpu(90.0).is_empty());
    hub.advance(secs(120));
    assert!(hub.cpu(92.0).is_empty());
    assert_eq!(hub.states[&AlertKey::cpu()].first_breach_at, Some(t0()));
    // Dips below high before 180 s: the timer resets and the state is idle (deleted).
    hub.advance(secs(59));
    assert!(hub.cpu(70.0).is_empty());
    assert!(!hub.states.contains_key(&AlertKey::cpu()));
    // A new breach starts a new window.
    hub.advance(secs(1));
    let restart = hub.clock.now();
    assert!(hub.cpu(90.0).is_empty());
    assert_eq!(hub.states[&AlertKey::cpu()].first_breach_at, Some(restart));
    hub.advance(secs(179));
    assert!(hub.cpu(90.0).is_empty());
    hub.advance(secs(1));
    assert_eq!(kinds(&hub.cpu(90.0)), [EventKind::Opened]);
}

#[test]
fn the_alert_opens_exactly_when_the_sustained_window_is_met() {
    let mut hub = Hub::new();
    assert!(hub.cpu(90.0).is_empty());
    hub.advance(millis(179_999));
    assert!(hub.cpu(90.0).is_empty(), "1 ms before the window: nothing");
    hub.advance(millis(1));
    let event = only(hub.cpu(90.4));
    assert_eq!(event.kind, EventKind::Opened);
    assert_eq!(event.key, AlertKey::cpu());
    assert_eq!(event.alert_type, AlertKind::Cpu);
    assert_eq!(event.severity, Severity::High);
    assert_eq!(event.title, "High CPU usage on nas.local (90%)");
    assert_eq!(event.message, "CPU usage on nas.local reached 90.4%, exceeding the high threshold of 85%.");
    assert_eq!(event.threshold_value, 85.0);
    assert_eq!(event.actual_value, 90.4);
    assert_eq!(event.server_id, "nas");
    assert_eq!(event.at, t0() + secs(180));
    assert!(event.notify);
    let active = hub.active(&AlertKey::cpu()).unwrap();
    assert_eq!((active.status, active.alert_id, active.opened_at), (AlertStatus::Open, Some(1), t0() + secs(180)));
}

#[test]
fn a_zero_sustained_window_fires_on_the_first_breach() {
    let mut hub = Hub::new();
    let event = only(hub.disk("/", 85.0));
    assert_eq!(event.kind, EventKind::Opened);
    assert_eq!(event.title, "High DISK usage on nas.local (85%)");
    assert_eq!(event.message, "DISK usage on nas.local reached 85.0%, exceeding the high threshold of 80%.");
    assert_eq!(event.key.key_string(), "disk:/");
}

// ---- 2. One alert per key --------------------------------------------------------------------

#[test]
fn repeated_breaches_never_open_a_second_alert() {
    let mut hub = Hub::new();
    assert_eq!(kinds(&hub.disk("/srv", 85.0)), [EventKind::Opened]);
    for _ in 0..100 {
        hub.advance(secs(60));
        assert!(hub.disk("/srv", 88.0).is_empty());
    }
    assert_eq!(hub.states.len(), 1);
    assert_eq!(hub.states[&AlertKey::disk("/srv")].current_value, Some(88.0));
}

#[test]
fn a_breach_already_critical_when_sustained_opens_critical() {
    let mut hub = Hub::new();
    hub.cpu(90.0);
    hub.advance(secs(180));
    let event = only(hub.cpu(97.0));
    assert_eq!((event.kind, event.severity), (EventKind::Opened, Severity::Critical));
    assert_eq!(event.title, "Critical CPU usage on nas.local (97%)");
    assert_eq!(event.message, "CPU usage on nas.local reached 97.0%, exceeding the critical threshold of 95%.");
    assert_eq!(event.threshold_value, 95.0);
}

// ---- 3. Escalation and de-escalation ---------------------------------------------------------

fn hub_with_open_cpu_alert() -> Hub {
    let mut hub = Hub::new();
    hub.cpu(90.0);
    hub.advance(secs(180));
    assert_eq!(kinds(&hub.cpu(90.0)), [EventKind::Opened]);
    hub
}

#[test]
fn an_open_alert_escalates_immediately_and_once() {
    let mut hub = hub_with_open_cpu_alert();
    hub.advance(secs(60));
    let event = only(hub.cpu(96.0));
    assert_eq!(event.kind, EventKind::Escalated);
    assert_eq!((event.severity, event.previous_severity), (Severity::Critical, Some(Severity::High)));
    assert_eq!(event.alert_id, Some(1));
    assert_eq!(event.title, "Critical CPU usage on nas.local (96%)");
    assert_eq!(event.message, "CPU usage escalated to critical at 96.0%, exceeding the critical threshold of 95%.");
    assert_eq!((event.threshold_value, event.actual_value), (95.0, 96.0));
    assert!(event.notify);
    assert_eq!(hub.active(&AlertKey::cpu()).unwrap().last_notified_at, hub.clock.now());
    hub.advance(secs(60));
    assert!(hub.cpu(99.0).is_empty());
}

#[test]
fn critical_de_escalates_only_below_critical_minus_hysteresis() {
    let mut hub = hub_with_open_cpu_alert();
    hub.advance(secs(60));
    hub.cpu(96.0);
    hub.advance(secs(60));
    assert!(hub.cpu(90.0).is_empty(), "90 is not below 95 - 5");
    hub.advance(secs(60));
    let event = only(hub.cpu(89.9));
    assert_eq!(event.kind, EventKind::DeEscalated);
    assert_eq!((event.severity, event.previous_severity), (Severity::High, Some(Severity::Critical)));
    assert_eq!(event.title, "High CPU usage on nas.local (90%)");
    assert_eq!(
        event.message,
        "CPU usage on nas.local fell to 89.9%, below the critical threshold of 95%; severity lowered to high."
    );
    assert_eq!(event.threshold_value, 85.0);
    hub.advance(secs(60));
    assert!(hub.cpu(86.0).is_empty());
    hub.advance(secs(60));
    assert_eq!(kinds(&hub.cpu(95.0)), [EventKind::Escalated]);
}

// ---- 4. Hysteresis and auto-resolve ----------------------------------------------------------

#[test]
fn a_clear_drop_below_high_minus_hysteresis_resolves_on_that_heartbeat() {
    let mut hub = hub_with_open_cpu_alert();
    hub.advance(secs(60));
    assert!(hub.cpu(84.0).is_empty(), "below high but inside the margin");
    hub.advance(secs(60));
    let event = only(hub.cpu(80.0));
    assert_eq!(event.kind, EventKind::Resolved { auto: true }, "exactly at high - hysteresis is a clear drop");
    assert_eq!(event.alert_id, Some(1));
    assert_eq!(event.severity, Severity::High);
    // The breach began at t0; now is t0 + 180 + 120 s.
    assert_eq!(event.duration_seconds, Some(300));
    assert_eq!(event.duration_minutes(), Some(5));
    assert_eq!(event.title, "Resolved: CPU usage on nas.local (80%)");
    assert_eq!(event.actual_value, 80.0);
    assert!(event.notify);
    assert!(hub.states.is_empty(), "a resolved key is idle");
}

#[test]
fn disk_85_then_75_with_high_80_resolves_at_once_as_v1() {
    let mut hub = Hub::new();
    assert_eq!(kinds(&hub.disk("/", 85.0)), [EventKind::Opened]);
    hub.advance(secs(60));
    let event = only(hub.disk("/", 75.0));
    assert_eq!(event.kind, EventKind::Resolved { auto: true });
    assert_eq!(event.title, "Resolved: DISK usage on nas.local (75%)");
}

#[test]
fn a_value_within_the_margin_resolves_once_below_high_for_the_clear_period() {
    let mut hub = Hub::new();
    assert_eq!(kinds(&hub.disk("/", 90.0)), [EventKind::Opened]);
    hub.advance(secs(60));
    assert!(hub.disk("/", 78.0).is_empty(), "78 with high 80 is inside the margin");
    hub.advance(secs(60));
    assert!(hub.disk("/", 78.0).is_empty(), "60 s below high: the clear period (120 s) is not over");
    hub.advance(millis(59_999));
    assert!(hub.disk("/", 78.0).is_empty(), "one millisecond short");
    hub.advance(millis(1));
    let event = only(hub.disk("/", 78.0));
    assert_eq!(event.kind, EventKind::Resolved { auto: true });
    assert_eq!(event.title, "Resolved: DISK usage on nas.local (78%)");
    assert_eq!(event.duration_seconds, Some(180));
    assert!(hub.states.is_empty());
}

#[test]
fn a_value_back_at_high_restarts_the_clear_period() {
    let mut hub = Hub::new();
    hub.disk("/", 90.0);
    hub.advance(secs(60));
    assert!(hub.disk("/", 78.0).is_empty());
    hub.advance(secs(60));
    assert!(hub.disk("/", 80.0).is_empty(), "at high: breaching again");
    assert_eq!(hub.states[&AlertKey::disk("/")].below_high_since, None);
    hub.advance(secs(60));
    assert!(hub.disk("/", 79.0).is_empty(), "the clear period starts over here");
    hub.advance(secs(119));
    assert!(hub.disk("/", 79.0).is_empty());
    hub.advance(secs(1));
    assert_eq!(kinds(&hub.disk("/", 79.0)), [EventKind::Resolved { auto: true }]);
}

#[test]
fn a_value_crossing_the_level_at_every_heartbeat_stays_one_alert() {
    let mut hub = Hub::new();
    let mut opened = 0;
    let mut resolved = 0;
    for i in 0..60 {
        let value = if i % 2 == 0 { 81.0 } else { 78.5 };
        for event in hub.disk("/", value) {
            match event.kind {
                EventKind::Opened => opened += 1,
                EventKind::Resolved { .. } => resolved += 1,
                _ => {}
            }
        }
        hub.advance(secs(60));
    }
    assert_eq!((opened, resolved), (1, 0), "one alert for an hour of flapping");
    // Once it settles inside the margin (the last report, 60 s ago, was already 78.5), it
    // resolves when it has been below high for the clear period.
    assert!(hub.disk("/", 78.5).is_empty());
    hub.advance(secs(60));
    assert_eq!(kinds(&hub.disk("/", 78.5)), [EventKind::Resolved { auto: true }]);
}

#[test]
fn a_zero_clear_period_resolves_on_the_first_heartbeat_below_high_as_v1() {
    let mut hub = Hub::new();
    hub.rules.thresholds.disk.clear_seconds = 0;
    hub.disk("/", 90.0);
    hub.advance(secs(60));
    assert!(hub.disk("/", 80.0).is_empty(), "at high is still a breach");
    hub.advance(secs(60));
    assert_eq!(kinds(&hub.disk("/", 79.9)), [EventKind::Resolved { auto: true }]);
}

#[test]
fn a_critical_alert_within_the_margin_de_escalates_then_resolves_after_the_clear_period() {
    let mut hub = Hub::new();
    hub.disk("/", 97.0);
    hub.advance(secs(60));
    assert_eq!(kinds(&hub.disk("/", 78.0)), [EventKind::DeEscalated]);
    hub.advance(secs(120));
    assert_eq!(kinds(&hub.disk("/", 78.0)), [EventKind::Resolved { auto: true }]);
}

#[test]
fn the_alert_title_and_value_follow_the_last_observation_without_notifying() {
    let mut hub = Hub::new();
    let opened = only(hub.disk("/", 90.0));
    assert_eq!(opened.title, "High DISK usage on nas.local (90%)");
    hub.advance(secs(60));
    assert!(hub.disk("/", 78.0).is_empty());
    let update = hub.updates.pop().expect("an update for the new value");
    assert_eq!(update.kind, EventKind::Updated);
    assert_eq!(update.alert_id, Some(1));
    assert_eq!(update.title, "High DISK usage on nas.local (78%)");
    assert_eq!(update.actual_value, 78.0);
    assert!(!update.notify, "an update never notifies");
    hub.advance(secs(30));
    hub.disk("/", 78.0);
    assert!(hub.updates.is_empty(), "an unchanged value writes nothing");
    hub.advance(secs(30));
    hub.disk("/", 96.0);
    assert!(hub.updates.is_empty(), "the escalation itself carries the new title");

    // A service's changed status is an update too.
    hub.services(&[("plex", "stopped")]);
    hub.advance(secs(60));
    assert!(hub.services(&[("plex", "failed")]).is_empty());
    let update = hub.updates.pop().expect("an update for the new status");
    assert_eq!(update.title, "Service plex is failed on nas.local");
    assert!(!update.notify);
}

#[test]
fn the_hysteresis_margin_is_configurable_and_never_above_half_the_high_level() {
    let mut hub = Hub::new();
    hub.rules.thresholds.disk.hysteresis_percent = 0;
    hub.disk("/", 80.0);
    assert_eq!(kinds(&hub.disk("/", 79.9)), [EventKind::Resolved { auto: true }]);

    let threshold = MetricThreshold { hysteresis_percent: 5, ..MetricThreshold::new(4, 10, 0) };
    assert_eq!(threshold.resolve_at_once_at(), 2.0);
    hub.rules.thresholds.disk = threshold;
    hub.disk("/", 5.0);
    assert!(hub.disk("/", 2.1).is_empty());
    assert_eq!(kinds(&hub.disk("/", 2.0)), [EventKind::Resolved { auto: true }]);
}

// ---- 5. Reminders ------------------------------------------------------------------------------

#[test]
fn a_high_alert_is_reminded_exactly_at_the_four_hour_cooldown() {
    let mut hub = hub_with_open_cpu_alert();
    hub.advance(mins(240) - millis(1));
    assert!(hub.cpu(90.0).is_empty(), "1 ms before the cooldown");
    hub.advance(millis(1));
    let event = only(hub.cpu(91.0));
    assert_eq!(event.kind, EventKind::Reminder);
    assert_eq!(event.severity, Severity::High);
    assert_eq!(event.alert_id, Some(1));
    assert_eq!(event.title, "High CPU usage on nas.local (91%)");
    assert_eq!(event.threshold_value, 85.0);
    // The next one counts from this reminder.
    hub.advance(mins(239));
    assert!(hub.cpu(90.0).is_empty());
    hub.advance(mins(1));
    assert_eq!(kinds(&hub.cpu(90.0)), [EventKind::Reminder]);
}

#[test]
fn a_critical_alert_is_reminded_every_thirty_minutes_from_the_escalation() {
    let mut hub = hub_with_open_cpu_alert();
    hub.advance(mins(10));
    assert_eq!(kinds(&hub.cpu(97.0)), [EventKind::Escalated]);
    hub.advance(mins(30) - millis(1));
    assert!(hub.cpu(97.0).is_empty());
    hub.advance(millis(1));
    let event = only(hub.cpu(97.0));
    assert_eq!((event.kind, event.severity, event.threshold_value), (EventKind::Reminder, Severity::Critical, 95.0));
}

#[test]
fn configured_cooldowns_apply() {
    let mut hub = Hub::new();
    hub.rules.cooldowns = Cooldowns { critical_minutes: 5, high_minutes: 15 };
    hub.disk("/", 85.0);
    hub.advance(mins(15));
    assert_eq!(kinds(&hub.disk("/", 85.0)), [EventKind::Reminder]);
}

#[test]
fn an_acknowledged_alert_gets_no_reminders_but_still_escalates_and_resolves() {
    let mut hub = hub_with_open_cpu_alert();
    let ack = only(hub.ack(AlertKey::cpu()));
    assert_eq!(ack.kind, EventKind::Acknowledged);
    assert_eq!(ack.alert_id, Some(1));
    assert!(!ack.notify);
    let active = hub.active(&AlertKey::cpu()).unwrap();
    assert_eq!((active.status, active.acknowledged_at), (AlertStatus::Acknowledged, Some(hub.clock.now())));
    assert!(hub.ack(AlertKey::cpu()).is_empty(), "acknowledging twice changes nothing");

    hub.advance(mins(600));
    assert!(hub.cpu(90.0).is_empty(), "no reminder while acknowledged");
    let escalated = only(hub.cpu(96.0));
    assert_eq!((escalated.kind, escalated.severity), (EventKind::Escalated, Severity::Critical));
    assert_eq!(hub.active(&AlertKey::cpu()).unwrap().status, AlertStatus::Acknowledged);
    hub.advance(mins(600));
    assert!(hub.cpu(96.0).is_empty(), "still no reminder");
    let resolved = only(hub.cpu(10.0));
    assert_eq!(resolved.kind, EventKind::Resolved { auto: true });
    assert_eq!(resolved.alert_id, Some(1));
}

#[test]
fn acknowledge_and_resolve_with_another_alert_id_change_nothing() {
    let mut hub = hub_with_open_cpu_alert();
    let now = hub.clock.now();
    assert!(hub.observe(Observation::Acknowledge { key: AlertKey::cpu(), alert_id: Some(99), now }).is_empty());
    assert!(hub.observe(Observation::Resolve { key: AlertKey::cpu(), alert_id: Some(99), now }).is_empty());
    assert!(hub.ack(AlertKey::memory()).is_empty());
    assert_eq!(
        kinds(&hub.observe(Observation::Acknowledge { key: AlertKey::cpu(), alert_id: Some(1), now })),
        [EventKind::Acknowledged]
    );
}

// ---- 6. Manual resolve -------------------------------------------------------------------------

#[test]
fn a_manual_resolve_resets_the_key_so_a_continuing_breach_opens_a_new_alert() {
    let mut hub = hub_with_open_cpu_alert();
    hub.advance(secs(30));
    let event = only(hub.resolve(AlertKey::cpu()));
    assert_eq!(event.kind, EventKind::Resolved { auto: false });
    assert_eq!(event.alert_id, Some(1));
    assert!(!event.notify, "v1 sends nothing for manual resolutions");
    assert_eq!(event.duration_seconds, Some(210));
    assert!(hub.states.is_empty());
    assert!(hub.resolve(AlertKey::cpu()).is_empty(), "resolving twice changes nothing");

    // The breach continues: a new sustained window starts with the next heartbeat.
    hub.advance(secs(60));
    let restart = hub.clock.now();
    assert!(hub.cpu(90.0).is_empty());
    hub.advance(secs(179));
    assert!(hub.cpu(90.0).is_empty());
    hub.advance(secs(1));
    let reopened = only(hub.cpu(90.0));
    assert_eq!(reopened.kind, EventKind::Opened);
    assert_eq!(reopened.alert_id, Some(2), "a new alert, not the old one");
    assert_eq!(hub.states[&AlertKey::cpu()].first_breach_at, Some(restart));
}

// ---- 7. Offline ----------------------------------------------------------------------------

#[test]
fn a_silent_server_gets_one_critical_offline_alert_at_the_timeout() {
    let mut hub = Hub::new();
    assert!(hub.tick().is_empty(), "never seen: never offline");
    hub.heartbeat(HeartbeatSample::default());
    hub.advance(millis(179_999));
    assert!(hub.tick().is_empty());
    hub.advance(millis(1));
    let event = only(hub.tick());
    assert_eq!(event.kind, EventKind::Opened);
    assert_eq!((event.key.key_string(), event.severity), ("offline".to_owned(), Severity::Critical));
    assert_eq!(event.title, "Server offline: nas.local");
    assert_eq!(event.message, "Server nas.local is not responding to heartbeats.");
    assert_eq!((event.threshold_value, event.actual_value), (0.0, 0.0));
    hub.advance(secs(60));
    assert!(hub.tick().is_empty(), "no duplicate");

    // Reminders on the critical cooldown, counted from the opening.
    hub.advance(mins(30) - secs(60) - millis(1));
    assert!(hub.tick().is_empty());
    hub.advance(millis(1));
    let reminder = only(hub.tick());
    assert_eq!((reminder.kind, reminder.title.as_str()), (EventKind::Reminder, "Server offline: nas.local"));

    // Any heartbeat, even without metrics, resolves it.
    hub.advance(mins(5));
    let resolved = only(hub.heartbeat(HeartbeatSample::default()));
    assert_eq!(resolved.kind, EventKind::Resolved { auto: true });
    assert_eq!(resolved.title, "Server back online: nas.local");
    assert_eq!(resolved.alert_id, Some(1));
    // 180 s to open, 30 min to the reminder, 5 min more: measured from the last heartbeat at t0.
    assert_eq!(resolved.duration_seconds, Some(180 + 30 * 60 + 5 * 60));
    assert!(hub.states.is_empty());
}

#[test]
fn the_configured_offline_timeout_is_honoured() {
    let mut hub = Hub::new();
    hub.rules.thresholds.server_offline_seconds = 60;
    hub.heartbeat(HeartbeatSample::default());
    hub.advance(secs(59));
    assert!(hub.tick().is_empty());
    hub.advance(secs(1));
    assert_eq!(kinds(&hub.tick()), [EventKind::Opened]);
}

#[test]
fn workstations_never_get_offline_alerts() {
    let mut hub = Hub::new();
    hub.server.machine_type = crate::status::MachineType::Workstation;
    hub.heartbeat(HeartbeatSample::default());
    hub.advance(Duration::days(3));
    assert!(hub.tick().is_empty());
    assert!(hub.states.is_empty());
}

#[test]
fn an_offline_alert_closes_when_the_server_becomes_a_workstation() {
    let mut hub = Hub::new();
    hub.heartbeat(HeartbeatSample::default());
    hub.advance(mins(5));
    hub.tick();
    hub.server.machine_type = crate::status::MachineType::Workstation;
    hub.advance(mins(1));
    let event = only(hub.tick());
    assert_eq!(event.kind, EventKind::Resolved { auto: true });
    assert_eq!(event.message, "Server nas.local is now a workstation; workstations get no offline alerts.");
}

#[test]
fn an_offline_alert_closes_on_a_tick_after_an_unevaluated_heartbeat() {
    let mut hub = Hub::new();
    hub.heartbeat(HeartbeatSample::default());
    hub.advance(mins(5));
    hub.tick();
    hub.server.last_seen = Some(hub.clock.now());
    hub.advance(secs(10));
    assert_eq!(kinds(&hub.tick()), [EventKind::Resolved { auto: true }]);
}

#[test]
fn a_manually_resolved_offline_alert_reopens_while_the_server_stays_silent() {
    let mut hub = Hub::new();
    hub.heartbeat(HeartbeatSample::default());
    hub.advance(mins(5));
    hub.tick();
    assert_eq!(kinds(&hub.resolve(AlertKey::offline())), [EventKind::Resolved { auto: false }]);
    hub.advance(mins(1));
    let event = only(hub.tick());
    assert_eq!((event.kind, event.alert_id), (EventKind::Opened, Some(2)));
}

// ---- 8. Maintenance ------------------------------------------------------------------------

#[test]
fn maintenance_opens_nothing_and_notifies_nothing() {
    let mut hub = Hub::new();
    hub.server.is_paused = true;
    assert!(hub.disk("/", 99.0).is_empty());
    assert!(hub.services(&[("plex", "stopped")]).is_empty());
    hub.advance(mins(10));
    assert!(hub.tick().is_empty(), "no offline alert while paused");
    assert!(hub.cpu(99.0).is_empty());
    hub.advance(mins(10));
    assert!(hub.cpu(99.0).is_empty(), "sustained, but paused");
    assert!(hub.states.values().all(|state| state.active.is_none()));

    // Maintenance ends: the breach has lasted for 10 minutes, so it opens at once.
    hub.server.is_paused = false;
    hub.advance(secs(60));
    let events = hub.heartbeat(HeartbeatSample {
        cpu_percent: Some(99.0),
        disks: [("/".to_owned(), 99.0)].into(),
        services: Some([("plex".to_owned(), ServiceStatus::Stopped)].into()),
        ..Default::default()
    });
    let opened: Vec<_> = events.iter().map(|e| (e.kind, e.key.key_string(), e.notify)).collect();
    assert_eq!(
        opened,
        [
            (EventKind::Opened, "cpu".to_owned(), true),
            (EventKind::Opened, "disk:/".to_owned(), true),
            (EventKind::Opened, "service:plex".to_owned(), true),
        ]
    );
}

#[test]
fn in_maintenance_open_alerts_escalate_and_resolve_silently_and_are_not_reminded() {
    let mut hub = hub_with_open_cpu_alert();
    hub.disk("/", 85.0);
    hub.server.is_paused = true;
    hub.advance(mins(600));
    assert!(hub.disk("/", 85.0).is_empty(), "no reminder while paused");
    let escalated = only(hub.cpu(97.0));
    assert_eq!(escalated.kind, EventKind::Escalated);
    assert!(!escalated.notify);
    let resolved = only(hub.cpu(50.0));
    assert_eq!(resolved.kind, EventKind::Resolved { auto: true });
    assert!(!resolved.notify);
    // After maintenance the overdue reminder comes with the next heartbeat.
    hub.server.is_paused = false;
    let reminder = only(hub.disk("/", 85.0));
    assert_eq!((reminder.kind, reminder.notify), (EventKind::Reminder, true));
}

// ---- 9. Service-down -----------------------------------------------------------------------

#[test]
fn a_critical_expected_service_that_stops_raises_high_with_the_v1_texts() {
    let mut hub = Hub::new();
    let event = only(hub.services(&[("plex", "stopped"), ("nginx", "running")]));
    assert_eq!(event.kind, EventKind::Opened);
    assert_eq!(event.key, AlertKey::service("plex"));
    assert_eq!(event.key.service_name(), Some("plex"));
    assert_eq!((event.alert_type, event.severity), (AlertKind::Service, Severity::High));
    assert_eq!(event.title, "Service plex is stopped on nas.local");
    assert_eq!(event.message, "Expected service plex on nas.local is stopped.");
    assert_eq!((event.threshold_value, event.actual_value), (0.0, 0.0));
}

#[test]
fn a_non_critical_expected_service_that_fails_raises_medium() {
    let mut hub = Hub::new();
    let event = only(hub.services(&[("sql", "failed")]));
    assert_eq!(event.severity, Severity::Medium);
    assert_eq!(event.title, "Service sql is failed on nas.local");
    assert_eq!(event.message, "Expected service sql on nas.local is failed.");
}

#[test]
fn unknown_unconfigured_and_disabled_services_raise_nothing() {
    let mut hub = Hub::new();
    assert!(hub.services(&[("plex", "unknown"), ("nginx", "stopped"), ("backup", "failed")]).is_empty());
    assert!(hub.states.is_empty());
}

#[test]
fn one_alert_per_service_matched_by_exact_name() {
    let mut hub = Hub::new();
    // `mysql` is not `sql`, and `plex.service` is not `plex`.
    assert!(hub.services(&[("mysql", "stopped"), ("plex.service", "stopped")]).is_empty());
    let events = hub.services(&[("sql", "stopped"), ("plex", "failed")]);
    let keys: Vec<_> = events.iter().map(|e| e.key.key_string()).collect();
    assert_eq!(keys, ["service:plex", "service:sql"]);
    hub.advance(mins(10));
    assert!(hub.services(&[("sql", "stopped"), ("plex", "failed")]).is_empty(), "no duplicates");
    let resolved = only(hub.services(&[("sql", "running"), ("plex", "failed")]));
    assert_eq!(resolved.key, AlertKey::service("sql"));
    assert!(hub.active(&AlertKey::service("plex")).is_some());
}

#[test]
fn the_first_running_report_resolves_a_service_alert() {
    let mut hub = Hub::new();
    hub.services(&[("plex", "stopped")]);
    hub.advance(mins(7));
    assert!(hub.services(&[("plex", "unknown")]).is_empty(), "unknown neither raises nor resolves");
    assert!(hub.services(&[]).is_empty(), "an unreported service is left as it is");
    assert!(hub.cpu(10.0).is_empty(), "a heartbeat without services leaves it too");
    let event = only(hub.services(&[("plex", "running")]));
    assert_eq!(event.kind, EventKind::Resolved { auto: true });
    assert_eq!(event.title, "Service plex is running on nas.local");
    assert_eq!(event.message, "Expected service plex on nas.local is running again.");
    assert_eq!(event.duration_minutes(), Some(7));
    assert!(hub.states.is_empty());
}

#[test]
fn services_are_evaluated_on_heartbeats_without_metrics() {
    let mut hub = Hub::new();
    let request: HeartbeatRequest = serde_json::from_value(json!({
        "server_id": "nas", "hostname": "nas.local", "timestamp": "2026-01-19T12:00:00Z",
        "services": [{"name": "plex", "status": "failed"}]
    }))
    .unwrap();
    let events = hub.heartbeat(HeartbeatSample::from_request(&request));
    assert_eq!(kinds(&events), [EventKind::Opened]);
}

#[test]
fn service_severity_is_fixed_when_the_alert_opens_and_medium_uses_the_high_cooldown() {
    let mut hub = Hub::new();
    hub.services(&[("sql", "stopped")]);
    hub.server.expected_services[1].is_critical = true;
    hub.advance(mins(30));
    assert!(hub.services(&[("sql", "failed")]).is_empty(), "medium is reminded on the 240 min cooldown");
    hub.advance(mins(210));
    let reminder = only(hub.services(&[("sql", "failed")]));
    assert_eq!(reminder.kind, EventKind::Reminder);
    assert_eq!(reminder.severity, Severity::Medium);
    assert_eq!(reminder.title, "Service sql is failed on nas.local", "reminders name the current status");
}

#[test]
fn a_service_back_to_running_within_its_grace_period_raises_nothing() {
    let mut hub = Hub::new();
    hub.rules.thresholds.service_grace_seconds = 120;
    assert!(hub.services(&[("plex", "stopped")]).is_empty(), "inside the grace period");
    hub.advance(secs(60));
    assert!(hub.services(&[("plex", "running")]).is_empty(), "a restart: no alert, no resolution");
    assert!(hub.states.is_empty(), "the timer is cleared");
    assert!(hub.updates.is_empty());
}

#[test]
fn a_service_down_for_its_grace_period_opens_exactly_then() {
    let mut hub = Hub::new();
    hub.rules.thresholds.service_grace_seconds = 600;
    hub.server.expected_services[0].grace_seconds = Some(120);
    assert!(hub.services(&[("plex", "stopped")]).is_empty());
    hub.advance(millis(119_999));
    assert!(hub.services(&[("plex", "failed")]).is_empty(), "one millisecond short");
    hub.advance(millis(1));
    let event = only(hub.services(&[("plex", "failed")]));
    assert_eq!(event.kind, EventKind::Opened);
    assert_eq!(event.title, "Service plex is failed on nas.local");
    // The service's own grace period wins over the global default; `sql` uses the default.
    assert!(hub.services(&[("sql", "stopped")]).is_empty());
    hub.advance(secs(60));
    let event = only(hub.services(&[("plex", "running")]));
    assert_eq!(event.kind, EventKind::Resolved { auto: true });
    assert_eq!(event.duration_seconds, Some(180), "counted from the first stopped report");
}

#[test]
fn the_default_grace_period_of_zero_alerts_on_the_first_stopped_report() {
    let mut hub = Hub::new();
    assert_eq!(hub.rules.thresholds.service_grace_seconds, 0);
    assert_eq!(kinds(&hub.services(&[("plex", "stopped")])), [EventKind::Opened]);
}

impl Hub {
    /// A heartbeat reporting `plex` with `status` and systemd's restart counter `count`.
    fn plex(&mut self, status: &str, count: i64) -> Vec<AlertEvent> {
        let services = Some([("plex".to_owned(), ServiceStatus::parse(status))].into());
        self.heartbeat(HeartbeatSample {
            services,
            restarts: [("plex".to_owned(), count)].into(),
            ..Default::default()
        })
    }
}

#[test]
fn a_crash_loop_seen_only_as_running_raises_one_alert_and_resolves_when_it_stops() {
    let mut hub = Hub::new();
    assert!(hub.plex("running", 7).is_empty(), "the first count is the baseline, however high");
    let mut opened = Vec::new();
    for count in 8..=20 {
        hub.advance(secs(60));
        opened.extend(hub.plex("running", count).into_iter().filter(|e| e.kind == EventKind::Opened));
    }
    assert_eq!(opened.len(), 1, "one alert for a loop of 13 restarts: {opened:#?}");
    let alert = &opened[0];
    assert_eq!(alert.key, AlertKey::crash_loop("plex"));
    assert_eq!(alert.key.service_name(), Some("plex"));
    assert_eq!(alert.severity, Severity::High, "plex is critical");
    assert_eq!(alert.title, "Service plex is crash-looping on nas.local");
    assert_eq!(
        alert.message,
        "Expected service plex on nas.local restarted 3 times in 10 minutes while reported running."
    );
    assert!(hub.active(&AlertKey::service("plex")).is_none(), "never seen down: no service-down alert");

    // The counter stops rising: resolved exactly ten minutes after the last restart.
    for _ in 0..9 {
        hub.advance(secs(60));
        assert!(hub.plex("running", 20).is_empty());
    }
    hub.advance(millis(59_999));
    assert!(hub.plex("running", 20).is_empty());
    hub.advance(millis(1));
    let event = only(hub.plex("running", 20));
    assert_eq!(event.kind, EventKind::Resolved { auto: true });
    assert_eq!(event.title, "Service plex stopped crash-looping on nas.local");
    assert!(hub.active(&AlertKey::crash_loop("plex")).is_none());
}

#[test]
fn occasional_restarts_and_reboots_are_not_a_crash_loop() {
    let mut hub = Hub::new();
    hub.plex("running", 0);
    for count in 1..=6 {
        hub.advance(mins(5));
        assert!(hub.plex("running", count).is_empty(), "two restarts per 10 minutes at most");
    }
    hub.advance(mins(1));
    assert!(hub.plex("running", 0).is_empty(), "a reboot resets the counter");
    hub.advance(mins(1));
    assert!(hub.plex("running", 2).is_empty());
    // Restarts while reported down are the down rules' business, not a crash loop.
    hub.advance(mins(1));
    assert_eq!(kinds(&hub.plex("failed", 9)), [EventKind::Opened]);
    hub.advance(mins(1));
    assert_eq!(kinds(&hub.plex("running", 9)), [EventKind::Resolved { auto: true }]);
    // Unwatched services are not tracked at all.
    let services = Some([("cron".to_owned(), ServiceStatus::Running)].into());
    hub.heartbeat(HeartbeatSample { services, restarts: [("cron".to_owned(), 50)].into(), ..Default::default() });
    assert!(!hub.states.contains_key(&AlertKey::crash_loop("cron")));
}

#[test]
fn a_steady_restart_counter_writes_nothing() {
    let mut hub = Hub::new();
    hub.plex("running", 4);
    hub.advance(secs(60));
    let states: Vec<AlertState> = hub.states.values().cloned().collect();
    let services = Some([("plex".to_owned(), ServiceStatus::Running)].into());
    let sample = HeartbeatSample { services, restarts: [("plex".to_owned(), 4)].into(), ..Default::default() };
    let evaluation =
        evaluate(&states, &hub.server, &hub.rules, &Observation::Heartbeat { sample, now: hub.clock.now() });
    assert_eq!(evaluation, Evaluation::default());
}

#[test]
fn a_service_resolved_by_hand_while_down_opens_a_new_alert() {
    let mut hub = Hub::new();
    hub.services(&[("plex", "stopped")]);
    assert_eq!(kinds(&hub.resolve(AlertKey::service("plex"))), [EventKind::Resolved { auto: false }]);
    hub.advance(secs(60));
    let event = only(hub.services(&[("plex", "stopped")]));
    assert_eq!((event.kind, event.alert_id), (EventKind::Opened, Some(2)));
}

#[test]
fn a_disabled_service_with_an_open_alert_is_not_reminded_but_resolves_when_running() {
    let mut hub = Hub::new();
    hub.services(&[("plex", "stopped")]);
    hub.server.expected_services[0].enabled = false;
    hub.advance(mins(600));
    assert!(hub.services(&[("plex", "stopped")]).is_empty());
    assert_eq!(kinds(&hub.services(&[("plex", "running")])), [EventKind::Resolved { auto: true }]);
}

// ---- 10. Texts, per-mount disks, null metrics --------------------------------------------------

#[test]
fn per_mount_disk_alerts_name_the_mount() {
    let mut hub = Hub::new();
    let events = hub.heartbeat(HeartbeatSample {
        disks: [("/".to_owned(), 50.0), ("/srv".to_owned(), 85.0), ("/backup".to_owned(), 96.0)].into(),
        ..Default::default()
    });
    let titles: Vec<_> = events.iter().map(|e| (e.key.key_string(), e.title.clone())).collect();
    assert_eq!(
        titles,
        [
            ("disk:/backup".to_owned(), "Critical DISK usage on nas.local /backup (96%)".to_owned()),
            ("disk:/srv".to_owned(), "High DISK usage on nas.local /srv (85%)".to_owned()),
        ]
    );
    assert_eq!(events[1].message, "DISK usage on nas.local /srv reached 85.0%, exceeding the high threshold of 80%.");
    hub.advance(secs(60));
    let escalated = only(hub.disk("/srv", 95.0));
    assert_eq!(
        escalated.message,
        "DISK usage on /srv escalated to critical at 95.0%, exceeding the critical threshold of 95%."
    );
}

#[test]
fn heartbeat_samples_take_disks_from_filesystems_or_fall_back_to_the_root_disk() {
    let with_filesystems: HeartbeatRequest = serde_json::from_value(json!({
        "server_id": "nas", "hostname": "nas", "timestamp": "2026-01-19T12:00:00Z",
        "metrics": {"cpu_percent": 12.5, "memory_percent": null, "disk_percent": 99.0},
        "filesystems": [
            {"mount_point": "/", "device": "sda1", "fs_type": "ext4", "total_bytes": 10, "used_bytes": 5, "available_bytes": 5, "percent": 50.0},
            {"mount_point": "/srv", "device": "sdb1", "fs_type": "xfs", "total_bytes": 10, "used_bytes": 9, "available_bytes": 1, "percent": 90.0}
        ],
        "services": [{"name": "plex", "status": "running"}, {"name": "odd", "status": "sleeping"}]
    }))
    .unwrap();
    let sample = HeartbeatSample::from_request(&with_filesystems);
    assert_eq!(sample.cpu_percent, Some(12.5));
    assert_eq!(sample.memory_percent, None);
    assert_eq!(sample.disks, BTreeMap::from([("/".to_owned(), 50.0), ("/srv".to_owned(), 90.0)]));
    let services = sample.services.unwrap();
    assert_eq!((services["plex"], services["odd"]), (ServiceStatus::Running, ServiceStatus::Unknown));

    let old_agent: HeartbeatRequest = serde_json::from_value(json!({
        "server_id": "nas", "hostname": "nas", "timestamp": "2026-01-19T12:00:00Z",
        "metrics": {"disk_percent": 81.0}, "filesystems": []
    }))
    .unwrap();
    let sample = HeartbeatSample::from_request(&old_agent);
    assert_eq!(sample.disks, BTreeMap::from([("/".to_owned(), 81.0)]));
    assert_eq!(sample.services, None);
}

#[test]
fn a_null_or_non_finite_metric_leaves_its_key_untouched() {
    let mut hub = hub_with_open_cpu_alert();
    hub.heartbeat(HeartbeatSample { memory_percent: Some(90.0), ..Default::default() });
    let before = hub.states.clone();
    hub.advance(secs(60));
    assert!(hub.heartbeat(HeartbeatSample::default()).is_empty());
    assert!(hub.cpu(f64::NAN).is_empty());
    assert_eq!(hub.states, before, "neither the open cpu alert nor the memory timer moved");
}

#[test]
fn titles_round_like_python() {
    let key = AlertKey::cpu();
    // Python: format(84.5, '.0f') == '84', format(85.5, '.0f') == '86', format(84.25, '.1f') == '84.2'.
    assert_eq!(text::metric_title("a", &key, Severity::High, 84.5), "High CPU usage on a (84%)");
    assert_eq!(text::metric_title("a", &key, Severity::High, 85.5), "High CPU usage on a (86%)");
    assert!(text::metric_message("a", &key, Severity::High, 84.25, 80.0).contains("reached 84.2%"));
    assert!(text::metric_message("a", &key, Severity::High, 84.35, 80.0).contains("reached 84.3%"));
    assert_eq!(format!("{:.1}", 0.35), "0.3", "binary value of 0.35 is below the tie");
}

// ---- Evaluation output -------------------------------------------------------------------------

#[test]
fn a_healthy_heartbeat_writes_nothing() {
    let hub = Hub::new();
    let sample = HeartbeatSample {
        cpu_percent: Some(10.0),
        memory_percent: Some(20.0),
        disks: [("/".to_owned(), 30.0)].into(),
        services: Some([("plex".to_owned(), ServiceStatus::Running)].into()),
        restarts: BTreeMap::new(),
        containers: Some(BTreeMap::new()),
        temperatures: vec![crate::inventory::TemperatureReading {
            sensor: "cpu/0".into(),
            kind: "cpu".into(),
            celsius: 50.0,
        }],
        disks_health: vec![engine::DiskSeen { device: "/dev/sda".into(), passed: Some(true), failure_count: None }],
        raid_arrays: [("md0".to_owned(), "clean".to_owned())].into(),
        zfs_pools: [("tank".to_owned(), "ONLINE".to_owned())].into(),
    };
    let evaluation = evaluate(&[], &hub.server, &hub.rules, &Observation::Heartbeat { sample, now: t0() });
    assert_eq!(evaluation, Evaluation::default());
}

#[test]
fn only_changed_states_are_returned() {
    let mut hub = hub_with_open_cpu_alert();
    hub.disk("/", 85.0);
    let states: Vec<_> = hub.states.values().cloned().collect();
    let sample = HeartbeatSample { cpu_percent: Some(91.0), ..Default::default() };
    let evaluation =
        evaluate(&states, &hub.server, &hub.rules, &Observation::Heartbeat { sample, now: hub.clock.now() });
    assert_eq!(evaluation.states.len(), 1);
    assert_eq!(evaluation.states[0].key, AlertKey::cpu());
    assert_eq!(evaluation.states[0].current_value, Some(91.0));
}

#[test]
fn states_and_events_round_trip_through_json() {
    let mut hub = hub_with_open_cpu_alert();
    let state = hub.states[&AlertKey::cpu()].clone();
    let stored = serde_json::to_value(&state).unwrap();
    assert_eq!(stored["key"], json!({"kind": "cpu", "subject": ""}));
    assert_eq!(stored["first_breach_at"], "2026-01-19T12:00:00.000Z");
    assert_eq!(stored["active"]["severity"], "high");
    assert_eq!(stored["active"]["status"], "open");
    assert_eq!(stored["active"]["alert_id"], 1);
    assert_eq!(serde_json::from_value::<AlertState>(stored).unwrap(), state);

    hub.advance(secs(60));
    let event = only(hub.cpu(10.0));
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["kind"], json!({"type": "resolved", "auto": true}));
    assert_eq!(json["alert_type"], "cpu");
    assert_eq!(event.kind.as_str(), "resolved");
    assert_eq!(serde_json::from_value::<AlertEvent>(json).unwrap(), event);
}

#[test]
fn pending_breaches_report_the_v1_fields() {
    let mut hub = Hub::new();
    hub.cpu(96.0);
    hub.advance(secs(50));
    let pending = hub.states[&AlertKey::cpu()].pending(&hub.rules.thresholds, hub.clock.now()).unwrap();
    assert_eq!((pending.severity, pending.threshold_value, pending.current_value), (Severity::Critical, 95.0, 96.0));
    assert_eq!((pending.elapsed_seconds, pending.time_until_alert, pending.sustained_seconds), (50, 130, 180));
    hub.advance(secs(130));
    hub.cpu(90.0);
    assert!(hub.states[&AlertKey::cpu()].pending(&hub.rules.thresholds, hub.clock.now()).is_none());
}

// ---- Keys and enums ------------------------------------------------------------------------------

#[test]
fn keys_have_one_string_form() {
    for (key, text) in [
        (AlertKey::cpu(), "cpu"),
        (AlertKey::memory(), "memory"),
        (AlertKey::offline(), "offline"),
        (AlertKey::disk("/srv"), "disk:/srv"),
        (AlertKey::disk("/"), "disk:/"),
        (AlertKey::service("plex"), "service:plex"),
        (AlertKey::service("a:b"), "service:a:b"),
    ] {
        assert_eq!(key.key_string(), text);
        assert_eq!(AlertKey::parse(text), Some(key.clone()));
        assert_eq!(text.parse::<AlertKey>().unwrap(), key);
    }
    for bad in ["", "cpu:x", "disk", "disk:", "service", "warning", "offline:"] {
        assert_eq!(AlertKey::parse(bad), None, "{bad}");
    }
}

#[test]
fn enums_use_the_v1_strings() {
    assert_eq!(serde_json::to_value(Severity::Critical).unwrap(), "critical");
    assert_eq!(serde_json::to_value(AlertStatus::Acknowledged).unwrap(), "acknowledged");
    assert_eq!(serde_json::to_value(AlertKind::Service).unwrap(), "service");
    assert!(
        Severity::Critical > Severity::High && Severity::High > Severity::Medium && Severity::Medium > Severity::Low
    );
    assert_eq!(Severity::parse("medium"), Some(Severity::Medium));
    assert_eq!(AlertStatus::parse("resolved"), Some(AlertStatus::Resolved));
    assert_eq!(AlertKind::parse("service_down"), None);
}

#[test]
fn the_manual_clock_only_moves_when_told() {
    let clock = ManualClock::new(t0());
    assert_eq!(clock.now(), t0());
    assert_eq!(clock.advance(secs(5)), t0() + secs(5));
    clock.set(t0());
    assert_eq!(clock.now(), t0());
    assert_eq!(clock.advance(Duration::MAX), t0(), "an overflowing step is ignored");
}

// ---- Configuration ---------------------------------------------------------------------------------

#[test]
fn default_configuration_is_the_v1_document_plus_hysteresis_and_clear_periods() {
    let thresholds = serde_json::to_value(Thresholds::default()).unwrap();
    assert_eq!(
        thresholds,
        json!({
            "cpu": {"high_percent": 85, "critical_percent": 95, "sustained_seconds": 180, "sustained_heartbeats": null, "hysteresis_percent": 5, "clear_seconds": 120},
            "memory": {"high_percent": 85, "critical_percent": 95, "sustained_seconds": 180, "sustained_heartbeats": null, "hysteresis_percent": 5, "clear_seconds": 120},
            "disk": {"high_percent": 80, "critical_percent": 95, "sustained_seconds": 0, "sustained_heartbeats": null, "hysteresis_percent": 5, "clear_seconds": 120},
            "server_offline_seconds": 180,
            "service_grace_seconds": 0,
            "temperature": {
                "cpu": {"high_celsius": 85, "critical_celsius": 95},
                "drive": {"high_celsius": 60, "critical_celsius": 70},
                "chipset": {"high_celsius": 80, "critical_celsius": 95},
                "gpu": {"high_celsius": 85, "critical_celsius": 95},
                "ambient": {"high_celsius": 45, "critical_celsius": 55},
                "other": {"high_celsius": 80, "critical_celsius": 95},
                "sustained_seconds": 120, "clear_seconds": 120, "hysteresis_celsius": 5
            }
        })
    );
    let notifications = serde_json::to_value(NotificationSettings::default()).unwrap();
    assert_eq!(
        notifications,
        json!({"slack_webhook_url": "", "cooldowns": {"critical_minutes": 30, "high_minutes": 240},
               "notify_on_critical": true, "notify_on_high": true, "notify_on_remediation": true,
               "notify_on_action_failure": true, "notify_on_action_success": false, "notify_on_auto_resolve": true})
    );
    Thresholds::default().validate().unwrap();
    NotificationSettings::default().validate().unwrap();
}

#[test]
fn v1_documents_parse_and_sustained_heartbeats_becomes_seconds() {
    let v1 = json!({
        "cpu": {"high_percent": 80, "critical_percent": 90, "sustained_seconds": 0, "sustained_heartbeats": 3},
        "memory": {"high_percent": 85, "critical_percent": 95, "sustained_seconds": 120, "sustained_heartbeats": 3},
        "server_offline_seconds": 300
    });
    let thresholds: Thresholds = serde_json::from_value(v1).unwrap();
    assert_eq!(thresholds.cpu.sustained_seconds, 180);
    assert_eq!(thresholds.cpu.hysteresis_percent, 5);
    assert_eq!(thresholds.cpu.clear_seconds, 120);
    assert_eq!(thresholds.memory.sustained_seconds, 120, "only applies when sustained_seconds is 0");
    assert_eq!(thresholds.disk, Thresholds::default().disk, "missing metrics take their defaults");
    assert_eq!(thresholds.server_offline_seconds, 300);
    let notifications: NotificationSettings =
        serde_json::from_value(json!({"slack_webhook_url": "https://hooks.example/x"})).unwrap();
    assert_eq!(notifications.cooldowns, Cooldowns::default());
    assert!(notifications.notify_on_auto_resolve && !notifications.notify_on_action_success);
}

#[test]
fn a_threshold_update_merges_ignores_nulls_and_lists_what_changed() {
    let update: ThresholdsUpdate = serde_json::from_value(json!({
        "cpu": {"high_percent": 80, "critical_percent": 95, "sustained_seconds": null},
        "disk": {"sustained_heartbeats": 2, "clear_seconds": 60},
        "memory": null,
        "server_offline_seconds": 240,
        "unknown": true
    }))
    .unwrap();
    let merged = Thresholds::default().merge(&update).unwrap();
    assert_eq!(
        merged.updated,
        [
            "cpu.high_percent",
            "disk.sustained_seconds",
            "disk.sustained_heartbeats",
            "disk.clear_seconds",
            "server_offline_seconds"
        ]
    );
    assert_eq!(merged.config.cpu.high_percent, 80);
    assert_eq!(merged.config.cpu.sustained_seconds, 180);
    assert_eq!(merged.config.disk.sustained_seconds, 120);
    assert_eq!(merged.config.server_offline_seconds, 240);
    let again = merged.config.merge(&update).unwrap();
    assert!(again.updated.is_empty(), "nothing changes the second time");
}

#[test]
fn a_threshold_update_rejects_out_of_range_fields_with_their_path() {
    let update: ThresholdsUpdate = serde_json::from_value(json!({
        "cpu": {"high_percent": 101, "sustained_seconds": 601, "hysteresis_percent": 51, "clear_seconds": 601},
        "disk": {"sustained_heartbeats": 11},
        "server_offline_seconds": 29
    }))
    .unwrap();
    let errors = Thresholds::default().merge(&update).unwrap_err().0;
    let fields: Vec<_> = errors.iter().map(|e| crate::validate::FieldError::field_name(&e.loc)).collect();
    assert_eq!(
        fields,
        [
            "cpu.high_percent",
            "cpu.sustained_seconds",
            "cpu.hysteresis_percent",
            "cpu.clear_seconds",
            "disk.sustained_heartbeats",
            "server_offline_seconds"
        ]
    );
    assert_eq!(serde_json::to_value(&errors[0]).unwrap()["loc"], json!(["body", "cpu", "high_percent"]));
    assert_eq!(errors[0].kind, "less_than_equal");
}

#[test]
fn critical_must_stay_above_high_after_the_merge() {
    let update: ThresholdsUpdate = serde_json::from_value(json!({"cpu": {"critical_percent": 85}})).unwrap();
    let errors = Thresholds::default().merge(&update).unwrap_err().0;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].msg, "cpu.critical_percent: must be greater than cpu.high_percent (85)");
    assert_eq!(errors[0].kind, "value_error");
    let update: ThresholdsUpdate = serde_json::from_value(json!({"disk": {"high_percent": 96}})).unwrap();
    let errors = Thresholds::default().merge(&update).unwrap_err().0;
    assert_eq!(errors[0].msg, "disk.critical_percent: must be greater than disk.high_percent (96)");
}

#[test]
fn a_notification_update_merges_all_eight_settings() {
    let update: NotificationSettingsUpdate = serde_json::from_value(json!({
        "slack_webhook_url": "https://hooks.slack.com/services/x",
        "cooldowns": {"critical_minutes": 10, "high_minutes": null},
        "notify_on_high": false,
        "notify_on_action_success": true,
        "notify_on_auto_resolve": false,
        "notify_on_critical": true
    }))
    .unwrap();
    let merged = NotificationSettings::default().merge(&update).unwrap();
    assert_eq!(
        merged.updated,
        [
            "slack_webhook_url",
            "cooldowns.critical_minutes",
            "notify_on_high",
            "notify_on_action_success",
            "notify_on_auto_resolve"
        ]
    );
    assert_eq!(merged.config.cooldowns, Cooldowns { critical_minutes: 10, high_minutes: 240 });
    assert!(!merged.config.notify_on_auto_resolve && merged.config.notify_on_action_success);
    let rules = Rules::new(&Thresholds::default(), &merged.config);
    assert_eq!(rules.cooldowns.millis_for(Severity::Critical), 10 * 60_000);
    assert_eq!(rules.cooldowns.millis_for(Severity::Medium), 240 * 60_000);
}

#[test]
fn cooldowns_out_of_range_are_rejected() {
    let update: NotificationSettingsUpdate =
        serde_json::from_value(json!({"cooldowns": {"critical_minutes": 4, "high_minutes": 1441}})).unwrap();
    let errors = NotificationSettings::default().merge(&update).unwrap_err().0;
    let fields: Vec<_> = errors.iter().map(|e| crate::validate::FieldError::field_name(&e.loc)).collect();
    assert_eq!(fields, ["cooldowns.critical_minutes", "cooldowns.high_minutes"]);
}
