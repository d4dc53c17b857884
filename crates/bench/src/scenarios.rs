//! The measurements beyond raw ingest: storage growth, query latency, hub memory and
//! alert-to-notification latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{Duration as Span, Utc};
use serde::Serialize;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::fleet::Fleet;
use crate::progress::{Goal, Progress};

/// Resident memory of a process, from `/proc/PID/status` (Linux).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| line.strip_prefix("VmRSS:")?.trim().strip_suffix("kB")?.trim().parse().ok())
}

/// User plus system CPU time of a process, from `/proc/PID/stat` (Linux; 100 ticks a second).
pub fn cpu_millis(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 * 10.0)
}

/// Sends `heartbeats` (pre-built bodies) with `concurrency` senders; fails on any non-2xx.
pub async fn send_all(
    client: &reqwest::Client,
    hub: &str,
    key: &str,
    bodies: Vec<Vec<u8>>,
    concurrency: usize,
    label: &str,
) -> anyhow::Result<()> {
    let progress = Progress::start(label, Goal::Count(bodies.len() as u64));
    let queue = Arc::new(tokio::sync::Mutex::new(bodies.into_iter().enumerate()));
    let url = Arc::new(format!("{hub}/api/v1/agents/heartbeat"));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, queue, url, key) = (client.clone(), Arc::clone(&queue), Arc::clone(&url), key.to_owned());
        let counters = progress.counters();
        tasks.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().await.next();
                let Some((index, body)) = next else { return Ok::<_, anyhow::Error>(()) };
                let response = client
                    .post(url.as_str())
                    .header("X-API-Key", &key)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                if !response.status().is_success() {
                    bail!(
                        "heartbeat {index} got HTTP {}: {}",
                        response.status(),
                        response.text().await.unwrap_or_default()
                    );
                }
                counters.record(true);
            }
        }));
    }
    let mut result = Ok(());
    for task in tasks {
        if let Err(error) = task.await? {
            result = Err(error);
        }
    }
    progress.finish().await;
    result
}

#[derive(Serialize)]
pub struct StorageReport {
    pub servers: usize,
    pub days: i64,
    pub heartbeats: usize,
    pub samples: usize,
    pub database_bytes: u64,
    pub bytes_per_heartbeat: f64,
    pub bytes_per_sample: f64,
    pub projected_bytes_50_servers_30_days: f64,
}

impl StorageReport {
    pub fn new(servers: usize, days: i64, heartbeats: usize, samples: usize, bytes: u64) -> Self {
        StorageReport {
            servers,
            days,
            heartbeats,
            samples,
            database_bytes: bytes,
            bytes_per_heartbeat: bytes as f64 / heartbeats.max(1) as f64,
            bytes_per_sample: bytes as f64 / samples.max(1) as f64,
            projected_bytes_50_servers_30_days: bytes as f64 * 50.0 / servers.max(1) as f64 * 30.0 / days.max(1) as f64,
        }
    }

    pub fn print(&self) {
        println!(
            "storage        {} bytes for {} heartbeats ({} samples): {:.0} B/heartbeat, {:.1} B/sample; \
             50 servers × 30 days ≈ {:.0} MB",
            self.database_bytes,
            self.heartbeats,
            self.samples,
            self.bytes_per_heartbeat,
            self.bytes_per_sample,
            self.projected_bytes_50_servers_30_days / 1e6
        );
    }
}

/// Bytes of the SQLite database in use (pages minus free pages), read beside the running hub:
/// unlike the file size it neither counts pages freed by pruning nor waits for a checkpoint.
pub fn sqlite_used_bytes(path: &std::path::Path) -> anyhow::Result<u64> {
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {} to measure it", path.display()))?;
    let pragma =
        |name: &str| -> anyhow::Result<i64> { Ok(conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))?) };
    let used = (pragma("page_count")? - pragma("freelist_count")?) * pragma("page_size")?;
    Ok(u64::try_from(used).unwrap_or_default())
}

/// Where a SQLite database's bytes are, per table and index: pages, payload (the bytes of the
/// rows themselves) and unused space in the pages, from SQLite's `dbstat` table.
#[derive(Serialize)]
pub struct TableBytes {
    pub name: String,
    pub pages_bytes: u64,
    pub payload_bytes: u64,
    pub unused_bytes: u64,
    pub rows: u64,
}

pub fn sqlite_table_bytes(path: &std::path::Path) -> anyhow::Result<Vec<TableBytes>> {
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {} to measure it", path.display()))?;
    let mut statement = conn.prepare(
        "SELECT name, SUM(pgsize), SUM(payload), SUM(unused), SUM(CASE WHEN pagetype = 'leaf' THEN ncell ELSE 0 END) \
         FROM dbstat GROUP BY name ORDER BY SUM(pgsize) DESC",
    )?;
    let rows = statement.query_map([], |row| {
        let bytes = |i| row.get::<_, i64>(i).map(|v| u64::try_from(v).unwrap_or_default());
        Ok(TableBytes {
            name: row.get(0)?,
            pages_bytes: bytes(1)?,
            payload_bytes: bytes(2)?,
            unused_bytes: bytes(3)?,
            rows: bytes(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// How many servers the hub lists.
pub async fn server_count(client: &reqwest::Client, hub: &str, key: &str) -> anyhow::Result<u64> {
    let body: serde_json::Value =
        client.get(format!("{hub}/api/v1/servers")).header("X-API-Key", key).send().await?.json().await?;
    body["total"].as_u64().context("the server list has no total")
}

/// Bytes the hub's tables take in PostgreSQL (heap, indexes and TOAST), as the server reports.
/// Each partition of the history tables is a table of its own (`relkind = 'r'`) and counts
/// here; their partitioned parents (`'p'`) hold no data.
pub async fn postgres_bytes(url: &str) -> anyhow::Result<u64> {
    let (client, connection) =
        tokio_postgres::connect(url, tokio_postgres::NoTls).await.context("connecting to PostgreSQL")?;
    let driver = tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::BIGINT FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'",
            &[],
        )
        .await?;
    drop(client);
    let _ = driver.await;
    Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or_default())
}

/// Where a PostgreSQL database's bytes are, per table (each partition of the history tables
/// on its own): the heap, its indexes, and the rest (TOAST, free-space and visibility maps).
#[derive(Serialize)]
pub struct PgTableBytes {
    pub name: String,
    /// The partitioned table this one is a partition of, if any.
    pub parent: Option<String>,
    pub total_bytes: u64,
    pub heap_bytes: u64,
    pub index_bytes: u64,
    pub other_bytes: u64,
    pub rows: u64,
}

pub async fn postgres_table_bytes(url: &str) -> anyhow::Result<Vec<PgTableBytes>> {
    let (client, connection) =
        tokio_postgres::connect(url, tokio_postgres::NoTls).await.context("connecting to PostgreSQL")?;
    let driver = tokio::spawn(connection);
    let rows = client
        .query(
            "SELECT c.relname::text, p.relname::text, pg_total_relation_size(c.oid),                pg_relation_size(c.oid, 'main'), pg_indexes_size(c.oid)              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace              LEFT JOIN pg_inherits i ON i.inhrelid = c.oid LEFT JOIN pg_class p ON p.oid = i.inhparent              WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY pg_total_relation_size(c.oid) DESC",
            &[],
        )
        .await?;
    let mut tables = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = row.get(0);
        let bytes = |i| u64::try_from(row.get::<_, i64>(i)).unwrap_or_default();
        let (total, heap, index) = (bytes(2), bytes(3), bytes(4));
        // The names come from the catalogue; quoted as identifiers all the same.
        let count: i64 =
            client.query_one(&format!("SELECT COUNT(*) FROM \"{}\"", name.replace('"', "\"\"")), &[]).await?.get(0);
        tables.push(PgTableBytes {
            name,
            parent: row.get(1),
            total_bytes: total,
            heap_bytes: heap,
            index_bytes: index,
            other_bytes: total.saturating_sub(heap + index),
            rows: u64::try_from(count).unwrap_or_default(),
        });
    }
    drop(client);
    let _ = driver.await;
    Ok(tables)
}

/// Back-fills `days` of minute-by-minute history for `servers` machines (agent timestamps in
/// the past), so the hub's retention rolls up and prunes it as it would over a month.
pub fn history_bodies(fleet: &Fleet, servers: usize, days: i64) -> (Vec<Vec<u8>>, usize) {
    let now = Utc::now();
    let minutes = days * 24 * 60;
    let mut bodies = Vec::with_capacity(minutes as usize * servers);
    let mut samples = 0;
    for minute in 0..minutes {
        let at = now - Span::minutes(minutes - minute);
        for server in 0..servers {
            let body = fleet.heartbeat_at(minute as u64, server, at);
            if minute == 0
                && let Ok(hb) = serde_json::from_slice::<homelab_core::heartbeat::HeartbeatRequest>(&body)
            {
                samples += homelab_core::history::samples_of(&hb).len();
            }
            bodies.push(body);
        }
    }
    (bodies, samples * minutes as usize)
}

#[derive(Serialize)]
pub struct LatencyReport {
    pub what: String,
    pub requests: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl LatencyReport {
    /// `p50 … ms, p99 … ms, max … ms`, for the summary table.
    pub fn milliseconds(&self) -> String {
        format!("p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms", self.p50_ms, self.p99_ms, self.max_ms)
    }
}

fn latency_report(what: &str, mut samples: Vec<Duration>) -> LatencyReport {
    samples.sort();
    let pick = |p: f64| {
        samples
            .get(((samples.len() as f64 * p).ceil() as usize).saturating_sub(1))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    LatencyReport {
        what: what.into(),
        requests: samples.len(),
        p50_ms: pick(0.5),
        p99_ms: pick(0.99),
        max_ms: samples.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    }
}

/// Times `count` GETs of `path`.
pub async fn time_get(
    client: &reqwest::Client,
    hub: &str,
    key: &str,
    path: &str,
    count: usize,
) -> anyhow::Result<LatencyReport> {
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        let response = client.get(format!("{hub}{path}")).header("X-API-Key", key).send().await?;
        let status = response.status();
        let _ = response.bytes().await?;
        samples.push(started.elapsed());
        if !status.is_success() {
            bail!("GET {path}: HTTP {status}");
        }
    }
    Ok(latency_report(&format!("GET {path}"), samples))
}

/// A bare-bones HTTP receiver that reports the instant each request arrives.
async fn start_receiver() -> anyhow::Result<(String, mpsc::UnboundedReceiver<Instant>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let (arrived, arrivals) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let arrived = arrived.clone();
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                let mut filled = 0;
                loop {
                    let Ok(read) = socket.read(&mut buffer[filled..]).await else { return };
                    if read == 0 {
                        return;
                    }
                    filled += read;
                    let text = String::from_utf8_lossy(&buffer[..filled]).to_string();
                    let Some(end) = text.find("\r\n\r\n") else { continue };
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if filled >= end + 4 + length {
                        let _ = arrived.send(Instant::now());
                        let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
                        filled = 0;
                    }
                }
            });
        }
    });
    Ok((url, arrivals))
}

/// Heartbeat committed (200 received) → webhook hit, for `count` fresh disk alerts.
pub async fn notification_latency(
    client: &reqwest::Client,
    hub: &str,
    key: &str,
    fleet: &Fleet,
    count: usize,
) -> anyhow::Result<LatencyReport> {
    let (url, mut arrivals) = start_receiver().await?;
    let response = client
        .post(format!("{hub}/api/v1/notifications/channels"))
        .header("X-API-Key", key)
        .json(&json!({"id": "bench-webhook", "kind": "webhook", "url": url}))
        .send()
        .await?;
    if !response.status().is_success() && response.status().as_u16() != 409 {
        bail!("creating the bench channel: HTTP {}", response.status());
    }
    let mut samples = Vec::with_capacity(count);
    for i in 0..count {
        let mut body: serde_json::Value = serde_json::from_slice(&fleet.heartbeat_at(i as u64, i, Utc::now()))?;
        body["server_id"] = json!(format!("notify-{i}-{}", Utc::now().timestamp_millis()));
        body.as_object_mut().context("heartbeat is an object")?.remove("server_guid");
        body["filesystems"][0]["percent"] = json!(97.0);
        let response =
            client.post(format!("{hub}/api/v1/agents/heartbeat")).header("X-API-Key", key).json(&body).send().await?;
        let committed = Instant::now();
        if !response.status().is_success() {
            bail!("alerting heartbeat: HTTP {}", response.status());
        }
        let hit = tokio::time::timeout(Duration::from_secs(10), arrivals.recv())
            .await
            .context("no notification within 10 s")?
            .context("receiver stopped")?;
        samples.push(hit.saturating_duration_since(committed));
        // Let the grouping window of the channel pass so that each alert is sent on its own.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(latency_report("heartbeat commit → webhook", samples))
}
