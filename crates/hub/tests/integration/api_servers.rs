//! Servers over HTTP (contract §2.2): create, list, read, partial update, delete, maintenance
//! mode and pending packages, with exact bodies, on both backends.
use crate::common;

use chrono::Duration;
use common::{TestHub, app_error, heartbeat_body, minimal_heartbeat, start_time};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// v1 `ServerResponse` fields, in v1 order.
const SERVER_FIELDS: [&str; 39] = [
    "id",
    "guid",
    "hostname",
    "display_name",
    "ip_address",
    "status",
    "tdp_watts",
    "cpu_model",
    "cpu_cores",
    "machine_category",
    "machine_category_source",
    "idle_watts",
    "os_distribution",
    "os_version",
    "kernel_version",
    "architecture",
    "updates_available",
    "security_updates",
    "is_paused",
    "paused_at",
    "agent_version",
    "agent_mode",
    "is_inactive",
    "inactive_since",
    "last_seen",
    "tailscale_hostname",
    "machine_type",
    "ssh_username",
    "sudo_mode",
    "config_user",
    "created_at",
    "updated_at",
    "latest_metrics",
    "filesystems",
    "network_interfaces",
    "active_alert_count",
    "active_alert_summaries",
    "assigned_packs",
    "drift_detection_enabled",
];

fn expected_new_server() -> Value {
    json!({
        "id": "omv-mediaserver", "guid": null, "hostname": "mediaserver.home.lan", "display_name": "Media server",
        "ip_address": "192.168.1.20", "status": "unknown", "tdp_watts": 35, "cpu_model": null, "cpu_cores": null,
        "machine_category": null, "machine_category_source": null, "idle_watts": null, "os_distribution": null,
        "os_version": null, "kernel_version": null, "architecture": null, "updates_available": null,
        "security_updates": null, "is_paused": false, "paused_at": null, "agent_version": null, "agent_mode": null,
        "is_inactive": false, "inactive_since": null, "last_seen": null, "tailscale_hostname": null,
        "machine_type": "server", "ssh_username": null, "sudo_mode": "passwordless", "config_user": null,
        "created_at": "2026-01-19T12:00:00.000Z", "updated_at": "2026-01-19T12:00:00.000Z", "latest_metrics": null,
        "filesystems": null, "network_interfaces": null, "active_alert_count": 0, "active_alert_summaries": [],
        "assigned_packs": ["base"], "drift_detection_enabled": true
    })
}

fn new_server_body() -> Value {
    json!({"id": "omv-mediaserver", "hostname": "mediaserver.home.lan", "display_name": "Media server",
           "ip_address": "192.168.1.20", "tdp_watts": 35})
}

async fn create_answers_201_with_every_v1_field_in_order(hub: &TestHub) {
    let reply =
        hub.request(Method::POST, "/api/v1/servers", &[("X-API-Key", common::API_KEY)], Some(&new_server_body())).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body, expected_new_server());
    // Field order as in v1 (serde_json's map does not keep it, so read the raw text).
    let fields = SERVER_FIELDS;
    let positions: Vec<usize> = fields
        .iter()
        .map(|field| reply.text.find(&format!("\"{field}\":")).unwrap_or_else(|| panic!("{field} missing")))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "fields out of v1 order: {}", reply.text);
    assert_eq!(reply.body.as_object().unwrap().len(), fields.len());

    let (status, body) = hub.get("/api/v1/servers/omv-mediaserver").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, expected_new_server());

    // Only id and hostname are required; a workstation gets the developer pack.
    let workstation =
        hub.create_server(json!({"id": "dev-box", "hostname": "dev-box", "machine_type": "workstation"})).await;
    assert_eq!(workstation["assigned_packs"], json!(["base", "developer-lite"]));
    assert_eq!(workstation["machine_type"], "workstation");
    assert_eq!((&workstation["display_name"], &workstation["tdp_watts"]), (&Value::Null, &Value::Null));
}

async fn duplicate_id_is_a_409(hub: &TestHub) {
    hub.create_server(new_server_body()).await;
    let (status, body) =
        hub.post("/api/v1/servers", json!({"id": "omv-mediaserver", "hostname": "another.home.lan"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body, app_error("CONFLICT", "Server 'omv-mediaserver' already exists"));
    // The first one is untouched.
    assert_eq!(hub.get("/api/v1/servers/omv-mediaserver").await.1["hostname"], "mediaserver.home.lan");
}

/// (body, expected [type, loc…]) for one invalid field each.
async fn create_validation_names_the_field(hub: &TestHub) {
    let long = "h".repeat(256);
    let cases: Vec<(Value, &str, Value)> = vec![
        (json!({"id": "Media.Server", "hostname": "a"}), "string_pattern_mismatch", json!(["body", "id"])),
        (json!({"id": "", "hostname": "a"}), "string_too_short", json!(["body", "id"])),
        (json!({"id": "x".repeat(101), "hostname": "a"}), "string_too_long", json!(["body", "id"])),
        (json!({"id": "a", "hostname": long}), "string_too_long", json!(["body", "hostname"])),
        (json!({"id": "a", "hostname": ""}), "string_too_short", json!(["body", "hostname"])),
        (json!({"id": "a", "hostname": "a", "tdp_watts": 10001}), "less_than_equal", json!(["body", "tdp_watts"])),
        (json!({"id": "a", "hostname": "a", "tdp_watts": -1}), "greater_than_equal", json!(["body", "tdp_watts"])),
        (
            json!({"id": "a", "hostname": "a", "machine_type": "laptop"}),
            "literal_error",
            json!(["body", "machine_type"]),
        ),
        (
            json!({"id": "a", "hostname": "a", "ip_address": "1".repeat(46)}),
            "string_too_long",
            json!(["body", "ip_address"]),
        ),
        (
            json!({"id": "a", "hostname": "a", "display_name": "d".repeat(256)}),
            "string_too_long",
            json!(["body", "display_name"]),
        ),
        (json!({"id": "a"}), "missing", json!(["body", "hostname"])),
        (json!({"id": "a", "hostname": "a", "tdp_watts": "lots"}), "type_error", json!(["body", "tdp_watts"])),
    ];
    for (body, kind, loc) in cases {
        let (status, answer) = hub.post("/api/v1/servers", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {answer}");
        let detail = answer["detail"].as_array().unwrap_or_else(|| panic!("{answer}"));
        assert_eq!(detail.len(), 1, "{answer}");
        assert_eq!(detail[0]["type"], kind, "{body} → {answer}");
        assert_eq!(detail[0]["loc"], loc, "{body} → {answer}");
        let field = loc[1].as_str().unwrap();
        assert!(detail[0]["msg"].as_str().unwrap().starts_with(&format!("{field}:")), "{answer}");
    }
    // Every invalid field is reported at once, in field order.
    let (status, answer) = hub
        .post("/api/v1/servers", json!({"id": "Bad", "hostname": "a", "tdp_watts": 20000, "machine_type": "x"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let locs: Vec<&Value> = answer["detail"].as_array().unwrap().iter().map(|e| &e["loc"]).collect();
    assert_eq!(locs, [&json!(["body", "id"]), &json!(["body", "tdp_watts"]), &json!(["body", "machine_type"])]);
    assert_eq!(answer["detail"][1]["input"], 20000);
    // Boundaries are inclusive.
    let server = hub.create_server(json!({"id": "edge", "hostname": "h".repeat(255), "tdp_watts": 10000})).await;
    assert_eq!(server["tdp_watts"], 10000);
    // Nothing invalid was stored.
    assert_eq!(hub.get("/api/v1/servers").await.1["total"], 1);
}

async fn get_unknown_is_a_404(hub: &TestHub) {
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let body = json!({"hostname": "x"});
        let reply =
            hub.request(method.clone(), "/api/v1/servers/nope", &[("X-API-Key", common::API_KEY)], Some(&body)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method}");
        assert_eq!(reply.body, app_error("NOT_FOUND", "Server 'nope' not found"), "{method}");
    }
    for path in ["/api/v1/servers/nope/pause", "/api/v1/servers/nope/unpause"] {
        let (status, body) = hub.put(path, json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body, app_error("NOT_FOUND", "Server 'nope' not found"), "{path}");
    }
    let (status, body) = hub.get("/api/v1/servers/nope/packages").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, app_error("NOT_FOUND", "Server 'nope' not found"));
}

async fn list_shows_every_server_with_latest_metrics(hub: &TestHub) {
    assert_eq!(hub.get("/api/v1/servers").await, (StatusCode::OK, json!({"servers": [], "total": 0})));
    hub.create_server(json!({"id": "beta", "hostname": "beta.lan"})).await;
    hub.create_server(json!({"id": "alpha", "hostname": "alpha.lan"})).await;
    let (status, _) = hub.heartbeat(minimal_heartbeat("alpha", start_time(), 12.5)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = hub.get("/api/v1/servers").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 2);
    let ids: Vec<&str> = body["servers"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["beta", "alpha"], "insertion order");
    assert_eq!(body["servers"][0]["latest_metrics"], Value::Null);
    assert_eq!(
        body["servers"][1]["latest_metrics"],
        json!({"cpu_percent": 12.5, "memory_percent": 62.5, "memory_total_mb": null, "memory_used_mb": null,
               "disk_percent": 78.3, "disk_total_gb": null, "disk_used_gb": null, "network_rx_bytes": null,
               "network_tx_bytes": null, "load_1m": null, "load_5m": null, "load_15m": null, "uptime_seconds": null})
    );
    assert_eq!(body["servers"][1]["status"], "online");
    assert_eq!(body["servers"][0]["status"], "unknown");
}

/// `limit` and `offset` page the list in its order; `total` still counts the whole fleet, and
/// bad values are a 422 naming the parameter, never a 500.
async fn list_pages_with_limit_and_offset(hub: &TestHub) {
    for id in ["a", "b", "c", "d", "e"] {
        hub.create_server(json!({"id": id, "hostname": format!("{id}.lan")})).await;
    }
    let ids = |body: &Value| -> Vec<String> {
        body["servers"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect()
    };
    let (status, body) = hub.get("/api/v1/servers?limit=2").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((ids(&body), body["total"].clone()), (vec!["a".to_owned(), "b".to_owned()], json!(5)));
    let (_, body) = hub.get("/api/v1/servers?limit=2&offset=3").await;
    assert_eq!(ids(&body), ["d", "e"]);
    let (_, body) = hub.get("/api/v1/servers?offset=4").await;
    assert_eq!((ids(&body), body["total"].clone()), (vec!["e".to_owned()], json!(5)));
    let (_, body) = hub.get("/api/v1/servers?offset=9").await;
    assert_eq!((ids(&body).len(), body["total"].clone()), (0, json!(5)));
    // Without them, v1's shape and the whole list.
    let (_, body) = hub.get("/api/v1/servers").await;
    assert_eq!(body.as_object().unwrap().keys().collect::<Vec<_>>(), ["servers", "total"]);
    assert_eq!(ids(&body).len(), 5);
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=-1", "limit"),
        ("offset=-1", "offset"),
        ("limit=ten", "limit"),
        ("offset=1.5", "offset"),
        ("limit=99999999999999999999", "limit"),
    ] {
        let (status, body) = hub.get(&format!("/api/v1/servers?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["detail"][0]["loc"], json!(["query", field]), "{query}: {body}");
    }
}

async fn put_applies_only_the_keys_sent(hub: &TestHub) {
    hub.create_server(new_server_body()).await;
    hub.clock.advance(Duration::minutes(5));
    let (status, body) = hub.put("/api/v1/servers/omv-mediaserver", json!({"hostname": "nas.home.lan"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut expected = expected_new_server();
    expected["hostname"] = json!("nas.home.lan");
    expected["updated_at"] = json!("2026-01-19T12:05:00.000Z");
    assert_eq!(body, expected);

    // Explicit null clears an optional field and leaves the rest alone; unknown keys are ignored.
    let (status, body) = hub
        .put(
            "/api/v1/servers/omv-mediaserver",
            json!({"display_name": null, "idle_watts": 8, "sudo_mode": "password", "ssh_username": "admin",
                   "machine_category": "nas", "machine_category_source": "user", "config_user": "homelab",
                   "machine_type": "workstation", "not_a_field": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    expected["display_name"] = Value::Null;
    expected["idle_watts"] = json!(8);
    expected["sudo_mode"] = json!("password");
    expected["ssh_username"] = json!("admin");
    expected["machine_category"] = json!("nas");
    expected["machine_category_source"] = json!("user");
    expected["config_user"] = json!("homelab");
    expected["machine_type"] = json!("workstation");
    assert_eq!(body, expected);
    assert_eq!(hub.get("/api/v1/servers/omv-mediaserver").await.1, expected);

    // An empty body changes nothing but is accepted.
    let (status, body) = hub.put("/api/v1/servers/omv-mediaserver", json!({})).await;
    assert_eq!((status, &body["hostname"], &body["tdp_watts"]), (StatusCode::OK, &json!("nas.home.lan"), &json!(35)));
}

async fn put_validation_names_the_field_and_null_is_a_422_not_a_500(hub: &TestHub) {
    hub.create_server(new_server_body()).await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"hostname": null}), "null_not_allowed", "hostname"),
        (json!({"sudo_mode": null}), "null_not_allowed", "sudo_mode"),
        (json!({"machine_type": null}), "null_not_allowed", "machine_type"),
        (json!({"hostname": ""}), "string_too_short", "hostname"),
        (json!({"hostname": "h".repeat(256)}), "string_too_long", "hostname"),
        (json!({"tdp_watts": 10001}), "less_than_equal", "tdp_watts"),
        (json!({"idle_watts": -5}), "greater_than_equal", "idle_watts"),
        (json!({"machine_type": "laptop"}), "literal_error", "machine_type"),
        (json!({"sudo_mode": "sometimes"}), "literal_error", "sudo_mode"),
        (json!({"machine_category": "c".repeat(51)}), "literal_error", "machine_category"),
        (json!({"machine_category_source": "s".repeat(11)}), "literal_error", "machine_category_source"),
        (json!({"tdp_watts": "x"}), "type_error", "tdp_watts"),
    ];
    for (body, kind, field) in cases {
        let (status, answer) = hub.put("/api/v1/servers/omv-mediaserver", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {answer}");
        assert_eq!(answer["detail"][0]["type"], kind, "{body} → {answer}");
        assert_eq!(answer["detail"][0]["loc"], json!(["body", field]), "{body} → {answer}");
    }
    // Nullable numbers may be cleared.
    let (status, body) = hub.put("/api/v1/servers/omv-mediaserver", json!({"tdp_watts": null})).await;
    assert_eq!((status, &body["tdp_watts"]), (StatusCode::OK, &Value::Null));
    // Nothing else changed.
    let (_, body) = hub.get("/api/v1/servers/omv-mediaserver").await;
    assert_eq!((&body["hostname"], &body["sudo_mode"]), (&json!("mediaserver.home.lan"), &json!("passwordless")));
}

async fn delete_is_204_then_404_and_takes_the_history_along(hub: &TestHub) {
    hub.create_server(new_server_body()).await;
    hub.heartbeat(heartbeat_body("omv-mediaserver", start_time(), 40.0)).await;
    let reply =
        hub.request(Method::DELETE, "/api/v1/servers/omv-mediaserver", &[("X-API-Key", common::API_KEY)], None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.text, "");
    let (status, body) = hub.get("/api/v1/servers/omv-mediaserver").await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, app_error("NOT_FOUND", "Server 'omv-mediaserver' not found")));
    assert_eq!(hub.delete("/api/v1/servers/omv-mediaserver").await.0, StatusCode::NOT_FOUND);
    assert_eq!(hub.get("/api/v1/servers/omv-mediaserver/metrics").await.0, StatusCode::NOT_FOUND);

    // The agent re-registers it, with no trace of the old history, snapshot or packages.
    hub.clock.advance(Duration::minutes(1));
    let (status, answer) = hub.heartbeat(minimal_heartbeat("omv-mediaserver", hub.now(), 5.0)).await;
    assert_eq!((status, &answer["server_registered"]), (StatusCode::OK, &json!(true)));
    let (_, history) = hub.get("/api/v1/servers/omv-mediaserver/metrics").await;
    assert_eq!(history["total_points"], 1);
    assert_eq!(history["data_points"][0]["cpu_percent"], 5.0);
    let (_, server) = hub.get("/api/v1/servers/omv-mediaserver").await;
    assert_eq!((&server["filesystems"], &server["display_name"]), (&Value::Null, &Value::Null));
    let (_, series) = hub.get("/api/v1/servers/omv-mediaserver/metrics/series?metrics=fs_percent").await;
    assert_eq!(series["series"], json!([]));
}

async fn pause_and_unpause(hub: &TestHub) {
    hub.create_server(new_server_body()).await;
    hub.clock.advance(Duration::minutes(10));
    let (status, body) = hub.put("/api/v1/servers/omv-mediaserver/pause", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut expected = expected_new_server();
    expected["is_paused"] = json!(true);
    expected["paused_at"] = json!("2026-01-19T12:10:00.000Z");
    expected["updated_at"] = body["updated_at"].clone();
    assert_eq!(body, expected);
    assert_eq!(hub.get("/api/v1/servers/omv-mediaserver").await.1["paused_at"], "2026-01-19T12:10:00.000Z");

    // A heartbeat does not end maintenance mode.
    hub.heartbeat(minimal_heartbeat("omv-mediaserver", hub.now(), 1.0)).await;
    assert_eq!(hub.get("/api/v1/servers/omv-mediaserver").await.1["is_paused"], true);

    hub.clock.advance(Duration::minutes(1));
    // The body is ignored (none at all is fine too).
    let reply = hub
        .request(Method::PUT, "/api/v1/servers/omv-mediaserver/unpause", &[("X-API-Key", common::API_KEY)], None)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!((&reply.body["is_paused"], &reply.body["paused_at"]), (&json!(false), &Value::Null));
    let (_, body) = hub.get("/api/v1/servers/omv-mediaserver").await;
    assert_eq!((&body["is_paused"], &body["paused_at"]), (&json!(false), &Value::Null));
}

fn package(name: &str, current: &str, new: &str, security: bool) -> Value {
    json!({"name": name, "current_version": current, "new_version": new,
           "repository": if security { "bookworm-security" } else { "bookworm" }, "is_security": security})
}

fn with_packages(at: chrono::DateTime<chrono::Utc>, packages: Option<Value>) -> Value {
    let mut body = minimal_heartbeat("nas", at, 10.0);
    if let Some(packages) = packages {
        body["packages"] = packages;
    }
    body
}

async fn packages_are_sorted_counted_and_replaced_by_heartbeats(hub: &TestHub) {
    hub.create_server(json!({"id": "nas", "hostname": "nas"})).await;
    let (status, body) = hub.get("/api/v1/servers/nas/packages").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"server_id": "nas", "last_checked": null, "total_count": 0, "security_count": 0, "packages": []})
    );

    hub.clock.advance(Duration::minutes(1));
    let list = json!([
        package("zlib1g", "1:1.2.13", "1:1.2.13.1", false),
        package("openssl", "3.0.11", "3.0.13", true),
        package("apt", "2.6.0", "2.6.1", false),
        package("openssl", "3.0.11", "3.0.14", true),
    ]);
    assert_eq!(hub.heartbeat(with_packages(hub.now(), Some(list))).await.0, StatusCode::OK);
    let (_, body) = hub.get("/api/v1/servers/nas/packages").await;
    let at = "2026-01-19T12:01:00.000Z";
    let stored = |name: &str, current: &str, new: &str, security: bool| {
        let mut p = package(name, current, new, security);
        p["detected_at"] = json!(at);
        p["updated_at"] = json!(at);
        p
    };
    assert_eq!(
        body,
        json!({"server_id": "nas", "last_checked": at, "total_count": 3, "security_count": 1, "packages": [
            stored("apt", "2.6.0", "2.6.1", false),
            stored("openssl", "3.0.11", "3.0.14", true),
            stored("zlib1g", "1:1.2.13", "1:1.2.13.1", false),
        ]})
    );

    // Without the key the list is kept (last_checked still follows last_seen).
    hub.clock.advance(Duration::minutes(1));
    assert_eq!(hub.heartbeat(with_packages(hub.now(), None)).await.0, StatusCode::OK);
    let (_, body) = hub.get("/api/v1/servers/nas/packages").await;
    assert_eq!((&body["total_count"], &body["last_checked"]), (&json!(3), &json!("2026-01-19T12:02:00.000Z")));

    // A new list replaces the old one entirely.
    hub.clock.advance(Duration::minutes(1));
    let list = json!([package("curl", "7.88.1", "7.88.2", true), package("bash", "5.2.15", "5.2.16", true)]);
    assert_eq!(hub.heartbeat(with_packages(hub.now(), Some(list))).await.0, StatusCode::OK);
    let (_, body) = hub.get("/api/v1/servers/nas/packages").await;
    let names: Vec<&str> = body["packages"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["bash", "curl"]);
    assert_eq!((&body["total_count"], &body["security_count"]), (&json!(2), &json!(2)));
    assert_eq!(body["packages"][0]["detected_at"], "2026-01-19T12:03:00.000Z");

    // An empty list clears it.
    assert_eq!(hub.heartbeat(with_packages(hub.now(), Some(json!([])))).await.0, StatusCode::OK);
    let (_, body) = hub.get("/api/v1/servers/nas/packages").await;
    assert_eq!((&body["total_count"], &body["security_count"], &body["packages"]), (&json!(0), &json!(0), &json!([])));

    // A package entry missing a required field rejects the heartbeat, naming the field.
    let (status, body) = hub.heartbeat(with_packages(hub.now(), Some(json!([{"name": "x"}])))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "packages", 0, "current_version"]));
    assert_eq!(body["detail"][0]["type"], "missing");
}

on_both_backends!(
    create_answers_201_with_every_v1_field_in_order,
    duplicate_id_is_a_409,
    create_validation_names_the_field,
    get_unknown_is_a_404,
    list_shows_every_server_with_latest_metrics,
    list_pages_with_limit_and_offset,
    put_applies_only_the_keys_sent,
    put_validation_names_the_field_and_null_is_a_422_not_a_500,
    delete_is_204_then_404_and_takes_the_history_along,
    pause_and_unpause,
    packages_are_sorted_counted_and_replaced_by_heartbeats,
);
