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

/// `High DISK usage on nas.local (85%)`, or `High DISK usage on nas.local /srv (85%)` per mount.
pub fn metric_title(server_name: &str, key: &AlertKey, severity: Severity, value: f64) -> String {
    format!("{} {} usage on {} ({value:.0}%)", severity.title_case(), metric_label(key.kind), place(server_name, key))
}

/// `DISK usage on nas.local reached 85.3%, exceeding the high threshold of 80%.`
pub fn metric_message(server_name: &str, key: &AlertKey, severity: Severity, value: f64, threshold: f64) -> String {
    format!(
        "{} usage on {} reached {value:.1}%, exceeding the {severity} threshold of {threshold:.0}%.",
        metric_label(key.kind),
        place(server_name, key)
    )
}

/// v1's escalation message; per-mount disk alerts name the mount.
pub fn escalation_message(key: &AlertKey, value: f64, threshold: f64) -> String {
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
    format!(
        "{} usage on {} fell to {value:.1}%, below the critical threshold of {critical:.0}%; severity lowered to high.",
        metric_label(key.kind),
        place(server_name, key)
    )
}

/// `Resolved: CPU usage on nas.local (78%)`: not a v1 record text (v1 only changed the status).
pub fn metric_resolved_title(server_name: &str, key: &AlertKey, value: f64) -> String {
    format!("Resolved: {} usage on {} ({value:.0}%)", metric_label(key.kind), place(server_name, key))
}

/// The resolution counterpart of [`metric_message`].
pub fn metric_resolved_message(server_name: &str, key: &AlertKey, value: f64) -> String {
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
    }
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
