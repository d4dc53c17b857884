//! Servers: list, create, read, update, delete, maintenance mode, pending packages.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use homelab_core::server::{NewServer, Package, Server, ServerUpdate};
use homelab_core::time::{self, Timestamp};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::AdminAuth;
use crate::error::{ApiResult, ErrorBody, ValidationBody};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::status;

#[derive(Debug, Serialize, ToSchema)]
pub struct ServerList {
    pub servers: Vec<Server>,
    pub total: usize,
}

/// Every server, with its latest metrics and open-alert summary.
#[utoipa::path(get, path = "/api/v1/servers", tag = "servers", security(("api_key" = [])),
    responses((status = 200, body = ServerList), (status = 401, body = ErrorBody)))]
pub async fn list(_: AdminAuth, State(state): State<AppState>) -> ApiResult<Json<ServerList>> {
    let servers = status::observed(&state, state.store.list_servers().await?).await?;
    Ok(Json(ServerList { total: servers.len(), servers }))
}

/// Registers a server by hand (agents also register themselves on their first heartbeat).
#[utoipa::path(post, path = "/api/v1/servers", tag = "servers", security(("api_key" = [])), request_body = NewServer,
    responses((status = 201, body = Server), (status = 409, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn create(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewServer>,
) -> ApiResult<(StatusCode, Json<Server>)> {
    new.validate()?;
    let server = state.store.create_server(&new, state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(server)))
}

#[utoipa::path(get, path = "/api/v1/servers/{id}", tag = "servers", security(("api_key" = [])),
    params(("id" = String, Path, description = "Server id")),
    responses((status = 200, body = Server), (status = 404, body = ErrorBody)))]
pub async fn get(_: AdminAuth, State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<Server>> {
    Ok(Json(status::observed_one(&state, state.store.get_server(&id).await?).await?))
}

/// Partial update: only the keys sent are changed; `null` clears an optional field.
#[utoipa::path(put, path = "/api/v1/servers/{id}", tag = "servers", security(("api_key" = [])),
    params(("id" = String, Path, description = "Server id")), request_body = ServerUpdate,
    responses((status = 200, body = Server), (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn update(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(update): ApiJson<ServerUpdate>,
) -> ApiResult<Json<Server>> {
    update.validate()?;
    let server =
        status::observed_one(&state, state.store.update_server(&id, &update, state.clock.now()).await?).await?;
    state.web.server_changed(&server.id, false);
    Ok(Json(server))
}

/// Deletes the server and all its history, alerts and credentials.
#[utoipa::path(delete, path = "/api/v1/servers/{id}", tag = "servers", security(("api_key" = [])),
    params(("id" = String, Path, description = "Server id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.store.delete_server(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Maintenance mode on.
#[utoipa::path(put, path = "/api/v1/servers/{id}/pause", tag = "servers", security(("api_key" = [])),
    params(("id" = String, Path, description = "Server id")),
    responses((status = 200, body = Server), (status = 404, body = ErrorBody)))]
pub async fn pause(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Server>> {
    let server = status::observed_one(&state, state.store.set_paused(&id, true, state.clock.now()).await?).await?;
    state.web.server_changed(&server.id, false);
    Ok(Json(server))
}

/// Maintenance mode off.
#[utoipa::path(put, path = "/api/v1/servers/{id}/unpause", tag = "servers", security(("api_key" = [])),
    params(("id" = String, Path, description = "Server id")),
    responses((status = 200, body = Server), (status = 404, body = ErrorBody)))]
pub async fn unpause(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Server>> {
    let server = status::observed_one(&state, state.store.set_paused(&id, false, state.clock.now()).await?).await?;
    state.web.server_changed(&server.id, false);
    Ok(Json(server))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PackageList {
    pub server_id: String,
    /// When the agent last reported (the server's `last_seen`).
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(with = "time::rfc3339_option")]
    pub last_checked: Option<Timestamp>,
    pub total_count: usize,
    pub security_count: usize,
    pub packages: Vec<Package>,
}

/// Pending package updates, sorted by name.
#[utoipa::path(get, path = "/api/v1/servers/{id}/packages", tag = "servers", security(("api_key" = [])),
    params(("id" = String, Path, description = "Server id")),
    responses((status = 200, body = PackageList), (status = 404, body = ErrorBody)))]
pub async fn packages(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PackageList>> {
    let server = state.store.get_server(&id).await?;
    let packages = state.store.list_packages(&id).await?;
    Ok(Json(PackageList {
        server_id: server.id,
        last_checked: server.last_seen,
        total_count: packages.len(),
        security_count: packages.iter().filter(|p| p.is_security).count(),
        packages,
    }))
}
