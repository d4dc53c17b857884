//! What the templates show, computed in Rust so that templates stay simple and the rules are
//! unit-tested: status (colour, shape and words), relative times, sizes, sparklines.

use std::sync::Arc;

use chrono::Duration;
use homelab_core::alerts::thresholds::Thresholds;
use homelab_core::heartbeat::Metrics;
use homelab_core::history::{MetricKind, Tier};
use homelab_core::server::Server;
use homelab_core::status::{MachineType, ServerStatus, Silence, status};
use homelab_core::time::Timestamp;
use homelab_store::HistoryQuery;

use crate::state::AppState;

/// How a machine is doing, for the badge: each has its own colour, shape and word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Online,
    Warning,
    Offline,
    /// A workstation that is off: normal, so grey with "last seen …", never red.
    Asleep,
    Maintenance,
    /// Added by hand and never heard from (the API's and the summary's `unknown`): waiting for
    /// its first heartbeat, which is not a fault, so grey and never counted offline.
    Unknown,
}

impl Status {
    /// CSS class suffix and filter value.
    pub fn key(self) -> &'static str {
        match self {
            Status::Online => "online",
            Status::Warning => "warning",
            Status::Offline => "offline",
            Status::Asleep => "asleep",
            Status::Maintenance => "maintenance",
            Status::Unknown => "unknown",
        }
    }

    /// A shape that tells the states apart without colour.
    pub fn symbol(self) -> &'static str {
        match self {
            Status::Online => "●",
            Status::Warning => "▲",
            Status::Offline => "■",
            Status::Asleep => "○",
            Status::Maintenance => "◆",
            Status::Unknown => "◌",
        }
    }
}

/// Level of one metric against the thresholds: `ok`, `warn` or `crit` (a CSS class).
pub fn level(value: Option<f64>, high: i64, critical: i64) -> &'static str {
    match value {
        Some(v) if v >= critical as f64 => "crit",
        Some(v) if v >= high as f64 => "warn",
        _ => "ok",
    }
}

/// "just now", "4 min ago", "2 h ago", "3 d ago".
pub fn ago(then: Timestamp, now: Timestamp) -> String {
    let seconds = (now - then).num_seconds().max(0);
    match seconds {
        0..=59 => "just now".into(),
        60..=3599 => format!("{} min ago", seconds / 60),
        3600..=86_399 => format!("{} h ago", seconds / 3600),
        _ => format!("{} d ago", seconds / 86_400),
    }
}

/// "3 d 4 h", "5 h 12 min", "7 min".
pub fn uptime(seconds: i64) -> String {
    let (days, hours, minutes) = (seconds / 86_400, seconds % 86_400 / 3600, seconds % 3600 / 60);
    if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {minutes} min")
    } else {
        format!("{minutes} min")
    }
}

/// Binary sizes with one decimal: "931.3 GiB".
pub fn bytes(value: i64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut amount = value.max(0) as f64;
    let mut unit = 0;
    while amount >= 1024.0 && unit < UNITS.len() - 1 {
        amount /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{value} B") } else { format!("{amount:.1} {}", UNITS[unit]) }
}

/// HTML-escapes text for the few places that build markup by hand.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An SVG polyline `points` attribute for values 0–100 in a 100 × 24 box, oldest first.
pub fn sparkline_points(values: &[f64]) -> String {
    if values.len() < 2 {
        return String::new();
    }
    let last = (values.len() - 1) as f64;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", i as f64 * 100.0 / last, 24.0 - v.clamp(0.0, 100.0) * 0.24))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The thresholds in force (saved settings, else the defaults); unreadable ones are an error,
/// as everywhere.
pub async fn thresholds(state: &AppState) -> crate::service::ServiceResult<Thresholds> {
    crate::service::config::thresholds(state).await
}

/// One metric bar on a card.
pub struct Meter {
    pub label: &'static str,
    pub value: Option<f64>,
    pub level: &'static str,
}

impl Meter {
    pub fn text(&self) -> String {
        self.value.map_or_else(|| "–".into(), |v| format!("{v:.0} %"))
    }

    /// Bar width in percent, for the inline style.
    pub fn width(&self) -> String {
        format!("{:.0}", self.value.unwrap_or(0.0).clamp(0.0, 100.0))
    }
}

/// Everything one fleet card shows.
pub struct Card {
    pub id: String,
    pub name: String,
    pub hostname: String,
    pub machine_type: MachineType,
    pub status: Status,
    pub status_text: String,
    pub meters: Vec<Meter>,
    pub uptime: Option<String>,
    pub last_seen: String,
    pub alerts: i64,
    pub paused: bool,
    pub spark: String,
    pub updates: i64,
    pub security_updates: i64,
    /// The server's tags (sorted), for the chips and the tag filter.
    pub tags: Vec<String>,
    /// Containers running and listed (`None`: the machine reports no container engine).
    pub containers: Option<(usize, usize)>,
    /// Watched containers down, missing or unhealthy, for the chip and the fleet filter.
    pub containers_down: usize,
    /// The hottest sensor and its temperature ("62 °C"), when it reports any.
    pub hottest: Option<(String, String)>,
}

impl Card {
    pub fn is_workstation(&self) -> bool {
        self.machine_type.is_workstation()
    }

    /// Text the client-side search matches against.
    pub fn search_text(&self) -> String {
        format!("{} {} {} {}", self.name, self.id, self.hostname, self.tags.join(" ")).to_lowercase()
    }

    /// Space-delimited tags for the filter (`" prod rack-a "`: a tag matches as `" prod "`).
    pub fn tag_data(&self) -> String {
        if self.tags.is_empty() { String::new() } else { format!(" {} ", self.tags.join(" ")) }
    }
}

/// The badge: `homelab_core::status` (the one rule the API and the fleet summary use too), with
/// maintenance, sleeping workstations and warnings told apart. Never heard from is `Unknown`.
/// `metrics` are the server's latest, read out of their snapshot by the caller.
fn effective_status(
    server: &Server,
    metrics: Option<&Metrics>,
    thresholds: &Thresholds,
    silence: &Silence,
    now: Timestamp,
) -> Status {
    let status = status(server, silence, now);
    if server.is_paused {
        Status::Maintenance
    } else if status == ServerStatus::Unknown {
        Status::Unknown
    } else if status != ServerStatus::Online {
        if server.machine_type.is_workstation() { Status::Asleep } else { Status::Offline }
    } else if server.active_alert_count > 0 {
        Status::Warning
    } else {
        let over = |value: Option<f64>, high: i64| value.is_some_and(|v| v >= high as f64);
        if over(metrics.and_then(|m| m.cpu_percent), thresholds.cpu.high_percent)
            || over(metrics.and_then(|m| m.memory_percent), thresholds.memory.high_percent)
            || over(metrics.and_then(|m| m.disk_percent), thresholds.disk.high_percent)
        {
            Status::Warning
        } else {
            Status::Online
        }
    }
}

/// Builds a card; `spark` holds recent CPU values, oldest first.
pub fn card(server: &Server, thresholds: &Thresholds, silence: &Silence, now: Timestamp, spark: &[f64]) -> Card {
    let metrics = server.metrics();
    let status = effective_status(server, metrics.as_ref(), thresholds, silence, now);
    let last_seen = server.last_seen.map_or_else(|| "never".into(), |seen| ago(seen, now));
    let status_text = match status {
        Status::Online => "Online".into(),
        Status::Warning => "Warning".into(),
        Status::Offline => "Offline".into(),
        Status::Asleep => format!("Last seen {last_seen}"),
        Status::Maintenance => "Maintenance".into(),
        // Short, so the badge leaves the name room; the card's foot says what it waits for.
        Status::Unknown => "Waiting".into(),
    };
    let m = metrics.as_ref();
    let cpu = m.and_then(|m| m.cpu_percent);
    let memory = m.and_then(|m| m.memory_percent);
    let disk = m.and_then(|m| m.disk_percent);
    Card {
        id: server.id.clone(),
        name: server.name().to_owned(),
        hostname: server.hostname.clone(),
        machine_type: server.machine_type,
        status,
        status_text,
        meters: vec![
            Meter {
                label: "CPU",
                value: cpu,
                level: level(cpu, thresholds.cpu.high_percent, thresholds.cpu.critical_percent),
            },
            Meter {
                label: "RAM",
                value: memory,
                level: level(memory, thresholds.memory.high_percent, thresholds.memory.critical_percent),
            },
            Meter {
                label: "Disk",
                value: disk,
                level: level(disk, thresholds.disk.high_percent, thresholds.disk.critical_percent),
            },
        ],
        uptime: m.and_then(|m| m.uptime_seconds).map(uptime),
        last_seen,
        alerts: server.active_alert_count,
        paused: server.is_paused,
        spark: sparkline_points(spark),
        updates: server.updates_available.unwrap_or(0),
        security_updates: server.security_updates.unwrap_or(0),
        tags: Vec::new(),
        containers: None,
        containers_down: 0,
        hottest: None,
    }
}

impl Card {
    /// Adds what the machine's inventory summary says (containers, hottest sensor).
    pub fn with_inventory(mut self, summary: Option<&crate::service::inventory::InventorySummary>) -> Card {
        if let Some(summary) = summary {
            self.containers = summary.containers_running.zip(summary.containers_total);
            self.containers_down = summary.containers_down.len();
            self.hottest = summary
                .hottest_sensor
                .clone()
                .zip(summary.hottest_celsius)
                .map(|(sensor, celsius)| (sensor, format!("{celsius:.0} °C")));
        }
        self
    }
}

/// How long a cached sparkline is reused for a server that sent nothing new: points age out of
/// the last hour, so a silent machine's line is redrawn now and then.
const SPARK_TTL_SECONDS: i64 = 300;

struct SparkEntry {
    last_seen: Option<Timestamp>,
    computed_at: Timestamp,
    values: Arc<Vec<f64>>,
}

/// Sparkline values per server, reused until the server's next heartbeat (a sparkline only
/// changes when one arrives). A 1 000-machine fleet page then reads history only for the machines
/// that changed since the last view instead of a thousand series every time.
#[derive(Default)]
pub struct SparkCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, SparkEntry>>,
}

impl SparkCache {
    fn current(&self, server: &Server, now: Timestamp) -> Option<Arc<Vec<f64>>> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(&server.id)?;
        (entry.last_seen == server.last_seen
            && (now - entry.computed_at).num_seconds() < SPARK_TTL_SECONDS
            && entry.computed_at <= now)
            .then(|| Arc::clone(&entry.values))
    }

    fn keep(&self, server: &Server, now: Timestamp, values: Arc<Vec<f64>>) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(server.id.clone(), SparkEntry { last_seen: server.last_seen, computed_at: now, values });
        }
    }

    /// The sparkline of `server`, from the cache while still current, else read and kept.
    pub async fn get(&self, state: &AppState, server: &Server, now: Timestamp) -> Arc<Vec<f64>> {
        if let Some(values) = self.current(server, now) {
            return values;
        }
        let values = Arc::new(spark_values(state, &server.id, now).await);
        self.keep(server, now, Arc::clone(&values));
        values
    }

    /// Reads the out-of-date sparklines of `servers` with one store read for the whole fleet,
    /// when enough of them are out of date for that to beat reading them one by one (the first
    /// view of a large fleet). What it cannot read is left to [`SparkCache::get`].
    pub async fn refresh(&self, state: &AppState, servers: &[Server], now: Timestamp) {
        let stale: Vec<&Server> = servers.iter().filter(|s| self.current(s, now).is_none()).collect();
        if stale.len() < 2 || stale.len() * 10 < servers.len() {
            return;
        }
        let (from, to) = spark_range(now);
        let Ok(fleet) = state.store.fleet_samples(MetricKind::CpuPercent, from, to).await else { return };
        for server in stale {
            let points = fleet.get(&server.id).map(|points| points.iter().map(|p| p.avg).collect()).unwrap_or_default();
            self.keep(server, now, Arc::new(downsample(points)));
        }
    }

    /// Forgets servers that are gone (called with the full list after a fleet page).
    pub fn keep_only(&self, ids: &std::collections::HashSet<&str>) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|id, _| ids.contains(id.as_str()));
        }
    }
}

/// A sparkline covers the last hour (and a few minutes ahead, for agents whose clock runs fast).
fn spark_range(now: Timestamp) -> (Timestamp, Timestamp) {
    (now - Duration::minutes(60), now + Duration::minutes(5))
}

/// At most 30 evenly spaced points.
fn downsample(points: Vec<f64>) -> Vec<f64> {
    const TARGET: usize = 30;
    if points.len() > TARGET { (0..TARGET).map(|i| points[i * points.len() / TARGET]).collect() } else { points }
}

/// Recent CPU values of one server for its sparkline (last hour, at most 30 points).
async fn spark_values(state: &AppState, server_id: &str, now: Timestamp) -> Vec<f64> {
    let (from, to) = spark_range(now);
    let query =
        HistoryQuery { metrics: vec![MetricKind::CpuPercent], from, to, source: Tier::Raw, bucket_millis: None };
    match state.store.history(server_id, &query).await {
        Ok(series) => downsample(series.into_iter().flat_map(|s| s.points).map(|p| p.avg).collect()),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        homelab_core::time::parse(text).unwrap()
    }

    #[test]
    fn relative_times_and_sizes_read_naturally() {
        let now = at("2026-01-19T12:00:00Z");
        assert_eq!(ago(at("2026-01-19T11:59:30Z"), now), "just now");
        assert_eq!(ago(at("2026-01-19T11:56:00Z"), now), "4 min ago");
        assert_eq!(ago(at("2026-01-19T10:00:00Z"), now), "2 h ago");
        assert_eq!(ago(at("2026-01-16T12:00:00Z"), now), "3 d ago");
        assert_eq!(uptime(86_400 * 3 + 3600 * 4), "3 d 4 h");
        assert_eq!(uptime(420), "7 min");
        assert_eq!(bytes(500_000_000_000), "465.7 GiB");
        assert_eq!(bytes(12), "12 B");
    }

    #[test]
    fn levels_follow_thresholds() {
        assert_eq!(level(Some(50.0), 85, 95), "ok");
        assert_eq!(level(Some(85.0), 85, 95), "warn");
        assert_eq!(level(Some(99.0), 85, 95), "crit");
        assert_eq!(level(None, 85, 95), "ok");
    }

    #[test]
    fn sparkline_spans_the_box() {
        assert_eq!(sparkline_points(&[0.0, 100.0]), "0.0,24.0 100.0,0.0");
        assert_eq!(sparkline_points(&[1.0]), "");
    }

    #[test]
    fn escaping_covers_markup() {
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
