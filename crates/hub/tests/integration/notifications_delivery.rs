//! End to end: heartbeat → alert → outbox → dispatcher → a real local receiver. Timelines are
//! driven by the hub's manual clock; waits poll the receiver with a deadline.
use crate::common;

use std::time::{Duration, Instant};

use chrono::Duration as Span;
use common::receiver::{Answer, FakeReceiver};
use common::{TestHub, heartbeat_body};
use homelab_hub::config::{Config, LocalAgentConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A heartbeat with one disk over the critical level (disk alerts fire at once by default).
fn full_disk(hub: &TestHub, server: &str) -> Value {
    let mut body = heartbeat_body(server, hub.now(), 10.0);
    body["filesystems"][0]["percent"] = json!(97.0);
    body["metrics"]["disk_percent"] = json!(97.0);
    body
}

async fn add_webhook(hub: &TestHub, receiver: &FakeReceiver) {
    let (status, body) =
        hub.post("/api/v1/notifications/channels", json!({"id": "hook", "kind": "webhook", "url": receiver.url})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn deliveries(hub: &TestHub) -> Vec<homelab_store::DeliveryRecord> {
    hub.store.list_deliveries(None, 100, 0).await.unwrap().0
}

/// Polls the store until `check` holds for the deliveries (10 s deadline).
async fn wait_until(hub: &TestHub, what: &str, check: impl Fn(&[homelab_store::DeliveryRecord]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let current = deliveries(hub).await;
        if check(&current) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {current:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn an_alert_reaches_the_webhook_quickly(hub: &TestHub) {
    let receiver = FakeReceiver::start(&[]).await;
    add_webhook(hub, &receiver).await;
    let sent = Instant::now();
    assert_eq!(hub.heartbeat(full_disk(hub, "nas")).await.0, StatusCode::OK);
    let received = receiver.wait_for(1).await;
    let latency = sent.elapsed();
    eprintln!("alert-to-notification latency: {latency:?}");
    let body = received[0].json();
    assert_eq!(body["version"], "1");
    assert_eq!(body["events"][0]["kind"], "opened");
    assert_eq!(body["events"][0]["key"], "disk:/");
    assert_eq!(body["events"][0]["severity"], "critical");
    assert_eq!(
        received[0].header("x-homelab-delivery").as_deref(),
        Some(format!("hook-{}", deliveries(hub).await[0].id).as_str())
    );
    assert!(latency < Duration::from_secs(2), "{latency:?}");
}

async fn a_failing_receiver_gets_every_event_exactly_once_after_recovery(hub: &TestHub) {
    let receiver = FakeReceiver::start(&[Answer(500, None), Answer(502, None), Answer(503, None)]).await;
    add_webhook(hub, &receiver).await;
    hub.heartbeat(full_disk(hub, "nas")).await;
    // Each failure schedules a retry 5 s, 10 s, 20 s (±20 %) later on the hub's clock.
    for attempt in 1..=3 {
        wait_until(hub, "a failed attempt", |d| {
            d.first().is_some_and(|d| d.attempts == attempt && d.last_error.is_some())
        })
        .await;
        assert!(receiver.received().is_empty());
        hub.clock.advance(Span::seconds(30));
    }
    receiver.wait_for(1).await;
    wait_until(hub, "delivered", |d| d.first().is_some_and(|d| d.status == "delivered")).await;
    hub.clock.advance(Span::minutes(10));
    // Give the dispatcher several passes; nothing more may arrive.
    tokio::time::sleep(homelab_hub::jobs::dispatcher::POLL_INTERVAL * 4).await;
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(receiver.failed().len(), 3);
    assert_eq!(deliveries(hub).await[0].attempts, 4);
}

async fn retry_after_is_respected(hub: &TestHub) {
    let receiver = FakeReceiver::start(&[Answer(429, Some(120))]).await;
    add_webhook(hub, &receiver).await;
    hub.heartbeat(full_disk(hub, "nas")).await;
    wait_until(hub, "the 429", |d| d.first().is_some_and(|d| d.attempts == 1 && d.last_error.is_some())).await;
    let first = deliveries(hub).await[0].clone();
    assert_eq!(first.next_attempt_at, hub.now() + Span::seconds(120), "Retry-After beats the 5 s backoff");
    hub.clock.advance(Span::seconds(119));
    tokio::time::sleep(homelab_hub::jobs::dispatcher::POLL_INTERVAL * 4).await;
    assert!(receiver.received().is_empty(), "retried before Retry-After");
    hub.clock.advance(Span::seconds(2));
    receiver.wait_for(1).await;
}

async fn permanent_errors_dead_letter_and_can_be_retried(hub: &TestHub) {
    let receiver = FakeReceiver::start(&[Answer(410, None)]).await;
    add_webhook(hub, &receiver).await;
    hub.heartbeat(full_disk(hub, "nas")).await;
    wait_until(hub, "dead letter", |d| d.first().is_some_and(|d| d.status == "dead")).await;
    let dead = deliveries(hub).await[0].clone();
    assert_eq!(dead.last_error.as_deref(), Some("HTTP 410: receiver says 410"));
    let (status, body) = hub.get("/api/v1/notifications/deliveries?status=dead").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 1);
    assert_eq!(body["deliveries"][0]["last_error"], "HTTP 410: receiver says 410");
    let (status, _) = hub.post(&format!("/api/v1/notifications/deliveries/{}/retry", dead.id), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    receiver.wait_for(1).await;
    wait_until(hub, "delivered after the retry", |d| d.first().is_some_and(|d| d.status == "delivered")).await;
    let (status, body) = hub.post(&format!("/api/v1/notifications/deliveries/{}/discard", dead.id), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

async fn a_storm_is_grouped(hub: &TestHub) {
    let receiver = FakeReceiver::start(&[]).await;
    add_webhook(hub, &receiver).await;
    hub.heartbeat(full_disk(hub, "first")).await;
    receiver.wait_for(1).await;
    for i in 0..5 {
        hub.heartbeat(full_disk(hub, &format!("storm-{i}"))).await;
    }
    wait_until(hub, "five routed deliveries", |d| d.len() == 6).await;
    tokio::time::sleep(homelab_hub::jobs::dispatcher::POLL_INTERVAL * 4).await;
    assert_eq!(receiver.received().len(), 1, "held inside the grouping window");
    hub.clock.advance(Span::seconds(30));
    let received = receiver.wait_for(2).await;
    assert_eq!(received[1].json()["events"].as_array().unwrap().len(), 5);
    assert_eq!(received[1].json()["summary"], "5 alerts");
}

async fn the_v1_slack_setting_notifies(hub: &TestHub) {
    let slack = FakeReceiver::start(&[]).await;
    let (status, body) = hub.put("/api/v1/config/notifications", json!({"slack_webhook_url": slack.url})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    hub.heartbeat(full_disk(hub, "nas")).await;
    let received = slack.wait_for(1).await;
    let payload = received[0].json();
    assert_eq!(payload["attachments"][0]["blocks"][0]["text"]["text"], "Critical: DISK Usage Alert");
    assert_eq!(payload["attachments"][0]["color"], "#F87171");
}

on_both_backends!(
    an_alert_reaches_the_webhook_quickly,
    a_failing_receiver_gets_every_event_exactly_once_after_recovery,
    retry_after_is_respected,
    permanent_errors_dead_letter_and_can_be_retried,
    a_storm_is_grouped,
    the_v1_slack_setting_notifies,
);

fn config_for(database_url: &str) -> Config {
    Config {
        api_key: common::API_KEY.into(),
        database_url: database_url.into(),
        local_agent: LocalAgentConfig { enabled: false, ..Default::default() },
        ..Config::default()
    }
}

/// The receiver is down while the hub restarts; the events wait in the database and all arrive
/// once it recovers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_across_a_restart_still_gets_every_event() {
    let receiver = FakeReceiver::start(&[]).await;
    receiver.set_down(true);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("hub.db").display());
    let mut config = config_for(&url);
    config.notification_group_window_seconds = 0;
    let hub = TestHub::start_with(config.clone(), tempfile::tempdir().unwrap()).await;
    add_webhook(&hub, &receiver).await;
    for i in 0..3 {
        hub.heartbeat(full_disk(&hub, &format!("node-{i}"))).await;
    }
    wait_until(&hub, "failed attempts", |d| d.len() == 3 && d.iter().all(|d| d.last_error.is_some())).await;
    assert!(receiver.received().is_empty());
    let stopped_at = hub.now();
    hub.stop().await;

    let hub = TestHub::start_with(config, tempfile::tempdir().unwrap()).await;
    receiver.set_down(false);
    hub.clock.set(stopped_at + Span::hours(1));
    let received = receiver.wait_for(1).await;
    wait_until(&hub, "all delivered", |d| d.iter().all(|d| d.status == "delivered")).await;
    let servers: Vec<String> = receiver
        .received()
        .iter()
        .flat_map(|r| r.json()["events"].as_array().unwrap().clone())
        .map(|e| e["server_id"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted = servers.clone();
    sorted.sort();
    assert_eq!(sorted, ["node-0", "node-1", "node-2"], "every event once: {received:?}");
    hub.stop().await;
}

/// Two hubs on one PostgreSQL database dispatch concurrently; each event is sent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dispatchers_on_postgres_never_send_twice() {
    let Some(cluster) = homelab_store::testing::postgres_cluster() else { return };
    let url = cluster.create_database().await.unwrap();
    let receiver = FakeReceiver::start(&[]).await;
    let mut config = config_for(&url);
    config.notification_group_window_seconds = 0;
    let first = TestHub::start_with(config.clone(), tempfile::tempdir().unwrap()).await;
    let second = TestHub::start_with(config, tempfile::tempdir().unwrap()).await;
    add_webhook(&first, &receiver).await;
    let count = 20;
    for i in 0..count {
        let hub = if i % 2 == 0 { &first } else { &second };
        assert_eq!(hub.heartbeat(full_disk(hub, &format!("pg-{i}"))).await.0, StatusCode::OK);
    }
    wait_until(&first, "all delivered", |d| d.len() == count && d.iter().all(|d| d.status == "delivered")).await;
    let mut servers: Vec<String> = receiver
        .received()
        .iter()
        .flat_map(|r| r.json()["events"].as_array().unwrap().clone())
        .map(|e| e["server_id"].as_str().unwrap().to_owned())
        .collect();
    servers.sort();
    let mut expected: Vec<String> = (0..count).map(|i| format!("pg-{i}")).collect();
    expected.sort();
    assert_eq!(servers, expected, "each event exactly once across both hubs");
    first.stop().await;
    second.stop().await;
}
