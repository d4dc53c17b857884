//! End to end: heartbeat → alert → outbox → dispatcher → a real local receiver. Timelines are
//! driven by the hub's manual clock and by stepping the dispatcher: each step routes and sends
//! everything due at the hub's time and returns when the sends have ended, so nothing here
//! sleeps. One scenario runs the dispatcher as production does, woken by the heartbeat's commit.
use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Duration as Span;
use common::receiver::{Answer, FakeReceiver};
use common::{Backend, TestHub, heartbeat_body};
use homelab_hub::config::{Config, LocalAgentConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Notify;

/// A heartbeat with one disk over the critical level (disk alerts fire at once by default).
fn full_disk(hub: &TestHub, server: &str) -> Value {
    let mut body = heartbeat_body(server, hub.now(), 10.0);
    body["filesystems"][0]["percent"] = json!(97.0);
    body["metrics"]["disk_percent"] = json!(97.0);
    body
}

async fn add_webhook(hub: &TestHub, receiver: &FakeReceiver) {
    add_channel(hub, "hook", &receiver.url).await;
}

async fn add_channel(hub: &TestHub, id: &str, url: &str) {
    let (status, body) =
        hub.post("/api/v1/notifications/channels", json!({"id": id, "kind": "webhook", "url": url})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn deliveries(hub: &TestHub) -> Vec<homelab_store::DeliveryRecord> {
    hub.store.list_deliveries(None, 100, 0).await.unwrap().0
}

/// The dispatcher as production runs it: woken by the heartbeat's commit, not by polling.
async fn an_alert_reaches_the_webhook_quickly(backend: Backend) {
    let Some(hub) = TestHub::start_running_on(backend).await else { return };
    let receiver = FakeReceiver::start(&[]).await;
    add_webhook(&hub, &receiver).await;
    let sent = Instant::now();
    assert_eq!(hub.heartbeat(full_disk(&hub, "nas")).await.0, StatusCode::OK);
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
        Some(format!("hook-{}", deliveries(&hub).await[0].id).as_str())
    );
    assert!(latency < Duration::from_secs(2), "{latency:?}");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_reaches_the_webhook_quickly_on_sqlite() {
    an_alert_reaches_the_webhook_quickly(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_reaches_the_webhook_quickly_on_postgres() {
    an_alert_reaches_the_webhook_quickly(Backend::Postgres).await;
}

async fn a_failing_receiver_gets_every_event_exactly_once_after_recovery(hub: &TestHub) {
    let receiver = FakeReceiver::start(&[Answer(500, None), Answer(502, None), Answer(503, None)]).await;
    add_webhook(hub, &receiver).await;
    hub.heartbeat(full_disk(hub, "nas")).await;
    // Each failure schedules a retry 5 s, 10 s, 20 s (±20 %) later on the hub's clock.
    for attempt in 1..=3 {
        hub.step_dispatcher().await;
        let current = deliveries(hub).await;
        assert!(current[0].attempts == attempt && current[0].last_error.is_some(), "attempt {attempt}: {current:#?}");
        assert!(receiver.received().is_empty());
        hub.step_dispatcher().await;
        assert_eq!(deliveries(hub).await[0].attempts, attempt, "not retried before its time");
        hub.clock.advance(Span::seconds(30));
    }
    hub.step_dispatcher().await;
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(deliveries(hub).await[0].status, "delivered");
    hub.clock.advance(Span::minutes(10));
    // Nothing more may arrive.
    hub.step_dispatcher().await;
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(receiver.failed().len(), 3);
    assert_eq!(deliveries(hub).await[0].attempts, 4);
}

async fn retry_after_is_respected(hub: &TestHub) {
    let receiver = FakeReceiver::start(&[Answer(429, Some(120))]).await;
    add_webhook(hub, &receiver).await;
    hub.heartbeat(full_disk(hub, "nas")).await;
    hub.step_dispatcher().await;
    let first = deliveries(hub).await[0].clone();
    assert!(first.attempts == 1 && first.last_error.is_some(), "{first:#?}");
    assert_eq!(first.next_attempt_at, hub.now() + Span::seconds(120), "Retry-After beats the 5 s backoff");
    hub.clock.advance(Span::seconds(119));
    hub.step_dispatcher().await;
    assert!(receiver.received().is_empty(), "retried before Retry-After");
    hub.clock.advance(Span::seconds(2));
    hub.step_dispatcher().await;
    assert_eq!(receiver.received().len(), 1);
}

async fn permanent_errors_dead_letter_and_can_be_retried(hub: &TestHub) {
    let receiver = FakeReceiver::start(&[Answer(410, None)]).await;
    add_webhook(hub, &receiver).await;
    hub.heartbeat(full_disk(hub, "nas")).await;
    hub.step_dispatcher().await;
    let dead = deliveries(hub).await[0].clone();
    assert_eq!(dead.status, "dead");
    assert_eq!(dead.last_error.as_deref(), Some("HTTP 410: receiver says 410"));
    let (status, body) = hub.get("/api/v1/notifications/deliveries?status=dead").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 1);
    assert_eq!(body["deliveries"][0]["last_error"], "HTTP 410: receiver says 410");
    let (status, _) = hub.post(&format!("/api/v1/notifications/deliveries/{}/retry", dead.id), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    hub.step_dispatcher().await;
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(deliveries(hub).await[0].status, "delivered");
    let (status, body) = hub.post(&format!("/api/v1/notifications/deliveries/{}/discard", dead.id), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

async fn the_v1_slack_setting_notifies(hub: &TestHub) {
    let slack = FakeReceiver::start(&[]).await;
    let (status, body) = hub.put("/api/v1/config/notifications", json!({"slack_webhook_url": slack.url})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    hub.heartbeat(full_disk(hub, "nas")).await;
    hub.step_dispatcher().await;
    let received = slack.received();
    assert_eq!(received.len(), 1);
    let payload = received[0].json();
    assert_eq!(payload["attachments"][0]["blocks"][0]["text"]["text"], "Critical: DISK Usage Alert");
    assert_eq!(payload["attachments"][0]["color"], "#F87171");
}

/// The offline check's events reach the channels like a heartbeat's: stepped, on the manual clock.
async fn a_silent_server_is_notified_when_the_offline_check_runs(hub: &TestHub) {
    let receiver = FakeReceiver::start(&[]).await;
    add_webhook(hub, &receiver).await;
    assert_eq!(hub.heartbeat(heartbeat_body("srv", hub.now(), 5.0)).await.0, StatusCode::OK);
    hub.clock.advance(Span::seconds(181));
    hub.step_dispatcher().await;
    assert!(receiver.received().is_empty(), "silence alone says nothing before the check");
    hub.step_offline_check().await;
    hub.step_dispatcher().await;
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let event = &received[0].json()["events"][0];
    assert_eq!((event["kind"].clone(), event["server_id"].clone()), (json!("opened"), json!("srv")), "{event}");
}

/// A receiver that accepts connections and never answers (a dead host behind a live proxy).
struct Hanging {
    url: String,
    accepted: Arc<AtomicUsize>,
    changed: Arc<Notify>,
}

impl Hanging {
    async fn start() -> Hanging {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let (accepted, changed) = (Arc::new(AtomicUsize::new(0)), Arc::new(Notify::new()));
        tokio::spawn({
            let (accepted, changed) = (Arc::clone(&accepted), Arc::clone(&changed));
            async move {
                let mut held = Vec::new();
                while let Ok((stream, _)) = listener.accept().await {
                    held.push(stream);
                    accepted.fetch_add(1, Ordering::SeqCst);
                    changed.notify_waiters();
                }
            }
        });
        Hanging { url, accepted, changed }
    }

    /// Waits (10 s at most) until a sender has connected.
    async fn wait_connected(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let changed = self.changed.notified();
            if self.accepted.load(Ordering::SeqCst) > 0 {
                return;
            }
            assert!(tokio::time::timeout_at(deadline, changed).await.is_ok(), "nobody connected");
        }
    }
}

/// Channels are sent to concurrently: while one receiver hangs, another gets its message.
async fn a_hanging_channel_delays_only_itself(hub: &TestHub) {
    let hanging = Hanging::start().await;
    let receiver = FakeReceiver::start(&[]).await;
    add_channel(hub, "dead-end", &hanging.url).await;
    add_webhook(hub, &receiver).await;
    hub.heartbeat(full_disk(hub, "nas")).await;
    assert_eq!(hub.dispatcher_pass().await, 2, "one send per channel started");
    hanging.wait_connected().await;
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].json()["events"][0]["server_id"], "nas");
    // The answer is recorded right after it arrives, while the other send still hangs.
    let deadline = Instant::now() + Duration::from_secs(5);
    let current = loop {
        let current = deliveries(hub).await;
        if current.iter().any(|d| d.channel_id == "hook" && d.status == "delivered") {
            break current;
        }
        assert!(Instant::now() < deadline, "the delivery was not recorded: {current:#?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let stuck = current.iter().find(|d| d.channel_id == "dead-end").unwrap();
    assert!(stuck.status == "pending" && stuck.last_error.is_none(), "still being sent: {stuck:#?}");
}

on_both_backends!(
    a_failing_receiver_gets_every_event_exactly_once_after_recovery,
    retry_after_is_respected,
    permanent_errors_dead_letter_and_can_be_retried,
    the_v1_slack_setting_notifies,
    a_hanging_channel_delays_only_itself,
    a_silent_server_is_notified_when_the_offline_check_runs,
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
    config.notification_group_wait_seconds = 0;
    let hub = TestHub::start_with(config.clone(), tempfile::tempdir().unwrap()).await;
    add_webhook(&hub, &receiver).await;
    for i in 0..3 {
        hub.heartbeat(full_disk(&hub, &format!("node-{i}"))).await;
    }
    hub.step_dispatcher().await;
    let failed = deliveries(&hub).await;
    assert!(failed.len() == 3 && failed.iter().all(|d| d.last_error.is_some()), "{failed:#?}");
    assert!(receiver.received().is_empty());
    let stopped_at = hub.now();
    hub.stop().await;

    let hub = TestHub::start_with(config, tempfile::tempdir().unwrap()).await;
    receiver.set_down(false);
    hub.clock.set(stopped_at + Span::hours(1));
    hub.step_dispatcher().await;
    let received = receiver.received();
    assert!(deliveries(&hub).await.iter().all(|d| d.status == "delivered"), "{received:?}");
    assert_eq!(notified_servers(&receiver), ["node-0", "node-1", "node-2"], "every event once: {received:?}");
    hub.stop().await;
}

/// Two hubs on one PostgreSQL database dispatch concurrently; each event is sent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_dispatchers_on_postgres_never_send_twice() {
    let Some((first, second, receiver)) = two_hubs_on_postgres().await else { return };
    let count = 20;
    for i in 0..count {
        let hub = if i % 2 == 0 { &first } else { &second };
        assert_eq!(hub.heartbeat(full_disk(hub, &format!("pg-{i}"))).await.0, StatusCode::OK);
    }
    // Both dispatch at once; the leases keep them from sending anything twice.
    tokio::join!(first.step_dispatcher(), second.step_dispatcher());
    let done = deliveries(&first).await;
    assert!(done.len() == count && done.iter().all(|d| d.status == "delivered"), "{done:#?}");
    let servers = notified_servers(&receiver);
    let mut expected: Vec<String> = (0..count).map(|i| format!("pg-{i}")).collect();
    expected.sort();
    assert_eq!(servers, expected, "each event exactly once across both hubs");
    first.stop().await;
    second.stop().await;
}

/// Two hubs on one PostgreSQL database ingest the same fleet at the same time, each heartbeat of
/// a server going to one hub or the other (with group commit, each hub batches them with other
/// servers'): every heartbeat is stored, each full disk opens one alert, not one per hub, and
/// each alert is notified once although both hubs dispatch together.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hubs_ingesting_together_on_postgres_lose_nothing_and_alert_once() {
    let Some((first, second, receiver)) = two_hubs_on_postgres().await else { return };
    let (servers, beats) = (12, 15);
    let start = first.now();
    let sends = (0..servers * beats).map(|n| {
        let (server, beat) = (n % servers, n / servers);
        let hub = if (server + beat) % 2 == 0 { &first } else { &second };
        let mut body = heartbeat_body(&format!("fleet-{server}"), start + Span::seconds(beat as i64), 10.0);
        body["filesystems"][0]["percent"] = json!(97.0);
        body["metrics"]["disk_percent"] = json!(97.0);
        async move { hub.heartbeat(body).await }
    });
    // All at once: both hubs' writers hold open batches of these concurrently.
    let answers = futures_util::future::join_all(sends).await;
    assert!(answers.iter().all(|(status, _)| *status == StatusCode::OK), "{answers:?}");

    for server in 0..servers {
        let id = format!("fleet-{server}");
        let query = homelab_store::HistoryQuery {
            metrics: vec![homelab_core::history::MetricKind::CpuPercent],
            from: start - Span::minutes(1),
            to: start + Span::minutes(5),
            source: homelab_core::history::Tier::Raw,
            bucket_millis: None,
        };
        let series = first.store.history(&id, &query).await.unwrap();
        let points: usize = series.iter().map(|s| s.points.len()).sum();
        assert_eq!(points, beats, "{id}: every heartbeat stored once");
    }
    let (status, alerts) = first.get("/api/v1/alerts?status=open&limit=100").await;
    assert_eq!(status, StatusCode::OK);
    let mut alerted: Vec<String> =
        alerts["alerts"].as_array().unwrap().iter().map(|a| a["server_id"].as_str().unwrap().to_owned()).collect();
    alerted.sort();
    let mut expected: Vec<String> = (0..servers).map(|i| format!("fleet-{i}")).collect();
    expected.sort();
    assert_eq!(alerted, expected, "one open disk alert per server, not one per hub");

    tokio::join!(first.step_dispatcher(), second.step_dispatcher());
    assert_eq!(notified_servers(&receiver), expected, "each alert notified exactly once across both hubs");
    first.stop().await;
    second.stop().await;
}

/// Two hubs on one fresh PostgreSQL database, dispatching at once (no grouping wait), with a
/// webhook channel to `receiver`; `None` when PostgreSQL is skipped.
async fn two_hubs_on_postgres() -> Option<(TestHub, TestHub, FakeReceiver)> {
    let cluster = homelab_store::testing::postgres_cluster()?;
    let url = cluster.create_database().await.unwrap();
    let receiver = FakeReceiver::start(&[]).await;
    let mut config = config_for(&url);
    config.notification_group_wait_seconds = 0;
    let first = TestHub::start_with(config.clone(), tempfile::tempdir().unwrap()).await;
    let second = TestHub::start_with(config, tempfile::tempdir().unwrap()).await;
    add_webhook(&first, &receiver).await;
    Some((first, second, receiver))
}

/// The server of every event the receiver got, sorted (each event once per message it was in).
fn notified_servers(receiver: &FakeReceiver) -> Vec<String> {
    let mut servers: Vec<String> = receiver
        .received()
        .iter()
        .flat_map(|r| r.json()["events"].as_array().unwrap().clone())
        .map(|e| e["server_id"].as_str().unwrap().to_owned())
        .collect();
    servers.sort();
    servers
}
