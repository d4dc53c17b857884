//! Offline on time: an offline alert opens at the machine's own deadline (its last heartbeat plus
//! the timeout), which is also when the running check wakes up; and a hub back from downtime
//! gives every machine one heartbeat interval plus the timeout before any offline alert, so a
//! restart never raises an offline storm. Manual clock, stepped jobs.
use crate::common;

use chrono::Duration;
use common::{Backend, TestHub, heartbeat_body};
use homelab_core::status::HEARTBEAT_INTERVAL_SECONDS;
use reqwest::StatusCode;
use serde_json::json;

async fn beat(hub: &TestHub, server: &str) {
    let (status, body) = hub.heartbeat(heartbeat_body(server, hub.now(), 10.0)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn offline_alerts(hub: &TestHub) -> Vec<String> {
    let (status, body) = hub.get("/api/v1/alerts?status=open&limit=100").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut servers: Vec<String> = body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["alert_type"] == "offline")
        .map(|a| a["server_id"].as_str().unwrap().to_owned())
        .collect();
    servers.sort();
    servers
}

/// A 30 s timeout: the check is due exactly 30 s after the last heartbeat (not up to a scan
/// period later), and the alert opens then, not a millisecond before.
async fn an_offline_alert_opens_at_the_machines_deadline(backend: Backend) {
    let Some(hub) = TestHub::start(backend).await else { return };
    let (status, body) = hub.put("/api/v1/config/thresholds", json!({"server_offline_seconds": 30})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    hub.clock.advance(Duration::seconds(7));
    beat(&hub, "nas").await;
    let last_heartbeat = hub.now();
    hub.clock.advance(Duration::seconds(3));
    assert_eq!(hub.offline_check_due().await, last_heartbeat + Duration::seconds(30));
    hub.clock.set(last_heartbeat + Duration::seconds(30) - Duration::milliseconds(1));
    hub.step_offline_check().await;
    assert!(offline_alerts(&hub).await.is_empty());
    hub.clock.set(last_heartbeat + Duration::seconds(30));
    hub.step_offline_check().await;
    assert_eq!(offline_alerts(&hub).await, ["nas"]);
    hub.stop().await;
}

/// Ten machines report, the hub is down for ten minutes, then restarts: no offline alert until
/// one heartbeat interval plus the timeout after the restart; the nine that report every minute
/// from then on never get one, the one that does not gets one at the end of the grace, to the millisecond.
async fn a_hub_back_from_downtime_raises_no_offline_storm(backend: Backend) {
    // The database the hub and its restarted successor share.
    let Some((config, _dir)) = TestHub::config(backend).await else { return };
    let before = TestHub::start_with(config.clone(), tempfile::tempdir().unwrap()).await;
    let machines: Vec<String> = (0..10).map(|i| format!("node-{i}")).collect();
    for machine in &machines {
        beat(&before, machine).await;
    }
    let restart = before.now() + Duration::minutes(10);
    before.stop().await;

    let hub = TestHub::start_at(config, tempfile::tempdir().unwrap(), restart).await;
    hub.step_offline_check().await;
    assert!(offline_alerts(&hub).await.is_empty(), "silent for 10 minutes, but the hub was away");
    let (_, listed) = hub.get("/api/v1/servers").await;
    assert!(listed["servers"].as_array().unwrap().iter().all(|s| s["status"] == "online"), "{listed}");
    for round in 0..2 {
        for (i, machine) in machines.iter().enumerate().skip(1) {
            hub.clock.set(restart + Duration::seconds(60 * round + 5 * i as i64));
            beat(&hub, machine).await;
        }
    }
    let grace_ends = restart + Duration::seconds(HEARTBEAT_INTERVAL_SECONDS + 180);
    assert_eq!(hub.offline_check_due().await, hub.now() + Duration::seconds(30), "at most 30 s apart");
    hub.clock.set(grace_ends - Duration::seconds(10));
    assert_eq!(hub.offline_check_due().await, grace_ends, "node-0's deadline");
    hub.clock.set(grace_ends - Duration::milliseconds(1));
    hub.step_offline_check().await;
    assert!(offline_alerts(&hub).await.is_empty());
    hub.clock.set(grace_ends);
    hub.step_offline_check().await;
    assert_eq!(offline_alerts(&hub).await, ["node-0"]);
    hub.stop().await;
}

for_each_backend!(an_offline_alert_opens_at_the_machines_deadline, a_hub_back_from_downtime_raises_no_offline_storm);
