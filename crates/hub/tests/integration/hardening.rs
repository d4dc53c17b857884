//! Hostile input and hostile clients (issue 17): what the hub cannot store is refused naming the
//! field, on both backends, and nothing of a refused request is kept.
use crate::common;

use common::{TestHub, heartbeat_body, start_time};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The `loc` of every error of a 422, as dotted names without the root (`os_info.kernel`).
fn fields(body: &Value) -> Vec<String> {
    body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("not a validation error: {body}"))
        .iter()
        .map(|e| {
            let loc = e["loc"].as_array().unwrap();
            let mut name = loc[0].as_str().unwrap().to_owned();
            for segment in &loc[1..] {
                match segment {
                    Value::Number(n) => name.push_str(&format!("[{n}]")),
                    other => name.push_str(&format!(".{}", other.as_str().unwrap())),
                }
            }
            name
        })
        .collect()
}

/// A NUL in any stored string of a heartbeat is a 422 naming that field on both backends (it
/// was a 500 on PostgreSQL and stored on SQLite), and nothing of it is kept.
async fn nul_in_a_heartbeat_is_refused_naming_the_field(hub: &TestHub) {
    let at = start_time();
    let (status, _) = hub.heartbeat(heartbeat_body("nas", at, 10.0)).await;
    assert_eq!(status, StatusCode::OK);
    let before = hub.get("/api/v1/servers/nas").await.1;

    let nul = "a\u{0}b";
    let mut body = heartbeat_body("nas", at + chrono::Duration::minutes(1), 99.0);
    body["hostname"] = nul.into();
    body["os_info"]["distribution"] = nul.into();
    body["cpu_info"]["cpu_model"] = nul.into();
    body["services"][0]["name"] = nul.into();
    body["filesystems"][1]["mount_point"] = nul.into();
    body["network_interfaces"][0]["name"] = nul.into();
    body["packages"] =
        json!([{"name": nul, "current_version": "1", "new_version": "2", "repository": "main", "is_security": false}]);
    let (status, reply) = hub.heartbeat(body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    let mut named = fields(&reply);
    named.sort();
    assert_eq!(
        named,
        [
            "body.cpu_info.cpu_model",
            "body.filesystems[1].mount_point",
            "body.hostname",
            "body.network_interfaces[0].name",
            "body.os_info.distribution",
            "body.packages[0].name",
            "body.services[0].name",
        ]
    );
    assert_eq!(reply["detail"][0]["type"], "string_nul_character");
    assert_eq!(hub.get("/api/v1/servers/nas").await.1, before, "nothing of the refused heartbeat was stored");

    // An escaped backslash followed by `u0000` is not a NUL and is kept as sent.
    let mut body = heartbeat_body("nas", at + chrono::Duration::minutes(2), 20.0);
    body["os_info"]["kernel"] = "6.1\\u0000".into();
    let (status, reply) = hub.heartbeat(body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(hub.get("/api/v1/servers/nas").await.1["kernel_version"], "6.1\\u0000");
}

/// Other bodies, path ids and query parameters holding a NUL: 422 naming them, never a 500.
async fn nul_in_other_input_is_refused_naming_the_field(hub: &TestHub) {
    hub.create_server(json!({"id": "nas", "hostname": "nas.lan"})).await;
    let (status, reply) = hub.put("/api/v1/servers/nas", json!({"display_name": "x\u{0}"})).await;
    assert_eq!((status, fields(&reply)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["body.display_name".to_owned()]));
    let (status, reply) = hub.post("/api/v1/agents/register/tokens", json!({"display_name": "\u{0}"})).await;
    assert_eq!((status, fields(&reply)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["body.display_name".to_owned()]));
    let (status, reply) = hub.post("/api/v1/servers", json!({"id": "x", "hostname": "h", "tags\u{0}": 1})).await;
    assert_eq!((status, fields(&reply)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["body.tags\u{0}".to_owned()]));

    for (path, field) in [
        ("/api/v1/servers/%00", "path.server_id"),
        ("/api/v1/servers/a%00b/metrics", "path.server_id"),
        ("/api/v1/agents/register/credentials/%00", "path.server_guid"),
        ("/api/v1/alerts?server_id=%00", "query.server_id"),
        ("/api/v1/servers/nas/metrics?range=%00", "query.range"),
    ] {
        let (status, reply) = hub.get(path).await;
        assert_eq!((status, fields(&reply)), (StatusCode::UNPROCESSABLE_ENTITY, vec![field.to_owned()]), "{path}");
    }
    // The dashboard's paths and forms reach the store's own refusal: a 4xx, never a 500.
    let cookie = hub.login_set_cookie().await;
    let session = cookie.split(';').next().unwrap().to_owned();
    for path in ["/servers/%00", "/ui/cards/%00", "/alerts/%00", "/ui/servers/%00/series?metric=cpu"] {
        let reply = hub.request(Method::GET, path, &[("cookie", &session)], None).await;
        assert!(reply.status.is_client_error(), "{path}: {} {}", reply.status, reply.text);
    }
    assert_eq!(hub.get("/api/v1/servers/nas").await.1["display_name"], Value::Null);
}

/// A body followed by anything but white space, or a list where an object belongs, is a 422
/// naming where; nothing of it is stored.
async fn bodies_are_read_strictly(hub: &TestHub) {
    let at = start_time();
    let body = serde_json::to_string(&heartbeat_body("nas", at, 10.0)).unwrap();
    for tail in ["garbage", "{}", "]", "\u{0}"] {
        let (status, reply) =
            hub.post_raw("/api/v1/agents/heartbeat", &[("X-API-Key", common::API_KEY)], format!("{body}{tail}")).await;
        assert_eq!(
            (status, &reply["detail"][0]["type"]),
            (StatusCode::UNPROCESSABLE_ENTITY, &json!("json_invalid")),
            "{tail}: {reply}"
        );
    }
    let (status, _) =
        hub.post_raw("/api/v1/agents/heartbeat", &[("X-API-Key", common::API_KEY)], format!("{body} \n")).await;
    assert_eq!(status, StatusCode::OK, "trailing white space is fine");

    let before = hub.get("/api/v1/config").await.1;
    let (status, reply) = hub.put("/api/v1/config/notifications", json!({"cooldowns": [30, 240]})).await;
    assert_eq!(
        (status, fields(&reply)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["body.cooldowns".to_owned()]),
        "{reply}"
    );
    let (status, reply) = hub.put("/api/v1/config/thresholds", json!({"cpu": [90, 95, 3]})).await;
    assert_eq!((status, fields(&reply)), (StatusCode::UNPROCESSABLE_ENTITY, vec!["body.cpu".to_owned()]), "{reply}");
    let (status, reply) = hub.post("/api/v1/servers", json!(["web", "web.lan"])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{reply}");
    let mut wrong = heartbeat_body("nas", at + chrono::Duration::minutes(1), 10.0);
    wrong["os_info"] = json!(["Debian", "12", "6.1", "x86_64"]);
    let (status, reply) = hub.heartbeat(wrong).await;
    assert_eq!(
        (status, fields(&reply)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["body.os_info".to_owned()]),
        "{reply}"
    );
    assert_eq!(hub.get("/api/v1/config").await.1, before);
    assert_eq!(hub.get("/api/v1/servers").await.1["total"], 1);
}

/// A heartbeat older than the history the hub keeps (1970, year 1) was answered 200 and stored
/// nowhere; it is a 422 naming `timestamp`. One from the far future already was.
async fn timestamps_the_hub_cannot_keep_are_refused(hub: &TestHub) {
    for at in ["1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "2023-01-01T00:00:00Z", "9999-12-31T23:59:59Z"] {
        let mut body = heartbeat_body("nas", start_time(), 10.0);
        body["timestamp"] = at.into();
        let (status, reply) = hub.heartbeat(body).await;
        assert_eq!(
            (status, fields(&reply)),
            (StatusCode::UNPROCESSABLE_ENTITY, vec!["body.timestamp".to_owned()]),
            "{at}: {reply}"
        );
    }
    let (_, servers) = hub.get("/api/v1/servers").await;
    assert_eq!(servers["total"], 0);
    let body = heartbeat_body("nas", start_time() - chrono::Duration::days(700), 10.0);
    assert_eq!(hub.heartbeat(body).await.0, StatusCode::OK, "inside the two years of hourly history");
}

/// Dashboard answers carry a content security policy and the usual hardening headers; the
/// browser tests (`web_e2e`) run the dashboard under that policy.
async fn dashboard_answers_carry_security_headers(hub: &TestHub) {
    let cookie = hub.login_set_cookie().await;
    let session = cookie.split(';').next().unwrap().to_owned();
    for path in ["/login", "/", "/alerts", "/settings", "/ui/grid"] {
        let reply = hub.request(Method::GET, path, &[("cookie", &session)], None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        let csp = reply.header("content-security-policy").unwrap_or_else(|| panic!("{path} has no CSP"));
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self';"), "{csp}");
        assert!(!csp.contains("unsafe-eval"), "scripts are never evaluated from strings: {csp}");
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(reply.header("referrer-policy"), Some("same-origin"), "{path}");
        assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{path}");
    }
}

/// When writes cannot happen (the SQLite writer has stopped, PostgreSQL's pool is closed) the
/// health check says so with a 503 instead of "healthy".
async fn health_answers_503_when_writes_cannot_happen(hub: &TestHub) {
    let (status, body) = hub.get_without_key("/api/v1/system/health").await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("healthy")));
    hub.store.close().await;
    let (status, body) = hub.get_without_key("/api/v1/system/health").await;
    assert_eq!(
        (status, &body["status"], &body["database"]),
        (StatusCode::SERVICE_UNAVAILABLE, &json!("degraded"), &json!("disconnected"))
    );
}

/// A client bound to its own loopback address, so that tests can speak from several addresses.
fn client_from(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address.parse::<std::net::IpAddr>().unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Wrong admin keys (API and dashboard login) from one address get 429 with `Retry-After` once
/// there were 20 in a minute, for 5 minutes and whatever that address sends; an agent on another
/// address is not slowed at all.
async fn failed_authentication_is_throttled_per_address(hub: &TestHub) {
    let (guesser, agent, browser) = (client_from("127.0.0.3"), client_from("127.0.0.2"), client_from("127.0.0.4"));
    for attempt in 1..=homelab_hub::throttle::MAX_FAILURES {
        let reply = guesser
            .get(hub.url("/api/v1/servers"))
            .header("X-API-Key", format!("guess-{attempt}"))
            .send()
            .await
            .unwrap();
        let expected = if attempt < homelab_hub::throttle::MAX_FAILURES {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(reply.status(), expected, "attempt {attempt}");
        // The agent on another address goes on at full speed.
        let beat = agent
            .post(hub.url("/api/v1/agents/heartbeat"))
            .header("X-API-Key", common::API_KEY)
            .json(&heartbeat_body("nas", start_time(), 10.0))
            .send()
            .await
            .unwrap();
        assert_eq!(beat.status(), StatusCode::OK);
    }
    let blocked = guesser.get(hub.url("/api/v1/servers")).header("X-API-Key", common::API_KEY).send().await.unwrap();
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS, "blocked whatever it sends: no oracle");
    assert_eq!(blocked.headers()["retry-after"], "300");
    hub.clock.advance(chrono::Duration::minutes(5));
    let freed = guesser.get(hub.url("/api/v1/servers")).header("X-API-Key", common::API_KEY).send().await.unwrap();
    assert_eq!(freed.status(), StatusCode::OK);

    let login = |key: String| {
        browser
            .post(hub.url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("api_key={key}"))
            .send()
    };
    for attempt in 1..homelab_hub::throttle::MAX_FAILURES {
        assert_eq!(login(format!("guess-{attempt}")).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
    let refused = login("guess".into()).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "300");
    assert_eq!(login(common::API_KEY.into()).await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
}

on_both_backends!(
    failed_authentication_is_throttled_per_address,
    health_answers_503_when_writes_cannot_happen,
    nul_in_a_heartbeat_is_refused_naming_the_field,
    nul_in_other_input_is_refused_naming_the_field,
    bodies_are_read_strictly,
    timestamps_the_hub_cannot_keep_are_refused,
    dashboard_answers_carry_security_headers,
);

/// 1 100 connections that send nothing, against the real hub binary at an open-file limit of
/// 1 024 (soft and hard, so it cannot raise it): the health check and a heartbeat are still
/// answered at once, because the connections idle for longest are closed to make room. Before,
/// every descriptor went to the silent connections and both timed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_do_not_lock_the_hub_out() {
    use common::process::{free_port, wait_until_ready};
    use std::process::{Command, Stdio};
    use tokio::io::AsyncReadExt;

    common::install_tls_provider();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let database_url = format!("sqlite://{}", dir.path().join("hub.db").display());
    let mut child = Command::new("sh")
        .args(["-c", "ulimit -n 1024 && exec \"$0\" serve --host 127.0.0.1 --port \"$1\" --no-local-agent"])
        .args([env!("CARGO_BIN_EXE_homelabcmd"), &port.to_string()])
        .env("HOMELAB_CMD_DATABASE_URL", &database_url)
        .env("HOMELAB_CMD_API_KEY", common::API_KEY)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build().unwrap();
    wait_until_ready(&client, &base, &mut child).await;

    let mut silent = Vec::new();
    for _ in 0..1100 {
        silent.push(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    let health = client.get(format!("{base}/api/v1/system/health")).send().await.expect("health must answer");
    assert_eq!(health.status(), StatusCode::OK);
    let heartbeat = client
        .post(format!("{base}/api/v1/agents/heartbeat"))
        .header("X-API-Key", common::API_KEY)
        .json(&heartbeat_body("nas", chrono::Utc::now(), 10.0))
        .send()
        .await
        .expect("a heartbeat must be answered");
    assert_eq!(heartbeat.status(), StatusCode::OK);
    // The oldest silent connection was closed by the hub (end of stream or a reset), not left open.
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), silent[0].read(&mut byte)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "the idlest connection is still open: {read:?}");
    drop(silent);
    child.kill().unwrap();
    child.wait().unwrap();
}
