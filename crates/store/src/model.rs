//! Values passed to and returned by the [`Store`](crate::Store) that are not part of the v1 wire
//! types in `homelab_core`.

use homelab_core::heartbeat::HeartbeatRequest;
use homelab_core::history::{Aggregate, MetricKind, Tier};
use homelab_core::time::Timestamp;

/// A validated heartbeat and what the hub knows about its sender.
#[derive(Debug, Clone)]
pub struct HeartbeatWrite {
    pub request: HeartbeatRequest,
    /// TCP peer address, stored as the server's `ip_address`.
    pub peer_ip: Option<String>,
    /// Set when the sender authenticated with a per-agent token: the token's server GUID.
    /// The heartbeat may then only write to the server owning that GUID.
    pub authenticated_guid: Option<String>,
    /// Hub clock at receipt: `last_seen`.
    pub received_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HeartbeatOutcome {
    /// The server the heartbeat was stored under (matched by GUID first, then id).
    pub server_id: String,
    /// True when this heartbeat created the server.
    pub server_registered: bool,
    /// Notification events this heartbeat committed to the `alert_events` outbox; when non-zero
    /// the caller wakes the dispatcher.
    pub outbox_events: usize,
}

/// Which series of a server to read, over which window, at which resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryQuery {
    /// Metrics to read; per-mount and per-interface metrics return one series per subject.
    pub metrics: Vec<MetricKind>,
    pub from: Timestamp,
    pub to: Timestamp,
    /// Coarsest tier to read (see `homelab_core::history::tier_plan`).
    pub source: Tier,
    /// Chart bucket width in ms; `None` returns the rows as read.
    pub bucket_millis: Option<i64>,
}

/// The points of one series, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesData {
    pub metric: MetricKind,
    pub subject: String,
    pub points: Vec<Aggregate>,
}

/// What one retention run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetentionReport {
    pub five_minute_buckets_written: u64,
    pub hourly_buckets_written: u64,
    pub raw_deleted: u64,
    pub five_minute_deleted: u64,
    pub hourly_deleted: u64,
    pub service_status_deleted: u64,
    /// History partitions created ahead of time or for rows in a default partition, and
    /// dropped whole by retention (PostgreSQL; their rows count as deleted above).
    pub partitions_created: u64,
    pub partitions_dropped: u64,
}

/// One time partition of a history tier (PostgreSQL): the table holding `[from, to)`.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPartition {
    pub tier: homelab_core::history::Tier,
    pub name: String,
    pub from: Timestamp,
    pub to: Timestamp,
}

impl RetentionReport {
    /// Adds the counts of one more unit of the same run.
    pub fn add(&mut self, part: &RetentionReport) {
        self.five_minute_buckets_written += part.five_minute_buckets_written;
        self.hourly_buckets_written += part.hourly_buckets_written;
        self.raw_deleted += part.raw_deleted;
        self.five_minute_deleted += part.five_minute_deleted;
        self.hourly_deleted += part.hourly_deleted;
        self.service_status_deleted += part.service_status_deleted;
        self.partitions_created += part.partitions_created;
        self.partitions_dropped += part.partitions_dropped;
    }
}

/// A registration token to store; only the hash of the secret is kept.
#[derive(Debug, Clone)]
pub struct NewRegistrationToken {
    pub token_hash: String,
    pub token_prefix: String,
    pub mode: String,
    pub display_name: Option<String>,
    pub monitored_services: Option<Vec<String>>,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RegistrationToken {
    pub id: i64,
    pub token_prefix: String,
    pub mode: String,
    pub display_name: Option<String>,
    pub monitored_services: Option<Vec<String>>,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
    pub claimed_at: Option<Timestamp>,
}

/// An agent redeeming a registration token.
#[derive(Debug, Clone)]
pub struct TokenClaim {
    pub token_hash: String,
    pub server_id: String,
    pub hostname: String,
    /// The server's GUID: its existing one, or a fresh one if it has none (or does not exist).
    /// The agent token embeds it, so the caller picks it; the store refuses a mismatch.
    pub server_guid: String,
    pub credential: NewCredential,
    pub now: Timestamp,
}

/// A per-agent credential to store (hash only).
#[derive(Debug, Clone)]
pub struct NewCredential {
    pub token_hash: String,
    pub token_prefix: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedAgent {
    pub server_id: String,
    pub server_guid: String,
    pub mode: String,
    pub monitored_services: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AgentCredential {
    pub server_id: String,
    pub server_guid: String,
    pub token_hash: String,
    pub token_prefix: String,
    pub is_legacy: bool,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// One row of alert history, with what the API shows next to it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    pub id: i64,
    pub server_id: String,
    /// Display name, else hostname.
    pub server_name: String,
    pub alert_type: homelab_core::alerts::AlertKind,
    pub key: homelab_core::alerts::AlertKey,
    pub severity: homelab_core::alerts::Severity,
    pub status: homelab_core::alerts::AlertStatus,
    pub title: String,
    pub message: Option<String>,
    pub threshold_value: Option<f64>,
    pub actual_value: Option<f64>,
    pub created_at: Timestamp,
    pub acknowledged_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub auto_resolved: bool,
    pub updated_at: Timestamp,
    /// For service alerts: the newest reported status of that service (`running`, `stopped`, …),
    /// which decides v1's "service still down" rule.
    pub latest_service_status: Option<String>,
}

impl AlertRecord {
    /// v1: a service alert whose service is still reported `stopped` or `failed`.
    pub fn service_still_down(&self) -> bool {
        self.key.kind == homelab_core::alerts::AlertKind::Service
            && matches!(self.latest_service_status.as_deref(), Some("stopped" | "failed"))
    }
}

/// Filters of `GET /alerts`; `None` means "any". Strings are matched exactly, as in v1.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AlertFilter {
    pub status: Option<String>,
    pub severity: Option<String>,
    pub server_id: Option<String>,
    pub alert_type: Option<String>,
    /// Inclusive lower bound on `created_at`.
    pub from: Option<Timestamp>,
    /// Inclusive upper bound on `created_at`.
    pub to: Option<Timestamp>,
    pub limit: i64,
    pub offset: i64,
}

/// One page of alerts, newest first, and how many match in all.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertPage {
    pub alerts: Vec<AlertRecord>,
    pub total: i64,
}

/// A breach in its sustained window (v1 `GET /alerts/pending`).
#[derive(Debug, Clone, PartialEq)]
pub struct PendingAlert {
    pub server_id: String,
    pub server_name: String,
    pub breach: homelab_core::alerts::PendingBreach,
}

/// What one offline check did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OfflineReport {
    /// Servers whose status changed from online to offline.
    pub marked_offline: Vec<String>,
    /// Alert events the check produced (openings, reminders, resolutions).
    pub events: usize,
}

/// The alert side of the fleet overview. Servers are counted by the hub from `list_servers` with
/// `homelab_core::status`, the one rule every view uses, not from the stored status column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetSummary {
    /// Open (not acknowledged) alerts per severity.
    pub open_critical: i64,
    pub open_high: i64,
    pub open_medium: i64,
    pub open_low: i64,
    pub acknowledged: i64,
}

/// An entry of the notification outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    pub id: i64,
    pub alert_id: Option<i64>,
    pub server_id: String,
    /// `opened`, `escalated`, `de_escalated`, `reminder`, `resolved`, `acknowledged`.
    pub kind: String,
    pub severity: String,
    pub event: homelab_core::alerts::AlertEvent,
    /// `pending`, `delivered`, `failed` or `dead`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
}

/// The newest status report of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceStatusReport {
    pub status: String,
    pub status_reason: Option<String>,
    pub pid: Option<i64>,
    pub memory_mb: Option<f64>,
    pub cpu_percent: Option<f64>,
    /// The agent's timestamp of that report.
    pub last_seen: Timestamp,
}

/// A service as its agent last reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedService {
    pub service_name: String,
    /// Whether the server expects (watches) it.
    pub expected: bool,
    pub status: ServiceStatusReport,
}

/// A service a server is expected to run (v1 `expected_services`).
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedServiceRecord {
    pub service_name: String,
    pub display_name: Option<String>,
    pub is_critical: bool,
    pub enabled: bool,
    /// Seconds it may be down before alerting; `None`: the thresholds' `service_grace_seconds`.
    pub grace_seconds: Option<i64>,
    pub created_at: Timestamp,
    pub current_status: Option<ServiceStatusReport>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewExpectedService {
    pub service_name: String,
    pub display_name: Option<String>,
    pub is_critical: bool,
    pub grace_seconds: Option<i64>,
}

/// A partial update; `None` keeps the stored value, `Some(None)` clears the display name (or
/// the grace period, back to the global default).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExpectedServiceUpdate {
    pub display_name: Option<Option<String>>,
    pub is_critical: Option<bool>,
    pub enabled: Option<bool>,
    pub grace_seconds: Option<Option<i64>>,
}
