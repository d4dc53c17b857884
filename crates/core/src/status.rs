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

/// How often agents report (v1's default interval).
pub const HEARTBEAT_INTERVAL_SECONDS: i64 = 60;

/// How silence is judged: the offline timeout, and since when this hub has been watching when it
/// was itself down before that.
///
/// A hub that was down cannot tell a silent machine from its own absence, so after such a restart
/// no machine is offline before one heartbeat interval plus the timeout has passed (the agents'
/// next heartbeat, or their spool's replay, gets that long to arrive): a restart never raises an
/// offline storm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Silence {
    pub offline_seconds: i64,
    pub watching_since: Option<Timestamp>,
}

impl Silence {
    pub fn new(rules: &Thresholds, watching_since: Option<Timestamp>) -> Self {
        Silence { offline_seconds: rules.server_offline_seconds, watching_since }
    }

    /// When a machine last heard from at `last_seen` becomes offline: the same instant for the
    /// offline job, the alert engine and every view, to the millisecond.
    pub fn offline_at(&self, last_seen: Timestamp) -> Timestamp {
        let timeout = chrono::Duration::milliseconds(self.offline_seconds.saturating_mul(1000));
        let own = last_seen + timeout;
        match self.watching_since {
            Some(since) => own.max(since + chrono::Duration::seconds(HEARTBEAT_INTERVAL_SECONDS) + timeout),
            None => own,
        }
    }

    /// When a restart's grace ends: no machine is offline before then.
    pub fn grace_ends(&self) -> Option<Timestamp> {
        self.watching_since.map(|since| self.offline_at(since))
    }

    /// Whether a machine last heard from at `last_seen` is silent (offline) at `now`.
    pub fn is_silent(&self, last_seen: Timestamp, now: Timestamp) -> bool {
        now >= self.offline_at(last_seen)
    }

    /// Whether a hub that stopped hearing from anything at `newest_last_seen` and starts at
    /// `started_at` was down long enough (a heartbeat interval) to owe its machines a grace period.
    pub fn watching_since(newest_last_seen: Option<Timestamp>, started_at: Timestamp) -> Option<Timestamp> {
        newest_last_seen
            .filter(|newest| started_at - *newest > chrono::Duration::seconds(HEARTBEAT_INTERVAL_SECONDS))
            .map(|_| started_at)
    }
}

/// The status of `server` at `now`: unknown until its first heartbeat, offline once silent per
/// `silence`, online otherwise. Inactive machines are not judged by silence (v1's offline job
/// skips them), so they keep the stored status. Maintenance mode does not change the status; it
/// is shown beside it.
pub fn status(server: &Server, silence: &Silence, now: Timestamp) -> ServerStatus {
    if server.is_inactive {
        return server.status;
    }
    match server.last_seen {
        None => ServerStatus::Unknown,
        Some(seen) if silence.is_silent(seen, now) => ServerStatus::Offline,
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
    pub fn of(servers: &[Server], silence: &Silence, now: Timestamp) -> StatusCounts {
        let mut counts = StatusCounts::default();
        for server in servers {
            let current = status(server, silence, now);
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
        let rules = Silence::new(&Thresholds::default(), None);
        let seen = at("2026-01-01T12:00:00Z");
        let timeout = Duration::seconds(rules.offline_seconds);
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
    fn a_hub_back_from_downtime_gives_every_machine_an_interval_plus_the_timeout() {
        let thresholds = Thresholds::default();
        let timeout = Duration::seconds(thresholds.server_offline_seconds);
        let last_heard = at("2026-01-01T12:00:00Z");
        let restart = last_heard + Duration::minutes(10);
        assert_eq!(
            Silence::watching_since(Some(last_heard), last_heard + Duration::seconds(60)),
            None,
            "a quick restart"
        );
        assert_eq!(Silence::watching_since(None, restart), None, "nothing to watch yet");
        let since = Silence::watching_since(Some(last_heard), restart);
        assert_eq!(since, Some(restart));
        let silence = Silence::new(&thresholds, since);
        let grace_ends = restart + Duration::seconds(HEARTBEAT_INTERVAL_SECONDS) + timeout;
        assert_eq!(silence.offline_at(last_heard), grace_ends);
        assert_eq!(silence.grace_ends(), Some(grace_ends));
        assert!(!silence.is_silent(last_heard, grace_ends - Duration::milliseconds(1)));
        assert!(silence.is_silent(last_heard, grace_ends));
        let reported_later = grace_ends;
        assert_eq!(silence.offline_at(reported_later), reported_later + timeout, "later heartbeats count as usual");
    }

    #[test]
    fn counts_tell_sleeping_workstations_from_offline_servers() {
        let rules = Silence::new(&Thresholds::default(), None);
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
