//! Alerts at `/alerts`: open and history, filtered by status, severity, server and type;
//! acknowledge and resolve, one at a time or in bulk, through the alert API's handlers.

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use homelab_core::time::Timestamp;
use serde::Deserialize;

use super::session::{CsrfUser, WebUser};
use super::{Layout, error_message, error_toast, render, view};
use crate::api::alerts::{self, AlertQuery, AlertResponse};
use crate::auth::AdminAuth;
use crate::extract::ApiQuery;
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
    fn of(alert: AlertResponse, now: Timestamp) -> AlertRow {
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
    match alerts::list(AdminAuth, State(state.clone()), ApiQuery(filters.query())).await {
        Ok(Json(page)) => AlertsPartial {
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
    render(&AlertsPage { layout: Layout::new("Alerts", "alerts", &user.csrf), filters, list })
}

pub async fn partial(State(state): State<AppState>, _: WebUser, Query(filters): Query<Filters>) -> Response {
    render(&list(&state, &filters, None, None).await)
}

/// Acknowledges or resolves one alert with the API's handler; the error message if refused.
async fn act(state: &AppState, action: &str, id: i64) -> Result<(), String> {
    let path = Path(id.to_string());
    let result = match action {
        "acknowledge" => alerts::acknowledge(AdminAuth, State(state.clone()), path).await.map(|_| ()),
        "resolve" => alerts::resolve(AdminAuth, State(state.clone()), path).await.map(|_| ()),
        _ => return Err(format!("unknown action '{action}'")),
    };
    result.map_err(|e| format!("#{id}: {}", error_message(&e)))
}

fn pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// `POST /ui/alerts/{id}/{action}` (`acknowledge` or `resolve`).
pub async fn one(
    State(state): State<AppState>,
    _: CsrfUser,
    Path((id, action)): Path<(i64, String)>,
    body: axum::body::Bytes,
) -> Response {
    if action != "acknowledge" && action != "resolve" {
        return error_toast(StatusCode::NOT_FOUND, "Unknown action.");
    }
    let filters = Filters::from_pairs(&pairs(&body));
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
