//! The agent against the real hub binary, end to end: registration with a one-time token,
//! heartbeats with the per-agent token, the server in the list with metrics; and the spool: the
//! hub is SIGKILLed and restarted while the agent keeps sending, and every heartbeat arrives,
//! in order, none twice.
//!
//! The hub is the real `homelabcmd` process (so SIGKILL is real); the agent is the real loop
//! (`homelab_agent::runner`) in a thread of this test, with the real HTTP client wrapped to record
//! what it sent and what the hub acknowledged.

use crate::common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::process::{free_port, spawn_hub, wait_until_ready};
use homelab_agent::client::{HttpClient, HttpResponse, Transport, TransportError};
use homelab_agent::config::{self, Config, Settings};
use homelab_agent::register::{Registration, register};
use homelab_agent::runner::{Shutdown, run_with};
use serde_json::{Value, json};

const KEY: &str = "agent-e2e-test-key";
const SERVER_ID: &str = "e2e-agent";

async fn get(client: &reqwest::Client, url: String) -> Value {
    let response = client.get(url).header("X-API-Key", KEY).send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap()
}

/// Polls `check` on `GET url` until it holds, or fails after `limit`.
async fn poll(client: &reqwest::Client, url: &str, limit: Duration, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let value = get(client, url.to_owned()).await;
        if check(&value) {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up waiting on {url}; last answer: {value}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One request as the agent made it.
#[derive(Debug, Clone)]
struct Attempt {
    timestamp: String,
    acknowledged: bool,
}

/// The agent's real HTTP client, recording every heartbeat it tried to send.
#[derive(Clone)]
struct Recording {
    inner: HttpClient,
    attempts: Arc<Mutex<Vec<Attempt>>>,
}

impl Transport for Recording {
    fn post_json(&self, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<HttpResponse, TransportError> {
        let result = self.inner.post_json(url, headers, body);
        let heartbeat: Value = serde_json::from_slice(body).unwrap();
        let acknowledged = matches!(&result, Ok(r) if r.status == 200);
        if let Ok(response) = &result {
            assert!(
                response.status == 200 || response.status >= 500,
                "unexpected answer {}: {}",
                response.status,
                response.body
            );
        }
        let timestamp = heartbeat["timestamp"].as_str().unwrap().to_owned();
        self.attempts.lock().unwrap().push(Attempt { timestamp, acknowledged });
        result
    }
}

struct RunningAgent {
    shutdown: Shutdown,
    attempts: Arc<Mutex<Vec<Attempt>>>,
    handle: JoinHandle<()>,
}

impl RunningAgent {
    fn start(config: Config) -> RunningAgent {
        let shutdown = Shutdown::new();
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let transport = Recording { inner: HttpClient::new(config.request_timeout), attempts: Arc::clone(&attempts) };
        let handle = thread::spawn({
            let shutdown = shutdown.clone();
            move || run_with(&config, transport, &shutdown).unwrap()
        });
        RunningAgent { shutdown, attempts, handle }
    }

    fn attempts(&self) -> Vec<Attempt> {
        self.attempts.lock().unwrap().clone()
    }

    fn stop(self) -> Vec<Attempt> {
        self.shutdown.request();
        self.handle.join().unwrap();
        self.attempts.lock().unwrap().clone()
    }
}

/// Registers through the hub's API exactly as `homelabcmd-agent register` does and returns the
/// configuration the agent would run with (file written by `register`, plus test settings).
async fn register_agent(client: &reqwest::Client, base: &str, dir: &Path, interval_ms: u64) -> Config {
    let created = client
        .post(format!("{base}/api/v1/agents/register/tokens"))
        .header("X-API-Key", KEY)
        .json(&json!({"display_name": "E2E agent"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let token = created.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let config_path = dir.join("etc/config.toml");
    let request = Registration {
        hub_url: base.to_owned(),
        token,
        server_id: SERVER_ID.into(),
        hostname: "e2e-agent.home.lan".into(),
    };
    let registered = tokio::task::spawn_blocking({
        let path = config_path.clone();
        move || register(&request, &path, &HttpClient::new(Duration::from_secs(10))).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(registered.server_id, SERVER_ID);

    let file = config::read_file(&config_path, true).unwrap();
    assert!(file.api_token.as_deref().is_some_and(|t| t.starts_with("hlh_ag_")));
    let flags = Settings {
        hostname: Some("e2e-agent.home.lan".into()),
        heartbeat_interval_ms: Some(interval_ms),
        collect_packages: Some(false),
        state_dir: Some(dir.join("state")),
        request_timeout: Some(5),
        ..Settings::default()
    };
    config::resolve(file, Settings::default(), flags).unwrap()
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("hub.db").display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_agent_appears_with_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut hub = spawn_hub(&sqlite_url(dir.path()), port, KEY);
    wait_until_ready(&client, &base, &mut hub).await;

    let config = register_agent(&client, &base, dir.path(), 200).await;
    let agent = RunningAgent::start(config.clone());

    let servers =
        poll(&client, &format!("{base}/api/v1/servers"), Duration::from_secs(30), |list| {
            list["servers"].as_array().into_iter().flatten().any(|s| {
                s["id"] == SERVER_ID && s["latest_metrics"]["memory_total_mb"].as_u64().is_some_and(|mb| mb > 0)
            })
        })
        .await;
    let server = servers["servers"].as_array().unwrap().iter().find(|s| s["id"] == SERVER_ID).unwrap().clone();
    assert_eq!(server["guid"].as_str(), config.server_guid.as_deref());
    assert_eq!(server["hostname"], "e2e-agent.home.lan");
    assert_eq!(server["status"], "online");
    assert_eq!(server["agent_version"], homelab_agent::AGENT_VERSION);
    assert!(server["latest_metrics"]["uptime_seconds"].as_u64().is_some(), "{server}");
    assert!(server["kernel_version"].as_str().is_some(), "{server}");

    poll(&client, &format!("{base}/api/v1/servers/{SERVER_ID}/metrics?range=24h"), Duration::from_secs(30), |h| {
        h["data_points"]
            .as_array()
            .is_some_and(|points| points.len() >= 3 && points.iter().all(|p| p["memory_percent"].as_f64().is_some()))
    })
    .await;
    let attempts = agent.stop();
    assert!(attempts.iter().all(|a| a.acknowledged), "{attempts:?}");
    hub.kill().unwrap();
    hub.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_spool_bridges_a_hub_killed_mid_stream() {
    let dir = tempfile::tempdir().unwrap();
    spool_bridges_a_hub_killed_mid_stream(dir.path(), &sqlite_url(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_spool_bridges_a_hub_killed_mid_stream() {
    let Some(cluster) = homelab_store::testing::postgres_cluster() else { return };
    let url = cluster.create_database().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    spool_bridges_a_hub_killed_mid_stream(dir.path(), &url).await;
}

async fn spool_bridges_a_hub_killed_mid_stream(dir: &Path, database_url: &str) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut hub = spawn_hub(database_url, port, KEY);
    wait_until_ready(&client, &base, &mut hub).await;
    let config = register_agent(&client, &base, dir, 100).await;
    let spool_dir = config.spool_dir.clone();
    let agent = RunningAgent::start(config);
    let history = format!("{base}/api/v1/servers/{SERVER_ID}/metrics?range=24h");

    // A few delivered straight away…
    poll(&client, &history, Duration::from_secs(30), |h| h["total_points"].as_u64().is_some_and(|n| n >= 5)).await;
    // …then the hub dies without warning while the agent keeps collecting.
    hub.kill().unwrap();
    hub.wait().unwrap();
    let spooled = |dir: &Path| std::fs::read_dir(dir).map_or(0, |d| d.count());
    let deadline = Instant::now() + Duration::from_secs(30);
    while spooled(&spool_dir) < 20 {
        assert!(Instant::now() < deadline, "the agent did not spool while the hub was down");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Same port, same database: the agent's configuration does not change.
    let mut hub = spawn_hub(database_url, port, KEY);
    wait_until_ready(&client, &base, &mut hub).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while spooled(&spool_dir) > 0 {
        assert!(Instant::now() < deadline, "the spool was not replayed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A few more live ones after the replay, then stop the agent between two heartbeats.
    let before = agent.attempts().len();
    let deadline = Instant::now() + Duration::from_secs(30);
    while agent.attempts().len() < before + 5 {
        assert!(Instant::now() < deadline, "the agent stopped sending after the replay");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let attempts = agent.stop();
    assert_eq!(spooled(&spool_dir), 0, "everything was delivered");

    // Every heartbeat the agent produced (each has its own timestamp), whether it was delivered
    // at once or after the outage.
    let mut produced: Vec<String> = attempts.iter().map(|a| a.timestamp.clone()).collect();
    produced.sort();
    produced.dedup();
    // Acknowledgements came in order: nothing newer overtook a spooled heartbeat.
    let acknowledged: Vec<&str> = attempts.iter().filter(|a| a.acknowledged).map(|a| a.timestamp.as_str()).collect();
    assert!(acknowledged.windows(2).all(|w| w[0] < w[1]), "acknowledged out of order: {acknowledged:?}");
    assert!(attempts.iter().any(|a| !a.acknowledged), "the outage was not noticed");

    // The hub holds each exactly once, and its history has no gap.
    let expected = produced.len() as u64;
    let history =
        poll(&client, &history, Duration::from_secs(30), |h| h["total_points"].as_u64() >= Some(expected)).await;
    let stored: Vec<String> = history["data_points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["timestamp"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(stored, produced, "stored history differs from what the agent produced");
    hub.kill().unwrap();
    hub.wait().unwrap();
}
