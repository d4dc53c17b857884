//! Property tests: any sequence of observations keeps the engine's promises.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration;
use proptest::prelude::*;

use super::thresholds::MetricThreshold;
use super::*;
use crate::status::MachineType;
use crate::time::{self, Timestamp};

const MOUNTS: [&str; 3] = ["/", "/srv", "/backup"];
const SERVICES: [&str; 4] = ["plex", "sql", "mysql", "backup"];
const STATUSES: [ServiceStatus; 4] =
    [ServiceStatus::Running, ServiceStatus::Stopped, ServiceStatus::Failed, ServiceStatus::Unknown];

#[derive(Debug, Clone)]
enum Op {
    Heartbeat {
        cpu: Option<f64>,
        memory: Option<f64>,
        disks: Vec<(usize, f64)>,
        services: Option<Vec<(usize, usize)>>,
        restarts: Vec<(usize, i64)>,
    },
    Tick,
    Acknowledge {
        key: usize,
        alert_id: Option<i64>,
    },
    Resolve {
        key: usize,
        alert_id: Option<i64>,
    },
    /// Milliseconds; occasionally negative, as a clock stepped back.
    Advance(i64),
    TogglePause,
    ToggleWorkstation,
    ToggleService {
        index: usize,
        critical: bool,
        enabled: bool,
        grace_seconds: Option<i64>,
    },
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => (0u8..=100).prop_map(f64::from),
        6 => 0.0f64..=100.0,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let heartbeat = (
        proptest::option::of(value()),
        proptest::option::of(value()),
        proptest::collection::vec((0..MOUNTS.len(), value()), 0..3),
        proptest::option::of(proptest::collection::vec((0..SERVICES.len(), 0..STATUSES.len()), 0..4)),
        proptest::collection::vec((0..SERVICES.len(), 0i64..30), 0..3),
    )
        .prop_map(|(cpu, memory, disks, services, restarts)| Op::Heartbeat {
            cpu,
            memory,
            disks,
            services,
            restarts,
        });
    prop_oneof![
        8 => heartbeat,
        2 => Just(Op::Tick),
        1 => (0..all_keys().len(), proptest::option::of(1i64..6)).prop_map(|(key, alert_id)| Op::Acknowledge { key, alert_id }),
        1 => (0..all_keys().len(), proptest::option::of(1i64..6)).prop_map(|(key, alert_id)| Op::Resolve { key, alert_id }),
        6 => prop_oneof![
            8 => 0i64..600_000,
            2 => 0i64..20_000_000,
            1 => -120_000i64..0,
        ].prop_map(Op::Advance),
        1 => Just(Op::TogglePause),
        1 => Just(Op::ToggleWorkstation),
        1 => (0..SERVICES.len(), any::<bool>(), any::<bool>(), proptest::option::of(0i64..=3600))
            .prop_map(|(index, critical, enabled, grace_seconds)| Op::ToggleService { index, critical, enabled, grace_seconds }),
    ]
}

fn threshold() -> impl Strategy<Value = MetricThreshold> {
    (1i64..=99, 0i64..=600, 0i64..=50, 0i64..=600).prop_flat_map(|(high, sustained, hysteresis, clear)| {
        (high + 1..=100).prop_map(move |critical| MetricThreshold {
            hysteresis_percent: hysteresis,
            clear_seconds: clear,
            ..MetricThreshold::new(high, critical, sustained)
        })
    })
}

fn rules() -> impl Strategy<Value = Rules> {
    (threshold(), threshold(), threshold(), 30i64..=900, 5i64..=1440, 15i64..=1440, 0i64..=3600).prop_map(
        |(cpu, memory, disk, server_offline_seconds, critical_minutes, high_minutes, service_grace_seconds)| Rules {
            thresholds: Thresholds {
                cpu,
                memory,
                disk,
                server_offline_seconds,
                service_grace_seconds,
                temperature: Default::default(),
            },
            watching_since: None,
            cooldowns: Cooldowns { critical_minutes, high_minutes },
        },
    )
}

fn all_keys() -> Vec<AlertKey> {
    let mut keys = vec![AlertKey::cpu(), AlertKey::memory(), AlertKey::offline()];
    keys.extend(MOUNTS.iter().map(|m| AlertKey::disk(*m)));
    keys.extend(SERVICES.iter().map(|s| AlertKey::service(*s)));
    keys
}

/// The store's part plus a model of which alerts are open, checked against every event.
struct Driver {
    now: Timestamp,
    states: BTreeMap<AlertKey, AlertState>,
    server: ServerContext,
    rules: Rules,
    next_id: i64,
    /// key → (alert id, acknowledged)
    open: BTreeMap<AlertKey, (i64, bool)>,
    resolved_ids: BTreeSet<i64>,
}

impl Driver {
    fn new(rules: Rules) -> Self {
        Driver {
            now: time::parse("2026-01-19T12:00:00Z").unwrap_or_default(),
            states: BTreeMap::new(),
            server: ServerContext {
                server_id: "s".into(),
                name: "s".into(),
                machine_type: MachineType::Server,
                is_paused: false,
                last_seen: None,
                expected_services: SERVICES
                    .iter()
                    .take(3)
                    .map(|name| ExpectedService {
                        service_name: (*name).into(),
                        is_critical: true,
                        enabled: true,
                        grace_seconds: None,
                    })
                    .collect(),
                watched_containers: Vec::new(),
                topology: Default::default(),
            },
            rules,
            next_id: 1,
            open: BTreeMap::new(),
            resolved_ids: BTreeSet::new(),
        }
    }

    fn observe(&mut self, observation: Observation) -> Result<(), TestCaseError> {
        let states: Vec<AlertState> = self.states.values().cloned().collect();
        let evaluation = evaluate(&states, &self.server, &self.rules, &observation);

        let changed: BTreeSet<&AlertKey> = evaluation.states.iter().map(|s| &s.key).collect();
        prop_assert_eq!(changed.len(), evaluation.states.len(), "a key listed twice");
        for state in evaluation.states {
            prop_assert!(self.states.get(&state.key) != Some(&state), "an unchanged state was listed");
            if state.is_idle() {
                self.states.remove(&state.key);
            } else {
                self.states.insert(state.key.clone(), state);
            }
        }

        for event in evaluation.events {
            if self.server.is_paused {
                prop_assert!(!event.notify, "notified in maintenance: {:?}", event);
            }
            let current = self.open.get(&event.key).copied();
            match event.kind {
                EventKind::Opened => {
                    prop_assert!(current.is_none(), "second alert for {}", event.key);
                    prop_assert!(!self.server.is_paused, "opened in maintenance");
                    let id = self.next_id;
                    self.next_id += 1;
                    self.open.insert(event.key.clone(), (id, false));
                    let state = self.states.get_mut(&event.key);
                    prop_assert!(state.is_some(), "opened without a state");
                    if let Some(state) = state {
                        state.set_alert_id(id);
                    }
                }
                EventKind::Resolved { .. } => {
                    let Some((id, _)) = current else {
                        return Err(TestCaseError::fail(format!("resolved a closed alert: {event:?}")));
                    };
                    prop_assert_eq!(event.alert_id, Some(id));
                    prop_assert!(self.resolved_ids.insert(id), "resolved twice");
                    self.open.remove(&event.key);
                }
                EventKind::Escalated
                | EventKind::DeEscalated
                | EventKind::Reminder
                | EventKind::Acknowledged
                | EventKind::Updated => {
                    let Some((id, acknowledged)) = current else {
                        return Err(TestCaseError::fail(format!("event for a closed alert: {event:?}")));
                    };
                    prop_assert_eq!(event.alert_id, Some(id));
                    if event.kind == EventKind::Updated {
                        prop_assert!(!event.notify, "an update notified: {:?}", event);
                    }
                    if event.kind == EventKind::Reminder {
                        prop_assert!(!acknowledged, "reminder for an acknowledged alert");
                    }
                    if event.kind == EventKind::Acknowledged {
                        prop_assert!(!acknowledged, "acknowledged twice");
                        self.open.insert(event.key.clone(), (id, true));
                    }
                }
            }
        }

        // The states agree with the event history: one active alert per open key, none elsewhere.
        let active: BTreeMap<AlertKey, Option<i64>> =
            self.states.values().filter_map(|s| s.active.as_ref().map(|a| (s.key.clone(), a.alert_id))).collect();
        let expected: BTreeMap<AlertKey, Option<i64>> =
            self.open.iter().map(|(key, (id, _))| (key.clone(), Some(*id))).collect();
        prop_assert_eq!(active, expected);
        for state in self.states.values() {
            prop_assert!(!state.is_idle(), "an idle state was kept");
        }
        Ok(())
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op {
            Op::Heartbeat { cpu, memory, disks, services, restarts } => {
                let sample = HeartbeatSample {
                    cpu_percent: *cpu,
                    memory_percent: *memory,
                    disks: disks.iter().map(|(m, v)| (MOUNTS[*m].to_owned(), *v)).collect(),
                    services: services
                        .as_ref()
                        .map(|list| list.iter().map(|(s, st)| (SERVICES[*s].to_owned(), STATUSES[*st])).collect()),
                    restarts: restarts.iter().map(|(s, n)| (SERVICES[*s].to_owned(), *n)).collect(),
                    ..Default::default()
                };
                self.server.last_seen = Some(self.now);
                self.observe(Observation::Heartbeat { sample, now: self.now })
            }
            Op::Tick => self.observe(Observation::Tick { now: self.now }),
            Op::Acknowledge { key, alert_id } => {
                let key = all_keys()[*key].clone();
                self.observe(Observation::Acknowledge { key, alert_id: *alert_id, now: self.now })
            }
            Op::Resolve { key, alert_id } => {
                let key = all_keys()[*key].clone();
                self.observe(Observation::Resolve { key, alert_id: *alert_id, now: self.now })
            }
            Op::Advance(ms) => {
                self.now += Duration::milliseconds(*ms);
                Ok(())
            }
            Op::TogglePause => {
                self.server.is_paused = !self.server.is_paused;
                Ok(())
            }
            Op::ToggleWorkstation => {
                self.server.machine_type =
                    if self.server.is_workstation() { MachineType::Server } else { MachineType::Workstation };
                Ok(())
            }
            Op::ToggleService { index, critical, enabled, grace_seconds } => {
                let name = SERVICES[*index];
                self.server.expected_services.retain(|e| e.service_name != name);
                self.server.expected_services.push(ExpectedService {
                    service_name: name.into(),
                    is_critical: *critical,
                    enabled: *enabled,
                    grace_seconds: *grace_seconds,
                });
                Ok(())
            }
        }
    }

    fn healthy_heartbeat(&mut self) -> Result<(), TestCaseError> {
        let sample = HeartbeatSample {
            cpu_percent: Some(0.0),
            memory_percent: Some(0.0),
            disks: MOUNTS.iter().map(|m| ((*m).to_owned(), 0.0)).collect(),
            services: Some(SERVICES.iter().map(|s| ((*s).to_owned(), ServiceStatus::Running)).collect()),
            // Steady restart counters: crash loops end.
            restarts: self
                .states
                .values()
                .filter(|state| state.key.is_crash_loop())
                .filter_map(|state| Some((state.key.service_name()?.to_owned(), state.restarts.last()?.count)))
                .collect(),
            ..Default::default()
        };
        self.server.last_seen = Some(self.now);
        self.observe(Observation::Heartbeat { sample, now: self.now })
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Never panics, never two alerts per key, every event belongs to an open alert, every alert
    /// resolves at most once, no notification in maintenance, no reminder once acknowledged, and a
    /// run of healthy heartbeats leaves nothing open.
    #[test]
    fn any_sequence_of_observations_keeps_the_engine_consistent(
        rules in rules(),
        ops in proptest::collection::vec(op(), 1..200),
        paused_at_end in any::<bool>(),
    ) {
        let mut driver = Driver::new(rules);
        for op in &ops {
            driver.apply(op)?;
        }
        driver.server.is_paused = paused_at_end;
        for _ in 0..3 {
            driver.now += Duration::seconds(60);
            driver.healthy_heartbeat()?;
        }
        // Crash loops resolve once their counter has been steady for the window.
        driver.now += Duration::seconds(thresholds::CRASH_LOOP_SECONDS);
        driver.healthy_heartbeat()?;
        prop_assert!(driver.open.is_empty(), "still open: {:?}", driver.open);
        // Only the restart counters' baselines are kept.
        let left: Vec<_> = driver
            .states
            .values()
            .filter(|s| !s.key.is_crash_loop() || s.active.is_some() || s.first_breach_at.is_some())
            .collect();
        prop_assert!(left.is_empty(), "states left: {:?}", left);
        // A tick right after healthy heartbeats opens nothing either.
        driver.observe(Observation::Tick { now: driver.now })?;
        prop_assert!(driver.open.is_empty());
    }

    /// Key strings are a bijection on valid keys.
    #[test]
    fn key_strings_round_trip(kind in 0..AlertKind::ALL.len(), subject in "[a-z0-9/:._@-]{1,20}") {
        let kind = AlertKind::ALL[kind];
        let key = AlertKey { kind, subject: if kind.has_subject() { subject } else { String::new() } };
        prop_assert_eq!(AlertKey::parse(&key.key_string()), Some(key));
    }
}
