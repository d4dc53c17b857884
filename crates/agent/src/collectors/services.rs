//! State of systemd's service units: every loaded one from one `systemctl list-units` call per
//! heartbeat (so that any service can be watched from the dashboard without configuring the
//! agent), and for the configured ones the main process's memory and CPU use as well.
//!
//! Each configured unit is queried with `systemctl show`, one process per unit so one odd unit
//! name cannot spoil the others. Every failure becomes an `unknown` status with a reason; nothing here fails
//! the heartbeat. Differences from v1, deliberately:
//! - a unit that does not exist is `unknown` ("unit not found"), not `stopped`: a typo in the
//!   configuration should not look like a crashed service;
//! - process CPU % covers the whole interval between heartbeats (from `/proc/<pid>/stat`)
//!   instead of a 0.1 s psutil sample; it is still per core and may exceed 100;
//! - after one `systemctl` timeout the remaining units are reported as timed out without waiting
//!   again, so a wedged systemd costs 5 s per heartbeat, not 5 s per unit.

use std::collections::HashMap;
use std::time::Duration;

use homelab_core::heartbeat::ServiceReport;

use super::cpu::ProcStat;
use super::{read_and_parse, round_to, truncate_chars};
use crate::command::{CommandError, CommandRunner};
use crate::error::{CollectError, ParseError};
use crate::root::SystemRoot;

/// v1's limit for one `systemctl show`.
pub const SYSTEMCTL_TIMEOUT: Duration = Duration::from_secs(5);

/// The properties we ask for; everything else systemd knows about a unit is noise here.
pub const SHOW_PROPERTIES: &str = "LoadState,ActiveState,SubState,MainPID,MemoryCurrent,NRestarts";

/// Reasons sent in `status_reason`, shared with the hub's wording for v1 agents.
pub const REASON_NOT_FOUND: &str = "unit not found";
pub const REASON_NO_SYSTEMD: &str = "systemd not available";
pub const REASON_CONTAINER: &str = "systemd not available (container)";
pub const REASON_TIMEOUT: &str = "timeout";
pub const REASON_INVALID_NAME: &str = "invalid unit name";

/// The hub's length limit for names and reasons.
const MAX_TEXT: usize = 255;

/// Lists every service unit systemd has loaded, one per line, in a form meant for scripts:
/// `UNIT LOAD ACTIVE SUB DESCRIPTION`, names never shortened (`--full`).
pub const LIST_UNITS_ARGS: [&str; 7] =
    ["list-units", "--type=service", "--all", "--plain", "--no-legend", "--no-pager", "--full"];

/// One line of `systemctl list-units`: a unit and its states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedUnit {
    /// Without the `.service` suffix ("nginx", "getty@tty1"), as units are named when watched.
    pub name: String,
    pub load_state: String,
    pub active_state: String,
    pub sub_state: String,
}

/// The unit name as the dashboard and the configuration spell it: without `.service`.
pub fn short_unit_name(unit: &str) -> &str {
    unit.strip_suffix(".service").unwrap_or(unit)
}

/// Parses `systemctl list-units --plain --no-legend` output. A failed or missing unit may carry
/// a marker column (`●`, or `*` in the C locale) before its name; lines that are not service
/// units or lack the state columns are skipped.
pub fn parse_list_units(text: &str) -> Vec<ListedUnit> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace().peekable();
            if fields.peek().is_some_and(|f| *f == "●" || *f == "*") {
                fields.next();
            }
            let unit = fields.next()?;
            let name = unit.strip_suffix(".service")?;
            let (load, active, sub) = (fields.next()?, fields.next()?, fields.next()?);
            (!name.is_empty()).then(|| ListedUnit {
                name: name.to_owned(),
                load_state: load.to_owned(),
                active_state: active.to_owned(),
                sub_state: sub.to_owned(),
            })
        })
        .collect()
}

/// Reports for the listed units that systemd has loaded (units only referenced by others are
/// `not-found`: noise), leaving out those in `configured`, which get their own detailed report.
/// Sorted by name.
pub fn listed_reports(listed: &[ListedUnit], configured: &[String]) -> Vec<ServiceReport> {
    let watched: std::collections::HashSet<&str> = configured.iter().map(|u| short_unit_name(u)).collect();
    let mut reports: Vec<ServiceReport> = listed
        .iter()
        .filter(|u| u.load_state == "loaded" && !watched.contains(u.name.as_str()))
        .map(|u| {
            let props = UnitProperties {
                load_state: Some(u.load_state.clone()),
                active_state: Some(u.active_state.clone()),
                sub_state: Some(u.sub_state.clone()),
                ..UnitProperties::default()
            };
            let (status, status_reason) = status_for(&props);
            ServiceReport {
                name: truncate(&u.name),
                status: status.to_owned(),
                status_reason,
                pid: None,
                memory_mb: None,
                cpu_percent: None,
                // Only the configured units' `systemctl show` carries the restart counter.
                restarts: None,
            }
        })
        .collect();
    reports.sort_by(|a, b| a.name.cmp(&b.name));
    reports.dedup_by(|a, b| a.name == b.name);
    reports
}

/// What `systemctl show` told us about one unit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitProperties {
    pub load_state: Option<String>,
    pub active_state: Option<String>,
    pub sub_state: Option<String>,
    /// Absent when the unit has no running main process (`MainPID=0`).
    pub main_pid: Option<u32>,
    /// Absent when memory accounting is off (`[not set]`, or `u64::MAX` on older systemd).
    pub memory_bytes: Option<u64>,
    /// systemd's automatic restart counter (`NRestarts`, systemd 235+); absent on older ones.
    pub restarts: Option<u64>,
}

/// Parses the `Key=Value` lines of `systemctl show`.
pub fn parse_systemctl_show(text: &str) -> UnitProperties {
    let mut props = UnitProperties::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let text = || (!value.is_empty()).then(|| value.to_owned());
        match key.trim() {
            "LoadState" => props.load_state = text(),
            "ActiveState" => props.active_state = text(),
            "SubState" => props.sub_state = text(),
            "MainPID" => props.main_pid = value.parse().ok().filter(|&pid| pid > 0),
            "MemoryCurrent" => props.memory_bytes = value.parse().ok().filter(|&bytes| bytes != u64::MAX),
            "NRestarts" => props.restarts = value.parse().ok(),
            _ => {}
        }
    }
    props
}

/// Maps systemd's states to the wire's `running`/`stopped`/`failed`/`unknown`, with a reason
/// when the status alone would mislead.
pub fn status_for(props: &UnitProperties) -> (&'static str, Option<String>) {
    if props.load_state.as_deref() == Some("not-found") {
        return ("unknown", Some(REASON_NOT_FOUND.to_owned()));
    }
    match props.active_state.as_deref() {
        Some("active" | "activating" | "reloading" | "refreshing") => ("running", None),
        Some("inactive" | "deactivating") => ("stopped", None),
        Some("failed") => ("failed", None),
        Some(other) => ("unknown", Some(truncate(&format!("unexpected state {other}")))),
        None => ("unknown", Some("no state from systemctl".to_owned())),
    }
}

/// Whether asking systemd can work on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Systemd {
    /// Booted with systemd (`/run/systemd/system` exists, the test `sd_booted(3)` uses).
    Running,
    /// Not booted with systemd, inside a container: the normal case for a Dockerised hub.
    AbsentInContainer,
    Absent,
}

/// Checks for systemd before the container markers, so containers that do run systemd (LXC on
/// Proxmox, systemd in Podman) still get real service states.
pub fn detect_systemd(root: &SystemRoot) -> Systemd {
    if root.run.join("systemd/system").is_dir() {
        Systemd::Running
    } else if root.root.join(".dockerenv").exists() || root.run.join(".containerenv").exists() {
        Systemd::AbsentInContainer
    } else {
        Systemd::Absent
    }
}

/// The CPU counters of one process, from `/proc/<pid>/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessTimes {
    pub pid: u32,
    /// Start time in ticks since boot: together with the PID it tells a restarted service (or a
    /// recycled PID) from the process we measured last time.
    pub start_time: u64,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
}

/// Parses `/proc/<pid>/stat`. The command name is in parentheses and may itself contain spaces
/// and parentheses, so fields are counted from the last `)`.
pub fn parse_process_stat(text: &str) -> Result<ProcessTimes, ParseError> {
    let (head, tail) = text.rsplit_once(')').ok_or_else(|| ParseError::new("no `)` after the command name"))?;
    let pid =
        head.split_once('(').and_then(|(pid, _)| pid.trim().parse().ok()).ok_or_else(|| ParseError::new("bad pid"))?;
    // After the name come fields 3 (state) onwards: utime is field 14, stime 15, starttime 22.
    let fields: Vec<&str> = tail.split_ascii_whitespace().collect();
    let field = |number: usize| -> Result<u64, ParseError> {
        fields
            .get(number - 3)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| ParseError::new(format!("bad or missing field {number}")))
    };
    Ok(ProcessTimes { pid, start_time: field(22)?, cpu_ticks: field(14)?.saturating_add(field(15)?) })
}

/// Reads `/proc/<pid>/stat`.
pub fn read_process_times(root: &SystemRoot, pid: u32) -> Result<ProcessTimes, CollectError> {
    read_and_parse(&root.proc.join(pid.to_string()).join("stat"), parse_process_stat)
}

/// CPU % of a process between two readings: its ticks over the wall-clock ticks that passed
/// (per CPU, from `/proc/stat`), so 100 means one full core. `None` for a different process or
/// no elapsed time.
pub fn process_cpu_percent(
    previous: &ProcessTimes,
    previous_wall: f64,
    current: &ProcessTimes,
    current_wall: f64,
) -> Option<f64> {
    if previous.pid != current.pid || previous.start_time != current.start_time {
        return None;
    }
    let elapsed = current_wall - previous_wall;
    if elapsed <= 0.0 || !elapsed.is_finite() {
        return None;
    }
    let used = current.cpu_ticks.checked_sub(previous.cpu_ticks)?;
    Some(round_to(used as f64 / elapsed * 100.0, 1))
}

/// Queries the configured units and remembers each main process's CPU counters between calls.
#[derive(Debug, Clone, Default)]
pub struct ServiceMonitor {
    previous: HashMap<String, (ProcessTimes, f64)>,
}

impl ServiceMonitor {
    /// A monitor without CPU baselines: the first report of each unit has no CPU %.
    pub fn new() -> Self {
        Self::default()
    }

    /// One report per configured unit, in the configured order (`stat` is this heartbeat's
    /// `/proc/stat`, the clock for process CPU %; without it CPU % is left out), then, with
    /// `all`, every other loaded service unit by name, state only.
    pub fn collect(
        &mut self,
        root: &SystemRoot,
        runner: &dyn CommandRunner,
        units: &[String],
        stat: Option<&ProcStat>,
        all: bool,
    ) -> Vec<ServiceReport> {
        let blanket_reason = match detect_systemd(root) {
            Systemd::Running => None,
            Systemd::AbsentInContainer => Some(REASON_CONTAINER),
            Systemd::Absent => Some(REASON_NO_SYSTEMD),
        };
        let mut timed_out = false;
        let mut reports: Vec<ServiceReport> = units
            .iter()
            .map(|unit| {
                if let Some(reason) = blanket_reason.or(timed_out.then_some(REASON_TIMEOUT)) {
                    return unknown(unit, reason);
                }
                if !is_valid_unit_name(unit) {
                    return unknown(unit, REASON_INVALID_NAME);
                }
                let args = ["show", "--property", SHOW_PROPERTIES, "--", unit.as_str()];
                match runner.run("systemctl", &args, SYSTEMCTL_TIMEOUT) {
                    Ok(out) if out.success => self.report(root, unit, &parse_systemctl_show(&out.stdout), stat),
                    Ok(out) => unknown(unit, &failure_reason(&out.stderr)),
                    Err(CommandError::NotFound { .. }) => unknown(unit, REASON_NO_SYSTEMD),
                    Err(CommandError::Timeout { .. }) => {
                        timed_out = true;
                        unknown(unit, REASON_TIMEOUT)
                    }
                    Err(e) => unknown(unit, &e.to_string()),
                }
            })
            .collect();
        if all && blanket_reason.is_none() && !timed_out {
            // One call for every other unit; if it fails, the configured ones are still reported.
            if let Ok(out) = runner.run("systemctl", &LIST_UNITS_ARGS, SYSTEMCTL_TIMEOUT)
                && out.success
            {
                reports.extend(listed_reports(&parse_list_units(&out.stdout), units));
            }
        }
        reports
    }

    fn report(
        &mut self,
        root: &SystemRoot,
        unit: &str,
        props: &UnitProperties,
        stat: Option<&ProcStat>,
    ) -> ServiceReport {
        let (status, status_reason) = status_for(props);
        let pid = props.main_pid.filter(|_| status == "running");
        let cpu_percent = match (pid, stat) {
            (Some(pid), Some(stat)) => self.sample_cpu(root, unit, pid, stat.ticks_per_cpu()),
            _ => {
                self.previous.remove(unit);
                None
            }
        };
        ServiceReport {
            name: truncate(unit),
            status: status.to_owned(),
            status_reason,
            pid: pid.map(i64::from),
            memory_mb: props
                .memory_bytes
                .filter(|_| status == "running")
                .map(|bytes| round_to(bytes as f64 / (1024.0 * 1024.0), 1)),
            cpu_percent,
            restarts: props.restarts.and_then(|n| i64::try_from(n).ok()),
        }
    }

    fn sample_cpu(&mut self, root: &SystemRoot, unit: &str, pid: u32, wall: f64) -> Option<f64> {
        let Ok(current) = read_process_times(root, pid) else {
            // The process exited between systemctl and now; measure afresh next time.
            self.previous.remove(unit);
            return None;
        };
        let percent = self
            .previous
            .get(unit)
            .and_then(|(previous, previous_wall)| process_cpu_percent(previous, *previous_wall, &current, wall));
        self.previous.insert(unit.to_owned(), (current, wall));
        percent
    }
}

/// Names systemctl would reject or misread: empty, over-long, with whitespace or control
/// characters, or starting with `-` (an option).
fn is_valid_unit_name(unit: &str) -> bool {
    !unit.is_empty()
        && unit.len() <= MAX_TEXT
        && !unit.starts_with('-')
        && !unit.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn failure_reason(stderr: &str) -> String {
    // "System has not been booted with systemd…", "Failed to connect to bus…".
    if stderr.contains("not been booted with systemd") || stderr.contains("Failed to connect to bus") {
        return REASON_NO_SYSTEMD.to_owned();
    }
    let first_line = stderr.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("no message");
    truncate(&format!("systemctl failed: {first_line}"))
}

/// A report for a unit whose state we could not learn.
pub fn unknown(unit: &str, reason: &str) -> ServiceReport {
    ServiceReport {
        name: truncate(unit),
        status: "unknown".to_owned(),
        status_reason: Some(truncate(reason)),
        pid: None,
        memory_mb: None,
        cpu_percent: None,
        restarts: None,
    }
}

fn truncate(text: &str) -> String {
    truncate_chars(text, MAX_TEXT)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::collectors::cpu::CpuTimes;
    use crate::command::CommandOutput;

    #[test]
    fn show_output_of_a_running_unit() {
        let props = parse_systemctl_show(
            "MainPID=812\nLoadState=loaded\nActiveState=active\nSubState=running\nMemoryCurrent=52428800\nNRestarts=4\n",
        );
        assert_eq!(
            props,
            UnitProperties {
                load_state: Some("loaded".into()),
                active_state: Some("active".into()),
                sub_state: Some("running".into()),
                main_pid: Some(812),
                memory_bytes: Some(52_428_800),
                restarts: Some(4),
            }
        );
        assert_eq!(status_for(&props), ("running", None));
    }

    #[test]
    fn show_output_of_a_missing_unit() {
        let props = parse_systemctl_show(
            "MainPID=0\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nMemoryCurrent=[not set]\n",
        );
        assert_eq!(props.main_pid, None);
        assert_eq!(props.memory_bytes, None);
        assert_eq!(status_for(&props), ("unknown", Some(REASON_NOT_FOUND.into())));
    }

    #[test]
    fn unset_memory_on_older_systemd() {
        let props = parse_systemctl_show("MemoryCurrent=18446744073709551615\n");
        assert_eq!(props.memory_bytes, None);
    }

    #[test]
    fn list_units_output_of_a_raspberry_pi() {
        let text = include_str!("../../tests/fixtures/raspberrypi4-bookworm-arm64/commands/systemctl-list-units.txt");
        let listed = parse_list_units(text);
        assert_eq!(listed.len(), 14);
        let unit = |name: &str| listed.iter().find(|u| u.name == name).unwrap().clone();
        assert_eq!(
            unit("rpi-eeprom-update"),
            ListedUnit {
                name: "rpi-eeprom-update".into(),
                load_state: "loaded".into(),
                active_state: "failed".into(),
                sub_state: "failed".into(),
            },
            "the `*` marker of a failed unit is not its name"
        );
        assert_eq!(unit("getty@tty1").active_state, "active");
        assert_eq!(unit("syslog").load_state, "not-found");

        let configured = ["docker.service".to_owned(), "unbound".to_owned()];
        let reports = listed_reports(&listed, &configured);
        let names: Vec<&str> = reports.iter().map(|r| r.name.as_str()).collect();
        assert!(!names.contains(&"docker") && !names.contains(&"unbound"), "configured units are reported in detail");
        assert!(!names.contains(&"syslog"), "units that are not loaded are noise");
        assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted: {names:?}");
        let status = |name: &str| reports.iter().find(|r| r.name == name).map(|r| r.status.as_str());
        assert_eq!(
            (status("ssh"), status("lighttpd"), status("rpi-eeprom-update")),
            (Some("running"), Some("stopped"), Some("failed"))
        );
    }

    #[test]
    fn list_units_output_odd_lines() {
        let text = "● broken.service loaded failed failed Broken\n\nfoo.socket loaded active listening Socket\n\
                    short.service loaded\n.service loaded active running Nothing\n";
        let listed = parse_list_units(text);
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].name, "broken");
        assert_eq!(short_unit_name("nginx.service"), "nginx");
        assert_eq!(short_unit_name("nginx"), "nginx");
    }

    #[test]
    fn state_mapping() {
        let with = |state: &str| UnitProperties {
            load_state: Some("loaded".into()),
            active_state: Some(state.into()),
            ..UnitProperties::default()
        };
        for state in ["active", "activating", "reloading"] {
            assert_eq!(status_for(&with(state)).0, "running", "{state}");
        }
        for state in ["inactive", "deactivating"] {
            assert_eq!(status_for(&with(state)).0, "stopped", "{state}");
        }
        assert_eq!(status_for(&with("failed")), ("failed", None));
        assert_eq!(status_for(&with("maintenance")), ("unknown", Some("unexpected state maintenance".into())));
        assert_eq!(status_for(&UnitProperties::default()).0, "unknown");
    }

    #[test]
    fn process_stat_with_a_difficult_name() {
        let times = parse_process_stat(
            "812 (my (odd) name) S 1 812 812 0 -1 4194560 5000 0 0 0 1500 250 0 0 20 0 4 0 3600 100000000 2000 \
             18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
        )
        .unwrap();
        assert_eq!(times, ProcessTimes { pid: 812, start_time: 3600, cpu_ticks: 1750 });
        assert!(parse_process_stat("812 (truncated) S 1 2 3").is_err());
        assert!(parse_process_stat("garbage").is_err());
    }

    #[test]
    fn process_percent_is_per_core_and_may_exceed_100() {
        let at = |ticks| ProcessTimes { pid: 7, start_time: 100, cpu_ticks: ticks };
        assert_eq!(process_cpu_percent(&at(1000), 5000.0, &at(1250), 6000.0), Some(25.0));
        assert_eq!(process_cpu_percent(&at(1000), 5000.0, &at(4400), 6000.0), Some(340.0));
        assert_eq!(process_cpu_percent(&at(1000), 5000.0, &at(1000), 5000.0), None);
        let restarted = ProcessTimes { start_time: 200, ..at(10) };
        assert_eq!(process_cpu_percent(&at(1000), 5000.0, &restarted, 6000.0), None);
    }

    #[test]
    fn unit_names() {
        assert!(is_valid_unit_name("nginx"));
        assert!(is_valid_unit_name("docker.service"));
        assert!(is_valid_unit_name("getty@tty1.service"));
        assert!(!is_valid_unit_name(""));
        assert!(!is_valid_unit_name("--help"));
        assert!(!is_valid_unit_name("two words"));
        assert!(!is_valid_unit_name(&"x".repeat(256)));
    }

    #[test]
    fn systemctl_failures() {
        assert_eq!(
            failure_reason(
                "System has not been booted with systemd as init system (PID 1). Can't operate.\nFailed to connect to bus: Host is down\n"
            ),
            REASON_NO_SYSTEMD
        );
        assert_eq!(failure_reason("\nAccess denied\n"), "systemctl failed: Access denied");
        assert_eq!(failure_reason(""), "systemctl failed: no message");
    }

    /// Replays canned `systemctl show` output per unit and counts calls.
    struct FakeSystemctl {
        answers: HashMap<&'static str, Result<&'static str, &'static str>>,
        calls: Mutex<Vec<String>>,
    }

    impl CommandRunner for FakeSystemctl {
        fn run(&self, program: &str, args: &[&str], _timeout: Duration) -> Result<CommandOutput, CommandError> {
            assert_eq!(program, "systemctl");
            let unit = args.last().copied().unwrap_or_default();
            self.calls.lock().unwrap().push(unit.to_owned());
            match self.answers.get(unit) {
                Some(Ok(stdout)) => Ok(CommandOutput {
                    success: true,
                    code: Some(0),
                    stdout: (*stdout).to_owned(),
                    stderr: String::new(),
                }),
                Some(Err("timeout")) => {
                    Err(CommandError::Timeout { program: program.into(), timeout: SYSTEMCTL_TIMEOUT })
                }
                _ => Ok(CommandOutput {
                    success: false,
                    code: Some(1),
                    stdout: String::new(),
                    stderr: "Failed to get properties: Access denied\n".into(),
                }),
            }
        }
    }

    fn machine(dir: &std::path::Path, cpu_ticks: u64, proc_ticks: (u64, u64)) -> ProcStat {
        std::fs::create_dir_all(dir.join("var/run/systemd/system")).unwrap();
        std::fs::create_dir_all(dir.join("proc/812")).unwrap();
        std::fs::write(
            dir.join("proc/812/stat"),
            format!("812 (nginx) S 1 812 812 0 -1 0 0 0 0 0 {} {} 0 0 20 0 4 0 3600 0 0\n", proc_ticks.0, proc_ticks.1),
        )
        .unwrap();
        ProcStat { total: CpuTimes { user: cpu_ticks, ..CpuTimes::default() }, cpu_count: 4 }
    }

    #[test]
    fn monitor_reports_every_unit_and_measures_cpu_over_the_interval() {
        let dir = tempfile::tempdir().unwrap();
        let root = SystemRoot::under(dir.path());
        let runner = FakeSystemctl {
            answers: HashMap::from([
                (
                    "nginx",
                    Ok(
                        "LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=812\nMemoryCurrent=10485760\nNRestarts=2\n",
                    ),
                ),
                (
                    "backup",
                    Ok("LoadState=loaded\nActiveState=failed\nSubState=failed\nMainPID=0\nMemoryCurrent=[not set]\n"),
                ),
                (
                    "typo",
                    Ok(
                        "LoadState=not-found\nActiveState=inactive\nSubState=dead\nMainPID=0\nMemoryCurrent=[not set]\n",
                    ),
                ),
            ]),
            calls: Mutex::default(),
        };
        let units: Vec<String> = ["nginx", "backup", "typo", "secret", "bad name"].map(String::from).to_vec();
        let mut monitor = ServiceMonitor::new();

        let stat = machine(dir.path(), 40_000, (1000, 500));
        let first = monitor.collect(&root, &runner, &units, Some(&stat), false);
        assert_eq!(
            first[0],
            ServiceReport {
                name: "nginx".into(),
                status: "running".into(),
                status_reason: None,
                pid: Some(812),
                memory_mb: Some(10.0),
                cpu_percent: None,
                restarts: Some(2),
            }
        );
        assert_eq!((first[1].status.as_str(), first[1].status_reason.as_deref()), ("failed", None));
        assert_eq!(first[2].status_reason.as_deref(), Some(REASON_NOT_FOUND));
        assert_eq!(
            first[3].status_reason.as_deref(),
            Some("systemctl failed: Failed to get properties: Access denied")
        );
        assert_eq!(first[4].status_reason.as_deref(), Some(REASON_INVALID_NAME));
        assert!(first.iter().skip(1).all(|r| r.pid.is_none() && r.memory_mb.is_none()));

        // 4 CPUs, 4000 ticks in total = 1000 ticks of wall time; nginx used 1500 ticks.
        let stat = machine(dir.path(), 44_000, (2200, 800));
        let second = monitor.collect(&root, &runner, &units, Some(&stat), false);
        assert_eq!(second[0].cpu_percent, Some(150.0));
        assert_eq!(runner.calls.lock().unwrap().len(), 8, "the invalid name never reaches systemctl");
    }

    #[test]
    fn every_other_unit_comes_from_one_list_call_per_heartbeat() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("var/run/systemd/system")).unwrap();
        let runner = FakeSystemctl {
            answers: HashMap::from([
                ("nginx", Ok("LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=0\n")),
                (
                    "--full",
                    Ok("  nginx.service loaded active running Web\n  ssh.service loaded active running SSH\n\
                        * backup.service loaded failed failed Backup\n"),
                ),
            ]),
            calls: Mutex::default(),
        };
        let units = vec!["nginx".to_owned()];
        let reports = ServiceMonitor::new().collect(&SystemRoot::under(dir.path()), &runner, &units, None, true);
        let seen: Vec<(&str, &str)> = reports.iter().map(|r| (r.name.as_str(), r.status.as_str())).collect();
        assert_eq!(seen, [("nginx", "running"), ("backup", "failed"), ("ssh", "running")]);
        assert_eq!(*runner.calls.lock().unwrap(), ["nginx", "--full"], "one show per configured unit, one list");
    }

    #[test]
    fn one_timeout_marks_the_rest_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("var/run/systemd/system")).unwrap();
        let runner = FakeSystemctl { answers: HashMap::from([("a", Err("timeout"))]), calls: Mutex::default() };
        let units = vec!["a".to_owned(), "b".to_owned()];
        let reports = ServiceMonitor::new().collect(&SystemRoot::under(dir.path()), &runner, &units, None, true);
        assert!(reports.iter().all(|r| r.status == "unknown" && r.status_reason.as_deref() == Some(REASON_TIMEOUT)));
        assert_eq!(*runner.calls.lock().unwrap(), ["a"]);
    }

    #[test]
    fn without_systemd_nothing_is_run() {
        let dir = tempfile::tempdir().unwrap();
        let runner = FakeSystemctl { answers: HashMap::new(), calls: Mutex::default() };
        let units = vec!["nginx".to_owned()];
        let root = SystemRoot::under(dir.path());
        assert_eq!(detect_systemd(&root), Systemd::Absent);
        let reports = ServiceMonitor::new().collect(&root, &runner, &units, None, true);
        assert_eq!(reports, [unknown("nginx", REASON_NO_SYSTEMD)]);

        std::fs::write(dir.path().join(".dockerenv"), "").unwrap();
        assert_eq!(detect_systemd(&root), Systemd::AbsentInContainer);
        let reports = ServiceMonitor::new().collect(&root, &runner, &units, None, true);
        assert_eq!(reports, [unknown("nginx", REASON_CONTAINER)]);
        assert!(runner.calls.lock().unwrap().is_empty());
    }
}
