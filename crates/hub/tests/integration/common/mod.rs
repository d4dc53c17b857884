//! A real hub on a loopback port, on SQLite or on a throw-away PostgreSQL database, with a
//! manual clock; and a small JSON client for it.
#![allow(dead_code)]

pub mod process;
pub mod receiver;
pub mod smtp;

use std::sync::Arc;

use homelab_core::time::{self, Timestamp};
use homelab_hub::clock::ManualClock;
use homelab_hub::config::{Config, LocalAgentConfig};
use homelab_hub::jobs::{JobMode, Stepper};
use homelab_store::Store;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const API_KEY: &str = "test-key-0123456789";
pub const START: &str = "2026-01-19T12:00:00Z";

#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestHub {
    pub base: String,
    pub clock: Arc<ManualClock>,
    pub store: Arc<dyn Store>,
    pub client: reqwest::Client,
    /// Drives the dispatcher, the offline check and retention when the hub was started with
    /// stepped jobs (the default here): nothing runs on a timer.
    pub jobs: Stepper,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// reqwest is built without a default TLS provider (the hub installs ring); every test process
/// must install one before building a client.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub fn start_time() -> Timestamp {
    time::parse(START).unwrap()
}

impl TestHub {
    /// Starts a hub with stepped jobs; `None` when the backend is PostgreSQL and it is not
    /// installed (the skip is printed loudly by the store's test support, or is a failure when
    /// required).
    pub async fn start(backend: Backend) -> Option<TestHub> {
        let (config, dir) = Self::config(backend).await?;
        Some(Self::start_with(config, dir).await)
    }

    /// Like [`TestHub::start`], with the production notification waits (an event waits 1 s for
    /// company) instead of none.
    pub async fn start_with_production_timing(backend: Backend) -> Option<TestHub> {
        let (mut config, dir) = Self::config(backend).await?;
        config.notification_group_wait_seconds = Config::default().notification_group_wait_seconds;
        Some(Self::start_with(config, dir).await)
    }

    /// A SQLite hub as a new user starts it: the built-in agent reports this machine as
    /// `server_id` (its first heartbeat about two seconds after the start, on the hub's clock).
    pub async fn start_with_local_agent(server_id: &str) -> TestHub {
        let (mut config, dir) = Self::config(Backend::Sqlite).await.unwrap();
        config.local_agent = LocalAgentConfig {
            enabled: true,
            server_id: Some(server_id.into()),
            interval_seconds: 3600,
            ..Default::default()
        };
        Self::start_with(config, dir).await
    }

    /// Like [`TestHub::start`], with the jobs running as in production.
    pub async fn start_running_on(backend: Backend) -> Option<TestHub> {
        let (config, dir) = Self::config(backend).await?;
        Some(Self::start_running(config, dir).await)
    }

    pub async fn config(backend: Backend) -> Option<(Config, tempfile::TempDir)> {
        install_tls_provider();
        let dir = tempfile::tempdir().unwrap();
        let database_url = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("hub.db").display()),
            Backend::Postgres => {
                let cluster = homelab_store::testing::postgres_cluster()?;
                cluster.create_database().await.unwrap()
            }
        };
        let config = Config {
            api_key: API_KEY.into(),
            database_url,
            local_agent: LocalAgentConfig { enabled: false, ..Default::default() },
            // Most tests are about what is sent, not when: an event goes at the first step. The
            // timing tests (`notification_timing.rs`) use the production waits.
            notification_group_wait_seconds: 0,
            ..Config::default()
        };
        Some((config, dir))
    }

    /// Starts a hub whose jobs run only when stepped.
    pub async fn start_with(config: Config, dir: tempfile::TempDir) -> TestHub {
        Self::start_at(config, dir, start_time()).await
    }

    /// Like [`TestHub::start_with`], with the hub's clock at `now` (a restart later on).
    pub async fn start_at(config: Config, dir: tempfile::TempDir, now: Timestamp) -> TestHub {
        let jobs = Stepper::default();
        Self::start_with_jobs(config, dir, JobMode::Stepped(jobs), now).await
    }

    /// Starts a hub whose jobs run as in production: on timers and outbox wake-ups.
    pub async fn start_running(config: Config, dir: tempfile::TempDir) -> TestHub {
        Self::start_with_jobs(config, dir, JobMode::Running, start_time()).await
    }

    async fn start_with_jobs(config: Config, dir: tempfile::TempDir, mode: JobMode, now: Timestamp) -> TestHub {
        install_tls_provider();
        let (jobs, stepped) = match &mode {
            JobMode::Stepped(stepper) => (stepper.clone(), true),
            JobMode::Running => (Stepper::default(), false),
        };
        let clock = Arc::new(ManualClock::new(now));
        let store = homelab_hub::open_store(&config).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        // As in production, the configured port is the one listened on: it names the hub in
        // notification leases, so two test hubs on one database must not share it.
        let config = Config { port: listener.local_addr().unwrap().port(), ..config };
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn({
            let (store, clock) = (Arc::clone(&store), Arc::clone(&clock));
            async move {
                let shutdown = async move {
                    let _ = stopped.await;
                };
                homelab_hub::serve_with(config, store, clock, listener, shutdown, mode).await.unwrap();
            }
        });
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let hub = TestHub { base, clock, store, client, jobs, shutdown: Some(shutdown), task: Some(task), _dir: dir };
        if stepped {
            // `serve_with` hands its jobs over before it serves requests; wait for that.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while !hub.jobs.started().await {
                assert!(std::time::Instant::now() < deadline, "the hub never started its jobs");
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
        hub
    }

    /// Routes and sends everything due now on the hub's clock and waits for the sends to end.
    pub async fn step_dispatcher(&self) {
        self.jobs.dispatcher().await.unwrap();
    }

    /// Routes and starts the sends due now without waiting for them; returns how many started.
    pub async fn dispatcher_pass(&self) -> usize {
        self.jobs.dispatcher_pass().await.unwrap()
    }

    /// When the running offline check would next wake up, at the hub's current time.
    pub async fn offline_check_due(&self) -> Timestamp {
        self.jobs.offline_check_due().await.unwrap()
    }

    /// Runs the offline check once at the hub's current time.
    pub async fn step_offline_check(&self) {
        self.jobs.offline_check().await.unwrap();
    }

    /// Runs retention once at the hub's current time.
    pub async fn step_retention(&self) {
        self.jobs.retention().await.unwrap();
    }

    /// Logs in to the dashboard with the admin key; returns the whole `Set-Cookie` header.
    pub async fn login_set_cookie(&self) -> String {
        let response = self
            .client
            .post(self.url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("api_key={API_KEY}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        response.headers()[reqwest::header::SET_COOKIE].to_str().unwrap().to_owned()
    }

    /// The SQLite database file of a hub started on SQLite.
    pub fn sqlite_file(&self) -> std::path::PathBuf {
        self._dir.path().join("hub.db")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn now(&self) -> Timestamp {
        homelab_hub::clock::Clock::now(self.clock.as_ref())
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, body)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.get(self.url(path)).header("X-API-Key", API_KEY)).await
    }

    pub async fn get_without_key(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.get(self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.client.post(self.url(path)).header("X-API-Key", API_KEY).json(&body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.client.put(self.url(path)).header("X-API-Key", API_KEY).json(&body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.delete(self.url(path)).header("X-API-Key", API_KEY)).await
    }

    /// Posts a raw request with the given headers (for auth and malformed-body tests).
    pub async fn post_raw(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.post(self.url(path)).header("content-type", "application/json").body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    /// Sends a heartbeat with the admin key.
    pub async fn heartbeat(&self, body: Value) -> (StatusCode, Value) {
        self.post("/api/v1/agents/heartbeat", body).await
    }

    /// Stops the hub the way SIGTERM does and waits for it.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

/// A complete v1 heartbeat for `server_id` at `at`.
pub fn heartbeat_body(server_id: &str, at: Timestamp, cpu: f64) -> Value {
    json!({
        "server_id": server_id,
        "hostname": format!("{server_id}.home.lan"),
        "timestamp": time::format(&at),
        "agent_version": "2.0.0",
        "agent_mode": "readonly",
        "os_info": {"distribution": "Debian GNU/Linux", "version": "12", "kernel": "6.1.0-18-amd64", "architecture": "x86_64"},
        "cpu_info": {"cpu_model": "Intel(R) N100", "cpu_cores": 4},
        "metrics": {"cpu_percent": cpu, "memory_percent": 62.5, "memory_total_mb": 16000, "memory_used_mb": 10000,
                    "disk_percent": 78.3, "disk_total_gb": 500.0, "disk_used_gb": 391.5, "network_rx_bytes": 1000,
                    "network_tx_bytes": 2000, "load_1m": 0.5, "load_5m": 0.4, "load_15m": 0.3, "uptime_seconds": 86400,
                    "reboot_required": false},
        "updates_available": 3,
        "security_updates": 1,
        "filesystems": [
            {"mount_point": "/", "device": "/dev/sda1", "fs_type": "ext4", "total_bytes": 500000000000u64, "used_bytes": 391500000000u64, "available_bytes": 108500000000u64, "percent": 78.3},
            {"mount_point": "/srv", "device": "/dev/sdb1", "fs_type": "xfs", "total_bytes": 4000000000000u64, "used_bytes": 1000000000000u64, "available_bytes": 3000000000000u64, "percent": 25.0}
        ],
        "network_interfaces": [{"name": "eth0", "rx_bytes": 1000, "tx_bytes": 2000, "rx_packets": 10, "tx_packets": 20, "is_up": true}],
        "services": [{"name": "plex", "status": "running", "pid": 1234, "memory_mb": 512.5, "cpu_percent": 180.0}]
    })
}

/// Generates a `sqlite` and a `postgres` test for each named scenario `async fn(TestHub)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let hub = $crate::common::TestHub::start($crate::common::Backend::Sqlite).await.unwrap();
                    super::$name(&hub).await;
                    hub.stop().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(hub) = $crate::common::TestHub::start($crate::common::Backend::Postgres).await else { return };
                    super::$name(&hub).await;
                    hub.stop().await;
                }
            )*
        }
    };
}

/// Generates a `sqlite` and a `postgres` test for each named scenario `async fn(Backend)`: for
/// scenarios that start their hubs themselves (production timing, a restart on the same database).
#[macro_export]
macro_rules! for_each_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Postgres).await;
                }
            )*
        }
    };
}

// ---- Helpers for the endpoint tests (api_*.rs) ----

/// A response with everything a test may look at: status, headers, raw text and parsed JSON
/// (`Value::Null` when the body is empty, a string when it is not JSON).
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestHub {
    /// Sends exactly what is given: no API key is added, and the JSON body is optional.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text.clone()))
        };
        Reply { status, headers, text, body }
    }

    /// Sends a heartbeat authenticated with a per-agent token (and no API key).
    pub async fn heartbeat_as_agent(&self, token: &str, guid: &str, body: Value) -> (StatusCode, Value) {
        self.post_raw(
            "/api/v1/agents/heartbeat",
            &[("X-Agent-Token", token), ("X-Server-GUID", guid)],
            serde_json::to_vec(&body).unwrap(),
        )
        .await
    }

    /// Creates a server by hand and returns it (asserting the 201).
    pub async fn create_server(&self, body: Value) -> Value {
        let (status, server) = self.post("/api/v1/servers", body).await;
        assert_eq!(status, StatusCode::CREATED, "{server}");
        server
    }

    /// Creates a registration token and claims it for `server_id`; returns the claim answer
    /// (`server_guid`, `api_token`, …).
    pub async fn register_agent(&self, server_id: &str) -> Value {
        let (status, created) = self.post("/api/v1/agents/register/tokens", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{created}");
        let (status, claimed) = self
            .post_raw(
                "/api/v1/agents/register/claim",
                &[],
                serde_json::to_vec(&json!({"token": created["token"], "server_id": server_id,
                                           "hostname": format!("{server_id}.home.lan")}))
                .unwrap(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{claimed}");
        claimed
    }
}

/// The v1 minimal heartbeat (contract §2.3) for `server_id` at `at`.
pub fn minimal_heartbeat(server_id: &str, at: Timestamp, cpu: f64) -> Value {
    json!({"server_id": server_id, "hostname": format!("{server_id}.home.lan"), "timestamp": time::format(&at),
           "metrics": {"cpu_percent": cpu, "memory_percent": 62.5, "disk_percent": 78.3}})
}

/// The 401 body every admin endpoint answers without a valid `X-API-Key`.
pub fn unauthorized(message: &str) -> Value {
    json!({"detail": {"code": "UNAUTHORIZED", "message": message}})
}

/// The structured application error body.
pub fn app_error(code: &str, message: &str) -> Value {
    json!({"detail": {"code": code, "message": message}})
}

/// `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$`, the one timestamp shape the API emits.
pub fn is_api_timestamp(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| range.into_iter().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    let base = b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19);
    base && match b.len() {
        20 => b[19] == b'Z',
        24 => b[19] == b'.' && digits(20..23) && b[23] == b'Z',
        _ => false,
    }
}

/// Keys whose values are timestamps in this API.
fn is_timestamp_key(key: &str) -> bool {
    key.ends_with("_at") || matches!(key, "timestamp" | "last_seen" | "last_checked" | "inactive_since")
}

/// Checks every non-null timestamp in `value` (at any depth) against [`is_api_timestamp`] and
/// returns how many were checked, so callers can assert that something was.
pub fn check_timestamps(value: &Value) -> usize {
    match value {
        Value::Object(map) => map
            .iter()
            .map(|(key, item)| match item {
                Value::String(text) if is_timestamp_key(key) => {
                    assert!(is_api_timestamp(text), "`{key}` is {text:?}, not RFC 3339 UTC with Z");
                    1
                }
                other => check_timestamps(other),
            })
            .sum(),
        Value::Array(items) => items.iter().map(check_timestamps).sum(),
        _ => 0,
    }
}
