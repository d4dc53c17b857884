//! `homelabcmd-bench`: drives a hub with simulated agents over real HTTP and prints throughput
//! and latency. Starts its own hub (the `homelabcmd` binary next to this one, on a throw-away
//! SQLite file or the database you name) unless `--hub` points at a running one.
//!
//! Two modes: `--max` (closed loop: N concurrent senders as fast as the hub answers, which
//! finds sustained throughput) and `--rate R` (open loop: R heartbeats per second on a fixed
//! schedule, latency measured from the scheduled send time so a slow hub cannot hide its own
//! queueing; the honest way to quote latency).

mod agent;
mod dashboards;
mod fleet;
mod progress;
mod report;
mod scenarios;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::Parser;

use crate::dashboards::Dashboards;
use crate::fleet::Fleet;
use crate::progress::{Counters, Goal, Progress};
use crate::report::{LiveUpdates, Outcome, Report, Summary};

#[derive(Parser, Debug)]
#[command(name = "homelabcmd-bench", version, about = "Load generator for the Homelab Command hub")]
struct Args {
    /// URL of a running hub; without it a hub is started for the run.
    #[arg(long)]
    hub: Option<String>,
    /// Database for the hub this tool starts (default: a temporary SQLite file).
    #[arg(long, conflicts_with = "postgres")]
    database_url: Option<String>,
    /// Start a throw-away PostgreSQL cluster (initdb and pg_ctl must be installed) for the hub.
    #[arg(long)]
    postgres: bool,
    /// Admin API key of the hub.
    #[arg(long, default_value = "bench-key")]
    api_key: String,
    /// Simulated machines; a list such as 100,1000,10000 runs the ingest scenario once per
    /// fleet size (the sweep), reporting throughput, latency and hub memory at each.
    #[arg(long, default_value = "100", value_delimiter = ',')]
    servers: Vec<usize>,
    /// Closed loop with this many concurrent senders (finds maximum throughput).
    #[arg(long, conflicts_with = "rate")]
    max: Option<usize>,
    /// Open loop at this many heartbeats per second. The whole fleet is registered first (one
    /// heartbeat per machine), so that the run measures a running fleet's heartbeats. A window
    /// of more than 300 s always holds a 5-minute boundary, where retention rolls the whole
    /// fleet up while heartbeats arrive (the run says whether one fell inside).
    #[arg(long)]
    rate: Option<f64>,
    /// What the simulated agents send: `default` (about 2 KB, a package list in one heartbeat of
    /// sixty) or `v1-realistic` (about 3 KB shaped like a real v1 agent's, 24 pending packages
    /// in one heartbeat of ten).
    #[arg(long, default_value = "default", value_parser = ["default", "v1-realistic"])]
    body: String,
    /// Seconds to measure (after a 2-second warm-up).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Open dashboards during each ingest run: this many live-update streams (`GET /ui/events`,
    /// one login shared by all) are held open through the warm-up and the measured window, and
    /// the hub's CPU per second and the bytes each stream received are reported. A list such as
    /// 1,10,50 repeats the run for each count (within each fleet size of --servers). With any
    /// count above 0 the whole fleet is registered first (one heartbeat per machine), so that
    /// the dashboards draw a full fleet and the run measures updates, not registrations.
    #[arg(long, default_value = "0", value_delimiter = ',')]
    dashboards: Vec<usize>,
    /// The hub binary to start (default: `homelabcmd` next to this executable), e.g. another
    /// build of the hub to compare against.
    #[arg(long, conflicts_with = "hub")]
    hub_binary: Option<PathBuf>,
    /// Print the report as JSON too.
    #[arg(long)]
    json: bool,
    /// What to measure: `ingest` (throughput and latency), `storage` (bytes per heartbeat and
    /// per sample after rollups, back-filling --days of history for --history-servers
    /// machines), `query` (fleet list and 30-day chart after a back-fill), `notify` (heartbeat
    /// commit to webhook), `agent` (the agent's memory over time and CPU per heartbeat), `wal`
    /// (SQLite's WAL size each minute of --wal-minutes of open-loop ingest at --rate, default 200
    /// heartbeats/s; not part of `all`), or `all`.
    #[arg(long, default_value = "ingest", value_parser = ["ingest", "storage", "query", "notify", "agent", "wal", "all"])]
    scenario: String,
    /// Minutes the `wal` scenario ingests.
    #[arg(long, default_value_t = 10)]
    wal_minutes: u64,
    /// Days of history to back-fill for `storage` and `query`.
    #[arg(long, default_value_t = 30)]
    days: i64,
    /// Machines whose history is back-filled for `storage` and `query`.
    #[arg(long, default_value_t = 10)]
    history_servers: usize,
    /// Seconds the `agent` scenario runs the agent.
    #[arg(long, default_value_t = 60)]
    agent_seconds: u64,
    /// Heartbeat interval of the agent in the `agent` scenario (60 000 is the production default;
    /// shorter makes CPU per heartbeat measurable in a short run).
    #[arg(long, default_value_t = 1000)]
    agent_interval_ms: u64,
}

struct StartedHub {
    child: Child,
    dir: tempfile::TempDir,
}

impl StartedHub {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn database_path(&self) -> PathBuf {
        self.dir.path().join("bench.db")
    }
}

impl Drop for StartedHub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Says whether a 5-minute boundary fell inside the measured window that just ended: there the
/// started hub's retention (every 2 s) rolls every machine's raw samples up while heartbeats
/// keep arriving, which is the latency that counts.
fn note_rollup_boundary(end: SystemTime, window_seconds: f64) {
    let end = end.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    let start = end - window_seconds;
    let boundary = (end / 300.0).floor() * 300.0;
    if boundary > start {
        eprintln!(
            "retention      a 5-minute rollup boundary fell {:.0} s into the window: the fleet was rolled up during the run",
            boundary - start
        );
    } else {
        eprintln!("retention      no 5-minute rollup boundary in the window (a window over 300 s always holds one)");
    }
}

fn hub_binary(chosen: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = chosen {
        if !path.is_file() {
            bail!("--hub-binary {}: no such file", path.display());
        }
        return Ok(path.to_owned());
    }
    let exe = std::env::current_exe().context("locating this executable")?;
    let path = exe.with_file_name("homelabcmd");
    if !path.is_file() {
        bail!(
            "{} not found: build it with `cargo build --release -p homelab-hub`, or pass --hub-binary PATH or --hub URL",
            path.display()
        );
    }
    Ok(path)
}

fn start_hub(binary: Option<&Path>, database_url: Option<&str>, api_key: &str) -> anyhow::Result<(String, StartedHub)> {
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let database_url =
        database_url.map_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()), ToOwned::to_owned);
    // Retention every 2 s so back-filled history is rolled up during the run; no grouping so
    // that each alert's notification latency is its own.
    let config = dir.path().join("hub.toml");
    std::fs::write(&config, "retention_interval_seconds = 2\nnotification_group_wait_seconds = 0\n")?;
    let child = Command::new(hub_binary(binary)?)
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string(), "--no-local-agent", "--config"])
        .arg(&config)
        .env("HOMELAB_CMD_API_KEY", api_key)
        .env("HOMELAB_CMD_DATABASE_URL", &database_url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .context("starting the hub")?;
    Ok((format!("http://127.0.0.1:{port}"), StartedHub { child, dir }))
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
    // Kept alive for the whole run; removed (cluster and data) when the program ends.
    let cluster = if args.postgres {
        Some(homelab_store::testing::postgres_cluster().context(
            "--postgres needs PostgreSQL's initdb and pg_ctl (Debian: apt-get install postgresql), or pass --database-url",
        )?)
    } else {
        None
    };
    let database_url = match &cluster {
        Some(cluster) => Some(cluster.create_database().await.map_err(anyhow::Error::msg)?),
        None => args.database_url.clone(),
    };
    let (hub, started) = match &args.hub {
        Some(url) => (url.trim_end_matches('/').to_owned(), None),
        None => {
            let (url, started) = start_hub(args.hub_binary.as_deref(), database_url.as_deref(), &args.api_key)?;
            (url, Some(started))
        }
    };
    wait_ready(&client, &hub).await?;
    let database = match (&args.hub, &database_url) {
        (Some(_), _) => "running hub",
        (None, Some(_)) => "PostgreSQL",
        (None, None) => "SQLite",
    };
    let mode = match (args.max, args.rate) {
        (_, Some(rate)) if rate > 0.0 => Mode::Rate(rate),
        (Some(concurrency), _) => Mode::Max(concurrency.max(1)),
        _ => Mode::Max(64),
    };
    let pid = started.as_ref().map(StartedHub::pid);
    let body = fleet::Body::parse(&args.body).unwrap_or(fleet::Body::Default);
    let mut summary = Summary::new(database);
    let mut json_report = serde_json::Map::new();
    json_report.insert("database".into(), database.into());
    let wants = |name: &str| args.scenario == name || args.scenario == "all";
    if wants("ingest") {
        let mut sweep = Vec::new();
        let with_dashboards = args.dashboards.iter().any(|&n| n > 0);
        let cookie = if with_dashboards { Some(dashboards::login(&hub, &args.api_key).await?) } else { None };
        for &servers in &args.servers {
            let fleet = Arc::new(Fleet::with_body(servers, body));
            if with_dashboards || mode.is_open_loop() {
                // Every machine known before the run, as in a running homelab: the dashboards draw
                // a full fleet, and an open loop (one heartbeat per machine a minute at 10 000
                // machines) measures heartbeats rather than registrations.
                let bodies = (0..servers as u64).map(|n| fleet.heartbeat(n)).collect();
                scenarios::send_all(&client, &hub, &args.api_key, bodies, 32, "register fleet").await?;
            }
            for &count in &args.dashboards {
                let open = match (&cookie, count) {
                    (Some(cookie), 1..) => Some(Dashboards::open(&hub, cookie, count).await?),
                    _ => None,
                };
                let dashboards_note = if count > 0 { format!(", {count} dashboards open") } else { String::new() };
                eprintln!(
                    "hub {hub}: {servers} simulated servers, {mode:?}{dashboards_note}, 2 s warm-up then {} s",
                    args.duration
                );
                run(&client, &hub, &args.api_key, &fleet, mode, Duration::from_secs(2), "warm-up").await;
                let cpu_before = pid.and_then(scenarios::cpu_millis);
                let bench_cpu_before = scenarios::cpu_millis(std::process::id());
                let streams_before = open.as_ref().map(Dashboards::snapshot);
                let window = Instant::now();
                let outcomes =
                    run(&client, &hub, &args.api_key, &fleet, mode, Duration::from_secs(args.duration), "ingest").await;
                let elapsed = window.elapsed().as_secs_f64();
                note_rollup_boundary(SystemTime::now(), elapsed);
                let hub_cpu = pid.and_then(scenarios::cpu_millis).zip(cpu_before).map(|(after, before)| after - before);
                let bench_cpu = scenarios::cpu_millis(std::process::id())
                    .zip(bench_cpu_before)
                    .map(|(after, before)| after - before);
                let streams = open.as_ref().map(Dashboards::snapshot).zip(streams_before).map(|(a, b)| a.since(&b));
                let ended = open.as_ref().map(Dashboards::ended).unwrap_or_default();
                let errors = match open {
                    Some(open) => open.close().await,
                    None => Vec::new(),
                };
                let mut report =
                    Report::new(&format!("{mode:?}"), servers, Duration::from_secs(args.duration), outcomes);
                report.hub_cpu_ms_per_heartbeat = hub_cpu.map(|ms| ms / report.ok.max(1) as f64);
                report.hub_cpu_ms_per_second = hub_cpu.map(|ms| ms / elapsed);
                report.bench_cpu_ms_per_second = bench_cpu.map(|ms| ms / elapsed);
                report.dashboards = count;
                if let Some(streams) = &streams {
                    report.live_updates = Some(LiveUpdates::new(streams, elapsed));
                }
                report.print();
                let rss = pid.and_then(scenarios::rss_kib);
                print_rss(rss, &format!("after ingest at {servers} servers"));
                summary.ingest(&report, mode.is_open_loop(), rss);
                // Quoting CPU for dashboards that received nothing would measure nothing.
                if let Some(streams) = &streams {
                    let silent = streams.iter().filter(|(_, events)| *events == 0).count();
                    if !ended.is_empty() {
                        bail!(
                            "{} of {count} live-update streams ended during the run ({})",
                            ended.len(),
                            errors.join("; ")
                        );
                    }
                    if report.ok > 0 && silent > 0 {
                        bail!(
                            "{silent} of {count} live-update streams received no event in {elapsed:.0} s while the hub \
                             acknowledged {} heartbeats",
                            report.ok
                        );
                    }
                }
                let mut value = serde_json::to_value(&report)?;
                value["hub_rss_kib"] = rss.into();
                sweep.push(value);
            }
        }
        json_report.insert("ingest".into(), sweep.into());
    }
    if args.scenario == "wal" {
        let Some(started) = started.as_ref().filter(|_| database_url.is_none()) else {
            bail!("the wal scenario measures a SQLite hub it starts itself: drop --hub and --postgres");
        };
        let wal = PathBuf::from(format!("{}-wal", started.database_path().display()));
        let rate = args.rate.unwrap_or(200.0);
        let fleet = Arc::new(Fleet::with_body(args.servers.first().copied().unwrap_or(12_000), body));
        eprintln!("hub {hub}: {rate} heartbeats/s for {} min, the WAL's size after each minute", args.wal_minutes);
        let mut largest = 0;
        for minute in 1..=args.wal_minutes {
            let outcomes =
                run(&client, &hub, &args.api_key, &fleet, Mode::Rate(rate), Duration::from_secs(60), "wal").await;
            let size = std::fs::metadata(&wal).map_or(0, |meta| meta.len());
            largest = largest.max(size);
            let ok = outcomes.iter().filter(|o| o.error.is_none()).count();
            println!(
                "wal            minute {minute:>2}: {:>8.1} MB  ({ok} heartbeats acknowledged)",
                size as f64 / 1e6
            );
        }
        summary.row("SQLite WAL, largest after a minute", format!("{:.1} MB", largest as f64 / 1e6), "< 128 MB");
        json_report.insert("wal_largest_bytes".into(), largest.into());
    }
    if wants("notify") {
        let fleet = Fleet::new(args.servers.first().copied().unwrap_or(100));
        let report = scenarios::notification_latency(&client, &hub, &args.api_key, &fleet, 20).await?;
        println!(
            "notify         {}: p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
            report.what, report.p50_ms, report.p99_ms, report.max_ms
        );
        summary.row("alert → notification (webhook)", report.milliseconds(), "< 1 s");
        json_report.insert("notify".into(), serde_json::to_value(&report)?);
    }
    let mut history_samples = 0;
    let mut history_heartbeats = 0;
    // What the database held before the back-fill, so that storage counts the back-fill alone
    // even after other scenarios (a sweep of 10 000 machines) wrote to the same database.
    let database_bytes = async || -> anyhow::Result<Option<u64>> {
        Ok(match (&started, &database_url) {
            (Some(_), Some(url)) => Some(scenarios::postgres_bytes(url).await?),
            (Some(hub), None) => Some(scenarios::sqlite_used_bytes(&hub.database_path())?),
            (None, _) => None,
        })
    };
    let bytes_before = database_bytes().await?;
    if wants("storage") || wants("query") {
        let history = Fleet::new(args.history_servers);
        let (bodies, samples) = scenarios::history_bodies(&history, args.history_servers, args.days);
        history_heartbeats = bodies.len();
        history_samples = samples;
        eprintln!("back-filling {} days for {} servers: {} heartbeats", args.days, args.history_servers, bodies.len());
        let started_at = Instant::now();
        scenarios::send_all(&client, &hub, &args.api_key, bodies, 32, "back-fill").await?;
        let rate = history_heartbeats as f64 / started_at.elapsed().as_secs_f64();
        println!(
            "back-fill      {history_heartbeats} heartbeats in {:.1} s ({rate:.0}/s)",
            started_at.elapsed().as_secs_f64(),
        );
        json_report.insert("back_fill_per_second".into(), rate.into());
        // Two retention passes (every 2 s) roll the old days up and prune them.
        tokio::time::sleep(Duration::from_secs(6)).await;
        let rss = pid.and_then(scenarios::rss_kib);
        print_rss(rss, "after back-fill");
        json_report.insert("hub_rss_kib_after_back_fill".into(), rss.into());
    }
    if wants("query") {
        let extra = 1000usize.saturating_sub(args.history_servers);
        let fleet_1000 = Fleet::new(1000);
        let bodies: Vec<Vec<u8>> = (args.history_servers..args.history_servers + extra)
            .map(|i| fleet_1000.heartbeat_at(i as u64, i, chrono::Utc::now()))
            .collect();
        scenarios::send_all(&client, &hub, &args.api_key, bodies, 32, "fleet").await?;
        let listed = scenarios::server_count(&client, &hub, &args.api_key).await?;
        let fleet_list = format!("fleet list, {listed} servers");
        for (path, count, what, target) in [
            ("/api/v1/servers", 30, fleet_list.as_str(), "(v1: ~280 ms at 1 000)"),
            ("/api/v1/servers/bench-00000/metrics?range=30d", 50, "30-day chart", "< 20 ms"),
            (
                "/api/v1/servers/bench-00000/metrics/series?range=30d&metrics=cpu_percent,memory_percent,fs_percent",
                50,
                "30-day columnar series",
                "",
            ),
        ] {
            let report = scenarios::time_get(&client, &hub, &args.api_key, path, count).await?;
            println!("query          {:<85} p50 {:.2} ms  p99 {:.2} ms", report.what, report.p50_ms, report.p99_ms);
            summary.row(what, report.milliseconds(), target);
            json_report.insert(format!("query {path}"), serde_json::to_value(&report)?);
        }
        print_rss(pid.and_then(scenarios::rss_kib), &format!("after the queries, {listed} servers"));
    }
    if wants("agent") {
        let interval = Duration::from_millis(args.agent_interval_ms.max(100));
        let report = agent::footprint(&hub, &args.api_key, args.agent_seconds, interval).await?;
        println!(
            "agent          RSS {:.1} MB at start, {:.1} MB max, {:.1} MB after {} s; {:.2} ms CPU per heartbeat \
             ({} cycles at {} ms); binary {:.1} MB",
            report.rss_first_kib as f64 / 1024.0,
            report.rss_max_kib as f64 / 1024.0,
            report.rss_last_kib as f64 / 1024.0,
            report.seconds,
            report.cpu_ms_per_cycle,
            report.cycles,
            report.interval_ms,
            report.binary_bytes as f64 / 1e6
        );
        summary.row(
            "agent RSS (start → max → end)",
            format!(
                "{:.1} → {:.1} → {:.1} MB",
                report.rss_first_kib as f64 / 1024.0,
                report.rss_max_kib as f64 / 1024.0,
                report.rss_last_kib as f64 / 1024.0
            ),
            "",
        );
        summary.row("agent CPU per heartbeat", format!("{:.2} ms", report.cpu_ms_per_cycle), "");
        json_report.insert("agent".into(), serde_json::to_value(&report)?);
    }
    if let Some(kib) = pid.and_then(scenarios::rss_kib) {
        json_report.insert("hub_rss_kib".into(), kib.into());
    }
    if wants("storage") {
        let bytes = database_bytes().await?.zip(bytes_before).map(|(after, before)| after.saturating_sub(before));
        match bytes {
            Some(bytes) => {
                let report = scenarios::StorageReport::new(
                    args.history_servers,
                    args.days,
                    history_heartbeats,
                    history_samples,
                    bytes,
                );
                report.print();
                // The history tables alone: what the samples cost, without the per-server rows a
                // heartbeat rewrites (on PostgreSQL their dead versions wait for autovacuum, and a
                // back-fill rewrites each machine's rows dozens of times a second).
                let mut history_bytes = None;
                if let (Some(hub), None) = (&started, &database_url) {
                    let tables = scenarios::sqlite_table_bytes(&hub.database_path())?;
                    history_bytes =
                        Some(tables.iter().filter(|t| t.name.contains("history_")).map(|t| t.pages_bytes).sum::<u64>());
                    for table in tables.iter().filter(|t| t.pages_bytes >= 65_536) {
                        println!(
                            "storage        {:<28} {:>7.2} MB in pages ({:>7.2} MB rows, {:>6.2} MB unused), {} rows: \
                             {:.1} B/heartbeat",
                            table.name,
                            table.pages_bytes as f64 / 1e6,
                            table.payload_bytes as f64 / 1e6,
                            table.unused_bytes as f64 / 1e6,
                            table.rows,
                            table.pages_bytes as f64 / history_heartbeats.max(1) as f64
                        );
                    }
                    json_report.insert("storage_tables".into(), serde_json::to_value(&tables)?);
                }
                if let (Some(_), Some(url)) = (&started, &database_url) {
                    let tables = scenarios::postgres_table_bytes(url).await?;
                    history_bytes = Some(
                        tables.iter().filter(|t| t.name.starts_with("history_")).map(|t| t.total_bytes).sum::<u64>(),
                    );
                    for table in tables.iter().filter(|t| t.total_bytes >= 65_536) {
                        println!(
                            "storage        {:<28} {:>7.2} MB ({:>6.2} MB heap, {:>6.2} MB indexes, {:>5.2} MB other), \
                             {} rows: {:.1} B/row, {:.1} B/heartbeat{}",
                            table.name,
                            table.total_bytes as f64 / 1e6,
                            table.heap_bytes as f64 / 1e6,
                            table.index_bytes as f64 / 1e6,
                            table.other_bytes as f64 / 1e6,
                            table.rows,
                            table.total_bytes as f64 / table.rows.max(1) as f64,
                            table.total_bytes as f64 / history_heartbeats.max(1) as f64,
                            table.parent.as_ref().map(|p| format!(" (partition of {p})")).unwrap_or_default()
                        );
                    }
                    json_report.insert("storage_tables".into(), serde_json::to_value(&tables)?);
                }
                summary.row("storage after rollups", format!("{:.1} B/sample", report.bytes_per_sample), "≤ 20 B");
                if let Some(history) = history_bytes {
                    let per_sample = history as f64 / history_samples.max(1) as f64;
                    println!(
                        "storage        history tables alone: {history} bytes, {:.0} B/heartbeat, {per_sample:.1} B/sample",
                        history as f64 / history_heartbeats.max(1) as f64
                    );
                    summary.row("history tables after rollups", format!("{per_sample:.1} B/sample"), "≤ 8 B");
                    json_report.insert("history_bytes".into(), history.into());
                }
                json_report.insert("storage".into(), serde_json::to_value(&report)?);
            }
            None => eprintln!("storage: only measured on a hub this tool starts itself"),
        }
    }
    summary.print();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json_report)?);
    }
    drop(cluster);
    Ok(())
}

fn print_rss(kib: Option<u64>, when: &str) {
    if let Some(kib) = kib {
        println!("hub RSS        {:.1} MB {when}", kib as f64 / 1024.0);
    }
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Max(usize),
    Rate(f64),
}

impl Mode {
    fn is_open_loop(self) -> bool {
        matches!(self, Mode::Rate(_))
    }
}

async fn run(
    client: &reqwest::Client,
    hub: &str,
    key: &str,
    fleet: &Arc<Fleet>,
    mode: Mode,
    duration: Duration,
    label: &str,
) -> Vec<Outcome> {
    let progress = Progress::start(label, Goal::Time(duration));
    let url = Arc::new(format!("{hub}/api/v1/agents/heartbeat"));
    let key = Arc::new(key.to_owned());
    let sequence = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + duration;
    let mut tasks = Vec::new();
    match mode {
        Mode::Max(concurrency) => {
            for _ in 0..concurrency {
                let (client, url, key, fleet, sequence, counters) = (
                    client.clone(),
                    Arc::clone(&url),
                    Arc::clone(&key),
                    Arc::clone(fleet),
                    Arc::clone(&sequence),
                    progress.counters(),
                );
                tasks.push(tokio::spawn(async move {
                    let mut outcomes = Vec::new();
                    while Instant::now() < end {
                        let n = sequence.fetch_add(1, Ordering::Relaxed);
                        let started = Instant::now();
                        outcomes.push(send(&client, &url, &key, fleet.heartbeat(n), started, &counters).await);
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
                let (client, url, key, fleet, counters) =
                    (client.clone(), Arc::clone(&url), Arc::clone(&key), Arc::clone(fleet), progress.counters());
                tasks.push(tokio::spawn(async move {
                    vec![send(&client, &url, &key, fleet.heartbeat(n), scheduled, &counters).await]
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
    progress.finish().await;
    outcomes
}

async fn send(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    body: Vec<u8>,
    since: Instant,
    counters: &Counters,
) -> Outcome {
    let result =
        client.post(url).header("X-API-Key", key).header("content-type", "application/json").body(body).send().await;
    let latency = since.elapsed();
    counters.record(result.as_ref().is_ok_and(|r| r.status().is_success()));
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
