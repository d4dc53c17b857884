//! One behavioural suite for the [`Store`] contract, run against SQLite and PostgreSQL.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::Duration;
use homelab_core::alerts::{AlertKind, AlertStatus, NotificationSettings, Severity, Thresholds};
use homelab_core::heartbeat::HeartbeatRequest;
use homelab_core::history::{HistoryRange, MetricKind, RetentionPolicy, Tier};
use homelab_core::notify::Grouping;
use homelab_core::server::{NewServer, ServerUpdate};
use homelab_core::status::ServerStatus;
use homelab_core::time::{self, Timestamp};
use homelab_store::{
    AlertFilter, Change, Channel, ChannelEvents, ClaimedMessage, DeliveryOutcome, EventRoute, ExpectedServiceUpdate,
    HeartbeatWrite, HistoryQuery, Lease, NewCredential, NewExpectedService, NewRegistrationToken, ServiceStatusReport,
    Store, StoreError, TokenClaim,
};
use serde_json::{Value, json};

const GUID: &str = "3f2b8a1e-9c4d-4e5f-8a6b-7c8d9e0f1a2b";
const OTHER_GUID: &str = "11111111-2222-4333-8444-555555555555";

fn t(text: &str) -> Timestamp {
    time::parse(text).unwrap()
}

fn heartbeat(server_id: &str, ts: Timestamp, cpu: f64) -> HeartbeatRequest {
    serde_json::from_value(json!({
        "server_id": server_id,
        "hostname": format!("{server_id}.home.lan"),
        "timestamp": time::format(&ts),
        "metrics": {"cpu_percent": cpu, "memory_percent": 50.0, "disk_percent": 70.0, "memory_total_mb": 8000},
        "os_info": {"distribution": "Debian GNU/Linux", "version": "12", "kernel": "6.1.0", "architecture": "x86_64"},
        "cpu_info": {"cpu_model": "Intel N100", "cpu_cores": 4},
        "filesystems": [{"mount_point": "/", "device": "/dev/sda1", "fs_type": "ext4", "total_bytes": 1000, "used_bytes": 700, "available_bytes": 300, "percent": 70.0}],
        "network_interfaces": [{"name": "eth0", "rx_bytes": 10, "tx_bytes": 20, "rx_packets": 1, "tx_packets": 2, "is_up": true}],
        "services": [{"name": "plex", "status": "running", "cpu_percent": 250.0}]
    }))
    .unwrap()
}

fn write(request: HeartbeatRequest, received_at: Timestamp) -> HeartbeatWrite {
    HeartbeatWrite { request, peer_ip: Some("192.0.2.7".into()), authenticated_guid: None, received_at }
}

fn new_server(id: &str) -> NewServer {
    serde_json::from_value(json!({"id": id, "hostname": format!("{id}.lan")})).unwrap()
}

async fn servers_crud(store: Arc<dyn Store>) {
    let now = t("2026-01-19T12:00:00Z");
    let created = store.create_server(&new_server("nas"), now).await.unwrap();
    assert_eq!((created.status.as_str(), created.machine_type.as_str()), ("unknown", "server"));
    assert_eq!(created.assigned_packs, Some(vec!["base".to_owned()]));
    assert!(matches!(store.create_server(&new_server("nas"), now).await, Err(StoreError::Conflict(_))));
    store.create_server(&new_server("pi"), now).await.unwrap();

    let update: ServerUpdate = serde_json::from_value(json!({"display_name": "The NAS", "tdp_watts": 30})).unwrap();
    let later = now + Duration::minutes(1);
    let updated = store.update_server("nas", &update, later).await.unwrap();
    assert_eq!((updated.display_name.as_deref(), updated.tdp_watts), (Some("The NAS"), Some(30)));
    assert_eq!(updated.updated_at, later);
    assert_eq!(updated.hostname, "nas.lan", "keys not sent are left alone");
    let clear: ServerUpdate = serde_json::from_value(json!({"display_name": null})).unwrap();
    assert_eq!(store.update_server("nas", &clear, later).await.unwrap().display_name, None);
    assert!(matches!(store.update_server("nope", &clear, later).await, Err(StoreError::NotFound(_))));

    let paused = store.set_paused("nas", true, later).await.unwrap();
    assert!(paused.is_paused);
    assert_eq!(paused.paused_at, Some(later));
    let resumed = store.set_paused("nas", false, later).await.unwrap();
    assert!(!resumed.is_paused && resumed.paused_at.is_none());

    let ids: Vec<String> = store.list_servers().await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(ids, ["nas", "pi"]);
    store.delete_server("pi").await.unwrap();
    assert!(matches!(store.get_server("pi").await, Err(StoreError::NotFound(_))));
    assert!(matches!(store.delete_server("pi").await, Err(StoreError::NotFound(_))));
}

/// PostgreSQL's TEXT cannot hold a NUL; both backends refuse it alike, before any write, and
/// a lookup by such an id is refused rather than failing inside the database.
async fn nul_text_is_refused_alike(store: Arc<dyn Store>) {
    let ts = t("2026-01-19T12:00:00Z");
    store.ingest_heartbeat(write(heartbeat("media", ts, 10.0), ts)).await.unwrap();
    let mut bad = heartbeat("media", ts + Duration::minutes(1), 99.0);
    bad.os_info.as_mut().unwrap().distribution = Some("Debian\0".into());
    let refused = store.ingest_heartbeat(write(bad, ts + Duration::minutes(1))).await;
    assert!(matches!(refused, Err(StoreError::Rejected(_))), "{refused:?}");
    let server = store.get_server("media").await.unwrap();
    assert_eq!(server.os_distribution.as_deref(), Some("Debian GNU/Linux"), "nothing of the refused unit was kept");
    assert_eq!(server.metrics().and_then(|m| m.cpu_percent), Some(10.0));
    assert!(matches!(store.get_server("me\0dia").await, Err(StoreError::Rejected(_))));
    let update: ServerUpdate = serde_json::from_value(json!({"display_name": "a\0b"})).unwrap();
    assert!(matches!(store.update_server("media", &update, ts).await, Err(StoreError::Rejected(_))));
}

async fn heartbeat_registers_then_updates(store: Arc<dyn Store>) {
    let ts = t("2026-01-19T12:00:00Z");
    let mut first = heartbeat("media", ts, 12.5);
    first.server_guid = Some(GUID.into());
    let outcome = store.ingest_heartbeat(write(first.clone(), ts)).await.unwrap();
    assert!(outcome.server_registered);
    let again = store
        .ingest_heartbeat(write(heartbeat("media", ts + Duration::minutes(1), 20.0), ts + Duration::minutes(1)))
        .await
        .unwrap();
    assert!(!again.server_registered);

    let server = store.get_server("media").await.unwrap();
    assert_eq!(server.status, ServerStatus::Online);
    assert_eq!(server.guid.as_deref(), Some(GUID));
    assert_eq!(server.last_seen, Some(ts + Duration::minutes(1)));
    assert_eq!(server.ip_address.as_deref(), Some("192.0.2.7"));
    assert_eq!(server.os_distribution.as_deref(), Some("Debian GNU/Linux"));
    assert_eq!((server.cpu_model.as_deref(), server.cpu_cores), (Some("Intel N100"), Some(4)));
    assert_eq!(server.metrics().and_then(|m| m.cpu_percent), Some(20.0));
    assert_eq!(server.filesystem_reports().len(), 1);
    assert_eq!(server.interface_reports()[0].name, "eth0");

    // A replayed older heartbeat is stored in history but does not roll the snapshot back.
    store
        .ingest_heartbeat(write(heartbeat("media", ts - Duration::minutes(5), 99.0), ts + Duration::minutes(2)))
        .await
        .unwrap();
    let server = store.get_server("media").await.unwrap();
    assert_eq!(server.metrics().and_then(|m| m.cpu_percent), Some(20.0));
    // Replaying the very same heartbeat is idempotent.
    store.ingest_heartbeat(write(first, ts + Duration::minutes(3))).await.unwrap();
    let history = cpu_history(&store, "media", ts - Duration::hours(1), ts + Duration::hours(1)).await;
    assert_eq!(history, [(ts - Duration::minutes(5), 99.0), (ts, 12.5), (ts + Duration::minutes(1), 20.0)]);
}

async fn cpu_history(store: &Arc<dyn Store>, id: &str, from: Timestamp, to: Timestamp) -> Vec<(Timestamp, f64)> {
    let query =
        HistoryQuery { metrics: vec![MetricKind::CpuPercent], from, to, source: Tier::Raw, bucket_millis: None };
    let series = store.history(id, &query).await.unwrap();
    series.into_iter().flat_map(|s| s.points).map(|p| (time::from_millis(p.ts), p.avg)).collect()
}

async fn guid_rules(store: Arc<dyn Store>) {
    let ts = t("2026-01-19T12:00:00Z");
    store.create_server(&new_server("manual"), ts).await.unwrap();
    let mut hb = heartbeat("manual", ts, 1.0);
    hb.server_guid = Some(GUID.into());
    store.ingest_heartbeat(write(hb.clone(), ts)).await.unwrap();
    assert_eq!(store.get_server("manual").await.unwrap().guid.as_deref(), Some(GUID), "adopts the agent's GUID");

    let mut other = heartbeat("manual", ts, 1.0);
    other.server_guid = Some(OTHER_GUID.into());
    let err = store.ingest_heartbeat(write(other, ts)).await.unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(m) if m.contains("different GUID")), "{err}");

    let mut moved = heartbeat("elsewhere", ts, 1.0);
    moved.server_guid = Some(GUID.into());
    let err = store.ingest_heartbeat(write(moved, ts)).await.unwrap_err();
    assert!(matches!(&err, StoreError::Conflict(m) if m.contains("belongs to server 'manual'")), "{err}");
    assert!(matches!(store.get_server("elsewhere").await, Err(StoreError::NotFound(_))), "no orphan server");

    // A per-agent token writes only its own server.
    let mut foreign = write(heartbeat("victim", ts, 1.0), ts);
    foreign.authenticated_guid = Some(GUID.into());
    assert!(matches!(store.ingest_heartbeat(foreign).await, Err(StoreError::Forbidden(_))));
    let mut own = write(heartbeat("manual", ts, 1.0), ts);
    own.authenticated_guid = Some(GUID.into());
    store.ingest_heartbeat(own).await.unwrap();
}

async fn packages_are_replaced_only_when_sent(store: Arc<dyn Store>) {
    let ts = t("2026-01-19T12:00:00Z");
    let mut hb = heartbeat("pkgs", ts, 1.0);
    hb.packages = serde_json::from_value(json!([
        {"name": "zlib", "current_version": "1", "new_version": "2", "repository": "bookworm", "is_security": false},
        {"name": "openssl", "current_version": "3.0.1", "new_version": "3.0.2", "repository": "bookworm-security", "is_security": true},
        {"name": "zlib", "current_version": "1", "new_version": "3", "repository": "bookworm", "is_security": false}
    ]))
    .unwrap();
    store.ingest_heartbeat(write(hb, ts)).await.unwrap();
    let packages = store.list_packages("pkgs").await.unwrap();
    let summary: Vec<(&str, &str, bool)> =
        packages.iter().map(|p| (p.name.as_str(), p.new_version.as_str(), p.is_security)).collect();
    assert_eq!(summary, [("openssl", "3.0.2", true), ("zlib", "3", false)], "sorted, last duplicate wins");

    store.ingest_heartbeat(write(heartbeat("pkgs", ts, 1.0), ts)).await.unwrap();
    assert_eq!(store.list_packages("pkgs").await.unwrap().len(), 2, "absent list keeps packages");
    let mut empty = heartbeat("pkgs", ts, 1.0);
    empty.packages = Some(Vec::new());
    store.ingest_heartbeat(write(empty, ts)).await.unwrap();
    assert!(store.list_packages("pkgs").await.unwrap().is_empty(), "an empty list clears them");
    assert!(matches!(store.list_packages("ghost").await, Err(StoreError::NotFound(_))));
}

async fn deleting_a_server_removes_its_history(store: Arc<dyn Store>) {
    let ts = t("2026-01-19T12:00:00Z");
    let mut hb = heartbeat("gone", ts, 42.0);
    hb.server_guid = Some(GUID.into());
    store.ingest_heartbeat(write(hb, ts)).await.unwrap();
    store.delete_server("gone").await.unwrap();
    store.ingest_heartbeat(write(heartbeat("gone", ts + Duration::minutes(1), 7.0), ts)).await.unwrap();
    let history = cpu_history(&store, "gone", ts - Duration::hours(1), ts + Duration::hours(1)).await;
    assert_eq!(history, [(ts + Duration::minutes(1), 7.0)], "the old server's samples went with it");
}

/// Heartbeats every 10 minutes for ten days from `start`, with cpu = the hour of the day.
async fn ten_days_of_hourly_cpu(store: &Arc<dyn Store>, id: &str, start: Timestamp) {
    for step in 0..10 * 24 * 6 {
        let ts = start + Duration::minutes(10 * step);
        let cpu = f64::from(ts.format("%H").to_string().parse::<u32>().unwrap());
        store.ingest_heartbeat(write(heartbeat(id, ts, cpu), ts)).await.unwrap();
    }
}

/// The 30-day chart's query for cpu, ending at `now`.
fn month_of_cpu(now: Timestamp) -> HistoryQuery {
    let month = HistoryRange::Month;
    HistoryQuery {
        metrics: vec![MetricKind::CpuPercent],
        from: now - month.window(),
        to: now,
        source: month.source_tier(),
        bucket_millis: month.bucket_millis(),
    }
}

/// Ten days of heartbeats every 10 minutes (cpu = hour of day), then retention with raw kept
/// for 7 days: the 30-day chart must still cover all ten days, hour by hour, exactly.
async fn tiers_merge_without_holes(store: Arc<dyn Store>) {
    let start = t("2026-01-01T00:00:00Z");
    ten_days_of_hourly_cpu(&store, "hist", start).await;
    let now = start + Duration::days(10);
    let policy = RetentionPolicy::default();
    let report = store.run_retention(&policy, now).await.unwrap();
    assert!(report.raw_deleted > 0, "{report:?}");
    assert!(report.five_minute_buckets_written > 0 && report.hourly_buckets_written > 0, "{report:?}");

    let query = month_of_cpu(now);
    let check = |series: Vec<homelab_store::SeriesData>| {
        let points = &series[0].points;
        assert_eq!(points.len(), 240, "one bucket per hour for ten days");
        for (index, point) in points.iter().enumerate() {
            assert_eq!(point.ts, time::to_millis(&(start + Duration::hours(index as i64))));
            assert_eq!(point.avg, (index % 24) as f64, "hour {index}");
            assert_eq!(point.count, 6);
        }
    };
    check(store.history("hist", &query).await.unwrap());

    // Idempotent: a second run changes nothing visible and deletes nothing more.
    let again = store.run_retention(&policy, now).await.unwrap();
    assert_eq!((again.raw_deleted, again.five_minute_deleted, again.hourly_deleted), (0, 0, 0));
    check(store.history("hist", &query).await.unwrap());

    // The last day is still raw, the first day only exists in rollups.
    let raw = cpu_history(&store, "hist", start, now).await;
    assert_eq!(raw.first().map(|p| p.0), Some(now - Duration::days(7)));

    // A late sample (a replayed spool) lands in a bucket that was already rolled up; the next
    // run recomputes that bucket.
    let late_ts = now - Duration::days(2) + Duration::minutes(5);
    store.ingest_heartbeat(write(heartbeat("hist", late_ts, 100.0), now)).await.unwrap();
    store.run_retention(&policy, now + Duration::minutes(5)).await.unwrap();
    let series = store.history("hist", &query).await.unwrap();
    let bucket = series[0].points.iter().find(|p| p.ts == time::to_millis(&(now - Duration::days(2)))).unwrap();
    assert_eq!(bucket.count, 7);
    assert_eq!(bucket.max, 100.0);
}

async fn registration_tokens_and_credentials(store: Arc<dyn Store>) {
    let now = t("2026-01-19T12:00:00Z");
    let token = |hash: &str, expires: Timestamp| NewRegistrationToken {
        token_hash: hash.into(),
        token_prefix: "hlh_rt_abcdefghi".into(),
        mode: "readonly".into(),
        display_name: Some("Kitchen Pi".into()),
        monitored_services: Some(vec!["docker".into()]),
        expires_at: expires,
        created_at: now,
    };
    let live = store.create_registration_token(&token("h1", now + Duration::minutes(15))).await.unwrap();
    store.create_registration_token(&token("h2", now - Duration::minutes(1))).await.unwrap();
    let listed = store.list_registration_tokens(now).await.unwrap();
    assert_eq!(listed.iter().map(|t| t.id).collect::<Vec<_>>(), [live.id], "expired tokens are not listed");

    let claim = |hash: &str| TokenClaim {
        token_hash: hash.into(),
        server_id: "kitchen-pi".into(),
        hostname: "kitchen-pi".into(),
        server_guid: GUID.into(),
        credential: NewCredential { token_hash: "cred1".into(), token_prefix: "hlh_ag_3f2b8a1e_ab".into() },
        now,
    };
    assert!(
        matches!(store.claim_registration_token(&claim("nope")).await, Err(StoreError::Rejected(m)) if m == "Invalid token")
    );
    assert!(
        matches!(store.claim_registration_token(&claim("h2")).await, Err(StoreError::Rejected(m)) if m == "Token has expired")
    );
    let claimed = store.claim_registration_token(&claim("h1")).await.unwrap();
    assert_eq!((claimed.server_guid.as_str(), claimed.monitored_services), (GUID, Some(vec!["docker".to_owned()])));
    let server = store.get_server("kitchen-pi").await.unwrap();
    assert_eq!((server.display_name.as_deref(), server.status.as_str()), (Some("Kitchen Pi"), "unknown"));
    assert!(
        matches!(store.claim_registration_token(&claim("h1")).await, Err(StoreError::Rejected(m)) if m.contains("already been claimed"))
    );
    assert!(matches!(store.delete_registration_token(live.id).await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.delete_registration_token(9999).await, Err(StoreError::NotFound(_))));

    let credential = store.active_credential(GUID).await.unwrap().unwrap();
    assert_eq!((credential.server_id.as_str(), credential.token_hash.as_str()), ("kitchen-pi", "cred1"));
    let rotated = NewCredential { token_hash: "cred2".into(), token_prefix: "p2".into() };
    store.rotate_credential(GUID, &rotated, now).await.unwrap();
    assert_eq!(store.active_credential(GUID).await.unwrap().unwrap().token_hash, "cred2");
    store.revoke_credential(GUID, now).await.unwrap();
    assert!(store.active_credential(GUID).await.unwrap().is_none());
    assert_eq!(store.credential_info(GUID).await.unwrap().revoked_at, Some(now));
    assert!(matches!(store.revoke_credential(GUID, now).await, Err(StoreError::NotFound(_))));

    let mut used = write(heartbeat("kitchen-pi", now, 1.0), now);
    used.authenticated_guid = Some(GUID.into());
    store.ingest_heartbeat(used).await.unwrap();
    store.delete_server("kitchen-pi").await.unwrap();
    assert!(matches!(store.credential_info(GUID).await, Err(StoreError::NotFound(_))), "credentials cascade");
}

async fn concurrent_heartbeats_all_commit(store: Arc<dyn Store>) {
    let ts = t("2026-01-19T12:00:00Z");
    let mut tasks = Vec::new();
    for index in 0..200 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let server = format!("node-{}", index % 20);
            let at = ts + Duration::seconds(index);
            store.ingest_heartbeat(write(heartbeat(&server, at, index as f64 % 100.0), at)).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(store.list_servers().await.unwrap().len(), 20);
    let history = cpu_history(&store, "node-3", ts - Duration::hours(1), ts + Duration::hours(1)).await;
    assert_eq!(history.len(), 10);
}

// ---- Alerts ----------------------------------------------------------------------------------

fn all_alerts() -> AlertFilter {
    AlertFilter { limit: 100, ..Default::default() }
}

/// Containers, sensors, disks and GPUs: each key's latest report is kept until a heartbeat
/// carries that key again; a watched container that exits opens a `container` alert (a kind
/// the database must accept), "watch all" picks up what runs, and series are charted.
async fn inventory_keeps_each_key_and_watched_containers_alert(store: Arc<dyn Store>) {
    let t0 = t("2026-01-19T12:00:00Z");
    let with_keys = |at: Timestamp, plex_state: &str| {
        let mut hb = heartbeat("nas", at, 10.0);
        hb.containers = Some(
            serde_json::from_value(json!([
                {"id": "a1", "name": "plex", "image": "plexinc/pms", "state": plex_state, "cpu_percent": 12.5, "compose_project": "media"},
                {"id": "b2", "name": "db", "image": "postgres:16", "state": "running", "health": "healthy"}
            ]))
            .unwrap(),
        );
        hb.temperatures = Some(
            serde_json::from_value(json!([{"sensor": "coretemp/Package id 0", "kind": "cpu", "celsius": 48.0}]))
                .unwrap(),
        );
        hb.disk_health =
            Some(serde_json::from_value(json!([{"device": "/dev/sda", "protocol": "ata", "passed": true}])).unwrap());
        hb
    };
    store.ingest_heartbeat(write(with_keys(t0, "running"), t0)).await.unwrap();
    let inventory = store.inventory("nas").await.unwrap();
    assert_eq!(inventory.container_counts(), Some((2, 2)));
    assert_eq!(inventory.hottest(), Some(("coretemp/Package id 0".to_owned(), 48.0)));
    assert_eq!((inventory.gpus, inventory.updated_at), (None, Some(t0)));
    assert!(inventory.watched_containers.is_empty());

    // A heartbeat without the keys keeps them; an unwatched container that exits raises nothing.
    let t1 = t0 + Duration::minutes(1);
    beat(&store, "nas", t1, 10.0).await;
    assert_eq!(store.inventory("nas").await.unwrap().container_counts(), Some((2, 2)));
    let t2 = t0 + Duration::minutes(2);
    store.ingest_heartbeat(write(with_keys(t2, "exited"), t2)).await.unwrap();
    assert_eq!(store.list_alerts(&all_alerts()).await.unwrap().total, 0);

    // Watch all: what runs is watched at once; plex, exited, is not.
    let watching = store.set_watch_all_containers("nas", true, t2).await.unwrap();
    assert_eq!((watching.watch_all_containers, watching.watched_containers.clone()), (true, vec!["db".to_owned()]));
    let watching = store.set_container_watched("nas", "plex", true, t2).await.unwrap();
    assert_eq!(watching.watched_containers, ["db", "plex"]);
    assert_eq!(watching.watched_containers_down(), ["plex"]);

    let t3 = t0 + Duration::minutes(3);
    store.ingest_heartbeat(write(with_keys(t3, "exited"), t3)).await.unwrap();
    let page = store.list_alerts(&all_alerts()).await.unwrap();
    assert_eq!(page.total, 1);
    assert_eq!((page.alerts[0].alert_type, page.alerts[0].severity), (AlertKind::Container, Severity::High));
    assert_eq!(page.alerts[0].title, "Container plex is exited on nas.home.lan");

    let t4 = t0 + Duration::minutes(4);
    store.ingest_heartbeat(write(with_keys(t4, "running"), t4)).await.unwrap();
    let page = store.list_alerts(&all_alerts()).await.unwrap();
    assert_eq!(page.alerts[0].status, AlertStatus::Resolved);

    let unwatched = store.set_container_watched("nas", "plex", false, t4).await.unwrap();
    assert_eq!(unwatched.watched_containers, ["db"]);
    assert!(matches!(store.set_container_watched("nope", "plex", true, t4).await, Err(StoreError::NotFound(_))));

    let query = HistoryQuery {
        metrics: vec![MetricKind::TemperatureCelsius, MetricKind::ContainerCpuPercent],
        from: t0,
        to: t4 + Duration::minutes(1),
        source: Tier::Raw,
        bucket_millis: None,
    };
    let series = store.history("nas", &query).await.unwrap();
    let subjects: Vec<(MetricKind, &str, usize)> =
        series.iter().map(|s| (s.metric, s.subject.as_str(), s.points.len())).collect();
    assert!(subjects.contains(&(MetricKind::TemperatureCelsius, "coretemp/Package id 0", 4)), "{subjects:?}");
    assert!(subjects.contains(&(MetricKind::ContainerCpuPercent, "plex", 4)), "{subjects:?}");
    let all = store.all_inventories().await.unwrap();
    assert_eq!(all.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["nas"]);
}

async fn beat(store: &Arc<dyn Store>, id: &str, at: Timestamp, cpu: f64) {
    store.ingest_heartbeat(write(heartbeat(id, at, cpu), at)).await.unwrap();
}

/// CPU at 90 % (high 85, sustained 180 s) every minute: nothing for three minutes, then exactly
/// one high alert and one outbox event, however many heartbeats follow.
async fn sustained_cpu_breach_opens_one_alert(store: Arc<dyn Store>) {
    let t0 = t("2026-01-19T12:00:00Z");
    for minute in 0..3 {
        beat(&store, "busy", t0 + Duration::minutes(minute), 90.0).await;
        assert_eq!(store.list_alerts(&all_alerts()).await.unwrap().total, 0, "minute {minute}");
    }
    let pending = store.pending_breaches(t0 + Duration::seconds(150)).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!((pending[0].server_id.as_str(), pending[0].breach.key.kind), ("busy", AlertKind::Cpu));
    assert_eq!((pending[0].breach.elapsed_seconds, pending[0].breach.time_until_alert), (150, 30));

    for minute in 3..6 {
        beat(&store, "busy", t0 + Duration::minutes(minute), 90.0).await;
    }
    let page = store.list_alerts(&all_alerts()).await.unwrap();
    assert_eq!(page.total, 1);
    let alert = &page.alerts[0];
    assert_eq!((alert.alert_type, alert.severity, alert.status), (AlertKind::Cpu, Severity::High, AlertStatus::Open));
    assert_eq!(alert.title, "High CPU usage on busy.home.lan (90%)");
    assert_eq!((alert.threshold_value, alert.actual_value), (Some(85.0), Some(90.0)));
    assert_eq!(alert.created_at, t0 + Duration::minutes(3));
    assert!(store.pending_breaches(t0 + Duration::minutes(6)).await.unwrap().is_empty());

    let outbox = store.outbox(10).await.unwrap();
    assert_eq!(outbox.len(), 1, "{outbox:#?}");
    assert_eq!((outbox[0].kind.as_str(), outbox[0].status.as_str()), ("opened", "pending"));
    assert_eq!(outbox[0].alert_id, Some(alert.id));
    assert_eq!(outbox[0].event.alert_id, Some(alert.id));

    let server = store.get_server("busy").await.unwrap();
    assert_eq!(server.active_alert_count, 1);
    assert_eq!(server.active_alert_summaries, std::slice::from_ref(&alert.title));
    let listed = store.list_servers().await.unwrap();
    assert_eq!(listed[0].active_alert_count, 1);

    // Escalation updates the same row.
    beat(&store, "busy", t0 + Duration::minutes(7), 97.0).await;
    let page = store.list_alerts(&all_alerts()).await.unwrap();
    assert_eq!((page.total, page.alerts[0].severity), (1, Severity::Critical));
    assert_eq!(store.outbox(10).await.unwrap()[0].kind, "escalated");
}

/// The rules a heartbeat is judged by are the ones saved last: SQLite keeps them cached
/// between heartbeats, and an update must reach the very next heartbeat, either way.
async fn a_heartbeat_after_a_threshold_change_is_judged_by_the_new_thresholds(store: Arc<dyn Store>) {
    let t0 = t("2026-01-19T12:00:00Z");
    let breaches = async |at| store.pending_breaches(at).await.unwrap().len();
    beat(&store, "warm", t0, 80.0).await;
    beat(&store, "warm", t0 + Duration::minutes(1), 80.0).await;
    assert_eq!(breaches(t0 + Duration::minutes(1)).await, 0, "80 % is below the default 85 %");

    let lower: Change<Thresholds> = Box::new(|mut thresholds| {
        thresholds.cpu.high_percent = 70;
        Ok(thresholds)
    });
    store.update_thresholds(lower, t0).await.unwrap();
    beat(&store, "warm", t0 + Duration::minutes(2), 80.0).await;
    assert_eq!(breaches(t0 + Duration::minutes(2)).await, 1, "80 % breaches the new 70 %");

    let refused: Change<Thresholds> = Box::new(|_| Err(StoreError::Rejected("no".into())));
    assert!(store.update_thresholds(refused, t0).await.is_err());
    let quieter: Change<NotificationSettings> = Box::new(|mut settings| {
        settings.cooldowns.high_minutes = 30;
        Ok(settings)
    });
    store.update_notification_settings(quieter, t0).await.unwrap();
    beat(&store, "warm", t0 + Duration::minutes(3), 80.0).await;
    assert_eq!(breaches(t0 + Duration::minutes(3)).await, 1, "a refused change and other settings keep 70 %");

    let back: Change<Thresholds> = Box::new(|mut thresholds| {
        thresholds.cpu.high_percent = 85;
        Ok(thresholds)
    });
    store.update_thresholds(back, t0).await.unwrap();
    beat(&store, "warm", t0 + Duration::minutes(4), 80.0).await;
    assert_eq!(breaches(t0 + Duration::minutes(4)).await, 0, "back to 85 %: the breach is over");
}

async fn acknowledged_alerts_still_auto_resolve(store: Arc<dyn Store>) {
    let t0 = t("2026-01-19T12:00:00Z");
    for minute in 0..4 {
        beat(&store, "ack", t0 + Duration::minutes(minute), 90.0).await;
    }
    let id = store.list_alerts(&all_alerts()).await.unwrap().alerts[0].id;
    let at = t0 + Duration::minutes(5);
    let acked = store.acknowledge_alert(id, at).await.unwrap();
    assert_eq!((acked.status, acked.acknowledged_at), (AlertStatus::Acknowledged, Some(at)));
    let again = store.acknowledge_alert(id, at + Duration::minutes(1)).await.unwrap();
    assert_eq!(again.acknowledged_at, Some(at), "idempotent: keeps the first time");
    assert_eq!(store.get_server("ack").await.unwrap().active_alert_count, 0, "v1 counts open alerts only");

    beat(&store, "ack", t0 + Duration::minutes(6), 40.0).await;
    let resolved = store.get_alert(id).await.unwrap();
    assert_eq!((resolved.status, resolved.auto_resolved), (AlertStatus::Resolved, true));
    assert_eq!(resolved.resolved_at, Some(t0 + Duration::minutes(6)));
    let kinds: Vec<String> = store.outbox(10).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["resolved", "opened"], "acknowledgements do not notify");

    assert!(matches!(store.acknowledge_alert(id, at).await, Err(StoreError::Rejected(_))));
    assert!(store.resolve_alert(id, at).await.unwrap().auto_resolved, "resolve is idempotent");
    assert!(matches!(store.get_alert(9999).await, Err(StoreError::NotFound(_))));
}

/// While an alert stays active its row says what was last observed (title and actual value),
/// without a notification; inside the hysteresis margin it resolves after the clear period.
async fn an_alert_row_follows_the_value_and_resolves_after_the_clear_period(store: Arc<dyn Store>) {
    let t0 = t("2026-01-19T12:00:00Z");
    for minute in 0..4 {
        beat(&store, "warm", t0 + Duration::minutes(minute), 90.0).await;
    }
    beat(&store, "warm", t0 + Duration::minutes(4), 83.0).await;
    let alert = store.list_alerts(&all_alerts()).await.unwrap().alerts.remove(0);
    assert_eq!(alert.status, AlertStatus::Open, "83 with high 85 is inside the margin");
    assert_eq!(alert.title, "High CPU usage on warm.home.lan (83%)");
    assert_eq!((alert.threshold_value, alert.actual_value), (Some(85.0), Some(83.0)));
    let kinds: Vec<String> = store.outbox(10).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["opened"], "an update notifies nobody");

    beat(&store, "warm", t0 + Duration::minutes(5), 83.0).await;
    assert_eq!(store.get_alert(alert.id).await.unwrap().status, AlertStatus::Open);
    beat(&store, "warm", t0 + Duration::minutes(6), 82.0).await;
    let resolved = store.get_alert(alert.id).await.unwrap();
    assert_eq!((resolved.status, resolved.resolved_at), (AlertStatus::Resolved, Some(t0 + Duration::minutes(6))));
    let kinds: Vec<String> = store.outbox(10).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["resolved", "opened"]);
}

async fn manual_resolve_lets_a_new_alert_open(store: Arc<dyn Store>) {
    let t0 = t("2026-01-19T12:00:00Z");
    for minute in 0..4 {
        beat(&store, "man", t0 + Duration::minutes(minute), 99.0).await;
    }
    let first = store.list_alerts(&all_alerts()).await.unwrap().alerts[0].clone();
    assert_eq!(first.severity, Severity::Critical, "opens critical when already above critical");
    let resolved = store.resolve_alert(first.id, t0 + Duration::minutes(4)).await.unwrap();
    assert_eq!((resolved.status, resolved.auto_resolved), (AlertStatus::Resolved, false));
    for minute in 5..9 {
        beat(&store, "man", t0 + Duration::minutes(minute), 99.0).await;
    }
    let page = store.list_alerts(&all_alerts()).await.unwrap();
    assert_eq!(page.total, 2);
    assert_ne!(page.alerts[0].id, first.id);
    assert_eq!(page.alerts[0].status, AlertStatus::Open);

    let open = AlertFilter { status: Some("open".into()), ..all_alerts() };
    assert_eq!(store.list_alerts(&open).await.unwrap().total, 1);
    let window = AlertFilter { to: Some(t0 + Duration::minutes(4)), ..all_alerts() };
    assert_eq!(store.list_alerts(&window).await.unwrap().alerts[0].id, first.id);
    let paged = AlertFilter { limit: 1, offset: 1, ..all_alerts() };
    let page = store.list_alerts(&paged).await.unwrap();
    assert_eq!((page.total, page.alerts.len(), page.alerts[0].id), (2, 1, first.id));
    let disk = AlertFilter { alert_type: Some("disk".into()), ..all_alerts() };
    assert_eq!(store.list_alerts(&disk).await.unwrap().total, 0);
}

async fn offline_detection_honours_the_timeout(store: Arc<dyn Store>) {
    let t0 = t("2026-01-19T12:00:00Z");
    let workstation: NewServer =
        serde_json::from_value(json!({"id": "desk", "hostname": "desk", "machine_type": "workstation"})).unwrap();
    store.create_server(&workstation, t0).await.unwrap();
    store.create_server(&new_server("never"), t0).await.unwrap();
    beat(&store, "desk", t0, 5.0).await;
    beat(&store, "srv", t0, 5.0).await;

    let report = store.check_offline(t0 + Duration::seconds(179), None).await.unwrap();
    assert!(report.marked_offline.is_empty() && report.events == 0, "{report:?}");
    let report = store.check_offline(t0 + Duration::seconds(181), None).await.unwrap();
    assert_eq!(report.marked_offline, ["desk", "srv"]);
    assert_eq!(report.events, 1, "workstations get no offline alert");
    let page = store.list_alerts(&all_alerts()).await.unwrap();
    assert_eq!(page.total, 1);
    let alert = &page.alerts[0];
    assert_eq!(
        (alert.server_id.as_str(), alert.alert_type, alert.severity),
        ("srv", AlertKind::Offline, Severity::Critical)
    );
    assert_eq!(alert.title, "Server offline: srv.home.lan");
    // The job writes the stored status (the hub derives what it shows with `core::status`).
    let stored: Vec<ServerStatus> = store.list_servers().await.unwrap().iter().map(|s| s.status).collect();
    let count = |status| stored.iter().filter(|s| **s == status).count();
    assert_eq!((count(ServerStatus::Online), count(ServerStatus::Offline), count(ServerStatus::Unknown)), (0, 2, 1));
    let summary = store.fleet_summary().await.unwrap();
    assert_eq!(summary.open_critical, 1);

    // No duplicate on the next tick; a reminder after the critical cooldown (30 min).
    assert_eq!(store.check_offline(t0 + Duration::seconds(240), None).await.unwrap().events, 0);
    assert_eq!(store.check_offline(t0 + Duration::seconds(181 + 1800), None).await.unwrap().events, 1);
    assert_eq!(store.outbox(1).await.unwrap()[0].kind, "reminder");

    // The configured timeout applies.
    let longer: Change<Thresholds> =
        Box::new(|thresholds| Ok(Thresholds { server_offline_seconds: 600, ..thresholds }));
    store.update_thresholds(longer, t0).await.unwrap();
    beat(&store, "srv", t0 + Duration::hours(1), 5.0).await;
    let alert = store.get_alert(alert.id).await.unwrap();
    assert_eq!((alert.status, alert.auto_resolved), (AlertStatus::Resolved, true));
    assert_eq!(store.get_server("srv").await.unwrap().status, ServerStatus::Online);
    let later = t0 + Duration::hours(1) + Duration::seconds(400);
    assert!(store.check_offline(later, None).await.unwrap().marked_offline.is_empty(), "600 s, not 180 s");
    assert_eq!(store.check_offline(later + Duration::seconds(200), None).await.unwrap().marked_offline, ["srv"]);
}

async fn service_down_alerts_follow_expected_services(store: Arc<dyn Store>) {
    let t0 = t("2026-01-19T12:00:00Z");
    beat(&store, "media", t0, 5.0).await;
    let plex = NewExpectedService {
        service_name: "plex".into(),
        display_name: Some("Plex".into()),
        is_critical: true,
        grace_seconds: None,
    };
    let created = store.create_expected_service("media", &plex, t0).await.unwrap();
    assert!(created.enabled && created.is_critical);
    assert_eq!(created.current_status.as_ref().map(|s| s.status.as_str()), Some("running"));
    assert!(matches!(store.create_expected_service("media", &plex, t0).await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.create_expected_service("ghost", &plex, t0).await, Err(StoreError::NotFound(_))));
    let quiet = NewExpectedService {
        service_name: "sql".into(),
        display_name: None,
        is_critical: false,
        grace_seconds: Some(30),
    };
    assert_eq!(store.create_expected_service("media", &quiet, t0).await.unwrap().grace_seconds, Some(30));
    let default_grace = ExpectedServiceUpdate { grace_seconds: Some(None), ..Default::default() };
    assert_eq!(store.update_expected_service("media", "sql", &default_grace, t0).await.unwrap().grace_seconds, None);

    let services = |at: Timestamp, items: serde_json::Value| {
        let mut hb = heartbeat("media", at, 5.0);
        hb.services = serde_json::from_value(items).unwrap();
        hb
    };
    let at = t0 + Duration::minutes(1);
    let down = services(
        at,
        json!([
            {"name": "plex", "status": "stopped"}, {"name": "mysql", "status": "failed"}, {"name": "sql", "status": "unknown"}
        ]),
    );
    store.ingest_heartbeat(write(down, at)).await.unwrap();
    let page = store.list_alerts(&all_alerts()).await.unwrap();
    assert_eq!(page.total, 1, "only the expected service; unknown raises nothing");
    let alert = &page.alerts[0];
    assert_eq!(alert.title, "Service plex is stopped on media.home.lan");
    assert_eq!((alert.severity, alert.key.service_name()), (Severity::High, Some("plex")));
    assert!(alert.service_still_down());
    let listed = store.list_expected_services("media").await.unwrap();
    assert_eq!(listed.iter().map(|s| s.service_name.as_str()).collect::<Vec<_>>(), ["plex", "sql"]);
    assert_eq!(listed[0].current_status.as_ref().map(|s| s.status.as_str()), Some("stopped"));

    let update = ExpectedServiceUpdate { enabled: Some(false), display_name: Some(None), ..Default::default() };
    let updated = store.update_expected_service("media", "sql", &update, t0).await.unwrap();
    assert!(!updated.enabled && updated.display_name.is_none());
    assert!(matches!(
        store.update_expected_service("media", "nope", &update, t0).await,
        Err(StoreError::NotFound(m)) if m == "Service 'nope' not found for server 'media'"
    ));

    let up = services(at + Duration::minutes(1), json!([{"name": "plex", "status": "running"}]));
    store.ingest_heartbeat(write(up, at + Duration::minutes(1))).await.unwrap();
    let alert = store.get_alert(alert.id).await.unwrap();
    assert_eq!((alert.status, alert.auto_resolved, alert.service_still_down()), (AlertStatus::Resolved, true, false));
    store.delete_expected_service("media", "sql", t0).await.unwrap();
    assert!(matches!(store.delete_expected_service("media", "sql", t0).await, Err(StoreError::NotFound(_))));

    // An alert about a service nobody watches any more is closed, not left open for ever (v1).
    let down = services(at + Duration::minutes(2), json!([{"name": "plex", "status": "failed"}]));
    store.ingest_heartbeat(write(down, at + Duration::minutes(2))).await.unwrap();
    let open = AlertFilter { status: Some("open".into()), ..all_alerts() };
    assert_eq!(store.list_alerts(&open).await.unwrap().total, 1);
    store.delete_expected_service("media", "plex", at + Duration::minutes(3)).await.unwrap();
    assert_eq!(store.list_alerts(&open).await.unwrap().total, 0);
    let closed = &store.list_alerts(&all_alerts()).await.unwrap().alerts[0];
    assert_eq!((closed.status, closed.auto_resolved), (AlertStatus::Resolved, false));
}

async fn deleting_a_server_removes_its_alerts(store: Arc<dyn Store>, raw: Raw) {
    let t0 = t("2026-01-19T12:00:00Z");
    for minute in 0..4 {
        beat(&store, "doomed", t0 + Duration::minutes(minute), 90.0).await;
    }
    let plex =
        NewExpectedService { service_name: "plex".into(), display_name: None, is_critical: false, grace_seconds: None };
    store.create_expected_service("doomed", &plex, t0).await.unwrap();
    for table in ["alerts", "alert_states", "alert_events", "expected_services"] {
        assert_eq!(raw.count(&format!("SELECT COUNT(*) FROM {table}")).await, 1, "{table}");
    }
    store.delete_server("doomed").await.unwrap();
    for table in ["alerts", "alert_states", "alert_events", "expected_services"] {
        assert_eq!(raw.count(&format!("SELECT COUNT(*) FROM {table}")).await, 0, "{table} cascades");
    }
}

/// The invariants hold in the database itself, not only in code.
async fn the_database_enforces_alert_invariants(store: Arc<dyn Store>, raw: Raw) {
    let t0 = t("2026-01-19T12:00:00Z");
    store.create_server(&new_server("guarded"), t0).await.unwrap();
    let insert = |key: &str, severity: &str, status: &str| {
        format!(
            "INSERT INTO alerts (server_pk, alert_type, alert_key, subject, severity, status, title, created_at, updated_at) \
             SELECT pk, 'disk', '{key}', '/srv', '{severity}', '{status}', 'x', 0, 0 FROM servers WHERE id = 'guarded'"
        )
    };
    raw.execute(&insert("disk:/srv", "high", "open")).await.unwrap();
    let second = raw.execute(&insert("disk:/srv", "high", "acknowledged")).await;
    assert!(second.is_err(), "a second active alert for one key is refused");
    raw.execute(&insert("disk:/srv", "high", "resolved")).await.unwrap();
    raw.execute(&insert("disk:/data", "high", "open")).await.unwrap();
    assert!(raw.execute(&insert("disk:/x", "warning", "open")).await.is_err(), "invalid severity");
    assert!(raw.execute(&insert("disk:/y", "high", "closed")).await.is_err(), "invalid status");
    assert_eq!(raw.count("SELECT COUNT(*) FROM alerts").await, 3);
    // The API sees what was inserted by hand, too.
    assert_eq!(store.get_server("guarded").await.unwrap().active_alert_count, 2);
}

/// Many heartbeats of one server at once (a pool of PostgreSQL connections, or one SQLite batch),
/// all over the disk threshold: exactly one alert and one outbox event.
async fn concurrent_breaches_open_one_alert(store: Arc<dyn Store>) {
    let t0 = t("2026-01-19T12:00:00Z");
    let mut tasks = Vec::new();
    for index in 0..16 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let at = t0 + Duration::seconds(index);
            let mut hb = heartbeat("full", at, 5.0);
            if let Some(filesystems) = hb.filesystems.as_mut() {
                filesystems[0].percent = 99.0;
            }
            store.ingest_heartbeat(write(hb, at)).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let page = store.list_alerts(&all_alerts()).await.unwrap();
    assert_eq!(page.total, 1, "{page:#?}");
    assert_eq!((page.alerts[0].alert_type, page.alerts[0].key.subject.as_str()), (AlertKind::Disk, "/"));
    let opened = store.outbox(100).await.unwrap().into_iter().filter(|e| e.kind == "opened").count();
    assert_eq!(opened, 1);
}

/// A replayed backlog (older than what is stored) is history: it opens no alerts.
async fn replayed_heartbeats_do_not_alert(store: Arc<dyn Store>) {
    let t0 = t("2026-01-19T12:00:00Z");
    let now = t0 + Duration::hours(1);
    beat(&store, "spool", now, 5.0).await;
    for minute in 0..10 {
        let old = t0 + Duration::minutes(minute);
        let mut hb = heartbeat("spool", old, 99.0);
        if let Some(filesystems) = hb.filesystems.as_mut() {
            filesystems[0].percent = 99.0;
        }
        hb.services = serde_json::from_value(json!([{"name": "plex", "status": "failed"}])).unwrap();
        store.ingest_heartbeat(write(hb, now + Duration::seconds(minute))).await.unwrap();
    }
    let plex =
        NewExpectedService { service_name: "plex".into(), display_name: None, is_critical: true, grace_seconds: None };
    store.create_expected_service("spool", &plex, now).await.unwrap();
    assert_eq!(store.list_alerts(&all_alerts()).await.unwrap().total, 0);
    assert_eq!(cpu_history(&store, "spool", t0, now + Duration::seconds(1)).await.len(), 11, "history is stored");
    // A current heartbeat is evaluated as usual.
    let mut hb = heartbeat("spool", now + Duration::minutes(1), 5.0);
    hb.services = serde_json::from_value(json!([{"name": "plex", "status": "failed"}])).unwrap();
    store.ingest_heartbeat(write(hb, now + Duration::minutes(1))).await.unwrap();
    assert_eq!(store.list_alerts(&all_alerts()).await.unwrap().total, 1);
}

/// Maintenance mode: no new alerts (metric or offline) while paused; they open once it ends.
async fn paused_servers_raise_nothing(store: Arc<dyn Store>) {
    let t0 = t("2026-01-19T12:00:00Z");
    beat(&store, "maint", t0, 5.0).await;
    store.set_paused("maint", true, t0).await.unwrap();
    let mut full = heartbeat("maint", t0 + Duration::minutes(1), 5.0);
    if let Some(filesystems) = full.filesystems.as_mut() {
        filesystems[0].percent = 99.0;
    }
    store.ingest_heartbeat(write(full.clone(), t0 + Duration::minutes(1))).await.unwrap();
    let report = store.check_offline(t0 + Duration::minutes(10), None).await.unwrap();
    assert_eq!(report.marked_offline, ["maint"], "the status still tells the truth");
    assert_eq!(store.list_alerts(&all_alerts()).await.unwrap().total, 0);
    assert!(store.outbox(10).await.unwrap().is_empty());

    store.set_paused("maint", false, t0 + Duration::minutes(11)).await.unwrap();
    full.timestamp = t0 + Duration::minutes(12);
    store.ingest_heartbeat(write(full, t0 + Duration::minutes(12))).await.unwrap();
    let page = store.list_alerts(&all_alerts()).await.unwrap();
    assert_eq!((page.total, page.alerts[0].alert_type), (1, AlertKind::Disk));
}

/// With several hubs on one PostgreSQL, only one runs the offline check at a time: a check that
/// finds the job lock taken does nothing.
async fn one_hub_at_a_time_checks_offline(store: Arc<dyn Store>, raw: Raw) {
    let t0 = t("2026-01-19T12:00:00Z");
    beat(&store, "quiet", t0, 5.0).await;
    let later = t0 + Duration::minutes(5);
    while_another_hub_holds(&raw, 0x006f_6666_6c69_6e65, async || {
        assert!(store.check_offline(later, None).await.unwrap().marked_offline.is_empty(), "another hub holds the job");
    })
    .await;
    assert_eq!(store.check_offline(later, None).await.unwrap().marked_offline, ["quiet"]);
}

async fn one_hub_at_a_time_rolls_up(store: Arc<dyn Store>, raw: Raw) {
    let t0 = t("2026-01-19T12:00:00Z");
    beat(&store, "rolled", t0, 5.0).await;
    let later = t0 + Duration::hours(2);
    let policy = RetentionPolicy::default();
    while_another_hub_holds(&raw, 0x0000_726f_6c6c_7570, async || {
        let report = store.run_retention(&policy, later).await.unwrap();
        assert_eq!(report.five_minute_buckets_written, 0, "another hub holds the job");
    })
    .await;
    assert_eq!(store.run_retention(&policy, later).await.unwrap().five_minute_buckets_written, 1);
}

/// A late sample whose heartbeat is still committing while retention rolls its server up (on
/// PostgreSQL, where the two run at once): the heartbeat read the rollup marks before retention
/// claimed the range, so it marked nothing for later; the rollup must therefore wait for the
/// heartbeat's transaction (it holds the server's row, as every heartbeat does) and count the
/// sample. SQLite has one writer, so the two cannot overlap there.
async fn a_sample_committing_during_a_rollup_is_counted(store: Arc<dyn Store>, raw: Raw) {
    let Raw::Postgres(url) = raw else { return };
    let t0 = t("2026-01-19T12:00:00Z");
    beat(&store, "late", t0, 5.0).await;
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    let driver = tokio::spawn(connection);
    // The heartbeat's transaction: the server's row, then its sample (a copy of the first), not
    // yet committed.
    let late = time::to_millis(&(t0 + Duration::minutes(10)));
    client.batch_execute("BEGIN").await.unwrap();
    client.execute("UPDATE servers SET last_seen = last_seen WHERE id = 'late'", &[]).await.unwrap();
    client
        .execute(
            "INSERT INTO history_raw (server_pk, ts, samples) SELECT server_pk, $1, samples FROM history_raw LIMIT 1",
            &[&late],
        )
        .await
        .unwrap();
    let retention = tokio::spawn({
        let store = Arc::clone(&store);
        async move { store.run_retention(&RetentionPolicy::default(), t0 + Duration::hours(2)).await.unwrap() }
    });
    // Until the rollup waits for the heartbeat's row (or has finished without it).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let (watcher, watching) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    let watch_driver = tokio::spawn(watching);
    while !retention.is_finished() {
        let waiting: i64 = watcher
            .query_one("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'", &[])
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the rollup neither waited nor finished");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    client.batch_execute("COMMIT").await.unwrap();
    retention.await.unwrap();
    let bucket = time::to_millis(&(t0 + Duration::minutes(10)));
    let rolled: i64 =
        watcher.query_one("SELECT COUNT(*) FROM history_5m WHERE ts = $1", &[&bucket]).await.unwrap().get(0);
    assert_eq!(rolled, 1, "the late sample is in its 5-minute bucket");
    drop((client, watcher));
    let _ = (driver.await, watch_driver.await);
}

/// Runs `check` while another connection holds the store's advisory lock `key` (PostgreSQL;
/// SQLite has one writer and no such lock, so there `check` is skipped).
async fn while_another_hub_holds(raw: &Raw, key: i64, check: impl AsyncFnOnce()) {
    if let Raw::Postgres(url) = raw {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
        let driver = tokio::spawn(connection);
        client.execute("SELECT pg_advisory_lock($1)", &[&key]).await.unwrap();
        check().await;
        client.execute("SELECT pg_advisory_unlock($1)", &[&key]).await.unwrap();
        drop(client);
        let _ = driver.await;
    }
}

// ---- History partitions (PostgreSQL; on SQLite the same calls do nothing and reads agree) ----

fn is_partitioned(store: &Arc<dyn Store>) -> bool {
    store.backend_name() == "postgres"
}

/// The partition of `tier` holding `at`, if any.
async fn partition_at(store: &Arc<dyn Store>, tier: Tier, at: Timestamp) -> Option<homelab_store::HistoryPartition> {
    store.history_partitions().await.unwrap().into_iter().find(|p| p.tier == tier && p.from <= at && at < p.to)
}

/// Partitions exist for today and the days ahead (raw: two days; the rollup tiers: one
/// partition's width), and a second run creates none.
async fn history_partitions_are_created_ahead(store: Arc<dyn Store>) {
    let now = t("2026-01-19T12:00:00Z");
    let policy = RetentionPolicy::default();
    let created = store.maintain_history_partitions(&policy, now).await.unwrap();
    if !is_partitioned(&store) {
        assert_eq!(created, 0);
        assert!(store.history_partitions().await.unwrap().is_empty());
        return;
    }
    assert!(created >= 5, "today and two days ahead for raw, at least one for each rollup tier: {created}");
    let raw = partition_at(&store, Tier::Raw, now + Duration::hours(47)).await.expect("raw, two days ahead");
    assert_eq!((raw.from.format("%H:%M").to_string(), raw.to - raw.from), ("00:00".to_owned(), Duration::days(1)));
    assert!(partition_at(&store, Tier::Raw, now).await.is_some(), "today");
    assert!(partition_at(&store, Tier::FiveMinutes, now + Duration::days(6)).await.is_some(), "5-minute, a week ahead");
    assert!(partition_at(&store, Tier::Hourly, now + Duration::days(29)).await.is_some(), "hourly, 30 days ahead");
    assert_eq!(store.maintain_history_partitions(&policy, now).await.unwrap(), 0, "nothing missing");
    // A day later, the next day's raw partition.
    assert_eq!(store.maintain_history_partitions(&policy, now + Duration::days(1)).await.unwrap(), 1);
}

/// A heartbeat from far in the past or the future (a wrong clock, a very old spool) lands in the
/// default partition and reads back; once maintenance covers its day it moves into a partition
/// and still reads back.
async fn heartbeats_outside_every_partition_still_land(store: Arc<dyn Store>) {
    let now = t("2026-01-19T12:00:00Z");
    let policy = RetentionPolicy::default();
    store.maintain_history_partitions(&policy, now).await.unwrap();
    let (past, future) = (t("2019-06-01T08:00:00Z"), now + Duration::days(20));
    beat(&store, "odd", past, 11.0).await;
    beat(&store, "odd", future, 22.0).await;
    beat(&store, "odd", now, 33.0).await;
    let everything = || cpu_history(&store, "odd", past - Duration::days(1), future + Duration::days(1));
    assert_eq!(everything().await, [(past, 11.0), (now, 33.0), (future, 22.0)]);
    if is_partitioned(&store) {
        assert!(partition_at(&store, Tier::Raw, future).await.is_none(), "not created that far ahead");
    }
    store.maintain_history_partitions(&policy, future).await.unwrap();
    if is_partitioned(&store) {
        assert!(partition_at(&store, Tier::Raw, future).await.is_some(), "covered now");
        assert!(partition_at(&store, Tier::Raw, past).await.is_none(), "older than raw is kept: left in the default");
    }
    assert_eq!(everything().await, [(past, 11.0), (now, 33.0), (future, 22.0)], "moved rows read back");
}

/// Retention drops the raw partitions that lie wholly before the cutoff (their rows count as
/// deleted), and the 30-day chart is the same before and after: every hour from the rollups.
async fn retention_drops_whole_partitions_and_reads_agree(store: Arc<dyn Store>) {
    let start = t("2026-01-01T00:00:00Z");
    let policy = RetentionPolicy::default();
    // Partitions from the first day on (two days ahead), as a hub running then would have.
    store.maintain_history_partitions(&policy, start).await.unwrap();
    ten_days_of_hourly_cpu(&store, "parted", start).await;
    let now = start + Duration::days(10);
    let query = month_of_cpu(now);
    let before = store.history("parted", &query).await.unwrap();
    assert_eq!(before[0].points.len(), 240);

    let report = store.run_retention(&policy, now).await.unwrap();
    assert_eq!(report.raw_deleted, 3 * 144, "the first three days of raw rows: {report:?}");
    if is_partitioned(&store) {
        assert_eq!(report.partitions_dropped, 3, "1, 2 and 3 January, dropped whole: {report:?}");
        for day in 0..3 {
            assert!(partition_at(&store, Tier::Raw, start + Duration::days(day)).await.is_none(), "day {day}");
        }
        assert!(partition_at(&store, Tier::Raw, now - Duration::days(7)).await.is_some(), "4 January stays");
        assert!(report.partitions_created > 0, "the days after the third, for rows in the default: {report:?}");
    }
    assert_eq!(store.history("parted", &query).await.unwrap(), before, "the same points, from the rollups");
    let raw = cpu_history(&store, "parted", start, now).await;
    assert_eq!(raw.first().map(|p| p.0), Some(now - Duration::days(7)));
    assert_eq!(raw.len(), 7 * 144);
    // A second run drops nothing more.
    let again = store.run_retention(&policy, now).await.unwrap();
    assert_eq!((again.raw_deleted, again.partitions_dropped), (0, 0), "{again:?}");
}

/// Two hubs on one PostgreSQL maintaining partitions and running retention at the same time:
/// neither fails, and the partitions are created once.
async fn two_hubs_maintain_partitions_together(store: Arc<dyn Store>, raw: Raw) {
    let Raw::Postgres(url) = raw else { return };
    let other = homelab_store::open(&url, &homelab_store::OpenOptions::default()).await.unwrap();
    let start = t("2026-01-01T00:00:00Z");
    beat(&store, "shared", start, 1.0).await;
    let policy = RetentionPolicy::default();
    for day in [0, 1, 5, 9] {
        let now = start + Duration::days(day);
        let (a, b) = tokio::join!(store.run_retention(&policy, now), other.run_retention(&policy, now));
        a.unwrap();
        b.unwrap();
        let (a, b) = tokio::join!(
            store.maintain_history_partitions(&policy, now + Duration::days(1)),
            other.maintain_history_partitions(&policy, now + Duration::days(1))
        );
        a.unwrap();
        b.unwrap();
    }
    let partitions = store.history_partitions().await.unwrap();
    let mut names: Vec<&str> = partitions.iter().map(|p| p.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), partitions.len());
    for pair in partitions.windows(2).filter(|pair| pair[0].tier == pair[1].tier) {
        assert!(pair[0].to <= pair[1].from, "no overlap: {pair:?}");
    }
    assert!(partition_at(&store, Tier::Raw, start + Duration::days(11)).await.is_some());
    other.close().await;
}

/// Late samples (an agent replaying its spool) into buckets whose source rows were already
/// pruned are merged into the stored rollups exactly once: through the raw → 5-minute path (the
/// 5-minute row still exists) and the 5-minute → hourly path (it does not either).
async fn late_samples_after_pruning_are_counted_once(store: Arc<dyn Store>) {
    let start = t("2026-01-01T00:00:00Z");
    ten_days_of_hourly_cpu(&store, "late", start).await;
    let now = start + Duration::days(10);
    let policy = RetentionPolicy { raw_days: 1, five_minute_days: 3, hourly_days: 365 };
    store.run_retention(&policy, now).await.unwrap();

    let query = month_of_cpu(now);
    let hour_of = |series: &[homelab_store::SeriesData], at: Timestamp| {
        *series[0].points.iter().find(|p| p.ts == time::to_millis(&at)).unwrap()
    };
    // Day 8: raw is pruned, its 5-minute rows are not. Day 1: both are pruned, only hours remain.
    let (day8, day1) = (start + Duration::days(8), start + Duration::days(1));
    for late in [day8, day1] {
        store.ingest_heartbeat(write(heartbeat("late", late + Duration::minutes(5), 100.0), now)).await.unwrap();
    }
    for _ in 0..2 {
        store.run_retention(&policy, now).await.unwrap();
        let series = store.history("late", &query).await.unwrap();
        for at in [day8, day1] {
            let hour = hour_of(&series, at);
            assert_eq!((hour.count, hour.max), (7, 100.0), "hour {at}");
            assert_eq!(hour.avg, 100.0 / 7.0, "six samples of 0 and one of 100 at {at}");
        }
        assert_eq!(hour_of(&series, day8 + Duration::hours(1)).count, 6, "neighbours untouched");
    }
}

/// A service's newest state is kept in place; its history only records changes.
async fn service_history_records_changes_only(store: Arc<dyn Store>, raw: Raw) {
    let t0 = t("2026-03-01T00:00:00Z");
    let with_plex = |minute: i64, status: &str| {
        let mut hb = heartbeat("svc", t0 + Duration::minutes(minute), 5.0);
        hb.services =
            Some(vec![serde_json::from_value(json!({"name": "plex", "status": status, "pid": minute})).unwrap()]);
        write(hb, t0 + Duration::minutes(minute))
    };
    for (minute, status) in [(0, "running"), (1, "running"), (2, "stopped"), (3, "stopped"), (4, "running")] {
        store.ingest_heartbeat(with_plex(minute, status)).await.unwrap();
    }
    // A replayed older report changes neither the current state nor the log.
    store.ingest_heartbeat(with_plex(1, "failed")).await.unwrap();
    assert_eq!(raw.count("SELECT COUNT(*) FROM service_status WHERE service_name = 'plex'").await, 3);
    assert_eq!(raw.count("SELECT COUNT(*) FROM service_snapshots").await, 1, "one row holds the server's services");
    store
        .create_expected_service(
            "svc",
            &NewExpectedService {
                service_name: "plex".into(),
                display_name: None,
                is_critical: false,
                grace_seconds: None,
            },
            t0,
        )
        .await
        .unwrap();
    let services = store.list_expected_services("svc").await.unwrap();
    let current = services[0].current_status.as_ref().unwrap();
    assert_eq!((current.status.as_str(), current.pid), ("running", Some(4)));
    assert_eq!(current.last_seen, t0 + Duration::minutes(4));
}

/// A database written by schema version 3 (one row per series and instant) is converted to the
/// compact layout when the store opens, and its history reads back the same.
async fn per_series_history_is_converted_on_open(store: Arc<dyn Store>, raw: Raw) {
    let t0 = t("2026-02-01T00:00:00Z");
    for minute in 0..3 {
        let ts = t0 + Duration::minutes(minute);
        store.ingest_heartbeat(write(heartbeat("legacy", ts, 10.0 + minute as f64), ts)).await.unwrap();
    }
    let cpu = raw.count("SELECT id FROM series WHERE metric = 'cpu_percent'").await;
    let ms = |minute: i64| time::to_millis(&(t0 + Duration::minutes(minute)));
    for sql in [
        "CREATE TABLE samples_raw (series_id BIGINT NOT NULL, ts BIGINT NOT NULL, value DOUBLE PRECISION NOT NULL, \
         PRIMARY KEY (series_id, ts))"
            .to_owned(),
        "CREATE TABLE samples_5m (series_id BIGINT NOT NULL, ts BIGINT NOT NULL, avg DOUBLE PRECISION NOT NULL, \
         min DOUBLE PRECISION NOT NULL, max DOUBLE PRECISION NOT NULL, count BIGINT NOT NULL, PRIMARY KEY (series_id, ts))"
            .to_owned(),
        "CREATE TABLE samples_1h (series_id BIGINT NOT NULL, ts BIGINT NOT NULL, avg DOUBLE PRECISION NOT NULL, \
         min DOUBLE PRECISION NOT NULL, max DOUBLE PRECISION NOT NULL, count BIGINT NOT NULL, PRIMARY KEY (series_id, ts))"
            .to_owned(),
        format!("INSERT INTO samples_raw VALUES ({cpu}, {}, 42.5), ({cpu}, {}, 43.5)", ms(0), ms(1)),
        format!("INSERT INTO samples_5m VALUES ({cpu}, {}, 43.0, 42.5, 43.5, 2)", ms(0)),
        format!("INSERT INTO samples_1h VALUES ({cpu}, {}, 43.0, 42.5, 43.5, 2)", ms(0)),
        "DELETE FROM history_raw".to_owned(),
        "INSERT INTO pending_upgrades (name) VALUES ('compact-history')".to_owned(),
    ] {
        raw.execute(&sql).await.unwrap();
    }
    let reopened = homelab_store::open(&raw.url(), &homelab_store::OpenOptions::default()).await.unwrap();
    assert_eq!(
        cpu_history(&reopened, "legacy", t0, t0 + Duration::hours(1)).await,
        [(t0, 42.5), (t0 + Duration::minutes(1), 43.5)]
    );
    assert_eq!(raw.count("SELECT COUNT(*) FROM history_5m").await, 1);
    assert_eq!(raw.count("SELECT COUNT(*) FROM history_1h").await, 1);
    assert_eq!(raw.count("SELECT COUNT(*) FROM pending_upgrades").await, 0);
    assert!(raw.execute("SELECT COUNT(*) FROM samples_raw").await.is_err(), "the old tables are dropped");
    reopened.close().await;
}

/// Every reported service is listed with its newest state; one missing from a heartbeat keeps
/// the state it was last reported in.
async fn reported_services_keep_their_newest_state(store: Arc<dyn Store>, _raw: Raw) {
    let t0 = t("2026-03-01T00:00:00Z");
    let report = |minute: i64, services: Value| {
        let mut hb = heartbeat("svc", t0 + Duration::minutes(minute), 5.0);
        hb.services = Some(serde_json::from_value(services).unwrap());
        write(hb, t0 + Duration::minutes(minute))
    };
    store
        .ingest_heartbeat(report(
            0,
            json!([{"name": "plex", "status": "running"}, {"name": "nginx", "status": "running"}]),
        ))
        .await
        .unwrap();
    store.ingest_heartbeat(report(1, json!([{"name": "nginx", "status": "failed", "memory_mb": 3.5}]))).await.unwrap();
    let reported: Vec<_> = store
        .list_reported_services("svc")
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.service_name, s.status.status, s.status.memory_mb, s.status.last_seen))
        .collect();
    assert_eq!(
        reported,
        [
            ("nginx".to_owned(), "failed".to_owned(), Some(3.5), t0 + Duration::minutes(1)),
            ("plex".to_owned(), "running".to_owned(), None, t0),
        ]
    );
    assert!(matches!(store.list_reported_services("nobody").await, Err(StoreError::NotFound(_))));

    let plex =
        NewExpectedService { service_name: "plex".into(), display_name: None, is_critical: false, grace_seconds: None };
    store.create_expected_service("svc", &plex, t0).await.unwrap();
    let expected: Vec<_> =
        store.list_reported_services("svc").await.unwrap().into_iter().map(|s| (s.service_name, s.expected)).collect();
    assert_eq!(expected, [("nginx".to_owned(), false), ("plex".to_owned(), true)]);
}

/// The fleet's sparkline read returns each server's samples of one metric in the range, and
/// nothing of other metrics or times.
async fn fleet_samples_read_every_server_at_once(store: Arc<dyn Store>, _raw: Raw) {
    let t0 = t("2026-04-01T10:00:00Z");
    for minute in 0..3 {
        let ts = t0 + Duration::minutes(minute);
        store.ingest_heartbeat(write(heartbeat("nas", ts, 10.0 + minute as f64), ts)).await.unwrap();
        store.ingest_heartbeat(write(heartbeat("pi", ts, 50.0), ts)).await.unwrap();
    }
    store.create_server(&new_server("quiet"), t0).await.unwrap();
    let (from, to) = (t0 + Duration::minutes(1), t0 + Duration::minutes(3));
    let fleet = store.fleet_samples(MetricKind::CpuPercent, from, to).await.unwrap();
    let ms = |minute: i64| time::to_millis(&(t0 + Duration::minutes(minute)));
    let values = |id: &str| fleet[id].iter().map(|p| (p.ts, p.avg)).collect::<Vec<_>>();
    assert_eq!(values("nas"), [(ms(1), 11.0), (ms(2), 12.0)]);
    assert_eq!(values("pi"), [(ms(1), 50.0), (ms(2), 50.0)]);
    assert!(!fleet.contains_key("quiet"), "a server that never reported has no series: {fleet:?}");
    let memory = store.fleet_samples(MetricKind::MemoryPercent, t0, to).await.unwrap();
    assert_eq!(memory["nas"].iter().map(|p| p.avg).collect::<Vec<_>>(), [50.0, 50.0, 50.0]);
}

/// A version-4 database kept a row per service in `service_current`; migration 5 folds them into
/// one snapshot per server without losing a field.
async fn per_service_states_are_carried_into_snapshots(store: Arc<dyn Store>, raw: Raw) {
    let t0 = t("2026-02-01T00:00:00Z");
    store.ingest_heartbeat(write(heartbeat("older", t0, 10.0), t0)).await.unwrap();
    let pk = raw.count("SELECT pk FROM servers WHERE id = 'older'").await;
    let (first, second) = (time::to_millis(&t0), time::to_millis(&(t0 + Duration::minutes(1))));
    for sql in [
        "DROP TABLE service_snapshots".to_owned(),
        "DELETE FROM schema_migrations WHERE version = 5".to_owned(),
        "CREATE TABLE service_current (server_pk BIGINT NOT NULL, service_name TEXT NOT NULL, ts BIGINT NOT NULL, \
         status TEXT NOT NULL, status_reason TEXT, pid BIGINT, memory_mb DOUBLE PRECISION, \
         cpu_percent DOUBLE PRECISION, PRIMARY KEY (server_pk, service_name))"
            .to_owned(),
        format!(
            "INSERT INTO service_current VALUES ({pk}, 'plex', {second}, 'failed', 'exit-code', NULL, NULL, NULL), \
             ({pk}, 'nginx', {first}, 'running', NULL, 812, 12.25, 0.5)"
        ),
    ] {
        raw.execute(&sql).await.unwrap();
    }
    let reopened = homelab_store::open(&raw.url(), &homelab_store::OpenOptions::default()).await.unwrap();
    for name in ["nginx", "plex"] {
        let new = NewExpectedService {
            service_name: name.into(),
            display_name: None,
            is_critical: false,
            grace_seconds: None,
        };
        reopened.create_expected_service("older", &new, t0).await.unwrap();
    }
    let current: Vec<_> = reopened
        .list_expected_services("older")
        .await
        .unwrap()
        .into_iter()
        .map(|service| (service.service_name, service.current_status.unwrap()))
        .collect();
    let expect = |status: &str, reason: Option<&str>, pid, memory_mb, cpu_percent, last_seen| ServiceStatusReport {
        status: status.into(),
        status_reason: reason.map(Into::into),
        pid,
        memory_mb,
        cpu_percent,
        last_seen,
    };
    assert_eq!(
        current,
        [
            ("nginx".to_owned(), expect("running", None, Some(812), Some(12.25), Some(0.5), t0)),
            ("plex".to_owned(), expect("failed", Some("exit-code"), None, None, None, t0 + Duration::minutes(1))),
        ]
    );
    assert!(raw.execute("SELECT COUNT(*) FROM service_current").await.is_err(), "the old table is dropped");
    reopened.close().await;
}

// ---- typed settings, channels, tags --------------------------------------------------------

fn channel(id: &str, kind: &str, settings: Value) -> Channel {
    let Value::Object(settings) = settings else { panic!("settings must be an object") };
    Channel {
        id: id.into(),
        kind: kind.into(),
        enabled: true,
        min_severity: Severity::Low,
        events: ChannelEvents::default(),
        settings,
    }
}

async fn typed_settings_round_trip(store: Arc<dyn Store>) {
    let now = t("2026-01-19T12:00:00Z");
    assert_eq!(store.thresholds().await.unwrap(), Thresholds::default(), "the v1 defaults while nothing is saved");
    assert_eq!(store.notification_settings().await.unwrap(), NotificationSettings::default());

    let refuse: Change<Thresholds> = Box::new(|_| Err(StoreError::Rejected("no".into())));
    assert!(matches!(store.update_thresholds(refuse, now).await, Err(StoreError::Rejected(m)) if m == "no"));
    assert_eq!(store.thresholds().await.unwrap(), Thresholds::default(), "a refusal saves nothing");

    let mut wanted = Thresholds::default();
    wanted.cpu.high_percent = 70;
    wanted.disk.sustained_heartbeats = Some(3);
    wanted.memory.clear_seconds = 0;
    wanted.disk.clear_seconds = 600;
    wanted.service_grace_seconds = 90;
    wanted.server_offline_seconds = 240;
    wanted.temperature.drive.high_celsius = 52;
    wanted.temperature.other.critical_celsius = 110;
    wanted.temperature.hysteresis_celsius = 3;
    let set = wanted;
    let saved = store.update_thresholds(Box::new(move |_| Ok(set)), now).await.unwrap();
    assert_eq!((saved, store.thresholds().await.unwrap()), (wanted, wanted));
    let refuse: Change<Thresholds> = Box::new(|_| Err(StoreError::Rejected("no".into())));
    assert!(store.update_thresholds(refuse, now).await.is_err());
    assert_eq!(store.thresholds().await.unwrap(), wanted, "a refusal keeps what was saved");

    let quiet: Change<NotificationSettings> = Box::new(|mut settings| {
        settings.notify_on_high = false;
        settings.notify_on_action_success = true;
        settings.cooldowns.critical_minutes = 10;
        Ok(settings)
    });
    let saved = store.update_notification_settings(quiet, now).await.unwrap();
    let expected = NotificationSettings {
        notify_on_high: false,
        notify_on_action_success: true,
        cooldowns: homelab_core::alerts::Cooldowns { critical_minutes: 10, high_minutes: 240 },
        ..NotificationSettings::default()
    };
    assert_eq!((&saved, &store.notification_settings().await.unwrap()), (&expected, &expected));
}

/// Sixteen concurrent read-modify-writes of each settings row, starting with no row at all:
/// none is lost.
async fn concurrent_settings_updates_are_not_lost(store: Arc<dyn Store>) {
    let now = t("2026-01-19T12:00:00Z");
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let longer: Change<Thresholds> = Box::new(|mut thresholds| {
                thresholds.server_offline_seconds += 1;
                Ok(thresholds)
            });
            store.update_thresholds(longer, now).await.unwrap();
            let slower: Change<NotificationSettings> = Box::new(|mut settings| {
                settings.cooldowns.high_minutes += 1;
                Ok(settings)
            });
            store.update_notification_settings(slower, now).await.unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(store.thresholds().await.unwrap().server_offline_seconds, 180 + 16);
    assert_eq!(store.notification_settings().await.unwrap().cooldowns.high_minutes, 240 + 16);
}

async fn channels_crud(store: Arc<dyn Store>) {
    let now = t("2026-01-19T12:00:00Z");
    assert!(store.list_channels().await.unwrap().is_empty());
    let mut hook = channel("hook", "webhook", json!({"url": "https://example.org/in", "secret": "s3cret"}));
    hook.min_severity = Severity::High;
    hook.events.reminders = false;
    assert_eq!(store.create_channel(&hook, now).await.unwrap(), hook);
    let team = channel("team", "slack", json!({"webhook_url": "https://hooks.slack.com/services/T/B/X"}));
    store.create_channel(&team, now).await.unwrap();
    assert!(matches!(store.create_channel(&team, now).await, Err(StoreError::Conflict(m)) if m.contains("'team'")));
    assert_eq!(store.list_channels().await.unwrap(), [hook.clone(), team.clone()]);
    assert_eq!(store.get_channel("hook").await.unwrap(), hook, "secrets are stored as given");
    assert!(matches!(store.get_channel("nope").await, Err(StoreError::NotFound(_))));

    let disable: Change<Channel> = Box::new(|mut c| {
        c.enabled = false;
        c.settings.insert("url".into(), json!("https://example.org/other"));
        Ok(c)
    });
    let updated = store.update_channel("hook", disable, now).await.unwrap();
    assert!(!updated.enabled);
    assert_eq!(store.get_channel("hook").await.unwrap(), updated);
    let refuse: Change<Channel> = Box::new(|_| Err(StoreError::Conflict("refused".into())));
    assert!(matches!(store.update_channel("hook", refuse, now).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.get_channel("hook").await.unwrap(), updated, "a refusal saves nothing");
    let rename: Change<Channel> = Box::new(|mut c| {
        c.id = "other".into();
        Ok(c)
    });
    assert!(matches!(store.update_channel("hook", rename, now).await, Err(StoreError::Rejected(_))));
    let anything: Change<Channel> = Box::new(Ok);
    assert!(matches!(store.update_channel("nope", anything, now).await, Err(StoreError::NotFound(_))));

    // Concurrent changes of one channel apply one after the other.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let count: Change<Channel> = Box::new(|mut c| {
                let edits = c.settings.get("edits").and_then(Value::as_i64).unwrap_or(0);
                c.settings.insert("edits".into(), json!(edits + 1));
                Ok(c)
            });
            store.update_channel("hook", count, now).await.unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(store.get_channel("hook").await.unwrap().settings["edits"], 8);

    store.delete_channel("hook", now).await.unwrap();
    assert!(matches!(store.delete_channel("hook", now).await, Err(StoreError::NotFound(_))));
    assert!(matches!(store.get_channel("hook").await, Err(StoreError::NotFound(_))));
    let anything: Change<Channel> = Box::new(Ok);
    assert!(matches!(store.update_channel("hook", anything, now).await, Err(StoreError::NotFound(_))));
    assert_eq!(store.list_channels().await.unwrap(), [team]);
    let again = channel("hook", "ntfy", json!({"topic_url": "https://ntfy.lan/x"}));
    store.create_channel(&again, now).await.unwrap();
    assert_eq!(store.get_channel("hook").await.unwrap(), again, "a deleted channel's id can be used again");
}

/// Opens a CPU alert on `id` and routes its `opened` event to `channels`.
async fn alert_routed_to(store: &Arc<dyn Store>, id: &str, channels: &[&str], t0: Timestamp) -> i64 {
    for minute in 0..4 {
        beat(store, id, t0 + Duration::minutes(minute), 90.0).await;
    }
    let events = store.unrouted_events(100).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let routes = [route(events[0].id, channels)];
    store.route_events(&routes, t0 + Duration::minutes(4)).await.unwrap();
    events[0].id
}

fn route(event_id: i64, channels: &[&str]) -> EventRoute {
    EventRoute { event_id, channels: channels.iter().map(|c| (*c).to_owned()).collect(), group: "cpu".into() }
}

/// Frames what is routed with no wait (the dispatcher's first step), then lists due channels.
async fn due_channels(store: &Arc<dyn Store>, now: Timestamp) -> Vec<String> {
    let no_wait = Grouping { wait: Duration::zero(), ..Grouping::default() };
    store.frame_messages(&no_wait, now).await.unwrap();
    store.due_channels(now).await.unwrap()
}

fn lease(token: &str, until: Timestamp) -> Lease {
    Lease { instance: "hub.lan:8080".into(), token: token.into(), until }
}

/// Frames with no wait, then leases the channel's next message for a minute.
async fn claim(store: &Arc<dyn Store>, channel: &str, now: Timestamp) -> Option<ClaimedMessage> {
    due_channels(store, now).await;
    store.claim_message(channel, &lease("test", now + Duration::minutes(1)), now).await.unwrap()
}

fn delivery_log(records: &[homelab_store::DeliveryRecord]) -> Vec<(String, String, Option<String>)> {
    let mut log: Vec<_> =
        records.iter().map(|d| (d.channel_id.clone(), d.status.clone(), d.last_error.clone())).collect();
    log.sort();
    log
}

/// Deleting a channel dead-letters its pending deliveries at once (as the dispatcher did when it
/// found the channel gone) and keeps its past ones; a delivery to a channel that never existed
/// is refused by the foreign key.
async fn deleting_a_channel_keeps_its_delivery_history(store: Arc<dyn Store>) {
    let t0 = t("2026-01-19T12:00:00Z");
    let now = t0 + Duration::minutes(4);
    for id in ["done", "waiting", "kept"] {
        store.create_channel(&channel(id, "webhook", json!({"url": "https://example.org/in"})), t0).await.unwrap();
    }
    let event = alert_routed_to(&store, "busy", &["done", "waiting", "kept"], t0).await;
    let claimed = claim(&store, "done", now).await.unwrap();
    assert!(store.finish_message(claimed.id, "test", &DeliveryOutcome::Delivered, now).await.unwrap());

    store.delete_channel("done", now).await.unwrap();
    store.delete_channel("waiting", now).await.unwrap();
    let (records, total) = store.list_deliveries(None, 10, 0).await.unwrap();
    assert_eq!(total, 3);
    assert_eq!(
        delivery_log(&records),
        [
            ("done".to_owned(), "delivered".to_owned(), None),
            ("kept".to_owned(), "pending".to_owned(), None),
            ("waiting".to_owned(), "dead".to_owned(), Some("channel 'waiting' no longer exists".to_owned())),
        ]
    );
    assert_eq!(due_channels(&store, now).await, ["kept"]);
    assert_eq!(store.outbox(1).await.unwrap()[0].id, event);

    let unknown = alert_routed_to(&store, "other", &[], t0 + Duration::hours(1)).await;
    assert!(
        store.route_events(&[route(unknown, &["never-configured"])], now).await.is_err(),
        "the foreign key refuses deliveries to unknown channels"
    );
}

/// v1's `slack_webhook_url` stands for the channel `slack`: its deliveries have a row to
/// reference although no channel is listed; a real `slack` channel takes its place.
async fn the_v1_slack_url_stands_for_a_hidden_channel(store: Arc<dyn Store>) {
    let t0 = t("2026-01-19T12:00:00Z");
    let now = t0 + Duration::minutes(4);
    let slack_url = |url: &'static str| -> Change<NotificationSettings> {
        Box::new(move |settings| Ok(NotificationSettings { slack_webhook_url: url.into(), ..settings }))
    };
    store.update_notification_settings(slack_url("https://hooks.slack.com/services/T/B/v1"), t0).await.unwrap();
    assert!(store.list_channels().await.unwrap().is_empty(), "the v1 channel is not a configured channel");
    assert!(matches!(store.get_channel(homelab_store::V1_SLACK_CHANNEL).await, Err(StoreError::NotFound(_))));
    alert_routed_to(&store, "busy", &[homelab_store::V1_SLACK_CHANNEL], t0).await;
    assert_eq!(due_channels(&store, now).await, ["slack"]);

    // A real channel takes the id over, pending deliveries included (the dispatcher preferred it).
    let real = channel("slack", "slack", json!({"webhook_url": "https://hooks.slack.com/services/T/B/real"}));
    store.create_channel(&real, now).await.unwrap();
    assert_eq!(store.list_channels().await.unwrap(), std::slice::from_ref(&real));
    assert_eq!(due_channels(&store, now).await, ["slack"]);
    store.update_notification_settings(slack_url("https://hooks.slack.com/services/T/B/v2"), now).await.unwrap();
    assert_eq!(store.get_channel("slack").await.unwrap(), real, "saving the v1 URL leaves a real channel alone");

    // Deleting the real one hands the id back to the v1 URL.
    store.delete_channel("slack", now).await.unwrap();
    assert!(store.list_channels().await.unwrap().is_empty());
    alert_routed_to(&store, "other", &[homelab_store::V1_SLACK_CHANNEL], t0 + Duration::hours(1)).await;
    let later = t0 + Duration::hours(2);
    assert_eq!(due_channels(&store, later).await, ["slack"]);

    // Emptying the URL retires the channel like a deletion.
    store.update_notification_settings(slack_url(""), later).await.unwrap();
    assert!(due_channels(&store, later).await.is_empty());
    let (records, _) = store.list_deliveries(Some("dead"), 10, 0).await.unwrap();
    assert_eq!(records.len(), 2, "{records:?}");
    assert!(records.iter().all(|d| d.channel_id == "slack"));
}

async fn server_tags(store: Arc<dyn Store>) {
    let now = t("2026-01-19T12:00:00Z");
    for id in ["nas", "pi", "bare"] {
        store.create_server(&new_server(id), now).await.unwrap();
    }
    let tags = |list: &[&str]| list.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>();
    assert_eq!(store.set_server_tags("nas", &tags(&["rack-a", "prod", "prod"])).await.unwrap(), ["prod", "rack-a"]);
    store.set_server_tags("pi", &tags(&["family"])).await.unwrap();
    assert_eq!(store.server_tags("nas").await.unwrap(), ["prod", "rack-a"]);
    assert!(store.server_tags("bare").await.unwrap().is_empty());
    assert!(matches!(store.server_tags("nope").await, Err(StoreError::NotFound(_))));
    assert!(matches!(store.set_server_tags("nope", &tags(&["x"])).await, Err(StoreError::NotFound(_))));
    let all = store.all_server_tags().await.unwrap();
    assert_eq!(
        all.into_iter().collect::<Vec<_>>(),
        [("nas".to_owned(), tags(&["prod", "rack-a"])), ("pi".to_owned(), tags(&["family"]))]
    );

    // Concurrent replacements of one server's tags apply one after the other.
    let mut tasks = Vec::new();
    for round in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store.set_server_tags("nas", &[format!("round-{round}"), "shared".into()]).await.unwrap()
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let after = store.server_tags("nas").await.unwrap();
    assert_eq!((after.len(), after[1].as_str()), (2, "shared"), "{after:?}");

    assert!(store.set_server_tags("pi", &[]).await.unwrap().is_empty());
    store.delete_server("nas").await.unwrap();
    assert!(store.all_server_tags().await.unwrap().is_empty(), "tags go with their server");
}

/// Settings that cannot be read are one error naming them, for the API's reads and for the
/// engine inside heartbeat ingest alike; never defaults in their place.
async fn unreadable_settings_are_an_error_naming_them(store: Arc<dyn Store>, raw: Raw) {
    let now = t("2026-01-19T12:00:00Z");
    store.create_channel(&channel("team", "slack", json!({"webhook_url": "https://x/y"})), now).await.unwrap();
    raw.execute("UPDATE channels SET settings = 'not json' WHERE id = 'team'").await.unwrap();
    for result in [store.get_channel("team").await.map(|_| ()), store.list_channels().await.map(|_| ())] {
        assert!(matches!(&result, Err(StoreError::Unreadable { what, .. }) if what == "channel 'team'"), "{result:?}");
    }
    if let Raw::Sqlite(_) = raw {
        // Only SQLite lets a wrong type into a column; PostgreSQL refuses it outright.
        store.update_thresholds(Box::new(Ok), now).await.unwrap();
        raw.execute("UPDATE alert_thresholds SET cpu_high_percent = 'high'").await.unwrap();
        let is_thresholds = |result: &Result<_, StoreError>| matches!(result, Err(StoreError::Unreadable { what, .. }) if what == "thresholds");
        assert!(is_thresholds(&store.thresholds().await.map(|_| ())));
        let ingest = store.ingest_heartbeat(write(heartbeat("nas", now, 5.0), now)).await;
        assert!(is_thresholds(&ingest.map(|_| ())), "the engine does not fall back to defaults");
        assert!(
            matches!(store.get_server("nas").await, Err(StoreError::NotFound(_))),
            "the heartbeat was refused whole"
        );
    }
}

// ---- upgrades from schema version 6 --------------------------------------------------------

/// Runs `sql` against a database still at an older schema version.
async fn old(raw: &Raw, sql: &str) {
    if let Err(error) = raw.execute(sql).await {
        panic!("{sql}: {error}");
    }
}

/// A version-6 database (settings as JSON documents, deliveries without a channel foreign key)
/// is opened: every document shows up through the typed methods, deliveries keep naming their
/// channels (configured, deleted long ago, or v1's Slack URL), and `settings` is gone.
async fn settings_documents_are_carried_into_tables(raw: Raw) {
    let at = 1_768_824_000_000_i64; // 2026-01-19T12:00:00Z
    for id in ["nas", "pi"] {
        old(
            &raw,
            &format!("INSERT INTO servers (id, hostname, created_at, updated_at) VALUES ('{id}', '{id}', {at}, {at})"),
        )
        .await;
    }
    let documents = [
        (
            "thresholds",
            json!({"cpu": {"high_percent": 70, "critical_percent": 90, "sustained_heartbeats": 2},
            "server_offline_seconds": 300}),
        ),
        (
            "notifications",
            json!({"slack_webhook_url": "https://hooks.slack.com/services/T/B/v1",
            "cooldowns": {"critical_minutes": 10}, "notify_on_high": false}),
        ),
        (
            "channels",
            json!([
                {"id": "team", "kind": "webhook", "url": "https://example.org/in", "secret": "s3cret",
                 "min_severity": "high", "events": {"reminders": false}},
                {"id": "family", "kind": "ntfy", "topic_url": "https://ntfy.lan/x", "access_token": null, "enabled": false}
            ]),
        ),
        ("server_tags", json!({"nas": ["prod", "rack-a"], "gone": ["old"]})),
        ("counter", json!({"count": 3})),
    ];
    for (key, value) in documents {
        let text = value.to_string().replace('\'', "''");
        old(&raw, &format!("INSERT INTO settings (key, value, updated_at) VALUES ('{key}', '{text}', {at})")).await;
    }
    old(
        &raw,
        &format!(
            "INSERT INTO alert_events (server_pk, kind, severity, payload, next_attempt_at, created_at, routed_at) \
             SELECT pk, 'opened', 'high', '{{}}', {at}, {at}, {at} FROM servers WHERE id = 'nas'"
        ),
    )
    .await;
    for (channel, status) in [("team", "delivered"), ("removed-long-ago", "dead"), ("slack", "pending")] {
        old(
            &raw,
            &format!(
                "INSERT INTO deliveries (event_id, channel_id, status, next_attempt_at, created_at) \
                 SELECT id, '{channel}', '{status}', {at}, {at} FROM alert_events"
            ),
        )
        .await;
    }

    let store = homelab_store::open(&raw.url(), &homelab_store::OpenOptions::default()).await.unwrap();
    let thresholds = store.thresholds().await.unwrap();
    assert_eq!(
        (thresholds.cpu.high_percent, thresholds.cpu.critical_percent, thresholds.cpu.sustained_seconds),
        (70, 90, 120),
        "parsed as before, v1's heartbeat count included"
    );
    assert_eq!((thresholds.memory, thresholds.server_offline_seconds), (Thresholds::default().memory, 300));
    let notifications = store.notification_settings().await.unwrap();
    assert_eq!(notifications.slack_webhook_url, "https://hooks.slack.com/services/T/B/v1");
    assert_eq!((notifications.cooldowns.critical_minutes, notifications.cooldowns.high_minutes), (10, 240));
    assert!(!notifications.notify_on_high && notifications.notify_on_critical);

    let mut family = channel("family", "ntfy", json!({"topic_url": "https://ntfy.lan/x", "access_token": null}));
    family.enabled = false;
    let mut team = channel("team", "webhook", json!({"url": "https://example.org/in", "secret": "s3cret"}));
    team.min_severity = Severity::High;
    team.events.reminders = false;
    assert_eq!(store.list_channels().await.unwrap(), [family, team]);

    let tags = store.all_server_tags().await.unwrap();
    assert_eq!(
        tags.into_iter().collect::<Vec<_>>(),
        [("nas".to_owned(), vec!["prod".to_owned(), "rack-a".to_owned()])]
    );

    assert_eq!(raw.count("SELECT COUNT(*) FROM deliveries").await, 3, "every delivery is kept");
    assert_eq!(due_channels(&store, time::from_millis(at)).await, ["slack"], "v1's Slack still delivers");
    assert!(matches!(store.get_channel("removed-long-ago").await, Err(StoreError::NotFound(_))));
    let reused = channel("removed-long-ago", "slack", json!({}));
    store.create_channel(&reused, time::from_millis(at)).await.unwrap();
    assert!(
        raw.execute("INSERT INTO deliveries (event_id, channel_id, next_attempt_at, created_at) SELECT id, 'nope', 0, 0 FROM alert_events")
            .await
            .is_err(),
        "deliveries now reference channels"
    );
    assert!(raw.execute("SELECT COUNT(*) FROM settings").await.is_err(), "the settings table is dropped");
    assert_eq!(raw.count("SELECT COUNT(*) FROM pending_upgrades").await, 0);
    store.close().await;

    let reopened = homelab_store::open(&raw.url(), &homelab_store::OpenOptions::default()).await.unwrap();
    assert_eq!(reopened.thresholds().await.unwrap(), thresholds, "the upgrade runs once");
    reopened.close().await;
}

/// A document that cannot be read stops the upgrade with an error naming it (and changes
/// nothing), rather than being replaced by defaults.
async fn an_unreadable_document_stops_the_upgrade(raw: Raw) {
    old(&raw, "INSERT INTO settings (key, value, updated_at) VALUES ('thresholds', '{\"cpu\": 12', 0)").await;
    let opened = homelab_store::open(&raw.url(), &homelab_store::OpenOptions::default()).await;
    assert!(matches!(&opened, Err(StoreError::Unreadable { what, .. }) if what == "thresholds"), "{:?}", opened.err());
    assert_eq!(raw.count("SELECT COUNT(*) FROM settings").await, 1, "nothing was changed");
    assert_eq!(raw.count("SELECT COUNT(*) FROM pending_upgrades WHERE name = 'typed-settings'").await, 1);
    old(&raw, "DELETE FROM settings WHERE key = 'thresholds'").await;
    let opened = homelab_store::open(&raw.url(), &homelab_store::OpenOptions::default()).await.unwrap();
    assert_eq!(opened.thresholds().await.unwrap(), Thresholds::default());
    opened.close().await;
}

/// Direct SQL access to a test database, to prove constraints without going through the store.
enum Raw {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Raw {
    fn url(&self) -> String {
        match self {
            Raw::Sqlite(path) => format!("sqlite://{}", path.display()),
            Raw::Postgres(url) => url.clone(),
        }
    }

    async fn execute(&self, sql: &str) -> Result<u64, String> {
        match self {
            Raw::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).map_err(|e| e.to_string())?;
                conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;")
                    .map_err(|e| e.to_string())?;
                conn.execute(sql, []).map(|n| n as u64).map_err(|e| e.to_string())
            }
            Raw::Postgres(url) => {
                let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
                let driver = tokio::spawn(connection);
                let result = client.execute(sql, &[]).await.map_err(|e| e.to_string());
                drop(client);
                let _ = driver.await;
                result
            }
        }
    }

    async fn count(&self, sql: &str) -> i64 {
        match self {
            Raw::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.query_row(sql, [], |row| row.get(0)).unwrap()
            }
            Raw::Postgres(url) => {
                let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
                let driver = tokio::spawn(connection);
                let count: i64 = client.query_one(sql, &[]).await.unwrap().get(0);
                drop(client);
                let _ = driver.await;
                count
            }
        }
    }
}

/// A heartbeat says how many notification events it committed (the hub wakes its dispatcher on
/// them), and the store tells an idle dispatcher when the next delivery falls due: a lease's end
/// or a scheduled retry, never what is already due.
async fn outbox_writes_are_counted_and_the_next_due_delivery_is_known(store: Arc<dyn Store>) {
    let t0 = t("2026-01-19T12:00:00Z");
    let healthy = store.ingest_heartbeat(write(heartbeat("nas", t0, 10.0), t0)).await.unwrap();
    assert_eq!(healthy.outbox_events, 0);
    let mut full = heartbeat("nas", t0 + Duration::minutes(1), 10.0);
    full.filesystems.as_mut().unwrap()[0].percent = 97.0;
    let opened = store.ingest_heartbeat(write(full, t0 + Duration::minutes(1))).await.unwrap();
    assert_eq!(opened.outbox_events, 1, "a full disk opens a critical alert at once");

    let now = t0 + Duration::minutes(1);
    assert_eq!(store.next_delivery_due_after(now).await.unwrap(), None, "nothing routed yet");
    let events = store.unrouted_events(10).await.unwrap();
    assert_eq!(events.len(), 1);
    store.create_channel(&channel("hook", "webhook", json!({"url": "https://example.org/in"})), now).await.unwrap();
    store.route_events(&[route(events[0].id, &["hook"])], now).await.unwrap();
    let waiting = store.frame_messages(&Grouping::default(), now).await.unwrap();
    assert_eq!(waiting, Some(now + Duration::seconds(1)), "an event waits a second for company");
    assert_eq!(store.next_delivery_due_after(now).await.unwrap(), None, "no message yet");
    let claimed = claim(&store, "hook", now).await.unwrap();
    assert_eq!(claimed.deliveries.len(), 1);
    assert_eq!(store.next_delivery_due_after(now).await.unwrap(), Some(now + Duration::seconds(60)), "the lease");
    let retry = DeliveryOutcome::Retry { error: "HTTP 503".into(), next_attempt_at: now + Duration::seconds(5) };
    assert!(store.finish_message(claimed.id, "test", &retry, now).await.unwrap());
    assert_eq!(store.next_delivery_due_after(now).await.unwrap(), Some(now + Duration::seconds(5)), "the retry");
    let later = now + Duration::seconds(5);
    let claimed = claim(&store, "hook", later).await.unwrap();
    assert!(store.finish_message(claimed.id, "test", &DeliveryOutcome::Delivered, later).await.unwrap());
    assert_eq!(store.next_delivery_due_after(t0).await.unwrap(), None, "delivered is not pending");
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = homelab_store::testing::sqlite_store(dir.path()).await;
                    super::$name(Arc::clone(&store)).await;
                    store.close().await;
                }
            )*
            use std::sync::Arc;
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some((store, _url)) = homelab_store::testing::postgres_store().await else { return };
                    super::$name(Arc::clone(&store)).await;
                    store.close().await;
                }
            )*
            use std::sync::Arc;
        }
    };
}

/// Like `suite!`, for scenarios that also need direct SQL access to the database.
macro_rules! raw_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite_raw {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = homelab_store::testing::sqlite_store(dir.path()).await;
                    super::$name(Arc::clone(&store), super::Raw::Sqlite(dir.path().join("homelab.db"))).await;
                    store.close().await;
                }
            )*
            use std::sync::Arc;
        }
        mod postgres_raw {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some((store, url)) = homelab_store::testing::postgres_store().await else { return };
                    super::$name(Arc::clone(&store), super::Raw::Postgres(url)).await;
                    store.close().await;
                }
            )*
            use std::sync::Arc;
        }
    };
}

/// Like `suite!`, for upgrade scenarios: each gets an empty database migrated only up to
/// schema version 6, as the hub before typed settings left it.
macro_rules! upgrade_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite_upgrade {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let path = dir.path().join("homelab.db");
                    homelab_store::sqlite::migrate_to(&path, 6).unwrap();
                    super::$name(super::Raw::Sqlite(path)).await;
                }
            )*
        }
        mod postgres_upgrade {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(cluster) = homelab_store::testing::postgres_cluster() else { return };
                    let url = cluster.create_database().await.unwrap();
                    homelab_store::postgres::PostgresBackend::migrate_to(&url, 6).await.unwrap();
                    super::$name(super::Raw::Postgres(url)).await;
                }
            )*
        }
    };
}

suite!(
    servers_crud,
    nul_text_is_refused_alike,
    heartbeat_registers_then_updates,
    guid_rules,
    packages_are_replaced_only_when_sent,
    deleting_a_server_removes_its_history,
    tiers_merge_without_holes,
    late_samples_after_pruning_are_counted_once,
    registration_tokens_and_credentials,
    typed_settings_round_trip,
    concurrent_settings_updates_are_not_lost,
    channels_crud,
    deleting_a_channel_keeps_its_delivery_history,
    the_v1_slack_url_stands_for_a_hidden_channel,
    server_tags,
    concurrent_heartbeats_all_commit,
    sustained_cpu_breach_opens_one_alert,
    a_heartbeat_after_a_threshold_change_is_judged_by_the_new_thresholds,
    acknowledged_alerts_still_auto_resolve,
    an_alert_row_follows_the_value_and_resolves_after_the_clear_period,
    manual_resolve_lets_a_new_alert_open,
    offline_detection_honours_the_timeout,
    service_down_alerts_follow_expected_services,
    concurrent_breaches_open_one_alert,
    replayed_heartbeats_do_not_alert,
    paused_servers_raise_nothing,
    outbox_writes_are_counted_and_the_next_due_delivery_is_known,
    inventory_keeps_each_key_and_watched_containers_alert,
    history_partitions_are_created_ahead,
    heartbeats_outside_every_partition_still_land,
    retention_drops_whole_partitions_and_reads_agree,
);

raw_suite!(
    deleting_a_server_removes_its_alerts,
    the_database_enforces_alert_invariants,
    one_hub_at_a_time_checks_offline,
    one_hub_at_a_time_rolls_up,
    a_sample_committing_during_a_rollup_is_counted,
    service_history_records_changes_only,
    per_series_history_is_converted_on_open,
    per_service_states_are_carried_into_snapshots,
    unreadable_settings_are_an_error_naming_them,
    reported_services_keep_their_newest_state,
    fleet_samples_read_every_server_at_once,
    two_hubs_maintain_partitions_together,
);

upgrade_suite!(settings_documents_are_carried_into_tables, an_unreadable_document_stops_the_upgrade);
