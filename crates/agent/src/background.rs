//! The collectors that run external tools (`smartctl`, `zpool`, `nvidia-smi`), on their own
//! thread and schedule so that none of them ever delays a heartbeat.
//!
//! A disk waking up for `smartctl`, or a wedged GPU driver, can take seconds or hang; each run
//! has a timeout (the process is killed past it) and the results are kept until the next
//! heartbeat picks them up. S.M.A.R.T. is read every ten minutes by default (it changes slowly
//! and touches every disk), the others at the heartbeat's pace. A tool that is not installed is
//! simply not collected; one that fails is reported once, when its failure first appears or
//! changes, not at every run.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use homelab_core::inventory::{DiskHealthReport, GpuReport, ZfsPoolReport};

use crate::collector::Warning;
use crate::collectors::smart::{self, DiskAnswer};
use crate::collectors::{gpus, zfs};
use crate::command::{CommandError, CommandOutput, CommandRunner};

/// Default time between two S.M.A.R.T. readings.
pub const DEFAULT_DISK_HEALTH_INTERVAL: Duration = Duration::from_secs(10 * 60);
/// Default time between two runs of the quick tools (`zpool`, `nvidia-smi`).
pub const DEFAULT_COMMAND_INTERVAL: Duration = Duration::from_secs(60);

const SCAN_TIMEOUT: Duration = Duration::from_secs(10);
/// One disk's full report; a disk that has to spin up takes several seconds.
const DISK_TIMEOUT: Duration = Duration::from_secs(30);
const QUICK_TIMEOUT: Duration = Duration::from_secs(10);

/// What runs and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSchedule {
    /// `smartctl` and `zpool`.
    pub disk_health: bool,
    pub disk_health_interval: Duration,
    /// `nvidia-smi`.
    pub gpus: bool,
    /// For `zpool` and `nvidia-smi`.
    pub command_interval: Duration,
}

/// The newest results; `None` where the tool is absent, failed or has not run yet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommandResults {
    pub disk_health: Option<Vec<DiskHealthReport>>,
    pub zfs_pools: Option<Vec<ZfsPoolReport>>,
    pub nvidia_gpus: Option<Vec<GpuReport>>,
}

/// How one run of a tool ended.
#[derive(Debug)]
enum Outcome<T> {
    /// Not installed, or nothing for it to look at (no ZFS module): not collected, no warning.
    Absent,
    Found(T),
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Task {
    Smart,
    Zfs,
    Nvidia,
}

/// Per-task memory: when it is due, its last failure (so it is reported once) and, for
/// S.M.A.R.T., the last report of each disk (a sleeping disk is not woken to be read again).
struct Tasks {
    schedule: CommandSchedule,
    due: HashMap<Task, Instant>,
    failures: HashMap<Task, String>,
    last_disks: HashMap<String, DiskHealthReport>,
}

#[derive(Default)]
struct Shared {
    results: CommandResults,
    warnings: Vec<Warning>,
    stop: bool,
    /// Runs completed so far, so that a caller can wait for fresh results.
    runs: u64,
}

/// Runs the tools, either on a background thread ([`start`](Self::start)) or on the caller's
/// ([`run_all_now`](Self::run_all_now)); [`take`](Self::take) hands the results to a heartbeat.
pub struct CommandProbes {
    tasks: Arc<Mutex<Tasks>>,
    shared: Arc<(Mutex<Shared>, Condvar)>,
    runner: Arc<dyn CommandRunner>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for CommandProbes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandProbes").field("running", &self.thread.is_some()).finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl CommandProbes {
    pub fn new(schedule: CommandSchedule, runner: Arc<dyn CommandRunner>) -> Self {
        CommandProbes {
            tasks: Arc::new(Mutex::new(Tasks {
                schedule,
                due: HashMap::new(),
                failures: HashMap::new(),
                last_disks: HashMap::new(),
            })),
            shared: Arc::new((Mutex::new(Shared::default()), Condvar::new())),
            runner,
            thread: None,
        }
    }

    /// Whether any tool is enabled at all.
    pub fn enabled(&self) -> bool {
        let tasks = lock(&self.tasks);
        tasks.schedule.disk_health || tasks.schedule.gpus
    }

    /// Starts the background thread (once); it runs each tool when due until `self` is dropped.
    pub fn start(&mut self) {
        if self.thread.is_some() || !self.enabled() {
            return;
        }
        let (tasks, shared, runner) = (Arc::clone(&self.tasks), Arc::clone(&self.shared), Arc::clone(&self.runner));
        let spawned = thread::Builder::new().name("command-probes".into()).spawn(move || {
            loop {
                let next = run_due(&tasks, &shared, runner.as_ref(), Instant::now());
                let (state, wake) = &*shared;
                let guard = lock(state);
                let wait = next.saturating_duration_since(Instant::now());
                let (guard, _) =
                    wake.wait_timeout_while(guard, wait, |s| !s.stop).unwrap_or_else(PoisonError::into_inner);
                if guard.stop {
                    return;
                }
            }
        });
        match spawned {
            Ok(handle) => self.thread = Some(handle),
            Err(e) => lock(&self.shared.0)
                .warnings
                .push(Warning { collector: "commands", message: format!("cannot start the command thread: {e}") }),
        }
    }

    /// Runs every enabled tool now on the caller's thread, whatever the schedule (`check`, tests).
    pub fn run_all_now(&self) {
        {
            let mut tasks = lock(&self.tasks);
            tasks.due.clear();
        }
        run_due(&self.tasks, &self.shared, self.runner.as_ref(), Instant::now());
    }

    /// Waits until `runs` rounds have completed in all, or `timeout` passes; `true` if they have.
    pub fn wait_for_runs(&self, runs: u64, timeout: Duration) -> bool {
        let (state, wake) = &*self.shared;
        let guard = lock(state);
        let (guard, _) =
            wake.wait_timeout_while(guard, timeout, |s| s.runs < runs).unwrap_or_else(PoisonError::into_inner);
        guard.runs >= runs
    }

    /// The newest results, and the warnings raised since the last call.
    pub fn take(&self) -> (CommandResults, Vec<Warning>) {
        let mut shared = lock(&self.shared.0);
        (shared.results.clone(), std::mem::take(&mut shared.warnings))
    }
}

impl Drop for CommandProbes {
    fn drop(&mut self) {
        // The thread ends after the run in progress; nobody waits for a slow disk to finish.
        lock(&self.shared.0).stop = true;
        self.shared.1.notify_all();
    }
}

/// Runs the tasks that are due at `now` and returns when the next one is.
fn run_due(
    tasks: &Mutex<Tasks>,
    shared: &(Mutex<Shared>, Condvar),
    runner: &dyn CommandRunner,
    now: Instant,
) -> Instant {
    let mut tasks = lock(tasks);
    let schedule = tasks.schedule.clone();
    let enabled = [
        (Task::Smart, schedule.disk_health, schedule.disk_health_interval),
        (Task::Zfs, schedule.disk_health, schedule.command_interval),
        (Task::Nvidia, schedule.gpus, schedule.command_interval),
    ];
    for (task, on, interval) in enabled {
        if !on || tasks.due.get(&task).is_some_and(|due| *due > now) {
            continue;
        }
        let (fresh, message) = match task {
            Task::Smart => {
                let (value, message) = split(read_smart(runner, &mut tasks.last_disks));
                (Fresh::Disks(value), message)
            }
            Task::Zfs => {
                let (value, message) = split(read_zfs(runner));
                (Fresh::Pools(value), message)
            }
            Task::Nvidia => {
                let (value, message) = split(read_nvidia(runner));
                (Fresh::Gpus(value), message)
            }
        };
        let warning = match message {
            Some(message) if tasks.failures.get(&task) != Some(&message) => {
                tasks.failures.insert(task, message.clone());
                Some(message)
            }
            Some(_) => None,
            None => {
                tasks.failures.remove(&task);
                None
            }
        };
        {
            let mut state = lock(&shared.0);
            fresh.apply(&mut state.results);
            if let Some(message) = warning {
                let collector = match task {
                    Task::Smart => "disk_health",
                    Task::Zfs => "zfs_pools",
                    Task::Nvidia => "gpus",
                };
                state.warnings.push(Warning { collector, message });
            }
        }
        tasks.due.insert(task, Instant::now() + interval);
    }
    lock(&shared.0).runs += 1;
    shared.1.notify_all();
    tasks.due.values().min().copied().unwrap_or_else(|| now + schedule.command_interval)
}

/// One task's newest result, to be put in place of the old one.
enum Fresh {
    Disks(Option<Vec<DiskHealthReport>>),
    Pools(Option<Vec<ZfsPoolReport>>),
    Gpus(Option<Vec<GpuReport>>),
}

impl Fresh {
    fn apply(self, results: &mut CommandResults) {
        match self {
            Fresh::Disks(value) => results.disk_health = value,
            Fresh::Pools(value) => results.zfs_pools = value,
            Fresh::Gpus(value) => results.nvidia_gpus = value,
        }
    }
}

fn split<T>(outcome: Outcome<T>) -> (Option<T>, Option<String>) {
    match outcome {
        Outcome::Absent => (None, None),
        Outcome::Found(value) => (Some(value), None),
        Outcome::Failed(message) => (None, Some(message)),
    }
}

/// `Ok(None)`: not installed.
fn run(
    runner: &dyn CommandRunner,
    program: &str,
    args: &[&str],
    timeout: Duration,
) -> Result<Option<CommandOutput>, String> {
    match runner.run(program, args, timeout) {
        Ok(output) => Ok(Some(output)),
        Err(CommandError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no output")
}

fn read_smart(
    runner: &dyn CommandRunner,
    last: &mut HashMap<String, DiskHealthReport>,
) -> Outcome<Vec<DiskHealthReport>> {
    let scan = match run(runner, "smartctl", &["--scan-open", "--json"], SCAN_TIMEOUT) {
        Ok(None) => return Outcome::Absent,
        Ok(Some(output)) => output,
        Err(message) => return Outcome::Failed(message),
    };
    let devices = match smart::parse_scan(&scan.stdout) {
        Ok(devices) => devices,
        Err(_) if scan.stdout.contains("UNRECOGNIZED OPTION") || scan.stderr.contains("UNRECOGNIZED OPTION") => {
            return Outcome::Failed("smartctl is older than 7.0 and has no --json; S.M.A.R.T. not collected".into());
        }
        Err(e) => return Outcome::Failed(e.to_string()),
    };
    let mut reports = Vec::new();
    let mut failures = Vec::new();
    for device in &devices {
        if let Some(error) = &device.open_error {
            failures.push(format!("{}: {error}", device.name));
            continue;
        }
        let mut args = vec!["--json", "-a", "-n", "standby"];
        if let Some(kind) = &device.kind {
            args.extend(["-d", kind.as_str()]);
        }
        args.push(&device.name);
        let output = match run(runner, "smartctl", &args, DISK_TIMEOUT) {
            Ok(Some(output)) => output,
            Ok(None) => return Outcome::Absent,
            Err(message) => {
                failures.push(message);
                continue;
            }
        };
        match smart::parse_disk(&output.stdout, &device.name) {
            Ok(DiskAnswer::Report(report)) => {
                last.insert(device.name.clone(), report.clone());
                reports.push(report);
            }
            Ok(DiskAnswer::Asleep) => reports.extend(last.get(&device.name).cloned()),
            Ok(DiskAnswer::Failed(message)) => failures.push(message),
            Err(e) => failures.push(e.to_string()),
        }
    }
    last.retain(|name, _| devices.iter().any(|d| &d.name == name));
    match failures.first() {
        // Typically "Permission denied": the agent is not root. Nothing to report at all.
        Some(first) if reports.is_empty() => {
            Outcome::Failed(format!("S.M.A.R.T. not readable ({first}); smartctl needs root"))
        }
        _ => Outcome::Found(reports),
    }
}

fn read_zfs(runner: &dyn CommandRunner) -> Outcome<Vec<ZfsPoolReport>> {
    match run(runner, "zpool", &zfs::ZPOOL_ARGS, QUICK_TIMEOUT) {
        Ok(None) => Outcome::Absent,
        Ok(Some(output)) if output.success => Outcome::Found(zfs::parse_zpool_list(&output.stdout)),
        Ok(Some(output)) => {
            let said = format!("{}\n{}", output.stderr, output.stdout);
            if said.contains("no pools available") {
                Outcome::Found(Vec::new())
            } else if said.contains("modules are not loaded") || said.contains("/dev/zfs") {
                Outcome::Absent
            } else {
                Outcome::Failed(format!("zpool list: {}", first_line(&said)))
            }
        }
        Err(message) => Outcome::Failed(message),
    }
}

fn read_nvidia(runner: &dyn CommandRunner) -> Outcome<Vec<GpuReport>> {
    match run(runner, "nvidia-smi", &gpus::NVIDIA_SMI_ARGS, QUICK_TIMEOUT) {
        Ok(None) => Outcome::Absent,
        Ok(Some(output)) if output.success => Outcome::Found(gpus::parse_nvidia_smi(&output.stdout)),
        Ok(Some(output)) => {
            Outcome::Failed(format!("nvidia-smi: {}", first_line(&format!("{}\n{}", output.stderr, output.stdout))))
        }
        Err(message) => Outcome::Failed(message),
    }
}
