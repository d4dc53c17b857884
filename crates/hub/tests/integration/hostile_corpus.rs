//! One corpus of malformed and extreme requests, sent to a hub on SQLite and on PostgreSQL:
//! every one is refused with a 4xx (never a 5xx), every one gets an answer (no dropped
//! connection), and what the hub stored before is exactly what it holds after.
use crate::common;

use common::{API_KEY, TestHub, heartbeat_body};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// One hostile request: method, path, content type and raw body.
struct Case {
    method: &'static str,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
}

fn case(method: &'static str, path: &str, body: impl Into<Vec<u8>>) -> Case {
    Case { method, path: path.to_owned(), content_type: "application/json", body: body.into() }
}

/// A heartbeat for `nas` with `change` applied to its JSON.
fn heartbeat_with(hub: &TestHub, change: impl FnOnce(&mut Value)) -> Case {
    let mut body = heartbeat_body("nas", hub.now(), 10.0);
    change(&mut body);
    case("POST", "/api/v1/agents/heartbeat", serde_json::to_vec(&body).unwrap())
}

fn corpus(hub: &TestHub) -> Vec<Case> {
    let heartbeat = "/api/v1/agents/heartbeat";
    let valid = serde_json::to_vec(&heartbeat_body("nas", hub.now(), 10.0)).unwrap();
    let mut trailing = valid.clone();
    trailing.extend_from_slice(b"garbage");
    let mut invalid_utf8 = valid.clone();
    invalid_utf8.splice(20..20, [0xff, 0xfe, 0xfd]);
    let mut cases = vec![
        case("POST", heartbeat, ""),
        case("POST", heartbeat, "{"),
        case("POST", heartbeat, "null"),
        case("POST", heartbeat, "[]"),
        case("POST", heartbeat, "42"),
        case("POST", heartbeat, "\"heartbeat\""),
        case("POST", heartbeat, "[".repeat(100_000)),
        case("POST", heartbeat, format!("{{\"a\":{}}}", "{\"a\":".repeat(5_000))),
        case("POST", heartbeat, trailing),
        case("POST", heartbeat, invalid_utf8),
        case("POST", heartbeat, r#"{"server_id": 1, "hostname": "h", "timestamp": "2026-01-19T12:00:00Z"}"#),
        heartbeat_with(hub, |b| b["server_id"] = json!("")),
        heartbeat_with(hub, |b| b["server_id"] = json!("x".repeat(10_000))),
        heartbeat_with(hub, |b| b["server_id"] = json!("../../etc/passwd")),
        heartbeat_with(hub, |b| b["hostname"] = json!("a\u{0}b")),
        heartbeat_with(hub, |b| b["timestamp"] = json!("0001-01-01T00:00:00Z")),
        heartbeat_with(hub, |b| b["timestamp"] = json!("9999-12-31T23:59:59Z")),
        heartbeat_with(hub, |b| b["timestamp"] = json!("yesterday")),
        heartbeat_with(hub, |b| b["metrics"]["cpu_percent"] = json!(-1.0)),
        heartbeat_with(hub, |b| b["metrics"]["cpu_percent"] = json!("NaN")),
        heartbeat_with(hub, |b| b["metrics"]["memory_total_mb"] = json!(-5)),
        heartbeat_with(hub, |b| b["metrics"] = json!([1, 2, 3])),
        heartbeat_with(hub, |b| b["filesystems"][0]["percent"] = json!(1e300)),
        heartbeat_with(hub, |b| b["services"] = json!([{"name": "", "status": "running"}])),
        heartbeat_with(hub, |b| b["os_info"] = json!(["Debian", "12"])),
        case("PUT", "/api/v1/config/thresholds", r#"{"cpu": {"high_percent": 1e20}}"#),
        case("PUT", "/api/v1/config/thresholds", r#"{"cpu": [85, 95]}"#),
        case("PUT", "/api/v1/config/thresholds", r#"{"server_offline_seconds": -1}"#),
        case("PUT", "/api/v1/config/thresholds", r#"{"cpu": {"high_percent": 96, "critical_percent": 90}}"#),
        case("PUT", "/api/v1/config/notifications", r#"{"cooldowns": [30, 240]}"#),
        case("PUT", "/api/v1/config/notifications", r#"{"cooldowns": {"critical_minutes": 0}}"#),
        case("PUT", "/api/v1/servers/nas", r#"{"machine_type": null}"#),
        case("PUT", "/api/v1/servers/nas", r#"{"depends_on": "nas"}"#),
        case("PUT", "/api/v1/servers/nas", r#"{"hostname": ""}"#),
        case("POST", "/api/v1/servers", r#"{"id": "x\u0000y", "hostname": "h"}"#),
        case("POST", "/api/v1/notifications/channels", r#"{"id": "../x", "kind": "webhook", "url": "http://h/"}"#),
        case(
            "POST",
            "/api/v1/notifications/channels",
            r#"{"id": "f", "kind": "webhook", "url": "file:///etc/passwd"}"#,
        ),
        case("POST", "/api/v1/notifications/channels", r#"{"id": "k", "kind": "carrier-pigeon"}"#),
        case("POST", "/api/v1/agents/register/tokens", r#"{"mode": "root", "expiry_minutes": -1}"#),
        case("POST", "/api/v1/agents/register/claim", r#"{"token": "hlh_rt_nope", "server_id": "x", "hostname": "x"}"#),
        case("POST", "/api/v1/alerts/99999999999999999999/acknowledge", "{}"),
        case("POST", "/api/v1/alerts/-1/resolve", "{}"),
        case("POST", "/api/v1/notifications/deliveries/abc/retry", "{}"),
        case("DELETE", "/api/v1/servers/does-not-exist", ""),
        case("PATCH", "/api/v1/servers", "{}"),
    ];
    for path in [
        "/api/v1/servers/%ff%fe",
        "/api/v1/servers/%00",
        "/api/v1/alerts?limit=-1",
        "/api/v1/alerts?limit=999999999999999999999",
        "/api/v1/alerts?offset=abc",
        "/api/v1/servers/nas/metrics?range=forever",
        "/api/v1/agents/register/credentials/not-a-guid",
        "/api/v1/no/such/endpoint",
    ] {
        cases.push(case("GET", path, ""));
    }
    cases
}

/// What the hub holds, as the API shows it.
async fn stored(hub: &TestHub) -> Vec<Value> {
    let mut snapshot = Vec::new();
    for path in [
        "/api/v1/servers",
        "/api/v1/servers/nas",
        "/api/v1/servers/nas/metrics?range=24h",
        "/api/v1/servers/nas/packages",
        "/api/v1/alerts?limit=100",
        "/api/v1/config/thresholds",
        "/api/v1/config/notifications",
        "/api/v1/notifications/channels",
        "/api/v1/notifications/deliveries",
        "/api/v1/fleet/summary",
    ] {
        let (status, body) = hub.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        snapshot.push(body);
    }
    snapshot
}

async fn hostile_requests_are_refused_and_change_nothing(hub: &TestHub) {
    let (status, body) = hub.heartbeat(heartbeat_body("nas", hub.now(), 97.0)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = hub
        .post("/api/v1/notifications/channels", json!({"id": "hook", "kind": "webhook", "url": "http://127.0.0.1:9/"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let before = stored(hub).await;

    let mut answers = Vec::new();
    for (index, case) in corpus(hub).into_iter().enumerate() {
        let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
        let reply = hub
            .client
            .request(method, hub.url(&case.path))
            .header("X-API-Key", API_KEY)
            .header("content-type", case.content_type)
            .body(case.body)
            .send()
            .await
            .unwrap_or_else(|error| {
                panic!("case {index}, {} {}: the connection was dropped: {error}", case.method, case.path)
            });
        let status = reply.status();
        let text = reply.text().await.unwrap_or_default();
        let shown: String = text.chars().take(200).collect();
        answers.push(format!("{status} {} {}", case.method, case.path.chars().take(60).collect::<String>()));
        assert!(status.is_client_error(), "case {index}, {} {}: {status} {shown}", case.method, case.path);
    }
    assert_eq!(stored(hub).await, before, "nothing stored changed; answers: {answers:#?}");
}

on_both_backends!(hostile_requests_are_refused_and_change_nothing);
