//! The dashboard in a real browser: Debian's headless Chromium driven through chromedriver
//! (WebDriver, via fantoccini) against a hub on a free port with a seeded fleet.
//!
//! Without `chromium` and `chromedriver` the test prints a loud skip, unless
//! `HOMELAB_REQUIRE_BROWSER=1` (CI) makes their absence a failure. Screenshots of every page in
//! both themes at desktop and phone width go to `target/web-e2e-screenshots/`.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Duration as Span;
use common::{API_KEY, Backend, TestHub, heartbeat_body};
use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const DESKTOP: (u32, u32) = (1400, 950);
const PHONE: (u32, u32) = (390, 844);

fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names
        .iter()
        .find_map(|name| std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file()))
}

/// Kills chromedriver (and with it the browser) when the test ends, however it ends.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("web-e2e-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn start_browser() -> Option<(Driver, Client, tempfile::TempDir)> {
    let chromium = which(&["chromium", "chromium-browser", "google-chrome"]);
    let driver = which(&["chromedriver"]);
    let (Some(chromium), Some(driver)) = (chromium, driver) else {
        if std::env::var("HOMELAB_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
            panic!("HOMELAB_REQUIRE_BROWSER=1 but chromium/chromedriver are not installed");
        }
        eprintln!("\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
        eprintln!("!!! SKIPPED web_e2e: chromium and chromium-driver are not installed.");
        eprintln!("!!! apt-get install -y chromium chromium-driver   (CI sets HOMELAB_REQUIRE_BROWSER=1)");
        eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n");
        return None;
    };
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver { child, port };
    let profile = tempfile::tempdir().unwrap();
    let caps: serde_json::Map<String, Value> = serde_json::from_value(json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", format!("--user-data-dir={}", profile.path().display()),
                     format!("--window-size={},{}", DESKTOP.0, DESKTOP.1)]
        },
        "goog:loggingPrefs": {"browser": "ALL"}
    }))
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => return Some((driver, client, profile)),
            Err(error) if Instant::now() < deadline => {
                let _ = error;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("cannot start a browser session: {error}"),
        }
    }
}

/// Browser console entries at SEVERE level since the last call (chromedriver's log endpoint).
async fn console_errors(client: &Client, driver_base: &str) -> Vec<String> {
    let Some(session) = client.session_id().await.unwrap() else { return Vec::new() };
    let response = reqwest::Client::new()
        .post(format!("{driver_base}/session/{session}/se/log"))
        .json(&json!({"type": "browser"}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    body["value"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter(|e| e["level"] == "SEVERE")
                .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

struct Session<'a> {
    client: &'a Client,
    driver_base: String,
    shots: PathBuf,
}

impl Session<'_> {
    async fn assert_no_console_errors(&self, page: &str) {
        let errors = console_errors(self.client, &self.driver_base).await;
        assert!(errors.is_empty(), "browser console errors on {page}: {errors:#?}");
    }

    async fn wait_css(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => {
                let source = self.client.source().await.unwrap_or_default();
                panic!("{css} did not appear: {e}\n--- page ---\n{source}");
            }
        }
    }

    async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Sets the theme with the page's toggle (at most two clicks: system → other → chosen).
    async fn set_theme(&self, theme: &str) {
        for _ in 0..2 {
            if self.eval("return document.documentElement.getAttribute('data-theme');").await == theme {
                return;
            }
            self.client.find(Locator::Id("theme-toggle")).await.unwrap().click().await.unwrap();
        }
        assert_eq!(self.eval("return document.documentElement.getAttribute('data-theme');").await, theme);
    }

    /// Both themes at desktop and phone width.
    async fn shoot(&self, page: &str) {
        for (label, (w, h)) in [("desktop", DESKTOP), ("phone", PHONE)] {
            self.client.set_window_size(w, h).await.unwrap();
            tokio::time::sleep(Duration::from_millis(350)).await;
            for theme in ["light", "dark"] {
                self.set_theme(theme).await;
                tokio::time::sleep(Duration::from_millis(150)).await;
                let png = self.client.screenshot().await.unwrap();
                std::fs::write(self.shots.join(format!("{page}-{label}-{theme}.png")), png).unwrap();
            }
        }
        self.client.set_window_size(DESKTOP.0, DESKTOP.1).await.unwrap();
        self.set_theme("light").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    /// Moves the real pointer over a chart and returns the tooltip's text.
    async fn hover_chart(&self, chart: &str) -> String {
        let over = self.wait_css(&format!("{chart} .u-over")).await;
        let mut tip = String::new();
        for dx in [60.0, 0.0, -60.0, 120.0] {
            let actions = MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
                element: over.clone(),
                duration: None,
                x: dx,
                y: 0.0,
            });
            self.client.perform_actions(actions).await.unwrap();
            tokio::time::sleep(Duration::from_millis(150)).await;
            tip = self
                .eval(&format!(
                    "var t = document.querySelector('{chart} .tooltip'); return t && !t.hidden ? t.innerText : '';"
                ))
                .await
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if tip.contains('%') {
                break;
            }
        }
        let _ = self.client.release_actions().await;
        tip
    }
}

async fn seed(hub: &TestHub) {
    // A workstation that was switched off two hours ago.
    let mut desk = heartbeat_body("desk", hub.now(), 12.0);
    desk["machine_type"] = json!("workstation");
    assert_eq!(hub.heartbeat(desk).await.0, 200);
    hub.put("/api/v1/servers/desk", json!({"machine_type": "workstation"})).await;
    hub.clock.advance(Span::hours(2));
    let now = hub.now();
    // web01 has an hour of history, one point a minute.
    for minute in (0..60).rev() {
        let cpu = 20.0 + (minute % 7) as f64 * 3.0;
        assert_eq!(hub.heartbeat(heartbeat_body("web01", now - Span::minutes(minute), cpu)).await.0, 200);
    }
    for (id, cpu) in [("nas", 97.0), ("pihole", 8.0), ("media", 35.0), ("backup", 15.0)] {
        for minute in [20, 10, 0] {
            hub.heartbeat(heartbeat_body(id, now - Span::minutes(minute), cpu)).await;
        }
    }
    // A critical disk alert on the nas (disk alerts fire at once; they are judged per mount).
    let mut body = heartbeat_body("nas", hub.now() + Span::seconds(30), 97.0);
    body["metrics"]["disk_percent"] = json!(97.0);
    body["filesystems"][0]["percent"] = json!(97.0);
    hub.heartbeat(body).await;
    let (_, open) = hub.get("/api/v1/alerts?status=open").await;
    assert!(open["total"].as_i64().unwrap_or(0) > 0, "seeded alerts: {open}");
    hub.put("/api/v1/servers/backup/pause", json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_works_in_a_real_browser() {
    let Some((driver, client, _profile)) = start_browser().await else { return };
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    seed(&hub).await;
    let s =
        Session { client: &client, driver_base: format!("http://127.0.0.1:{}", driver.port), shots: screenshot_dir() };

    // Login.
    client.goto(&hub.url("/")).await.unwrap();
    let key = s.wait_css("#api_key").await;
    s.shoot("login").await;
    key.send_keys(API_KEY).await.unwrap();
    client.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();

    // Fleet: cards with status in words and shapes.
    s.wait_css("#card-web01").await;
    let cards = client.find_all(Locator::Css("#grid .card")).await.unwrap();
    assert_eq!(cards.len(), 6);
    let desk = client.find(Locator::Css("#card-desk .badge")).await.unwrap().text().await.unwrap();
    assert!(desk.contains("Last seen 2 h ago"), "{desk}");
    let nas = client.find(Locator::Css("#card-nas .badge")).await.unwrap().text().await.unwrap();
    assert!(nas.contains("Warning"), "{nas}");
    let backup = client.find(Locator::Css("#card-backup .badge")).await.unwrap().text().await.unwrap();
    assert!(backup.contains("Maintenance"), "{backup}");
    s.assert_no_console_errors("fleet").await;

    // Filter and search (client-side).
    client.find(Locator::Id("fleet-search")).await.unwrap().send_keys("pih").await.unwrap();
    let visible =
        s.eval("return [...document.querySelectorAll('#grid .card')].filter(c => !c.hidden).map(c => c.id);").await;
    assert_eq!(visible, json!(["card-pihole"]));
    client.find(Locator::Id("fleet-search")).await.unwrap().clear().await.unwrap();
    s.eval("var s = document.getElementById('fleet-search'); s.value=''; s.dispatchEvent(new Event('input'));").await;

    // Live: a heartbeat pushed now shows on the card without a reload.
    s.eval("window.__marker = 'same page';").await;
    tokio::time::sleep(Duration::from_millis(500)).await; // let the SSE connection open
    let sent = Instant::now();
    let (status, _) = hub.heartbeat(heartbeat_body("web01", hub.now(), 73.0)).await;
    assert_eq!(status, 200);
    let mut latency = None;
    while sent.elapsed() < Duration::from_secs(5) {
        let text =
            s.eval("var v = document.querySelector('#card-web01 .meter-value'); return v ? v.textContent : '';").await;
        if text.as_str().is_some_and(|t| t.contains("73 %")) {
            latency = Some(sent.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let latency = latency.expect("the card updated live");
    println!("heartbeat commit → card updated in the browser: {} ms", latency.as_millis());
    assert!(latency < Duration::from_secs(1), "took {latency:?}");
    assert_eq!(s.eval("return window.__marker;").await, "same page", "no reload happened");

    // A new machine appears without a reload.
    hub.heartbeat(heartbeat_body("newbox", hub.now(), 5.0)).await;
    s.wait_css("#card-newbox").await;
    s.shoot("fleet").await;
    s.assert_no_console_errors("fleet (live)").await;

    // Theme is remembered across a reload.
    s.set_theme("dark").await;
    client.refresh().await.unwrap();
    s.wait_css("#card-web01").await;
    assert_eq!(s.eval("return document.documentElement.getAttribute('data-theme');").await, "dark");
    s.set_theme("light").await;

    // Server detail: charts, tooltip with units, range switch.
    client.find(Locator::Css("#card-web01 .card-name")).await.unwrap().click().await.unwrap();
    s.wait_css("#history[data-loaded='24h']").await;
    s.wait_css("#chart-cpu .uplot").await;
    let tip = s.hover_chart("#chart-cpu").await;
    assert!(tip.contains("CPU: ") && tip.contains(" %"), "tooltip: {tip:?}");
    client.find(Locator::Css("button[data-range='7d']")).await.unwrap().click().await.unwrap();
    s.wait_css("#history[data-loaded='7d']").await;
    let pressed =
        s.eval("return document.querySelector(\"button[data-range='7d']\").getAttribute('aria-pressed');").await;
    assert_eq!(pressed, "true");
    let href = s.eval("return document.getElementById('export-csv').getAttribute('href');").await;
    assert!(href.as_str().unwrap().contains("range=7d&format=csv"), "{href}");
    let tip = s.hover_chart("#chart-cpu").await;
    assert!(tip.contains("CPU: ") && tip.contains(" %"), "7d tooltip: {tip:?}");
    s.assert_no_console_errors("server detail").await;
    client.find(Locator::Css("button[data-range='24h']")).await.unwrap().click().await.unwrap();
    s.wait_css("#history[data-loaded='24h']").await;
    s.shoot("server").await;

    // Maintenance through the page.
    client.find(Locator::XPath("//button[contains(., 'Start maintenance')]")).await.unwrap().click().await.unwrap();
    s.wait_css("#edit-panel .chip-maint").await;
    assert!(hub.store.get_server("web01").await.unwrap().is_paused);

    // Alerts: acknowledge, then resolve, the newest alert (bulk actions are covered over HTTP
    // in web_handlers.rs).
    client.goto(&hub.url("/alerts")).await.unwrap();
    s.wait_css(".alerts-table tbody tr[id^='alert-']").await;
    s.shoot("alerts").await;
    let status_of_first = "var c = document.querySelector('.alerts-table tbody tr[id^=alert-] .alert-status'); return c ? c.textContent : '';";
    client
        .find(Locator::XPath("//tbody/tr[starts-with(@id, 'alert-')][1]//button[contains(., 'Acknowledge')]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.eval(status_of_first).await != "acknowledged" {
        assert!(Instant::now() < deadline, "not acknowledged");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client
        .find(Locator::XPath("//tbody/tr[starts-with(@id, 'alert-')][1]//button[contains(., 'Resolve')]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    while s.eval(status_of_first).await != "resolved" {
        assert!(Instant::now() < deadline, "not resolved");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.assert_no_console_errors("alerts").await;

    // Thresholds: a critical level below the high one is explained.
    client.goto(&hub.url("/settings")).await.unwrap();
    let high = s.wait_css("input[name=cpu_high]").await;
    high.clear().await.unwrap();
    high.send_keys("96").await.unwrap();
    let critical = client.find(Locator::Css("input[name=cpu_critical]")).await.unwrap();
    critical.clear().await.unwrap();
    critical.send_keys("90").await.unwrap();
    client.find(Locator::XPath("//button[contains(., 'Save thresholds')]")).await.unwrap().click().await.unwrap();
    let message = s.wait_css("#thresholds .field-error").await.text().await.unwrap();
    assert!(message.contains("critical"), "{message}");

    // Settings: create a token, see the install command, revoke it.
    let name = s.wait_css("input[name=display_name]").await;
    name.send_keys("Garage Pi").await.unwrap();
    client.find(Locator::XPath("//button[contains(., 'Create token')]")).await.unwrap().click().await.unwrap();
    let command = s.wait_css("#install-command").await.text().await.unwrap();
    assert!(
        command.starts_with("homelabcmd-agent register --hub http://127.0.0.1:") && command.contains("hlh_rt_"),
        "{command}"
    );
    s.shoot("settings").await;
    client.find(Locator::Css(".tokens-table .btn-danger")).await.unwrap().click().await.unwrap();
    client.accept_alert().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // Read through script: the element is replaced by the swap, so a handle could go stale.
        let text = s.eval("var t = document.getElementById('tokens'); return t ? t.innerText : '';").await;
        let text = text.as_str().unwrap_or_default().to_owned();
        if text.contains("No pending tokens.") {
            break;
        }
        assert!(Instant::now() < deadline, "token was not revoked: {text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.assert_no_console_errors("settings").await;

    // Logout goes back to the login page.
    client.find(Locator::XPath("//button[contains(., 'Log out')]")).await.unwrap().click().await.unwrap();
    s.wait_css("#api_key").await;

    println!("screenshots: {}", s.shots.display());
    client.close().await.unwrap();
    drop(driver);
    hub.stop().await;
}
