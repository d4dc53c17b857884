//! Alerts at `/alerts`: open and history, filtered by status, severity, server and type;
//! acknowledge and resolve, one at a time or in bulk, through the alert service. Each alert has a
//! detail page (`/alerts/{id}`) with its timeline: fired, reminded, escalated, acknowledged,
//! resolved, and every notification sent with its outcome (as `GET /api/v1/alerts/{id}/timeline`).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use homelab_core::time::Timestamp;
use serde::Deserialize;

use super::session::{CsrfUser, WebUser};
use super::{Layout, error_message, error_status, error_toast, render, view};
use crate::service::alerts::{self, AlertQuery, AlertResponse, AlertTimeline};
use crate::service::{ServiceError, ServiceResult};
use crate::state::AppState;

/// The filters, as the form sends them (empty = any).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Filters {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub server_id: String,
    #[serde(default)]
    pub alert_type: String,
}

impl Filters {
    fn query(&self) -> AlertQuery {
        let some = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        AlertQuery {
            status: some(&self.status),
            severity: some(&self.severity),
            server_id: some(&self.server_id),
            alert_type: some(&self.alert_type),
            limit: Some(100),
            ..AlertQuery::default()
        }
    }

    /// Reads the filter fields out of a form body that may also hold other fields.
    fn from_pairs(pairs: &[(String, String)]) -> Filters {
        let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default();
        Filters {
            status: get("status"),
            severity: get("severity"),
            server_id: get("server_id"),
            alert_type: get("alert_type"),
        }
    }
}

/// One row of the table.
pub struct AlertRow {
    pub id: i64,
    pub server_id: String,
    pub server_name: String,
    pub kind: &'static str,
    pub severity: &'static str,
    pub status: &'static str,
    pub title: String,
    pub created: String,
    pub can_acknowledge: bool,
    pub can_resolve: bool,
}

impl AlertRow {
    pub fn of(alert: AlertResponse, now: Timestamp) -> AlertRow {
        AlertRow {
            id: alert.id,
            server_id: alert.server_id,
            server_name: alert.server_name,
            kind: alert.alert_type.as_str(),
            severity: alert.severity.as_str(),
            status: alert.status.as_str(),
            title: alert.title,
            created: view::ago(alert.created_at, now),
            can_acknowledge: alert.can_acknowledge,
            can_resolve: alert.can_resolve,
        }
    }

    /// Shape for the severity (colour is not the only cue).
    pub fn symbol(&self) -> &'static str {
        match self.severity {
            "critical" => "■",
            "high" => "▲",
            "medium" => "◆",
            _ => "●",
        }
    }
}

#[derive(Template)]
#[template(path = "alerts.html")]
pub struct AlertsPage {
    pub layout: Layout,
    pub filters: Filters,
    pub list: AlertsPartial,
    /// Every machine (id, name) by name, for the server picker; a filtered id that is no longer
    /// a machine stays selectable.
    pub servers: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "partials/alerts_list.html")]
pub struct AlertsPartial {
    pub rows: Vec<AlertRow>,
    pub total: i64,
    pub message: Option<String>,
    pub error: Option<String>,
}

async fn list(state: &AppState, filters: &Filters, message: Option<String>, error: Option<String>) -> AlertsPartial {
    let now = state.clock.now();
    match alerts::list(state, &filters.query()).await {
        Ok(page) => AlertsPartial {
            total: page.total,
            rows: page.alerts.into_iter().map(|a| AlertRow::of(a, now)).collect(),
            message,
            error,
        },
        Err(e) => AlertsPartial { rows: Vec::new(), total: 0, message, error: Some(error_message(&e)) },
    }
}

/// `GET /alerts` (a page) and `GET /ui/alerts` (the list, for the filter form).
pub async fn page(State(state): State<AppState>, user: WebUser, Query(filters): Query<Filters>) -> Response {
    let list = list(&state, &filters, None, None).await;
    let mut servers: Vec<(String, String)> = match state.store.list_servers().await {
        Ok(all) => all.into_iter().map(|s| (s.id.clone(), s.name().to_owned())).collect(),
        Err(_) => Vec::new(),
    };
    servers.sort_by(|a, b| a.1.to_lowercase().cmp(&b.1.to_lowercase()).then_with(|| a.0.cmp(&b.0)));
    if !filters.server_id.is_empty() && !servers.iter().any(|(id, _)| *id == filters.server_id) {
        servers.push((filters.server_id.clone(), filters.server_id.clone()));
    }
    render(&AlertsPage { layout: Layout::new("Alerts", "alerts", &user.csrf), filters, list, servers })
}

pub async fn partial(State(state): State<AppState>, _: WebUser, Query(filters): Query<Filters>) -> Response {
    render(&list(&state, &filters, None, None).await)
}

/// Acknowledges or resolves one alert; the error message if refused.
async fn act(state: &AppState, action: &str, id: i64) -> Result<(), String> {
    let result = match action {
        "acknowledge" => alerts::acknowledge(state, id).await.map(|_| ()),
        "resolve" => alerts::resolve(state, id).await.map(|_| ()),
        _ => return Err(format!("unknown action '{action}'")),
    };
    result.map_err(|e| format!("#{id}: {}", error_message(&e)))
}

fn pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// `POST /ui/alerts/{id}/{action}` (`acknowledge` or `resolve`). Answers with the list, with
/// the alert's detail when the form says `view=detail`, or with the fleet page's open-alerts
/// banner for `view=banner`.
pub async fn one(
    State(state): State<AppState>,
    _: CsrfUser,
    Path((id, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    if action != "acknowledge" && action != "resolve" {
        return error_toast(StatusCode::NOT_FOUND, "Unknown action.");
    }
    let id = match alert_id(&id) {
        Ok(id) => id,
        Err(e) => return error_toast(error_status(&e), &error_message(&e)),
    };
    let pairs = pairs(&body);
    if pairs.iter().any(|(k, v)| k == "view" && v == "banner") {
        // From the fleet page's open-alerts banner: the banner again, with a refusal if any.
        let error = act(&state, &action, id).await.err();
        let mut banner = super::fleet::banner(&state).await;
        banner.error = error.or(banner.error);
        return render(&banner);
    }
    if pairs.iter().any(|(k, v)| k == "view" && v == "detail") {
        let (message, error) = match act(&state, &action, id).await {
            Ok(()) => (Some(if action == "resolve" { "Resolved." } else { "Acknowledged." }.to_owned()), None),
            Err(e) => (None, Some(e)),
        };
        return detail_response(&state, &id.to_string(), message, error).await;
    }
    let filters = Filters::from_pairs(&pairs);
    let (message, error) = match act(&state, &action, id).await {
        Ok(()) => {
            (Some(format!("Alert #{id}: {}.", if action == "resolve" { "resolved" } else { "acknowledged" })), None)
        }
        Err(e) => (None, Some(e)),
    };
    render(&list(&state, &filters, message, error).await)
}

/// `POST /ui/alerts/bulk`: `action` and repeated `ids` (the ticked rows).
pub async fn bulk(State(state): State<AppState>, _: CsrfUser, body: axum::body::Bytes) -> Response {
    let pairs = pairs(&body);
    let filters = Filters::from_pairs(&pairs);
    let action = pairs.iter().find(|(k, _)| k == "action").map(|(_, v)| v.as_str()).unwrap_or_default();
    let ids: Vec<i64> = pairs.iter().filter(|(k, _)| k == "ids").filter_map(|(_, v)| v.parse().ok()).collect();
    if ids.is_empty() {
        return render(&list(&state, &filters, None, Some("Tick at least one alert first.".into())).await);
    }
    let mut done = 0;
    let mut errors = Vec::new();
    for id in &ids {
        match act(&state, action, *id).await {
            Ok(()) => done += 1,
            Err(e) => errors.push(e),
        }
    }
    let verb = if action == "resolve" { "resolved" } else { "acknowledged" };
    let message = (done > 0).then(|| format!("{done} alert{} {verb}.", if done == 1 { "" } else { "s" }));
    let error = (!errors.is_empty()).then(|| errors.join("; "));
    render(&list(&state, &filters, message, error).await)
}

/// One notification of a timeline step.
pub struct DeliveryRow {
    pub id: i64,
    pub channel_id: String,
    /// `delivered`, `pending`, `retrying`, `dead` or `discarded` (a CSS class).
    pub state: &'static str,
    pub text: String,
    pub error: Option<String>,
}

/// One step of an alert's life.
pub struct TimelineRow {
    pub kind: &'static str,
    pub label: &'static str,
    pub symbol: &'static str,
    pub severity: &'static str,
    pub text: String,
    pub when: String,
    pub ago: String,
    pub notified: bool,
    pub deliveries: Vec<DeliveryRow>,
}

/// The alert's facts, actions and timeline; re-rendered after each action and live update.
#[derive(Template)]
#[template(path = "partials/alert_detail.html")]
pub struct AlertDetailPartial {
    pub alert: AlertRow,
    pub message_text: Option<String>,
    pub values: Option<String>,
    pub created_at: String,
    pub timeline: Vec<TimelineRow>,
    pub message: Option<String>,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "alert.html")]
pub struct AlertPage {
    pub layout: Layout,
    pub detail: AlertDetailPartial,
}

fn when(at: Timestamp) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A delivery in words: "delivered 12:00:03", "retrying: attempt 2 failed", "gave up".
fn delivery_row(d: &alerts::TimelineDelivery) -> DeliveryRow {
    let (state, text) = match d.status.as_str() {
        "delivered" => {
            ("delivered", format!("delivered{}", d.delivered_at.map(|t| format!(" {}", when(t))).unwrap_or_default()))
        }
        "pending" if d.attempts > 0 => (
            "retrying",
            format!(
                "retrying: {} attempt{} so far, next {}",
                d.attempts,
                if d.attempts == 1 { "" } else { "s" },
                when(d.next_attempt_at)
            ),
        ),
        "pending" => ("pending", "waiting to be sent".to_owned()),
        "dead" => ("dead", format!("gave up after {} attempt{}", d.attempts, if d.attempts == 1 { "" } else { "s" })),
        "discarded" => ("discarded", "discarded by hand".to_owned()),
        _ => ("pending", d.status.clone()),
    };
    DeliveryRow { id: d.delivery_id, channel_id: d.channel_id.clone(), state, text, error: d.last_error.clone() }
}

impl AlertDetailPartial {
    fn of(timeline: AlertTimeline, now: Timestamp, message: Option<String>, error: Option<String>) -> Self {
        let a = &timeline.alert;
        let unit = match a.alert_type {
            homelab_core::alerts::AlertKind::Cpu
            | homelab_core::alerts::AlertKind::Memory
            | homelab_core::alerts::AlertKind::Disk => " %",
            _ => "",
        };
        let values = match (a.actual_value, a.threshold_value) {
            (Some(actual), Some(threshold)) if unit == " %" => {
                Some(format!("{actual:.1}{unit} (threshold {threshold:.0}{unit})"))
            }
            _ => None,
        };
        let timeline_rows = timeline
            .entries
            .iter()
            .map(|e| {
                let (label, symbol) = match e.kind {
                    "fired" => ("Fired", "▲"),
                    "escalated" => ("Escalated", "⇧"),
                    "de_escalated" => ("Eased", "⇩"),
                    "reminder" => ("Reminder", "↻"),
                    "acknowledged" => ("Acknowledged", "✓"),
                    _ => ("Resolved", "●"),
                };
                TimelineRow {
                    kind: e.kind,
                    label,
                    symbol,
                    severity: e.severity.as_str(),
                    text: e.text.clone(),
                    when: when(e.at),
                    ago: view::ago(e.at, now),
                    notified: e.notified,
                    deliveries: e.deliveries.iter().map(delivery_row).collect(),
                }
            })
            .collect();
        AlertDetailPartial {
            message_text: a.message.clone(),
            values,
            created_at: when(a.created_at),
            timeline: timeline_rows,
            alert: AlertRow::of(timeline.alert, now),
            message,
            error,
        }
    }
}

/// The alert id of a page's path; anything but an integer is refused naming the field, as the
/// API does.
fn alert_id(text: &str) -> ServiceResult<i64> {
    text.parse().map_err(|_| {
        ServiceError::invalid(
            "int_parsing",
            vec!["path".into(), "alert_id".into()],
            "should be a valid integer",
            text.into(),
        )
    })
}

async fn timeline(state: &AppState, id: &str) -> ServiceResult<AlertTimeline> {
    alerts::timeline(state, alert_id(id)?).await
}

async fn detail_response(state: &AppState, id: &str, message: Option<String>, error: Option<String>) -> Response {
    match timeline(state, id).await {
        Ok(timeline) => render(&AlertDetailPartial::of(timeline, state.clock.now(), message, error)),
        Err(e) => error_toast(error_status(&e), &error_message(&e)),
    }
}

/// `GET /alerts/{id}`: the alert and its timeline.
pub async fn detail_page(State(state): State<AppState>, user: WebUser, Path(id): Path<String>) -> Response {
    match timeline(&state, &id).await {
        Ok(timeline) => {
            let title = format!("Alert #{}", timeline.alert.id);
            let detail = AlertDetailPartial::of(timeline, state.clock.now(), None, None);
            render(&AlertPage { layout: Layout::new(title, "alerts", &user.csrf), detail })
        }
        Err(e) => {
            use axum::response::IntoResponse;
            (error_status(&e), format!("{} (back to /alerts)", error_message(&e))).into_response()
        }
    }
}

/// `GET /ui/alerts/{id}/detail`: the detail again (live updates).
pub async fn detail(State(state): State<AppState>, _: WebUser, Path(id): Path<String>) -> Response {
    detail_response(&state, &id, None, None).await
}
