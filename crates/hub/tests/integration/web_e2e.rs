//! The dashboard in a real browser: Debian's headless Chromium driven through chromedriver
//! (WebDriver, via fantoccini) against a hub on a free port with a seeded fleet.
//!
//! Without `chromium` and `chromedriver` the test prints a loud skip, unless
//! `HOMELAB_REQUIRE_BROWSER=1` (CI) makes their absence a failure. Screenshots of every page in
//! both themes at desktop and phone width go to `target/web-e2e-screenshots/`.
//!
//! Notifications go to a real local HTTP receiver (`common::receiver`), so the channel test
//! button and the alert timeline's deliveries are checked end to end.

use crate::common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Duration as Span;
use common::receiver::FakeReceiver;
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
    /// Records every content-security-policy violation of every page from here on, from the
    /// first byte parsed (a DevTools script runs before the page's own and is not under its
    /// policy), so that the console checks also fail on a violation Chromium does not log.
    async fn watch_csp(&self) {
        let source = "window.__cspViolations = []; document.addEventListener('securitypolicyviolation',                       function (e) { window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' +                       (e.sample || '')); });";
        self.cdp("Page.addScriptToEvaluateOnNewDocument", json!({"source": source})).await;
    }

    async fn assert_no_console_errors(&self, page: &str) {
        let errors = console_errors(self.client, &self.driver_base).await;
        assert!(errors.is_empty(), "browser console errors on {page}: {errors:#?}");
        self.assert_no_csp_violations(page).await;
    }

    async fn assert_no_csp_violations(&self, page: &str) {
        let violations = self.eval("return window.__cspViolations || 'not watched';").await;
        assert_eq!(violations, json!([]), "content security policy violations on {page}");
    }

    /// Like [`Self::assert_no_console_errors`], after a step that deliberately sent bad input:
    /// the only entries allowed are Chromium's network notes for the 422 answers to `paths`
    /// (it logs every 4xx response), and each of them must be there.
    async fn assert_only_refusals(&self, page: &str, paths: &[&str]) {
        let errors = console_errors(self.client, &self.driver_base).await;
        let refusal = |path: &str, e: &str| {
            e.contains(&format!("{path} - Failed to load resource: the server responded with a status of 422"))
        };
        let unexpected: Vec<_> = errors.iter().filter(|e| !paths.iter().any(|p| refusal(p, e))).collect();
        assert!(unexpected.is_empty(), "browser console errors on {page}: {unexpected:#?}");
        self.assert_no_csp_violations(page).await;
        for path in paths {
            assert!(errors.iter().any(|e| refusal(path, e)), "no 422 from {path} on {page}: {errors:#?}");
        }
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

    /// The text of `css` once it is there, read in the page in one step: live updates replace
    /// the banner and summary whole (`outerHTML`), which can make a found element stale before
    /// its text is asked for.
    async fn text_of(&self, css: &str) -> String {
        self.wait_css(css).await;
        let script = format!("return document.querySelector({}).innerText;", serde_json::to_string(css).unwrap());
        self.eval(&script).await.as_str().unwrap_or_default().to_owned()
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

    /// Runs a DevTools command through chromedriver (for what WebDriver cannot do).
    async fn cdp(&self, cmd: &str, params: Value) {
        let session = self.client.session_id().await.unwrap().unwrap();
        let response = reqwest::Client::new()
            .post(format!("{}/session/{session}/goog/cdp/execute", self.driver_base))
            .json(&json!({"cmd": cmd, "params": params}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{cmd}: {}", response.text().await.unwrap_or_default());
    }

    /// Both themes at desktop and phone width. The phone's viewport is set through DevTools: a
    /// headless window cannot be made narrower than about 500 px.
    async fn shoot(&self, page: &str) {
        self.shoot_at(page, None).await;
    }

    /// [`Self::shoot`] with `css` scrolled into the middle of the view at each width.
    async fn shoot_at(&self, page: &str, css: Option<&str>) {
        for (label, (w, h)) in [("desktop", DESKTOP), ("phone", PHONE)] {
            if label == "phone" {
                // `mobile: false`: the layout viewport stays at the phone's width instead of growing
                // to fit what the page drew at desktop width before (charts redraw on resize).
                let metrics = json!({"width": w, "height": h, "deviceScaleFactor": 1, "mobile": false});
                self.cdp("Emulation.setDeviceMetricsOverride", metrics).await;
            } else {
                self.client.set_window_size(w, h).await.unwrap();
            }
            wait_for(&format!("{page}: the {label} viewport"), || async {
                self.eval("return window.innerWidth;").await == json!(w)
            })
            .await;
            // Nothing may push the page sideways (wide tables scroll inside their own box). Charts
            // redraw for the new width a moment after the resize: the layout must settle to fit.
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let sideways = self.eval(SIDEWAYS).await;
                if sideways["scrolled"] == 0 {
                    break;
                }
                assert!(Instant::now() < deadline, "{page} at {label} width scrolls sideways: {sideways}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if label == "phone" {
                let reach = self.eval(PHONE_REACH).await;
                assert_eq!(reach, json!({"offscreen": [], "scrolling": []}), "{page}: actions off-screen on a phone");
            }
            for theme in ["light", "dark"] {
                self.set_theme(theme).await;
                // After the theme: clicking its toggle scrolls the page back to the top.
                if let Some(css) = css {
                    let script = format!(
                        "document.querySelector({}).scrollIntoView({{block: 'center'}});",
                        serde_json::to_string(css).unwrap()
                    );
                    self.eval(&script).await;
                }
                tokio::time::sleep(Duration::from_millis(150)).await;
                let png = self.client.screenshot().await.unwrap();
                std::fs::write(self.shots.join(format!("{page}-{label}-{theme}.png")), png).unwrap();
            }
        }
        self.cdp("Emulation.clearDeviceMetricsOverride", json!({})).await;
        self.client.set_window_size(DESKTOP.0, DESKTOP.1).await.unwrap();
        self.set_theme("light").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    /// Clicks the element, finding it again if a live update replaced it meanwhile.
    async fn click_css(&self, css: &str) {
        for attempt in 0..5 {
            let element = self.wait_css(css).await;
            match element.click().await {
                Ok(()) => return,
                Err(_) if attempt < 4 => tokio::time::sleep(Duration::from_millis(150)).await,
                Err(e) => panic!("cannot click {css}: {e}"),
            }
        }
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

/// What the seeded fleet holds that the test checks later.
struct Seeded {
    /// The media server's high disk alert (fired before the channel existed: not notified).
    media_alert: i64,
    /// The nas's disk alert, notified to the `hook` channel.
    disk_alert: i64,
}

/// The `readyState` of the page's live-update `EventSource` (1 once open), as htmx's SSE
/// extension keeps it; -1 while there is none.
const SSE_STATE: &str = "var e = document.querySelector('[sse-connect]'); var d = e && e['htmx-internal-data']; \
                         return d && d.sseEventSource ? d.sseEventSource.readyState : -1;";

async fn wait_for<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn seed(hub: &TestHub, receiver: &FakeReceiver) -> Seeded {
    // A workstation that was switched off two hours ago.
    let mut desk = heartbeat_body("desk", hub.now(), 12.0);
    desk["machine_type"] = json!("workstation");
    assert_eq!(hub.heartbeat(desk).await.0, 200);
    hub.put("/api/v1/servers/desk", json!({"machine_type": "workstation"})).await;
    hub.clock.advance(Span::hours(2));
    let now = hub.now();
    // web01 has an hour of history, one point a minute; its agent also reports nginx.
    for minute in (0..60).rev() {
        let cpu = 20.0 + (minute % 7) as f64 * 3.0;
        let mut body = heartbeat_body("web01", now - Span::minutes(minute), cpu);
        body["services"].as_array_mut().unwrap().push(json!({"name": "nginx", "status": "running", "pid": 88}));
        assert_eq!(hub.heartbeat(body).await.0, 200);
    }
    for (id, cpu) in [("nas", 97.0), ("pihole", 8.0), ("media", 35.0), ("backup", 15.0)] {
        for minute in [20, 10, 0] {
            hub.heartbeat(heartbeat_body(id, now - Span::minutes(minute), cpu)).await;
        }
    }
    // The nas's CPU (97 %) must last the default 180 s before it alerts: a pending breach.
    // The media server's disk is over the high level: a high alert at once.
    let mut body = heartbeat_body("media", hub.now() + Span::seconds(10), 35.0);
    body["metrics"]["disk_percent"] = json!(90.0);
    body["filesystems"][0]["percent"] = json!(90.0);
    hub.heartbeat(body).await;
    let (_, open) = hub.get("/api/v1/alerts?status=open&server_id=media").await;
    let media_alert = open["alerts"][0]["id"].as_i64().expect("the media server's disk alert");
    // The dispatcher routes that event while no channel exists, so that the channel's first
    // send is the disk alert below (a second send would wait for the grouping window, and the
    // hub's clock is frozen).
    hub.step_dispatcher().await;
    assert!(hub.store.outbox(10).await.unwrap().iter().all(|e| e.status != "pending"), "the media alert routed");
    let (status, _) =
        hub.post("/api/v1/notifications/channels", json!({"id": "hook", "kind": "webhook", "url": receiver.url})).await;
    assert_eq!(status, 201);
    // A critical disk alert on the nas.
    let mut body = heartbeat_body("nas", hub.now() + Span::seconds(30), 97.0);
    body["metrics"]["disk_percent"] = json!(97.0);
    body["filesystems"][0]["percent"] = json!(97.0);
    hub.heartbeat(body).await;
    let (_, open) = hub.get("/api/v1/alerts?status=open").await;
    assert_eq!(open["total"], 2, "seeded alerts: {open}");
    let disk_alert = open["alerts"][0]["id"].as_i64().unwrap();
    hub.step_dispatcher().await;
    assert_eq!(receiver.received().len(), 1, "the disk alert was sent");
    hub.put("/api/v1/servers/backup/pause", json!({})).await;
    for (id, tags) in [("nas", json!(["storage", "prod"])), ("pihole", json!(["dns", "prod"]))] {
        assert_eq!(hub.put(&format!("/api/v1/servers/{id}/tags"), json!({"tags": tags})).await.0, 200);
    }
    Seeded { media_alert, disk_alert }
}

/// How far the page scrolls sideways (0 when it fits its width) and, if it does, the elements
/// reaching past the right edge outside scrolling boxes (for the failure message).
const SIDEWAYS: &str = "
    const y = window.scrollY;
    window.scrollTo(10000, y);
    const scrolled = window.scrollX;
    window.scrollTo(0, y);
    if (!scrolled) return {scrolled: 0, wide: []};
    const limit = document.documentElement.clientWidth + 1;
    const wide = [...document.querySelectorAll('body *')]
      .filter(e => !(e.parentElement && e.parentElement.closest('.table-wrap')))
      .filter(e => e.getClientRects().length && e.getBoundingClientRect().right > limit)
      .slice(-6)
      .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + String(e.className).split(' ').join('.') : '')
        + ' right=' + Math.round(e.getBoundingClientRect().right) + ' width=' + Math.round(e.getBoundingClientRect().width));
    return {scrolled, wide, client: document.documentElement.clientWidth, scrollWidth: document.documentElement.scrollWidth};";

/// At phone width: controls and countdowns in tables that reach past the screen's right edge, and
/// table boxes that would need scrolling sideways (both must be empty).
const PHONE_REACH: &str = "
    const limit = document.documentElement.clientWidth + 1;
    const offscreen = [...document.querySelectorAll('table button, table .countdown, table a.btn, table input:not([type=hidden])')]
      .filter(e => e.getClientRects().length && e.getBoundingClientRect().right > limit)
      .map(e => (e.getAttribute('aria-label') || e.textContent).trim() + ' right=' + Math.round(e.getBoundingClientRect().right));
    const scrolling = [...document.querySelectorAll('.table-wrap')]
      .filter(w => w.querySelector('table.stack') && w.getClientRects().length && w.scrollWidth > w.clientWidth + 1)
      .map(w => w.querySelector('table').className + ' ' + w.scrollWidth + '>' + w.clientWidth);
    return {offscreen, scrolling};";

/// Ids of the fleet cards not hidden by the filters.
const VISIBLE_CARDS: &str =
    "return [...document.querySelectorAll('#grid .card')].filter(c => !c.hidden).map(c => c.id).sort();";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_works_in_a_real_browser() {
    let Some((driver, client, _profile)) = start_browser().await else { return };
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    let receiver = FakeReceiver::start(&[]).await;
    let seeded = seed(&hub, &receiver).await;
    let s =
        Session { client: &client, driver_base: format!("http://127.0.0.1:{}", driver.port), shots: screenshot_dir() };
    s.watch_csp().await;

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
    let card = client.find(Locator::Id("card-backup")).await.unwrap().text().await.unwrap();
    assert_eq!(card.matches("Maintenance").count(), 1, "said once: {card}");
    // Values with their ▲/■ markers and status badges stay on one line.
    let wrapped = s
        .eval(
            "return [...document.querySelectorAll('#grid .meter-value, #grid .badge')].filter(e => \
               e.getBoundingClientRect().height > 1.7 * parseFloat(getComputedStyle(e).fontSize) * 1.45).map(e => e.closest('.card').id + ': ' + e.textContent);",
        )
        .await;
    assert_eq!(wrapped, json!([]), "wrapped markers");
    s.assert_no_console_errors("fleet").await;

    // Filter and search (client-side).
    client.find(Locator::Id("fleet-search")).await.unwrap().send_keys("pih").await.unwrap();
    let visible =
        s.eval("return [...document.querySelectorAll('#grid .card')].filter(c => !c.hidden).map(c => c.id);").await;
    assert_eq!(visible, json!(["card-pihole"]));
    client.find(Locator::Id("fleet-search")).await.unwrap().clear().await.unwrap();
    s.eval("var s = document.getElementById('fleet-search'); s.value=''; s.dispatchEvent(new Event('input'));").await;

    // Filter by tag, with the select and through a link's ?tag=.
    client.find(Locator::Id("fleet-tag")).await.unwrap().select_by_value("prod").await.unwrap();
    assert_eq!(s.eval(VISIBLE_CARDS).await, json!(["card-nas", "card-pihole"]));
    client.find(Locator::Id("fleet-tag")).await.unwrap().select_by_value("storage").await.unwrap();
    assert_eq!(s.eval(VISIBLE_CARDS).await, json!(["card-nas"]));
    client.find(Locator::Css("#card-pihole .chip-tag[href='/?tag=dns']")).await.unwrap();
    client.goto(&hub.url("/?tag=dns")).await.unwrap();
    s.wait_css("#card-web01").await;
    assert_eq!(s.eval(VISIBLE_CARDS).await, json!(["card-pihole"]));
    assert_eq!(s.eval("return document.getElementById('fleet-tag').value;").await, "dns");
    client.goto(&hub.url("/")).await.unwrap();
    s.wait_css("#card-web01").await;
    assert_eq!(s.eval(VISIBLE_CARDS).await.as_array().unwrap().len(), 6);

    // Servers and workstations in groups; a heading goes with its last shown card.
    let heads =
        "return [...document.querySelectorAll('#grid .group-head')].filter(h => !h.hidden).map(h => h.textContent);";
    assert_eq!(s.eval(heads).await, json!(["Servers", "Workstations"]));
    let last = "return [...document.querySelectorAll('#grid > *')].map(e => e.id || e.textContent).pop();";
    assert_eq!(s.eval(last).await, "card-desk", "workstations come after the servers");
    client.find(Locator::Id("fleet-type")).await.unwrap().select_by_value("workstation").await.unwrap();
    assert_eq!(s.eval(heads).await, json!(["Workstations"]));
    client.find(Locator::Id("fleet-type")).await.unwrap().select_by_value("").await.unwrap();

    // The open-alerts banner (most severe first) and the breach about to fire, counting down.
    let banner = s.text_of("#alert-banner").await;
    assert!(banner.contains("2 open alerts") && banner.contains("Critical DISK usage on nas"), "{banner}");
    let pending = s.wait_css("#pending").await.text().await.unwrap();
    assert!(pending.contains("nas") && pending.contains("CPU") && pending.contains("Fires in"), "{pending}");
    let countdown = "return document.querySelector('#pending .countdown').textContent;";
    let first = s.eval(countdown).await;
    assert!(first.as_str().unwrap().contains("min"), "{first}");
    wait_for("the countdown to tick", || async { s.eval(countdown).await != first }).await;

    // Live: a heartbeat pushed now shows on the card without a reload.
    s.eval("window.__marker = 'same page';").await;
    wait_for("the live-update connection to open", || async { s.eval(SSE_STATE).await == 1 }).await;
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

    // An alert acknowledged elsewhere (the JSON API) leaves the banner without a reload.
    assert!(client.find(Locator::Id(&format!("banner-alert-{}", seeded.media_alert))).await.is_ok());
    let sent = Instant::now();
    let (status, _) = hub.post(&format!("/api/v1/alerts/{}/acknowledge", seeded.media_alert), json!({})).await;
    assert_eq!(status, 200);
    let gone = format!("return !document.getElementById('banner-alert-{}');", seeded.media_alert);
    while s.eval(&gone).await != true {
        assert!(sent.elapsed() < Duration::from_secs(2), "the banner did not update");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("alert acknowledged → banner updated in the browser: {} ms", sent.elapsed().as_millis());
    assert!(sent.elapsed() < Duration::from_secs(1), "took {:?}", sent.elapsed());
    let banner = s.text_of("#alert-banner").await;
    assert!(banner.contains("1 open alert"), "{banner}");

    // A new machine appears without a reload.
    hub.heartbeat(heartbeat_body("newbox", hub.now(), 5.0)).await;
    s.wait_css("#card-newbox").await;
    s.shoot("fleet").await;
    s.assert_no_console_errors("fleet (live)").await;

    // A machine with one sample: a dot on an honest 0–100 axis over ten minutes, not an empty
    // grid dated years ahead, and a note that history is being collected.
    client.goto(&hub.url("/servers/newbox")).await.unwrap();
    s.wait_css("#history[data-loaded='24h']").await;
    s.wait_css("#chart-cpu .uplot").await;
    let note = s.wait_css("#history-note").await.text().await.unwrap();
    assert!(note.contains("Collecting history: one sample so far"), "{note}");
    let cpu = s.eval("return Object.assign({}, document.getElementById('chart-cpu').dataset);").await;
    assert_eq!((&cpu["points"], &cpu["yMin"], &cpu["yMax"]), (&json!("true"), &json!("0"), &json!("100")), "{cpu}");
    assert_eq!(cpu["yTicks"], "0 %|25 %|50 %|75 %|100 %", "{cpu}");
    let span = |d: &Value| {
        d["xMax"].as_str().unwrap().parse::<f64>().unwrap() - d["xMin"].as_str().unwrap().parse::<f64>().unwrap()
    };
    assert_eq!(span(&cpu), 600.0, "ten minutes around the sample: {cpu}");
    let net = s.wait_css("#chart-net .chart-empty").await.text().await.unwrap();
    assert!(net.contains("a rate needs a second sample"), "{net}");
    client.find(Locator::Css("button[data-range='12m']")).await.unwrap().click().await.unwrap();
    s.wait_css("#history[data-loaded='12m']").await;
    let cpu = s.eval("return Object.assign({}, document.getElementById('chart-cpu').dataset);").await;
    assert_eq!(span(&cpu), 4.0 * 86_400.0, "four days around the one daily bucket: {cpu}");
    let now = hub.now().timestamp() as f64;
    let x_min = cpu["xMin"].as_str().unwrap().parse::<f64>().unwrap();
    assert!((now - 4.0 * 86_400.0..now + 86_400.0).contains(&x_min), "the axis is around now: {cpu}");
    s.assert_no_console_errors("a new machine's charts").await;
    client.goto(&hub.url("/")).await.unwrap();
    s.wait_css("#card-newbox").await;

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
    // An hour of CPU between 20 and 38 %: still drawn on 0–100, lines without dots, no note
    // (an hour of a day is sparse: the note says how much there is).
    let cpu = s.eval("return Object.assign({}, document.getElementById('chart-cpu').dataset);").await;
    assert_eq!((&cpu["yMin"], &cpu["yMax"], &cpu["points"]), (&json!("0"), &json!("100"), &json!("false")), "{cpu}");
    let x_ticks = cpu["xTicks"].as_str().unwrap();
    assert!(x_ticks.contains(':') && !x_ticks.contains("pm") && !x_ticks.contains('/'), "24-hour, British: {x_ticks}");
    let note = s.wait_css("#history-note").await.text().await.unwrap();
    assert!(note.contains("minutes of samples so far"), "{note}");
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

    // Tags: typed loosely, saved by the API's rules, and the live card shows them.
    let tags = client.find(Locator::Css("#edit-panel input[name=tags]")).await.unwrap();
    tags.send_keys("Web, #Rack-A").await.unwrap();
    client.find(Locator::XPath("//button[contains(., 'Save tags')]")).await.unwrap().click().await.unwrap();
    let note = s.wait_css("#edit-panel .ok-note").await.text().await.unwrap();
    assert!(note.contains("Tags saved."), "{note}");
    s.wait_css("#card-web01 .chip-tag[href='/?tag=rack-a']").await;
    assert_eq!(hub.get("/api/v1/servers/web01/tags").await.1["tags"], json!(["rack-a", "web"]));
    // A tag the API refuses is explained, naming the field.
    let tags = client.find(Locator::Css("#edit-panel input[name=tags]")).await.unwrap();
    tags.clear().await.unwrap();
    tags.send_keys("web b@d").await.unwrap();
    client.find(Locator::XPath("//button[contains(., 'Save tags')]")).await.unwrap().click().await.unwrap();
    let error = s.wait_css("#edit-panel .field-error").await.text().await.unwrap();
    assert!(error.contains("tags[1]") && error.contains("b@d"), "{error}");
    s.assert_only_refusals("server detail (a refused tag)", &["/ui/servers/web01/tags"]).await;

    // Power: the category and watts through the page's form (the API's rules); the estimate
    // follows at once. Watts that are not a number, or out of range, are refused naming the field.
    let before = s.text_of("#power-estimate").await;
    assert!(before.contains("(auto)"), "{before}");
    let power_form = "#power-form";
    client
        .find(Locator::Css(&format!("{power_form} select[name=machine_category]")))
        .await
        .unwrap()
        .select_by_value("rack_server")
        .await
        .unwrap();
    let field = |name: &'static str| format!("{power_form} input[name={name}]");
    for (name, value) in [("idle_watts", "100"), ("tdp_watts", "lots")] {
        let input = client.find(Locator::Css(&field(name))).await.unwrap();
        input.clear().await.unwrap();
        input.send_keys(value).await.unwrap();
    }
    s.click_css(&format!("{power_form} button[type=submit]")).await;
    // The refused tag's message is still there until the panel is swapped.
    wait_for("the refusal of the watts", || async {
        s.text_of("#edit-panel .field-error").await.contains("full-load watts")
    })
    .await;
    let error = s.text_of("#edit-panel .field-error").await;
    assert!(error.contains("should be a whole number of watts") && error.contains("lots"), "{error}");
    assert_eq!(s.text_of("#power-estimate").await, before, "nothing saved");
    let input = client.find(Locator::Css(&field("tdp_watts"))).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys("20000").await.unwrap();
    // The refused form keeps what is stored: choose again.
    client
        .find(Locator::Css(&format!("{power_form} select[name=machine_category]")))
        .await
        .unwrap()
        .select_by_value("rack_server")
        .await
        .unwrap();
    let idle = client.find(Locator::Css(&field("idle_watts"))).await.unwrap();
    idle.clear().await.unwrap();
    idle.send_keys("100").await.unwrap();
    s.click_css(&format!("{power_form} button[type=submit]")).await;
    wait_for("the range refusal", || async {
        s.text_of("#edit-panel .field-error").await.contains("tdp watts: should be less than or equal to 10000")
    })
    .await;
    s.assert_only_refusals("server detail (refused power settings)", &["/ui/servers/web01/power"]).await;
    let input = client.find(Locator::Css(&field("tdp_watts"))).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys("300").await.unwrap();
    client
        .find(Locator::Css(&format!("{power_form} select[name=machine_category]")))
        .await
        .unwrap()
        .select_by_value("rack_server")
        .await
        .unwrap();
    let idle = client.find(Locator::Css(&field("idle_watts"))).await.unwrap();
    idle.clear().await.unwrap();
    idle.send_keys("100").await.unwrap();
    s.click_css(&format!("{power_form} button[type=submit]")).await;
    wait_for("the new estimate", || async {
        s.text_of("#power-estimate").await.starts_with("Rack Server (user) · 100–300 W · about ")
    })
    .await;
    assert!(s.text_of("#edit-panel .ok-note").await.contains("Power settings saved."));
    assert_ne!(s.text_of("#power-estimate").await, before);
    let (_, web01) = hub.get("/api/v1/servers/web01").await;
    assert_eq!(
        (&web01["machine_category"], &web01["machine_category_source"], &web01["idle_watts"], &web01["tdp_watts"]),
        (&json!("rack_server"), &json!("user"), &json!(100), &json!(300))
    );
    s.assert_no_console_errors("server detail (power settings)").await;
    s.shoot_at("server-power", Some("#power-form")).await;
    s.eval("window.scrollTo(0, 0);").await;

    // Services: both reported services are offered; watch plex as critical through the form,
    // then pause watching it.
    s.wait_css("#svc-reported-nginx").await;
    s.wait_css("#svc-reported-plex").await;
    client.find(Locator::Css("#add-service input[name=service_name]")).await.unwrap().send_keys("plex").await.unwrap();
    client.find(Locator::Css("#add-service input[name=is_critical]")).await.unwrap().click().await.unwrap();
    client.find(Locator::XPath("//button[contains(., 'Watch service')]")).await.unwrap().click().await.unwrap();
    // Read in one step: a live update (the power change above) may swap the panel meanwhile.
    let row = s.text_of("#svc-plex .svc-state-running").await;
    assert!(row.contains("running"), "{row}");
    assert_eq!(s.eval("return !!document.querySelector('#svc-reported-plex');").await, false, "plex is watched now");
    assert_eq!(s.eval("return document.querySelector('#add-service input[name=service_name]').value;").await, "");
    let critical =
        s.eval("return document.querySelector('#svc-plex input[aria-label=\"plex is critical\"]').checked;").await;
    assert_eq!(critical, true);
    s.click_css("#svc-plex input[aria-label='Watch plex']").await;
    s.wait_css("#svc-plex.svc-disabled").await;
    let (_, services) = hub.get("/api/v1/servers/web01/services").await;
    assert_eq!(
        (&services["services"][0]["enabled"], &services["services"][0]["is_critical"]),
        (&json!(false), &json!(true))
    );
    s.click_css("#svc-plex input[aria-label='Watch plex']").await;
    wait_for("plex watched again", || async {
        s.eval("return !!document.querySelector('#svc-plex:not(.svc-disabled)');").await == true
    })
    .await;
    // The critical switch sends what it now shows (app.js's data-switch, not an evaluated hx-vals).
    s.click_css("#svc-plex input[aria-label='plex is critical']").await;
    wait_for("plex no longer critical", || async {
        hub.get("/api/v1/servers/web01/services").await.1["services"][0]["is_critical"] == json!(false)
    })
    .await;
    s.click_css("#svc-plex input[aria-label='plex is critical']").await;
    wait_for("plex critical again", || async {
        hub.get("/api/v1/servers/web01/services").await.1["services"][0]["is_critical"] == json!(true)
    })
    .await;
    s.assert_no_console_errors("server detail (tags, services)").await;
    s.shoot("server").await;
    // One click watches a service the agent reports.
    s.click_css("#svc-reported-nginx button").await;
    s.wait_css("#svc-nginx .svc-state-running").await;
    s.assert_no_console_errors("server detail (watching a reported service)").await;

    // Maintenance through the page.
    client.find(Locator::XPath("//button[contains(., 'Start maintenance')]")).await.unwrap().click().await.unwrap();
    s.wait_css("#edit-panel .chip-maint").await;
    assert!(hub.store.get_server("web01").await.unwrap().is_paused);

    // Alerts: acknowledge, then resolve, the newest alert (bulk actions are covered over HTTP
    // in web_handlers.rs).
    client.goto(&hub.url("/alerts")).await.unwrap();
    s.wait_css(".alerts-table tbody tr[id^='alert-']").await;
    s.shoot("alerts").await;
    // Status in colour as well as words; action cells stay cells, so rows line up.
    let cells = s
        .eval(
            "const c = document.querySelector('.alerts-table tbody tr[id^=alert-] .alert-status'); \
             const a = document.querySelector('.alerts-table td.actions'); \
             return [c.className, getComputedStyle(c).color !== getComputedStyle(document.body).color, getComputedStyle(a).display];",
        )
        .await;
    assert_eq!(cells, json!(["alert-status status-word-open", true, "table-cell"]));
    // A live refresh of the list waits while alerts are selected (app.js's data-hold-while, not
    // an evaluated trigger filter) and goes once none is. The page records each refresh the list
    // asked for and whether it was held (app.js's listener ran first).
    wait_for("the live-update stream", || async { s.eval(SSE_STATE).await == json!(1) }).await;
    s.eval(
        "window.__alertRefreshes = []; document.addEventListener('htmx:beforeRequest', function (e) { \
         if (e.detail.elt.id === 'alerts') window.__alertRefreshes.push(e.defaultPrevented); });",
    )
    .await;
    let first_box = ".alerts-table tbody tr[id^='alert-'] input[name=ids]";
    s.click_css(first_box).await;
    assert_eq!(hub.heartbeat(heartbeat_body("web01", hub.now(), 21.0)).await.0, 200);
    wait_for("a live refresh asked for", || async { s.eval("return window.__alertRefreshes.length;").await != 0 })
        .await;
    assert_eq!(s.eval("return window.__alertRefreshes;").await, json!([true]), "held while selected");
    let checked = format!("return document.querySelector(\"{first_box}\").checked;");
    assert_eq!(s.eval(&checked).await, true, "the selection was kept");
    s.click_css(first_box).await;
    assert_eq!(hub.heartbeat(heartbeat_body("web01", hub.now(), 22.0)).await.0, 200);
    wait_for("a second live refresh asked for", || async {
        s.eval("return window.__alertRefreshes.length;").await == 2
    })
    .await;
    assert_eq!(s.eval("return window.__alertRefreshes;").await, json!([true, false]), "sent once nothing is selected");
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

    // The server filter is a picker of names: the nas's alerts only.
    let options =
        s.eval("return [...document.querySelectorAll('select[name=server_id] option')].map(o => o.textContent);").await;
    assert!(options.as_array().unwrap().iter().any(|o| o == "nas.home.lan (nas)"), "{options}");
    client.find(Locator::Css("select[name=server_id]")).await.unwrap().select_by_value("nas").await.unwrap();
    wait_for("only the nas's alerts", || async {
        s.eval("return [...document.querySelectorAll('.alerts-table tbody tr[id^=alert-] td:nth-child(4)')].map(t => t.textContent.trim());")
            .await == json!(["nas.home.lan"])
    })
    .await;

    // The alert's detail: its timeline, with the webhook delivery of its firing.
    let first_id = s.eval("return document.querySelector('.alerts-table tbody tr[id^=alert-]').id;").await;
    assert_eq!(first_id, format!("alert-{}", seeded.disk_alert));
    client
        .find(Locator::Css(&format!("#alert-{} a[href='/alerts/{}']", seeded.disk_alert, seeded.disk_alert)))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    s.wait_css(".timeline .tl-resolved").await;
    let kinds =
        s.eval("return [...document.querySelectorAll('.timeline .tl')].map(l => l.className.split(' ')[1]);").await;
    assert_eq!(kinds, json!(["tl-fired", "tl-acknowledged", "tl-resolved"]));
    let fired = client.find(Locator::Css(".tl-fired")).await.unwrap().text().await.unwrap();
    assert!(fired.contains("hook") && fired.contains("delivered"), "{fired}");
    let resolved = client.find(Locator::Css(".tl-resolved")).await.unwrap().text().await.unwrap();
    assert!(resolved.contains("Resolved by hand"), "{resolved}");
    s.assert_no_console_errors("alert detail").await;
    s.shoot("alert-detail").await;

    // The other alert, acknowledged through the API earlier, can still be resolved from its page.
    client.goto(&hub.url(&format!("/alerts/{}", seeded.media_alert))).await.unwrap();
    s.wait_css(".timeline .tl-acknowledged").await;
    client.find(Locator::XPath("//button[contains(., 'Resolve')]")).await.unwrap().click().await.unwrap();
    s.wait_css(".timeline .tl-resolved").await;
    let note = s.wait_css("#alert-detail .ok-note").await.text().await.unwrap();
    assert!(note.contains("Resolved."), "{note}");
    s.assert_no_console_errors("alert detail (resolve)").await;

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
        command.starts_with("curl -sSL http://127.0.0.1:")
            && command.contains("install.sh | sudo bash -s -- --token hlh_rt_"),
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

    // Notifications: the channel (secret part of the URL masked), its test button against the
    // real receiver, a new channel through the form, and the delivery log.
    client.find(Locator::Css("a[href='/settings/notifications']")).await.unwrap().click().await.unwrap();
    let row = s.wait_css("#channel-hook").await.text().await.unwrap();
    assert!(row.contains("webhook") && row.contains("/…") && !row.contains("/hook"), "{row}");
    let before = receiver.received().len();
    client.find(Locator::Css("#channel-hook button")).await.unwrap().click().await.unwrap();
    let result = s.wait_css(".test-result").await.text().await.unwrap();
    assert!(result.contains("Test to hook: Test message sent successfully"), "{result}");
    let got = receiver.wait_for(before + 1).await;
    let test_message = got.last().unwrap().json();
    assert!(test_message["delivery_id"].as_str().is_some_and(|id| id.starts_with("test-")), "{test_message}");
    // Only the chosen kind's fields show.
    let ntfy_shown = "return getComputedStyle(document.querySelector('#channel-form .kind-ntfy')).display !== 'none';";
    assert_eq!(s.eval(ntfy_shown).await, false);
    client.find(Locator::Css("#channel-form select[name=kind]")).await.unwrap().select_by_value("ntfy").await.unwrap();
    assert_eq!(s.eval(ntfy_shown).await, true);
    client.find(Locator::Css("#channel-form input[name=id]")).await.unwrap().send_keys("phone").await.unwrap();
    client
        .find(Locator::Css("#channel-form input[name=topic_url]"))
        .await
        .unwrap()
        .send_keys("ntfy.lan/alerts")
        .await
        .unwrap();
    client.find(Locator::XPath("//button[contains(., 'Add channel')]")).await.unwrap().click().await.unwrap();
    let error = s.wait_css("#channel-form .field-error").await.text().await.unwrap();
    assert!(error.contains("topic url: should be an http"), "{error}");
    s.assert_only_refusals("notifications (a refused channel)", &["/ui/channels"]).await;
    let topic = client.find(Locator::Css("#channel-form input[name=topic_url]")).await.unwrap();
    topic.clear().await.unwrap();
    topic.send_keys("https://ntfy.lan/alerts").await.unwrap();
    client.find(Locator::XPath("//button[contains(., 'Add channel')]")).await.unwrap().click().await.unwrap();
    s.wait_css("#channel-phone").await;
    let log = s.wait_css("#deliveries").await.text().await.unwrap();
    assert!(log.contains("hook") && log.contains("delivered") && log.contains("Critical DISK usage on nas"), "{log}");
    s.assert_no_console_errors("notifications").await;
    s.shoot("notifications").await;

    // Logout goes back to the login page.
    client.find(Locator::XPath("//button[contains(., 'Log out')]")).await.unwrap().click().await.unwrap();
    s.wait_css("#api_key").await;

    println!("screenshots: {}", s.shots.display());
    client.close().await.unwrap();
    drop(driver);
    hub.stop().await;
}

/// The chart axis and tick rules (`assets/chart-scale.js`), called as pure functions in the
/// browser that runs them: percentages on 0–100 unless zoomed, ticks that never repeat, rate
/// axes in one unit that fits, a sensible time span around a single sample, points while sparse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_axes_and_ticks_follow_the_rules() {
    let Some((driver, client, _profile)) = start_browser().await else { return };
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    client.goto(&hub.url("/login")).await.unwrap();
    let script = hub.url(&homelab_hub::web::assets::urls().chart_scale_js);
    client
        .execute(
            "var s = document.createElement('script'); s.src = arguments[0]; document.head.appendChild(s);",
            vec![json!(script)],
        )
        .await
        .unwrap();
    let eval = |script: &'static str| {
        let client = client.clone();
        async move { client.execute(script, vec![]).await.unwrap() }
    };
    wait_for("chart-scale.js to load", || async { eval("return !!window.HlcScale;").await == true }).await;

    let cases = eval(
        "const S = window.HlcScale;
         const axis = (kind, lo, hi, zoomed) => { const r = S.yRange(kind, lo, hi, zoomed);
           return {range: r, labels: S.labels(kind, S.ticks(kind, r[0], r[1]).values)}; };
         return {
           flatCpu: axis('percent', 14.9, 15.0, false),
           zoomedCpu: axis('percent', 14.9, 15.0, true),
           noData: axis('percent', null, null, false),
           net: axis('rate', 0, 25000, false),
           quietNet: axis('rate', 0, 0, false),
           fastNet: axis('rate', 0, 80e6, false),
           load: axis('load', 0, 0.3, false),
           oneSample: S.xRange(1000, 1000, S.minSpan('24h')),
           yearOneBucket: S.xRange(86400, 86400, S.minSpan('12m')),
           wide: S.xRange(0, 86400, S.minSpan('24h')),
           pointsFew: S.showPoints(1, 500), pointsMany: S.showPoints(1440, 500),
           width: S.axisWidth(['0 KiB/s', '24.4 KiB/s'], t => t.length * 7),
           noteOne: S.historyNote('24h', 1000, 1000, 1),
           noteHour: S.historyNote('24h', 0, 3600, 60),
           noteFull: S.historyNote('24h', 0, 86000, 1440),
           hours: S.timeLabels([1768820400, 1768824000, 1768827600], 3600),
           days: S.timeLabels([1768780800, 1768867200], 86400),
           months: S.timeLabels([1767225600], 31 * 86400),
         };",
    )
    .await;
    assert_eq!(cases["flatCpu"], json!({"range": [0, 100], "labels": ["0 %", "25 %", "50 %", "75 %", "100 %"]}));
    assert_eq!(cases["noData"]["range"], json!([0, 100]));
    let zoomed = &cases["zoomedCpu"];
    assert!(zoomed["range"][0].as_f64().unwrap() >= 14.0 && zoomed["range"][1].as_f64().unwrap() <= 16.0, "{zoomed}");
    assert_eq!(zoomed["labels"], json!(["14.8 %", "14.9 %", "15.0 %"]));
    assert_eq!(cases["net"]["labels"], json!(["0 KiB/s", "10 KiB/s", "20 KiB/s", "30 KiB/s"]));
    assert_eq!(
        cases["quietNet"]["labels"],
        json!(["0.00 KiB/s", "0.25 KiB/s", "0.50 KiB/s", "0.75 KiB/s", "1.00 KiB/s"])
    );
    assert_eq!(cases["fastNet"]["labels"], json!(["0 MiB/s", "20 MiB/s", "40 MiB/s", "60 MiB/s", "80 MiB/s"]));
    assert_eq!(cases["load"]["labels"], json!(["0.00", "0.25", "0.50", "0.75", "1.00"]));
    assert_eq!(cases["oneSample"], json!([700, 1300]), "ten minutes around one sample");
    assert_eq!(cases["yearOneBucket"], json!([-86400, 259200]), "four days around one daily bucket");
    assert_eq!(cases["wide"], json!([0, 86400]));
    assert_eq!((&cases["pointsFew"], &cases["pointsMany"]), (&json!(true), &json!(false)));
    assert_eq!(cases["width"], json!(10 * 7 + 18), "the longest label fits");
    assert!(cases["noteOne"].as_str().unwrap().contains("Collecting history: one sample so far"), "{cases}");
    assert!(cases["noteHour"].as_str().unwrap().contains("60 minutes of samples"), "{cases}");
    assert_eq!(cases["noteFull"], "");
    // British, 24-hour time labels; the date under the first and where the day changes.
    let hours: Vec<&str> = cases["hours"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let clock =
        |t: &str| t.len() == 5 && t.as_bytes()[2] == b':' && t.replace(':', "").bytes().all(|b| b.is_ascii_digit());
    assert!(hours.iter().all(|l| clock(l.split('\n').next().unwrap())), "{hours:?}");
    assert!(hours[0].contains("\n") && hours[0].contains(" Jan"), "{hours:?}");
    assert!(cases["days"][0].as_str().unwrap().contains(" Jan\n2026"), "{cases}");
    assert!(
        cases["months"][0].as_str().unwrap().ends_with(" 2026")
            || cases["months"][0].as_str().unwrap().ends_with(" 2025")
    );

    // Any data range: ticks inside the range, 2 to 12 of them, every label different.
    let failures = eval(
        "const S = window.HlcScale; const bad = []; let seed = 7;
         const rnd = () => { seed = (seed * 16807) % 2147483647; return seed / 2147483647; };
         for (const kind of ['percent', 'load', 'rate']) for (const zoomed of [false, true]) for (let i = 0; i < 400; i++) {
           const scale = kind === 'rate' ? Math.pow(10, rnd() * 10) : kind === 'load' ? rnd() * 40 : 100;
           let a = rnd() * scale, b = rnd() * scale; if (rnd() < 0.2) b = a;
           const lo = Math.min(a, b), hi = Math.max(a, b);
           const r = S.yRange(kind, lo, hi, zoomed);
           const t = S.ticks(kind, r[0], r[1]); const labels = S.labels(kind, t.values);
           const ok = r[0] <= lo + 1e-9 && r[1] >= hi - 1e-9 && t.values.length >= 2 && t.values.length <= 12
             && new Set(labels).size === labels.length && t.values.every(v => v >= r[0] - 1e-9 && v <= r[1] + 1e-9);
           if (!ok) bad.push({kind, zoomed, lo, hi, range: r, labels});
         }
         return bad.slice(0, 5);",
    )
    .await;
    assert_eq!(failures, json!([]), "axes that break the rules");
    client.close().await.unwrap();
    drop(driver);
    hub.stop().await;
}

/// A new user's first hour, as the issue tells it: start the hub and see this machine (the
/// built-in agent), add a second machine from the dashboard with one command (it waits for its
/// first heartbeat, then reports every service unit), watch one of its services with one click,
/// and get a test notification. Screenshots of each step at desktop and phone width in both
/// themes (`first-hour-*`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_users_first_hour() {
    let Some((driver, client, _profile)) = start_browser().await else { return };
    let hub = TestHub::start_with_local_agent("this-machine").await;
    // This machine's own disks must not alert (the test counts one alert); 97 % on the second
    // machine still does.
    let (status, body) =
        hub.put("/api/v1/config/thresholds", json!({"disk": {"high_percent": 90, "critical_percent": 99}})).await;
    assert_eq!(status, 200, "{body}");
    let receiver = FakeReceiver::start(&[]).await;
    let s =
        Session { client: &client, driver_base: format!("http://127.0.0.1:{}", driver.port), shots: screenshot_dir() };
    s.watch_csp().await;

    // Start the hub and see this machine.
    client.goto(&hub.url("/")).await.unwrap();
    s.wait_css("#api_key").await.send_keys(API_KEY).await.unwrap();
    client.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
    s.wait_css("#add-machine").await;
    // The built-in agent's first heartbeat (about two seconds in; the live update adds the card).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status =
            s.eval("var c = document.getElementById('card-this-machine'); return c ? c.dataset.status : '';").await;
        if status == "online" || status == "warning" {
            break;
        }
        assert!(Instant::now() < deadline, "this machine did not report: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let summary = s.text_of("#summary").await;
    assert!(summary.contains("1\nmachine") || summary.contains("1 machine"), "{summary}");
    s.assert_no_console_errors("fleet (first start)").await;
    s.shoot("first-hour-1-fleet").await;

    // Add a machine from the fleet page: one command with a fresh token.
    // (Open already if the page was loaded before this machine's card arrived: an empty fleet.)
    if s.eval("return document.getElementById('add-machine').open;").await == false {
        s.click_css("#add-machine summary").await;
    }
    s.wait_css("#install input[name=display_name]").await.send_keys("garage-pi").await.unwrap();
    s.click_css("#install button[type=submit]").await;
    let command = s.wait_css("#install-one-command").await.text().await.unwrap();
    let prefix =
        format!("curl -sSL {}/api/v1/agents/register/install.sh | sudo bash -s -- --token hlh_rt_", hub.url(""));
    assert!(command.starts_with(&prefix), "{command}");
    let token = command.rsplit(' ').next().unwrap().to_owned();
    let register = s.wait_css("#install-register").await.text().await.unwrap();
    assert!(register.starts_with("homelabcmd-agent register --hub http://127.0.0.1:") && register.ends_with(&token));
    s.assert_no_console_errors("fleet (add a machine)").await;
    s.shoot("first-hour-2-add-machine").await;

    // The new machine's agent claims the token: the machine exists, waiting for its heartbeat.
    let (status, claimed) = hub
        .post_raw(
            "/api/v1/agents/register/claim",
            &[],
            serde_json::to_vec(&json!({"token": token, "server_id": "garage-pi", "hostname": "garage-pi.home.lan"}))
                .unwrap(),
        )
        .await;
    assert_eq!(status, 200, "{claimed}");
    assert!(hub.store.get_server("garage-pi").await.unwrap().last_seen.is_none(), "registered, never heard from");
    client.refresh().await.unwrap();
    let badge = s.text_of("#card-garage-pi .badge").await;
    assert!(badge.contains("Waiting"), "not a red OFFLINE: {badge}");
    let foot = s.text_of("#card-garage-pi .card-foot").await;
    assert!(foot.contains("Waiting for its first heartbeat") && !foot.contains("seen never"), "{foot}");
    let summary = s.text_of("#summary").await;
    assert!(summary.contains("waiting for first heartbeat"), "{summary}");
    let offline = s.eval("return document.querySelector('#summary .stat-offline .stat-n').textContent;").await;
    assert_eq!(offline, "0", "a machine that never reported is not offline");
    s.click_css("#card-garage-pi .waiting-note a").await;
    let waiting = s.wait_css("#connect").await.text().await.unwrap();
    assert!(waiting.contains("Waiting for the first heartbeat") && waiting.contains("garage-pi.home.lan"), "{waiting}");
    let packages = s.wait_css("#packages").await.text().await.unwrap();
    assert!(packages.contains("Not reported yet.") && !packages.contains("Up to date"), "{packages}");
    s.click_css("#connect #install button[type=submit]").await;
    let again = s.wait_css("#connect #install-one-command").await.text().await.unwrap();
    assert!(again.starts_with(&prefix) && !again.ends_with(&token), "a fresh token: {again}");
    s.assert_no_console_errors("a machine waiting for its first heartbeat").await;
    s.shoot("first-hour-3-waiting").await;

    // Its first heartbeat: every service unit's state (one `systemctl list-units`), and 25
    // pending packages, 3 of them security updates.
    let mut body = heartbeat_body("garage-pi", hub.now(), 12.0);
    body["services"] = json!([
        {"name": "cron", "status": "running"}, {"name": "nginx", "status": "running"},
        {"name": "rpi-eeprom-update", "status": "failed"}, {"name": "ssh", "status": "running"},
        {"name": "lighttpd", "status": "stopped"}
    ]);
    body["packages"] = json!((0..25)
        .map(|i| json!({"name": format!("pkg{i:02}"), "current_version": "1.0", "new_version": "1.1",
                        "repository": if i % 8 == 0 { "bookworm-security" } else { "bookworm" }, "is_security": i % 8 == 0}))
        .collect::<Vec<_>>());
    body["updates_available"] = json!(25);
    body["security_updates"] = json!(4);
    let guid = claimed["server_guid"].as_str().unwrap_or_default().to_owned();
    let agent_token = claimed["api_token"].as_str().unwrap_or_default().to_owned();
    let (status, answer) = hub.heartbeat_as_agent(&agent_token, &guid, body).await;
    assert_eq!(status, 200, "{answer}");
    client.refresh().await.unwrap();
    s.wait_css("#svc-reported-nginx").await;
    assert_eq!(s.eval("return !!document.getElementById('connect');").await, false, "no longer waiting");
    // Its charts from the first sample: a dot on each, and the note.
    s.wait_css("#history[data-loaded='24h'] #chart-cpu .uplot").await;
    let note = s.wait_css("#history-note").await.text().await.unwrap();
    assert!(note.contains("one sample so far"), "{note}");
    s.eval("document.getElementById('history').scrollIntoView(); return 0;").await;
    s.shoot("first-hour-4-charts").await;

    // Pending packages: security first and only, ten at a time, all on request.
    let visible =
        "return [...document.querySelectorAll('#packages tbody tr')].filter(r => r.getClientRects().length).length;";
    assert_eq!(s.eval(visible).await, 4, "the security updates");
    s.click_css("#packages [data-pkg-show=all]").await;
    assert_eq!(s.eval(visible).await, 10, "the first ten");
    let first = s.eval("return document.querySelector('#packages tbody tr').textContent;").await;
    assert!(first.as_str().unwrap().contains("security"), "security first: {first}");
    s.click_css("#packages [data-pkg-more]").await;
    assert_eq!(s.eval(visible).await, 25);
    s.click_css("#packages [data-pkg-more]").await;

    // Watch a service with one click: no agent configuration.
    s.click_css("#svc-reported-nginx button").await;
    s.wait_css("#svc-nginx .svc-state-running").await;
    assert_eq!(hub.get("/api/v1/servers/garage-pi/services").await.1["services"][0]["service_name"], "nginx");
    s.assert_no_console_errors("server (watching a reported service)").await;
    s.shoot("first-hour-4-server").await;

    // Get a test notification.
    client.goto(&hub.url("/settings/notifications")).await.unwrap();
    s.wait_css("#channel-form input[name=id]").await.send_keys("phone").await.unwrap();
    client
        .find(Locator::Css("#channel-form select[name=kind]"))
        .await
        .unwrap()
        .select_by_value("webhook")
        .await
        .unwrap();
    client.find(Locator::Css("#channel-form input[name=url]")).await.unwrap().send_keys(&receiver.url).await.unwrap();
    client.find(Locator::XPath("//button[contains(., 'Add channel')]")).await.unwrap().click().await.unwrap();
    s.click_css("#channel-phone button").await;
    let result = s.wait_css(".test-result").await.text().await.unwrap();
    assert!(result.contains("Test to phone: Test message sent successfully"), "{result}");
    assert_eq!(receiver.wait_for(1).await.len(), 1);
    s.assert_no_console_errors("notifications (test)").await;
    s.shoot("first-hour-5-notifications").await;

    // A real alert reaches the channel, and the fleet page acknowledges it.
    let mut body = heartbeat_body("garage-pi", hub.now() + Span::seconds(60), 12.0);
    body["metrics"]["disk_percent"] = json!(97.0);
    body["filesystems"][0]["percent"] = json!(97.0);
    let (status, answer) = hub.heartbeat_as_agent(&agent_token, &guid, body).await;
    assert_eq!(status, 200, "{answer}");
    hub.step_dispatcher().await;
    let got = receiver.wait_for(2).await;
    let alert = got.last().unwrap().json().to_string();
    assert!(alert.contains("garage-pi") && alert.contains("DISK"), "{alert}");
    client.goto(&hub.url("/")).await.unwrap();
    let banner = s.text_of("#alert-banner").await;
    assert!(banner.contains("1 open alert") && !banner.contains("1 open alerts"), "{banner}");
    let stat = s.text_of("#summary .stat-alerts").await;
    assert!(stat.contains("open alert") && !stat.contains("open alerts"), "one alert, singular: {stat}");
    s.shoot("first-hour-6-alert").await;
    s.click_css("#alert-banner button[aria-label^='Acknowledge']").await;
    wait_for("the banner to clear", || async {
        s.eval("return document.getElementById('alert-banner').classList.contains('banner-clear');").await == true
    })
    .await;
    let (_, open) = hub.get("/api/v1/alerts?status=acknowledged&server_id=garage-pi").await;
    assert_eq!(open["total"], 1, "{open}");
    s.assert_no_console_errors("fleet (acknowledge)").await;

    client.close().await.unwrap();
    drop(driver);
    hub.stop().await;
}

/// Containers, sensors, disk health and GPUs (issue 15): the server page's panels, watching a
/// container with its button, and the fleet card's counts and filter; screenshots `inventory-*`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn containers_sensors_and_disks_in_a_real_browser() {
    let Some((driver, client, _profile)) = start_browser().await else { return };
    let hub = TestHub::start(Backend::Sqlite).await.unwrap();
    let s =
        Session { client: &client, driver_base: format!("http://127.0.0.1:{}", driver.port), shots: screenshot_dir() };
    s.watch_csp().await;
    assert_eq!(hub.heartbeat(heartbeat_body("web01", hub.now(), 20.0)).await.0, 200);
    let mut body = heartbeat_body("nas", hub.now(), 30.0);
    let started = (hub.now() - Span::hours(26)).to_rfc3339();
    body["containers"] = json!([
        {"id": "a1", "name": "jellyfin", "image": "jellyfin/jellyfin:10.9", "state": "running", "health": "healthy",
         "restart_count": 0, "started_at": started, "cpu_percent": 12.4, "memory_used_bytes": 734_003_200,
         "memory_limit_bytes": 4_294_967_296_i64, "compose_project": "media", "compose_service": "jellyfin"},
        {"id": "b2", "name": "sonarr", "image": "lscr.io/linuxserver/sonarr:latest", "state": "exited", "exit_code": 137,
         "restart_count": 3, "compose_project": "media", "compose_service": "sonarr"},
        {"id": "c3", "name": "postgres", "image": "postgres:16", "state": "running", "health": "healthy",
         "started_at": started, "cpu_percent": 1.2, "memory_used_bytes": 120_586_240, "compose_project": "immich"},
        {"id": "d4", "name": "watchtower", "image": "containrrr/watchtower", "state": "running", "started_at": started,
         "cpu_percent": 0.0, "memory_used_bytes": 9_437_184}
    ]);
    body["temperatures"] = json!([
        {"sensor": "coretemp/Package id 0", "kind": "cpu", "celsius": 58.0, "high_celsius": 80.0, "critical_celsius": 100.0},
        {"sensor": "nvme0/Composite", "kind": "drive", "celsius": 63.0},
        {"sensor": "acpitz/temp1", "kind": "ambient", "celsius": 27.8}
    ]);
    body["fans"] = json!([{"sensor": "nct6775/fan2", "rpm": 1180.0}]);
    body["disk_health"] = json!([
        {"device": "/dev/sda", "model": "WDC WD40EFRX-68N32N0", "protocol": "ata", "passed": true, "temperature_celsius": 36.0,
         "power_on_hours": 31_204, "reallocated_sectors": 0, "pending_sectors": 0, "uncorrectable_sectors": 0},
        {"device": "/dev/nvme0", "model": "Samsung SSD 980 PRO 1TB", "protocol": "nvme", "passed": true,
         "temperature_celsius": 63.0, "power_on_hours": 9_870, "percentage_used": 4, "media_errors": 0}
    ]);
    body["raid_arrays"] =
        json!([{"name": "md0", "level": "raid1", "state": "clean", "devices_total": 2, "devices_active": 2}]);
    body["zfs_pools"] = json!([{"name": "tank", "health": "ONLINE", "size_bytes": 7_999_999_999_999_i64, "allocated_bytes": 3_100_000_000_000_i64}]);
    body["gpus"] = json!([{"id": "nvidia0", "vendor": "nvidia", "name": "NVIDIA GeForce RTX 3060", "utilisation_percent": 37.0,
        "memory_used_bytes": 2_147_483_648_i64, "memory_total_bytes": 12_884_901_888_i64, "temperature_celsius": 61.0,
        "power_watts": 74.5}]);
    let (status, answer) = hub.heartbeat(body).await;
    assert_eq!(status, 200, "{answer}");

    client.goto(&hub.url("/servers/nas")).await.unwrap();
    s.wait_css("#api_key").await.send_keys(API_KEY).await.unwrap();
    client.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
    client.goto(&hub.url("/servers/nas")).await.unwrap();
    s.wait_css("#containers").await;
    assert_eq!(s.text_of("#containers-count").await, "3 of 4 running");
    let groups =
        s.eval("return [...document.querySelectorAll('#containers .ctr-group th')].map(h => h.innerText);").await;
    assert_eq!(groups, json!(["immich 1", "media 2", "Other 1"]));
    let jellyfin = s.text_of("#ctr-jellyfin").await;
    for shown in ["jellyfin/jellyfin:10.9", "running", "healthy", "12.4 %", "700.0 MiB / 4.0 GiB", "1 d 2 h"] {
        assert!(jellyfin.contains(shown), "{shown} in {jellyfin}");
    }
    let sensors = s.text_of("#sensors").await;
    assert!(sensors.contains("nvme0/Composite") && sensors.contains("60 °C, critical 70 °C"), "{sensors}");
    assert!(sensors.contains("1180 rpm"), "{sensors}");
    let disks = s.text_of("#disk-health").await;
    assert!(
        disks.contains("PASSED") && disks.contains("NVMe 4 % used, 0 media errors") && disks.contains("tank"),
        "{disks}"
    );
    assert!(s.text_of("#gpus").await.contains("74 W") || s.text_of("#gpus").await.contains("75 W"));
    // Temperature and GPU charts from the series endpoint, one line per sensor or GPU.
    wait_for("the charts", || async {
        s.eval("return document.getElementById('history').dataset.loaded || '';").await == "24h"
    })
    .await;
    let lines = "return [...document.querySelectorAll('#chart-temp .u-legend .u-series, #chart-gpu .u-legend .u-series')]\
                 .map(e => e.innerText.split('\\n')[0].trim()).filter(t => t);";
    let legend = s.eval(lines).await;
    for sensor in ["coretemp/Package id 0", "nvme0/Composite", "nvidia0"] {
        assert!(
            legend.as_array().unwrap().iter().any(|l| l.as_str().unwrap().contains(sensor)),
            "{sensor} charted: {legend}"
        );
    }
    assert!(s.eval("return document.getElementById('chart-temp').querySelector('canvas') !== null;").await == true);
    s.assert_no_console_errors("server page with containers").await;

    // Watch the stopped container with its button: it shows as watched and down.
    s.click_css("button[aria-label='Watch sonarr']").await;
    s.wait_css("button[aria-label='Stop watching sonarr']").await;
    assert!(s.text_of("#containers-down").await.contains("sonarr"));
    assert!(s.eval("return document.getElementById('ctr-sonarr').classList.contains('ctr-down');").await == true);
    assert_eq!(hub.get("/api/v1/servers/nas/inventory").await.1["watched_containers"], json!(["sonarr"]));
    // And every running one with the switch.
    s.click_css("#watch-all").await;
    wait_for("watch all on", || async {
        s.eval("var b = document.getElementById('watch-all'); return b && b.getAttribute('aria-pressed');").await
            == "true"
    })
    .await;
    s.wait_css("button[aria-label='Stop watching jellyfin']").await;
    s.assert_no_console_errors("watching containers").await;
    // The theme switch's click scrolls back to the top: what is above the panels is set aside
    // for their screenshots instead.
    let set_aside = |selectors: &str| {
        format!("document.querySelectorAll({selectors:?}).forEach(e => e.style.display = 'none'); return 0;")
    };
    s.eval(&set_aside(".detail-top, #chart-cpu, #chart-memory, #chart-disk, #chart-load, #chart-net")).await;
    s.shoot("inventory-charts").await;
    s.eval(&set_aside("#history")).await;
    s.shoot("inventory-containers").await;
    s.eval(&set_aside("#containers-section, #services-section, #srv-alerts-title")).await;
    s.eval("document.getElementById('srv-alerts-title').parentElement.style.display = 'none'; return 0;").await;
    s.shoot("inventory-hardware").await;

    // The fleet: counts on the card, and the filter for a container down.
    client.goto(&hub.url("/")).await.unwrap();
    let card = s.text_of("#card-nas").await;
    assert!(card.contains("3/4 containers") && card.contains("63 °C"), "{card}");
    assert!(!s.text_of("#card-web01").await.contains("containers"));
    s.eval(
        "var f = document.getElementById('fleet-containers'); f.value = 'down'; f.dispatchEvent(new Event('change'));",
    )
    .await;
    assert_eq!(s.eval(VISIBLE_CARDS).await, json!(["card-nas"]));
    s.shoot("inventory-fleet").await;
    s.eval("var f = document.getElementById('fleet-containers'); f.value = ''; f.dispatchEvent(new Event('change'));")
        .await;
    assert_eq!(s.eval(VISIBLE_CARDS).await, json!(["card-nas", "card-web01"]));
    s.assert_no_console_errors("fleet with containers").await;
}
