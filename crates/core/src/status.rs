//! One notion of a machine's status, derived from what is stored and the time: the API's
//! `status`, the dashboard's cards and the fleet summary's counts all come from [`status`], so
//! they cannot disagree (between two runs of the offline job, or about a workstation that is off).
//!
//! The stored `status` column is still written (`online` by a heartbeat, `offline` by the
//! offline job, as v1 does) but readers do not trust it: a machine silent for the offline timeout
//! is offline now, not when the job next runs.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::alerts::thresholds::Thresholds;
use crate::server::Server;
use crate::time::Timestamp;

/// v1 `ServerResponse.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ServerStatus {
    Online,
    Offline,
    /// Never heard from.
    Unknown,
}

impl ServerStatus {
    pub const ALL: [ServerStatus; 3] = [ServerStatus::Online, ServerStatus::Offline, ServerStatus::Unknown];

    /// The v1 string (also the stored value).
    pub const fn as_str(self) -> &'static str {
        match self {
            ServerStatus::Online => "online",
            ServerStatus::Offline => "offline",
            ServerStatus::Unknown => "unknown",
        }
    }

    /// The inverse of [`ServerStatus::as_str`].
    pub fn parse(text: &str) -> Option<ServerStatus> {
        ServerStatus::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

impl fmt::Display for ServerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// v1 `machine_type`: workstations are expected to be switched off at times.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum MachineType {
    #[default]
    Server,
    Workstation,
}

impl MachineType {
    pub const ALL: [MachineType; 2] = [MachineType::Server, MachineType::Workstation];

    /// The v1 string (also the stored value).
    pub const fn as_str(self) -> &'static str {
        match self {
            MachineType::Server => "server",
            MachineType::Workstation => "workstation",
        }
    }

    /// The inverse of [`MachineType::as_str`].
    pub fn parse(text: &str) -> Option<MachineType> {
        MachineType::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    pub fn is_workstation(self) -> bool {
        self == MachineType::Workstation
    }
}

impl fmt::Display for MachineType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a machine last heard from at `last_seen` has been silent for the offline timeout at
/// `now`. The same boundary as the offline job and the alert engine: reached at exactly the
/// timeout, to the millisecond.
pub fn is_silent(last_seen: Timestamp, rules: &Thresholds, now: Timestamp) -> bool {
    (now - last_seen).num_milliseconds() >= rules.server_offline_seconds.saturating_mul(1000)
}

/// The status of `server` at `now`: unknown until its first heartbeat, offline once silent for
/// `rules.server_offline_seconds`, online otherwise. Inactive machines are not judged by silence
/// (v1's offline job skips them), so they keep the stored status. Maintenance mode does not
/// change the status; it is shown beside it.
pub fn status(server: &Server, rules: &Thresholds, now: Timestamp) -> ServerStatus {
    if server.is_inactive {
        return server.status;
    }
    match server.last_seen {
        None => ServerStatus::Unknown,
        Some(seen) if is_silent(seen, rules, now) => ServerStatus::Offline,
        Some(_) => ServerStatus::Online,
    }
}

/// A workstation that is offline is asleep: expected, never an alarm.
pub fn is_asleep(machine_type: MachineType, status: ServerStatus) -> bool {
    machine_type.is_workstation() && status == ServerStatus::Offline
}

/// Machines by status, as the fleet summary counts them (`servers` of `GET /fleet/summary`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusCounts {
    pub total: i64,
    pub online: i64,
    /// Offline servers (not workstations: those are `asleep`).
    pub offline: i64,
    /// Workstations that are off (expected, never alerted on).
    pub asleep: i64,
    /// Never heard from.
    pub unknown: i64,
    /// In maintenance mode, whatever their status.
    pub paused: i64,
}

impl StatusCounts {
    pub fn of(servers: &[Server], rules: &Thresholds, now: Timestamp) -> StatusCounts {
        let mut counts = StatusCounts::default();
        for server in servers {
            let current = status(server, rules, now);
            counts.total += 1;
            counts.paused += i64::from(server.is_paused);
            match current {
                ServerStatus::Online => counts.online += 1,
                ServerStatus::Offline if is_asleep(server.machine_type, current) => counts.asleep += 1,
                ServerStatus::Offline => counts.offline += 1,
                ServerStatus::Unknown => counts.unknown += 1,
            }
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn at(text: &str) -> Timestamp {
        crate::time::parse(text).unwrap()
    }

    fn server(machine_type: MachineType, last_seen: Option<Timestamp>) -> Server {
        let mut server: Server = serde_json::from_value(serde_json::json!({
            "id": "a", "guid": null, "hostname": "a", "display_name": null, "ip_address": null,
            "status": "online", "tdp_watts": null, "cpu_model": null, "cpu_cores": null,
            "machine_category": null, "machine_category_source": null, "idle_watts": null,
            "os_distribution": null, "os_version": null, "kernel_version": null, "architecture": null,
            "updates_available": null, "security_updates": null, "is_paused": false, "paused_at": null,
            "agent_version": null, "agent_mode": null, "is_inactive": false, "inactive_since": null,
            "last_seen": null, "tailscale_hostname": null, "machine_type": "server", "ssh_username": null,
            "sudo_mode": "passwordless", "config_user": null, "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z", "latest_metrics": null, "filesystems": null,
            "network_interfaces": null, "active_alert_count": 0, "active_alert_summaries": [],
            "assigned_packs": null, "drift_detection_enabled": false
        }))
        .unwrap();
        server.machine_type = machine_type;
        server.last_seen = last_seen;
        server
    }

    #[test]
    fn status_follows_silence_to_the_millisecond() {
        let rules = Thresholds::default();
        let seen = at("2026-01-01T12:00:00Z");
        let timeout = Duration::seconds(rules.server_offline_seconds);
        let online = server(MachineType::Server, Some(seen));
        assert_eq!(status(&online, &rules, seen + timeout - Duration::milliseconds(1)), ServerStatus::Online);
        assert_eq!(status(&online, &rules, seen + timeout), ServerStatus::Offline);
        assert_eq!(status(&server(MachineType::Server, None), &rules, seen), ServerStatus::Unknown);
        // The stored value does not matter, except for inactive machines.
        let mut stale = server(MachineType::Server, Some(seen));
        stale.status = ServerStatus::Offline;
        assert_eq!(status(&stale, &rules, seen), ServerStatus::Online);
        stale.is_inactive = true;
        assert_eq!(status(&stale, &rules, seen + timeout * 10), ServerStatus::Offline);
        stale.status = ServerStatus::Online;
        assert_eq!(status(&stale, &rules, seen + timeout * 10), ServerStatus::Online);
    }

    #[test]
    fn counts_tell_sleeping_workstations_from_offline_servers() {
        let rules = Thresholds::default();
        let now = at("2026-01-01T12:00:00Z");
        let long_ago = Some(now - Duration::hours(5));
        let mut paused = server(MachineType::Server, Some(now));
        paused.is_paused = true;
        let servers = [
            server(MachineType::Server, Some(now)),
            server(MachineType::Server, long_ago),
            server(MachineType::Workstation, long_ago),
            server(MachineType::Workstation, None),
            paused,
        ];
        let counts = StatusCounts::of(&servers, &rules, now);
        assert_eq!(counts, StatusCounts { total: 5, online: 2, offline: 1, asleep: 1, unknown: 1, paused: 1 });
    }

    #[test]
    fn wire_strings_are_v1() {
        assert_eq!(
            serde_json::to_value(ServerStatus::ALL).unwrap(),
            serde_json::json!(["online", "offline", "unknown"])
        );
        assert_eq!(serde_json::to_value(MachineType::ALL).unwrap(), serde_json::json!(["server", "workstation"]));
        for status in ServerStatus::ALL {
            assert_eq!(ServerStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(MachineType::parse("laptop"), None);
        assert_eq!(crate::server::MACHINE_TYPES, MachineType::ALL.map(MachineType::as_str));
    }
}
