//! Dashboard handlers over real HTTP: login and sessions, CSRF, pages, partials, the SSE stream
//! and the v1 metrics export.

use crate::common;

use std::time::{Duration, Instant};

use common::{API_KEY, Backend, TestHub, heartbeat_body};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, LOCATION, SET_COOKIE};

/// Logs in and returns `(cookie header value, CSRF token from the page)`.
async fn login(hub: &TestHub) -> (String, String) {
    let cookie = hub.login_set_cookie().await;
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP must not set Secure: {cookie}");
    let pair = cookie.split(';').next().unwrap().to_owned();
    let page = hub.client.get(hub.url("/")).header("cookie", &pair).send().await.unwrap().text().await.unwrap();
    let marker = "name=\"csrf-token\" content=\"";
    let start = page.find(marker).expect("csrf meta tag") + marker.len();
    let csrf = page[start..start + 64].to_owned();
    (pair, csrf)
}

async fn get_page(hub: &TestHub, cookie: &str, path: &str) -> (StatusCode, String) {
    let response = hub.client.get(hub.url(path)).header("cookie", cookie).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_need_a_session_and_htmx_gets_hx_redirect() {
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    for path in ["/", "/servers/web01", "/settings", "/ui/grid", "/ui/events"] {
        let response = hub.client.get(hub.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(response.headers()[LOCATION], "/login", "{path}");
    }
    let response = hub.client.get(hub.url("/ui/grid")).header("hx-request", "true").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["hx-redirect"], "/login");
    // A made-up session is no session.
    let response = hub.client.get(hub.url("/")).header("cookie", "hlc_session=00ff").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let login = hub.client.get(hub.url("/login")).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    assert!(login.text().await.unwrap().contains("Admin API key"));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_refused_and_secure_is_set_behind_https() {
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    let response = hub
        .client
        .post(hub.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("api_key=nope")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get(SET_COOKIE).is_none());
    assert!(response.text().await.unwrap().contains("not the hub&#39;s API key"));
    let response = hub
        .client
        .post(hub.url("/login"))
        .header("x-forwarded-proto", "https")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("api_key={API_KEY}"))
        .send()
        .await
        .unwrap();
    assert!(response.headers()[SET_COOKIE].to_str().unwrap().contains("; Secure"));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changes_without_the_csrf_token_are_forbidden() {
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    hub.heartbeat(heartbeat_body("web01", hub.now(), 20.0)).await;
    let (cookie, csrf) = login(&hub).await;
    for path in
        ["/ui/tokens", "/ui/servers/web01/maintenance", "/ui/servers/web01/edit", "/ui/servers/web01/power", "/logout"]
    {
        for token in [None, Some("0".repeat(64))] {
            let mut request = hub.client.post(hub.url(path)).header("cookie", &cookie).body("on=true");
            if let Some(token) = &token {
                request = request.header("x-csrf-token", token);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path} with {token:?}");
        }
    }
    assert!(!hub.store.get_server("web01").await.unwrap().is_paused, "nothing changed");
    // With the token, the same request goes through the API's handler.
    let response = hub
        .client
        .post(hub.url("/ui/servers/web01/maintenance"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("on=true")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("End maintenance"));
    assert!(hub.store.get_server("web01").await.unwrap().is_paused);
    // Logging out ends the session.
    let response = hub
        .client
        .post(hub.url("/logout"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.headers()["hx-redirect"], "/login");
    assert_eq!(get_page(&hub, &cookie, "/").await.0, StatusCode::SEE_OTHER);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_show_the_fleet_the_server_and_tokens() {
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    hub.heartbeat(heartbeat_body("web01", hub.now(), 20.0)).await;
    hub.heartbeat(heartbeat_body("nas", hub.now(), 97.0)).await;
    let (cookie, csrf) = login(&hub).await;
    let (status, fleet) = get_page(&hub, &cookie, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(fleet.contains("id=\"card-web01\"") && fleet.contains("id=\"card-nas\""));
    assert!(fleet.contains("sse-connect=\"/ui/events\""));
    // 97 % CPU is over the default 85 %: warning, told by shape and text as well as colour.
    assert!(fleet.contains("data-status=\"warning\"") && fleet.contains("▲</span> Warning"));
    assert!(!fleet.contains("cdn") && !fleet.contains("https://"), "nothing from the internet");

    let (status, detail) = get_page(&hub, &cookie, "/servers/web01").await;
    assert_eq!(status, StatusCode::OK);
    assert!(detail.contains("/srv") && detail.contains("eth0") && detail.contains("uPlot.iife.min.js"));
    assert_eq!(get_page(&hub, &cookie, "/servers/nope").await.0, StatusCode::NOT_FOUND);

    // Edit through the API's validation: a bad machine type is explained, a good one saved.
    let post = |path: &str, body: &str| {
        hub.client
            .post(hub.url(path))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .header("hx-request", "true")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
    };
    let text =
        post("/ui/servers/web01/edit", "display_name=Web&machine_type=toaster").await.unwrap().text().await.unwrap();
    assert!(text.contains("field-error") && text.contains("machine_type"), "{text}");
    let text = post("/ui/servers/web01/edit", "display_name=Web+one&machine_type=workstation").await.unwrap();
    assert!(text.text().await.unwrap().contains("Saved."));
    let server = hub.store.get_server("web01").await.unwrap();
    assert_eq!(
        (server.display_name.as_deref(), server.machine_type),
        (Some("Web one"), homelab_core::status::MachineType::Workstation)
    );
    // The machine it sits behind: picked from the fleet, checked like the API.
    assert!(detail.contains("name=\"depends_on\"") && detail.contains("<option value=\"nas\""), "{detail}");
    let text = post("/ui/servers/web01/edit", "machine_type=server&depends_on=web01").await.unwrap();
    let text = text.text().await.unwrap();
    assert!(text.contains("field-error") && text.contains("cannot depend on itself"), "{text}");
    let text = post("/ui/servers/web01/edit", "machine_type=server&depends_on=nas").await.unwrap();
    assert!(text.text().await.unwrap().contains("<option value=\"nas\" selected>"));
    assert_eq!(hub.store.get_server("web01").await.unwrap().depends_on.as_deref(), Some("nas"));

    // Power: a category chosen by hand, watts blank for the category's; refusals name the field;
    // "detect" gives a chosen category back to the heartbeats and leaves a detected one alone.
    let power = |category: &str, idle: &str, tdp: &str| {
        post("/ui/servers/web01/power", &format!("machine_category={category}&idle_watts={idle}&tdp_watts={tdp}"))
    };
    let reply = power("nas", "", "").await.unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    let text = reply.text().await.unwrap();
    assert!(
        text.contains("Power settings saved.")
            && text.contains("id=\"power-estimate\" hx-swap-oob=\"true\">NAS/Home Server (user)"),
        "{text}"
    );
    let server = hub.store.get_server("web01").await.unwrap();
    assert_eq!(
        (server.machine_category.as_deref(), server.machine_category_source.as_deref()),
        (Some("nas"), Some("user"))
    );
    assert_eq!((server.idle_watts, server.tdp_watts), (None, None));
    for (idle, tdp, says) in [
        ("-5", "", "idle watts: should be greater than or equal to 0"),
        ("", "9 kW", "full-load watts: should be a whole number"),
    ] {
        let reply = power("nas", idle, tdp).await.unwrap();
        assert_eq!(reply.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let text = reply.text().await.unwrap();
        assert!(text.contains("field-error") && text.contains(says), "{text}");
    }
    assert_eq!(power("", "", "").await.unwrap().status(), StatusCode::OK);
    let server = hub.store.get_server("web01").await.unwrap();
    assert_eq!((server.machine_category, server.machine_category_source), (None, None));
    hub.heartbeat(heartbeat_body("web01", hub.now() + chrono::Duration::seconds(30), 20.0)).await;
    let detected = hub.store.get_server("web01").await.unwrap().machine_category;
    assert!(detected.is_some(), "the heartbeat infers it again");
    assert_eq!(power("", "5", "40 W").await.unwrap().status(), StatusCode::OK);
    let server = hub.store.get_server("web01").await.unwrap();
    assert_eq!((server.machine_category, server.machine_category_source.as_deref()), (detected, Some("auto")));
    assert_eq!((server.idle_watts, server.tdp_watts), (Some(5), Some(40)));

    // Tokens: created (install command shown once), listed, revoked.
    let text =
        post("/ui/tokens", "display_name=Pi&mode=readonly&expiry_minutes=15").await.unwrap().text().await.unwrap();
    assert!(text.contains("/api/v1/agents/register/install.sh | sudo bash -s -- --token hlh_rt_"), "{text}");
    let text = post("/ui/tokens", "mode=readonly&expiry_minutes=999").await.unwrap().text().await.unwrap();
    assert!(
        text.contains("field-error") && text.contains("expiry minutes: should be less than or equal to 60"),
        "{text}"
    );
    let (_, settings) = get_page(&hub, &cookie, "/settings").await;
    let start = settings.find("/ui/tokens/").unwrap() + "/ui/tokens/".len();
    let id: String = settings[start..].chars().take_while(char::is_ascii_digit).collect();
    let text = post(&format!("/ui/tokens/{id}/revoke"), "").await.unwrap().text().await.unwrap();
    assert!(text.contains("No pending tokens."), "{text}");
    hub.stop().await;
}

/// Reads an SSE response until `needle` appears or the deadline passes.
async fn read_until(response: &mut reqwest::Response, needle: &str, deadline: Instant) -> Option<String> {
    let mut seen = String::new();
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, response.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                seen.push_str(&String::from_utf8_lossy(&chunk));
                if seen.contains(needle) {
                    return Some(seen);
                }
            }
            _ => break,
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_reaches_open_dashboards_within_a_second() {
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    hub.heartbeat(heartbeat_body("web01", hub.now(), 20.0)).await;
    let (cookie, _) = login(&hub).await;
    let mut events = hub.client.get(hub.url("/ui/events")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(events.headers()[CONTENT_TYPE], "text/event-stream");
    let sent = Instant::now();
    hub.heartbeat(heartbeat_body("web01", hub.now(), 42.0)).await;
    let seen =
        read_until(&mut events, "event: summary", sent + Duration::from_secs(1)).await.expect("events within 1 s");
    assert!(seen.contains("event: card-web01") && seen.contains("42 %"), "{seen}");
    // A new machine makes the grid reload.
    hub.heartbeat(heartbeat_body("newbox", hub.now(), 5.0)).await;
    assert!(read_until(&mut events, "event: fleet", Instant::now() + Duration::from_secs(1)).await.is_some());
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_are_embedded_and_cached_for_a_year() {
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    for name in
        ["htmx.min.js", "htmx-ext-sse.min.js", "uPlot.iife.min.js", "uPlot.min.css", "app.css", "app.js", "charts.js"]
    {
        let response = hub.client.get(hub.url(&format!("/assets/{name}?v=1"))).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        assert_eq!(response.headers()["cache-control"], "public, max-age=31536000, immutable");
        let etag = response.headers()["etag"].clone();
        let again =
            hub.client.get(hub.url(&format!("/assets/{name}"))).header("if-none-match", etag).send().await.unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{name}");
    }
    assert_eq!(hub.client.get(hub.url("/assets/nope.js")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_gives_csv_and_json_of_the_range() {
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    let start = hub.now();
    for minute in 0..3 {
        hub.heartbeat(heartbeat_body("web01", start + chrono::Duration::minutes(minute), 10.0 + minute as f64)).await;
    }
    hub.clock.advance(chrono::Duration::minutes(3));
    let response = hub
        .client
        .get(hub.url("/api/v1/servers/web01/metrics/export?range=24h"))
        .header("X-API-Key", API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_DISPOSITION], "attachment; filename=\"web01-metrics-24h-2026-01-19.csv\"");
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "timestamp,cpu_percent,memory_percent,disk_percent");
    assert_eq!(lines[1], "2026-01-19T12:00:00.000Z,10,62.5,78.3");
    assert_eq!(lines.len(), 4);

    let (status, json) = hub.get("/api/v1/servers/web01/metrics/export?range=30d&format=json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["server_id"], "web01");
    assert_eq!(json["range"], "30d");
    let point = &json["data_points"][0];
    assert_eq!(point["cpu_min"], 10.0);
    assert_eq!(point["cpu_max"], 12.0);
    assert_eq!(point["cpu_avg"], 11.0);

    assert_eq!(hub.get("/api/v1/servers/web01/metrics/export").await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        hub.get("/api/v1/servers/web01/metrics/export?range=24h&format=xml").await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(hub.get("/api/v1/servers/nope/metrics/export?range=24h").await.0, StatusCode::NOT_FOUND);
    assert_eq!(hub.get_without_key("/api/v1/servers/web01/metrics/export?range=24h").await.0, StatusCode::UNAUTHORIZED);
    hub.stop().await;
}

/// Figures for BENCHMARKS.md, not a pass/fail check: `cargo test -p homelab-hub --release
/// --test integration web_handlers::fleet_page_figures -- --ignored --nocapture`. The fleet carries tags, open
/// alerts (banner) and pending breaches, so the page does all its work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run by hand"]
async fn fleet_page_figures() {
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    let (cookie, _) = login(&hub).await;
    let mut seeded = 0;
    for fleet in [100usize, 1000] {
        // An hour of one-minute heartbeats per machine (a full sparkline), 32 machines at a time.
        use futures_util::StreamExt;
        futures_util::stream::iter(seeded..fleet)
            .map(|n| {
                let hub = &hub;
                async move {
                    let id = format!("srv{n:04}");
                    for minute in (0..60).rev() {
                        // One machine in ten runs hot: its CPU breach is pending (under 180 s old).
                        let cpu = if n % 10 == 0 && minute < 2 { 97.0 } else { 30.0 + (minute % 5) as f64 };
                        hub.heartbeat(heartbeat_body(&id, hub.now() - chrono::Duration::minutes(minute), cpu)).await;
                    }
                }
            })
            .buffer_unordered(32)
            .collect::<Vec<()>>()
            .await;
        // One in twenty has a full disk: an open alert for the banner and the counts.
        for n in (seeded..fleet).filter(|n| n % 20 == 5) {
            disk_alert(&hub, &format!("srv{n:04}")).await;
        }
        seeded = fleet;
        // Every machine carries two tags (one shared by a tenth of the fleet), as a tidy homelab would.
        futures_util::stream::iter(0..fleet)
            .map(|i| {
                let store = &hub.store;
                async move {
                    let tags = [format!("rack-{}", i % 10), "prod".to_owned()];
                    store.set_server_tags(&format!("srv{i:04}"), &tags).await.unwrap();
                }
            })
            .buffer_unordered(32)
            .collect::<Vec<()>>()
            .await;
        // The first view reads every sparkline; later ones reuse them until the next heartbeat.
        let started = Instant::now();
        assert_eq!(get_page(&hub, &cookie, "/").await.0, StatusCode::OK);
        let cold = started.elapsed();
        let mut times = Vec::new();
        let mut html_bytes = 0;
        for _ in 0..5 {
            let started = Instant::now();
            let (status, html) = get_page(&hub, &cookie, "/").await;
            times.push(started.elapsed());
            assert_eq!(status, StatusCode::OK);
            html_bytes = html.len();
        }
        times.sort();
        // reqwest is built without decompression, so this counts the bytes on the wire.
        let gzipped = hub
            .client
            .get(hub.url("/"))
            .header("cookie", &cookie)
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .len();
        let (_, open) = hub.get("/api/v1/alerts?status=open&limit=1").await;
        let (_, pending) = hub.get("/api/v1/alerts/pending").await;
        println!(
            "fleet page, {fleet} servers ({} open alerts, {} pending breaches): first view {cold:?}, then \
             median {:?}, best {:?}, HTML {html_bytes} bytes ({gzipped} gzipped)",
            open["total"], pending["total"], times[2], times[0]
        );
    }
    let mut asset_bytes = 0;
    for name in ["app.css", "app.js", "htmx.min.js", "htmx-ext-sse.min.js", "favicon.svg"] {
        let response =
            hub.client.get(hub.url(&format!("/assets/{name}"))).header("accept-encoding", "gzip").send().await.unwrap();
        asset_bytes += response.bytes().await.unwrap().len();
    }
    println!("fleet page first load: assets {asset_bytes} bytes gzipped (plus the HTML above)");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_are_listed_acknowledged_and_resolved_through_the_api_rules() {
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    for id in ["nas", "vault"] {
        let mut body = heartbeat_body(id, hub.now(), 20.0);
        body["metrics"]["disk_percent"] = serde_json::json!(97.0);
        body["filesystems"][0]["percent"] = serde_json::json!(97.0);
        assert_eq!(hub.heartbeat(body).await.0, StatusCode::OK);
    }
    let (cookie, csrf) = login(&hub).await;
    let (status, page) = get_page(&hub, &cookie, "/alerts?status=open").await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<String> = page
        .match_indices("id=\"alert-")
        .map(|(at, m)| page[at + m.len()..].chars().take_while(char::is_ascii_digit).collect::<String>())
        .filter(|id| !id.is_empty())
        .collect();
    assert_eq!(ids.len(), 2, "{page}");
    let post = |path: String, body: String| {
        hub.client
            .post(hub.url(&path))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let text =
        post(format!("/ui/alerts/{}/acknowledge", ids[0]), "status=".into()).await.unwrap().text().await.unwrap();
    assert!(text.contains("acknowledged."), "{text}");
    let (_, alert) = hub.get(&format!("/api/v1/alerts/{}", ids[0])).await;
    assert_eq!(alert["status"], "acknowledged");
    let text = post("/ui/alerts/bulk".into(), format!("action=resolve&ids={}&ids={}&status=open", ids[0], ids[1]))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("2 alerts resolved.") && text.contains("No alerts match."), "{text}");
    let text = post("/ui/alerts/bulk".into(), "action=resolve".into()).await.unwrap().text().await.unwrap();
    assert!(text.contains("Tick at least one alert first."));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_show_the_api_validation_messages() {
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    let (cookie, csrf) = login(&hub).await;
    let post = |body: &str| {
        hub.client
            .post(hub.url("/ui/thresholds"))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
    };
    let text = post("cpu_high=96&cpu_critical=90").await.unwrap().text().await.unwrap();
    assert!(text.contains("field-error"), "{text}");
    let text = post("cpu_high=lots").await.unwrap().text().await.unwrap();
    assert!(text.contains("enter a whole number"), "{text}");
    let text = post("cpu_high=70&cpu_critical=90&server_offline_seconds=240").await.unwrap().text().await.unwrap();
    assert!(text.contains("Saved:"), "{text}");
    let (_, thresholds) = hub.get("/api/v1/config/thresholds").await;
    assert_eq!(
        (thresholds["cpu"]["high_percent"].as_i64(), thresholds["server_offline_seconds"].as_i64()),
        (Some(70), Some(240))
    );
    let (_, settings) = get_page(&hub, &cookie, "/settings").await;
    assert!(settings.contains("value=\"70\""));
    // Temperature levels per sensor kind, refused by the same rule (critical above high).
    assert!(settings.contains("name=\"temp_drive_high\" value=\"60\""), "{settings}");
    let text = post("temp_drive_high=75").await.unwrap().text().await.unwrap();
    assert!(text.contains("temperature.drive.critical_celsius") && text.contains("field-error"), "{text}");
    let text = post("temp_drive_high=55&temp_gpu_critical=99&temp_sustained=60").await.unwrap().text().await.unwrap();
    assert!(text.contains("Saved:") && text.contains("temperature.drive.high_celsius"), "{text}");
    let (_, thresholds) = hub.get("/api/v1/config/thresholds").await;
    assert_eq!(
        (&thresholds["temperature"]["drive"]["high_celsius"], &thresholds["temperature"]["gpu"]["critical_celsius"]),
        (&serde_json::json!(55), &serde_json::json!(99))
    );
    assert_eq!(thresholds["temperature"]["sustained_seconds"], 60);
    hub.stop().await;
}

/// Reminder intervals and the notify-on switches are the API's notification settings, refused
/// by the same rules (field named, 422) and saved through the same service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_and_notify_switches_are_edited_through_the_api_rules() {
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    let b = Browser::login(&hub).await;
    let (_, page) = b.get("/settings").await;
    assert!(page.contains("id=\"reminders\"") && page.contains("name=\"critical_minutes\" value=\"30\""), "{page}");
    assert!(page.contains("name=\"notify_on_high\" value=\"true\" checked"), "{page}");

    let (status, text) = b.post("/ui/notification-settings", "critical_minutes=1&high_minutes=240").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text.contains("cooldowns.critical_minutes") && text.contains("field-error"), "{text}");
    let (status, text) = b.post("/ui/notification-settings", "critical_minutes=soon").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text.contains("critical minutes: enter a whole number"), "{text}");
    let (_, stored) = hub.get("/api/v1/config/notifications").await;
    assert_eq!(stored["cooldowns"]["critical_minutes"], 30, "a refusal saves nothing");

    let form = "critical_minutes=10&high_minutes=60&notify_on_critical=true&notify_on_remediation=true\
                &notify_on_auto_resolve=true&notify_on_action_failure=true";
    let (status, text) = b.post("/ui/notification-settings", form).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("Saved: cooldowns.critical_minutes, cooldowns.high_minutes, notify_on_high."), "{text}");
    let (_, stored) = hub.get("/api/v1/config/notifications").await;
    assert_eq!(stored["cooldowns"], serde_json::json!({"critical_minutes": 10, "high_minutes": 60}));
    assert_eq!((stored["notify_on_high"].as_bool(), stored["notify_on_critical"].as_bool()), (Some(false), Some(true)));
    let (_, text) = b.post("/ui/notification-settings", form).await;
    assert!(text.contains("Nothing changed."), "{text}");
    hub.stop().await;
}

/// A logged-in form client: posts with the session cookie, the CSRF token and the htmx header.
struct Browser<'a> {
    hub: &'a TestHub,
    cookie: String,
    csrf: String,
}

impl Browser<'_> {
    async fn login(hub: &TestHub) -> Browser<'_> {
        let (cookie, csrf) = login(hub).await;
        Browser { hub, cookie, csrf }
    }

    async fn post(&self, path: &str, body: &str) -> (StatusCode, String) {
        let response = self
            .hub
            .client
            .post(self.hub.url(path))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .header("hx-request", "true")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        get_page(self.hub, &self.cookie, path).await
    }
}

/// Fires a critical disk alert on `id` and returns the alert's id.
async fn disk_alert(hub: &TestHub, id: &str) -> i64 {
    let mut body = heartbeat_body(id, hub.now(), 20.0);
    body["metrics"]["disk_percent"] = serde_json::json!(97.0);
    body["filesystems"][0]["percent"] = serde_json::json!(97.0);
    assert_eq!(hub.heartbeat(body).await.0, StatusCode::OK);
    let (_, open) = hub.get(&format!("/api/v1/alerts?status=open&server_id={id}")).await;
    open["alerts"][0]["id"].as_i64().expect("an open alert")
}

/// Steps the dispatcher (everything due at the hub's time is sent), then reads the delivery log
/// through the API and checks it with `done`.
async fn deliveries_after_step(hub: &TestHub, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    hub.step_dispatcher().await;
    let (_, list) = hub.get("/api/v1/notifications/deliveries").await;
    assert!(done(&list), "the delivery log is not as expected: {list}");
    list
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_pages_need_a_session_and_new_actions_the_csrf_token() {
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    hub.heartbeat(heartbeat_body("web01", hub.now(), 20.0)).await;
    let alert = disk_alert(&hub, "nas").await;
    for path in [
        "/settings/notifications".to_owned(),
        format!("/alerts/{alert}"),
        format!("/ui/alerts/{alert}/detail"),
        "/ui/deliveries".to_owned(),
        "/ui/channels".to_owned(),
        "/ui/channels/hook/edit".to_owned(),
        "/ui/servers/web01/services".to_owned(),
        "/ui/servers/web01/alerts".to_owned(),
    ] {
        let response = hub.client.get(hub.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
    }
    let (cookie, _) = login(&hub).await;
    for path in [
        "/ui/channels",
        "/ui/channels/hook",
        "/ui/channels/hook/delete",
        "/ui/channels/hook/test",
        "/ui/deliveries/1/retry",
        "/ui/deliveries/1/discard",
        "/ui/servers/web01/tags",
        "/ui/servers/web01/services",
        "/ui/servers/web01/services/plex",
        "/ui/servers/web01/services/plex/delete",
    ] {
        for token in [None, Some("0".repeat(64))] {
            let mut request = hub
                .client
                .post(hub.url(path))
                .header("cookie", &cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("id=hook&kind=webhook&url=http://127.0.0.1:9/x&tags=prod&service_name=plex&enabled=false");
            if let Some(token) = &token {
                request = request.header("x-csrf-token", token);
            }
            assert_eq!(request.send().await.unwrap().status(), StatusCode::FORBIDDEN, "{path} with {token:?}");
        }
    }
    assert_eq!(hub.get("/api/v1/notifications/channels").await.1["total"], 0, "no channel was created");
    assert_eq!(hub.get("/api/v1/servers/web01/tags").await.1["tags"], serde_json::json!([]));
    assert_eq!(hub.get("/api/v1/servers/web01/services").await.1["total"], 0);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_are_added_edited_tested_and_deleted_with_secrets_masked() {
    use common::receiver::{Answer, FakeReceiver};
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    let receiver = FakeReceiver::start(&[]).await;
    let b = Browser::login(&hub).await;
    let url = receiver.url.replace('/', "%2F").replace(':', "%3A");

    // Refused input: 422 (or 409), the form shown back as typed, each field named.
    let (status, text) = b.post("/ui/channels", "id=Bad+Id&kind=slack&webhook_url=nope&enabled=true").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert!(text.contains("id: should match") && text.contains("webhook url: should be an http"), "{text}");
    assert!(text.contains("value=\"Bad Id\""), "the form keeps what was typed: {text}");
    let (status, text) = b.post("/ui/channels", "id=mail&kind=email&smtp_port=smtp").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text.contains("smtp port: enter a port number"), "{text}");
    let (status, text) = b.post("/ui/channels", "id=x&kind=pager").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text.contains("kind: choose one of"), "{text}");
    let (status, _) = b.post("/ui/channels", "id=x&kind=slack&min_severity=urgent&webhook_url=http://a/b").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Added through the API's handler; the secret and the URL path never come back.
    let body = format!(
        "id=hook&kind=webhook&url={url}&secret=s3cret&min_severity=high&enabled=true&firing=true&resolutions=true"
    );
    let (status, text) = b.post("/ui/channels", &body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("Channel hook added") && text.contains("id=\"channel-hook\""), "{text}");
    let (_, page) = b.get("/settings/notifications").await;
    assert!(!page.contains("s3cret") && !page.contains("/hook\""), "secrets leak: {page}");
    let (status, _) = b.post("/ui/channels", &body).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Edit: the masked secret and URL are sent back as shown and kept.
    let (status, form) = b.get("/ui/channels/hook/edit").await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("value=\"********\"") && form.contains("Edit channel hook"), "{form}");
    let masked_url = format!("{}/…", receiver.url.rsplit_once('/').unwrap().0);
    let body = format!("kind=webhook&url={masked_url}&secret=********&min_severity=critical&enabled=true&firing=true");
    let (status, text) = b.post("/ui/channels/hook", &body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("Channel hook saved."), "{text}");
    let stored = hub.store.get_channel("hook").await.unwrap();
    assert_eq!(stored.settings["secret"], "s3cret");
    assert_eq!(stored.settings["url"], receiver.url.as_str());
    assert_eq!(stored.min_severity, homelab_core::alerts::Severity::Critical);
    assert!(!stored.events.reminders);
    assert_eq!(b.get("/ui/channels/nope/edit").await.0, StatusCode::NOT_FOUND);
    // Changing the kind with the old, masked URL left in is refused rather than saved masked.
    let (status, text) =
        b.post("/ui/channels/hook", &format!("kind=slack&webhook_url={masked_url}&enabled=true")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text.contains("webhook url: enter it in full"), "{text}");
    assert_eq!(hub.store.get_channel("hook").await.unwrap().kind, "webhook");

    // Send test: a real request reaches the receiver, and its answer is shown on the row.
    let (status, text) = b.post("/ui/channels/hook/test", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("Test to hook: Test message sent successfully"), "{text}");
    assert_eq!(receiver.received().len(), 1);
    receiver.set_down(true);
    let (_, text) = b.post("/ui/channels/hook/test", "").await;
    assert!(text.contains("Test to hook failed: HTTP 503"), "{text}");
    receiver.set_down(false);
    let _ = Answer(200, None);
    assert_eq!(b.post("/ui/channels/nope/test", "").await.0, StatusCode::NOT_FOUND);

    // Delete.
    let (status, text) = b.post("/ui/channels/hook/delete", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("Channel hook deleted.") && text.contains("No channels yet"), "{text}");
    assert_eq!(b.post("/ui/channels/hook/delete", "").await.0, StatusCode::NOT_FOUND);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_log_shows_failures_and_retries_and_discards_them() {
    use common::receiver::{Answer, FakeReceiver};
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    // The first send is refused for good (404): the delivery is dead-lettered at once.
    let receiver = FakeReceiver::start(&[Answer(404, None)]).await;
    let (status, _) = hub
        .post(
            "/api/v1/notifications/channels",
            serde_json::json!({"id": "hook", "kind": "webhook", "url": receiver.url}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let alert = disk_alert(&hub, "nas").await;
    let list = deliveries_after_step(&hub, |l| l["deliveries"][0]["status"] == "dead").await;
    let id = list["deliveries"][0]["id"].as_i64().unwrap();
    assert_eq!(list["deliveries"][0]["alert_id"], alert);

    let b = Browser::login(&hub).await;
    let (status, page) = b.get("/settings/notifications").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("id=\"delivery-{id}\"")) && page.contains("failed (gave up)"), "{page}");
    assert!(page.contains("receiver says 404") && page.contains(&format!("href=\"/alerts/{alert}\"")), "{page}");
    let (_, dead_only) = b.get("/ui/deliveries?status=dead").await;
    assert!(dead_only.contains(&format!("delivery-{id}")));
    let (_, delivered_only) = b.get("/ui/deliveries?status=delivered").await;
    assert!(!delivered_only.contains(&format!("delivery-{id}")));

    // Bad filters are the API's 422, naming the parameter.
    let (status, text) = b.get("/ui/deliveries?status=bogus").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text.contains("status:"), "{text}");
    let (status, text) = b.get("/ui/deliveries?offset=minus").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text.contains("offset:"), "{text}");

    // Retry: pending again, then delivered by the dispatcher (the receiver now accepts).
    let (status, text) = b.post(&format!("/ui/deliveries/{id}/retry"), "status=").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains(&format!("Delivery #{id} will be sent again now.")), "{text}");
    deliveries_after_step(&hub, |l| l["deliveries"][0]["status"] == "delivered").await;
    assert_eq!(receiver.received().len(), 1);
    // A delivered one can be neither retried nor discarded: 409 with the reason, not a 500.
    let (status, text) = b.post(&format!("/ui/deliveries/{id}/discard"), "").await;
    assert_eq!(status, StatusCode::CONFLICT, "{text}");
    assert!(text.contains(&format!("Delivery #{id}:")), "{text}");
    assert_eq!(b.post("/ui/deliveries/999999/retry", "").await.0, StatusCode::NOT_FOUND);
    let (status, text) = b.post("/ui/deliveries/abc/retry", "").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text.contains("delivery id: should be a whole number"), "{text}");
    assert_eq!(b.post(&format!("/ui/deliveries/{id}/explode"), "").await.0, StatusCode::NOT_FOUND);

    // Discard a pending one: a second alert while the receiver is down.
    receiver.set_down(true);
    disk_alert(&hub, "vault").await;
    // Past the channel's grouping window (it just sent), on the hub's manual clock.
    hub.clock.advance(chrono::Duration::minutes(2));
    let list = deliveries_after_step(&hub, |l| {
        l["total"] == 2
            && l["deliveries"][0]["status"] == "pending"
            && l["deliveries"][0]["attempts"].as_i64() > Some(0)
    })
    .await;
    let pending = list["deliveries"][0]["id"].as_i64().unwrap();
    let (_, log) = b.get("/ui/deliveries").await;
    assert!(log.contains("retrying, next") && log.contains("HTTP 503"), "{log}");
    let (status, text) = b.post(&format!("/ui/deliveries/{pending}/discard"), "").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let (_, list) = hub.get("/api/v1/notifications/deliveries?status=discarded").await;
    assert_eq!(list["deliveries"][0]["id"], pending);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_detail_shows_its_timeline_with_the_notifications_sent() {
    use common::receiver::FakeReceiver;
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    let receiver = FakeReceiver::start(&[]).await;
    hub.post(
        "/api/v1/notifications/channels",
        serde_json::json!({"id": "hook", "kind": "webhook", "url": receiver.url}),
    )
    .await;
    let alert = disk_alert(&hub, "nas").await;
    deliveries_after_step(&hub, |l| l["deliveries"][0]["status"] == "delivered").await;
    assert_eq!(receiver.received().len(), 1);

    let b = Browser::login(&hub).await;
    let (status, page) = b.get(&format!("/alerts/{alert}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("class=\"tl tl-fired sev-critical\"") && page.contains("Fired: "), "{page}");
    assert!(page.contains("<span class=\"chip\">hook</span>") && page.contains("delivered 2026-01-19"), "{page}");
    assert!(page.contains("Acknowledge") && page.contains("href=\"/servers/nas\""), "{page}");

    let (status, text) = b.post(&format!("/ui/alerts/{alert}/acknowledge"), "view=detail").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("✓ Acknowledged.") && text.contains("tl-acknowledged"), "{text}");
    hub.clock.advance(chrono::Duration::minutes(7));
    let (_, text) = b.post(&format!("/ui/alerts/{alert}/resolve"), "view=detail").await;
    assert!(text.contains("tl-resolved") && text.contains("Resolved by hand after 7 min"), "{text}");
    let (_, timeline) = hub.get(&format!("/api/v1/alerts/{alert}/timeline")).await;
    let kinds: Vec<&str> =
        timeline["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["fired", "acknowledged", "resolved"]);
    assert_eq!(timeline["entries"][0]["deliveries"][0]["status"], "delivered");
    assert_eq!(timeline["alert"]["status"], "resolved");

    assert_eq!(b.get("/alerts/999999").await.0, StatusCode::NOT_FOUND);
    assert_eq!(b.get("/alerts/abc").await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b.get("/ui/alerts/999999/detail").await.0, StatusCode::NOT_FOUND);
    assert_eq!(hub.get("/api/v1/alerts/abc/timeline").await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b.post("/ui/alerts/999999/resolve", "view=detail").await.0, StatusCode::NOT_FOUND);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_shows_open_alerts_pending_breaches_and_filters_by_tag() {
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    let (status, _) =
        hub.put("/api/v1/config/thresholds", serde_json::json!({"cpu": {"sustained_seconds": 300}})).await;
    assert_eq!(status, StatusCode::OK);
    hub.heartbeat(heartbeat_body("web01", hub.now(), 97.0)).await;
    let alert = disk_alert(&hub, "nas").await;
    let b = Browser::login(&hub).await;
    let (_, fleet) = b.get("/").await;
    assert!(
        fleet.contains("id=\"alert-banner\"") && fleet.contains(&format!("id=\"banner-alert-{alert}\"")),
        "{fleet}"
    );
    assert!(fleet.contains("1 open alert<"), "{fleet}");
    // web01's CPU is over the high level but has not lasted 300 s yet.
    let pending = &fleet[fleet.find("id=\"pending\"").unwrap()..];
    assert!(pending.contains("web01") && pending.contains("CPU") && pending.contains("data-left=\"300\""), "{pending}");
    assert!(pending.contains("5 min 00 s"), "{pending}");
    hub.clock.advance(chrono::Duration::seconds(100));
    hub.heartbeat(heartbeat_body("web01", hub.now(), 97.0)).await;
    let (_, fleet) = b.get("/").await;
    assert!(fleet.contains("data-left=\"200\""), "the time left counts down");

    // Tags through the API's rules; the card carries them for the filter.
    let (status, text) = b.post("/ui/servers/web01/tags", "tags=Prod%2C+%23rack-a").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("Tags saved.") && text.contains("value=\"prod rack-a\""), "{text}");
    assert_eq!(hub.get("/api/v1/servers/web01/tags").await.1["tags"], serde_json::json!(["prod", "rack-a"]));
    let (status, text) = b.post("/ui/servers/web01/tags", "tags=ok+b%40d").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text.contains("tags[1]: “b@d” is not a tag"), "{text}");
    assert_eq!(b.post("/ui/servers/nope/tags", "tags=x").await.0, StatusCode::NOT_FOUND);
    let (status, body) = hub.put("/api/v1/servers/web01/tags", serde_json::json!({"tags": ["UPPER"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], serde_json::json!(["body", "tags", 0]));
    let (_, fleet) = b.get("/").await;
    assert!(fleet.contains("data-tags=\" prod rack-a \"") && fleet.contains("#prod (1)"), "{fleet}");
    assert!(fleet.contains("href=\"/?tag=rack-a\""));

    // Newer, less severe alerts do not push the older critical one out of the banner.
    for n in 0..6 {
        let mut body = heartbeat_body(&format!("box{n}"), hub.now(), 20.0);
        body["metrics"]["disk_percent"] = serde_json::json!(90.0);
        body["filesystems"][0]["percent"] = serde_json::json!(90.0);
        assert_eq!(hub.heartbeat(body).await.0, StatusCode::OK);
    }
    let (_, fleet) = b.get("/").await;
    let banner = &fleet[fleet.find("id=\"alert-banner\"").unwrap()..fleet.find("id=\"pending\"").unwrap()];
    assert!(banner.contains("7 open alerts") && banner.contains("and 2 more"), "{banner}");
    let first_row = banner.find("<li class=\"sev-").map(|at| &banner[at..at + 60]).unwrap_or_default();
    assert!(first_row.contains("sev-critical") && first_row.contains(&format!("banner-alert-{alert}")), "{banner}");
    assert_eq!(banner.matches("<li class=\"sev-high\"").count(), 4);
    // Past one read's worth of open alerts (100), the banner reads per severity: still critical first.
    for n in 6..106 {
        let mut body = heartbeat_body(&format!("box{n}"), hub.now(), 20.0);
        body["metrics"]["disk_percent"] = serde_json::json!(90.0);
        body["filesystems"][0]["percent"] = serde_json::json!(90.0);
        hub.heartbeat(body).await;
    }
    let (_, fleet) = b.get("/").await;
    let banner = &fleet[fleet.find("id=\"alert-banner\"").unwrap()..fleet.find("id=\"pending\"").unwrap()];
    assert!(banner.contains("107 open alerts") && banner.contains("and 102 more"), "{banner}");
    assert!(banner.contains(&format!("<li class=\"sev-critical\" id=\"banner-alert-{alert}\">")), "{banner}");
    hub.stop().await;
}

/// The first view of the fleet reads every sparkline at once; each card still gets its own
/// machine's line, and a machine with no samples in the last hour gets none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_card_gets_its_own_sparkline() {
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    for (minute, cpus) in [(0, [0.0, 50.0]), (1, [50.0, 50.0]), (2, [100.0, 50.0])] {
        for (server, cpu) in ["alpha", "beta"].into_iter().zip(cpus) {
            hub.heartbeat(heartbeat_body(server, hub.now(), cpu)).await;
        }
        if minute < 2 {
            hub.clock.advance(chrono::Duration::minutes(1));
        }
    }
    hub.post("/api/v1/servers", serde_json::json!({"id": "gamma", "hostname": "gamma.lan"})).await;
    let b = Browser::login(&hub).await;
    let (_, page) = b.get("/").await;
    let card = |id: &str| {
        let start = page.find(&format!("id=\"card-{id}\"")).unwrap_or_else(|| panic!("no card {id}"));
        page[start..start + page[start..].find("</article>").unwrap()].to_owned()
    };
    assert!(card("alpha").contains("<polyline points=\"0.0,24.0 50.0,12.0 100.0,0.0\"/>"), "{}", card("alpha"));
    assert!(card("beta").contains("<polyline points=\"0.0,12.0 50.0,12.0 100.0,12.0\"/>"), "{}", card("beta"));
    assert!(!card("gamma").contains("polyline"), "{}", card("gamma"));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_services_are_edited_through_the_api_rules() {
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    hub.heartbeat(heartbeat_body("web01", hub.now(), 20.0)).await;
    let b = Browser::login(&hub).await;
    // Reported but not watched: offered with a Watch button that sends its name.
    let (_, text) = b.get("/ui/servers/web01/services").await;
    let offered = &text[text.find("id=\"svc-reported-plex\"").expect("plex is offered")..];
    assert!(offered.contains("<input type=\"hidden\" name=\"service_name\" value=\"plex\">"), "{offered}");
    assert!(offered.contains("pid 1234 · 512 MB · 180.0 % CPU"), "{offered}");
    let (status, text) =
        b.post("/ui/servers/web01/services", "service_name=plex&display_name=Plex&is_critical=true").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("Now watching plex.") && text.contains("id=\"svc-plex\""), "{text}");
    assert!(!text.contains("svc-reported-plex"), "a watched service is no longer offered: {text}");
    assert!(text.contains("svc-state-running") && text.contains("pid 1234"), "the reported state is shown: {text}");
    let (status, text) = b.post("/ui/servers/web01/services", "service_name=plex").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(text.contains("already exists"), "{text}");
    let (status, text) = b.post("/ui/servers/web01/services", "service_name=Nginx!").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text.contains("service name: should match pattern"), "{text}");
    let (status, text) = b.post("/ui/servers/web01/services", "service_name=").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text.contains("service name: should have at least 1 character"), "{text}");

    let (status, text) = b.post("/ui/servers/web01/services/plex", "enabled=false").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("plex is no longer watched"), "{text}");
    let (_, text) = b.post("/ui/servers/web01/services/plex", "is_critical=false").await;
    assert!(text.contains("plex is not critical"), "{text}");
    let (_, services) = hub.get("/api/v1/servers/web01/services").await;
    assert_eq!(
        (&services["services"][0]["enabled"], &services["services"][0]["is_critical"]),
        (&false.into(), &false.into())
    );
    // The grace period: set, refused as the API refuses it (field named), and back to the default.
    let (status, text) = b.post("/ui/servers/web01/services/plex", "grace_seconds=120").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("plex may be down 120 s before it alerts.") && text.contains("value=\"120\""), "{text}");
    let (status, text) = b.post("/ui/servers/web01/services/plex", "grace_seconds=soon").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text.contains("grace seconds: enter a whole number"), "{text}");
    let (status, text) = b.post("/ui/servers/web01/services/plex", "grace_seconds=4000").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text.contains("grace") && text.contains("3600"), "{text}");
    assert_eq!(hub.get("/api/v1/servers/web01/services").await.1["services"][0]["grace_seconds"], 120, "kept");
    let (_, text) = b.post("/ui/servers/web01/services/plex", "grace_seconds=").await;
    assert!(text.contains("plex uses the default grace period."), "{text}");
    assert_eq!(
        hub.get("/api/v1/servers/web01/services").await.1["services"][0]["grace_seconds"],
        serde_json::Value::Null
    );
    let (status, text) = b.post("/ui/servers/web01/services", "service_name=sshd&grace_seconds=-5").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text.contains("grace"), "{text}");
    let (status, text) = b.post("/ui/servers/web01/services/plex", "is_critical=maybe").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(text.contains("is critical: should be true or false"), "{text}");
    assert_eq!(b.post("/ui/servers/web01/services/plex", "").await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b.post("/ui/servers/web01/services/nginx", "enabled=true").await.0, StatusCode::NOT_FOUND);
    assert_eq!(b.post("/ui/servers/nope/services", "service_name=plex").await.0, StatusCode::NOT_FOUND);

    let (_, page) = b.get("/servers/web01").await;
    assert!(page.contains("id=\"services\"") && page.contains("id=\"server-alerts\"") && page.contains("svc-plex"));
    let (status, text) = b.post("/ui/servers/web01/services/plex/delete", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("Stopped watching plex"), "{text}");
    assert_eq!(b.post("/ui/servers/web01/services/plex/delete", "").await.0, StatusCode::NOT_FOUND);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_changes_reach_banners_and_server_panels_live() {
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    hub.heartbeat(heartbeat_body("nas", hub.now(), 20.0)).await;
    let (cookie, _) = login(&hub).await;
    let mut events = hub.client.get(hub.url("/ui/events")).header("cookie", &cookie).send().await.unwrap();
    let sent = Instant::now();
    let alert = disk_alert(&hub, "nas").await;
    let seen = read_until(&mut events, "event: pending", sent + Duration::from_secs(1)).await.expect("within 1 s");
    assert!(seen.contains("event: server-nas") && seen.contains("event: banner"), "{seen}");
    assert!(seen.contains(&format!("banner-alert-{alert}")), "{seen}");
    // Acknowledging through the JSON API updates dashboards too.
    let sent = Instant::now();
    hub.post(&format!("/api/v1/alerts/{alert}/acknowledge"), serde_json::json!({})).await;
    let seen = read_until(&mut events, "event: pending", sent + Duration::from_secs(1)).await.expect("within 1 s");
    assert!(seen.contains("No open alerts"), "{seen}");
    hub.stop().await;
}

/// A heartbeat with two compose containers, one loose one, sensors, a failing disk and a GPU.
fn inventory_heartbeat(hub: &TestHub, server: &str) -> serde_json::Value {
    let mut body = heartbeat_body(server, hub.now(), 10.0);
    body["containers"] = serde_json::json!([
        {"id": "a1", "name": "plex", "image": "plexinc/pms", "state": "running", "restart_count": 2,
         "started_at": (hub.now() - chrono::Duration::hours(5)).to_rfc3339(), "cpu_percent": 3.5,
         "memory_used_bytes": 400_000_000, "memory_limit_bytes": 2_147_483_648_i64, "compose_project": "media"},
        {"id": "b2", "name": "sonarr", "image": "linuxserver/sonarr", "state": "exited", "exit_code": 1, "compose_project": "media"},
        {"id": "c3", "name": "watchtower", "image": "containrrr/watchtower", "state": "running", "health": "unhealthy"}
    ]);
    body["temperatures"] = serde_json::json!([{"sensor": "coretemp/Package id 0", "kind": "cpu", "celsius": 88.0}]);
    body["fans"] = serde_json::json!([{"sensor": "nct6775/fan2", "rpm": 1200.0}]);
    body["disk_health"] = serde_json::json!([{"device": "/dev/sda", "model": "WDC WD40", "protocol": "ata", "passed": false,
        "power_on_hours": 31000, "reallocated_sectors": 8, "pending_sectors": 0, "uncorrectable_sectors": 1}]);
    body["raid_arrays"] = serde_json::json!([{"name": "md0", "level": "raid1", "state": "rebuilding",
        "devices_total": 2, "devices_active": 1, "rebuild_percent": 42.5}]);
    body["gpus"] = serde_json::json!([{"id": "nvidia0", "vendor": "nvidia", "name": "RTX 3060", "utilisation_percent": 30.0,
        "memory_used_bytes": 1_073_741_824, "memory_total_bytes": 12_884_901_888_i64, "temperature_celsius": 64.0, "power_watts": 95.0}]);
    body
}

#[tokio::test]
async fn containers_and_sensors_are_shown_and_watched_through_the_service() {
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    hub.heartbeat(heartbeat_body("bare", hub.now(), 5.0)).await;
    assert_eq!(hub.heartbeat(inventory_heartbeat(&hub, "nas")).await.0, StatusCode::OK);
    let b = Browser::login(&hub).await;

    // A machine without a container engine says so, and shows no watch switch.
    let (_, bare) = b.get("/servers/bare").await;
    assert!(bare.contains("No container engine reported: install Docker or Podman"), "{bare}");
    assert!(!bare.contains("id=\"watch-all\""));

    let (status, page) = b.get("/servers/nas").await;
    assert_eq!(status, StatusCode::OK);
    // Grouped by compose project, the loose one under "Other" after it.
    let media = page.find(">media <").expect("the media group");
    let other = page.find(">Other <").expect("the Other group");
    assert!(media < other && page[media..other].contains("id=\"ctr-sonarr\""), "grouping");
    assert!(page[other..].contains("id=\"ctr-watchtower\""));
    for shown in ["2 of 3 running", "381.5 MiB / 2.0 GiB", "5 h 0 min", "3.5 %", "unhealthy"] {
        assert!(page.contains(shown), "{shown} on the page");
    }
    // Sensors with the level they alert at (CPU defaults 85/95 °C: 88 °C is in the warning band).
    assert!(page.contains("level-warn\">88.0 °C") && page.contains("85 °C, critical 95 °C"), "sensors");
    assert!(page.contains("1200 rpm"));
    assert!(page.contains("FAILED") && page.contains("8 / 0 / 1") && page.contains("31000 h"), "S.M.A.R.T.");
    assert!(page.contains("rebuilding 42.5 %") && page.contains("raid1 · 1 of 2 devices"), "RAID");
    assert!(
        page.contains("RTX 3060")
            && page.contains("nvidia0 · nvidia")
            && page.contains("1.0 GiB / 12.0 GiB")
            && page.contains("95 W"),
        "GPU"
    );

    // Watching one container, then all running ones, through the service's rules.
    let (status, text) = b.post("/ui/servers/nas/containers/watch", "name=sonarr&watched=true").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("Watching sonarr") && text.contains("Watched, not running well: sonarr"), "{text}");
    assert_eq!(hub.get("/api/v1/servers/nas/inventory").await.1["watched_containers"], serde_json::json!(["sonarr"]));
    let (status, text) = b.post("/ui/servers/nas/containers/watch-all", "enabled=true").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains("aria-pressed=\"true\""), "{text}");
    let (_, inventory) = hub.get("/api/v1/servers/nas/inventory").await;
    assert_eq!(inventory["watched_containers"], serde_json::json!(["plex", "sonarr", "watchtower"]));
    assert_eq!(inventory["watch_all_containers"], true);
    let (_, text) = b.post("/ui/servers/nas/containers/watch", "name=sonarr&watched=false").await;
    assert!(text.contains("Stopped watching sonarr."), "{text}");

    // Refusals name the field; an unknown server is a toast.
    let (status, text) = b.post("/ui/servers/nas/containers/watch", "name=bad%20name!&watched=true").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert!(text.contains("name: should match pattern"), "{text}");
    let (status, text) = b.post("/ui/servers/nas/containers/watch", "name=plex&watched=maybe").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    assert!(text.contains("watched: should be true or false"), "{text}");
    let (status, _) = b.post("/ui/servers/nas/containers/watch-all", "enabled=").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, text) = b.post("/ui/servers/ghost/containers/watch", "name=plex&watched=true").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    assert_eq!(hub.get("/api/v1/servers/nas/inventory").await.1["watched_containers"].as_array().unwrap().len(), 2);

    // The partials refresh on their own.
    let (_, text) = b.get("/ui/servers/nas/containers").await;
    assert!(text.starts_with("<div id=\"containers\"") && text.contains("id=\"ctr-plex\""), "{text}");
    let (_, text) = b.get("/ui/servers/nas/hardware").await;
    assert!(text.starts_with("<div id=\"hardware\"") && text.contains("RTX 3060"), "{text}");

    // The fleet card: containers running of all (watched ones down marked) and the hottest sensor.
    let (_, fleet) = b.get("/").await;
    let card = &fleet[fleet.find("id=\"card-nas\"").unwrap()..];
    let card = &card[..card.find("</article>").unwrap()];
    assert!(card.contains("data-containers=\"down\""), "{card}");
    assert!(
        card.contains("■ 2/3 containers") && card.contains("Hottest sensor: coretemp/Package id 0\">88 °C"),
        "{card}"
    );
    let bare = &fleet[fleet.find("id=\"card-bare\"").unwrap()..];
    assert!(!bare[..bare.find("</article>").unwrap()].contains("containers"), "no engine, no chip");
    assert!(fleet.contains("<option value=\"down\">■ A container is down</option>"));
}
