//! Real answers against our own OpenAPI document: each request below (successes and the error
//! answers alike) must hit a documented operation and status, and its JSON body must match the
//! documented schema. A small validator for the subset of JSON Schema that utoipa emits ($ref,
//! type, properties, required, items, additionalProperties, oneOf/anyOf/allOf, enum): enough to
//! catch a field the document types wrongly, forgets, or a status it does not mention.
use crate::common;

use common::{TestHub, heartbeat_body};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

fn type_matches(kind: &str, value: &Value) -> bool {
    match kind {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}

/// Every way `value` breaks `schema`, as `where: what` lines.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if let Some(options) = schema.get("oneOf").or_else(|| schema.get("anyOf")).and_then(Value::as_array) {
        let fits = options.iter().any(|option| {
            let mut inner = Vec::new();
            check(doc, option, value, at, &mut inner);
            inner.is_empty()
        });
        if !fits {
            errors.push(format!("{at}: {value} matches none of {}", Value::Array(options.clone())));
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for part in all {
            check(doc, part, value, at, errors);
        }
    }
    if let Some(kind) = schema.get("type") {
        let kinds: Vec<&str> = match kind {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !kinds.iter().any(|k| type_matches(k, value)) {
            errors.push(format!("{at}: {value} is not {kind}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {}", Value::Array(allowed.clone())));
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for required in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            let name = required.as_str().unwrap_or_default();
            if !object.contains_key(name) {
                errors.push(format!("{at}: required field {name} is missing"));
            }
        }
        for (key, field) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(property) => check(doc, property, field, &format!("{at}.{key}"), errors),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => errors.push(format!("{at}: field {key} is not documented")),
                    Some(extra @ Value::Object(_)) => check(doc, extra, field, &format!("{at}.{key}"), errors),
                    // utoipa documents structs with their fields: an unknown one is a lie too.
                    _ if properties.is_some() => errors.push(format!("{at}: field {key} is not documented")),
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            check(doc, items, item, &format!("{at}[{i}]"), errors);
        }
    }
}

/// The document's path template matching a concrete path (`/servers/{server_id}` for `/servers/lab`).
fn template<'a>(doc: &'a Value, path: &str) -> Option<&'a str> {
    let path = path.split('?').next().unwrap_or(path);
    let wanted: Vec<&str> = path.split('/').collect();
    let mut found: Vec<&'a str> = doc["paths"]
        .as_object()?
        .keys()
        .map(String::as_str)
        .filter(|candidate| {
            let parts: Vec<&str> = candidate.split('/').collect();
            parts.len() == wanted.len() && parts.iter().zip(&wanted).all(|(t, w)| t.starts_with('{') || t == w)
        })
        .collect();
    // A literal segment beats a parameter (`/alerts/pending` over `/alerts/{alert_id}`).
    found.sort_by_key(|t| t.matches('{').count());
    found.first().copied()
}

async fn conforms(
    hub: &TestHub,
    doc: &Value,
    method: Method,
    path: &str,
    key: bool,
    body: Option<Value>,
) -> StatusCode {
    let headers: Vec<(&str, &str)> = if key { vec![("X-API-Key", common::API_KEY)] } else { vec![] };
    let reply = hub.request(method.clone(), path, &headers, body.as_ref()).await;
    let template = template(doc, path).unwrap_or_else(|| panic!("{method} {path} is not in the document"));
    let operation = &doc["paths"][template][method.as_str().to_lowercase()];
    assert!(operation.is_object(), "{method} {template} is not in the document");
    let status = reply.status.as_u16().to_string();
    let response = &operation["responses"][&status];
    assert!(response.is_object(), "{method} {path}: status {status} is not documented: {}", reply.text);
    let content_type = reply.header("content-type").unwrap_or_default();
    if content_type.starts_with("application/json") {
        let schema = &response["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{method} {path} {status}: no JSON schema documented");
        let mut errors = Vec::new();
        check(doc, schema, &reply.body, "body", &mut errors);
        assert!(
            errors.is_empty(),
            "{method} {path} {status} does not match the document:\n{}\n{}",
            errors.join("\n"),
            reply.text
        );
    }
    reply.status
}

async fn real_answers_match_the_document(hub: &TestHub) {
    let doc = hub.request(Method::GET, "/api/openapi.json", &[], None).await.body;
    hub.put("/api/v1/config/thresholds", json!({"cpu": {"sustained_seconds": 0}})).await;
    hub.heartbeat(heartbeat_body("lab", hub.now(), 99.0)).await;
    hub.post("/api/v1/servers/lab/services", json!({"service_name": "plex", "is_critical": true})).await;
    let claimed = hub.register_agent("pi").await;
    let guid = claimed["server_guid"].as_str().unwrap().to_owned();
    let (_, alerts) = hub.get("/api/v1/alerts").await;
    let alert = alerts["alerts"][0]["id"].as_i64().expect("the CPU alert");

    use Method as M;
    let cases: Vec<(Method, String, bool, Option<Value>, u16)> = vec![
        (M::GET, "/api/v1/system/health".into(), false, None, 200),
        (M::GET, "/api/v1/servers".into(), true, None, 200),
        (M::GET, "/api/v1/servers".into(), false, None, 401),
        (M::GET, "/api/v1/servers/lab".into(), true, None, 200),
        (M::GET, "/api/v1/servers/nope".into(), true, None, 404),
        (M::POST, "/api/v1/servers".into(), true, Some(json!({"id": "new", "hostname": "new.lan"})), 201),
        (M::POST, "/api/v1/servers".into(), true, Some(json!({"id": "BAD id", "hostname": ""})), 422),
        (M::POST, "/api/v1/servers".into(), true, Some(json!({"id": "new", "hostname": "new.lan"})), 409),
        (M::PUT, "/api/v1/servers/lab".into(), true, Some(json!({"machine_category": "nas", "tdp_watts": 40})), 200),
        (M::PUT, "/api/v1/servers/lab/pause".into(), true, Some(json!({})), 200),
        (M::GET, "/api/v1/servers/lab/packages".into(), true, None, 200),
        (M::GET, "/api/v1/servers/lab/metrics?range=7d".into(), true, None, 200),
        (M::GET, "/api/v1/servers/lab/metrics?range=1y".into(), true, None, 422),
        (M::GET, "/api/v1/servers/lab/metrics/sparkline".into(), true, None, 200),
        (M::GET, "/api/v1/servers/lab/metrics/sparkline?metric=nope".into(), true, None, 400),
        (M::GET, "/api/v1/servers/lab/metrics/series?range=24h".into(), true, None, 200),
        (M::GET, "/api/v1/servers/lab/services".into(), true, None, 200),
        (M::GET, "/api/v1/servers/lab/tags".into(), true, None, 200),
        (M::GET, "/api/v1/servers/lab/reported-services".into(), true, None, 200),
        (M::GET, "/api/v1/servers/lab/config/packs".into(), true, None, 200),
        (M::GET, "/api/v1/alerts".into(), true, None, 200),
        (M::GET, "/api/v1/alerts?limit=0".into(), true, None, 422),
        (M::GET, "/api/v1/alerts/pending".into(), true, None, 200),
        (M::GET, format!("/api/v1/alerts/{alert}"), true, None, 200),
        (M::GET, "/api/v1/alerts/x".into(), true, None, 422),
        (M::GET, format!("/api/v1/alerts/{alert}/timeline"), true, None, 200),
        (M::POST, format!("/api/v1/alerts/{alert}/acknowledge"), true, Some(json!({})), 200),
        (M::POST, format!("/api/v1/alerts/{alert}/resolve"), true, Some(json!({})), 200),
        (M::GET, "/api/v1/config".into(), true, None, 200),
        (M::PUT, "/api/v1/config/thresholds".into(), true, Some(json!({"cpu": {"critical_percent": 10}})), 422),
        (M::PUT, "/api/v1/config/thresholds".into(), true, Some(json!({"cpu": {"high_percent": 101}})), 422),
        (M::PUT, "/api/v1/config/thresholds".into(), true, Some(json!({"cpu": {"high_percent": 80}})), 200),
        (M::PUT, "/api/v1/config/notifications".into(), true, Some(json!({"notify_on_high": false})), 200),
        (M::GET, "/api/v1/config/cost".into(), true, None, 200),
        (M::PUT, "/api/v1/config/cost".into(), true, Some(json!({"electricity_rate": 0.3})), 200),
        (M::GET, "/api/v1/costs/summary".into(), true, None, 200),
        (M::GET, "/api/v1/costs/breakdown".into(), true, None, 200),
        (M::GET, "/api/v1/config/packs".into(), true, None, 200),
        (M::GET, "/api/v1/preferences/dashboard".into(), true, None, 200),
        (M::PUT, "/api/v1/preferences/dashboard".into(), true, Some(json!({"view_mode": "list"})), 200),
        (M::GET, "/api/v1/actions?server_id=lab".into(), true, None, 200),
        (M::GET, "/api/v1/agents/version".into(), true, None, 200),
        (M::GET, "/api/v1/fleet/summary".into(), true, None, 200),
        (M::GET, "/api/v1/agents/register/tokens".into(), true, None, 200),
        (M::POST, "/api/v1/agents/register/tokens".into(), true, Some(json!({"mode": "readwrite"})), 200),
        (M::DELETE, "/api/v1/agents/register/tokens/999".into(), true, None, 404),
        (
            M::POST,
            "/api/v1/agents/register/claim".into(),
            false,
            Some(json!({"token": format!("hlh_rt_{}", "0".repeat(64)), "server_id": "x", "hostname": "x"})),
            400,
        ),
        (M::GET, format!("/api/v1/agents/register/credentials/{guid}"), true, None, 200),
        (M::POST, format!("/api/v1/agents/register/credentials/{guid}/rotate"), true, Some(json!({})), 200),
        (M::POST, format!("/api/v1/agents/register/credentials/{guid}/revoke"), true, Some(json!({})), 200),
        (M::GET, format!("/api/v1/agents/register/credentials/{guid}"), true, None, 404),
        (M::GET, "/api/v1/agents/download/x86_64".into(), false, None, 404),
        (M::POST, "/api/v1/agents/heartbeat".into(), true, Some(heartbeat_body("lab", hub.now(), 20.0)), 200),
        (M::POST, "/api/v1/agents/heartbeat".into(), false, Some(heartbeat_body("lab", hub.now(), 20.0)), 401),
        (M::GET, "/api/v1/notifications/channels".into(), true, None, 200),
        (M::GET, "/api/v1/notifications/deliveries".into(), true, None, 200),
        (M::DELETE, "/api/v1/servers/new".into(), true, None, 204),
    ];
    for (method, path, key, body, expected) in cases {
        let status = conforms(hub, &doc, method.clone(), &path, key, body).await;
        assert_eq!(status.as_u16(), expected, "{method} {path}");
    }
}

/// Every operation has a unique id; every query parameter is declared in the query.
async fn the_document_is_well_formed(hub: &TestHub) {
    let doc = hub.request(Method::GET, "/api/openapi.json", &[], None).await.body;
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap_or_default().to_owned();
            assert!(ids.insert(id.clone()), "{method} {path}: operationId {id} is not unique");
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap();
                let declared_in_path = path.contains(&format!("{{{name}}}"));
                assert_eq!(parameter["in"] == "path", declared_in_path, "{method} {path}: parameter {name}");
            }
            if operation.get("security").is_some_and(|s| s.as_array().is_some_and(|s| !s.is_empty())) {
                assert!(operation["responses"]["401"].is_object(), "{method} {path} documents no 401");
            }
        }
    }
    assert_eq!(doc["paths"]["/api/v1/servers"]["get"]["operationId"], "list_servers");
    assert!(doc["paths"]["/api/v1/servers/{server_id}"].is_object());
    assert!(doc["paths"]["/api/v1/agents/register/credentials/{server_guid}"].is_object());
    assert!(doc["paths"]["/api/v1/agents/register/tokens/{token_id}"].is_object());
    assert_eq!(doc["servers"][0]["url"], "/");
}

/// Every string a request may carry (bodies, keys, free-form values, path and query parameters)
/// has a pattern or a list of values in the document: at least the one refusing NUL, which the
/// hub refuses everywhere. A new field cannot forget it.
fn strings_without_a_rule(doc: &Value, schema: &Value, at: &str, seen: &mut Vec<String>, found: &mut Vec<String>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        if seen.iter().any(|s| s == reference) {
            return;
        }
        seen.push(reference.to_owned());
        return strings_without_a_rule(doc, resolve(doc, schema), reference, seen, found);
    }
    let kinds = match schema.get("type") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if kinds.contains(&"string") && schema.get("pattern").is_none() && schema.get("enum").is_none() {
        found.push(at.to_owned());
    }
    if kinds.contains(&"object") {
        match schema.get("propertyNames") {
            Some(names) => strings_without_a_rule(doc, names, &format!("{at} keys"), seen, found),
            None => found.push(format!("{at} keys")),
        }
        match schema.get("additionalProperties") {
            None | Some(Value::Bool(true)) => found.push(format!("{at} other values")),
            Some(values) => strings_without_a_rule(doc, values, &format!("{at}.*"), seen, found),
        }
    }
    for (name, property) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
        strings_without_a_rule(doc, property, &format!("{at}.{name}"), seen, found);
    }
    if let Some(items) = schema.get("items") {
        strings_without_a_rule(doc, items, &format!("{at}[]"), seen, found);
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for option in schema.get(key).and_then(Value::as_array).into_iter().flatten() {
            strings_without_a_rule(doc, option, at, seen, found);
        }
    }
}

/// The rules the hub enforces are declared (issue 14: schemathesis found them missing): ranges,
/// lengths, list items, the metric names, and no NUL in any string of a request. And a whole
/// number written with a fraction, an integer to JSON Schema, is taken as one.
async fn the_document_declares_what_the_hub_enforces(hub: &TestHub) {
    let doc = hub.request(Method::GET, "/api/openapi.json", &[], None).await.body;
    let schemas = &doc["components"]["schemas"];
    let range = |schema: &str, field: &str| {
        let property = &schemas[schema]["properties"][field];
        (property["minimum"].as_i64(), property["maximum"].as_i64())
    };
    assert_eq!(range("ThresholdsUpdate", "server_offline_seconds"), (Some(30), None));
    assert_eq!(range("ThresholdsUpdate", "service_grace_seconds"), (Some(0), Some(3600)));
    assert_eq!(range("MetricThresholdUpdate", "high_percent"), (Some(0), Some(100)));
    assert_eq!(range("MetricThresholdUpdate", "hysteresis_percent"), (Some(0), Some(50)));
    assert_eq!(range("CooldownsUpdate", "critical_minutes"), (Some(5), Some(1440)));
    assert_eq!(range("CooldownsUpdate", "high_minutes"), (Some(15), Some(1440)));
    assert_eq!(range("NewServiceBody", "grace_seconds"), (Some(0), Some(3600)));
    assert_eq!(range("ServiceUpdateBody", "grace_seconds"), (Some(0), Some(3600)));
    assert_eq!(range("HeartbeatRequest", "updates_available"), (Some(0), None));
    assert_eq!(range("Metrics", "cpu_percent"), (Some(0), Some(100)));
    assert_eq!(range("Metrics", "uptime_seconds"), (Some(0), None));
    assert_eq!(range("CpuInfo", "cpu_cores"), (Some(1), Some(1024)));
    assert_eq!(range("FilesystemReport", "percent"), (Some(0), Some(100)));
    assert_eq!(schemas["ServiceReport"]["properties"]["status"]["pattern"], "^(running|stopped|failed|unknown)$");
    let depends_on = &schemas["ServerUpdate"]["properties"]["depends_on"];
    assert_eq!((depends_on["minLength"].as_u64(), depends_on["maxLength"].as_u64()), (Some(1), Some(100)));
    assert_eq!(schemas["TagsBody"]["properties"]["tags"]["items"]["pattern"], homelab_hub::service::tags::TAG_PATTERN);
    let services = &schemas["CreateTokenRequest"]["properties"]["monitored_services"];
    let item = services["items"].clone();
    let item = if item.is_null() { services["oneOf"][1]["items"].clone() } else { item };
    assert_eq!((item["minLength"].as_u64(), item["maxLength"].as_u64()), (Some(1), Some(255)), "{services}");
    let series = &doc["paths"]["/api/v1/servers/{server_id}/metrics/series"]["get"]["parameters"];
    let metrics = series.as_array().unwrap().iter().find(|p| p["name"] == "metrics").unwrap();
    assert_eq!(metrics["schema"]["pattern"], homelab_hub::api::document::metrics_pattern());
    for kind in homelab_core::history::MetricKind::ALL {
        assert!(metrics["schema"]["pattern"].as_str().unwrap().contains(kind.as_str()), "{kind:?}");
    }

    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let at = format!("{method} {path}");
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap();
                strings_without_a_rule(
                    &doc,
                    &parameter["schema"],
                    &format!("{at} {name}"),
                    &mut Vec::new(),
                    &mut found,
                );
            }
            if let Some(body) = operation["requestBody"]["content"]["application/json"].get("schema") {
                strings_without_a_rule(&doc, body, &format!("{at} body"), &mut Vec::new(), &mut found);
            }
        }
    }
    assert!(found.is_empty(), "strings a request may hold without a rule refusing NUL: {found:#?}");

    let (status, body) = hub.put("/api/v1/config/thresholds", json!({"server_offline_seconds": 300.0})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(hub.get("/api/v1/config/thresholds").await.1["server_offline_seconds"], 300);
    let (status, body) = hub.put("/api/v1/config/thresholds", json!({"server_offline_seconds": 300.5})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

on_both_backends!(
    real_answers_match_the_document,
    the_document_is_well_formed,
    the_document_declares_what_the_hub_enforces
);
