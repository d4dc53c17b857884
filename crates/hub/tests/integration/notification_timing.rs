//! When notifications go out, on the manual clock with the production waits (1 s for company,
//! storms from 3 machines, follow-ups once per 60 s): isolated events within 2 s of their commit
//! whatever went out before, storms as one message and one follow-up, v1 Slack's one event per
//! message, and an alert's events in order. The dispatcher is stepped; nothing sleeps.
use crate::common;

use chrono::Duration as Span;
use common::receiver::{Answer, FakeReceiver, Received};
use common::{Backend, TestHub, heartbeat_body};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A heartbeat with the root disk at `percent` (high 80 %, critical 95 %, no sustain window).
fn disk(hub: &TestHub, server: &str, percent: f64) -> Value {
    let mut body = heartbeat_body(server, hub.now(), 10.0);
    body["filesystems"][0]["percent"] = json!(percent);
    body
}

async fn beat(hub: &TestHub, body: Value) {
    let (status, answer) = hub.heartbeat(body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

async fn webhook(hub: &TestHub, script: &[Answer]) -> FakeReceiver {
    let receiver = FakeReceiver::start(script).await;
    let (status, body) =
        hub.post("/api/v1/notifications/channels", json!({"id": "hook", "kind": "webhook", "url": receiver.url})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    receiver
}

/// The event kinds of each message received, in order.
fn kinds(received: &[Received]) -> Vec<Vec<String>> {
    received
        .iter()
        .map(|r| {
            r.json()["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect()
        })
        .collect()
}

/// Steps the dispatcher `seconds` after now.
async fn step_after(hub: &TestHub, seconds: i64) {
    hub.clock.advance(Span::seconds(seconds));
    hub.step_dispatcher().await;
}

/// v1: "disk 82 then 96 sends an escalation", "disk 85 then 70 sends a resolution", each within
/// 2 s, although a message went out on the channel seconds before.
async fn isolated_events_go_within_two_seconds(backend: Backend) {
    let Some(hub) = TestHub::start_with_production_timing(backend).await else { return };
    let receiver = webhook(&hub, &[]).await;
    beat(&hub, disk(&hub, "nas", 82.0)).await;
    hub.step_dispatcher().await;
    assert!(receiver.received().is_empty(), "an event waits a second for company");
    step_after(&hub, 1).await;
    assert_eq!(kinds(&receiver.received()), [["opened"]]);

    hub.clock.advance(Span::seconds(4));
    beat(&hub, disk(&hub, "nas", 96.0)).await;
    step_after(&hub, 1).await;
    assert_eq!(kinds(&receiver.received())[1], ["escalated"], "5 s after the opening's message, 1 s after its commit");

    hub.clock.advance(Span::seconds(2));
    beat(&hub, disk(&hub, "nas", 70.0)).await;
    step_after(&hub, 1).await;
    let received = receiver.received();
    assert_eq!(kinds(&received)[2], ["resolved"]);
    let ids: Vec<String> = received.iter().map(|r| r.header("x-homelab-delivery").unwrap()).collect();
    assert!(ids[0] != ids[1] && ids[1] != ids[2], "{ids:?}");
    hub.stop().await;
}

/// Ten machines filling their disks in one burst are one message; one more a little later waits
/// for the storm's follow-up; an unrelated kind of event is not held by the storm.
async fn a_storm_is_one_message_and_one_follow_up(backend: Backend) {
    let Some(hub) = TestHub::start_with_production_timing(backend).await else { return };
    let receiver = webhook(&hub, &[]).await;
    for i in 0..10 {
        beat(&hub, disk(&hub, &format!("node-{i}"), 97.0)).await;
    }
    step_after(&hub, 1).await;
    assert_eq!(kinds(&receiver.received()), [vec!["opened"; 10]]);
    assert_eq!(receiver.received()[0].json()["summary"], "10 alerts");

    hub.clock.advance(Span::seconds(9));
    beat(&hub, disk(&hub, "late-node", 97.0)).await;
    let mut hot = heartbeat_body("busy", hub.now(), 99.0);
    hot["filesystems"][0]["percent"] = json!(10.0);
    beat(&hub, hot.clone()).await; // CPU 99 % starts a sustain window: nothing yet
    step_after(&hub, 20).await;
    assert_eq!(receiver.received().len(), 1, "the latecomer is held for the follow-up");
    hot["timestamp"] = json!(homelab_core::time::format(&(hub.now() + Span::seconds(170))));
    hub.clock.advance(Span::seconds(170));
    beat(&hub, hot).await; // sustained 190 s ≥ 180 s: the CPU alert opens
    step_after(&hub, 1).await;
    let received = receiver.received();
    assert_eq!(received.len(), 3, "the follow-up (held past its interval) and the CPU alert");
    let keys: Vec<Vec<String>> = received[1..]
        .iter()
        .map(|r| {
            r.json()["events"].as_array().unwrap().iter().map(|e| e["server_id"].as_str().unwrap().to_owned()).collect()
        })
        .collect();
    assert!(keys.contains(&vec!["late-node".to_owned()]) && keys.contains(&vec!["busy".to_owned()]), "{keys:?}");
    hub.stop().await;
}

/// On the v1 Slack setting, the two events of one heartbeat are two messages, each with one
/// attachment, as v1 sends them.
async fn v1_slack_sends_one_event_per_message(backend: Backend) {
    let Some(hub) = TestHub::start_with_production_timing(backend).await else { return };
    let slack = FakeReceiver::start(&[]).await;
    let (status, body) = hub.put("/api/v1/config/notifications", json!({"slack_webhook_url": slack.url})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut body = disk(&hub, "nas", 97.0);
    body["filesystems"][1]["percent"] = json!(97.0);
    beat(&hub, body).await;
    step_after(&hub, 1).await;
    let received = slack.received();
    assert_eq!(received.len(), 2);
    for message in &received {
        let payload = message.json();
        assert_eq!(payload["attachments"].as_array().unwrap().len(), 1, "{payload}");
        assert!(payload.get("text").is_none(), "no group summary: {payload}");
    }
    hub.stop().await;
}

/// The opening fails once; the resolution committed meanwhile waits for it, and the retry
/// carries exactly the opening under the same delivery id.
async fn an_alerts_resolution_never_overtakes_its_opening(backend: Backend) {
    let Some(hub) = TestHub::start_with_production_timing(backend).await else { return };
    let receiver = webhook(&hub, &[Answer(503, Some(30))]).await;
    beat(&hub, disk(&hub, "nas", 97.0)).await;
    step_after(&hub, 1).await;
    let failed = receiver.failed();
    assert_eq!(failed.len(), 1);
    hub.clock.advance(Span::seconds(2));
    beat(&hub, disk(&hub, "nas", 50.0)).await;
    step_after(&hub, 1).await;
    step_after(&hub, 10).await;
    assert!(receiver.received().is_empty(), "the resolution waits behind the opening's retry");
    step_after(&hub, 20).await; // 31 s after the failure: Retry-After 30 s has passed
    let received = receiver.received();
    assert_eq!(kinds(&received), [["opened"], ["resolved"]]);
    assert_eq!(received[0].header("x-homelab-delivery"), failed[0].header("x-homelab-delivery"));
    assert_eq!(received[0].json()["events"], failed[0].json()["events"], "the same events under the same id");
    hub.stop().await;
}

for_each_backend!(
    isolated_events_go_within_two_seconds,
    a_storm_is_one_message_and_one_follow_up,
    v1_slack_sends_one_event_per_message,
    an_alerts_resolution_never_overtakes_its_opening,
);
