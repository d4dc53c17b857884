//! Containers, sensors, disk health and GPUs over HTTP, on both backends: what a heartbeat
//! carries is kept per machine and summarised for the fleet, containers are watched by name
//! (and all at once), a watched container that stops is an alert that resolves when it runs,
//! a failing disk is critical, bad input is a 422 naming the field.
use crate::common;

use chrono::Duration;
use common::{TestHub, heartbeat_body};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn report(hub: &TestHub, server: &str, plex: &str, smart_passed: bool) -> Value {
    let mut body = heartbeat_body(server, hub.now(), 10.0);
    body["containers"] = json!([
        {"id": "a1", "name": "plex", "image": "plexinc/pms", "state": plex, "exit_code": 137,
         "cpu_percent": 3.5, "memory_used_bytes": 400000000, "compose_project": "media", "compose_service": "plex"},
        {"id": "b2", "name": "db", "image": "postgres:16", "state": "running", "health": "healthy"}
    ]);
    body["temperatures"] = json!([{"sensor": "coretemp/Package id 0", "kind": "cpu", "celsius": 51.0}]);
    body["disk_health"] =
        json!([{"device": "/dev/sda", "protocol": "ata", "passed": smart_passed, "temperature_celsius": 38.0}]);
    body["gpus"] =
        json!([{"id": "nvidia0", "vendor": "nvidia", "utilisation_percent": 30.0, "temperature_celsius": 64.0}]);
    body
}

async fn send(hub: &TestHub, body: Value) {
    let (status, answer) = hub.heartbeat(body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

async fn inventory_is_kept_summarised_and_watched(hub: &TestHub) {
    send(hub, report(hub, "nas", "running", true)).await;
    let (status, inventory) = hub.get("/api/v1/servers/nas/inventory").await;
    assert_eq!(status, StatusCode::OK, "{inventory}");
    assert_eq!(inventory["containers"][0]["compose_project"], "media");
    assert_eq!(inventory["gpus"][0]["temperature_celsius"], 64.0);
    assert_eq!((inventory["fans"].clone(), inventory["watch_all_containers"].clone()), (Value::Null, json!(false)));

    let (_, summary) = hub.get("/api/v1/inventory/summary").await;
    let nas = &summary["servers"][0];
    assert_eq!((nas["containers_running"].clone(), nas["containers_total"].clone()), (json!(2), json!(2)));
    assert_eq!((nas["hottest_sensor"].clone(), nas["hottest_celsius"].clone()), (json!("gpu/nvidia0"), json!(64.0)));

    let (status, watched) = hub.put("/api/v1/servers/nas/containers/watch-all", json!({"enabled": true})).await;
    assert_eq!(status, StatusCode::OK, "{watched}");
    assert_eq!(watched["watched_containers"], json!(["db", "plex"]));

    hub.clock.advance(Duration::minutes(1));
    send(hub, report(hub, "nas", "exited", true)).await;
    let (_, open) = hub.get("/api/v1/alerts?status=open").await;
    assert_eq!(open["total"], 1, "{open}");
    assert_eq!(open["alerts"][0]["alert_type"], "container");
    assert_eq!(open["alerts"][0]["title"], "Container plex is exited (code 137) on nas.home.lan");
    let (_, summary) = hub.get("/api/v1/inventory/summary").await;
    assert_eq!(summary["servers"][0]["containers_down"], json!(["plex"]));

    hub.clock.advance(Duration::minutes(1));
    send(hub, report(hub, "nas", "running", false)).await;
    let (_, open) = hub.get("/api/v1/alerts?status=open").await;
    let open: Vec<(Value, Value)> =
        open["alerts"].as_array().unwrap().iter().map(|a| (a["alert_type"].clone(), a["severity"].clone())).collect();
    assert_eq!(open, [(json!("disk_health"), json!("critical"))], "plex resolved, the disk is failing");

    let (status, unwatched) = hub.delete("/api/v1/servers/nas/containers/plex/watch").await;
    assert_eq!((status, unwatched["watched_containers"].clone()), (StatusCode::OK, json!(["db"])));
    let (status, series) =
        hub.get("/api/v1/servers/nas/metrics/series?metrics=temperature_celsius,container_cpu_percent").await;
    assert_eq!(status, StatusCode::OK, "{series}");
    assert!(series.to_string().contains("disk/sda"), "disk temperatures are charted: {series}");
}

async fn bad_inventory_input_is_a_422_naming_the_field(hub: &TestHub) {
    send(hub, heartbeat_body("nas", hub.now(), 10.0)).await;
    let (status, body) = hub.put("/api/v1/servers/nas/containers/-bad name/watch", json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["path", "name"]), "{body}");
    let (status, _) = hub.put("/api/v1/servers/nope/containers/plex/watch", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = hub.put("/api/v1/servers/nas/containers/watch-all", json!({"enabled": "yes"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let mut heartbeat = heartbeat_body("nas", hub.now(), 10.0);
    heartbeat["containers"] = json!([{"id": "a1", "name": "plex", "image": "x", "state": "sleeping"}]);
    let (status, body) = hub.heartbeat(heartbeat).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["body", "containers", 0, "state"]), "{body}");
    let (_, inventory) = hub.get("/api/v1/servers/nas/inventory").await;
    assert_eq!(inventory["containers"], Value::Null, "a refused heartbeat stores nothing");

    let (status, body) =
        hub.put("/api/v1/config/thresholds", json!({"temperature": {"cpu": {"high_celsius": 99}}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) =
        hub.put("/api/v1/config/thresholds", json!({"temperature": {"drive": {"high_celsius": 55}}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, thresholds) = hub.get("/api/v1/config/thresholds").await;
    assert_eq!(thresholds["temperature"]["drive"], json!({"high_celsius": 55, "critical_celsius": 70}));
}

on_both_backends!(inventory_is_kept_summarised_and_watched, bad_inventory_input_is_a_422_naming_the_field);
