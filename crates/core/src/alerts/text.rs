//! Titles and messages of alerts and events, word for word as v1 writes them (contract §3.3)
//! where v1 has them.
//!
//! Numbers: v1 formats with Python's `format(x, '.0f')` / `'.1f'`, which rounds the exact binary
//! value half-to-even. Rust's `{:.0}` / `{:.1}` do exactly the same (verified against CPython on
//! every multiple of 0.005 from 0 to 100, and pinned by tests here: 84.5 → "84", 85.5 → "86",
//! 84.25 → "84.2"), so we use them directly.

use super::{AlertKey, AlertKind, Severity};

/// `CPU`, `MEMORY`, `DISK` as in v1 titles; the other kinds for completeness.
pub fn metric_label(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::Cpu => "CPU",
        AlertKind::Memory => "MEMORY",
        AlertKind::Disk => "DISK",
        AlertKind::Offline => "OFFLINE",
        AlertKind::Service => "SERVICE",
        AlertKind::Container => "CONTAINER",
        AlertKind::Temperature => "TEMPERATURE",
        AlertKind::DiskHealth => "DISK HEALTH",
    }
}

/// The server name, followed by the mount point for disk keys other than `/`, so per-mount alerts
/// say which disk is full while root-disk texts stay identical to v1.
fn place(server_name: &str, key: &AlertKey) -> String {
    if key.kind == AlertKind::Disk && !key.subject.is_empty() && key.subject != "/" {
        format!("{server_name} {}", key.subject)
    } else {
        server_name.to_owned()
    }
}

/// `High DISK usage on nas.local (85%)`, or `High DISK usage on nas.local /srv (85%)` per mount;
/// `High temperature on nas.local: coretemp/Package id 0 (91 °C)` for a sensor.
pub fn metric_title(server_name: &str, key: &AlertKey, severity: Severity, value: f64) -> String {
    if key.kind == AlertKind::Temperature {
        return format!("{} temperature on {server_name}: {} ({value:.0} °C)", severity.title_case(), key.subject);
    }
    format!("{} {} usage on {} ({value:.0}%)", severity.title_case(), metric_label(key.kind), place(server_name, key))
}

/// `DISK usage on nas.local reached 85.3%, exceeding the high threshold of 80%.`
pub fn metric_message(server_name: &str, key: &AlertKey, severity: Severity, value: f64, threshold: f64) -> String {
    if key.kind == AlertKind::Temperature {
        return format!(
            "{} on {server_name} reached {value:.1} °C, exceeding the {severity} threshold of {threshold:.0} °C.",
            key.subject
        );
    }
    format!(
        "{} usage on {} reached {value:.1}%, exceeding the {severity} threshold of {threshold:.0}%.",
        metric_label(key.kind),
        place(server_name, key)
    )
}

/// v1's escalation message; per-mount disk alerts name the mount.
pub fn escalation_message(key: &AlertKey, value: f64, threshold: f64) -> String {
    if key.kind == AlertKind::Temperature {
        return format!(
            "{} escalated to critical at {value:.1} °C, exceeding the critical threshold of {threshold:.0} °C.",
            key.subject
        );
    }
    let label = metric_label(key.kind);
    let on = if key.kind == AlertKind::Disk && !key.subject.is_empty() && key.subject != "/" {
        format!(" on {}", key.subject)
    } else {
        String::new()
    };
    format!(
        "{label} usage{on} escalated to critical at {value:.1}%, exceeding the critical threshold of {threshold:.0}%."
    )
}

/// Not in v1 (which never de-escalated).
pub fn de_escalation_message(server_name: &str, key: &AlertKey, value: f64, critical: f64) -> String {
    if key.kind == AlertKind::Temperature {
        return format!(
            "{} on {server_name} fell to {value:.1} °C, below the critical threshold of {critical:.0} °C; severity lowered to high.",
            key.subject
        );
    }
    format!(
        "{} usage on {} fell to {value:.1}%, below the critical threshold of {critical:.0}%; severity lowered to high.",
        metric_label(key.kind),
        place(server_name, key)
    )
}

/// `Resolved: CPU usage on nas.local (78%)`: not a v1 record text (v1 only changed the status).
pub fn metric_resolved_title(server_name: &str, key: &AlertKey, value: f64) -> String {
    if key.kind == AlertKind::Temperature {
        return format!("Resolved: temperature on {server_name}: {} ({value:.0} °C)", key.subject);
    }
    format!("Resolved: {} usage on {} ({value:.0}%)", metric_label(key.kind), place(server_name, key))
}

/// The resolution counterpart of [`metric_message`].
pub fn metric_resolved_message(server_name: &str, key: &AlertKey, value: f64) -> String {
    if key.kind == AlertKind::Temperature {
        return format!("{} on {server_name} is back to {value:.1} °C.", key.subject);
    }
    format!("{} usage on {} is back to {value:.1}%.", metric_label(key.kind), place(server_name, key))
}

/// `Server offline: nas.local`
pub fn offline_title(server_name: &str) -> String {
    format!("Server offline: {server_name}")
}

/// `Server nas.local is not responding to heartbeats.`
pub fn offline_message(server_name: &str) -> String {
    format!("Server {server_name} is not responding to heartbeats.")
}

/// [`offline_message`], naming the machines behind the server that fell silent with it.
pub fn offline_message_with_unreachable(server_name: &str, behind: &[String]) -> String {
    match behind.len() {
        0 => offline_message(server_name),
        1 => format!(
            "Server {server_name} is not responding to heartbeats; 1 machine behind it is unreachable: {}.",
            behind[0]
        ),
        n => format!(
            "Server {server_name} is not responding to heartbeats; {n} machines behind it are unreachable: {}.",
            behind.join(", ")
        ),
    }
}

/// Title of an offline alert's resolution (v1's Slack header says "Server Back Online").
pub fn online_title(server_name: &str) -> String {
    format!("Server back online: {server_name}")
}

/// Message of an offline alert's resolution by a heartbeat.
pub fn online_message(server_name: &str) -> String {
    format!("Server {server_name} is sending heartbeats again.")
}

/// Closing an offline alert because the machine became a workstation (which gets none).
pub fn now_workstation_message(server_name: &str) -> String {
    format!("Server {server_name} is now a workstation; workstations get no offline alerts.")
}

/// `Service plex is stopped on mediaserver`
pub fn service_title(service: &str, status: &str, server_name: &str) -> String {
    format!("Service {service} is {status} on {server_name}")
}

/// `Expected service plex on mediaserver is stopped.`
pub fn service_message(service: &str, server_name: &str, status: &str) -> String {
    format!("Expected service {service} on {server_name} is {status}.")
}

/// Title of a service alert's resolution (v1's Slack header: "Service {name} Running").
pub fn service_running_title(service: &str, server_name: &str) -> String {
    format!("Service {service} is running on {server_name}")
}

/// Message of a service alert's resolution, mirroring [`service_message`].
pub fn service_running_message(service: &str, server_name: &str) -> String {
    format!("Expected service {service} on {server_name} is running again.")
}

/// `Service plex is crash-looping on mediaserver`
pub fn crash_loop_title(service: &str, server_name: &str) -> String {
    format!("Service {service} is crash-looping on {server_name}")
}

/// Says what was seen: restarts the heartbeats never showed as down.
pub fn crash_loop_message(service: &str, server_name: &str, restarts: i64, minutes: i64) -> String {
    format!(
        "Expected service {service} on {server_name} restarted {restarts} times in {minutes} minutes while reported running."
    )
}

/// Title of a crash loop's resolution.
pub fn crash_loop_over_title(service: &str, server_name: &str) -> String {
    format!("Service {service} stopped crash-looping on {server_name}")
}

/// Message of a crash loop's resolution.
pub fn crash_loop_over_message(service: &str, server_name: &str, minutes: i64) -> String {
    format!("Expected service {service} on {server_name} has not restarted for {minutes} minutes.")
}

/// What an alert is about, without its current numbers: used for acknowledgements and manual
/// resolutions, which change no values.
pub fn subject_line(server_name: &str, key: &AlertKey) -> String {
    match key.kind {
        AlertKind::Cpu | AlertKind::Memory | AlertKind::Disk => {
            format!("{} usage on {}", metric_label(key.kind), place(server_name, key))
        }
        AlertKind::Offline => offline_title(server_name),
        AlertKind::Service if key.is_crash_loop() => {
            format!("Crash loop of service {} on {server_name}", key.service_name().unwrap_or_default())
        }
        AlertKind::Service => format!("Service {} on {server_name}", key.subject),
        AlertKind::Container => match key.container_name() {
            Some(name) if name != key.subject => format!("Restart loop of container {name} on {server_name}"),
            _ => format!("Container {} on {server_name}", key.subject),
        },
        AlertKind::Temperature => format!("Temperature of {} on {server_name}", key.subject),
        AlertKind::DiskHealth => format!("Disk health ({}) on {server_name}", key.subject),
    }
}

/// `Container plex is exited (code 137) on nas`, `Container plex is unhealthy on nas`.
pub fn container_title(name: &str, problem: &str, server_name: &str) -> String {
    format!("Container {name} is {problem} on {server_name}")
}

/// Says the container is watched, so the reader knows why it matters.
pub fn container_message(name: &str, server_name: &str, problem: &str) -> String {
    format!("Watched container {name} on {server_name} is {problem}.")
}

/// Resolution of a container alert.
pub fn container_running_title(name: &str, server_name: &str) -> String {
    format!("Container {name} is running on {server_name}")
}

pub fn container_running_message(name: &str, server_name: &str) -> String {
    format!("Watched container {name} on {server_name} is running and not unhealthy again.")
}

/// Closing an alert on a container someone stopped watching.
pub fn container_unwatched_message(name: &str, server_name: &str) -> String {
    format!("Container {name} on {server_name} is no longer watched.")
}

/// `Container plex is restart-looping on nas`
pub fn restart_loop_title(name: &str, server_name: &str) -> String {
    format!("Container {name} is restart-looping on {server_name}")
}

pub fn restart_loop_message(name: &str, server_name: &str, restarts: i64, minutes: i64) -> String {
    format!("Watched container {name} on {server_name} restarted {restarts} times in {minutes} minutes.")
}

pub fn restart_loop_over_title(name: &str, server_name: &str) -> String {
    format!("Container {name} stopped restart-looping on {server_name}")
}

pub fn restart_loop_over_message(name: &str, server_name: &str, minutes: i64) -> String {
    format!("Watched container {name} on {server_name} has not restarted for {minutes} minutes.")
}

/// Title of an acknowledgement event (v1 records none; ours feeds logs and timelines).
pub fn acknowledged_title(server_name: &str, key: &AlertKey) -> String {
    format!("Acknowledged: {}", subject_line(server_name, key))
}

/// Says what an acknowledgement does, since v1 users expected it to stop everything.
pub fn acknowledged_message() -> String {
    "The alert was acknowledged; reminders stop, escalation and resolution still apply.".to_owned()
}

/// Title of a manual resolution event.
pub fn manually_resolved_title(server_name: &str, key: &AlertKey) -> String {
    format!("Resolved by hand: {}", subject_line(server_name, key))
}

/// Says that a manual resolve resets the key, so a continuing problem alerts again.
pub fn manually_resolved_message() -> String {
    "The alert was resolved by hand; if the problem continues, a new alert opens.".to_owned()
}

/// `Disk /dev/sda is failing on nas`: the drive's own S.M.A.R.T. verdict.
pub fn smart_failed_title(device: &str, server_name: &str) -> String {
    format!("Disk {device} is failing on {server_name}")
}

pub fn smart_failed_message(device: &str, server_name: &str) -> String {
    format!(
        "The S.M.A.R.T. self-assessment of {device} on {server_name} says FAILED: the drive predicts its own failure; back up its data and replace it."
    )
}

pub fn smart_passed_title(device: &str, server_name: &str) -> String {
    format!("Disk {device} passes S.M.A.R.T. again on {server_name}")
}

pub fn smart_passed_message(device: &str, server_name: &str) -> String {
    format!("The S.M.A.R.T. self-assessment of {device} on {server_name} says PASSED.")
}

/// `Disk /dev/sda has new bad sectors on nas`
pub fn sectors_title(device: &str, server_name: &str) -> String {
    format!("Disk {device} has new bad sectors on {server_name}")
}

pub fn sectors_message(device: &str, server_name: &str, increase: i64, hours: i64) -> String {
    format!(
        "The failure counters of {device} on {server_name} (reallocated, pending and uncorrectable sectors, media errors) rose by {increase} within {hours} hours: the disk may be failing."
    )
}

pub fn sectors_quiet_title(device: &str, server_name: &str) -> String {
    format!("Disk {device} has no new bad sectors on {server_name}")
}

pub fn sectors_quiet_message(device: &str, server_name: &str, hours: i64) -> String {
    format!("The failure counters of {device} on {server_name} have not risen for {hours} hours.")
}

/// `RAID array md0 is degraded on nas`, `ZFS pool tank is DEGRADED on nas`.
pub fn array_title(what: &str, name: &str, state: &str, server_name: &str) -> String {
    format!("{what} {name} is {state} on {server_name}")
}

pub fn array_message(what: &str, name: &str, state: &str, server_name: &str) -> String {
    format!("{what} {name} on {server_name} is {state}: it runs without redundancy until it is repaired.")
}

pub fn array_healthy_message(what: &str, name: &str, state: &str, server_name: &str) -> String {
    format!("{what} {name} on {server_name} is {state} again.")
}
