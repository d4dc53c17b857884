//! The agent's footprint: its resident memory over time and the CPU it spends per heartbeat
//! cycle (collect, serialise, send), measured on the real `homelabcmd-agent` binary reporting to
//! the hub under test.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use crate::scenarios::{cpu_millis, rss_kib};

#[derive(Serialize)]
pub struct AgentReport {
    pub seconds: u64,
    pub interval_ms: u64,
    /// Heartbeat cycles after the first second (the ones CPU per cycle is averaged over).
    pub cycles: u64,
    /// Resident memory, sampled once a second.
    pub rss_kib: Vec<u64>,
    pub rss_first_kib: u64,
    pub rss_max_kib: u64,
    pub rss_last_kib: u64,
    /// Including start-up.
    pub cpu_ms_total: f64,
    pub cpu_ms_per_cycle: f64,
    pub binary_bytes: u64,
}

fn agent_binary() -> anyhow::Result<PathBuf> {
    let path = std::env::current_exe().context("locating this executable")?.with_file_name("homelabcmd-agent");
    if !path.is_file() {
        bail!("{} not found: build it with `cargo build --release -p homelab-agent`", path.display());
    }
    Ok(path)
}

/// Runs the agent against `hub` for `seconds`, one heartbeat every `interval`.
pub async fn footprint(hub: &str, key: &str, seconds: u64, interval: Duration) -> anyhow::Result<AgentReport> {
    let binary = agent_binary()?;
    let state = tempfile::tempdir()?;
    let mut child = Command::new(&binary)
        .arg("run")
        .env("HOMELAB_AGENT_HUB_URL", hub)
        .env("HOMELAB_AGENT_API_KEY", key)
        .env("HOMELAB_AGENT_SERVER_ID", "bench-agent")
        .env("HOMELAB_AGENT_HEARTBEAT_INTERVAL_MS", interval.as_millis().to_string())
        .env("HOMELAB_AGENT_STATE_DIR", state.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let pid = child.id();
    let started = Instant::now();
    let mut rss = Vec::new();
    // CPU is counted from the first sample on, so that start-up (and the first, registering
    // heartbeat) does not inflate the steady-state cost per heartbeat.
    let mut baseline: Option<(f64, Instant)> = None;
    let progress = crate::progress::Progress::start("agent", crate::progress::Goal::Time(Duration::from_secs(seconds)));
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Some(status) = child.try_wait()? {
            progress.finish().await;
            bail!("the agent exited early ({status}); run `homelabcmd-agent check` to see why");
        }
        rss.extend(rss_kib(pid));
        if baseline.is_none() {
            baseline = cpu_millis(pid).map(|cpu| (cpu, Instant::now()));
        }
        progress.counters().record(true);
    }
    progress.finish().await;
    let cpu = cpu_millis(pid).context("reading the agent's CPU time")?;
    let _ = child.kill();
    let _ = child.wait();
    let (cpu_before, since) = baseline.context("the run was too short to sample the agent")?;
    let cycles = ((since.elapsed().as_millis() / interval.as_millis().max(1)) as u64).max(1);
    let cpu_steady = cpu - cpu_before;
    Ok(AgentReport {
        seconds,
        interval_ms: interval.as_millis() as u64,
        cycles,
        rss_first_kib: rss.first().copied().unwrap_or_default(),
        rss_max_kib: rss.iter().copied().max().unwrap_or_default(),
        rss_last_kib: rss.last().copied().unwrap_or_default(),
        rss_kib: rss,
        cpu_ms_total: cpu,
        cpu_ms_per_cycle: cpu_steady / cycles as f64,
        binary_bytes: std::fs::metadata(&binary)?.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let pid = std::process::id();
        let spin = Instant::now();
        while spin.elapsed() < Duration::from_millis(30) {
            std::hint::black_box(0u64.wrapping_add(1));
        }
        assert!(cpu_millis(pid).is_some_and(|ms| ms >= 0.0));
        assert!(rss_kib(pid).is_some_and(|kib| kib > 0));
    }
}
