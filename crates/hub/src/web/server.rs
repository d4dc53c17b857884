//! Server detail at `/servers/{id}`: the live card, history charts (uPlot, fed by the same
//! handler as `GET /api/v1/servers/{id}/metrics/series`), export, filesystems, interfaces,
//! expected services with their state, containers, sensors, disk health and GPUs
//! (`inventory.rs`), pending packages (security first), the server's alerts,
//! and the edit, tags, services and maintenance actions (through the service layer). The services
//! and alerts panels fetch themselves again on the SSE `server-{id}` signal.

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use homelab_core::heartbeat::{FilesystemReport, InterfaceReport};
use homelab_core::power::{self, MachineCategory};
use homelab_core::server::{MACHINE_TYPES, Package, Server, ServerUpdate};
use serde::Deserialize;
use serde_json::json;

use super::session::{CsrfUser, WebUser};
use super::view::{self, Card};
use super::{Layout, error_message, error_status, error_toast, render, service_error_toast};
use crate::error::ApiError;
use crate::service::alerts::AlertQuery;
use crate::service::metrics::SeriesParams;
use crate::service::services::{CurrentStatus, NewServiceBody, ServiceUpdateBody};
use crate::service::tags::TagsBody;
use crate::service::{self, ServiceError};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "server.html")]
pub struct ServerPage {
    pub layout: Layout,
    pub server: Server,
    pub card: Card,
    pub edit: EditPanel,
    pub filesystems: Vec<FilesystemReport>,
    pub interfaces: Vec<InterfaceReport>,
    pub packages: Vec<Package>,
    pub services: ServicesPartial,
    pub alerts: ServerAlertsPartial,
    /// Containers, grouped by compose project, with their watch buttons.
    pub containers: super::inventory::ContainersPartial,
    /// Sensors, disk health and GPUs.
    pub hardware: super::inventory::HardwarePartial,
    /// How to install the agent, while the machine waits for its first heartbeat.
    pub install: super::install::InstallPartial,
    /// The power and cost estimate, one line (`homelab_core::power`).
    pub power: String,
}

/// "Mini PC (auto) · 10–25 W · about 16.0 W · £0.10 a day, £2.88 a month".
fn power_line(cost: &service::costs::ServerCost, settings: &homelab_core::power::CostSettings) -> String {
    let category = match (&cost.machine_category_label, &cost.machine_category_source) {
        (Some(label), Some(source)) => format!("{label} ({source})"),
        (Some(label), None) => label.clone(),
        _ => "No category".to_owned(),
    };
    let (Some(idle), Some(max), Some(watts), Some(daily), Some(monthly)) =
        (cost.idle_watts, cost.tdp_watts, cost.estimated_watts, cost.daily_cost, cost.monthly_cost)
    else {
        return format!("{category} · not estimated: set a category or idle and full-load watts");
    };
    let symbol = &settings.currency_symbol;
    format!("{category} · {idle}–{max} W · about {watts:.1} W · {symbol}{daily:.2} a day, {symbol}{monthly:.2} a month")
}

/// Pending packages listed before "Show all": a machine behind on updates can have over a hundred.
pub const PACKAGES_SHOWN: usize = 10;

/// The edit form and maintenance switch; re-rendered after each action with its outcome.
#[derive(Template)]
#[template(path = "partials/server_edit.html")]
pub struct EditPanel {
    pub id: String,
    /// Tags as typed in the tags box ("prod rack-a").
    pub tags: String,
    pub display_name: String,
    pub machine_type: String,
    pub machine_types: &'static [&'static str],
    /// The machine it sits behind (server id; empty for none) and the machines it may name:
    /// `(id, name)` of every other server.
    pub depends_on: String,
    pub parents: Vec<(String, String)>,
    pub paused: bool,
    /// The power form: `(value, label)` of each category, the one chosen (empty: detected from
    /// the CPU), what the CPU suggests, and the watts set by hand (empty: the category's).
    pub categories: Vec<(&'static str, &'static str)>,
    pub category: String,
    pub detected: Option<&'static str>,
    pub tdp_watts: String,
    pub idle_watts: String,
    /// The page's power estimate again, swapped in out of band after an action (not on the page
    /// itself, which has its own).
    pub power_oob: Option<String>,
    pub message: Option<String>,
    pub error: Option<String>,
}

impl EditPanel {
    fn of(server: &Server, tags: &[String], fleet: &[Server]) -> Self {
        EditPanel {
            id: server.id.clone(),
            tags: tags.join(" "),
            display_name: server.display_name.clone().unwrap_or_default(),
            machine_type: server.machine_type.as_str().to_owned(),
            machine_types: &MACHINE_TYPES,
            depends_on: server.depends_on.clone().unwrap_or_default(),
            parents: fleet
                .iter()
                .filter(|other| other.id != server.id)
                .map(|other| (other.id.clone(), other.name().to_owned()))
                .collect(),
            paused: server.is_paused,
            categories: MachineCategory::ALL.iter().map(|c| (c.as_str(), c.label())).collect(),
            category: match server.machine_category_source.as_deref() {
                Some(power::SOURCE_USER) => server.machine_category.clone().unwrap_or_default(),
                _ => String::new(),
            },
            detected: match server.machine_category_source.as_deref() {
                Some(power::SOURCE_USER) => None,
                _ => server.machine_category.as_deref().and_then(MachineCategory::parse).map(MachineCategory::label),
            },
            tdp_watts: server.tdp_watts.map(|w| w.to_string()).unwrap_or_default(),
            idle_watts: server.idle_watts.map(|w| w.to_string()).unwrap_or_default(),
            power_oob: None,
            message: None,
            error: None,
        }
    }
}

impl ServerPage {
    /// "465.7 GiB", for the tables.
    pub fn size(&self, value: &i64) -> String {
        view::bytes(*value)
    }

    pub fn security_count(&self) -> usize {
        self.packages.iter().filter(|p| p.is_security).count()
    }

    pub fn shown(&self) -> usize {
        PACKAGES_SHOWN
    }

    /// Never heard from: nothing it shows (packages, filesystems) has been reported yet.
    pub fn waiting(&self) -> bool {
        self.card.status == view::Status::Unknown
    }
}

/// `GET /servers/{id}`.
pub async fn page(State(state): State<AppState>, user: WebUser, Path(id): Path<String>) -> Response {
    let server = match service::servers::get(&state, &id).await {
        Ok(server) => server,
        Err(ServiceError::NotFound(_)) => {
            return (StatusCode::NOT_FOUND, "No such server. It may have been deleted.").into_response();
        }
        Err(error) => return super::error_page(&error),
    };
    let mut packages = match service::servers::packages(&state, &id).await {
        Ok(list) => list.packages,
        Err(error) => return super::error_page(&error),
    };
    // Security updates first: they are the ones to act on.
    packages.sort_by(|a, b| b.is_security.cmp(&a.is_security).then_with(|| a.name.cmp(&b.name)));
    let card = match super::fleet::cards_for(&state, vec![server.clone()]).await.map(|mut cards| cards.pop()) {
        Ok(Some(card)) => card,
        Ok(None) => return (StatusCode::INTERNAL_SERVER_ERROR, "The page could not be built.").into_response(),
        Err(error) => return super::error_page(&error),
    };
    let (services, alerts, (containers, hardware)) =
        tokio::join!(services_partial(&state, &id), server_alerts(&state, &id), super::inventory::panels(&state, &id));
    let fleet = match state.store.list_servers().await {
        Ok(fleet) => fleet,
        Err(error) => return super::error_page(&error.into()),
    };
    let power = match service::costs::for_server(&state, &server).await {
        Ok((cost, settings)) => power_line(&cost, &settings),
        Err(error) => return super::error_page(&error),
    };
    render(&ServerPage {
        layout: Layout::new(server.name().to_owned(), "fleet", &user.csrf),
        edit: EditPanel::of(&server, &card.tags, &fleet),
        install: super::install::InstallPartial::for_name(server.name()),
        services,
        alerts,
        containers,
        hardware,
        filesystems: server.filesystem_reports(),
        interfaces: server.interface_reports(),
        packages,
        power,
        card,
        server,
    })
}

#[derive(Deserialize)]
pub struct SeriesQuery {
    range: Option<String>,
    metrics: Option<String>,
}

/// `GET /ui/servers/{id}/series`: the API's series (same JSON) behind the session.
pub async fn series(
    State(state): State<AppState>,
    _: WebUser,
    Path(id): Path<String>,
    Query(query): Query<SeriesQuery>,
) -> Response {
    let params = SeriesParams { range: query.range, metrics: query.metrics };
    match service::metrics::series(&state, &id, &params).await {
        Ok(body) => Json(body).into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

#[derive(Deserialize)]
pub struct ExportQuery {
    range: Option<String>,
    format: Option<String>,
}

/// `GET /ui/servers/{id}/export`: the API's export behind the session.
pub async fn export(
    State(state): State<AppState>,
    _: WebUser,
    Path(id): Path<String>,
    Query(query): Query<ExportQuery>,
) -> Response {
    match service::export::build(&state, &id, query.range.as_deref(), query.format.as_deref()).await {
        Ok(file) => file.into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    machine_type: String,
    #[serde(default)]
    depends_on: String,
}

async fn panel_after(state: &AppState, id: &str, message: Option<String>, error: Option<String>) -> Response {
    let panel = async {
        let server = service::servers::get(state, id).await?;
        let tags = service::tags::of_server(state, id).await?.tags;
        let fleet = state.store.list_servers().await?;
        let (cost, settings) = service::costs::for_server(state, &server).await?;
        let power_oob = Some(power_line(&cost, &settings));
        Ok::<_, ServiceError>(EditPanel { message, error, power_oob, ..EditPanel::of(&server, &tags, &fleet) })
    };
    match panel.await {
        Ok(panel) => render(&panel),
        Err(error) => service_error_toast(&error),
    }
}

/// `POST /ui/servers/{id}/edit`: display name, machine type and the machine it sits behind (as
/// `PUT /api/v1/servers/{id}`).
pub async fn edit(
    State(state): State<AppState>,
    _: CsrfUser,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(form) = serde_urlencoded::from_bytes::<EditForm>(&body) else {
        return error_toast(StatusCode::BAD_REQUEST, "The form could not be read.");
    };
    let display_name = form.display_name.trim();
    // An empty name clears it (the hostname shows instead), as `null` does in the API.
    let document = json!({
        "display_name": if display_name.is_empty() { serde_json::Value::Null } else { display_name.into() },
        "machine_type": form.machine_type,
        "depends_on": if form.depends_on.is_empty() { serde_json::Value::Null } else { form.depends_on.into() },
    });
    let update: ServerUpdate = match serde_json::from_value(document) {
        Ok(update) => update,
        Err(error) => return error_toast(StatusCode::UNPROCESSABLE_ENTITY, &error.to_string()),
    };
    match service::servers::update(&state, &id, &update).await {
        Ok(_) => panel_after(&state, &id, Some("Saved.".into()), None).await,
        Err(error) => panel_after(&state, &id, None, Some(error_message(&error))).await,
    }
}

#[derive(Deserialize)]
pub struct PowerForm {
    /// A category's name, or empty to detect it from the CPU.
    #[serde(default)]
    machine_category: String,
    #[serde(default)]
    tdp_watts: String,
    #[serde(default)]
    idle_watts: String,
}

/// Watts as typed: blank is `null` (the category's figure), else a whole number; the range is
/// the service's rule.
fn typed_watts(field: &str, text: &str) -> Result<serde_json::Value, String> {
    let text = text.trim().trim_end_matches(['W', 'w']).trim();
    if text.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    text.parse::<i64>()
        .map(Into::into)
        .map_err(|_| format!("{field}: should be a whole number of watts (or blank for the category's), not “{text}”"))
}

/// `POST /ui/servers/{id}/power`: the power category and the watts the estimate uses (as
/// `PUT /api/v1/servers/{id}`). Choosing "detect" gives a category chosen by hand back to the
/// heartbeats; a detected one is left alone.
pub async fn power(
    State(state): State<AppState>,
    _: CsrfUser,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(form) = serde_urlencoded::from_bytes::<PowerForm>(&body) else {
        return error_toast(StatusCode::BAD_REQUEST, "The form could not be read.");
    };
    let server = match service::servers::get(&state, &id).await {
        Ok(server) => server,
        Err(error) => return service_error_toast(&error),
    };
    let watts = typed_watts("full-load watts", &form.tdp_watts)
        .and_then(|tdp| Ok((tdp, typed_watts("idle watts", &form.idle_watts)?)));
    let (tdp_watts, idle_watts) = match watts {
        Ok(watts) => watts,
        Err(message) => return refused_panel(&state, &id, message).await,
    };
    let mut document = json!({"tdp_watts": tdp_watts, "idle_watts": idle_watts});
    let chosen = form.machine_category.trim();
    if !chosen.is_empty() {
        document["machine_category"] = chosen.into();
    } else if server.machine_category_source.as_deref() == Some(power::SOURCE_USER) {
        document["machine_category"] = serde_json::Value::Null;
    }
    let update: ServerUpdate = match serde_json::from_value(document) {
        Ok(update) => update,
        Err(error) => return refused_panel(&state, &id, error.to_string()).await,
    };
    match service::servers::update(&state, &id, &update).await {
        Ok(_) => panel_after(&state, &id, Some("Power settings saved.".into()), None).await,
        Err(error @ ServiceError::Invalid(_)) => refused_panel(&state, &id, error_message(&error)).await,
        Err(error) => service_error_toast(&error),
    }
}

/// The panel with a refusal in it, answered 422 (as a refused form is).
async fn refused_panel(state: &AppState, id: &str, message: String) -> Response {
    let mut response = panel_after(state, id, None, Some(message)).await;
    if response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}

#[derive(Deserialize)]
pub struct MaintenanceForm {
    on: String,
}

/// `POST /ui/servers/{id}/maintenance`: maintenance mode on or off.
pub async fn maintenance(
    State(state): State<AppState>,
    _: CsrfUser,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let on = serde_urlencoded::from_bytes::<MaintenanceForm>(&body).is_ok_and(|f| f.on == "true");
    match service::servers::set_maintenance(&state, &id, on).await {
        Ok(_) => {
            let message = if on { "Maintenance on: no new alerts." } else { "Maintenance off." };
            panel_after(&state, &id, Some(message.into()), None).await
        }
        Err(error) => panel_after(&state, &id, None, Some(error_message(&error))).await,
    }
}

#[derive(Deserialize)]
pub struct TagsForm {
    #[serde(default)]
    tags: String,
}

/// Splits what was typed into tags: commas or spaces separate, `#` prefixes are dropped, and
/// letters are lowered (so "Prod, #Rack-A" is `prod`, `rack-a`); every other rule is the service's.
pub fn split_tags(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .map(|t| t.trim().trim_start_matches('#').to_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// `POST /ui/servers/{id}/tags`: replaces the server's tags with the typed list.
pub async fn tags(
    State(state): State<AppState>,
    _: CsrfUser,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let typed = serde_urlencoded::from_bytes::<TagsForm>(&body).map(|f| f.tags).unwrap_or_default();
    let request = TagsBody { tags: split_tags(&typed) };
    match service::tags::replace(&state, &id, &request).await {
        Ok(saved) => {
            let message = if saved.tags.is_empty() { "Tags removed.".to_owned() } else { "Tags saved.".to_owned() };
            panel_after(&state, &id, Some(message), None).await
        }
        Err(error @ ServiceError::Invalid(_)) => refused_panel(&state, &id, error_message(&error)).await,
        Err(error) => service_error_toast(&error),
    }
}

/// One expected service with its last reported state.
pub struct ServiceRow {
    pub name: String,
    pub display_name: Option<String>,
    pub is_critical: bool,
    pub enabled: bool,
    /// The service's own grace period, blank when it uses the default.
    pub grace: String,
    /// `running`, `stopped`, `failed` or `unknown` (never reported): a CSS class and words.
    pub state: &'static str,
    pub symbol: &'static str,
    /// Reason, pid, memory and CPU as reported.
    pub detail: String,
    pub seen: String,
}

/// A service the agent reports that nobody watches yet, offered with a "Watch" button.
pub struct UnwatchedRow {
    pub name: String,
    pub state: &'static str,
    pub symbol: &'static str,
    pub detail: String,
    pub seen: String,
}

/// The services table, the reported services nobody watches, and the outcome of the last action.
#[derive(Template)]
#[template(path = "partials/services.html")]
pub struct ServicesPartial {
    pub server_id: String,
    pub rows: Vec<ServiceRow>,
    pub unwatched: Vec<UnwatchedRow>,
    pub message: Option<String>,
    pub error: Option<String>,
}

/// Up to this many reported services nobody watches are listed open; more (an agent reports
/// every unit, often a hundred) fold away behind their count.
const REPORTED_OPEN: usize = 12;

impl ServicesPartial {
    pub fn reported_open(&self) -> usize {
        REPORTED_OPEN
    }

    pub fn down(&self) -> usize {
        self.rows.iter().filter(|r| r.enabled && (r.state == "stopped" || r.state == "failed")).count()
    }
}

fn service_state(status: Option<&str>) -> (&'static str, &'static str) {
    match status {
        Some("running") => ("running", "●"),
        Some("stopped") => ("stopped", "■"),
        Some("failed") => ("failed", "✕"),
        Some(_) => ("unknown", "○"),
        None => ("unknown", "○"),
    }
}

async fn services_partial(state: &AppState, id: &str) -> ServicesPartial {
    services_with(state, id, None, None).await
}

/// Reason, pid, memory and CPU as reported, in one line.
fn service_detail(current: &CurrentStatus) -> String {
    let mut detail = Vec::new();
    if let Some(reason) = &current.status_reason {
        detail.push(reason.clone());
    }
    if let Some(pid) = current.pid {
        detail.push(format!("pid {pid}"));
    }
    if let Some(mb) = current.memory_mb {
        detail.push(format!("{mb:.0} MB"));
    }
    if let Some(cpu) = current.cpu_percent {
        detail.push(format!("{cpu:.1} % CPU"));
    }
    detail.join(" · ")
}

async fn services_with(state: &AppState, id: &str, message: Option<String>, error: Option<String>) -> ServicesPartial {
    let now = state.clock.now();
    let (expected, reported) = tokio::join!(service::services::list(state, id), service::services::reported(state, id));
    let (rows, list_error) = match expected {
        Ok(list) => {
            let rows = list
                .services
                .into_iter()
                .map(|s| {
                    let current = s.current_status.as_ref();
                    let (state, symbol) = service_state(current.map(|c| c.status.as_str()));
                    ServiceRow {
                        seen: current.map_or_else(|| "never reported".into(), |c| view::ago(c.last_seen, now)),
                        detail: current.map(service_detail).unwrap_or_default(),
                        name: s.service_name,
                        display_name: s.display_name,
                        is_critical: s.is_critical,
                        enabled: s.enabled,
                        grace: s.grace_seconds.map(|g| g.to_string()).unwrap_or_default(),
                        state,
                        symbol,
                    }
                })
                .collect();
            (rows, None)
        }
        Err(e) => (Vec::new(), Some(error_message(&e))),
    };
    // Without the expected list, every reported service would look unwatched: show none.
    let unwatched = match reported {
        Ok(list) if list_error.is_none() => list
            .services
            .into_iter()
            .filter(|s| !s.expected)
            .map(|s| {
                let (state, symbol) = service_state(Some(&s.current_status.status));
                UnwatchedRow {
                    seen: view::ago(s.current_status.last_seen, now),
                    detail: service_detail(&s.current_status),
                    name: s.service_name,
                    state,
                    symbol,
                }
            })
            .collect(),
        _ => Vec::new(),
    };
    // Failed first (worth a look), then running (worth watching), then the rest, by name.
    let order = |state: &str| match state {
        "failed" => 0,
        "running" => 1,
        "stopped" => 2,
        _ => 3,
    };
    let mut unwatched = unwatched;
    unwatched.sort_by(|a, b| order(a.state).cmp(&order(b.state)).then_with(|| a.name.cmp(&b.name)));
    ServicesPartial { server_id: id.to_owned(), rows, unwatched, message, error: error.or(list_error) }
}

/// `GET /ui/servers/{id}/services`: the table again (after a heartbeat or an edit elsewhere).
pub async fn services(State(state): State<AppState>, _: WebUser, Path(id): Path<String>) -> Response {
    render(&services_partial(&state, &id).await)
}

#[derive(Deserialize)]
pub struct NewServiceForm {
    #[serde(default)]
    service_name: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    is_critical: Option<String>,
    #[serde(default)]
    grace_seconds: String,
}

/// A grace period as typed: blank is the default (`None`); anything but a whole number is
/// refused with the field named (its range is the service's rule).
fn grace(text: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<i64>().map(Some).map_err(|_| format!("grace seconds: enter a whole number (got “{text}”)"))
}

/// The table with an action's refusal, answered with the refusal's status (422, or 409 for a
/// duplicate) so that scripts can tell; htmx still shows it.
fn refused(partial: ServicesPartial, status: StatusCode) -> Response {
    let mut response = render(&partial);
    *response.status_mut() = status;
    response
}

/// Renders the outcome of a services action: the table, a refusal (409/422 as the table with the
/// message) or, for an unknown server, a toast.
async fn services_outcome<T>(state: &AppState, id: &str, result: Result<T, ServiceError>, done: String) -> Response {
    match result {
        Ok(_) => render(&services_with(state, id, Some(done), None).await),
        Err(error @ (ServiceError::Invalid(_) | ServiceError::Conflict(_))) => {
            refused(services_with(state, id, None, Some(error_message(&error))).await, error_status(&error))
        }
        Err(error) => service_error_toast(&error),
    }
}

/// `POST /ui/servers/{id}/services`: starts watching a service.
pub async fn add_service(
    State(state): State<AppState>,
    _: CsrfUser,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(form) = serde_urlencoded::from_bytes::<NewServiceForm>(&body) else {
        return error_toast(StatusCode::BAD_REQUEST, "The form could not be read.");
    };
    let display = form.display_name.trim();
    let grace_seconds = match grace(&form.grace_seconds) {
        Ok(grace_seconds) => grace_seconds,
        Err(message) => {
            return refused(services_with(&state, &id, None, Some(message)).await, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let request = NewServiceBody {
        service_name: form.service_name.trim().to_owned(),
        display_name: (!display.is_empty()).then(|| display.to_owned()),
        is_critical: form.is_critical.is_some_and(|v| v == "true" || v == "on"),
        grace_seconds,
    };
    let name = request.service_name.clone();
    let result = service::services::create(&state, &id, request).await;
    services_outcome(&state, &id, result, format!("Now watching {name}.")).await
}

#[derive(Deserialize)]
pub struct ServiceFlagsForm {
    #[serde(default)]
    is_critical: Option<String>,
    #[serde(default)]
    enabled: Option<String>,
    /// Blank goes back to the default.
    #[serde(default)]
    grace_seconds: Option<String>,
}

fn flag(value: Option<&str>) -> Result<Option<bool>, String> {
    match value {
        None => Ok(None),
        Some("true" | "on") => Ok(Some(true)),
        Some("false" | "off") => Ok(Some(false)),
        Some(other) => Err(other.to_owned()),
    }
}

/// `POST /ui/servers/{id}/services/{name}`: changes the flags sent (`is_critical`, `enabled`:
/// `true` or `false`) or the grace period (`grace_seconds`: seconds, blank for the default).
pub async fn update_service(
    State(state): State<AppState>,
    _: CsrfUser,
    Path((id, name)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let form = serde_urlencoded::from_bytes::<ServiceFlagsForm>(&body).unwrap_or(ServiceFlagsForm {
        is_critical: None,
        enabled: None,
        grace_seconds: None,
    });
    let grace_seconds = match form.grace_seconds.as_deref().map(grace).transpose() {
        Ok(grace_seconds) => grace_seconds,
        Err(message) => {
            return refused(services_with(&state, &id, None, Some(message)).await, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let (critical, enabled) = match (flag(form.is_critical.as_deref()), flag(form.enabled.as_deref())) {
        (Ok(c), Ok(e)) => (c, e),
        (Err(bad), _) => {
            let message = format!("is critical: should be true or false, not “{bad}”");
            return refused(services_with(&state, &id, None, Some(message)).await, StatusCode::UNPROCESSABLE_ENTITY);
        }
        (_, Err(bad)) => {
            let message = format!("enabled: should be true or false, not “{bad}”");
            return refused(services_with(&state, &id, None, Some(message)).await, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    if critical.is_none() && enabled.is_none() && grace_seconds.is_none() {
        let message = "Nothing to change: send is_critical, enabled or grace_seconds.".to_owned();
        return refused(services_with(&state, &id, None, Some(message)).await, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let update = ServiceUpdateBody { is_critical: critical, enabled, grace_seconds, ..Default::default() };
    let result = service::services::update(&state, &id, &name, update).await;
    let done = match (critical, enabled) {
        (None, None) => match grace_seconds.flatten() {
            Some(seconds) => format!("{name} may be down {seconds} s before it alerts."),
            None => format!("{name} uses the default grace period."),
        },
        (_, Some(false)) => format!("{name} is no longer watched (its open alert is closed)."),
        (_, Some(true)) => format!("{name} is watched again."),
        (Some(true), _) => format!("{name} is critical: down means a high alert."),
        _ => format!("{name} is not critical: down means a medium alert."),
    };
    services_outcome(&state, &id, result, done).await
}

/// `POST /ui/servers/{id}/services/{name}/delete`: stops watching a service.
pub async fn delete_service(
    State(state): State<AppState>,
    _: CsrfUser,
    Path((id, name)): Path<(String, String)>,
) -> Response {
    let result = service::services::delete(&state, &id, &name).await;
    services_outcome(&state, &id, result, format!("Stopped watching {name}; its history is kept.")).await
}

/// The server's alerts: open and acknowledged first, then the most recent resolved ones.
#[derive(Template)]
#[template(path = "partials/server_alerts.html")]
pub struct ServerAlertsPartial {
    pub server_id: String,
    pub rows: Vec<super::alerts::AlertRow>,
    pub total: i64,
    pub error: Option<String>,
}

/// How many of a server's alerts its page lists (the alerts page has the rest).
const SERVER_ALERTS: i64 = 20;

async fn server_alerts(state: &AppState, id: &str) -> ServerAlertsPartial {
    let query = AlertQuery { server_id: Some(id.to_owned()), limit: Some(SERVER_ALERTS), ..Default::default() };
    let now = state.clock.now();
    match service::alerts::list(state, &query).await {
        Ok(mut page) => {
            // Newest first from the API; the stable sort puts unresolved ones on top.
            page.alerts.sort_by_key(|a| a.status == homelab_core::alerts::AlertStatus::Resolved);
            ServerAlertsPartial {
                server_id: id.to_owned(),
                total: page.total,
                rows: page.alerts.into_iter().map(|a| super::alerts::AlertRow::of(a, now)).collect(),
                error: None,
            }
        }
        Err(e) => {
            ServerAlertsPartial { server_id: id.to_owned(), rows: Vec::new(), total: 0, error: Some(error_message(&e)) }
        }
    }
}

/// `GET /ui/servers/{id}/alerts`.
pub async fn alerts(State(state): State<AppState>, _: WebUser, Path(id): Path<String>) -> Response {
    render(&server_alerts(&state, &id).await)
}

#[cfg(test)]
mod tests {
    use super::split_tags;

    #[test]
    fn typed_tags_are_split_and_lowered() {
        assert_eq!(split_tags("Prod, #Rack-A  zone:eu,,"), ["prod", "rack-a", "zone:eu"]);
        assert!(split_tags("  ").is_empty());
    }
}
