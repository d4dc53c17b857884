//! `POST /api/v1/agents/heartbeat` over HTTP (contract §2.3, §1.2, §10): the v1 example, the
//! full payload, timestamp normalisation, validation, limits, GUID conflicts and per-agent
//! token auth, on both backends.
use crate::common;

use chrono::Duration;
use common::{TestHub, app_error, heartbeat_body, minimal_heartbeat, start_time, unauthorized};
use reqwest::StatusCode;
use serde_json::{Value, json};

const HEARTBEAT: &str = "/api/v1/agents/heartbeat";
const GUID_A: &str = "3f2b8a1e-9c4d-4e5f-8a6b-7c8d9e0f1a2b";
const GUID_B: &str = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";

fn ok(registered: bool) -> Value {
    json!({"status": "ok", "server_registered": registered, "pending_commands": [], "results_acknowledged": []})
}

async fn the_v1_example_registers_then_updates(hub: &TestHub) {
    hub.clock.advance(Duration::seconds(30));
    let example = r#"{"server_id":"omv-mediaserver","hostname":"mediaserver.home.lan","timestamp":"2026-01-19T12:00:00Z","metrics":{"cpu_percent":45.2,"memory_percent":62.5,"disk_percent":78.3}}"#;
    let (status, body) = hub.post_raw(HEARTBEAT, &[("X-API-Key", common::API_KEY)], example).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, ok(true));
    let (status, body) = hub.post_raw(HEARTBEAT, &[("X-API-Key", common::API_KEY)], example).await;
    assert_eq!((status, body), (StatusCode::OK, ok(false)));

    let (_, server) = hub.get("/api/v1/servers/omv-mediaserver").await;
    assert_eq!(server["hostname"], "mediaserver.home.lan");
    assert_eq!(server["status"], "online");
    assert_eq!(server["ip_address"], "127.0.0.1");
    // last_seen is the hub's receive time, not the agent's timestamp.
    assert_eq!(server["last_seen"], "2026-01-19T12:00:30.000Z");
    assert_eq!(server["created_at"], "2026-01-19T12:00:30.000Z");
    // Auto-registered servers get v1's defaults.
    assert_eq!(
        (&server["guid"], &server["display_name"], &server["assigned_packs"], &server["machine_type"]),
        (&Value::Null, &Value::Null, &Value::Null, &json!("server"))
    );
    assert_eq!(
        server["latest_metrics"],
        json!({"cpu_percent": 45.2, "memory_percent": 62.5, "memory_total_mb": null, "memory_used_mb": null,
               "disk_percent": 78.3, "disk_total_gb": null, "disk_used_gb": null, "network_rx_bytes": null,
               "network_tx_bytes": null, "load_1m": null, "load_5m": null, "load_15m": null, "uptime_seconds": null})
    );
    let (_, history) = hub.get("/api/v1/servers/omv-mediaserver/metrics").await;
    assert_eq!(
        history["data_points"],
        json!([{"timestamp": "2026-01-19T12:00:00.000Z", "cpu_percent": 45.2, "memory_percent": 62.5, "disk_percent": 78.3}])
    );
}

async fn the_full_payload_fills_the_server(hub: &TestHub) {
    let mut body = heartbeat_body("nas", start_time(), 33.3);
    body["server_guid"] = json!(GUID_A);
    body["command_results"] = json!([{"action_id": 1, "exit_code": 0}]);
    body["future_field"] = json!({"anything": true});
    let (status, answer) = hub.heartbeat(body).await;
    assert_eq!((status, answer), (StatusCode::OK, ok(true)));
    let (_, s) = hub.get("/api/v1/servers/nas").await;
    let pick = |keys: &[&str]| keys.iter().map(|k| (k.to_string(), s[k].clone())).collect::<serde_json::Map<_, _>>();
    assert_eq!(
        Value::Object(pick(&[
            "guid",
            "hostname",
            "status",
            "cpu_model",
            "cpu_cores",
            "os_distribution",
            "os_version",
            "kernel_version",
            "architecture",
            "updates_available",
            "security_updates",
            "agent_version",
            "agent_mode",
            "last_seen",
        ])),
        json!({"guid": GUID_A, "hostname": "nas.home.lan", "status": "online", "cpu_model": "Intel(R) N100",
               "cpu_cores": 4, "os_distribution": "Debian GNU/Linux", "os_version": "12", "kernel_version": "6.1.0-18-amd64",
               "architecture": "x86_64", "updates_available": 3, "security_updates": 1, "agent_version": "2.0.0",
               "agent_mode": "readonly", "last_seen": "2026-01-19T12:00:00.000Z"})
    );
    // The agent's extra `reboot_required` is not part of the metrics.
    assert_eq!(
        s["latest_metrics"],
        json!({"cpu_percent": 33.3, "memory_percent": 62.5, "memory_total_mb": 16000, "memory_used_mb": 10000,
               "disk_percent": 78.3, "disk_total_gb": 500.0, "disk_used_gb": 391.5, "network_rx_bytes": 1000,
               "network_tx_bytes": 2000, "load_1m": 0.5, "load_5m": 0.4, "load_15m": 0.3, "uptime_seconds": 86400})
    );
    assert_eq!(
        s["filesystems"],
        json!([
            {"mount_point": "/", "device": "/dev/sda1", "fs_type": "ext4", "total_bytes": 500000000000u64,
             "used_bytes": 391500000000u64, "available_bytes": 108500000000u64, "percent": 78.3},
            {"mount_point": "/srv", "device": "/dev/sdb1", "fs_type": "xfs", "total_bytes": 4000000000000u64,
             "used_bytes": 1000000000000u64, "available_bytes": 3000000000000u64, "percent": 25.0}
        ])
    );
    assert_eq!(
        s["network_interfaces"],
        json!([{"name": "eth0", "rx_bytes": 1000, "tx_bytes": 2000, "rx_packets": 10, "tx_packets": 20, "is_up": true}])
    );

    // os_info, when present, replaces all four fields (a null inside clears one).
    let mut body = heartbeat_body("nas", start_time() + Duration::seconds(60), 10.0);
    body["os_info"] =
        json!({"distribution": "Debian GNU/Linux", "version": "13", "kernel": null, "architecture": "x86_64"});
    hub.clock.advance(Duration::seconds(60));
    assert_eq!(hub.heartbeat(body).await.0, StatusCode::OK);
    let (_, s) = hub.get("/api/v1/servers/nas").await;
    assert_eq!((&s["os_version"], &s["kernel_version"]), (&json!("13"), &Value::Null));
}

async fn an_older_replayed_heartbeat_does_not_replace_the_snapshot(hub: &TestHub) {
    hub.clock.advance(Duration::minutes(2));
    assert_eq!(hub.heartbeat(heartbeat_body("nas", hub.now(), 50.0)).await.0, StatusCode::OK);
    assert_eq!(hub.heartbeat(heartbeat_body("nas", start_time(), 10.0)).await.0, StatusCode::OK);
    let (_, s) = hub.get("/api/v1/servers/nas").await;
    assert_eq!(s["latest_metrics"]["cpu_percent"], 50.0);
    // Both are history.
    let (_, history) = hub.get("/api/v1/servers/nas/metrics").await;
    let cpu: Vec<&Value> = history["data_points"].as_array().unwrap().iter().map(|p| &p["cpu_percent"]).collect();
    assert_eq!(cpu, [&json!(10.0), &json!(50.0)]);
}

async fn timestamps_are_normalised_to_utc(hub: &TestHub) {
    for (timestamp, cpu) in [
        ("2026-01-19T13:30:00+02:00", 1.0),
        ("2026-01-19T11:40:00", 2.0),
        ("2026-01-19 11:45:00.250", 3.0),
        ("2026-01-19T11:50:00.123456+00:00", 4.0),
        ("2026-01-19T06:55:00-05:00", 5.0),
    ] {
        let mut body = minimal_heartbeat("tz", start_time(), cpu);
        body["timestamp"] = json!(timestamp);
        let (status, answer) = hub.heartbeat(body).await;
        assert_eq!(status, StatusCode::OK, "{timestamp}: {answer}");
    }
    let (_, history) = hub.get("/api/v1/servers/tz/metrics?range=24h").await;
    let points: Vec<(String, f64)> = history["data_points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["timestamp"].as_str().unwrap().to_owned(), p["cpu_percent"].as_f64().unwrap()))
        .collect();
    assert_eq!(
        points,
        [
            ("2026-01-19T11:30:00.000Z".to_owned(), 1.0),
            ("2026-01-19T11:40:00.000Z".to_owned(), 2.0),
            ("2026-01-19T11:45:00.250Z".to_owned(), 3.0),
            ("2026-01-19T11:50:00.123Z".to_owned(), 4.0),
            ("2026-01-19T11:55:00.000Z".to_owned(), 5.0),
        ]
    );
    // The newest agent timestamp (not the last one sent) feeds latest_metrics.
    assert_eq!(hub.get("/api/v1/servers/tz").await.1["latest_metrics"]["cpu_percent"], 5.0);
}

async fn service_cpu_above_100_is_accepted(hub: &TestHub) {
    let mut body = minimal_heartbeat("plex-box", start_time(), 20.0);
    body["services"] = json!([
        {"name": "plex", "status": "running", "pid": 1234, "memory_mb": 900.5, "cpu_percent": 250.0},
        {"name": "sshd", "status": "stopped", "status_reason": "inactive"}
    ]);
    let (status, answer) = hub.heartbeat(body).await;
    assert_eq!((status, answer), (StatusCode::OK, ok(true)));
    // The rest of the heartbeat was stored.
    assert_eq!(hub.get("/api/v1/servers/plex-box").await.1["latest_metrics"]["cpu_percent"], 20.0);
}

async fn validation_errors_name_the_field(hub: &TestHub) {
    let now = start_time();
    let set = |path: &[&str], value: Value| {
        let mut body = heartbeat_body("nas", now, 10.0);
        let mut target = &mut body;
        for key in &path[..path.len() - 1] {
            target = match key.parse::<usize>() {
                Ok(index) => &mut target[index],
                Err(_) => &mut target[*key],
            };
        }
        let last = path[path.len() - 1];
        match last.parse::<usize>() {
            Ok(index) => target[index] = value,
            Err(_) => target[last] = value,
        }
        body
    };
    let cases: Vec<(Value, &str, Value)> = vec![
        (set(&["metrics", "cpu_percent"], json!(100.5)), "less_than_equal", json!(["body", "metrics", "cpu_percent"])),
        (
            set(&["metrics", "memory_percent"], json!(-1)),
            "greater_than_equal",
            json!(["body", "metrics", "memory_percent"]),
        ),
        (
            set(&["metrics", "uptime_seconds"], json!(-5)),
            "greater_than_equal",
            json!(["body", "metrics", "uptime_seconds"]),
        ),
        (set(&["metrics", "cpu_percent"], json!("high")), "type_error", json!(["body", "metrics", "cpu_percent"])),
        (set(&["server_id"], json!("Media_Server")), "string_pattern_mismatch", json!(["body", "server_id"])),
        (set(&["server_id"], json!("")), "string_too_short", json!(["body", "server_id"])),
        (set(&["hostname"], json!("h".repeat(256))), "string_too_long", json!(["body", "hostname"])),
        (
            set(&["server_guid"], json!(GUID_A.to_uppercase())),
            "string_pattern_mismatch",
            json!(["body", "server_guid"]),
        ),
        (set(&["agent_mode"], json!("admin")), "literal_error", json!(["body", "agent_mode"])),
        (set(&["agent_version"], json!("v".repeat(21))), "string_too_long", json!(["body", "agent_version"])),
        (set(&["updates_available"], json!(-1)), "greater_than_equal", json!(["body", "updates_available"])),
        (set(&["cpu_info", "cpu_cores"], json!(0)), "greater_than_equal", json!(["body", "cpu_info", "cpu_cores"])),
        (
            set(&["os_info", "architecture"], json!("a".repeat(21))),
            "string_too_long",
            json!(["body", "os_info", "architecture"]),
        ),
        (
            set(&["services", "0", "status"], json!("sleeping")),
            "literal_error",
            json!(["body", "services", 0, "status"]),
        ),
        (
            set(&["services", "0", "cpu_percent"], json!(-0.5)),
            "greater_than_equal",
            json!(["body", "services", 0, "cpu_percent"]),
        ),
        (
            set(&["filesystems", "1", "percent"], json!(120)),
            "less_than_equal",
            json!(["body", "filesystems", 1, "percent"]),
        ),
        (
            set(&["network_interfaces", "0", "rx_bytes"], json!(-1)),
            "greater_than_equal",
            json!(["body", "network_interfaces", 0, "rx_bytes"]),
        ),
        (
            set(&["network_interfaces", "0", "name"], json!("n".repeat(65))),
            "string_too_long",
            json!(["body", "network_interfaces", 0, "name"]),
        ),
        (set(&["timestamp"], json!("yesterday")), "type_error", json!(["body", "timestamp"])),
        (set(&["timestamp"], json!("2026-01-19T12:10:00Z")), "datetime_future", json!(["body", "timestamp"])),
    ];
    for (body, kind, loc) in cases {
        let (status, answer) = hub.heartbeat(body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{loc} → {answer}");
        let detail = answer["detail"].as_array().unwrap_or_else(|| panic!("{answer}"));
        assert_eq!(detail.len(), 1, "{answer}");
        assert_eq!((&detail[0]["type"], &detail[0]["loc"]), (&json!(kind), &loc), "{answer}");
        assert!(detail[0]["msg"].is_string() && detail[0].get("input").is_some(), "{answer}");
    }
    // Exactly the v1 item shape.
    let (_, answer) = hub.heartbeat(set(&["metrics", "cpu_percent"], json!(101))).await;
    assert_eq!(
        answer,
        json!({"detail": [{"type": "less_than_equal", "loc": ["body", "metrics", "cpu_percent"],
                           "msg": "metrics.cpu_percent: should be less than or equal to 100", "input": 101.0}]})
    );
    // Missing required fields.
    for field in ["server_id", "hostname", "timestamp"] {
        let mut body = minimal_heartbeat("nas", now, 1.0);
        body.as_object_mut().unwrap().remove(field);
        let (status, answer) = hub.heartbeat(body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            answer,
            json!({"detail": [{"type": "missing", "loc": ["body", field], "msg": format!("{field}: field required"), "input": null}]})
        );
    }
    // Several invalid fields are all reported.
    let mut body = set(&["metrics", "cpu_percent"], json!(101));
    body["server_id"] = json!("Bad Id");
    let (_, answer) = hub.heartbeat(body).await;
    let locs: Vec<&Value> = answer["detail"].as_array().unwrap().iter().map(|e| &e["loc"]).collect();
    assert_eq!(locs, [&json!(["body", "server_id"]), &json!(["body", "metrics", "cpu_percent"])]);
    // None of it was stored.
    assert_eq!(hub.get("/api/v1/servers").await.1["total"], 0);
}

async fn malformed_and_oversized_bodies(hub: &TestHub) {
    let key = [("X-API-Key", common::API_KEY)];
    let (status, answer) = hub.post_raw(HEARTBEAT, &key, r#"{"server_id": "nas", "#).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["detail"][0]["type"], "json_invalid");
    assert_eq!(answer["detail"][0]["loc"][0], "body");
    let (status, answer) = hub.post_raw(HEARTBEAT, &key, "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["detail"][0]["loc"], json!(["body"]));
    assert_eq!(answer["detail"][0]["type"], "missing");
    let (status, answer) = hub.post_raw(HEARTBEAT, &key, r#""just a string""#).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!((&answer["detail"][0]["type"], &answer["detail"][0]["loc"]), (&json!("type_error"), &json!(["body"])));

    // Over 1 MiB: a clear JSON 413, not a dropped connection or a plain-text error.
    let mut body = minimal_heartbeat("nas", start_time(), 1.0);
    body["padding"] = json!("x".repeat(1024 * 1024));
    let (status, answer) = hub.post_raw(HEARTBEAT, &key, serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer, app_error("PAYLOAD_TOO_LARGE", "request body is larger than 1048576 bytes"));
    // Just under the limit is fine (unknown keys are ignored).
    body["padding"] = json!("x".repeat(1000 * 1024));
    let (status, answer) = hub.post_raw(HEARTBEAT, &key, serde_json::to_vec(&body).unwrap()).await;
    assert_eq!((status, answer), (StatusCode::OK, ok(true)));
}

async fn guid_conflicts_are_409(hub: &TestHub) {
    let mut body = minimal_heartbeat("nas", start_time(), 1.0);
    body["server_guid"] = json!(GUID_A);
    assert_eq!(hub.heartbeat(body.clone()).await, (StatusCode::OK, ok(true)));
    // Same id, different GUID.
    body["server_guid"] = json!(GUID_B);
    let (status, answer) = hub.heartbeat(body.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(answer, app_error("CONFLICT", "Server 'nas' already has a different GUID"));
    // Same GUID, different id: refused instead of writing rows under the wrong id (v1 defect).
    let mut other = minimal_heartbeat("other", start_time(), 1.0);
    other["server_guid"] = json!(GUID_A);
    let (status, answer) = hub.heartbeat(other).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(answer, app_error("CONFLICT", &format!("GUID {GUID_A} belongs to server 'nas', not 'other'")));
    assert_eq!(hub.get("/api/v1/servers/other").await.0, StatusCode::NOT_FOUND);
    assert_eq!(hub.get("/api/v1/servers").await.1["total"], 1);

    // A server created by hand adopts its agent's GUID.
    hub.create_server(json!({"id": "manual", "hostname": "manual"})).await;
    let mut body = minimal_heartbeat("manual", start_time(), 1.0);
    body["server_guid"] = json!(GUID_B);
    assert_eq!(hub.heartbeat(body).await, (StatusCode::OK, ok(false)));
    assert_eq!(hub.get("/api/v1/servers/manual").await.1["guid"], GUID_B);
}

async fn admin_key_auth(hub: &TestHub) {
    let body = serde_json::to_vec(&minimal_heartbeat("nas", start_time(), 1.0)).unwrap();
    let missing = unauthorized("Invalid or missing authentication");
    assert_eq!(hub.post_raw(HEARTBEAT, &[], body.clone()).await, (StatusCode::UNAUTHORIZED, missing.clone()));
    assert_eq!(
        hub.post_raw(HEARTBEAT, &[("X-API-Key", "wrong")], body.clone()).await,
        (StatusCode::UNAUTHORIZED, missing.clone())
    );
    assert_eq!(
        hub.post_raw(HEARTBEAT, &[("X-API-Key", "")], body.clone()).await,
        (StatusCode::UNAUTHORIZED, missing.clone())
    );
    // Auth is checked before validation: a bad key with an invalid body is still a 401.
    let invalid = serde_json::to_vec(&json!({"server_id": "BAD"})).unwrap();
    assert_eq!(hub.post_raw(HEARTBEAT, &[("X-API-Key", "wrong")], invalid).await, (StatusCode::UNAUTHORIZED, missing));
    // The key is trimmed, as in v1.
    let padded = format!("  {}  ", common::API_KEY);
    assert_eq!(hub.post_raw(HEARTBEAT, &[("X-API-Key", &padded)], body.clone()).await, (StatusCode::OK, ok(true)));
    // Only one of the agent headers: the API key is used.
    let (status, _) =
        hub.post_raw(HEARTBEAT, &[("X-API-Key", common::API_KEY), ("X-Agent-Token", "hlh_ag_whatever")], body).await;
    assert_eq!(status, StatusCode::OK);
}

async fn per_agent_tokens(hub: &TestHub) {
    let claimed = hub.register_agent("agent-1").await;
    let guid = claimed["server_guid"].as_str().unwrap().to_owned();
    let token = claimed["api_token"].as_str().unwrap().to_owned();
    hub.clock.advance(Duration::minutes(1));
    let body = || {
        let mut body = minimal_heartbeat("agent-1", start_time(), 7.0);
        body["server_guid"] = json!(guid);
        body
    };
    // The claim created the server, so this is not a registration.
    assert_eq!(hub.heartbeat_as_agent(&token, &guid, body()).await, (StatusCode::OK, ok(false)));
    let (_, credential) = hub.get(&format!("/api/v1/agents/register/credentials/{guid}")).await;
    assert_eq!(credential["last_used_at"], "2026-01-19T12:01:00.000Z");
    // Without server_guid in the body it is still bound by the header.
    let mut plain = body();
    plain.as_object_mut().unwrap().remove("server_guid");
    assert_eq!(hub.heartbeat_as_agent(&token, &guid, plain).await.0, StatusCode::OK);

    // The token may only write its own server (v1 defect fixed).
    let mut foreign = minimal_heartbeat("other", start_time(), 7.0);
    let (status, answer) = hub.heartbeat_as_agent(&token, &guid, foreign.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer,
        app_error("FORBIDDEN", "This agent token belongs to server 'agent-1'; it may not write heartbeats for 'other'")
    );
    foreign["server_id"] = json!("agent-1");
    foreign["server_guid"] = json!(GUID_B);
    let (status, answer) = hub.heartbeat_as_agent(&token, &guid, foreign).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer,
        app_error("FORBIDDEN", &format!("This agent token belongs to server GUID {guid}, not {GUID_B}"))
    );
    assert_eq!(hub.get("/api/v1/servers/other").await.0, StatusCode::NOT_FOUND);

    // Wrong token, unknown GUID: 401, with no fallback to a valid API key.
    let invalid = unauthorized("Invalid agent token or server GUID");
    let raw = serde_json::to_vec(&body()).unwrap();
    // Change the last hex digit (a fixed "0" would equal the real token one time in sixteen).
    let last = if token.ends_with('0') { "1" } else { "0" };
    let wrong_token = format!("{}{last}", &token[..token.len() - 1]);
    assert_ne!(wrong_token, token);
    for headers in [
        vec![("X-Agent-Token", wrong_token.as_str()), ("X-Server-GUID", guid.as_str())],
        vec![("X-Agent-Token", token.as_str()), ("X-Server-GUID", GUID_B)],
        vec![("X-Agent-Token", wrong_token.as_str()), ("X-Server-GUID", guid.as_str()), ("X-API-Key", common::API_KEY)],
    ] {
        assert_eq!(hub.post_raw(HEARTBEAT, &headers, raw.clone()).await, (StatusCode::UNAUTHORIZED, invalid.clone()));
    }

    // Rotation: the old token stops working at once, the new one works.
    let (status, rotated) = hub.post(&format!("/api/v1/agents/register/credentials/{guid}/rotate"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new_token = rotated["api_token"].as_str().unwrap().to_owned();
    assert_ne!(new_token, token);
    assert_eq!(hub.heartbeat_as_agent(&token, &guid, body()).await, (StatusCode::UNAUTHORIZED, invalid.clone()));
    assert_eq!(hub.heartbeat_as_agent(&new_token, &guid, body()).await, (StatusCode::OK, ok(false)));

    // Revocation: refused until the agent registers again.
    let (status, _) = hub.post(&format!("/api/v1/agents/register/credentials/{guid}/revoke"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(hub.heartbeat_as_agent(&new_token, &guid, body()).await, (StatusCode::UNAUTHORIZED, invalid));
    // The admin key still works for the same server (v1 legacy agents).
    assert_eq!(hub.heartbeat(body()).await, (StatusCode::OK, ok(false)));
}

on_both_backends!(
    the_v1_example_registers_then_updates,
    the_full_payload_fills_the_server,
    an_older_replayed_heartbeat_does_not_replace_the_snapshot,
    timestamps_are_normalised_to_utc,
    service_cpu_above_100_is_accepted,
    validation_errors_name_the_field,
    malformed_and_oversized_bodies,
    guid_conflicts_are_409,
    admin_key_auth,
    per_agent_tokens,
);
