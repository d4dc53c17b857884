//! Notification channels over HTTP, against real local receivers, on both backends.
use crate::common;

use common::TestHub;
use common::receiver::{Answer, FakeReceiver};
use reqwest::StatusCode;
use serde_json::json;

async fn channels_crud_never_echoes_secrets(hub: &TestHub) {
    let (status, _) = hub.get_without_key("/api/v1/notifications/channels").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = hub
        .post(
            "/api/v1/notifications/channels",
            json!({"id": "ops", "kind": "webhook", "url": "https://hooks.example.org/in/abc123", "secret": "hmac-key",
                   "min_severity": "high", "events": {"reminders": false}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["url"], "https://hooks.example.org/…");
    assert_eq!(body["secret"], "********");
    assert_eq!(body["events"], json!({"firing": true, "reminders": false, "resolutions": true}));

    let (status, _) = hub
        .post("/api/v1/notifications/channels", json!({"id": "ops", "kind": "slack", "webhook_url": "https://x.org/a"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) =
        hub.post("/api/v1/notifications/channels", json!({"id": "Bad", "kind": "ntfy", "topic_url": "nope"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "id"]));
    assert_eq!(body["detail"][1]["loc"], json!(["body", "topic_url"]));

    // Sending the masked values back keeps the stored secrets.
    let (status, body) = hub
        .put(
            "/api/v1/notifications/channels/ops",
            json!({"id": "ops", "kind": "webhook", "url": "https://hooks.example.org/…", "secret": "********", "min_severity": "critical"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stored = hub.store.get_channel("ops").await.unwrap();
    assert_eq!(stored.settings["url"], "https://hooks.example.org/in/abc123");
    assert_eq!(stored.settings["secret"], "hmac-key");
    assert_eq!(stored.min_severity, homelab_core::alerts::Severity::Critical);
    // After a change of kind the mask stands for the old kind's secret: refused, not saved masked.
    let (status, body) = hub
        .put(
            "/api/v1/notifications/channels/ops",
            json!({"id": "ops", "kind": "slack", "webhook_url": "https://hooks.example.org/…"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "webhook_url"]));
    assert_eq!(hub.store.get_channel("ops").await.unwrap().kind, "webhook");

    let (_, list) = hub.get("/api/v1/notifications/channels").await;
    assert_eq!(list["total"], 1);
    assert!(!list.to_string().contains("abc123") && !list.to_string().contains("hmac-key"));
    assert_eq!(hub.delete("/api/v1/notifications/channels/ops").await.0, StatusCode::NO_CONTENT);
    assert_eq!(hub.delete("/api/v1/notifications/channels/ops").await.0, StatusCode::NOT_FOUND);
}

/// Channels added at the same moment (two browser tabs, two scripts) are all kept: each change
/// to the channel list is one transaction from read to write.
async fn concurrent_channel_changes_are_all_kept(hub: &TestHub) {
    let posts = (0..12).map(|i| {
        hub.post(
            "/api/v1/notifications/channels",
            json!({"id": format!("hook-{i}"), "kind": "webhook", "url": format!("https://hooks.example.org/{i}")}),
        )
    });
    for (status, body) in futures_util::future::join_all(posts).await {
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, list) = hub.get("/api/v1/notifications/channels").await;
    assert_eq!(list["total"], 12, "{list}");
}

async fn test_webhook_follows_v1(hub: &TestHub) {
    let slack = FakeReceiver::start(&[Answer(404, None), Answer(500, None)]).await;
    let (status, body) = hub.post("/api/v1/config/test-webhook", json!({"webhook_url": slack.url})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"success": false, "message": null, "error": "Invalid webhook URL"}));
    let (_, body) = hub.post("/api/v1/config/test-webhook", json!({"webhook_url": slack.url})).await;
    assert_eq!(body["error"], "Slack returned error: receiver says 500");
    let (_, body) = hub.post("/api/v1/config/test-webhook", json!({"webhook_url": slack.url})).await;
    assert_eq!(body, json!({"success": true, "message": "Test message sent successfully", "error": null}));
    let received = slack.received();
    assert_eq!(received.len(), 1);
    let payload = received[0].json();
    assert_eq!(payload["attachments"][0]["blocks"][0]["text"]["text"], "HomelabCmd Test");
    assert_eq!(payload["attachments"][0]["blocks"][2]["elements"][0]["text"], "Sent at 2026-01-19 12:00 UTC");

    let (status, body) = hub.post("/api/v1/config/test-webhook", json!({"webhook_url": ""})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "webhook_url"]));
    let (_, body) = hub.post("/api/v1/config/test-webhook", json!({"webhook_url": "http://127.0.0.1:1/nothing"})).await;
    assert_eq!(body["error"], "Failed to connect to webhook URL");
}

async fn channel_test_reports_the_remote_error(hub: &TestHub) {
    let receiver = FakeReceiver::start(&[Answer(400, None)]).await;
    hub.post(
        "/api/v1/notifications/channels",
        json!({"id": "hook", "kind": "webhook", "url": receiver.url, "secret": "k"}),
    )
    .await;
    let (_, body) = hub.post("/api/v1/notifications/channels/hook/test", json!({})).await;
    assert_eq!(body["success"], false);
    assert_eq!(body["error"], "HTTP 400: receiver says 400");
    let (_, body) = hub.post("/api/v1/notifications/channels/hook/test", json!({})).await;
    assert_eq!(body["success"], true);
    let delivered = &receiver.received()[0];
    let signature = delivered.header("x-homelab-signature").unwrap();
    assert_eq!(signature, homelab_hub::notify::webhook::signature("k", &delivered.body));
    assert_eq!(delivered.json()["events"][0]["title"], "Test notification from Homelab Command");
    assert_eq!(hub.post("/api/v1/notifications/channels/nope/test", json!({})).await.0, StatusCode::NOT_FOUND);
}

on_both_backends!(
    channels_crud_never_echoes_secrets,
    concurrent_channel_changes_are_all_kept,
    test_webhook_follows_v1,
    channel_test_reports_the_remote_error
);

/// Channels of the configuration file are stored on start and listed (masked) with the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_channels_are_applied_on_start() {
    let dir = tempfile::tempdir().unwrap();
    let channel: homelab_hub::notify::ChannelConfig = serde_json::from_value(
        json!({"id": "phone", "kind": "ntfy", "topic_url": "https://ntfy.lan/homelab-secret-topic", "min_severity": "high"}),
    )
    .unwrap();
    let config = homelab_hub::config::Config {
        api_key: common::API_KEY.into(),
        database_url: format!("sqlite://{}", dir.path().join("hub.db").display()),
        local_agent: homelab_hub::config::LocalAgentConfig { enabled: false, ..Default::default() },
        channels: vec![channel],
        ..Default::default()
    };
    let hub = TestHub::start_with(config, tempfile::tempdir().unwrap()).await;
    let (status, body) = hub.get("/api/v1/notifications/channels").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["channels"][0]["id"], "phone");
    assert_eq!(body["channels"][0]["topic_url"], "https://ntfy.lan/…");
    assert_eq!(body["channels"][0]["min_severity"], "high");
    hub.stop().await;
}
