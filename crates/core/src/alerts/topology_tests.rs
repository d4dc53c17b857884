//! Dependencies on the exact clock: a machine behind a silent parent waits for the parent's
//! verdict, is folded into the parent's alert when the parent is offline, and gets a grace to
//! report once the parent is back.

use chrono::Duration;

use super::*;
use crate::status::HEARTBEAT_INTERVAL_SECONDS;
use crate::time::{self, Timestamp};

fn t0() -> Timestamp {
    time::parse("2026-01-19T12:00:00Z").unwrap()
}

fn at(seconds: i64) -> Timestamp {
    t0() + Duration::seconds(seconds)
}

fn machine(name: &str, last_seen: i64) -> ServerContext {
    ServerContext {
        server_id: name.into(),
        name: name.into(),
        machine_type: crate::status::MachineType::Server,
        is_paused: false,
        last_seen: Some(at(last_seen)),
        expected_services: Vec::new(),
        watched_containers: Vec::new(),
        topology: Topology::default(),
    }
}

fn behind(mut server: ServerContext, parent_last_seen: i64, back_at: Option<i64>) -> ServerContext {
    server.topology.parent = Some(Parent { last_seen: Some(at(parent_last_seen)), back_at: back_at.map(at) });
    server
}

fn tick(server: &ServerContext, now: i64) -> Vec<AlertEvent> {
    evaluate(&[], server, &Rules::default(), &Observation::Tick { now: at(now) }).events
}

/// The default offline timeout (180 s).
const TIMEOUT: i64 = 180;

#[test]
fn a_machine_behind_a_silent_parent_gets_no_alert_of_its_own() {
    // The parent fell silent at 0; the child's last heartbeat came earlier, so its deadline is
    // first: it waits for the parent's verdict instead of alerting.
    let child = behind(machine("pi", -20), 0, None);
    assert!(tick(&child, TIMEOUT - 20).is_empty(), "the parent has missed a heartbeat: wait");
    assert!(tick(&child, TIMEOUT + 600).is_empty(), "the parent is offline: folded into its alert");
    // Alone, the same machine would have alerted at its own deadline.
    let alone = machine("pi", -20);
    assert_eq!(tick(&alone, TIMEOUT - 20).len(), 1);
}

#[test]
fn a_machine_behind_a_healthy_parent_alerts_as_usual() {
    let child = behind(machine("pi", 0), TIMEOUT, None);
    let events = tick(&child, TIMEOUT);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::Opened);
}

#[test]
fn the_parents_alert_names_the_machines_behind_it() {
    let mut switch = machine("switch-1", 0);
    switch.topology.unreachable_behind = vec!["pi".into(), "nas".into()];
    let events = tick(&switch, TIMEOUT);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].title, "Server offline: switch-1", "the v1 title");
    assert_eq!(
        events[0].message,
        "Server switch-1 is not responding to heartbeats; 2 machines behind it are unreachable: pi, nas."
    );
}

#[test]
fn machines_behind_a_parent_that_is_back_get_time_to_report() {
    // The parent was offline from 0 to 900; the child last reported at -10.
    let back = 900;
    let child = behind(machine("pi", -10), back, Some(back));
    let grace_ends = back + HEARTBEAT_INTERVAL_SECONDS + TIMEOUT;
    assert!(tick(&child, back + 30).is_empty());
    assert!(tick(&behind(machine("pi", -10), grace_ends - 1, Some(back)), grace_ends - 1).is_empty());
    let events = tick(&behind(machine("pi", -10), grace_ends, Some(back)), grace_ends);
    assert_eq!(events.len(), 1, "still silent once the grace is over: its own alert");
}
