//! The collectors on the machine running the tests: values must be present and sane.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::Utc;
use homelab_agent::collectors::os;
use homelab_agent::{AgentIdentity, Collector, CollectorConfig, SystemRoot};

#[test]
fn live_heartbeat_of_this_machine() {
    let root = SystemRoot::host();
    let hostname = os::read_hostname(&root).unwrap();
    let identity = AgentIdentity { server_id: os::server_id_from_hostname(&hostname), server_guid: None, hostname };
    let mut collector = Collector::new(root, CollectorConfig::default());
    assert_eq!(collector.prime(), []);
    // Enough for a few clock ticks (USER_HZ is 100) on every CPU.
    std::thread::sleep(Duration::from_millis(500));
    let collection = collector.collect(&identity, Utc::now());
    assert_eq!(collection.warnings, [], "every collector works here");
    let hb = collection.heartbeat;
    let m = hb.metrics.as_ref().unwrap();

    let cpu = m.cpu_percent.expect("CPU % after two samples");
    assert!((0.0..=100.0).contains(&cpu), "cpu {cpu}");
    assert!(m.memory_total_mb.unwrap() > 0);
    assert!(m.memory_used_mb.unwrap() <= m.memory_total_mb.unwrap());
    assert!((0.0..=100.0).contains(&m.memory_percent.unwrap()));
    assert!(m.disk_total_gb.unwrap() > 0.0);
    assert!((0.0..=100.0).contains(&m.disk_percent.unwrap()));
    assert!(m.uptime_seconds.unwrap() > 0);
    assert!(m.load_1m.unwrap() >= 0.0);

    let filesystems = hb.filesystems.as_deref().unwrap();
    assert!(filesystems.iter().any(|f| f.mount_point == "/"), "root file system missing from {filesystems:?}");
    assert!(filesystems.iter().all(|f| f.total_bytes > 0 && (0.0..=100.0).contains(&f.percent)));
    assert!(hb.network_interfaces.as_deref().unwrap().iter().all(|i| i.name != "lo"));

    let cpu_info = hb.cpu_info.as_ref().unwrap();
    assert!(cpu_info.cpu_cores.unwrap() >= 1);
    let os_info = hb.os_info.as_ref().unwrap();
    assert_eq!(
        os_info.architecture.as_deref(),
        Some(std::env::consts::ARCH).filter(|a| *a != "arm").or(Some("armv7l"))
    );
    assert!(os_info.kernel.is_some());

    hb.validate(Utc::now()).unwrap();
    serde_json::to_string(&hb).unwrap();
}

#[test]
fn live_services_never_fail_the_heartbeat() {
    let config = CollectorConfig {
        services: vec!["cron".into(), "homelabcmd-no-such-unit".into()],
        ..CollectorConfig::default()
    };
    let mut collector = Collector::new(SystemRoot::host(), config);
    let identity = AgentIdentity { server_id: "live".into(), server_guid: None, hostname: "live".into() };
    let services = collector.collect(&identity, Utc::now()).heartbeat.services.unwrap();
    assert_eq!(services.len(), 2);
    assert!(services.iter().all(|s| homelab_core::heartbeat::SERVICE_STATUSES.contains(&s.status.as_str())));
    assert_eq!(services[1].status, "unknown", "a missing unit is never `stopped`");
}
