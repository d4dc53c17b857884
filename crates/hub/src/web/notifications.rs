//! Settings › Notifications at `/settings/notifications`: the channels (secrets masked as the API
//! shows them), adding, editing, deleting and testing one, and the delivery log (the outbox:
//! pending, retrying, delivered, dead, discarded, with the receivers' errors) with retry and
//! discard. Every action calls the notifications service, so the rules (validation, kept
//! secrets, which deliveries may be retried) live once.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use homelab_core::alerts::Severity;
use homelab_core::time::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::session::{CsrfUser, WebUser};
use super::{Layout, error_message, error_status, error_toast, render, view};
use crate::notify::{ChannelConfig, ChannelTarget};
use crate::service::ServiceError;
use crate::service::notifications::{self, DeliveryInfo};
use crate::state::AppState;

pub const KINDS: [&str; 5] = ["slack", "discord", "ntfy", "webhook", "email"];
pub const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];
pub const SECURITIES: [&str; 3] = ["starttls", "tls", "none"];

/// One configured channel as the list shows it (target already redacted by the API).
pub struct ChannelRow {
    pub id: String,
    pub kind: &'static str,
    pub target: String,
    pub min_severity: &'static str,
    pub events: String,
    pub enabled: bool,
}

impl ChannelRow {
    fn of(config: &ChannelConfig) -> ChannelRow {
        let (kind, target) = match &config.target {
            ChannelTarget::Slack { webhook_url } => ("slack", webhook_url.clone()),
            ChannelTarget::Discord { webhook_url } => ("discord", webhook_url.clone()),
            ChannelTarget::Ntfy { topic_url, .. } => ("ntfy", topic_url.clone()),
            ChannelTarget::Webhook { url, .. } => ("webhook", url.clone()),
            ChannelTarget::Email(email) => ("email", format!("{} via {}", email.to.join(", "), email.smtp_host)),
        };
        let mut events = Vec::new();
        if config.events.firing {
            events.push("firing");
        }
        if config.events.reminders {
            events.push("reminders");
        }
        if config.events.resolutions {
            events.push("resolutions");
        }
        ChannelRow {
            id: config.id.clone(),
            kind,
            target,
            min_severity: config.min_severity.as_str(),
            events: if events.is_empty() { "nothing".into() } else { events.join(", ") },
            enabled: config.enabled,
        }
    }
}

/// The channel form's fields, as text so that a refused entry is shown back as typed.
#[derive(Debug, Clone, Deserialize)]
pub struct ChannelForm {
    #[serde(default)]
    pub id: String,
    #[serde(default = "default_kind")]
    pub kind: String,
    #[serde(default)]
    pub enabled: Option<String>,
    #[serde(default = "default_severity")]
    pub min_severity: String,
    #[serde(default)]
    pub firing: Option<String>,
    #[serde(default)]
    pub reminders: Option<String>,
    #[serde(default)]
    pub resolutions: Option<String>,
    #[serde(default)]
    pub webhook_url: String,
    #[serde(default)]
    pub topic_url: String,
    #[serde(default)]
    pub access_token: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub secret: String,
    #[serde(default)]
    pub smtp_host: String,
    #[serde(default = "default_port")]
    pub smtp_port: String,
    #[serde(default = "default_security")]
    pub security: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

fn default_kind() -> String {
    "slack".into()
}
fn default_severity() -> String {
    "low".into()
}
fn default_port() -> String {
    "587".into()
}
fn default_security() -> String {
    "starttls".into()
}

fn checked(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|v| v == "true" || v == "on")
}

fn on(value: bool) -> Option<String> {
    value.then(|| "true".to_owned())
}

impl Default for ChannelForm {
    fn default() -> Self {
        ChannelForm {
            id: String::new(),
            kind: default_kind(),
            enabled: on(true),
            min_severity: default_severity(),
            firing: on(true),
            reminders: on(true),
            resolutions: on(true),
            webhook_url: String::new(),
            topic_url: String::new(),
            access_token: String::new(),
            url: String::new(),
            secret: String::new(),
            smtp_host: String::new(),
            smtp_port: default_port(),
            security: default_security(),
            username: String::new(),
            password: String::new(),
            from: String::new(),
            to: String::new(),
        }
    }
}

impl ChannelForm {
    /// The form filled from a stored channel as the API shows it: secrets stay masked, and a
    /// masked value sent back keeps the stored secret (the API's rule).
    fn of(config: &ChannelConfig) -> ChannelForm {
        let mut form = ChannelForm {
            id: config.id.clone(),
            enabled: on(config.enabled),
            min_severity: config.min_severity.as_str().to_owned(),
            firing: on(config.events.firing),
            reminders: on(config.events.reminders),
            resolutions: on(config.events.resolutions),
            ..ChannelForm::default()
        };
        match &config.target {
            ChannelTarget::Slack { webhook_url } | ChannelTarget::Discord { webhook_url } => {
                form.webhook_url = webhook_url.clone()
            }
            ChannelTarget::Ntfy { topic_url, access_token } => {
                form.topic_url = topic_url.clone();
                form.access_token = access_token.clone().unwrap_or_default();
            }
            ChannelTarget::Webhook { url, secret } => {
                form.url = url.clone();
                form.secret = secret.clone().unwrap_or_default();
            }
            ChannelTarget::Email(email) => {
                form.smtp_host = email.smtp_host.clone();
                form.smtp_port = email.smtp_port.to_string();
                form.security = serde_json::to_value(email.security)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_else(default_security);
                form.username = email.username.clone().unwrap_or_default();
                form.password = email.password.clone().unwrap_or_default();
                form.from = email.from.clone();
                form.to = email.to.join(", ");
            }
        }
        form.kind = ChannelRow::of(config).kind.to_owned();
        form
    }

    pub fn is_enabled(&self) -> bool {
        checked(&self.enabled)
    }
    pub fn wants_firing(&self) -> bool {
        checked(&self.firing)
    }
    pub fn wants_reminders(&self) -> bool {
        checked(&self.reminders)
    }
    pub fn wants_resolutions(&self) -> bool {
        checked(&self.resolutions)
    }

    /// The API's channel document. Only what a form cannot express is checked here (a choice
    /// outside the lists, a port that is not a number); the rest is the API's validation.
    fn to_config(&self) -> Result<ChannelConfig, Vec<String>> {
        let mut errors = Vec::new();
        if !KINDS.contains(&self.kind.as_str()) {
            errors.push(format!("kind: choose one of {}", KINDS.join(", ")));
        }
        if !SEVERITIES.contains(&self.min_severity.as_str()) {
            errors.push(format!("min severity: choose one of {}", SEVERITIES.join(", ")));
        }
        let optional = |text: &str| {
            let text = text.trim();
            if text.is_empty() { Value::Null } else { Value::from(text) }
        };
        let mut doc = json!({
            "id": self.id.trim(),
            "kind": self.kind,
            "min_severity": self.min_severity,
            "enabled": self.is_enabled(),
            "events": {
                "firing": self.wants_firing(),
                "reminders": self.wants_reminders(),
                "resolutions": self.wants_resolutions(),
            },
        });
        match self.kind.as_str() {
            "slack" | "discord" => doc["webhook_url"] = self.webhook_url.trim().into(),
            "ntfy" => {
                doc["topic_url"] = self.topic_url.trim().into();
                doc["access_token"] = optional(&self.access_token);
            }
            "webhook" => {
                doc["url"] = self.url.trim().into();
                doc["secret"] = optional(&self.secret);
            }
            "email" => {
                match self.smtp_port.trim().parse::<u16>() {
                    Ok(port) if port > 0 => doc["smtp_port"] = port.into(),
                    _ => errors.push(format!("smtp port: enter a port number 1–65535 (got “{}”)", self.smtp_port)),
                }
                if !SECURITIES.contains(&self.security.as_str()) {
                    errors.push(format!("security: choose one of {}", SECURITIES.join(", ")));
                }
                doc["smtp_host"] = self.smtp_host.trim().into();
                doc["security"] = self.security.as_str().into();
                doc["username"] = optional(&self.username);
                doc["password"] = optional(&self.password);
                doc["from"] = self.from.trim().into();
                doc["to"] = self
                    .to
                    .split(|c: char| c == ',' || c.is_whitespace())
                    .filter(|a| !a.is_empty())
                    .collect::<Vec<_>>()
                    .into();
            }
            _ => {}
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        serde_json::from_value(doc).map_err(|e| vec![format!("The channel could not be read: {e}")])
    }
}

/// The channel list, the add/edit form and the outcome of the last action.
#[derive(Template)]
#[template(path = "partials/channels.html")]
pub struct ChannelsPartial {
    pub rows: Vec<ChannelRow>,
    pub form: ChannelForm,
    /// The id of the channel being edited (`None`: the form adds one).
    pub editing: Option<String>,
    pub message: Option<String>,
    pub errors: Vec<String>,
    /// The last test: channel id, success, and what the receiver said.
    pub test: Option<(String, bool, String)>,
    pub kinds: &'static [&'static str],
    pub severities: &'static [&'static str],
    pub securities: &'static [&'static str],
}

impl ChannelsPartial {
    fn tested(&self, id: &str) -> Option<&(String, bool, String)> {
        self.test.as_ref().filter(|t| t.0 == id)
    }

    pub fn test_ok(&self, id: &str) -> bool {
        self.tested(id).is_some_and(|t| t.1)
    }

    pub fn test_text(&self, id: &str) -> String {
        self.tested(id).map(|t| t.2.clone()).unwrap_or_default()
    }
}

async fn stored_channels(state: &AppState) -> Result<Vec<ChannelConfig>, String> {
    match notifications::list_channels(state).await {
        Ok(list) => Ok(list.channels),
        Err(e) => Err(error_message(&e)),
    }
}

async fn channels_partial(state: &AppState) -> ChannelsPartial {
    let (rows, errors) = match stored_channels(state).await {
        Ok(channels) => (channels.iter().map(ChannelRow::of).collect(), Vec::new()),
        Err(e) => (Vec::new(), vec![e]),
    };
    ChannelsPartial {
        rows,
        form: ChannelForm::default(),
        editing: None,
        message: None,
        errors,
        test: None,
        kinds: &KINDS,
        severities: &SEVERITIES,
        securities: &SECURITIES,
    }
}

fn with_status(status: StatusCode, mut response: Response) -> Response {
    if response.status() == StatusCode::OK {
        *response.status_mut() = status;
    }
    response
}

/// Delivery log filter and page, as the form and links send them.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct LogQuery {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub offset: Option<String>,
}

impl LogQuery {
    fn from_pairs(pairs: &[(String, String)]) -> LogQuery {
        let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        LogQuery { status: get("status").unwrap_or_default(), offset: get("offset") }
    }
}

/// Entries of the delivery log per page.
const LOG_PAGE: i64 = 50;

/// One (event, channel) delivery.
pub struct LogRow {
    pub id: i64,
    pub alert_id: Option<i64>,
    pub channel_id: String,
    pub event: &'static str,
    pub title: String,
    pub server_id: String,
    pub severity: String,
    /// `delivered`, `pending`, `retrying`, `dead` or `discarded` (a CSS class and the words).
    pub state: &'static str,
    pub state_text: String,
    pub attempts: i64,
    pub created: String,
    pub created_ago: String,
    pub last_error: Option<String>,
    pub can_retry: bool,
    pub can_discard: bool,
}

fn event_label(kind: &str) -> &'static str {
    match kind {
        "opened" => "fired",
        "escalated" => "escalated",
        "de_escalated" => "eased",
        "reminder" => "reminder",
        "resolved" => "resolved",
        "acknowledged" => "acknowledged",
        _ => "event",
    }
}

impl LogRow {
    fn of(d: DeliveryInfo, now: Timestamp) -> LogRow {
        let (state, state_text) = match d.status.as_str() {
            "delivered" => ("delivered", "● delivered".to_owned()),
            "pending" if d.attempts > 0 => {
                ("retrying", format!("↻ retrying, next {}", d.next_attempt_at.format("%H:%M:%S UTC")))
            }
            "pending" => ("pending", "○ pending".to_owned()),
            "dead" => ("dead", "✕ failed (gave up)".to_owned()),
            "discarded" => ("discarded", "– discarded".to_owned()),
            other => ("pending", other.to_owned()),
        };
        LogRow {
            can_retry: d.status == "dead" || (d.status == "pending" && d.attempts > 0),
            can_discard: matches!(d.status.as_str(), "pending" | "dead"),
            id: d.id,
            alert_id: d.alert_id,
            channel_id: d.channel_id,
            event: event_label(&d.event_kind),
            title: d.title,
            server_id: d.server_id,
            severity: d.severity,
            state,
            state_text,
            attempts: d.attempts,
            created: d.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            created_ago: view::ago(d.created_at, now),
            last_error: d.last_error,
        }
    }

    /// Shape for the severity (colour is not the only cue).
    pub fn symbol(&self) -> &'static str {
        match Severity::parse(&self.severity) {
            Some(Severity::Critical) => "■",
            Some(Severity::High) => "▲",
            Some(Severity::Medium) => "◆",
            _ => "●",
        }
    }
}

#[derive(Template)]
#[template(path = "partials/deliveries.html")]
pub struct DeliveriesPartial {
    pub status: String,
    pub rows: Vec<LogRow>,
    pub total: i64,
    pub offset: i64,
    pub message: Option<String>,
    pub error: Option<String>,
}

impl DeliveriesPartial {
    pub fn has_newer(&self) -> bool {
        self.offset > 0
    }
    pub fn newer_offset(&self) -> i64 {
        (self.offset - LOG_PAGE).max(0)
    }
    pub fn has_older(&self) -> bool {
        self.offset + (self.rows.len() as i64) < self.total
    }
    pub fn older_offset(&self) -> i64 {
        self.offset + LOG_PAGE
    }
    pub fn first(&self) -> i64 {
        if self.rows.is_empty() { 0 } else { self.offset + 1 }
    }
    pub fn last(&self) -> i64 {
        self.offset + self.rows.len() as i64
    }
}

/// The log through `GET /api/v1/notifications/deliveries`; the status code says whether the
/// filter was accepted (an unknown status or offset is the API's 422, shown in the log).
async fn deliveries_partial(
    state: &AppState,
    query: &LogQuery,
    message: Option<String>,
    error: Option<String>,
) -> (StatusCode, DeliveriesPartial) {
    // A non-number is passed on as -1 so that the API's range check explains the rule.
    let offset = query.offset.as_deref().map(|o| o.trim()).filter(|o| !o.is_empty()).map(|o| o.parse().unwrap_or(-1));
    let status = query.status.trim();
    let params = notifications::DeliveryParams {
        status: (!status.is_empty()).then(|| status.to_owned()),
        limit: Some(LOG_PAGE),
        offset,
    };
    let now = state.clock.now();
    match notifications::list_deliveries(state, &params).await {
        Ok(list) => (
            StatusCode::OK,
            DeliveriesPartial {
                status: status.to_owned(),
                total: list.total,
                offset: list.offset,
                rows: list.deliveries.into_iter().map(|d| LogRow::of(d, now)).collect(),
                message,
                error,
            },
        ),
        Err(e) => (
            error_status(&e),
            DeliveriesPartial {
                status: status.to_owned(),
                rows: Vec::new(),
                total: 0,
                offset: 0,
                message,
                error: Some(error_message(&e)),
            },
        ),
    }
}

#[derive(Template)]
#[template(path = "notifications.html")]
pub struct NotificationsPage {
    pub layout: Layout,
    pub channels: ChannelsPartial,
    pub deliveries: DeliveriesPartial,
}

/// `GET /settings/notifications`.
pub async fn page(State(state): State<AppState>, user: WebUser, Query(query): Query<LogQuery>) -> Response {
    let channels = channels_partial(&state).await;
    let (_, deliveries) = deliveries_partial(&state, &query, None, None).await;
    render(&NotificationsPage { layout: Layout::new("Notifications", "settings", &user.csrf), channels, deliveries })
}

/// `GET /ui/deliveries`: the log again (filter, paging, live updates).
pub async fn log(State(state): State<AppState>, _: WebUser, Query(query): Query<LogQuery>) -> Response {
    let (status, partial) = deliveries_partial(&state, &query, None, None).await;
    with_status(status, render(&partial))
}

fn pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// `POST /ui/deliveries/{id}/{action}` (`retry` or `discard`), through the service. A
/// refusal (already delivered, unknown) is shown in the log with its status code.
pub async fn act_on_delivery(
    State(state): State<AppState>,
    _: CsrfUser,
    Path((id, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let query = LogQuery::from_pairs(&pairs(&body));
    let Ok(id) = id.parse::<i64>() else {
        let error = format!("delivery id: should be a whole number, not “{id}”");
        let (_, partial) = deliveries_partial(&state, &query, None, Some(error)).await;
        return with_status(StatusCode::UNPROCESSABLE_ENTITY, render(&partial));
    };
    let result = match action.as_str() {
        "retry" => notifications::retry_delivery(&state, id).await.map(|_| "will be sent again now"),
        "discard" => notifications::discard_delivery(&state, id).await.map(|_| "discarded"),
        _ => return error_toast(StatusCode::NOT_FOUND, "Unknown action: use retry or discard."),
    };
    match result {
        Ok(done) => {
            let (status, partial) =
                deliveries_partial(&state, &query, Some(format!("Delivery #{id} {done}.")), None).await;
            with_status(status, render(&partial))
        }
        Err(e) => {
            let (_, partial) =
                deliveries_partial(&state, &query, None, Some(format!("Delivery #{id}: {}", error_message(&e)))).await;
            with_status(error_status(&e), render(&partial))
        }
    }
}

/// `GET /ui/channels/{id}/edit`: the section with the form filled from the stored channel.
pub async fn edit_form(State(state): State<AppState>, _: WebUser, Path(id): Path<String>) -> Response {
    let mut partial = channels_partial(&state).await;
    match stored_channels(&state).await.unwrap_or_default().iter().find(|c| c.id == id) {
        Some(config) => {
            partial.form = ChannelForm::of(config);
            partial.editing = Some(id);
            render(&partial)
        }
        None => {
            partial.errors.push(format!("Channel '{id}' no longer exists."));
            with_status(StatusCode::NOT_FOUND, render(&partial))
        }
    }
}

/// `GET /ui/channels`: the section with an empty form (cancels an edit).
pub async fn section(State(state): State<AppState>, _: WebUser) -> Response {
    render(&channels_partial(&state).await)
}

fn read_form(body: &[u8]) -> Result<ChannelForm, String> {
    serde_urlencoded::from_bytes::<ChannelForm>(body).map_err(|e| format!("The form could not be read: {e}"))
}

/// Shows a refused form again as typed, with the reasons, answered with `status`.
async fn refused(
    state: &AppState,
    form: ChannelForm,
    editing: Option<String>,
    errors: Vec<String>,
    status: StatusCode,
) -> Response {
    let mut partial = channels_partial(state).await;
    partial.form = form;
    partial.editing = editing;
    partial.errors.extend(errors);
    with_status(status, render(&partial))
}

async fn saved(state: &AppState, message: String) -> Response {
    let mut partial = channels_partial(state).await;
    partial.message = Some(message);
    render(&partial)
}

/// A refusal as one line per field.
fn refusal_lines(error: &ServiceError) -> Vec<String> {
    error_message(error).split("; ").map(str::to_owned).collect()
}

/// `POST /ui/channels`: adds the channel the form describes.
pub async fn create(State(state): State<AppState>, _: CsrfUser, body: axum::body::Bytes) -> Response {
    let form = match read_form(&body) {
        Ok(form) => form,
        Err(e) => return refused(&state, ChannelForm::default(), None, vec![e], StatusCode::BAD_REQUEST).await,
    };
    let config = match form.to_config() {
        Ok(config) => config,
        Err(errors) => return refused(&state, form, None, errors, StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    let id = config.id.clone();
    match notifications::create_channel(&state, config).await {
        Ok(_) => saved(&state, format!("Channel {id} added. Use “Send test” to check it.")).await,
        Err(e) => refused(&state, form, None, refusal_lines(&e), error_status(&e)).await,
    }
}

/// `POST /ui/channels/{id}`: replaces the channel; masked secrets left as they are keep their
/// stored values (while the channel keeps its kind).
pub async fn update(
    State(state): State<AppState>,
    _: CsrfUser,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let mut form = match read_form(&body) {
        Ok(form) => form,
        Err(e) => return refused(&state, ChannelForm::default(), Some(id), vec![e], StatusCode::BAD_REQUEST).await,
    };
    form.id = id.clone();
    let config = match form.to_config() {
        Ok(config) => config,
        Err(errors) => return refused(&state, form, Some(id), errors, StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    match notifications::update_channel(&state, &id, config).await {
        Ok(_) => saved(&state, format!("Channel {id} saved.")).await,
        Err(e) => refused(&state, form, Some(id), refusal_lines(&e), error_status(&e)).await,
    }
}

/// `POST /ui/channels/{id}/delete`: deletes the channel.
pub async fn delete(State(state): State<AppState>, _: CsrfUser, Path(id): Path<String>) -> Response {
    match notifications::delete_channel(&state, &id).await {
        Ok(()) => saved(&state, format!("Channel {id} deleted.")).await,
        Err(e) => refused(&state, ChannelForm::default(), None, refusal_lines(&e), error_status(&e)).await,
    }
}

/// `POST /ui/channels/{id}/test`: sends a test message; the receiver's answer is shown on the
/// channel's row.
pub async fn test(State(state): State<AppState>, _: CsrfUser, Path(id): Path<String>) -> Response {
    match notifications::test_channel(&state, &id).await {
        Ok(result) => {
            let mut partial = channels_partial(&state).await;
            let text = if result.success {
                result.message.unwrap_or_else(|| "Test message sent.".into())
            } else {
                result.error.unwrap_or_else(|| "The test failed.".into())
            };
            partial.test = Some((id, result.success, text));
            render(&partial)
        }
        Err(e) => refused(&state, ChannelForm::default(), None, refusal_lines(&e), error_status(&e)).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_channel_round_trips_through_the_form() {
        let config: ChannelConfig = serde_json::from_value(json!({
            "id": "mail", "kind": "email", "smtp_host": "smtp.lan", "smtp_port": 2525, "security": "tls",
            "password": "********", "from": "hub@lan", "to": ["a@lan", "b@lan"], "min_severity": "high",
            "events": {"firing": true, "reminders": false, "resolutions": true}
        }))
        .unwrap();
        let form = ChannelForm::of(&config);
        assert_eq!((form.kind.as_str(), form.smtp_port.as_str(), form.to.as_str()), ("email", "2525", "a@lan, b@lan"));
        assert!(!form.wants_reminders());
        assert_eq!(form.to_config().unwrap(), config);
    }

    #[test]
    fn form_only_errors_name_the_field() {
        let form = ChannelForm { kind: "email".into(), smtp_port: "smtp".into(), ..ChannelForm::default() };
        let errors = form.to_config().unwrap_err();
        assert!(errors[0].starts_with("smtp port:"), "{errors:?}");
        let form = ChannelForm { kind: "pager".into(), ..ChannelForm::default() };
        assert!(form.to_config().unwrap_err()[0].starts_with("kind:"));
    }
}
