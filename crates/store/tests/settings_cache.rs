//! The alert rules are cached for heartbeats, and a change of thresholds reaches the next
//! heartbeat: at once for the store that made it (SQLite and PostgreSQL), and on PostgreSQL for
//! another hub on the same database as soon as it hears the change announced.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use homelab_core::alerts::thresholds::Thresholds;
use homelab_core::heartbeat::HeartbeatRequest;
use homelab_core::time::{self, Timestamp};
use homelab_store::{HeartbeatWrite, SettingsWatch, Store};
use serde_json::json;

fn at(minute: i64) -> Timestamp {
    time::parse("2026-01-19T12:00:00Z").unwrap() + chrono::Duration::minutes(minute)
}

/// Stores a heartbeat with the root disk at 70 % and says how many notifications it queued.
/// 70 % is below the default high level (80 %, immediate) and above the lowered one (60 %).
async fn disk_at_70(store: &Arc<dyn Store>, server: &str, minute: i64) -> usize {
    let request: HeartbeatRequest = serde_json::from_value(json!({
        "server_id": server,
        "hostname": format!("{server}.lan"),
        "timestamp": time::format(&at(minute)),
        "metrics": {"cpu_percent": 5.0, "memory_percent": 20.0, "disk_percent": 70.0},
    }))
    .unwrap();
    let write = HeartbeatWrite { request, peer_ip: None, authenticated_guid: None, received_at: at(minute) };
    store.ingest_heartbeat(write).await.unwrap().outbox_events
}

async fn lower_disk_high_to_60(store: &Arc<dyn Store>) {
    let change = Box::new(|mut thresholds: Thresholds| {
        thresholds.disk.high_percent = 60;
        Ok(thresholds)
    });
    store.update_thresholds(change, at(1)).await.unwrap();
}

/// The store that changes the rules judges its next heartbeat by them, though it had cached the
/// old ones for the heartbeat before.
async fn a_stores_own_change_reaches_its_next_heartbeat(store: Arc<dyn Store>) {
    assert_eq!(disk_at_70(&store, "nas", 0).await, 0, "70 % is fine by the defaults");
    lower_disk_high_to_60(&store).await;
    assert_eq!(disk_at_70(&store, "nas", 2).await, 1, "a high disk alert by the new level");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_own_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = homelab_store::testing::sqlite_store(dir.path()).await;
    assert!(matches!(store.settings_watch(), SettingsWatch::SoleWriter));
    a_stores_own_change_reaches_its_next_heartbeat(Arc::clone(&store)).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_own_change() {
    let Some((store, _url)) = homelab_store::testing::postgres_store().await else { return };
    a_stores_own_change_reaches_its_next_heartbeat(Arc::clone(&store)).await;
    store.close().await;
}

/// Waits (at most 10 s) until the store hears something other than `from`.
async fn heard(changes: &mut tokio::sync::watch::Receiver<Option<u64>>, from: Option<u64>) -> Option<u64> {
    let wait = changes.wait_for(|now| *now != from);
    let heard = tokio::time::timeout(Duration::from_secs(10), wait).await.expect("heard within 10 s").unwrap();
    *heard
}

/// Two hubs on one PostgreSQL: the second caches the rules, the first lowers a threshold, and the
/// second's next heartbeat, once it has heard the announcement, alerts by the new level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_another_hubs_change_is_heard() {
    let Some((changer, url)) = homelab_store::testing::postgres_store().await else { return };
    let cacher = homelab_store::open(&url, &homelab_store::OpenOptions::default()).await.unwrap();
    let SettingsWatch::Announced(mut changes) = cacher.settings_watch() else { panic!("PostgreSQL may be shared") };
    let listening = heard(&mut changes, None).await;

    assert_eq!(disk_at_70(&cacher, "nas", 0).await, 0, "70 % is fine by the defaults, now cached");
    assert_eq!(disk_at_70(&cacher, "nas", 1).await, 0, "still fine");
    lower_disk_high_to_60(&changer).await;
    assert!(heard(&mut changes, listening).await > listening, "the change was announced and heard");
    assert_eq!(disk_at_70(&cacher, "nas", 2).await, 1, "judged by the level the other hub set");

    cacher.close().await;
    changer.close().await;
}
