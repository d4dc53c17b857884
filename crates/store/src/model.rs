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
