//! Docker and Podman containers through the Engine API on the local unix socket.
//!
//! One collection asks each engine for its list (`GET /containers/json?all=true`), then per
//! container for its inspection (`GET /containers/{id}/json`: health, exit code, restart count,
//! start time, none of which the list carries reliably) and, for running ones, one stats sample
//! (`GET /containers/{id}/stats?stream=false&one-shot=true`). Podman answers the same
//! Docker-compatible paths. Everything shares one deadline: past it the remaining containers
//! are reported from the list alone, so a slow or hung engine never holds a heartbeat.
//!
//! `one-shot` makes Docker answer at once instead of sampling for a second, at the price of an
//! empty `precpu_stats`; CPU % then comes from this monitor's previous sample of the same
//! container, as `docker stats` computes it from two samples.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use homelab_core::inventory::{CONTAINER_STATES, ContainerReport};
use serde::Deserialize;

use super::unix_http::{self, HttpError};
use super::{round_to, saturating_i64, truncate_chars};
use crate::error::ParseError;
use crate::root::SystemRoot;

/// How long one collection may take over all engines, unless configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// A container engine's API socket and which engine it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSocket {
    /// `docker` or `podman`.
    pub engine: &'static str,
    pub path: PathBuf,
}

impl EngineSocket {
    /// A socket whose path names Podman is Podman's; any other speaks for Docker.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let engine = if path.to_string_lossy().contains("podman") { "podman" } else { "docker" };
        EngineSocket { engine, path }
    }
}

/// Where the engines listen by default on the machine behind `root`: Podman's system socket,
/// the rootless Podman socket of the user running the agent (host only) and Docker's.
/// `xdg_runtime_dir` is `$XDG_RUNTIME_DIR` when the agent has one.
pub fn default_sockets(root: &SystemRoot, xdg_runtime_dir: Option<&Path>) -> Vec<EngineSocket> {
    let mut sockets = vec![EngineSocket::at(root.run.join("podman/podman.sock"))];
    if root.root == Path::new("/")
        && let Some(dir) = xdg_runtime_dir
    {
        sockets.push(EngineSocket::at(dir.join("podman/podman.sock")));
    }
    sockets.push(EngineSocket::at(root.run.join("docker.sock")));
    sockets
}

/// One entry of `GET /containers/json`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListedContainer {
    pub id: String,
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub state: String,
    /// Human text such as `Up 2 hours (unhealthy)` or `Exited (137) 5 minutes ago`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub labels: Option<ComposeLabels>,
}

/// The two labels we keep; the rest are not read at all.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ComposeLabels {
    #[serde(rename = "com.docker.compose.project")]
    pub project: Option<String>,
    #[serde(rename = "com.docker.compose.service")]
    pub service: Option<String>,
}

/// What we read from `GET /containers/{id}/json`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Inspection {
    #[serde(default)]
    pub state: InspectedState,
    pub restart_count: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectedState {
    pub status: Option<String>,
    pub exit_code: Option<i64>,
    pub started_at: Option<String>,
    /// Podman before 4 called it `Healthcheck`.
    #[serde(alias = "Healthcheck")]
    pub health: Option<InspectedHealth>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectedHealth {
    pub status: Option<String>,
}

/// What we read from one stats sample; absent fields are zero or `None`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Stats {
    #[serde(default)]
    pub cpu_stats: CpuStats,
    #[serde(default)]
    pub precpu_stats: CpuStats,
    #[serde(default)]
    pub memory_stats: MemoryStats,
    #[serde(default)]
    pub networks: Option<HashMap<String, NetworkStats>>,
    #[serde(default)]
    pub blkio_stats: BlkioStats,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
pub struct CpuStats {
    #[serde(default)]
    pub cpu_usage: CpuUsage,
    #[serde(default)]
    pub system_cpu_usage: Option<u64>,
    #[serde(default)]
    pub online_cpus: Option<u32>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
pub struct CpuUsage {
    #[serde(default)]
    pub total_usage: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct MemoryStats {
    pub usage: Option<u64>,
    pub limit: Option<u64>,
    #[serde(default)]
    pub stats: Option<MemoryDetail>,
}

/// The page cache to subtract, as `docker stats` does: cgroup v2 names it `inactive_file`,
/// v1 `total_inactive_file`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
pub struct MemoryDetail {
    pub inactive_file: Option<u64>,
    pub total_inactive_file: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
pub struct NetworkStats {
    #[serde(default)]
    pub rx_bytes: u64,
    #[serde(default)]
    pub tx_bytes: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct BlkioStats {
    #[serde(default)]
    pub io_service_bytes_recursive: Option<Vec<BlkioEntry>>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct BlkioEntry {
    #[serde(default)]
    pub op: String,
    #[serde(default)]
    pub value: u64,
}

/// A container's CPU counters at one sample: its own CPU time and the machine's, both in ns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CpuSample {
    container: u64,
    system: u64,
}

pub fn parse_list(body: &[u8]) -> Result<Vec<ListedContainer>, ParseError> {
    serde_json::from_slice(body).map_err(|e| ParseError::new(format!("container list: {e}")))
}

pub fn parse_inspection(body: &[u8]) -> Result<Inspection, ParseError> {
    serde_json::from_slice(body).map_err(|e| ParseError::new(format!("container inspection: {e}")))
}

pub fn parse_stats(body: &[u8]) -> Result<Stats, ParseError> {
    serde_json::from_slice(body).map_err(|e| ParseError::new(format!("container stats: {e}")))
}

/// The engine's state in the wire's words: Podman's `stopped` and `configured` are Docker's
/// `exited` and `created`; anything else unknown counts as `created` (not running, never ran as
/// far as we can tell), which raises nothing by itself.
pub fn normalise_state(state: &str) -> &'static str {
    let state = state.to_ascii_lowercase();
    match state.as_str() {
        "stopped" | "stopping" => "exited",
        other => CONTAINER_STATES.iter().find(|known| **known == other).copied().unwrap_or("created"),
    }
}

/// Health and exit code from the list's status text, for when there was no time to inspect:
/// `Up 3 hours (healthy)`, `Up 5 seconds (health: starting)`, `Exited (137) 2 minutes ago`.
pub fn parse_status_text(status: &str) -> (Option<&'static str>, Option<i64>) {
    let health = if status.contains("(unhealthy)") {
        Some("unhealthy")
    } else if status.contains("(healthy)") {
        Some("healthy")
    } else if status.contains("(health: starting)") {
        Some("starting")
    } else {
        None
    };
    let exit_code = status
        .strip_prefix("Exited (")
        .or_else(|| status.strip_prefix("Restarting ("))
        .and_then(|rest| rest.split_once(')'))
        .and_then(|(code, _)| code.parse().ok());
    (health, exit_code)
}

/// `docker stats`' CPU %: the container's share of the machine's CPU time between two samples,
/// times the number of CPUs, so one busy core is 100.
fn cpu_percent(now: CpuSample, before: CpuSample, online_cpus: u32) -> Option<f64> {
    let container = now.container.checked_sub(before.container)?;
    let system = now.system.checked_sub(before.system)?;
    if system == 0 || online_cpus == 0 {
        return None;
    }
    Some(round_to(container as f64 / system as f64 * f64::from(online_cpus) * 100.0, 1))
}

/// Builds one report from the list entry and whatever details arrived in time.
pub fn report(
    engine: &'static str,
    listed: &ListedContainer,
    inspection: Option<&Inspection>,
    stats: Option<&Stats>,
    cpu_percent: Option<f64>,
) -> ContainerReport {
    let state = inspection.and_then(|i| i.state.status.as_deref()).unwrap_or(&listed.state);
    let state = normalise_state(state);
    let (listed_health, listed_exit) = parse_status_text(&listed.status);
    let health = match inspection.and_then(|i| i.state.health.as_ref()) {
        Some(health) => health.status.as_deref().and_then(|status| match status {
            "healthy" => Some("healthy"),
            "unhealthy" => Some("unhealthy"),
            "starting" => Some("starting"),
            _ => None,
        }),
        None => listed_health,
    };
    let exit_code = inspection.and_then(|i| i.state.exit_code).or(listed_exit);
    let started_at = inspection
        .and_then(|i| i.state.started_at.as_deref())
        // The zero time is the engines' way of saying "never started".
        .filter(|at| !at.is_empty() && !at.starts_with("0001-01-01"))
        .map(|at| truncate_chars(at, 64));
    let labels = listed.labels.as_ref();
    let name = listed.names.first().map_or(listed.id.as_str(), |n| n.trim_start_matches('/'));
    let mut report = ContainerReport {
        id: truncate_chars(&listed.id, 128),
        name: truncate_chars(name, 255),
        image: truncate_chars(&listed.image, 512),
        engine: Some(engine.to_owned()),
        state: state.to_owned(),
        health: health.map(str::to_owned),
        exit_code: exit_code.filter(|_| matches!(state, "exited" | "dead" | "restarting")),
        restart_count: inspection.and_then(|i| i.restart_count).map(|n| n.max(0)),
        started_at,
        cpu_percent,
        compose_project: labels.and_then(|l| l.project.as_deref()).map(|p| truncate_chars(p, 255)),
        compose_service: labels.and_then(|l| l.service.as_deref()).map(|s| truncate_chars(s, 255)),
        ..ContainerReport::default()
    };
    if let Some(stats) = stats {
        let memory = &stats.memory_stats;
        if let Some(usage) = memory.usage {
            let cache = memory.stats.and_then(|s| s.inactive_file.or(s.total_inactive_file)).unwrap_or(0);
            report.memory_used_bytes = Some(saturating_i64(if cache < usage { usage - cache } else { usage }));
        }
        report.memory_limit_bytes = memory.limit.map(saturating_i64);
        if let Some(networks) = &stats.networks {
            let (rx, tx) = networks
                .values()
                .fold((0u64, 0u64), |(rx, tx), n| (rx.saturating_add(n.rx_bytes), tx.saturating_add(n.tx_bytes)));
            report.network_rx_bytes = Some(saturating_i64(rx));
            report.network_tx_bytes = Some(saturating_i64(tx));
        }
        if let Some(entries) = &stats.blkio_stats.io_service_bytes_recursive {
            let sum = |op: &str| {
                saturating_i64(
                    entries
                        .iter()
                        .filter(|e| e.op.eq_ignore_ascii_case(op))
                        .fold(0u64, |a, e| a.saturating_add(e.value)),
                )
            };
            report.block_read_bytes = Some(sum("read"));
            report.block_write_bytes = Some(sum("write"));
        }
    }
    report
}

/// What one engine answered, or why it could not.
#[derive(Debug)]
enum EngineAnswer {
    /// No socket there: the engine is not installed or not running, which is not a fault.
    Absent,
    Listed {
        reports: Vec<ContainerReport>,
        cut_short: Option<String>,
    },
    Failed(String),
}

/// Collects containers from every engine socket, keeping the CPU counters between collections
/// and which sockets are failing, so that a broken engine is reported once rather than every
/// heartbeat.
#[derive(Debug, Default)]
pub struct ContainerMonitor {
    previous: HashMap<String, CpuSample>,
    /// Sockets failing since their last good answer. The wording of a failure varies between
    /// attempts (a reset, a broken pipe, an early end), so the state is what is reported once.
    failing: HashSet<PathBuf>,
}

impl ContainerMonitor {
    pub fn new() -> Self {
        Self::default()
    }

    /// All containers of all engines that answered, sorted by engine and name; `None` when no
    /// engine answered (no socket anywhere, or every one failed). Warnings are new failures only.
    pub fn collect(
        &mut self,
        sockets: &[EngineSocket],
        budget: Duration,
    ) -> (Option<Vec<ContainerReport>>, Vec<String>) {
        let deadline = Instant::now() + budget;
        let mut found: Option<Vec<ContainerReport>> = None;
        let mut warnings = Vec::new();
        let mut seen_ids = Vec::new();
        let mut seen_sockets: Vec<PathBuf> = Vec::new();
        for socket in sockets {
            // Podman's Docker-compatible socket is often linked to Docker's path: ask it once.
            let real = std::fs::canonicalize(&socket.path).unwrap_or_else(|_| socket.path.clone());
            if seen_sockets.contains(&real) {
                continue;
            }
            seen_sockets.push(real);
            match self.ask_engine(socket, deadline, budget) {
                EngineAnswer::Absent => {
                    self.failing.remove(&socket.path);
                }
                EngineAnswer::Failed(message) => {
                    if self.failing.insert(socket.path.clone()) {
                        warnings.push(format!("{} ({}): {message}", socket.engine, socket.path.display()));
                    }
                }
                EngineAnswer::Listed { reports, cut_short } => {
                    match cut_short {
                        Some(message) => {
                            if self.failing.insert(socket.path.clone()) {
                                warnings.push(format!("{} ({}): {message}", socket.engine, socket.path.display()));
                            }
                        }
                        None => {
                            self.failing.remove(&socket.path);
                        }
                    }
                    seen_ids.extend(reports.iter().map(|r| r.id.clone()));
                    found.get_or_insert_with(Vec::new).extend(reports);
                }
            }
        }
        // Counters of containers that are gone would otherwise pile up on a busy CI runner.
        self.previous.retain(|id, _| seen_ids.contains(id));
        if let Some(reports) = &mut found {
            reports.sort_by(|a, b| (a.engine.as_deref(), &a.name).cmp(&(b.engine.as_deref(), &b.name)));
        }
        (found, warnings)
    }

    fn ask_engine(&mut self, socket: &EngineSocket, deadline: Instant, budget: Duration) -> EngineAnswer {
        let listed = match fetch(&socket.path, "/containers/json?all=true", deadline, budget) {
            Ok(body) => match parse_list(&body) {
                Ok(listed) => listed,
                Err(e) => return EngineAnswer::Failed(e.to_string()),
            },
            Err(FetchError::Http(HttpError::Connect(e)))
                if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) =>
            {
                // A stale socket file of a stopped engine refuses connections: as good as absent.
                return EngineAnswer::Absent;
            }
            Err(e) => return EngineAnswer::Failed(e.to_string()),
        };
        let mut cut_short = None;
        let mut reports = Vec::with_capacity(listed.len());
        for container in &listed {
            if container.id.is_empty() || !container.id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                continue;
            }
            let mut inspection = None;
            let mut stats = None;
            if cut_short.is_none() {
                match fetch(&socket.path, &format!("/containers/{}/json", container.id), deadline, budget)
                    .and_then(|body| parse_inspection(&body).map_err(FetchError::Parse))
                {
                    Ok(found) => inspection = Some(found),
                    Err(FetchError::Http(e @ HttpError::Timeout(_))) => cut_short = Some(details_cut_short(&e)),
                    // Removed between the list and now, or an odd answer: report it from the list.
                    Err(_) => {}
                }
            }
            let running = normalise_state(
                inspection.as_ref().and_then(|i| i.state.status.as_deref()).unwrap_or(&container.state),
            ) == "running";
            if running && cut_short.is_none() {
                let path = format!("/containers/{}/stats?stream=false&one-shot=true", container.id);
                match fetch(&socket.path, &path, deadline, budget)
                    .and_then(|b| parse_stats(&b).map_err(FetchError::Parse))
                {
                    Ok(found) => stats = Some(found),
                    Err(FetchError::Http(e @ HttpError::Timeout(_))) => cut_short = Some(details_cut_short(&e)),
                    Err(_) => {}
                }
            }
            let cpu = stats.as_ref().and_then(|s| self.cpu_percent(&container.id, s));
            reports.push(report(socket.engine, container, inspection.as_ref(), stats.as_ref(), cpu));
        }
        EngineAnswer::Listed { reports, cut_short }
    }

    /// From the sample's own previous counters when the engine filled them (Podman, Docker
    /// without one-shot), else from the sample this monitor kept from the last collection.
    fn cpu_percent(&mut self, id: &str, stats: &Stats) -> Option<f64> {
        let cpu = &stats.cpu_stats;
        let now = CpuSample { container: cpu.cpu_usage.total_usage, system: cpu.system_cpu_usage? };
        let online = cpu.online_cpus.unwrap_or(1);
        let engine_before = CpuSample {
            container: stats.precpu_stats.cpu_usage.total_usage,
            system: stats.precpu_stats.system_cpu_usage.unwrap_or(0),
        };
        let before = if engine_before.system > 0 && engine_before.container > 0 {
            Some(engine_before)
        } else {
            self.previous.get(id).copied()
        };
        self.previous.insert(id.to_owned(), now);
        cpu_percent(now, before?, online)
    }
}

fn details_cut_short(error: &HttpError) -> String {
    format!("container details cut short: {error}")
}

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("{0}")]
    Http(HttpError),
    #[error("{0}")]
    Parse(ParseError),
    #[error("the engine answered {status}: {message}")]
    Status { status: u16, message: String },
}

/// A 200 answer's body; any other status is an error carrying the engine's `message`.
fn fetch(socket: &Path, path: &str, deadline: Instant, budget: Duration) -> Result<Vec<u8>, FetchError> {
    let answer = unix_http::get(socket, path, deadline, budget).map_err(FetchError::Http)?;
    if answer.status == 200 {
        return Ok(answer.body);
    }
    #[derive(Deserialize)]
    struct EngineError {
        message: String,
    }
    let message = serde_json::from_slice::<EngineError>(&answer.body)
        .map(|e| e.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(&answer.body).into_owned());
    Err(FetchError::Status { status: answer.status, message: truncate_chars(message.trim(), 200) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_from_either_engine() {
        assert_eq!(normalise_state("running"), "running");
        assert_eq!(normalise_state("Exited"), "exited");
        assert_eq!(normalise_state("stopped"), "exited");
        assert_eq!(normalise_state("configured"), "created");
        assert_eq!(normalise_state("restarting"), "restarting");
        assert_eq!(normalise_state(""), "created");
    }

    #[test]
    fn status_text() {
        assert_eq!(parse_status_text("Up 2 hours (healthy)"), (Some("healthy"), None));
        assert_eq!(parse_status_text("Up 2 hours (unhealthy)"), (Some("unhealthy"), None));
        assert_eq!(parse_status_text("Up 4 seconds (health: starting)"), (Some("starting"), None));
        assert_eq!(parse_status_text("Exited (137) 5 minutes ago"), (None, Some(137)));
        assert_eq!(parse_status_text("Restarting (1) 3 seconds ago"), (None, Some(1)));
        assert_eq!(parse_status_text("Up 3 days"), (None, None));
        assert_eq!(parse_status_text("Created"), (None, None));
    }

    #[test]
    fn cpu_like_docker_stats() {
        let before = CpuSample { container: 1_000_000_000, system: 100_000_000_000 };
        // Half a second of a 4-CPU machine's 10 s of CPU time: 5 % of the machine, 20 % of a core.
        let now = CpuSample { container: 1_500_000_000, system: 110_000_000_000 };
        assert_eq!(cpu_percent(now, before, 4), Some(20.0));
        assert_eq!(cpu_percent(before, now, 4), None, "counters went backwards (restart)");
        assert_eq!(cpu_percent(now, now, 4), None, "no machine time passed");
    }

    #[test]
    fn socket_engine_from_its_path() {
        assert_eq!(EngineSocket::at("/run/user/1000/podman/podman.sock").engine, "podman");
        assert_eq!(EngineSocket::at("/var/run/docker.sock").engine, "docker");
        let host = default_sockets(&SystemRoot::host(), Some(Path::new("/run/user/1000")));
        let paths: Vec<_> = host.iter().map(|s| s.path.to_string_lossy().into_owned()).collect();
        assert_eq!(paths, ["/var/run/podman/podman.sock", "/run/user/1000/podman/podman.sock", "/var/run/docker.sock"]);
        let fixture = default_sockets(&SystemRoot::under("/fixture"), Some(Path::new("/run/user/1000")));
        assert_eq!(fixture.len(), 2, "a fixture tree never reaches the host's user sockets");
    }
}
