//! Servers: list, create, read, update, delete, maintenance mode, pending packages.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use homelab_core::server::{NewServer, Server, ServerUpdate};

use crate::auth::AdminAuth;
use crate::error::{ApiError, ApiResult, ErrorBody, ValidationBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::service::servers::{self, PackageList, ServerList, ServerListQuery};
use crate::state::AppState;

/// Every server, with its latest metrics and open-alert summary; `limit` and `offset` page it.
#[utoipa::path(get, path = "/api/v1/servers", tag = "servers", security(("api_key" = [])), params(ServerListQuery),
    responses((status = 200, body = ServerList), (status = 401, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn list(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ServerListQuery>,
) -> ApiResult<Response> {
    let list = servers::list(&state, &query).await?;
    // A whole fleet is megabytes of JSON (about 2.4 KB a server): writing it into a buffer of
    // about the right size spares the copies of growing one from empty, a tenth of the time.
    let mut body = Vec::with_capacity(list.servers.len().saturating_mul(LISTED_SERVER_BYTES).saturating_add(64));
    serde_json::to_writer(&mut body, &list)
        .map_err(|e| ApiError::Internal(format!("encoding the server list: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// About what one server takes in the list (latest metrics, filesystems, interfaces).
const LISTED_SERVER_BYTES: usize = 2_600;

/// Registers a server by hand (agents also register themselves on their first heartbeat).
#[utoipa::path(post, path = "/api/v1/servers", tag = "servers", security(("api_key" = [])), request_body = NewServer,
    responses((status = 201, body = Server), (status = 409, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn create(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewServer>,
) -> ApiResult<(StatusCode, Json<Server>)> {
    Ok((StatusCode::CREATED, Json(servers::create(&state, &new).await?)))
}

#[utoipa::path(get, path = "/api/v1/servers/{server_id}", tag = "servers", security(("api_key" = [])),
    params(("server_id" = String, Path, description = "Server id")),
    responses((status = 200, body = Server), (status = 404, body = ErrorBody)))]
pub async fn get(_: AdminAuth, State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> ApiResult<Json<Server>> {
    Ok(Json(servers::get(&state, &id).await?))
}

/// Partial update: only the keys sent are changed; `null` clears an optional field.
#[utoipa::path(put, path = "/api/v1/servers/{server_id}", tag = "servers", security(("api_key" = [])),
    params(("server_id" = String, Path, description = "Server id")), request_body = ServerUpdate,
    responses((status = 200, body = Server), (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn update(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(update): ApiJson<ServerUpdate>,
) -> ApiResult<Json<Server>> {
    Ok(Json(servers::update(&state, &id, &update).await?))
}

/// Deletes the server and all its history, alerts and credentials.
#[utoipa::path(delete, path = "/api/v1/servers/{server_id}", tag = "servers", security(("api_key" = [])),
    params(("server_id" = String, Path, description = "Server id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    servers::delete(&state, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Maintenance mode on.
#[utoipa::path(put, path = "/api/v1/servers/{server_id}/pause", tag = "servers", security(("api_key" = [])),
    params(("server_id" = String, Path, description = "Server id")),
    responses((status = 200, body = Server), (status = 404, body = ErrorBody)))]
pub async fn pause(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Server>> {
    Ok(Json(servers::set_maintenance(&state, &id, true).await?))
}

/// Maintenance mode off.
#[utoipa::path(put, path = "/api/v1/servers/{server_id}/unpause", tag = "servers", security(("api_key" = [])),
    params(("server_id" = String, Path, description = "Server id")),
    responses((status = 200, body = Server), (status = 404, body = ErrorBody)))]
pub async fn unpause(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Server>> {
    Ok(Json(servers::set_maintenance(&state, &id, false).await?))
}

/// Pending package updates, sorted by name.
#[utoipa::path(get, path = "/api/v1/servers/{server_id}/packages", tag = "servers", security(("api_key" = [])),
    params(("server_id" = String, Path, description = "Server id")),
    responses((status = 200, body = PackageList), (status = 404, body = ErrorBody)))]
pub async fn packages(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PackageList>> {
    Ok(Json(servers::packages(&state, &id).await?))
}
