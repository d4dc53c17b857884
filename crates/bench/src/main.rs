//! `homelabcmd-bench`: drives a hub with simulated agents over real HTTP and prints throughput
//! and latency. Starts its own hub (the `homelabcmd` binary next to this one, on a throw-away
//! SQLite file or the database you name) unless `--hub` points at a running one.
//!
//! Two modes: `--max` (closed loop: N concurrent senders as fast as the hub answers, which
//! finds sustained throughput) and `--rate R` (open loop: R heartbeats per second on a fixed
//! schedule, latency measured from the scheduled send time so a slow hub cannot hide its own
//! queueing; the honest way to quote latency).

mod fleet;
mod report;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;

use crate::fleet::Fleet;
use crate::report::{Outcome, Report};

#[derive(Parser, Debug)]
#[command(name = "homelabcmd-bench", version, about = "Load generator for the Homelab Command hub")]
struct Args {
    /// URL of a running hub; without it a hub is started for the run.
    #[arg(long)]
    hub: Option<String>,
    /// Database for the hub this tool starts (default: a temporary SQLite file).
    #[arg(long)]
    database_url: Option<String>,
    /// Admin API key of the hub.
    #[arg(long, default_value = "bench-key")]
    api_key: String,
    /// Simulated machines.
    #[arg(long, default_value_t = 100)]
    servers: usize,
    /// Closed loop with this many concurrent senders (finds maximum throughput).
    #[arg(long, conflicts_with = "rate")]
    max: Option<usize>,
    /// Open loop at this many heartbeats per second.
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds to measure (after a 2-second warm-up).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Print the report as JSON too.
    #[arg(long)]
    json: bool,
}

struct StartedHub {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for StartedHub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn hub_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating this executable")?;
    let path = exe.with_file_name("homelabcmd");
    if !path.is_file() {
        bail!("{} not found: build it with `cargo build --release -p homelab-hub`, or pass --hub URL", path.display());
    }
    Ok(path)
}

fn start_hub(args: &Args) -> anyhow::Result<(String, StartedHub)> {
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let database_url =
        args.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let child = Command::new(hub_binary()?)
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string(), "--no-local-agent"])
        .env("HOMELAB_CMD_API_KEY", &args.api_key)
        .env("HOMELAB_CMD_DATABASE_URL", &database_url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .context("starting the hub")?;
    Ok((format!("http://127.0.0.1:{port}"), StartedHub { child, _dir: dir }))
}

async fn wait_ready(client: &reqwest::Client, hub: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if client.get(format!("{hub}/api/v1/system/health")).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the hub at {hub} did not answer its health check within 30 s")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // reqwest is built without a default TLS provider; the workspace uses ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().pool_max_idle_per_host(1024).timeout(Duration::from_secs(30)).build()?;
    let (hub, _started) = match &args.hub {
        Some(url) => (url.trim_end_matches('/').to_owned(), None),
        None => {
            let (url, started) = start_hub(&args)?;
            (url, Some(started))
        }
    };
    wait_ready(&client, &hub).await?;
    let fleet = Arc::new(Fleet::new(args.servers));
    let mode = match (args.max, args.rate) {
        (_, Some(rate)) if rate > 0.0 => Mode::Rate(rate),
        (Some(concurrency), _) => Mode::Max(concurrency.max(1)),
        _ => Mode::Max(64),
    };
    eprintln!("hub {hub}: {} simulated servers, {mode:?}, 2 s warm-up then {} s", args.servers, args.duration);
    run(&client, &hub, &args.api_key, &fleet, mode, Duration::from_secs(2)).await;
    let outcomes = run(&client, &hub, &args.api_key, &fleet, mode, Duration::from_secs(args.duration)).await;
    let report = Report::new(&format!("{mode:?}"), args.servers, Duration::from_secs(args.duration), outcomes);
    report.print();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Max(usize),
    Rate(f64),
}

async fn run(
    client: &reqwest::Client,
    hub: &str,
    key: &str,
    fleet: &Arc<Fleet>,
    mode: Mode,
    duration: Duration,
) -> Vec<Outcome> {
    let url = Arc::new(format!("{hub}/api/v1/agents/heartbeat"));
    let key = Arc::new(key.to_owned());
    let sequence = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + duration;
    let mut tasks = Vec::new();
    match mode {
        Mode::Max(concurrency) => {
            for _ in 0..concurrency {
                let (client, url, key, fleet, sequence) =
                    (client.clone(), Arc::clone(&url), Arc::clone(&key), Arc::clone(fleet), Arc::clone(&sequence));
                tasks.push(tokio::spawn(async move {
                    let mut outcomes = Vec::new();
                    while Instant::now() < end {
                        let n = sequence.fetch_add(1, Ordering::Relaxed);
                        let started = Instant::now();
                        outcomes.push(send(&client, &url, &key, fleet.heartbeat(n), started).await);
                    }
                    outcomes
                }));
            }
        }
        Mode::Rate(rate) => {
            let interval = Duration::from_secs_f64(1.0 / rate);
            let start = Instant::now();
            let mut n = 0u64;
            while start + interval.mul_f64(n as f64) < end {
                let scheduled = start + interval.mul_f64(n as f64);
                tokio::time::sleep_until(scheduled.into()).await;
                let (client, url, key, fleet) = (client.clone(), Arc::clone(&url), Arc::clone(&key), Arc::clone(fleet));
                tasks.push(tokio::spawn(async move {
                    vec![send(&client, &url, &key, fleet.heartbeat(n), scheduled).await]
                }));
                n += 1;
            }
        }
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        if let Ok(batch) = task.await {
            outcomes.extend(batch);
        }
    }
    outcomes
}

async fn send(client: &reqwest::Client, url: &str, key: &str, body: Vec<u8>, since: Instant) -> Outcome {
    let result =
        client.post(url).header("X-API-Key", key).header("content-type", "application/json").body(body).send().await;
    let latency = since.elapsed();
    match result {
        Ok(response) if response.status().is_success() => {
            let _ = response.bytes().await;
            Outcome { latency, error: None }
        }
        Ok(response) => Outcome { latency, error: Some(format!("HTTP {}", response.status().as_u16())) },
        Err(error) => {
            Outcome { latency, error: Some(if error.is_timeout() { "timeout".into() } else { "connection".into() }) }
        }
    }
}
