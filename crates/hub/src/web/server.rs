//! Server detail at `/servers/{id}`: the live card, history charts (uPlot, fed by the same
//! handler as `GET /api/v1/servers/{id}/metrics/series`), export, filesystems, interfaces,
//! pending packages, and the edit and maintenance actions (the API's own handlers).

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use homelab_core::heartbeat::{FilesystemReport, InterfaceReport};
use homelab_core::server::{MACHINE_TYPES, Package, Server, ServerUpdate};
use serde::Deserialize;
use serde_json::json;

use super::session::{CsrfUser, WebUser};
use super::view::{self, Card};
use super::{Layout, error_message, error_toast, render};
use crate::api;
use crate::auth::AdminAuth;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
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
}

/// The edit form and maintenance switch; re-rendered after each action with its outcome.
#[derive(Template)]
#[template(path = "partials/server_edit.html")]
pub struct EditPanel {
    pub id: String,
    pub display_name: String,
    pub machine_type: String,
    pub machine_types: &'static [&'static str],
    pub paused: bool,
    pub message: Option<String>,
    pub error: Option<String>,
}

impl EditPanel {
    fn of(server: &Server) -> Self {
        EditPanel {
            id: server.id.clone(),
            display_name: server.display_name.clone().unwrap_or_default(),
            machine_type: server.machine_type.clone(),
            machine_types: &MACHINE_TYPES,
            paused: server.is_paused,
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
}

/// `GET /servers/{id}`.
pub async fn page(State(state): State<AppState>, user: WebUser, Path(id): Path<String>) -> Response {
    let server = match state.store.get_server(&id).await {
        Ok(server) => server,
        Err(homelab_store::StoreError::NotFound(_)) => {
            return (StatusCode::NOT_FOUND, "No such server. It may have been deleted.").into_response();
        }
        Err(error) => {
            tracing::error!(%error, "cannot read server");
            return (StatusCode::SERVICE_UNAVAILABLE, "The database is not answering; try again shortly.")
                .into_response();
        }
    };
    let packages = state.store.list_packages(&id).await.unwrap_or_default();
    let Some(card) = super::fleet::cards_for(&state, vec![server.clone()]).await.pop() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "The page could not be built.").into_response();
    };
    render(&ServerPage {
        layout: Layout::new(server.name().to_owned(), "fleet", &user.csrf),
        edit: EditPanel::of(&server),
        filesystems: server.filesystems.clone().unwrap_or_default(),
        interfaces: server.network_interfaces.clone().unwrap_or_default(),
        packages,
        card,
        server,
    })
}

#[derive(Deserialize)]
pub struct SeriesQuery {
    range: Option<String>,
    metrics: Option<String>,
}

/// `GET /ui/servers/{id}/series`: the API's series handler behind the session.
pub async fn series(
    State(state): State<AppState>,
    _: WebUser,
    Path(id): Path<String>,
    Query(query): Query<SeriesQuery>,
) -> Response {
    let params = api::metrics::SeriesParams { range: query.range, metrics: query.metrics };
    match api::metrics::series(AdminAuth, State(state), ApiPath(id), ApiQuery(params)).await {
        Ok(Json(body)) => Json(body).into_response(),
        Err(error) => error.into_response(),
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
    match api::export::build(&state, &id, query.range.as_deref(), query.format.as_deref()).await {
        Ok(file) => file.into_response(),
        Err(error) => error.into_response(),
    }
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    machine_type: String,
}

async fn panel_after(state: &AppState, id: &str, message: Option<String>, error: Option<String>) -> Response {
    match state.store.get_server(id).await {
        Ok(server) => render(&EditPanel { message, error, ..EditPanel::of(&server) }),
        Err(error) => error_toast(StatusCode::NOT_FOUND, &error.to_string()),
    }
}

/// `POST /ui/servers/{id}/edit`: display name and machine type through `PUT /api/v1/servers/{id}`.
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
    });
    let update: ServerUpdate = match serde_json::from_value(document) {
        Ok(update) => update,
        Err(error) => return error_toast(StatusCode::UNPROCESSABLE_ENTITY, &error.to_string()),
    };
    match api::servers::update(AdminAuth, State(state.clone()), ApiPath(id.clone()), ApiJson(update)).await {
        Ok(_) => {
            state.web.server_changed(&id, false);
            panel_after(&state, &id, Some("Saved.".into()), None).await
        }
        Err(error) => panel_after(&state, &id, None, Some(error_message(&error))).await,
    }
}

#[derive(Deserialize)]
pub struct MaintenanceForm {
    on: String,
}

/// `POST /ui/servers/{id}/maintenance`: the API's pause/unpause.
pub async fn maintenance(
    State(state): State<AppState>,
    _: CsrfUser,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let on = serde_urlencoded::from_bytes::<MaintenanceForm>(&body).is_ok_and(|f| f.on == "true");
    let result = if on {
        api::servers::pause(AdminAuth, State(state.clone()), ApiPath(id.clone())).await
    } else {
        api::servers::unpause(AdminAuth, State(state.clone()), ApiPath(id.clone())).await
    };
    match result {
        Ok(_) => {
            state.web.server_changed(&id, false);
            let message = if on { "Maintenance on: no new alerts." } else { "Maintenance off." };
            panel_after(&state, &id, Some(message.into()), None).await
        }
        Err(error) => panel_after(&state, &id, None, Some(error_message(&error))).await,
    }
}
