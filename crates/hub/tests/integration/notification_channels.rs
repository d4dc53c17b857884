//! Each channel kind against a real local listener, with its payload asserted: Discord, ntfy and
//! e-mail (SMTP), through the dispatcher and through the per-channel test.
use crate::common;

use common::TestHub;
use common::receiver::FakeReceiver;
use common::smtp::FakeSmtp;
use reqwest::StatusCode;
use serde_json::json;

fn full_disk(hub: &TestHub, server: &str) -> serde_json::Value {
    let mut body = common::heartbeat_body(server, hub.now(), 10.0);
    body["filesystems"][0]["percent"] = json!(97.0);
    body
}

async fn discord_gets_an_embed_per_event(hub: &TestHub) {
    let discord = FakeReceiver::start(&[]).await;
    let (status, _) = hub
        .post("/api/v1/notifications/channels", json!({"id": "discord", "kind": "discord", "webhook_url": discord.url}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, answer) = hub.heartbeat(full_disk(hub, "nas")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    hub.step_dispatcher().await;
    let body = discord.received()[0].json();
    assert_eq!(body["content"], "");
    assert_eq!(body["embeds"][0]["title"], "Critical: DISK Usage Alert");
    assert_eq!(body["embeds"][0]["color"], 0xF87171);
    assert_eq!(body["embeds"][0]["fields"][0], json!({"name": "Server", "value": "nas.home.lan", "inline": true}));
    assert_eq!(body["embeds"][0]["timestamp"], "2026-01-19T12:00:00.000Z");
}

async fn ntfy_gets_priority_by_severity(hub: &TestHub) {
    let ntfy = FakeReceiver::start(&[]).await;
    hub.post(
        "/api/v1/notifications/channels",
        json!({"id": "phone", "kind": "ntfy", "topic_url": ntfy.url, "access_token": "tk_secret", "min_severity": "high"}),
    )
    .await;
    hub.heartbeat(full_disk(hub, "nas")).await;
    hub.step_dispatcher().await;
    let message = ntfy.received()[0].clone();
    assert_eq!(message.header("title").as_deref(), Some("Critical: DISK Usage Alert"));
    assert_eq!(message.header("priority").as_deref(), Some("5"));
    assert_eq!(message.header("tags").as_deref(), Some("warning"));
    assert_eq!(message.header("authorization").as_deref(), Some("Bearer tk_secret"));
    assert_eq!(
        String::from_utf8_lossy(&message.body),
        "Critical: DISK Usage Alert: Critical DISK usage on nas.home.lan (97%)"
    );
}

async fn email_goes_out_over_smtp(hub: &TestHub) {
    let smtp = FakeSmtp::start().await;
    let (status, body) = hub
        .post(
            "/api/v1/notifications/channels",
            json!({"id": "mail", "kind": "email", "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "security": "none",
                   "from": "Homelab <hub@example.org>", "to": ["me@example.org"], "password": "pw", "username": "hub"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["password"], "********");
    let (_, result) = hub.post("/api/v1/notifications/channels/mail/test", json!({})).await;
    assert_eq!(result["success"], true, "{result}");
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].auth.as_deref(), Some("\0hub\0pw"));
    assert_eq!(mails[0].from, "<hub@example.org>");
    assert_eq!(mails[0].to, ["<me@example.org>"]);
    assert!(mails[0].data.contains("Subject: [Homelab] Low: CPU Usage Alert: Homelab Command"), "{}", mails[0].data);
    assert!(mails[0].data.contains("Test notification from Homelab Command"), "{}", mails[0].data);
}

on_both_backends!(discord_gets_an_embed_per_event, ntfy_gets_priority_by_severity, email_goes_out_over_smtp);
