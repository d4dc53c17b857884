//! Expected services and service-down alerts over HTTP, on SQLite and PostgreSQL.
use crate::common;

use chrono::Duration;
use common::{TestHub, heartbeat_body};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn beat_with_services(hub: &TestHub, services: Value) {
    hub.clock.advance(Duration::seconds(60));
    let mut body = heartbeat_body("media", hub.now(), 5.0);
    body["services"] = services;
    let (status, response) = hub.heartbeat(body).await;
    assert_eq!(status, StatusCode::OK, "{response}");
}

async fn a_stopped_critical_service_raises_one_high_alert(hub: &TestHub) {
    beat_with_services(hub, json!([{"name": "plex", "status": "running", "pid": 42}])).await;
    let (status, created) =
        hub.post("/api/v1/servers/media/services", json!({"service_name": "plex", "is_critical": true})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        (created["service_name"].clone(), created["is_critical"].clone(), created["enabled"].clone()),
        (json!("plex"), json!(true), json!(true))
    );
    let (status, error) = hub.post("/api/v1/servers/media/services", json!({"service_name": "plex"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["detail"]["message"], "Service 'plex' already exists for server 'media'");
    let (status, error) = hub.post("/api/v1/servers/media/services", json!({"service_name": "Plex"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["detail"][0]["loc"], json!(["body", "service_name"]));
    assert_eq!(
        hub.post("/api/v1/servers/ghost/services", json!({"service_name": "plex"})).await.0,
        StatusCode::NOT_FOUND
    );
    hub.post("/api/v1/servers/media/services", json!({"service_name": "backup", "display_name": "Backups"})).await;

    let (_, list) = hub.get("/api/v1/servers/media/services").await;
    assert_eq!(list["total"], 2);
    let plex = list["services"].as_array().unwrap().iter().find(|s| s["service_name"] == "plex").unwrap();
    assert_eq!(plex["current_status"]["status"], "running");
    assert_eq!(plex["current_status"]["pid"], 42);

    beat_with_services(
        hub,
        json!([{"name": "plex", "status": "stopped"}, {"name": "backup", "status": "unknown"}, {"name": "cron", "status": "failed"}]),
    )
    .await;
    let (_, alerts) = hub.get("/api/v1/alerts").await;
    assert_eq!(alerts["total"], 1, "unknown, unconfigured: nothing; {alerts}");
    let alert = &alerts["alerts"][0];
    assert_eq!(alert["title"], "Service plex is stopped on media.home.lan");
    assert_eq!((alert["alert_type"].clone(), alert["severity"].clone()), (json!("service"), json!("high")));
    assert_eq!(alert["service_name"], "plex");
    assert_eq!((alert["can_acknowledge"].clone(), alert["can_resolve"].clone()), (json!(false), json!(false)));
    let id = alert["id"].as_i64().unwrap();
    let (status, error) = hub.post(&format!("/api/v1/alerts/{id}/acknowledge"), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        error["detail"],
        json!({"code": "SERVICE_STILL_DOWN", "message": "Cannot acknowledge: service plex is still stopped"})
    );

    // Still down on the next heartbeat: no second alert.
    beat_with_services(hub, json!([{"name": "plex", "status": "failed"}])).await;
    assert_eq!(hub.get("/api/v1/alerts").await.1["total"], 1);

    let (status, updated) =
        hub.put("/api/v1/servers/media/services/plex", json!({"is_critical": false, "display_name": "Plex"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((updated["is_critical"].clone(), updated["display_name"].clone()), (json!(false), json!("Plex")));
    assert_eq!(hub.get(&format!("/api/v1/alerts/{id}")).await.1["severity"], "high", "severity is fixed when opened");

    beat_with_services(hub, json!([{"name": "plex", "status": "running"}])).await;
    let (_, alert) = hub.get(&format!("/api/v1/alerts/{id}")).await;
    assert_eq!((alert["status"].clone(), alert["auto_resolved"].clone()), (json!("resolved"), json!(true)));

    // Disabled services raise nothing.
    hub.put("/api/v1/servers/media/services/backup", json!({"enabled": false})).await;
    beat_with_services(hub, json!([{"name": "backup", "status": "failed"}])).await;
    assert_eq!(hub.get("/api/v1/alerts?status=open").await.1["total"], 0);

    assert_eq!(hub.delete("/api/v1/servers/media/services/backup").await.0, StatusCode::NO_CONTENT);
    let (status, error) = hub.delete("/api/v1/servers/media/services/backup").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["detail"]["message"], "Service 'backup' not found for server 'media'");
    assert_eq!(hub.put("/api/v1/servers/media/services/nope", json!({})).await.0, StatusCode::NOT_FOUND);
}

async fn reported_services_list_watched_and_unwatched_ones(hub: &TestHub) {
    beat_with_services(
        hub,
        json!([{"name": "plex", "status": "running", "pid": 42, "memory_mb": 812.5}, {"name": "cron", "status": "failed",
                "status_reason": "exit-code"}]),
    )
    .await;
    hub.post("/api/v1/servers/media/services", json!({"service_name": "plex"})).await;
    let (status, list) = hub.get("/api/v1/servers/media/reported-services").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 2);
    let summary: Vec<Value> = list["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            json!([
                s["service_name"],
                s["expected"],
                s["current_status"]["status"],
                s["current_status"]["status_reason"],
                s["current_status"]["memory_mb"]
            ])
        })
        .collect();
    assert_eq!(
        summary,
        [json!(["cron", false, "failed", "exit-code", null]), json!(["plex", true, "running", null, 812.5])]
    );
    assert_eq!(list["services"][1]["current_status"]["last_seen"], json!(homelab_core::time::format(&hub.now())));
    let (status, error) = hub.get("/api/v1/servers/ghost/reported-services").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");
}

async fn every_service_endpoint_needs_the_key(hub: &TestHub) {
    let url = hub.url("/api/v1/servers/media/services/plex");
    assert_eq!(hub.get_without_key("/api/v1/servers/media/services").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(hub.get_without_key("/api/v1/servers/media/reported-services").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        hub.post_raw("/api/v1/servers/media/services", &[], r#"{"service_name":"plex"}"#).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(hub.client.put(&url).json(&json!({})).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(hub.client.delete(&url).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

/// A grace period (per service, else the global default) lets a restart pass: stopped on one
/// heartbeat and running on the next raises nothing; down for longer alerts once.
async fn a_restart_within_the_grace_period_raises_nothing(hub: &TestHub) {
    beat_with_services(hub, json!([{"name": "plex", "status": "running"}])).await;
    let (status, error) =
        hub.post("/api/v1/servers/media/services", json!({"service_name": "plex", "grace_seconds": 3601})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["detail"][0]["loc"], json!(["body", "grace_seconds"]), "{error}");
    let (status, created) =
        hub.post("/api/v1/servers/media/services", json!({"service_name": "plex", "grace_seconds": 90})).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["grace_seconds"], 90);

    beat_with_services(hub, json!([{"name": "plex", "status": "stopped"}])).await;
    beat_with_services(hub, json!([{"name": "plex", "status": "running"}])).await;
    assert_eq!(hub.get("/api/v1/alerts?alert_type=service").await.1["total"], 0, "a restart, not an outage");

    beat_with_services(hub, json!([{"name": "plex", "status": "stopped"}])).await;
    beat_with_services(hub, json!([{"name": "plex", "status": "stopped"}])).await;
    assert_eq!(hub.get("/api/v1/alerts?alert_type=service").await.1["total"], 0, "60 s of 90");
    beat_with_services(hub, json!([{"name": "plex", "status": "stopped"}])).await;
    assert_eq!(hub.get("/api/v1/alerts?alert_type=service").await.1["total"], 1, "down for 120 s");

    // Back to the global default (0 unless set): the first stopped report alerts again.
    let (status, updated) = hub.put("/api/v1/servers/media/services/plex", json!({"grace_seconds": null})).await;
    assert_eq!((status, updated["grace_seconds"].clone()), (StatusCode::OK, json!(null)), "{updated}");
    let (status, error) = hub.put("/api/v1/servers/media/services/plex", json!({"grace_seconds": -1})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["detail"][0]["loc"], json!(["body", "grace_seconds"]), "{error}");
    let (status, body) = hub.put("/api/v1/config/thresholds", json!({"service_grace_seconds": 300})).await;
    assert_eq!((status, body["updated"].clone()), (StatusCode::OK, json!(["service_grace_seconds"])), "{body}");
    let (status, error) = hub.put("/api/v1/config/thresholds", json!({"service_grace_seconds": 3601})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["detail"][0]["loc"], json!(["body", "service_grace_seconds"]), "{error}");
}

/// Agents that report systemd's restart counter (`restarts`, an optional key) let the hub see a
/// crash loop that every heartbeat reports as running: one alert, its own key.
async fn a_crash_loop_raises_its_own_alert(hub: &TestHub) {
    beat_with_services(hub, json!([{"name": "plex", "status": "running"}])).await;
    hub.post("/api/v1/servers/media/services", json!({"service_name": "plex", "is_critical": true})).await;
    let (status, error) = hub
        .heartbeat({
            let mut body = heartbeat_body("media", hub.now(), 5.0);
            body["services"] = json!([{"name": "plex", "status": "running", "restarts": -1}]);
            body
        })
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["detail"][0]["loc"], json!(["body", "services", 0, "restarts"]), "{error}");
    for restarts in 0..6 {
        beat_with_services(hub, json!([{"name": "plex", "status": "running", "restarts": restarts}])).await;
    }
    let (_, alerts) = hub.get("/api/v1/alerts?alert_type=service").await;
    assert_eq!(alerts["total"], 1, "{alerts}");
    assert_eq!(alerts["alerts"][0]["title"], "Service plex is crash-looping on media.home.lan");
    assert_eq!(alerts["alerts"][0]["service_name"], "plex");
    assert_eq!(alerts["alerts"][0]["severity"], "high");
    assert_eq!(hub.delete("/api/v1/servers/media/services/plex").await.0, StatusCode::NO_CONTENT);
    let (_, open) = hub.get("/api/v1/alerts?alert_type=service&status=open").await;
    assert_eq!(open["total"], 0, "no longer watched: closed with the service: {open}");
}

on_both_backends!(
    a_crash_loop_raises_its_own_alert,
    a_restart_within_the_grace_period_raises_nothing,
    a_stopped_critical_service_raises_one_high_alert,
    reported_services_list_watched_and_unwatched_ones,
    every_service_endpoint_needs_the_key
);
