//! Alerts over HTTP against a real listener, on SQLite and PostgreSQL, driven by a manual clock.
use crate::common;

use chrono::Duration;
use common::{API_KEY, TestHub, heartbeat_body};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Advances the hub clock by `seconds` and sends a heartbeat stamped with the new time.
async fn beat_after(hub: &TestHub, seconds: i64, body: impl Fn(&TestHub) -> Value) {
    hub.clock.advance(Duration::seconds(seconds));
    let (status, response) = hub.heartbeat(body(hub)).await;
    assert_eq!(status, StatusCode::OK, "{response}");
}

fn cpu(server: &'static str, value: f64) -> impl Fn(&TestHub) -> Value {
    move |hub| heartbeat_body(server, hub.now(), value)
}

async fn an_alert_walks_from_open_to_acknowledged_to_resolved(hub: &TestHub) {
    beat_after(hub, 0, cpu("nas", 92.0)).await;
    beat_after(hub, 60, cpu("nas", 92.0)).await;
    let (_, pending) = hub.get("/api/v1/alerts/pending").await;
    assert_eq!(pending["total"], 1, "{pending}");
    assert_eq!(pending["pending"][0]["metric_type"], "cpu");
    assert_eq!(pending["pending"][0]["time_until_alert"], 120);
    beat_after(hub, 60, cpu("nas", 92.0)).await;
    assert_eq!(hub.get("/api/v1/alerts").await.1["total"], 0, "the sustained window is not over yet");
    beat_after(hub, 60, cpu("nas", 92.0)).await;

    let (status, list) = hub.get("/api/v1/alerts").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((list["total"].clone(), list["limit"].clone(), list["offset"].clone()), (json!(1), json!(50), json!(0)));
    let alert = &list["alerts"][0];
    let id = alert["id"].as_i64().unwrap();
    assert_eq!(alert["server_id"], "nas");
    assert_eq!(alert["server_name"], "nas.home.lan");
    assert_eq!(alert["alert_type"], "cpu");
    assert_eq!(alert["severity"], "high");
    assert_eq!(alert["status"], "open");
    assert_eq!(alert["title"], "High CPU usage on nas.home.lan (92%)");
    assert_eq!(alert["threshold_value"], 85.0);
    assert_eq!(alert["actual_value"], 92.0);
    assert_eq!(alert["created_at"], "2026-01-19T12:03:00.000Z");
    assert_eq!(alert["acknowledged_at"], Value::Null);
    assert_eq!(alert["service_name"], Value::Null);
    assert_eq!((alert["can_acknowledge"].clone(), alert["can_resolve"].clone()), (json!(true), json!(true)));
    assert_eq!(hub.get("/api/v1/alerts/pending").await.1["total"], 0);

    let (_, servers) = hub.get("/api/v1/servers").await;
    assert_eq!(servers["servers"][0]["active_alert_count"], 1);
    assert_eq!(servers["servers"][0]["active_alert_summaries"], json!(["High CPU usage on nas.home.lan (92%)"]));
    let (_, server) = hub.get("/api/v1/servers/nas").await;
    assert_eq!(server["active_alert_count"], 1, "filled on the single server too (v1 reported 0)");
    let (_, fleet) = hub.get("/api/v1/fleet/summary").await;
    assert_eq!(
        fleet["servers"],
        json!({"total": 1, "online": 1, "offline": 0, "asleep": 0, "unknown": 0, "paused": 0})
    );
    assert_eq!(fleet["open_alerts"], json!({"critical": 0, "high": 1, "medium": 0, "low": 0, "total": 1}));

    hub.clock.advance(Duration::seconds(30));
    let (status, acked) = hub.post(&format!("/api/v1/alerts/{id}/acknowledge"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{acked}");
    assert_eq!(acked, json!({"id": id, "status": "acknowledged", "acknowledged_at": "2026-01-19T12:03:30.000Z"}));
    hub.clock.advance(Duration::seconds(30));
    let (_, again) = hub.post(&format!("/api/v1/alerts/{id}/acknowledge"), json!({})).await;
    assert_eq!(again, acked, "idempotent");
    let (_, alert) = hub.get(&format!("/api/v1/alerts/{id}")).await;
    assert_eq!((alert["can_acknowledge"].clone(), alert["can_resolve"].clone()), (json!(false), json!(true)));
    assert_eq!(hub.get("/api/v1/fleet/summary").await.1["acknowledged_alerts"], 1);

    // Acknowledged alerts still escalate (v1 froze them).
    beat_after(hub, 0, cpu("nas", 97.0)).await;
    let (_, alert) = hub.get(&format!("/api/v1/alerts/{id}")).await;
    assert_eq!((alert["severity"].clone(), alert["status"].clone()), (json!("critical"), json!("acknowledged")));

    let (status, resolved) = hub.post(&format!("/api/v1/alerts/{id}/resolve"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        resolved,
        json!({"id": id, "status": "resolved", "resolved_at": "2026-01-19T12:04:00.000Z", "auto_resolved": false})
    );
    assert_eq!(hub.post(&format!("/api/v1/alerts/{id}/resolve"), json!({})).await.1, resolved, "idempotent");
    let (status, error) = hub.post(&format!("/api/v1/alerts/{id}/acknowledge"), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error, json!({"detail": {"code": "INVALID_STATE", "message": "Cannot acknowledge a resolved alert"}}));

    // Filters and paging.
    assert_eq!(hub.get("/api/v1/alerts?status=resolved").await.1["total"], 1);
    assert_eq!(hub.get("/api/v1/alerts?status=open").await.1["total"], 0);
    assert_eq!(hub.get("/api/v1/alerts?alert_type=memory").await.1["total"], 0);
    assert_eq!(hub.get("/api/v1/alerts?server_id=nas&severity=critical").await.1["total"], 1);
    assert_eq!(hub.get("/api/v1/alerts?from=2026-01-19T12:03:01Z").await.1["total"], 0);
    assert_eq!(hub.get("/api/v1/alerts?to=2026-01-19T12:03:00.000Z").await.1["total"], 1);
    let (status, error) = hub.get("/api/v1/alerts?limit=0").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["detail"][0]["loc"], json!(["query", "limit"]));
    let (status, error) = hub.get("/api/v1/alerts?from=yesterday").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["detail"][0]["loc"], json!(["query", "from"]));
    assert_eq!(hub.get("/api/v1/alerts/abc").await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, error) = hub.get("/api/v1/alerts/9999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["detail"]["message"], "Alert 9999 not found");
    assert_eq!(hub.post("/api/v1/alerts/9999/resolve", json!({})).await.0, StatusCode::NOT_FOUND);
}

async fn offline_detection_fires_on_the_manual_clock(hub: &TestHub) {
    let (status, _) =
        hub.post("/api/v1/servers", json!({"id": "desk", "hostname": "desk", "machine_type": "workstation"})).await;
    assert_eq!(status, StatusCode::CREATED);
    beat_after(hub, 0, cpu("desk", 5.0)).await;
    beat_after(hub, 0, cpu("srv", 5.0)).await;

    hub.clock.advance(Duration::seconds(179));
    hub.step_offline_check().await;
    assert_eq!(hub.get("/api/v1/servers/srv").await.1["status"], "online");
    hub.clock.advance(Duration::seconds(2));
    hub.step_offline_check().await;
    assert_eq!(hub.get("/api/v1/servers/srv").await.1["status"], "offline");
    assert_eq!(hub.get("/api/v1/servers/desk").await.1["status"], "offline");

    let (_, list) = hub.get("/api/v1/alerts").await;
    assert_eq!(list["total"], 1, "workstations get no offline alert: {list}");
    let alert = &list["alerts"][0];
    assert_eq!(
        (alert["server_id"].clone(), alert["alert_type"].clone(), alert["severity"].clone()),
        (json!("srv"), json!("offline"), json!("critical"))
    );
    assert_eq!(alert["title"], "Server offline: srv.home.lan");
    let id = alert["id"].as_i64().unwrap();
    let outbox = hub.store.outbox(10).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!((outbox[0].kind.as_str(), outbox[0].alert_id), ("opened", Some(id)));

    beat_after(hub, 60, cpu("srv", 5.0)).await;
    let (_, alert) = hub.get(&format!("/api/v1/alerts/{id}")).await;
    assert_eq!((alert["status"].clone(), alert["auto_resolved"].clone()), (json!("resolved"), json!(true)));
    assert_eq!(hub.get("/api/v1/servers/srv").await.1["status"], "online");
    assert_eq!(hub.store.outbox(1).await.unwrap()[0].kind, "resolved");
}

async fn every_alert_endpoint_needs_the_key(hub: &TestHub) {
    for path in ["/api/v1/alerts", "/api/v1/alerts/1", "/api/v1/alerts/pending", "/api/v1/fleet/summary"] {
        let (status, body) = hub.get_without_key(path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(body["detail"]["code"], "UNAUTHORIZED");
    }
    for path in ["/api/v1/alerts/1/acknowledge", "/api/v1/alerts/1/resolve"] {
        assert_eq!(hub.post_raw(path, &[], "{}").await.0, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(hub.post_raw(path, &[("X-API-Key", "wrong")], "{}").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        hub.post_raw("/api/v1/alerts/1/resolve", &[("X-API-Key", API_KEY)], "{}").await.0,
        StatusCode::NOT_FOUND
    );

    // Documented, without a key.
    let (status, openapi) = hub.get_without_key("/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/api/v1/alerts",
        "/api/v1/alerts/pending",
        "/api/v1/alerts/{alert_id}/acknowledge",
        "/api/v1/servers/{server_id}/services/{service_name}",
        "/api/v1/config/thresholds",
        "/api/v1/fleet/summary",
    ] {
        assert!(openapi["paths"].get(path).is_some(), "{path} is not in the OpenAPI document");
    }
}

/// v1 puts `server.hostname` into alert titles and Slack texts (clients match titles), so a
/// display name changes neither; the API and dashboard show the display name beside them.
async fn titles_and_slack_texts_use_the_hostname_not_the_display_name(hub: &TestHub) {
    let receiver = common::receiver::FakeReceiver::start(&[]).await;
    let (status, body) = hub.put("/api/v1/config/notifications", json!({"slack_webhook_url": receiver.url})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    hub.create_server(json!({"id": "nas", "hostname": "nas.home.lan", "display_name": "Storage NAS"})).await;
    let mut heartbeat = heartbeat_body("nas", hub.now(), 10.0);
    heartbeat["filesystems"][0]["percent"] = json!(97.0);
    assert_eq!(hub.heartbeat(heartbeat).await.0, StatusCode::OK);

    let (_, list) = hub.get("/api/v1/alerts?alert_type=disk").await;
    let alert = &list["alerts"][0];
    assert_eq!(alert["title"], "Critical DISK usage on nas.home.lan (97%)", "{list}");
    assert_eq!(alert["message"], "DISK usage on nas.home.lan reached 97.0%, exceeding the critical threshold of 95%.");
    assert_eq!(alert["server_name"], "Storage NAS", "the display name is shown beside the title");

    hub.step_dispatcher().await;
    let received = receiver.wait_for(1).await;
    let text = String::from_utf8_lossy(&received[0].body).into_owned();
    assert!(text.contains("nas.home.lan"), "{text}");
    assert!(!text.contains("Storage NAS"), "{text}");
}

on_both_backends!(
    titles_and_slack_texts_use_the_hostname_not_the_display_name,
    an_alert_walks_from_open_to_acknowledged_to_resolved,
    offline_detection_fires_on_the_manual_clock,
    every_alert_endpoint_needs_the_key,
);
