//! Notification messages on SQLite and PostgreSQL: a delivery id always carries the same events,
//! a channel's messages go in order, only the lease holder records an outcome, a restarted hub
//! takes back its leases at once, and storms are shared by every hub on the database.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::Duration;
use homelab_core::alerts::Severity;
use homelab_core::heartbeat::HeartbeatRequest;
use homelab_core::notify::Grouping;
use homelab_core::time::{self, Timestamp};
use homelab_store::{
    Channel, ChannelEvents, ClaimedMessage, DeliveryOutcome, EventRoute, HeartbeatWrite, Lease, OpenOptions, Store,
};
use serde_json::json;

fn t0() -> Timestamp {
    time::parse("2026-01-19T12:00:00Z").unwrap()
}

fn secs(seconds: i64) -> Timestamp {
    t0() + Duration::seconds(seconds)
}

/// A heartbeat with the root disk at `percent`: 97 opens a critical alert at once, 50 resolves it.
async fn disk(store: &Arc<dyn Store>, server: &str, percent: f64, at: Timestamp) {
    let request: HeartbeatRequest = serde_json::from_value(json!({
        "server_id": server,
        "hostname": format!("{server}.home.lan"),
        "timestamp": time::format(&at),
        "metrics": {"cpu_percent": 5.0, "memory_percent": 50.0, "disk_percent": percent},
    }))
    .unwrap();
    store
        .ingest_heartbeat(HeartbeatWrite { request, peer_ip: None, authenticated_guid: None, received_at: at })
        .await
        .unwrap();
}

/// Routes every unrouted event to the channel `hook`, grouped by alert kind as the dispatcher does.
async fn route(store: &Arc<dyn Store>, now: Timestamp) -> Vec<i64> {
    let events = store.unrouted_events(100).await.unwrap();
    let routes: Vec<EventRoute> = events
        .iter()
        .map(|e| EventRoute {
            event_id: e.id,
            channels: vec!["hook".into()],
            group: e.event.alert_type.as_str().into(),
        })
        .collect();
    store.route_events(&routes, now).await.unwrap();
    events.iter().map(|e| e.id).collect()
}

fn lease(instance: &str, token: &str, until: Timestamp) -> Lease {
    Lease { instance: instance.into(), token: token.into(), until }
}

async fn claim(store: &Arc<dyn Store>, token: &str, now: Timestamp) -> Option<ClaimedMessage> {
    store.frame_messages(&Grouping::default(), now).await.unwrap();
    store.claim_message("hook", &lease("hub.lan:8080", token, now + Duration::seconds(60)), now).await.unwrap()
}

fn events_of(message: &ClaimedMessage) -> Vec<i64> {
    message.deliveries.iter().map(|d| d.event_id).collect()
}

async fn with_hook(store: &Arc<dyn Store>) {
    let hook = Channel {
        id: "hook".into(),
        kind: "webhook".into(),
        enabled: true,
        min_severity: Severity::Low,
        events: ChannelEvents::default(),
        settings: json!({"url": "https://example.org/in"}).as_object().unwrap().clone(),
    };
    store.create_channel(&hook, t0()).await.unwrap();
}

/// After a failed attempt, the retry carries exactly the first attempt's events (an event
/// committed meanwhile goes in the next message), and the channel's next message, which holds
/// the alert's resolution, waits until the opening has been delivered.
async fn a_message_keeps_its_events_and_the_channel_its_order(store: Arc<dyn Store>) {
    with_hook(&store).await;
    disk(&store, "nas", 97.0, secs(0)).await;
    let opened = route(&store, secs(0)).await;
    assert!(claim(&store, "a", secs(0)).await.is_none(), "an event waits a second for company");
    let first = claim(&store, "a", secs(1)).await.unwrap();
    assert_eq!(events_of(&first), opened);
    let retry = DeliveryOutcome::Retry { error: "HTTP 503".into(), next_attempt_at: secs(11) };
    assert!(store.finish_message(first.id, "a", &retry, secs(1)).await.unwrap());

    disk(&store, "nas", 50.0, secs(5)).await;
    let resolved = route(&store, secs(5)).await;
    assert!(claim(&store, "a", secs(7)).await.is_none(), "the resolution waits behind the opening's retry");
    let again = claim(&store, "a", secs(11)).await.unwrap();
    assert_eq!((again.id, events_of(&again), again.attempts), (first.id, opened, 2), "same id, same events");
    assert!(store.finish_message(again.id, "a", &DeliveryOutcome::Delivered, secs(11)).await.unwrap());
    let next = claim(&store, "a", secs(11)).await.unwrap();
    assert!(next.id > first.id);
    assert_eq!(events_of(&next), resolved);
}

/// A hub whose lease ran out and was taken over cannot overwrite the new holder's outcome.
async fn only_the_lease_holder_records_the_outcome(store: Arc<dyn Store>) {
    with_hook(&store).await;
    disk(&store, "nas", 97.0, secs(0)).await;
    route(&store, secs(0)).await;
    let stale = claim(&store, "slow-hub", secs(1)).await.unwrap();
    assert!(claim(&store, "other-hub", secs(30)).await.is_none(), "leased");
    let taken = claim(&store, "other-hub", secs(61)).await.unwrap();
    assert_eq!(taken.id, stale.id);
    let retry = DeliveryOutcome::Retry { error: "HTTP 503".into(), next_attempt_at: secs(70) };
    assert!(store.finish_message(taken.id, "other-hub", &retry, secs(62)).await.unwrap());
    assert!(!store.finish_message(stale.id, "slow-hub", &DeliveryOutcome::Delivered, secs(63)).await.unwrap());
    let (records, _) = store.list_deliveries(None, 10, 0).await.unwrap();
    assert_eq!((records[0].status.as_str(), records[0].last_error.as_deref()), ("pending", Some("HTTP 503")));
}

/// A hub killed mid-send and started again sends its leased message at once, not a lease later;
/// another hub's leases are left alone.
async fn a_restarted_hub_takes_back_its_leases_at_once(store: Arc<dyn Store>) {
    with_hook(&store).await;
    disk(&store, "nas", 97.0, secs(0)).await;
    route(&store, secs(0)).await;
    let leased = claim(&store, "before-the-crash", secs(1)).await.unwrap();
    assert_eq!(store.release_leases("another-hub:8080", secs(5)).await.unwrap(), 0);
    assert!(claim(&store, "after-the-restart", secs(5)).await.is_none());
    assert_eq!(store.release_leases("hub.lan:8080", secs(5)).await.unwrap(), 1);
    let resent = claim(&store, "after-the-restart", secs(5)).await.unwrap();
    assert_eq!((resent.id, resent.attempts), (leased.id, 2));
}

/// Three machines' disks filling within the group interval are one message; a fourth is held
/// for the storm's follow-up, also when another hub frames it (`other` is a second store on the
/// same database, or the same store on SQLite).
async fn storms_are_shared_by_every_hub(store: Arc<dyn Store>, other: Arc<dyn Store>) {
    with_hook(&store).await;
    for server in ["nas", "pi", "mini"] {
        disk(&store, server, 97.0, secs(0)).await;
    }
    let storm = route(&store, secs(0)).await;
    let first = claim(&store, "a", secs(1)).await.unwrap();
    assert_eq!(events_of(&first), storm);
    assert!(store.finish_message(first.id, "a", &DeliveryOutcome::Delivered, secs(1)).await.unwrap());

    disk(&store, "desktop", 97.0, secs(10)).await;
    let late = route(&store, secs(10)).await;
    assert_eq!(other.frame_messages(&Grouping::default(), secs(12)).await.unwrap(), Some(secs(61)), "held");
    assert!(claim(&other, "b", secs(30)).await.is_none());
    let follow_up = claim(&other, "b", secs(61)).await.unwrap();
    assert_eq!(events_of(&follow_up), late);
}

/// An operator's retry of a dead delivery sends it under a new id; discarding a delivery that
/// waits in a message discards the whole message.
async fn operator_actions_never_change_what_an_id_carried(store: Arc<dyn Store>) {
    with_hook(&store).await;
    disk(&store, "nas", 97.0, secs(0)).await;
    disk(&store, "pi", 97.0, secs(0)).await;
    route(&store, secs(0)).await;
    let first = claim(&store, "a", secs(1)).await.unwrap();
    assert_eq!(first.deliveries.len(), 2);
    let dead = DeliveryOutcome::Dead { error: "HTTP 404".into() };
    assert!(store.finish_message(first.id, "a", &dead, secs(1)).await.unwrap());
    store.retry_delivery(first.deliveries[0].id, secs(2)).await.unwrap();
    let retried = claim(&store, "a", secs(2)).await.unwrap();
    assert!(retried.id > first.id);
    assert_eq!(events_of(&retried), [first.deliveries[0].event_id]);

    let retry = DeliveryOutcome::Retry { error: "HTTP 503".into(), next_attempt_at: secs(60) };
    assert!(store.finish_message(retried.id, "a", &retry, secs(2)).await.unwrap());
    store.retry_delivery(retried.deliveries[0].id, secs(3)).await.unwrap();
    assert_eq!(claim(&store, "a", secs(3)).await.unwrap().id, retried.id, "a waiting retry is due at once");
    store.discard_delivery(retried.deliveries[0].id, secs(4)).await.unwrap();
    let (records, _) = store.list_deliveries(None, 10, 0).await.unwrap();
    let statuses: Vec<&str> = records.iter().map(|d| d.status.as_str()).collect();
    assert_eq!(statuses, ["dead", "discarded"], "newest first");
}

macro_rules! on_both_backends {
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

            use super::*;
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

            use super::*;
        }
    };
}

on_both_backends!(
    a_message_keeps_its_events_and_the_channel_its_order,
    only_the_lease_holder_records_the_outcome,
    a_restarted_hub_takes_back_its_leases_at_once,
    operator_actions_never_change_what_an_id_carried,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storms_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = homelab_store::testing::sqlite_store(dir.path()).await;
    storms_are_shared_by_every_hub(Arc::clone(&store), Arc::clone(&store)).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storms_on_postgres_across_two_hubs() {
    let Some((store, url)) = homelab_store::testing::postgres_store().await else { return };
    let other = homelab_store::open(&url, &OpenOptions::default()).await.unwrap();
    storms_are_shared_by_every_hub(Arc::clone(&store), Arc::clone(&other)).await;
    other.close().await;
    store.close().await;
}
