//! Server tags (`GET/PUT /api/v1/servers/{server_id}/tags`); the rules are in [`crate::service::tags`].

use axum::Json;
use axum::extract::State;

use crate::auth::AdminAuth;
use crate::error::{ApiResult, ErrorBody, ValidationBody};
use crate::extract::{ApiJson, ApiPath};
use crate::service::tags::{self, ServerTags, TagsBody};
use crate::state::AppState;

/// Tags of one server.
#[utoipa::path(get, path = "/api/v1/servers/{server_id}/tags", tag = "servers", security(("api_key" = [])),
    params(("server_id" = String, Path, description = "Server id")),
    responses((status = 200, body = ServerTags), (status = 404, body = ErrorBody)))]
pub async fn get(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ServerTags>> {
    Ok(Json(tags::of_server(&state, &id).await?))
}

/// Replaces the tags of one server. Tags of servers that no longer exist are dropped on the way.
#[utoipa::path(put, path = "/api/v1/servers/{server_id}/tags", tag = "servers", security(("api_key" = [])),
    params(("server_id" = String, Path, description = "Server id")), request_body = TagsBody,
    responses((status = 200, body = ServerTags), (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn put(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<TagsBody>,
) -> ApiResult<Json<ServerTags>> {
    Ok(Json(tags::replace(&state, &id, &body).await?))
}
