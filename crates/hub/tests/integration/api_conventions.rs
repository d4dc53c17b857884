//! Cross-cutting API conventions (contract §1): authentication on every endpoint but health,
//! JSON 404/405, trailing-slash redirects, the OpenAPI document and docs page, and the one
//! timestamp format, on both backends.
use crate::common;

use std::collections::BTreeSet;

use chrono::Duration;
use common::{TestHub, app_error, check_timestamps, heartbeat_body, start_time, unauthorized};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Every issue-2 endpoint as (method, OpenAPI path), plus the documentation.
const ENDPOINTS: [(&str, &str); 22] = [
    ("GET", "/api/v1/system/health"),
    ("GET", "/api/v1/servers"),
    ("POST", "/api/v1/servers"),
    ("GET", "/api/v1/servers/{server_id}"),
    ("PUT", "/api/v1/servers/{server_id}"),
    ("DELETE", "/api/v1/servers/{server_id}"),
    ("PUT", "/api/v1/servers/{server_id}/pause"),
    ("PUT", "/api/v1/servers/{server_id}/unpause"),
    ("GET", "/api/v1/servers/{server_id}/packages"),
    ("POST", "/api/v1/agents/heartbeat"),
    ("GET", "/api/v1/servers/{server_id}/metrics"),
    ("GET", "/api/v1/servers/{server_id}/metrics/sparkline"),
    ("GET", "/api/v1/servers/{server_id}/metrics/series"),
    ("POST", "/api/v1/agents/register/tokens"),
    ("GET", "/api/v1/agents/register/tokens"),
    ("DELETE", "/api/v1/agents/register/tokens/{token_id}"),
    ("POST", "/api/v1/agents/register/claim"),
    ("GET", "/api/v1/agents/register/credentials/{server_guid}"),
    ("POST", "/api/v1/agents/register/credentials/{server_guid}/rotate"),
    ("POST", "/api/v1/agents/register/credentials/{server_guid}/revoke"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/docs/"),
];

/// Endpoints that answer without the admin key.
const PUBLIC: [&str; 2] = ["/api/v1/system/health", "/api/v1/agents/register/claim"];

fn concrete(path: &str) -> String {
    path.replace("{id}", "1")
        .replace("{guid}", "3f2b8a1e-9c4d-4e5f-8a6b-7c8d9e0f1a2b")
        .replace("{name}", "x")
        .replace("{arch}", "x86_64")
}

/// Served without any key (as in v1): the agent installer and the binary it downloads.
const INSTALLER: [&str; 2] = ["/api/v1/agents/register/install.sh", "/api/v1/agents/download/{arch}"];

async fn openapi_document(hub: &TestHub) -> Value {
    let reply = hub.request(Method::GET, "/api/openapi.json", &[], None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.header("content-type").unwrap().starts_with("application/json"));
    reply.body
}

/// (METHOD, path) of every operation in the OpenAPI document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_some() {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

async fn every_endpoint_but_health_needs_the_api_key(hub: &TestHub) {
    let doc = openapi_document(hub).await;
    let ops = operations(&doc);
    assert!(ops.len() >= 20, "{ops:?}");
    let body = json!({});
    for (method, path) in &ops {
        let url = concrete(path);
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        for headers in [vec![], vec![("X-API-Key", "wrong-key")], vec![("X-API-Key", "")]] {
            // A minute apart, so that these many refusals from one address stay below the
            // failed-authentication throttle (`hardening.rs` tests that).
            hub.clock.advance(Duration::minutes(1));
            let reply = hub.request(method.clone(), &url, &headers, Some(&body)).await;
            if path == "/api/v1/system/health" {
                assert_eq!(reply.status, StatusCode::OK);
                assert_eq!(reply.body["status"], "healthy");
            } else if path == INSTALLER[0] {
                assert_eq!(reply.status, StatusCode::OK, "{method} {path}");
            } else if path == INSTALLER[1] {
                // No binaries directory is configured: a 404 saying so, not a 401.
                assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {path}: {}", reply.text);
            } else if PUBLIC.contains(&path.as_str()) {
                // The claim needs no key: an empty body is a validation error, not a 401.
                assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{method} {path}: {}", reply.text);
            } else if path == "/api/v1/agents/heartbeat" {
                assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {path}");
                assert_eq!(reply.body, unauthorized("Invalid or missing authentication"));
            } else {
                assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {path}: {}", reply.text);
                assert_eq!(reply.body, unauthorized("Invalid or missing API key"), "{method} {path}");
                assert!(reply.header("www-authenticate").is_none(), "v1 sends no WWW-Authenticate");
            }
        }
    }
    // The key is accepted on each of the issue-2 endpoints (any answer but 401).
    for (method, path) in ENDPOINTS {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let reply = hub.request(method.clone(), &concrete(path), &[("X-API-Key", common::API_KEY)], Some(&body)).await;
        assert_ne!(reply.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        assert_ne!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{method} {path}: {}", reply.text);
    }
}

async fn openapi_lists_every_route(hub: &TestHub) {
    let doc = openapi_document(hub).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."), "{}", doc["openapi"]);
    assert_eq!(doc["info"]["title"], "Homelab Command API");
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"],
        json!({"type": "apiKey", "in": "header", "name": "X-API-Key"})
    );
    let ops = operations(&doc);
    for (method, path) in ENDPOINTS.iter().filter(|(_, p)| p.starts_with("/api/v1/")) {
        assert!(ops.contains(&(method.to_string(), path.to_string())), "{method} {path} missing from OpenAPI");
    }
    // And the other way round: every documented operation is served (none falls through to
    // the JSON 404 or 405 of unknown routes).
    for (method, path) in &ops {
        let reply = hub
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                &concrete(path),
                &[("X-API-Key", common::API_KEY)],
                Some(&json!({})),
            )
            .await;
        let code = reply.body["detail"]["code"].as_str().unwrap_or_default().to_owned();
        let unrouted = reply.status == StatusCode::METHOD_NOT_ALLOWED
            || (reply.status == StatusCode::NOT_FOUND
                && reply.body["detail"]["message"].as_str().is_some_and(|m| m.starts_with("No such endpoint")));
        assert!(!unrouted, "{method} {path} is documented but not served: {} {code}", reply.status);
    }
    // Operations say how they authenticate.
    let heartbeat = &doc["paths"]["/api/v1/agents/heartbeat"]["post"];
    assert_eq!(heartbeat["security"], json!([{"api_key": []}, {"agent_token": [], "server_guid": []}]));
    assert!(doc["paths"]["/api/v1/system/health"]["get"].get("security").is_none());
    // The heartbeat body schema is documented.
    assert!(heartbeat["requestBody"]["content"]["application/json"]["schema"].is_object());
}

async fn docs_page_is_served_offline(hub: &TestHub) {
    // ReDoc too (v1 §1.1), from the same embedded files.
    let redoc = hub.request(Method::GET, "/api/redoc", &[], None).await;
    assert_eq!(redoc.status, StatusCode::OK);
    assert!(redoc.text.contains("spec-url=\"/api/openapi.json\""), "{}", redoc.text);
    let script = redoc.text.split("src=\"").nth(1).unwrap().split('"').next().unwrap();
    assert!(script.starts_with("/api/docs/redoc.standalone.js?v="), "{script}");
    let bundle = hub.request(Method::GET, script, &[], None).await;
    assert_eq!(bundle.status, StatusCode::OK);
    assert!(bundle.text.contains("Redoc"), "the bundle is ReDoc's");

    let reply = hub.request(Method::GET, "/api/docs/", &[], None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.header("content-type").unwrap().starts_with("text/html"), "{:?}", reply.headers);
    assert!(reply.text.to_lowercase().contains("swagger"), "{}", reply.text);
    // Every script and stylesheet comes from the hub itself.
    for attribute in ["src=\"", "href=\""] {
        for piece in reply.text.split(attribute).skip(1) {
            let target = piece.split('"').next().unwrap();
            assert!(!target.starts_with("http") && !target.starts_with("//"), "external asset {target}");
            let asset = if target.starts_with('/') { target.to_owned() } else { format!("/api/docs/{target}") };
            let fetched = hub.request(Method::GET, &asset, &[], None).await;
            assert_eq!(fetched.status, StatusCode::OK, "{asset}");
            assert!(!fetched.text.is_empty(), "{asset}");
        }
    }
    // The initialiser points the page at our document.
    let init = hub.request(Method::GET, "/api/docs/swagger-initializer.js", &[], None).await;
    assert_eq!(init.status, StatusCode::OK);
    assert!(init.text.contains("/api/openapi.json"), "{}", init.text);
    // The files are versioned in the page's URLs, so browsers may keep them for good.
    let bundle = hub.request(Method::GET, "/api/docs/swagger-ui-bundle.js", &[], None).await;
    assert_eq!(bundle.status, StatusCode::OK);
    assert!(bundle.text.contains("SwaggerUIBundle"));
    assert!(bundle.header("cache-control").is_some_and(|c| c.contains("immutable")), "{:?}", bundle.headers);
    assert_eq!(bundle.header("content-encoding"), None);
    // Browsers get the embedded gzip as it is.
    let gzipped =
        hub.request(Method::GET, "/api/docs/swagger-ui-bundle.js", &[("accept-encoding", "gzip, br")], None).await;
    assert_eq!(gzipped.status, StatusCode::OK);
    assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
    assert_eq!(gzipped.header("vary"), Some("accept-encoding"));
    assert!(reply.text.contains("swagger-ui-bundle.js?v="), "{}", reply.text);
    // Only what the page loads is embedded: no source maps, no other bundles.
    for absent in ["swagger-ui-bundle.js.map", "swagger-ui-es-bundle.js", "swagger-ui-standalone-preset.js"] {
        let reply = hub.request(Method::GET, &format!("/api/docs/{absent}"), &[], None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{absent}");
    }
    // Without the slash the browser is sent to the page.
    let reply = hub.request(Method::GET, "/api/docs", &[], None).await;
    assert!(reply.status.is_redirection(), "{}", reply.status);
    assert_eq!(reply.header("location"), Some("/api/docs/"));
}

async fn unknown_routes_wrong_methods_and_trailing_slashes(hub: &TestHub) {
    for path in ["/api/v1/nope", "/api/v1/servers/x/nothing", "/nothing"] {
        let reply = hub.request(Method::GET, path, &[("X-API-Key", common::API_KEY)], None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.body, app_error("NOT_FOUND", &format!("No such endpoint: {path}")));
        assert!(reply.header("content-type").unwrap().starts_with("application/json"));
    }
    for (method, path) in [
        (Method::DELETE, "/api/v1/servers"),
        (Method::PATCH, "/api/v1/servers/x"),
        (Method::GET, "/api/v1/agents/heartbeat"),
        (Method::POST, "/api/v1/system/health"),
    ] {
        let reply = hub.request(method.clone(), path, &[("X-API-Key", common::API_KEY)], None).await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(reply.body, app_error("METHOD_NOT_ALLOWED", "Method Not Allowed"), "{method} {path}");
    }
    for (path, location) in [
        ("/api/v1/servers/", "/api/v1/servers"),
        ("/api/v1/servers/nas/metrics/?range=7d", "/api/v1/servers/nas/metrics?range=7d"),
        ("/api/v1/system/health/", "/api/v1/system/health"),
    ] {
        let reply = hub.request(Method::GET, path, &[], None).await;
        assert_eq!(reply.status, StatusCode::TEMPORARY_REDIRECT, "{path}");
        assert_eq!(reply.header("location"), Some(location), "{path}");
    }
    // A 307 keeps the method and body: a heartbeat to the slashed path still arrives.
    let reply = hub
        .request(Method::POST, "/api/v1/agents/heartbeat/", &[], Some(&heartbeat_body("nas", start_time(), 1.0)))
        .await;
    assert_eq!(
        (reply.status, reply.header("location")),
        (StatusCode::TEMPORARY_REDIRECT, Some("/api/v1/agents/heartbeat"))
    );
}

async fn bad_path_parameters_are_a_422_naming_the_parameter(hub: &TestHub) {
    let key = [("X-API-Key", common::API_KEY)];
    let reply = hub.request(Method::DELETE, "/api/v1/agents/register/tokens/abc", &key, None).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    assert_eq!(
        reply.body,
        json!({"detail": [{"type": "type_error", "loc": ["path", "token_id"],
                           "msg": "token_id: Cannot parse `abc` to a `i64`", "input": "abc"}]})
    );
    // Every integer id of the API answers the same JSON (these once answered axum's plain text).
    for path in [
        "/api/v1/alerts/abc",
        "/api/v1/alerts/abc/timeline",
        "/api/v1/notifications/deliveries/abc/retry",
        "/api/v1/notifications/deliveries/abc/discard",
    ] {
        let method = if path.ends_with("retry") || path.ends_with("discard") { Method::POST } else { Method::GET };
        let reply = hub.request(method, path, &key, None).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {}", reply.text);
        assert_eq!(reply.body["detail"][0]["type"], "type_error", "{path}");
        assert_eq!(reply.body["detail"][0]["input"], "abc", "{path}");
        assert_eq!(reply.body["detail"][0]["loc"][0], "path", "{path}");
    }
    // Not UTF-8 once percent-decoded.
    let reply = hub.request(Method::GET, "/api/v1/servers/%FF", &key, None).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    assert_eq!(
        (&reply.body["detail"][0]["type"], &reply.body["detail"][0]["loc"]),
        (&json!("string_unicode"), &json!(["path", "server_id"]))
    );
    let reply = hub.request(Method::GET, "/api/v1/servers/%FF/metrics/sparkline", &key, None).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    // Odd but valid ids are just unknown.
    for id in ["has%20space", "UPPER", "a.b"] {
        let (status, body) = hub.get(&format!("/api/v1/servers/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}: {body}");
        assert_eq!(body["detail"]["code"], "NOT_FOUND");
    }
    assert_eq!(hub.get("/api/v1/servers/has%20space").await.1["detail"]["message"], "Server 'has space' not found");
}

async fn health_answers_without_a_key(hub: &TestHub) {
    hub.clock.advance(Duration::seconds(90));
    let settings_cache = match hub.store.settings_watch() {
        homelab_store::SettingsWatch::SoleWriter => "sole-writer",
        homelab_store::SettingsWatch::Announced(mut changes) => {
            let listening = changes.wait_for(Option::is_some);
            tokio::time::timeout(std::time::Duration::from_secs(10), listening).await.unwrap().unwrap();
            "listening"
        }
    };
    let (status, body) = hub.get_without_key("/api/v1/system/health").await;
    assert_eq!(status, StatusCode::OK);
    let backend = body["database_backend"].as_str().unwrap().to_owned();
    assert!(backend == "sqlite" || backend == "postgres", "{backend}");
    assert!(body["uptime_seconds"].as_u64().unwrap() < 600);
    assert!(body["version"].as_str().is_some_and(|v| !v.is_empty()));
    assert!(body["writes_shed"].is_u64(), "{body}");
    let mut body = body;
    body["uptime_seconds"] = json!(0);
    body["version"] = json!("x");
    body["writes_shed"] = json!(0);
    assert_eq!(
        body,
        json!({"status": "healthy", "version": "x", "uptime_seconds": 0, "database": "connected",
               "database_backend": backend, "timestamp": "2026-01-19T12:01:30Z", "writes_shed": 0,
               "requests_shed": 0, "requests_timed_out": 0, "settings_cache": settings_cache})
    );
}

async fn every_timestamp_is_rfc3339_utc_with_z(hub: &TestHub) {
    // Data with every kind of timestamp: agent times with offsets, paused_at, packages,
    // tokens, credentials.
    let mut body = heartbeat_body("nas", start_time(), 12.0);
    body["timestamp"] = json!("2026-01-19T14:00:00.123456+02:00");
    body["packages"] = json!([{"name": "apt", "current_version": "1", "new_version": "2", "repository": "main", "is_security": false}]);
    assert_eq!(hub.heartbeat(body).await.0, StatusCode::OK);
    hub.clock.advance(Duration::milliseconds(1500));
    hub.put("/api/v1/servers/nas/pause", json!({})).await;
    let claimed = hub.register_agent("agent").await;
    let guid = claimed["server_guid"].as_str().unwrap();
    let (status, created) = hub.post("/api/v1/agents/register/tokens", json!({})).await;
    assert_eq!(status, StatusCode::OK);

    let mut checked = check_timestamps(&created);
    for path in [
        "/api/v1/system/health".to_owned(),
        "/api/v1/servers".to_owned(),
        "/api/v1/servers/nas".to_owned(),
        "/api/v1/servers/nas/packages".to_owned(),
        "/api/v1/servers/nas/metrics?range=24h".to_owned(),
        "/api/v1/servers/nas/metrics?range=7d".to_owned(),
        "/api/v1/servers/nas/metrics?range=30d".to_owned(),
        "/api/v1/servers/nas/metrics?range=12m".to_owned(),
        "/api/v1/servers/nas/metrics/sparkline".to_owned(),
        "/api/v1/agents/register/tokens".to_owned(),
        format!("/api/v1/agents/register/credentials/{guid}"),
    ] {
        let (status, body) = hub.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let n = check_timestamps(&body);
        assert!(n > 0, "{path} has no timestamps: {body}");
        checked += n;
    }
    assert!(checked >= 20, "only {checked} timestamps checked");
    // Spot checks of the exact values.
    let (_, server) = hub.get("/api/v1/servers/nas").await;
    assert_eq!(server["paused_at"], "2026-01-19T12:00:01.500Z");
    assert_eq!(server["last_seen"], "2026-01-19T12:00:00.000Z");
    let (_, history) = hub.get("/api/v1/servers/nas/metrics").await;
    assert_eq!(history["data_points"][0]["timestamp"], "2026-01-19T12:00:00.123Z");
    assert!(common::is_api_timestamp("2026-01-19T12:00:00Z"));
    assert!(!common::is_api_timestamp("2026-01-19T12:00:00"));
    assert!(!common::is_api_timestamp("2026-01-19T12:00:00+00:00"));
    assert!(!common::is_api_timestamp("2026-01-19T12:00:00.123456Z"));
}

on_both_backends!(
    every_endpoint_but_health_needs_the_api_key,
    openapi_lists_every_route,
    docs_page_is_served_offline,
    unknown_routes_wrong_methods_and_trailing_slashes,
    bad_path_parameters_are_a_422_naming_the_parameter,
    health_answers_without_a_key,
    every_timestamp_is_rfc3339_utc_with_z,
);
