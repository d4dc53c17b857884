//! The whole heartbeat from all collectors, with the state that rates and schedules need.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use homelab_core::heartbeat::{HeartbeatRequest, Metrics};

use crate::collectors::cpu::{self, CpuSampler, ProcStat};
use crate::collectors::disks::{self, FsStats, RootDisk, Statvfs};
use crate::collectors::packages::{self, PackageUpdates};
use crate::collectors::services::ServiceMonitor;
use crate::collectors::{load, memory, network, os, uptime};
use crate::command::{CommandRunner, SystemCommandRunner};
use crate::error::CollectError;
use crate::root::SystemRoot;
use crate::{AGENT_MODE, AGENT_VERSION};

/// Default time between two package listings: updates appear a few times a day at most, and
/// listing them costs seconds of CPU on a small board.
pub const DEFAULT_PACKAGE_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Who is reporting; copied into every heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentIdentity {
    /// Server slug, `^[a-z0-9-]+$`.
    pub server_id: String,
    /// Stable lower-case UUID v4, when the agent has one.
    pub server_guid: Option<String>,
    pub hostname: String,
}

/// What to collect beyond the always-on machine metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorConfig {
    /// systemd units to report, in this order (`nginx`, `docker.service`, …).
    pub services: Vec<String>,
    /// Whether to list pending package updates at all.
    pub collect_packages: bool,
    /// How often to list them when enabled.
    pub package_interval: Duration,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig { services: Vec::new(), collect_packages: false, package_interval: DEFAULT_PACKAGE_INTERVAL }
    }
}

/// A collector that failed this time; its field is empty in the heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Which collector (`memory`, `filesystems`, …), usable as a log field.
    pub collector: &'static str,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.collector, self.message)
    }
}

/// One collection: the heartbeat to send and what went wrong while building it. Returned
/// together so a caller cannot forget the warnings; this crate does no logging of its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    pub heartbeat: HeartbeatRequest,
    pub warnings: Vec<Warning>,
}

/// Builds v1 heartbeats for one machine. Keeps the previous CPU counters (machine and service
/// processes) so each heartbeat reports the average over the interval since the previous one,
/// and the time of the last package listing.
///
/// `collect` blocks (file reads, `systemctl`, and `apt` when packages are due): async callers
/// should run it on a blocking thread.
pub struct Collector {
    root: SystemRoot,
    config: CollectorConfig,
    fs_stats: Box<dyn FsStats>,
    commands: Box<dyn CommandRunner>,
    cpu: CpuSampler,
    services: ServiceMonitor,
    last_package_run: Option<DateTime<Utc>>,
}

impl fmt::Debug for Collector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collector")
            .field("root", &self.root)
            .field("config", &self.config)
            .field("cpu", &self.cpu)
            .field("last_package_run", &self.last_package_run)
            .finish_non_exhaustive()
    }
}

impl Collector {
    /// A collector for the machine behind `root`, measuring with `statvfs` and running the real
    /// `systemctl` and `apt`.
    pub fn new(root: SystemRoot, config: CollectorConfig) -> Self {
        Self::with_probes(root, config, Box::new(Statvfs::new()), Box::new(SystemCommandRunner))
    }

    /// Like [`new`](Self::new) with the file-system sizes and external commands supplied by the
    /// caller: for tests, and for a hub that wants to fake or sandbox them.
    pub fn with_probes(
        root: SystemRoot,
        config: CollectorConfig,
        fs_stats: Box<dyn FsStats>,
        commands: Box<dyn CommandRunner>,
    ) -> Self {
        Collector {
            root,
            config,
            fs_stats,
            commands,
            cpu: CpuSampler::new(),
            services: ServiceMonitor::new(),
            last_package_run: None,
        }
    }

    /// The directories read, for callers that look at more files of the same machine.
    pub fn root(&self) -> &SystemRoot {
        &self.root
    }

    /// The configuration in force, e.g. to tell whether packages are enabled at all.
    pub fn config(&self) -> &CollectorConfig {
        &self.config
    }

    /// Takes the CPU baselines (machine and service processes) so that the first heartbeat
    /// already carries CPU %. Call at start-up; the first `collect` after it measures the
    /// interval since this call, so leave at least a second between them.
    pub fn prime(&mut self) -> Vec<Warning> {
        let mut warnings = Vec::new();
        let (stat, _) = self.sample_cpu(&mut warnings);
        if !self.config.services.is_empty() {
            self.services.collect(&self.root, self.commands.as_ref(), &self.config.services, stat.as_ref(), false);
        }
        warnings
    }

    /// Collects everything due and builds the heartbeat stamped with `now`. Never fails: each
    /// collector that fails leaves its field empty and adds a warning.
    pub fn collect(&mut self, identity: &AgentIdentity, now: DateTime<Utc>) -> Collection {
        let mut warnings = Vec::new();
        let (stat, cpu_percent) = self.sample_cpu(&mut warnings);
        let mut warn = |collector: &'static str, error: &dyn fmt::Display| {
            warnings.push(Warning { collector, message: error.to_string() })
        };
        let mut metrics = Metrics { cpu_percent, ..Metrics::default() };

        match memory::read_memory(&self.root) {
            Ok(mem) => {
                metrics.memory_percent = mem.percent();
                metrics.memory_total_mb = Some(mem.total_mb());
                metrics.memory_used_mb = Some(mem.used_mb());
            }
            Err(e) => warn("memory", &e),
        }

        let filesystems = match disks::read_filesystems(&self.root, self.fs_stats.as_ref()) {
            Ok(found) => {
                for failure in &found.failures {
                    warn("filesystems", failure);
                }
                if let Some(usage) = &found.root {
                    let disk = RootDisk::from(usage);
                    metrics.disk_percent = Some(disk.percent);
                    metrics.disk_total_gb = Some(disk.total_gb);
                    metrics.disk_used_gb = Some(disk.used_gb);
                }
                Some(found.reports)
            }
            Err(e) => {
                warn("filesystems", &e);
                None
            }
        };

        let interfaces = match network::read_interfaces(&self.root) {
            Ok(interfaces) => {
                let (rx, tx) = network::totals(&interfaces);
                metrics.network_rx_bytes = Some(rx);
                metrics.network_tx_bytes = Some(tx);
                Some(interfaces)
            }
            Err(e) => {
                warn("network", &e);
                None
            }
        };

        match load::read_load(&self.root) {
            Ok(l) => {
                metrics.load_1m = Some(l.one);
                metrics.load_5m = Some(l.five);
                metrics.load_15m = Some(l.fifteen);
            }
            Err(e) => warn("load", &e),
        }

        match uptime::read_uptime(&self.root) {
            Ok(seconds) => metrics.uptime_seconds = Some(seconds),
            Err(e) => warn("uptime", &e),
        }

        let os_info = os::read_os_info(&self.root).inspect_err(|e| warn("os", e)).ok().filter(|i| {
            i.distribution.is_some() || i.version.is_some() || i.kernel.is_some() || i.architecture.is_some()
        });

        let cpu_info = cpu::read_cpu_info(&self.root)
            .inspect_err(|e| warn("cpu_info", e))
            .ok()
            .filter(|i| i.cpu_model.is_some() || i.cpu_cores.is_some());

        // Every loaded service unit's state (one `systemctl list-units`), configured ones in detail.
        let services =
            Some(self.services.collect(&self.root, self.commands.as_ref(), &self.config.services, stat.as_ref(), true))
                .filter(|reports| !reports.is_empty());

        let mut updates = None;
        if self.packages_due(now) {
            self.last_package_run = Some(now);
            match self.collect_packages() {
                Ok(found) => updates = found,
                Err(e) => warn("packages", &e),
            }
        }

        Collection {
            heartbeat: HeartbeatRequest {
                server_guid: identity.server_guid.clone(),
                server_id: identity.server_id.clone(),
                hostname: identity.hostname.clone(),
                timestamp: now,
                agent_version: Some(AGENT_VERSION.to_owned()),
                agent_mode: Some(AGENT_MODE.to_owned()),
                os_info,
                metrics: Some(metrics),
                updates_available: updates.as_ref().map(PackageUpdates::total),
                security_updates: updates.as_ref().map(PackageUpdates::security),
                services,
                packages: updates.map(|u| u.packages),
                cpu_info,
                filesystems,
                network_interfaces: interfaces,
                containers: None,
                temperatures: None,
                fans: None,
                disk_health: None,
                raid_arrays: None,
                zfs_pools: None,
                gpus: None,
            },
            warnings,
        }
    }

    /// Whether the next `collect` at `now` would list packages (enabled, and never run or the
    /// interval has passed). A clock that stepped backwards makes them due rather than stuck.
    pub fn packages_due(&self, now: DateTime<Utc>) -> bool {
        if !self.config.collect_packages {
            return false;
        }
        match self.last_package_run {
            None => true,
            Some(last) => match (now - last).to_std() {
                Ok(elapsed) => elapsed >= self.config.package_interval,
                Err(_) => true,
            },
        }
    }

    /// Lists pending updates now, regardless of the schedule; `Ok(None)` without apt. For callers
    /// that run the slow listing on their own thread and schedule.
    pub fn collect_packages(&self) -> Result<Option<PackageUpdates>, CollectError> {
        packages::read_package_updates(self.commands.as_ref())
    }

    /// Whether the machine waits for a reboot to finish installing updates.
    pub fn reboot_required(&self) -> bool {
        packages::reboot_required(&self.root)
    }

    /// Reads `/proc/stat` once for both the machine's CPU % and the service processes' clock.
    fn sample_cpu(&mut self, warnings: &mut Vec<Warning>) -> (Option<ProcStat>, Option<f64>) {
        match cpu::read_proc_stat(&self.root) {
            Ok(stat) => (Some(stat), self.cpu.sample(stat.total)),
            Err(e) => {
                warnings.push(Warning { collector: "cpu", message: e.to_string() });
                (None, None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collector_can_move_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Collector>();
    }

    #[test]
    fn package_schedule() {
        let config = CollectorConfig { collect_packages: true, ..CollectorConfig::default() };
        assert!(
            !Collector::new(SystemRoot::under("/nonexistent"), CollectorConfig::default()).packages_due(Utc::now())
        );
        let mut collector = Collector::new(SystemRoot::under("/nonexistent"), config);
        let t0 = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        assert!(collector.packages_due(t0));
        collector.last_package_run = Some(t0);
        assert!(!collector.packages_due(t0 + chrono::Duration::minutes(59)));
        assert!(collector.packages_due(t0 + chrono::Duration::minutes(60)));
        assert!(collector.packages_due(t0 - chrono::Duration::minutes(1)));
    }
}
