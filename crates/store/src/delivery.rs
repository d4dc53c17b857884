//! Notification delivery records: one per (outbox event, channel).

use homelab_core::alerts::AlertEvent;
use homelab_core::time::Timestamp;

/// An outbox event not yet handed to channels.
#[derive(Debug, Clone, PartialEq)]
pub struct UnroutedEvent {
    pub id: i64,
    pub event: AlertEvent,
}

/// Which channels one event goes to.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRoute {
    pub event_id: i64,
    pub channels: Vec<String>,
    /// The storm group of the event: its alert kind.
    pub group: String,
}

/// Who holds a message while sending it, and until when.
#[derive(Debug, Clone, PartialEq)]
pub struct Lease {
    /// The hub (stable across its restarts), so a restarted hub can take its leases back.
    pub instance: String,
    /// This process of the hub: only it may record the outcome.
    pub token: String,
    pub until: Timestamp,
}

/// A message the dispatcher has leased and must now send: one channel, one delivery id, the
/// same deliveries on every attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedMessage {
    pub id: i64,
    pub channel_id: String,
    /// Attempts including this one.
    pub attempts: i64,
    /// Its deliveries, oldest first.
    pub deliveries: Vec<ClaimedDelivery>,
}

/// One delivery of a claimed message.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub event_id: i64,
    pub channel_id: String,
    /// Attempts including this one.
    pub attempts: i64,
    pub created_at: Timestamp,
    pub event: AlertEvent,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    Delivered,
    /// Try again at `next_attempt_at`.
    Retry {
        error: String,
        next_attempt_at: Timestamp,
    },
    /// Give up (permanent failure, or the retry horizon passed).
    Dead {
        error: String,
    },
}

/// A delivery as the API lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub id: i64,
    pub event_id: i64,
    pub channel_id: String,
    /// `pending`, `delivered`, `dead` or `discarded`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    pub event: AlertEvent,
}
