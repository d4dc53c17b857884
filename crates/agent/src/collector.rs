//! The whole heartbeat from all collectors, with the state that rates and schedules need.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use homelab_core::heartbeat::{HeartbeatRequest, Metrics};

use crate::background::{CommandProbes, CommandSchedule, DEFAULT_COMMAND_INTERVAL, DEFAULT_DISK_HEALTH_INTERVAL};
use crate::collectors::containers::{self, ContainerMonitor, EngineSocket};
use crate::collectors::cpu::{self, CpuSampler, ProcStat};
use crate::collectors::disks::{self, FsStats, RootDisk, Statvfs};
use crate::collectors::packages::{self, PackageUpdates};
use crate::collectors::services::ServiceMonitor;
use crate::collectors::{gpus, load, mdstat, memory, network, os, sensors, uptime};
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
    /// Docker and Podman containers through their API sockets.
    pub collect_containers: bool,
    /// The engine sockets to ask; `None`: the default paths below the root
    /// ([`containers::default_sockets`]).
    pub container_sockets: Option<Vec<PathBuf>>,
    /// The most one container collection may take over all engines.
    pub container_timeout: Duration,
    /// hwmon temperatures and fans (thermal zones as the fallback).
    pub collect_sensors: bool,
    /// S.M.A.R.T. (`smartctl`), `/proc/mdstat` and ZFS pools (`zpool`).
    pub collect_disk_health: bool,
    /// How often `smartctl` reads the disks.
    pub disk_health_interval: Duration,
    /// NVIDIA (`nvidia-smi`) and AMD (sysfs) GPUs.
    pub collect_gpus: bool,
    /// How often the quick tools (`zpool`, `nvidia-smi`) run; usually the heartbeat interval.
    pub command_interval: Duration,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        CollectorConfig {
            services: Vec::new(),
            collect_packages: false,
            package_interval: DEFAULT_PACKAGE_INTERVAL,
            collect_containers: true,
            container_sockets: None,
            container_timeout: containers::DEFAULT_TIMEOUT,
            collect_sensors: true,
            collect_disk_health: true,
            disk_health_interval: DEFAULT_DISK_HEALTH_INTERVAL,
            collect_gpus: true,
            command_interval: DEFAULT_COMMAND_INTERVAL,
        }
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

/// Builds v1 heartbeats for one machine. Keeps the previous CPU counters (machine, service
/// processes and containers) so each heartbeat reports the average over the interval since the
/// previous one, and the time of the last package listing.
///
/// `collect` blocks (file reads, `systemctl`, the container engines' sockets for at most
/// `container_timeout`, and `apt` when packages are due): async callers should run it on a
/// blocking thread. The slow tools (`smartctl`, `zpool`, `nvidia-smi`) never run inside
/// `collect`: [`start_command_probes`](Self::start_command_probes) runs them on a thread of their
/// own and each heartbeat carries their newest results; without it those keys stay absent
/// unless [`run_command_probes_now`](Self::run_command_probes_now) is called.
pub struct Collector {
    root: SystemRoot,
    config: CollectorConfig,
    fs_stats: Box<dyn FsStats>,
    commands: Arc<dyn CommandRunner>,
    cpu: CpuSampler,
    services: ServiceMonitor,
    last_package_run: Option<DateTime<Utc>>,
    containers: ContainerMonitor,
    sockets: Vec<EngineSocket>,
    probes: CommandProbes,
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
        let commands: Arc<dyn CommandRunner> = Arc::from(commands);
        let sockets = match &config.container_sockets {
            Some(paths) => paths.iter().map(|p| EngineSocket::at(p.clone())).collect(),
            None => {
                let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from);
                containers::default_sockets(&root, runtime_dir.as_deref())
            }
        };
        let schedule = CommandSchedule {
            disk_health: config.collect_disk_health,
            disk_health_interval: config.disk_health_interval,
            gpus: config.collect_gpus,
            command_interval: config.command_interval,
        };
        Collector {
            probes: CommandProbes::new(schedule, Arc::clone(&commands)),
            root,
            config,
            fs_stats,
            commands,
            cpu: CpuSampler::new(),
            services: ServiceMonitor::new(),
            last_package_run: None,
            containers: ContainerMonitor::new(),
            sockets,
        }
    }

    /// Starts the thread that runs `smartctl`, `zpool` and `nvidia-smi` on their schedule (once;
    /// nothing starts when disk health and GPUs are both off). It ends when the collector is
    /// dropped.
    pub fn start_command_probes(&mut self) {
        self.probes.start();
    }

    /// Runs those tools now, on this thread, so the next heartbeat carries their results
    /// (`check`, tests). Blocks for as long as they take, within their timeouts.
    pub fn run_command_probes_now(&self) {
        self.probes.run_all_now();
    }

    /// The tools' runner, to wait for results in tests.
    pub fn command_probes(&self) -> &CommandProbes {
        &self.probes
    }

    /// The container engine sockets asked, in order.
    pub fn container_sockets(&self) -> &[EngineSocket] {
        &self.sockets
    }

    /// The directories read, for callers that look at more files of the same machine.
    pub fn root(&self) -> &SystemRoot {
        &self.root
    }

    /// The configuration in force, e.g. to tell whether packages are enabled at all.
    pub fn config(&self) -> &CollectorConfig {
        &self.config
    }

    /// Takes the CPU baselines (machine, service processes and containers) so that the first
    /// heartbeat already carries CPU %. Call at start-up; the first `collect` after it measures
    /// the interval since this call, so leave at least a second between them.
    pub fn prime(&mut self) -> Vec<Warning> {
        let mut warnings = Vec::new();
        let (stat, _) = self.sample_cpu(&mut warnings);
        if !self.config.services.is_empty() {
            self.services.collect(&self.root, self.commands.as_ref(), &self.config.services, stat.as_ref(), false);
        }
        if self.config.collect_containers {
            let (_, messages) = self.containers.collect(&self.sockets, self.config.container_timeout);
            warnings.extend(messages.into_iter().map(|message| Warning { collector: "containers", message }));
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

        let (containers, container_warnings) = if self.config.collect_containers {
            self.containers.collect(&self.sockets, self.config.container_timeout)
        } else {
            (None, Vec::new())
        };
        for message in container_warnings {
            warn("containers", &message);
        }

        let sensors = if self.config.collect_sensors { sensors::read_sensors(&self.root) } else { Default::default() };

        let raid_arrays = if self.config.collect_disk_health {
            mdstat::read_raid_arrays(&self.root).inspect_err(|e| warn("raid_arrays", e)).ok().flatten()
        } else {
            None
        };

        let (results, command_warnings) = self.probes.take();
        for warning in command_warnings {
            warn(warning.collector, &warning.message);
        }
        let gpus = if self.config.collect_gpus {
            let mut found = gpus::read_amd_gpus(&self.root).unwrap_or_default();
            found.extend(results.nvidia_gpus.unwrap_or_default());
            // No GPU at all is "not collected", so the hub shows no empty GPU panel.
            Some(found).filter(|g| !g.is_empty())
        } else {
            None
        };

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
                containers,
                temperatures: sensors.temperatures,
                fans: sensors.fans,
                disk_health: results.disk_health,
                raid_arrays,
                zfs_pools: results.zfs_pools,
                gpus,
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
