//! Dependencies over HTTP: a machine names the machine it sits behind (`depends_on`), checked
//! for existence and circles; when the parent goes offline, it and the machines behind it are
//! one alert and one notification, and they resolve together.
use crate::common;

use chrono::Duration;
use common::receiver::FakeReceiver;
use common::{TestHub, heartbeat_body};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn beat(hub: &TestHub, server: &str) {
    let (status, body) = hub.heartbeat(heartbeat_body(server, hub.now(), 10.0)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn depend(hub: &TestHub, server: &str, parent: Value) -> (StatusCode, Value) {
    hub.put(&format!("/api/v1/servers/{server}"), json!({"depends_on": parent})).await
}

async fn dependencies_are_checked(hub: &TestHub) {
    for server in ["switch-1", "pi", "nas"] {
        beat(hub, server).await;
    }
    let (status, body) = depend(hub, "pi", json!("switch-1")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["depends_on"], "switch-1");
    for (server, parent, detail) in [
        ("pi", "pi", "a machine cannot depend on itself"),
        ("pi", "router", "there is no server 'router'"),
        ("switch-1", "pi", "'pi' already depends on 'switch-1'"),
    ] {
        let (status, body) = depend(hub, server, json!(parent)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["detail"][0]["loc"], json!(["body", "depends_on"]), "{body}");
        assert!(body["detail"][0]["msg"].as_str().unwrap().contains(detail), "{body}");
    }
    let (status, body) = depend(hub, "pi", Value::Null).await;
    assert_eq!((status, &body["depends_on"]), (StatusCode::OK, &Value::Null), "null removes it");
    depend(hub, "nas", json!("switch-1")).await;
    let (status, _) = hub.delete("/api/v1/servers/switch-1").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, nas) = hub.get("/api/v1/servers/nas").await;
    assert_eq!(nas["depends_on"], Value::Null, "deleting the parent frees the machines behind it");
}

async fn a_parents_outage_is_one_alert_and_one_notification(hub: &TestHub) {
    let receiver = FakeReceiver::start(&[]).await;
    let (status, body) =
        hub.post("/api/v1/notifications/channels", json!({"id": "hook", "kind": "webhook", "url": receiver.url})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // The machines behind the switch last reported just before it went quiet.
    for server in ["switch-1", "pi", "nas"] {
        beat(hub, server).await;
    }
    for server in ["pi", "nas"] {
        assert_eq!(depend(hub, server, json!("switch-1")).await.0, StatusCode::OK);
    }
    hub.clock.advance(Duration::seconds(20));
    beat(hub, "switch-1").await;
    hub.clock.advance(Duration::minutes(10));
    hub.step_offline_check().await;
    hub.step_dispatcher().await;

    let (_, open) = hub.get("/api/v1/alerts?status=open").await;
    let alerts = open["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{open}");
    assert_eq!(alerts[0]["server_id"], "switch-1");
    assert_eq!(
        alerts[0]["message"],
        "Server switch-1.home.lan is not responding to heartbeats; 2 machines behind it are unreachable: \
         nas.home.lan, pi.home.lan."
    );
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].json()["events"].as_array().unwrap().len(), 1);
    let (_, listed) = hub.get("/api/v1/servers").await;
    let offline = listed["servers"].as_array().unwrap().iter().filter(|s| s["status"] == "offline").count();
    assert_eq!(offline, 3, "the machines behind it are unreachable, and shown so");

    for server in ["switch-1", "pi", "nas"] {
        beat(hub, server).await;
    }
    hub.step_offline_check().await;
    hub.step_dispatcher().await;
    let (_, open) = hub.get("/api/v1/alerts?status=open").await;
    assert_eq!(open["total"], 0, "{open}");
    let kinds: Vec<Value> = receiver.received().iter().map(|r| r.json()["events"][0]["kind"].clone()).collect();
    assert_eq!(kinds, [json!("opened"), json!("resolved")]);
}

on_both_backends!(dependencies_are_checked, a_parents_outage_is_one_alert_and_one_notification);
