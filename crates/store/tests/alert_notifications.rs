//! `Store::alert_notifications`: one alert's outbox events and their deliveries (the dashboard's
//! alert timeline), on SQLite and PostgreSQL.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::Duration;
use homelab_core::alerts::Severity;
use homelab_core::heartbeat::HeartbeatRequest;
use homelab_core::notify::Grouping;
use homelab_core::time::{self, Timestamp};
use homelab_store::{AlertFilter, Channel, ChannelEvents, DeliveryOutcome, EventRoute, HeartbeatWrite, Lease, Store};
use serde_json::json;

fn t(text: &str) -> Timestamp {
    time::parse(text).unwrap()
}

async fn beat(store: &Arc<dyn Store>, id: &str, at: Timestamp, cpu: f64) {
    let request: HeartbeatRequest = serde_json::from_value(json!({
        "server_id": id,
        "hostname": format!("{id}.home.lan"),
        "timestamp": time::format(&at),
        "metrics": {"cpu_percent": cpu, "memory_percent": 50.0, "disk_percent": 70.0},
    }))
    .unwrap();
    let write = HeartbeatWrite { request, peer_ip: None, authenticated_guid: None, received_at: at };
    store.ingest_heartbeat(write).await.unwrap();
}

/// Routes every unrouted event to `channels`.
async fn route_all(store: &Arc<dyn Store>, channels: &[&str], now: Timestamp) {
    let events = store.unrouted_events(100).await.unwrap();
    let routes: Vec<EventRoute> = events
        .iter()
        .map(|e| EventRoute {
            event_id: e.id,
            channels: channels.iter().map(|c| (*c).to_owned()).collect(),
            group: e.event.alert_type.as_str().into(),
        })
        .collect();
    store.route_events(&routes, now).await.unwrap();
}

/// An alert that fired (delivered to one channel, failed on another) and escalated; a second
/// server's alert must not show up in the first one's timeline.
async fn an_alerts_events_and_deliveries_come_together(store: Arc<dyn Store>) {
    let t0 = t("2026-01-19T12:00:00Z");
    for minute in 0..4 {
        beat(&store, "busy", t0 + Duration::minutes(minute), 90.0).await;
        beat(&store, "other", t0 + Duration::minutes(minute), 92.0).await;
    }
    let now = t0 + Duration::minutes(4);
    for (id, kind) in [("slack", "slack"), ("hook", "webhook")] {
        let channel = Channel {
            id: id.into(),
            kind: kind.into(),
            enabled: true,
            min_severity: Severity::Low,
            events: ChannelEvents::default(),
            settings: serde_json::Map::new(),
        };
        store.create_channel(&channel, now).await.unwrap();
    }
    route_all(&store, &["slack", "hook"], now).await;
    for (channel, outcome) in [
        ("slack", DeliveryOutcome::Delivered),
        ("hook", DeliveryOutcome::Dead { error: "HTTP 404: no such hook".into() }),
    ] {
        let no_wait = Grouping { wait: Duration::zero(), ..Grouping::default() };
        store.frame_messages(&no_wait, now).await.unwrap();
        let lease = Lease { instance: "hub".into(), token: "test".into(), until: now + Duration::minutes(1) };
        let claimed = store.claim_message(channel, &lease, now).await.unwrap().unwrap();
        assert!(store.finish_message(claimed.id, "test", &outcome, now).await.unwrap());
    }
    beat(&store, "busy", t0 + Duration::minutes(5), 97.0).await;
    route_all(&store, &["slack"], t0 + Duration::minutes(5)).await;

    let filter = AlertFilter { server_id: Some("busy".into()), limit: 10, ..Default::default() };
    let id = store.list_alerts(&filter).await.unwrap().alerts[0].id;
    let (events, deliveries) = store.alert_notifications(id).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["opened", "escalated"], "oldest first");
    assert!(events.iter().all(|e| e.alert_id == Some(id) && e.server_id == "busy"));
    let summary: Vec<(i64, &str, &str, Option<&str>)> = deliveries
        .iter()
        .map(|d| (d.event_id, d.channel_id.as_str(), d.status.as_str(), d.last_error.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            (events[0].id, "slack", "delivered", None),
            (events[0].id, "hook", "dead", Some("HTTP 404: no such hook")),
            (events[1].id, "slack", "pending", None),
        ]
    );
    assert_eq!(deliveries[0].delivered_at, Some(now));

    let (events, deliveries) = store.alert_notifications(999_999).await.unwrap();
    assert!(events.is_empty() && deliveries.is_empty(), "an unknown alert has no timeline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = homelab_store::testing::sqlite_store(dir.path()).await;
    an_alerts_events_and_deliveries_come_together(Arc::clone(&store)).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let Some((store, _url)) = homelab_store::testing::postgres_store().await else { return };
    an_alerts_events_and_deliveries_come_together(Arc::clone(&store)).await;
    store.close().await;
}
