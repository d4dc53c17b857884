//! The web dashboard: server-rendered askama templates, htmx for interactions and an SSE stream
//! for live updates, uPlot for charts. Everything (templates, CSS, scripts, vendored libraries) is
//! compiled into the binary, so `cargo run` alone serves the full UI with nothing fetched from
//! the internet.
//!
//! The dashboard has no rules of its own: every action authenticates with the session (and its
//! CSRF token) and then calls the service layer (`crate::service`), as the JSON API does, so
//! validation and store operations exist once.

// Pages answer a malformed path with their own page or toast, not the API's JSON (`ApiPath`).
#![allow(clippy::disallowed_types)]

pub mod alerts;
pub mod assets;
pub mod events;
pub mod fleet;
pub mod headers;
pub mod install;
pub mod inventory;
pub mod notifications;
pub mod server;
pub mod session;
pub mod settings;
pub mod view;

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::service::ServiceError;
use crate::state::AppState;

pub use events::WebEvent;
pub use session::Sessions;

/// Dashboard state shared by handlers and jobs: the sessions and the live-update channels.
#[derive(Clone)]
pub struct WebState {
    pub sessions: Arc<Sessions>,
    /// What changed (after commits), for the one task that renders it.
    pub events: tokio::sync::broadcast::Sender<WebEvent>,
    /// What that task rendered, for every open dashboard.
    pub rendered: tokio::sync::broadcast::Sender<events::RenderedBatch>,
    renderer: Arc<std::sync::Once>,
    /// Set when the hub shuts down, so that open SSE streams end and graceful shutdown does not
    /// wait for dashboards to be closed.
    pub closing: tokio::sync::watch::Sender<bool>,
    /// Card sparklines kept until their server's next heartbeat.
    pub sparks: Arc<view::SparkCache>,
}

impl Default for WebState {
    fn default() -> Self {
        Self::new()
    }
}

impl WebState {
    pub fn new() -> Self {
        // Room for a burst of heartbeats; a subscriber that falls behind reloads the whole grid.
        let (events, _) = tokio::sync::broadcast::channel(1024);
        // Batches are coalesced (a few per second at most); a tab this far behind reloads.
        let (rendered, _) = tokio::sync::broadcast::channel(64);
        WebState {
            sessions: Arc::new(Sessions::default()),
            events,
            rendered,
            renderer: Arc::new(std::sync::Once::new()),
            closing: tokio::sync::watch::Sender::new(false),
            sparks: Arc::new(view::SparkCache::default()),
        }
    }

    /// A dashboard's subscription to the rendered live updates; the first one starts the task
    /// that renders them.
    pub fn subscribe(&self, state: &crate::state::AppState) -> tokio::sync::broadcast::Receiver<events::RenderedBatch> {
        let receiver = self.rendered.subscribe();
        self.renderer.call_once(|| {
            tokio::spawn(events::render_loop(state.clone(), self.events.subscribe()));
        });
        receiver
    }

    /// Ends every open live-update stream (called when shutdown begins).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Tells open dashboards that a server's state changed. Call only after the change is
    /// committed. Never blocks; with no dashboard open it does nothing.
    pub fn server_changed(&self, server_id: &str, registered: bool) {
        let _ = self.events.send(WebEvent::ServerChanged { id: server_id.to_owned(), registered });
    }

    /// Tells open dashboards that the notification outbox moved (routed, sent, retried,
    /// dead-lettered), so delivery logs and alert timelines refresh.
    pub fn deliveries_changed(&self) {
        let _ = self.events.send(WebEvent::DeliveriesChanged);
    }
}

/// The dashboard's routes (pages, htmx partials and the embedded assets; the SSE stream is
/// [`live_router`]).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(fleet::page))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/assets/{file}", get(assets::serve))
        .route("/ui/grid", get(fleet::grid))
        .route("/ui/cards/{id}", get(fleet::card))
        .route("/servers/{id}", get(server::page))
        .route("/ui/servers/{id}/series", get(server::series))
        .route("/ui/servers/{id}/export", get(server::export))
        .route("/ui/servers/{id}/edit", post(server::edit))
        .route("/ui/servers/{id}/power", post(server::power))
        .route("/ui/servers/{id}/maintenance", post(server::maintenance))
        .route("/ui/servers/{id}/tags", post(server::tags))
        .route("/ui/servers/{id}/services", get(server::services).post(server::add_service))
        .route("/ui/servers/{id}/services/{name}", post(server::update_service))
        .route("/ui/servers/{id}/services/{name}/delete", post(server::delete_service))
        .route("/ui/servers/{id}/alerts", get(server::alerts))
        .route("/ui/servers/{id}/containers", get(inventory::containers))
        .route("/ui/servers/{id}/containers/watch", post(inventory::watch))
        .route("/ui/servers/{id}/containers/watch-all", post(inventory::watch_all))
        .route("/ui/servers/{id}/hardware", get(inventory::hardware))
        .route("/alerts", get(alerts::page))
        .route("/ui/alerts", get(alerts::partial))
        .route("/ui/alerts/bulk", post(alerts::bulk))
        .route("/alerts/{id}", get(alerts::detail_page))
        .route("/ui/alerts/{id}/detail", get(alerts::detail))
        .route("/ui/alerts/{id}/{action}", post(alerts::one))
        .route("/ui/thresholds", post(settings::save_thresholds))
        .route("/ui/notification-settings", post(settings::save_reminders))
        .route("/settings", get(settings::page))
        .route("/settings/notifications", get(notifications::page))
        .route("/ui/channels", get(notifications::section).post(notifications::create))
        .route("/ui/channels/{id}", post(notifications::update))
        .route("/ui/channels/{id}/edit", get(notifications::edit_form))
        .route("/ui/channels/{id}/delete", post(notifications::delete))
        .route("/ui/channels/{id}/test", post(notifications::test))
        .route("/ui/deliveries", get(notifications::log))
        .route("/ui/deliveries/{id}/{action}", post(notifications::act_on_delivery))
        .route("/ui/tokens", post(settings::create_token))
        .route("/ui/install", post(install::create))
        .route("/ui/tokens/{id}/revoke", post(settings::revoke_token))
        // Pages and scripts shrink several-fold with gzip (a 100-machine fleet page is ~150 KB
        // of HTML). The default predicate leaves the SSE stream uncompressed, so it is not buffered.
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(axum::middleware::map_response(headers::add))
}

/// The live-update stream, apart from the other routes because it is not under the router's
/// concurrency limit and request timeout (`crate::backpressure`): it stays open as long as a tab.
pub fn live_router() -> Router<AppState> {
    Router::new().route("/ui/events", get(events::stream)).layer(axum::middleware::map_response(headers::add))
}

/// What every page's frame needs.
pub struct Layout {
    pub title: String,
    /// Which navigation entry is current.
    pub nav: &'static str,
    pub csrf: String,
    pub assets: &'static assets::AssetUrls,
}

impl Layout {
    pub fn new(title: impl Into<String>, nav: &'static str, csrf: &str) -> Self {
        Layout { title: title.into(), nav, csrf: csrf.to_owned(), assets: assets::urls() }
    }
}

/// Renders a template; a rendering failure is logged and becomes a plain 500.
pub fn render<T: Template>(template: &T) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "The page could not be rendered.").into_response()
        }
    }
}

/// Renders a template to a string for SSE events and embedding (empty on failure, logged).
pub fn render_string<T: Template>(template: &T) -> String {
    template.render().unwrap_or_else(|error| {
        tracing::error!(%error, "template rendering failed");
        String::new()
    })
}

/// Whether htmx sent the request (it then wants a fragment, not a page).
pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get("hx-request").is_some_and(|v| v == HeaderValue::from_static("true"))
}

/// A refusal as a short, human message for the page. Validation errors list each field by
/// name, written as words ("webhook url: should be an http:// or https:// URL").
pub fn error_message(error: &ServiceError) -> String {
    match error {
        ServiceError::Invalid(errors) => errors
            .0
            .iter()
            .map(|e| {
                let raw = homelab_core::validate::FieldError::field_name(&e.loc);
                match e.msg.strip_prefix(&format!("{raw}: ")) {
                    Some(detail) if !raw.is_empty() => format!("{}: {detail}", raw.replace('_', " ")),
                    _ => e.msg.clone(),
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        ServiceError::Internal(_) => "The hub could not complete the request; see its log.".to_owned(),
        other => other.to_string(),
    }
}

/// The HTTP status a refusal is answered with on a page: the API's, from its one mapping.
pub fn error_status(error: &ServiceError) -> StatusCode {
    if let ServiceError::Unreadable(message) | ServiceError::Internal(message) = error {
        tracing::error!(%message, "dashboard action failed");
    }
    crate::error::ApiError::from(error.clone()).status()
}

/// A page that cannot be built (database down, settings unreadable): the reason, in plain text.
pub fn error_page(error: &ServiceError) -> Response {
    (error_status(error), error_message(error)).into_response()
}

/// A refused action that has no form to show it in (unknown server, database down).
pub fn service_error_toast(error: &ServiceError) -> Response {
    error_toast(error_status(error), &error_message(error))
}

/// A failed action shown in the page's message area (htmx retargets the swap there).
pub fn error_toast(status: StatusCode, message: &str) -> Response {
    let html = format!(r#"<div class="toast toast-error" role="alert">{}</div>"#, view::escape(message));
    (status, [("hx-retarget", "#toast"), ("hx-reswap", "innerHTML")], Html(html)).into_response()
}
