//! Per-key alert state: the dedup and timer memory of the engine, one stored row per key.

use serde::{Deserialize, Serialize};

use super::thresholds::Thresholds;
use super::{AlertKey, AlertStatus, Severity};
use crate::time::{self, Timestamp};

/// What the engine remembers about one alert key of one server.
///
/// A state with no active alert and no running breach timer is *idle*: it means the same as no row
/// at all, so the store may delete it (see [`AlertState::is_idle`]). Healthy servers therefore cost
/// no state writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertState {
    pub key: AlertKey,
    /// When the current breach began (hub clock). Drives the sustained window before an alert
    /// opens, and the duration reported on resolution. For offline alerts it is the server's
    /// `last_seen`, i.e. when it fell silent.
    #[serde(default, with = "time::rfc3339_option")]
    pub first_breach_at: Option<Timestamp>,
    /// The latest value while breaching or alerting (percent for metrics; `None` otherwise).
    #[serde(default)]
    pub current_value: Option<f64>,
    /// The latest reported status (`stopped`/`failed`) of a service key while it is down, so that
    /// reminders name the current status.
    #[serde(default)]
    pub service_status: Option<String>,
    /// Since when the value of a metric key with an open alert has been below the high level
    /// without a clear drop (within the hysteresis margin): the clear period counts from here, and
    /// a value back at or above the high level clears it.
    #[serde(default, with = "time::rfc3339_option")]
    pub below_high_since: Option<Timestamp>,
    /// Crash-loop keys only: the service's restart counter where it changed, oldest first, pruned
    /// to the crash-loop window plus one baseline before it. Only changes are recorded, so a
    /// steady counter rewrites nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restarts: Vec<RestartCount>,
    /// The alert currently open or acknowledged for this key, if any: at most one per key.
    #[serde(default)]
    pub active: Option<ActiveAlert>,
}

/// A service's restart counter as first seen at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartCount {
    #[serde(with = "time::rfc3339")]
    pub at: Timestamp,
    pub count: i64,
}

/// The open or acknowledged alert of a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveAlert {
    /// The id of the `alerts` row. The engine never invents ids: it opens alerts with `None` and the
    /// store fills the id in ([`AlertState::set_alert_id`]) after inserting the row.
    #[serde(default)]
    pub alert_id: Option<i64>,
    pub severity: Severity,
    /// `Open` or `Acknowledged`; a resolved alert is no longer active.
    pub status: AlertStatus,
    #[serde(with = "time::rfc3339")]
    pub opened_at: Timestamp,
    /// When a notification (opening, escalation, reminder…) was last sent; reminders count from here.
    #[serde(with = "time::rfc3339")]
    pub last_notified_at: Timestamp,
    #[serde(default, with = "time::rfc3339_option")]
    pub acknowledged_at: Option<Timestamp>,
}

impl AlertState {
    /// The idle state of a key: no alert, no breach.
    pub fn new(key: AlertKey) -> Self {
        AlertState {
            key,
            first_breach_at: None,
            current_value: None,
            service_status: None,
            below_high_since: None,
            restarts: Vec::new(),
            active: None,
        }
    }

    /// No active alert, no breach timer and no restart counter to compare with: equivalent to
    /// having no row.
    pub fn is_idle(&self) -> bool {
        self.active.is_none() && self.first_breach_at.is_none() && self.restarts.is_empty()
    }

    /// Records the id of the `alerts` row the store inserted for this key's active alert.
    pub fn set_alert_id(&mut self, alert_id: i64) {
        if let Some(active) = &mut self.active {
            active.alert_id = Some(alert_id);
        }
    }

    /// Back to idle: used when an alert resolves, so that a new breach starts a fresh window.
    pub(crate) fn reset(&mut self) {
        self.first_breach_at = None;
        self.current_value = None;
        self.service_status = None;
        self.below_high_since = None;
        self.active = None;
    }

    /// The v1 `GET /alerts/pending` item for a metric key in its sustained window (breaching, no
    /// alert yet); `None` for other keys and states.
    pub fn pending(&self, thresholds: &Thresholds, now: Timestamp) -> Option<PendingBreach> {
        let threshold = thresholds.metric(self.key.kind)?;
        let (Some(first_breach_at), Some(current_value), None) =
            (self.first_breach_at, self.current_value, &self.active)
        else {
            return None;
        };
        let severity =
            if current_value >= threshold.critical_percent as f64 { Severity::Critical } else { Severity::High };
        let elapsed_seconds = (now - first_breach_at).num_seconds().max(0);
        Some(PendingBreach {
            key: self.key.clone(),
            current_value,
            threshold_value: threshold.level(severity),
            severity,
            first_breach_at,
            sustained_seconds: threshold.sustained_seconds,
            elapsed_seconds,
            time_until_alert: threshold.sustained_seconds.saturating_sub(elapsed_seconds).max(0),
        })
    }
}

/// A breach that has not lasted long enough to open an alert (v1 `GET /alerts/pending`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PendingBreach {
    /// `key.kind` is the v1 `metric_type`; `key.subject` names the mount for disk breaches.
    pub key: AlertKey,
    pub current_value: f64,
    pub threshold_value: f64,
    /// `critical` when the value is at or above the critical level, else `high` (as v1).
    pub severity: Severity,
    #[serde(with = "time::rfc3339")]
    pub first_breach_at: Timestamp,
    pub sustained_seconds: i64,
    pub elapsed_seconds: i64,
    pub time_until_alert: i64,
}
