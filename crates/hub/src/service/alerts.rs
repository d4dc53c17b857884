//! Alerts (v1 §2.5): history with filters and paging, acknowledge, resolve, pending breaches and
//! each alert's timeline. The alert lifecycle itself is the engine's (`homelab_core::alerts`);
//! what a person may do to an alert is decided here.

use homelab_core::alerts::{AlertKind, AlertStatus, Severity};
use homelab_core::time::{self, Timestamp};
use homelab_core::validate::{ValidationErrors, Validator};
use homelab_store::{AlertFilter, AlertRecord, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ServiceError, ServiceResult};
use crate::state::AppState;

/// v1 `AlertResponse`, field for field.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertResponse {
    pub id: i64,
    pub server_id: String,
    /// Display name, else hostname.
    pub server_name: String,
    pub alert_type: AlertKind,
    pub severity: Severity,
    pub status: AlertStatus,
    pub title: String,
    pub message: Option<String>,
    pub threshold_value: Option<f64>,
    pub actual_value: Option<f64>,
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(with = "time::rfc3339_option")]
    pub acknowledged_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(with = "time::rfc3339_option")]
    pub resolved_at: Option<Timestamp>,
    pub auto_resolved: bool,
    /// Open, and not a service alert whose service is still down.
    pub can_acknowledge: bool,
    /// For service alerts, the stored subject (v1 parsed it out of the title).
    pub service_name: Option<String>,
    /// Not resolved, and not a service alert whose service is still down.
    pub can_resolve: bool,
}

impl From<AlertRecord> for AlertResponse {
    fn from(alert: AlertRecord) -> Self {
        let still_down = alert.service_still_down();
        AlertResponse {
            can_acknowledge: alert.status == AlertStatus::Open && !still_down,
            can_resolve: alert.status != AlertStatus::Resolved && !still_down,
            service_name: alert.key.service_name().map(str::to_owned),
            id: alert.id,
            server_id: alert.server_id,
            server_name: alert.server_name,
            alert_type: alert.alert_type,
            severity: alert.severity,
            status: alert.status,
            title: alert.title,
            message: alert.message,
            threshold_value: alert.threshold_value,
            actual_value: alert.actual_value,
            created_at: alert.created_at,
            acknowledged_at: alert.acknowledged_at,
            resolved_at: alert.resolved_at,
            auto_resolved: alert.auto_resolved,
        }
    }
}

/// Query of `GET /alerts`. Strings match exactly and are not validated, as in v1; `alert_type`,
/// `from` and `to` are additions (v1 ignored `alert_type`).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    pub status: Option<String>,
    pub severity: Option<String>,
    pub server_id: Option<String>,
    /// `cpu`, `memory`, `disk`, `offline` or `service`.
    pub alert_type: Option<String>,
    /// Alerts created at or after this instant (RFC 3339).
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Alerts created at or before this instant (RFC 3339).
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// 1–100, default 50.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// ≥ 0, default 0.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

fn parse_instant(v: &mut Validator, field: &str, text: Option<&str>) -> Option<Timestamp> {
    let text = text?;
    let parsed = time::parse(text);
    if parsed.is_none() {
        v.custom(field, "datetime_parsing", "should be an RFC 3339 date-time", text.into());
    }
    parsed
}

impl AlertQuery {
    fn filter(&self) -> Result<AlertFilter, ValidationErrors> {
        let mut v = Validator::new("query");
        v.range_i64("limit", self.limit, 1, Some(100));
        v.range_i64("offset", self.offset, 0, None);
        let from = parse_instant(&mut v, "from", self.from.as_deref());
        let to = parse_instant(&mut v, "to", self.to.as_deref());
        v.finish()?;
        Ok(AlertFilter {
            status: self.status.clone(),
            severity: self.severity.clone(),
            server_id: self.server_id.clone(),
            alert_type: self.alert_type.clone(),
            from,
            to,
            limit: self.limit.unwrap_or(50),
            offset: self.offset.unwrap_or(0),
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertList {
    pub alerts: Vec<AlertResponse>,
    /// Number of alerts matching the filters (all pages).
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// Alert history, newest first.
pub async fn list(state: &AppState, query: &AlertQuery) -> ServiceResult<AlertList> {
    let filter = query.filter()?;
    let page = state.store.list_alerts(&filter).await?;
    Ok(AlertList {
        alerts: page.alerts.into_iter().map(AlertResponse::from).collect(),
        total: page.total,
        limit: filter.limit,
        offset: filter.offset,
    })
}

pub async fn get(state: &AppState, id: i64) -> ServiceResult<AlertResponse> {
    Ok(state.store.get_alert(id).await?.into())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AcknowledgeResponse {
    pub id: i64,
    pub status: AlertStatus,
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(with = "time::rfc3339_option")]
    pub acknowledged_at: Option<Timestamp>,
}

/// Acknowledges an open alert: reminders stop, but it still escalates and auto-resolves (v1 froze
/// acknowledged alerts for ever). Idempotent. Refused for a resolved alert (by the store, in the
/// same transaction as the change) and, as in v1, for a service alert whose service is still down.
pub async fn acknowledge(state: &AppState, id: i64) -> ServiceResult<AcknowledgeResponse> {
    let alert = state.store.get_alert(id).await?;
    if alert.status == AlertStatus::Open && alert.service_still_down() {
        return Err(ServiceError::refused(
            "SERVICE_STILL_DOWN",
            format!(
                "Cannot acknowledge: service {} is still {}",
                alert.key.subject,
                alert.latest_service_status.as_deref().unwrap_or("down")
            ),
        ));
    }
    let alert = state.store.acknowledge_alert(id, state.clock.now()).await.map_err(|error| match error {
        StoreError::Rejected(message) => ServiceError::refused("INVALID_STATE", message),
        other => other.into(),
    })?;
    state.web.server_changed(&alert.server_id, false);
    state.outbox.wake();
    Ok(AcknowledgeResponse { id: alert.id, status: alert.status, acknowledged_at: alert.acknowledged_at })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResolveResponse {
    pub id: i64,
    pub status: AlertStatus,
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(with = "time::rfc3339_option")]
    pub resolved_at: Option<Timestamp>,
    pub auto_resolved: bool,
}

/// Resolves an open or acknowledged alert by hand. The key starts afresh, so a problem that
/// persists opens a new alert. Idempotent: a resolved alert is returned as stored.
pub async fn resolve(state: &AppState, id: i64) -> ServiceResult<ResolveResponse> {
    let alert = state.store.resolve_alert(id, state.clock.now()).await?;
    state.web.server_changed(&alert.server_id, false);
    state.outbox.wake();
    Ok(ResolveResponse {
        id: alert.id,
        status: alert.status,
        resolved_at: alert.resolved_at,
        auto_resolved: alert.auto_resolved,
    })
}

/// A metric breach that has not lasted its sustained window yet (v1 shape plus `mount_point`).
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingItem {
    pub server_id: String,
    pub server_name: String,
    /// `cpu`, `memory` or `disk`.
    pub metric_type: AlertKind,
    /// The mount point of a disk breach (not in v1, which only watched one disk).
    pub mount_point: Option<String>,
    pub current_value: f64,
    pub threshold_value: f64,
    /// `critical` when the value is at or above the critical level, else `high`.
    pub severity: Severity,
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::rfc3339")]
    pub first_breach_at: Timestamp,
    pub sustained_seconds: i64,
    pub elapsed_seconds: i64,
    pub time_until_alert: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PendingList {
    pub pending: Vec<PendingItem>,
    pub total: usize,
}

/// Breaches inside their sustained window: what will alert if nothing changes.
pub async fn pending(state: &AppState) -> ServiceResult<PendingList> {
    let pending: Vec<PendingItem> = state
        .store
        .pending_breaches(state.clock.now())
        .await?
        .into_iter()
        .map(|item| {
            let breach = item.breach;
            PendingItem {
                server_id: item.server_id,
                server_name: item.server_name,
                metric_type: breach.key.kind,
                mount_point: (breach.key.kind == AlertKind::Disk).then_some(breach.key.subject),
                current_value: breach.current_value,
                threshold_value: breach.threshold_value,
                severity: breach.severity,
                first_breach_at: breach.first_breach_at,
                sustained_seconds: breach.sustained_seconds,
                elapsed_seconds: breach.elapsed_seconds,
                time_until_alert: breach.time_until_alert,
            }
        })
        .collect();
    Ok(PendingList { total: pending.len(), pending })
}

/// One notification attempt series of a timeline entry: one channel's delivery of one event.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineDelivery {
    pub delivery_id: i64,
    pub channel_id: String,
    /// `pending`, `delivered`, `dead` or `discarded`.
    pub status: String,
    pub attempts: i64,
    /// The receiver's last error, verbatim.
    pub last_error: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(with = "time::rfc3339_option")]
    pub delivered_at: Option<Timestamp>,
    /// When a pending delivery is tried next.
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::rfc3339")]
    pub next_attempt_at: Timestamp,
}

/// One thing that happened to an alert.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::rfc3339")]
    pub at: Timestamp,
    /// `fired`, `escalated`, `de_escalated`, `reminder`, `acknowledged` or `resolved`.
    pub kind: &'static str,
    /// The alert's severity after this step.
    pub severity: Severity,
    /// What happened, in words.
    pub text: String,
    /// Whether the step went to the notification outbox (false in maintenance, for a person's
    /// acknowledgement or resolution, and for alerts older than the outbox).
    pub notified: bool,
    /// Deliveries of that outbox event, one per channel that wanted it.
    pub deliveries: Vec<TimelineDelivery>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertTimeline {
    pub alert: AlertResponse,
    /// Oldest first.
    pub entries: Vec<TimelineEntry>,
}

fn outbox_kind(kind: &str) -> &'static str {
    match kind {
        "opened" => "fired",
        "escalated" => "escalated",
        "de_escalated" => "de_escalated",
        "reminder" => "reminder",
        "acknowledged" => "acknowledged",
        _ => "resolved",
    }
}

fn resolved_text(auto: bool, duration_minutes: Option<i64>) -> String {
    let how = if auto { "Resolved automatically (the condition cleared)" } else { "Resolved by hand" };
    match duration_minutes {
        Some(0) => format!("{how} within a minute"),
        Some(minutes) => format!("{how} after {minutes} min"),
        None => how.to_owned(),
    }
}

/// The alert and everything that happened to it, oldest first: the alert row gives the opening,
/// acknowledgement and resolution times; the outbox gives escalations, reminders and which
/// channels were notified, with each delivery's outcome. Shared by the API and the dashboard.
pub async fn timeline(state: &AppState, id: i64) -> ServiceResult<AlertTimeline> {
    let record = state.store.get_alert(id).await?;
    let (events, deliveries) = state.store.alert_notifications(id).await?;
    let mut entries: Vec<TimelineEntry> = events
        .iter()
        .map(|outbox| {
            let event = &outbox.event;
            let kind = outbox_kind(&outbox.kind);
            let previous = event.previous_severity.map_or("", Severity::as_str);
            let text = match kind {
                "fired" => format!("Fired: {}", event.title),
                "escalated" => format!("Escalated from {previous} to {}: {}", event.severity.as_str(), event.title),
                "de_escalated" => {
                    format!("Eased from {previous} to {}: {}", event.severity.as_str(), event.title)
                }
                "reminder" => format!("Reminder: {}", event.title),
                "acknowledged" => "Acknowledged".to_owned(),
                _ => resolved_text(
                    matches!(event.kind, homelab_core::alerts::EventKind::Resolved { auto: true }),
                    event.duration_minutes(),
                ),
            };
            TimelineEntry {
                at: event.at,
                kind,
                severity: event.severity,
                text,
                notified: true,
                deliveries: deliveries
                    .iter()
                    .filter(|d| d.event_id == outbox.id)
                    .map(|d| TimelineDelivery {
                        delivery_id: d.id,
                        channel_id: d.channel_id.clone(),
                        status: d.status.clone(),
                        attempts: d.attempts,
                        last_error: d.last_error.clone(),
                        delivered_at: d.delivered_at,
                        next_attempt_at: d.next_attempt_at,
                    })
                    .collect(),
            }
        })
        .collect();
    let has = |entries: &[TimelineEntry], kind: &str| entries.iter().any(|e| e.kind == kind);
    let quiet = |at, kind, text: String| TimelineEntry {
        at,
        kind,
        severity: record.severity,
        text,
        notified: false,
        deliveries: Vec::new(),
    };
    if !has(&entries, "fired") {
        entries.push(quiet(record.created_at, "fired", format!("Fired: {}", record.title)));
    }
    if let Some(at) = record.acknowledged_at
        && !has(&entries, "acknowledged")
    {
        entries.push(quiet(at, "acknowledged", "Acknowledged".to_owned()));
    }
    if let Some(at) = record.resolved_at
        && !has(&entries, "resolved")
    {
        let minutes = (at - record.created_at).num_minutes();
        entries.push(quiet(at, "resolved", resolved_text(record.auto_resolved, Some(minutes))));
    }
    // Stable: steps at the same instant keep the order they were recorded in.
    entries.sort_by_key(|e| e.at);
    Ok(AlertTimeline { alert: record.into(), entries })
}
