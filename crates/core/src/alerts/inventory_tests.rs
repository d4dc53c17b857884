//! The rules for what agents report beyond v1, on the exact clock: temperatures (the metric
//! rules in °C, per sensor kind), watched containers, restart loops, S.M.A.R.T., failure
//! counters, RAID arrays and ZFS pools.

use std::collections::BTreeMap;

use super::tests::{Hub, kinds, mins, only, secs, t0};
use super::*;

fn temperature(sensor: &str, kind: &str, celsius: f64) -> HeartbeatSample {
    let temperatures = vec![crate::inventory::TemperatureReading { sensor: sensor.into(), kind: kind.into(), celsius }];
    HeartbeatSample { temperatures, ..Default::default() }
}

fn container(state: &str, health: Option<&str>, exit_code: Option<i64>, restarts: i64) -> engine::ContainerSeen {
    engine::ContainerSeen {
        state: state.into(),
        health: health.map(Into::into),
        exit_code,
        restart_count: Some(restarts),
    }
}

fn containers(list: &[(&str, engine::ContainerSeen)]) -> HeartbeatSample {
    let containers: BTreeMap<String, engine::ContainerSeen> =
        list.iter().map(|(name, seen)| (name.to_string(), seen.clone())).collect();
    HeartbeatSample { containers: Some(containers), ..Default::default() }
}

fn disk(passed: Option<bool>, failure_count: Option<i64>) -> HeartbeatSample {
    let disks_health = vec![engine::DiskSeen { device: "/dev/sda".into(), passed, failure_count }];
    HeartbeatSample { disks_health, ..Default::default() }
}

fn watching(names: &[&str]) -> Hub {
    let mut hub = Hub::new();
    hub.server.watched_containers = names.iter().map(|n| n.to_string()).collect();
    hub
}

#[test]
fn a_hot_cpu_sensor_alerts_after_the_sustained_window_escalates_and_resolves() {
    let mut hub = Hub::new();
    let key = AlertKey::temperature("coretemp/Package id 0");
    assert!(hub.heartbeat(temperature("coretemp/Package id 0", "cpu", 90.0)).is_empty());
    hub.advance(secs(119));
    assert!(hub.heartbeat(temperature("coretemp/Package id 0", "cpu", 91.0)).is_empty(), "1 s short of 120 s");
    hub.advance(secs(1));
    let opened = only(hub.heartbeat(temperature("coretemp/Package id 0", "cpu", 91.0)));
    assert_eq!(
        (opened.kind, opened.severity, opened.alert_type),
        (EventKind::Opened, Severity::High, AlertKind::Temperature)
    );
    assert_eq!(opened.title, "High temperature on nas.local: coretemp/Package id 0 (91 °C)");
    assert_eq!((opened.threshold_value, opened.actual_value), (85.0, 91.0));
    assert_eq!(opened.at, t0() + secs(120));

    hub.advance(secs(60));
    let escalated = only(hub.heartbeat(temperature("coretemp/Package id 0", "cpu", 96.0)));
    assert_eq!((escalated.kind, escalated.severity), (EventKind::Escalated, Severity::Critical));

    hub.advance(secs(60));
    let resolved = only(hub.heartbeat(temperature("coretemp/Package id 0", "cpu", 70.0)));
    assert_eq!(resolved.kind, EventKind::Resolved { auto: true });
    assert_eq!(resolved.duration_seconds, Some(240));
    assert!(hub.active(&key).is_none());
}

#[test]
fn each_sensor_kind_has_its_own_levels() {
    let mut hub = Hub::new();
    hub.rules.thresholds.temperature.sustained_seconds = 0;
    // 65 °C: too hot for a drive (60), ordinary for a CPU (85).
    let opened = only(hub.heartbeat(temperature("nvme/Composite", "drive", 65.0)));
    assert_eq!((opened.severity, opened.threshold_value), (Severity::High, 60.0));
    assert!(hub.heartbeat(temperature("k10temp/Tctl", "cpu", 65.0)).is_empty());
    // An unknown kind is judged as `other`.
    assert!(hub.heartbeat(temperature("x/y", "plasma", 79.0)).is_empty());
    assert_eq!(only(hub.heartbeat(temperature("x/y", "plasma", 80.0))).threshold_value, 80.0);
}

#[test]
fn gpus_and_sata_disks_report_temperatures_as_sensors() {
    let heartbeat: crate::heartbeat::HeartbeatRequest = serde_json::from_value(serde_json::json!({
        "server_id": "a", "hostname": "a", "timestamp": "2026-01-19T12:00:00Z",
        "temperatures": [{"sensor": "nvme/Composite", "kind": "drive", "celsius": 40.0}],
        "gpus": [{"id": "nvidia0", "vendor": "nvidia", "temperature_celsius": 71.0}, {"id": "card1", "vendor": "amd"}],
        "disk_health": [
            {"device": "/dev/sda", "protocol": "ata", "temperature_celsius": 38.0},
            {"device": "/dev/nvme0", "protocol": "nvme", "temperature_celsius": 40.0}
        ]
    }))
    .unwrap();
    let sensors: Vec<(String, String)> =
        engine::temperatures_of(&heartbeat).into_iter().map(|t| (t.sensor, t.kind)).collect();
    assert_eq!(
        sensors,
        [
            ("nvme/Composite".to_owned(), "drive".to_owned()),
            ("gpu/nvidia0".to_owned(), "gpu".to_owned()),
            ("disk/sda".to_owned(), "drive".to_owned())
        ]
    );
}

#[test]
fn a_watched_container_that_exits_alerts_follows_its_state_and_resolves_when_running() {
    let mut hub = watching(&["plex"]);
    let key = AlertKey::container("plex");
    assert!(hub.heartbeat(containers(&[("plex", container("running", Some("healthy"), None, 0))])).is_empty());

    hub.advance(mins(1));
    let opened = only(hub.heartbeat(containers(&[("plex", container("exited", None, Some(137), 0))])));
    assert_eq!(
        (opened.kind, opened.severity, opened.alert_type),
        (EventKind::Opened, Severity::High, AlertKind::Container)
    );
    assert_eq!(opened.title, "Container plex is exited (code 137) on nas.local");

    // Still down, now restarting: the alert's title follows, without a notification.
    hub.advance(mins(1));
    assert!(hub.heartbeat(containers(&[("plex", container("restarting", None, Some(137), 1))])).is_empty());
    assert_eq!(hub.updates.last().map(|e| e.title.as_str()), Some("Container plex is restarting on nas.local"));

    hub.advance(mins(1));
    let resolved = only(hub.heartbeat(containers(&[("plex", container("running", None, None, 1))])));
    assert_eq!(resolved.kind, EventKind::Resolved { auto: true });
    assert_eq!(resolved.title, "Container plex is running on nas.local");
    assert!(hub.active(&key).is_none());
}

#[test]
fn unhealthy_and_missing_watched_containers_alert_unwatched_ones_never_do() {
    let mut hub = watching(&["db", "web"]);
    let events = hub.heartbeat(containers(&[
        ("db", container("running", Some("unhealthy"), None, 0)),
        ("scratch", container("exited", None, Some(1), 0)),
    ]));
    let titles: Vec<&str> = events.iter().map(|e| e.title.as_str()).collect();
    assert_eq!(titles, ["Container db is unhealthy on nas.local", "Container web is missing on nas.local"]);
    assert_eq!(kinds(&events), [EventKind::Opened, EventKind::Opened]);

    // A heartbeat without a container list (no socket this time) changes nothing.
    hub.advance(mins(1));
    assert!(hub.heartbeat(HeartbeatSample::default()).is_empty());
    assert!(hub.active(&AlertKey::container("web")).is_some());

    // Unwatching closes its alert on the next container report.
    hub.server.watched_containers = vec!["db".into()];
    hub.advance(mins(1));
    let closed = only(hub.heartbeat(containers(&[("db", container("running", Some("unhealthy"), None, 0))])));
    assert_eq!((closed.kind, closed.key), (EventKind::Resolved { auto: true }, AlertKey::container("web")));
    assert_eq!(closed.message, "Container web on nas.local is no longer watched.");
}

#[test]
fn a_container_grace_period_lets_a_quick_restart_pass() {
    let mut hub = watching(&["plex"]);
    hub.rules.thresholds.service_grace_seconds = 90;
    assert!(hub.heartbeat(containers(&[("plex", container("exited", None, Some(0), 0))])).is_empty());
    hub.advance(secs(60));
    assert!(hub.heartbeat(containers(&[("plex", container("running", None, None, 0))])).is_empty());
    assert!(!hub.states.contains_key(&AlertKey::container("plex")), "back before the grace: nothing remembered");
    assert!(hub.heartbeat(containers(&[("plex", container("exited", None, Some(1), 0))])).is_empty());
    hub.advance(secs(90));
    assert_eq!(
        kinds(&hub.heartbeat(containers(&[("plex", container("exited", None, Some(1), 0))]))),
        [EventKind::Opened]
    );
}

#[test]
fn a_restart_loop_opens_on_three_restarts_in_ten_minutes_and_resolves_after_ten_quiet_ones() {
    let mut hub = watching(&["app"]);
    let key = AlertKey::restart_loop("app");
    for restarts in 0..3 {
        assert!(hub.heartbeat(containers(&[("app", container("running", None, None, restarts))])).is_empty());
        hub.advance(mins(2));
    }
    let opened = only(hub.heartbeat(containers(&[("app", container("running", None, None, 3))])));
    assert_eq!((opened.kind, opened.key.clone()), (EventKind::Opened, key.clone()));
    assert_eq!(opened.message, "Watched container app on nas.local restarted 3 times in 10 minutes.");

    hub.advance(mins(9));
    assert!(hub.heartbeat(containers(&[("app", container("running", None, None, 3))])).is_empty());
    hub.advance(mins(1));
    let resolved = only(hub.heartbeat(containers(&[("app", container("running", None, None, 3))])));
    assert_eq!((resolved.kind, resolved.key), (EventKind::Resolved { auto: true }, key));
}

#[test]
fn a_failing_smart_verdict_is_critical_at_once_and_new_bad_sectors_are_high_for_a_day() {
    let mut hub = Hub::new();
    let opened = only(hub.heartbeat(disk(Some(false), None)));
    assert_eq!(
        (opened.kind, opened.severity, opened.alert_type),
        (EventKind::Opened, Severity::Critical, AlertKind::DiskHealth)
    );
    assert_eq!(opened.key, AlertKey::disk_health("smart", "/dev/sda"));
    assert_eq!(opened.title, "Disk /dev/sda is failing on nas.local");
    hub.advance(mins(10));
    assert_eq!(only(hub.heartbeat(disk(Some(true), None))).kind, EventKind::Resolved { auto: true });

    // Counters: the first report is the baseline, any rise opens, a quiet day resolves.
    assert!(hub.heartbeat(disk(None, Some(8))).is_empty());
    hub.advance(mins(10));
    assert!(hub.heartbeat(disk(None, Some(8))).is_empty());
    let rose = only(hub.heartbeat(disk(None, Some(10))));
    assert_eq!((rose.kind, rose.severity), (EventKind::Opened, Severity::High));
    assert_eq!(rose.key, AlertKey::disk_health("sectors", "/dev/sda"));
    // Still open a day later, reminded on the high cooldown (4 h) like any high alert.
    hub.advance(mins(24 * 60) - secs(1));
    assert_eq!(kinds(&hub.heartbeat(disk(None, Some(10)))), [EventKind::Reminder]);
    hub.advance(secs(1));
    assert_eq!(only(hub.heartbeat(disk(None, Some(10)))).kind, EventKind::Resolved { auto: true });
}

#[test]
fn a_degraded_array_is_critical_rebuilding_is_high_and_clean_resolves() {
    let mut hub = Hub::new();
    let array = |state: &str| HeartbeatSample {
        raid_arrays: [("md0".to_owned(), state.to_owned())].into(),
        zfs_pools: [("tank".to_owned(), "ONLINE".to_owned())].into(),
        ..Default::default()
    };
    assert!(hub.heartbeat(array("clean")).is_empty());
    let opened = only(hub.heartbeat(array("degraded")));
    assert_eq!(
        (opened.severity, opened.title.as_str()),
        (Severity::Critical, "RAID array md0 is degraded on nas.local")
    );
    hub.advance(mins(5));
    let rebuilding = only(hub.heartbeat(array("rebuilding")));
    assert_eq!((rebuilding.kind, rebuilding.severity), (EventKind::DeEscalated, Severity::High));
    hub.advance(mins(60));
    assert_eq!(only(hub.heartbeat(array("clean"))).kind, EventKind::Resolved { auto: true });

    let pool = |health: &str| HeartbeatSample {
        zfs_pools: [("tank".to_owned(), health.to_owned())].into(),
        ..Default::default()
    };
    let degraded = only(hub.heartbeat(pool("DEGRADED")));
    assert_eq!((degraded.severity, degraded.key.clone()), (Severity::Critical, AlertKey::disk_health("zfs", "tank")));
    assert_eq!(only(hub.heartbeat(pool("ONLINE"))).kind, EventKind::Resolved { auto: true });
}

#[test]
fn maintenance_opens_none_of_them() {
    let mut hub = watching(&["plex"]);
    hub.server.is_paused = true;
    let mut sample = containers(&[("plex", container("exited", None, Some(1), 0))]);
    sample.disks_health = disk(Some(false), None).disks_health;
    sample.raid_arrays = [("md0".to_owned(), "degraded".to_owned())].into();
    assert!(hub.heartbeat(sample).is_empty());
}

#[test]
fn temperature_thresholds_validate_and_merge_by_field() {
    let mut update: ThresholdsUpdate = serde_json::from_value(
        serde_json::json!({"temperature": {"drive": {"high_celsius": 55}, "sustained_seconds": 60}}),
    )
    .unwrap();
    let merged = Thresholds::default().merge(&update).unwrap();
    assert_eq!(merged.updated, ["temperature.drive.high_celsius", "temperature.sustained_seconds"]);
    assert_eq!(merged.config.temperature.for_kind("drive").high_percent, 55);

    update = serde_json::from_value(serde_json::json!({"temperature": {"cpu": {"high_celsius": 99}}})).unwrap();
    let errors = Thresholds::default().merge(&update).unwrap_err().0;
    assert_eq!(
        crate::validate::FieldError::field_name(&errors[0].loc),
        "temperature.cpu.critical_celsius",
        "critical (95) must stay above high"
    );
    update = serde_json::from_value(serde_json::json!({"temperature": {"gpu": {"critical_celsius": 151}}})).unwrap();
    let errors = update.validate().unwrap_err().0;
    assert_eq!(crate::validate::FieldError::field_name(&errors[0].loc), "temperature.gpu.critical_celsius");
}
