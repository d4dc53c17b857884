//! Containers, sensors, disk health and GPUs (not in v1); the rules are in
//! [`crate::service::inventory`]. Their history is charted through the series endpoint
//! (`container_cpu_percent`, `temperature_celsius`, `gpu_utilisation_percent`, …).

use axum::Json;
use axum::extract::State;
use homelab_core::inventory::MachineInventory;

use crate::auth::AdminAuth;
use crate::error::{ApiResult, ErrorBody, ValidationBody};
use crate::extract::{ApiJson, ApiPath};
use crate::service::inventory::{self, InventorySummaryList, WatchAllBody};
use crate::state::AppState;

/// What the machine last reported beyond v1 (containers, temperatures, fans, S.M.A.R.T., RAID,
/// ZFS, GPUs; `null` = never reported) and which containers are watched.
#[utoipa::path(get, path = "/api/v1/servers/{server_id}/inventory", tag = "inventory", security(("api_key" = [])),
    params(("server_id" = String, Path, description = "Server id")),
    responses((status = 200, body = MachineInventory), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<MachineInventory>> {
    Ok(Json(inventory::get(&state, &id).await?))
}

/// Every machine's containers running/total, watched containers down and hottest sensor.
#[utoipa::path(get, path = "/api/v1/inventory/summary", tag = "inventory", security(("api_key" = [])),
    responses((status = 200, body = InventorySummaryList), (status = 401, body = ErrorBody)))]
pub async fn summary(_: AdminAuth, State(state): State<AppState>) -> ApiResult<Json<InventorySummaryList>> {
    Ok(Json(inventory::summaries(&state).await?))
}

/// Watches a container by name: it alerts when it stops, goes missing, turns unhealthy or
/// restarts in a loop.
#[utoipa::path(put, path = "/api/v1/servers/{server_id}/containers/{name}/watch", tag = "inventory",
    security(("api_key" = [])),
    params(("server_id" = String, Path, description = "Server id"), ("name" = String, Path, description = "Container name (Docker's rule)", pattern = "^[a-zA-Z0-9][a-zA-Z0-9_.-]*$", min_length = 1, max_length = 255)),
    responses((status = 200, body = MachineInventory), (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn watch(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath((id, name)): ApiPath<(String, String)>,
) -> ApiResult<Json<MachineInventory>> {
    Ok(Json(inventory::set_watched(&state, &id, &name, true).await?))
}

/// Stops watching a container; its open alert closes with the next container report.
#[utoipa::path(delete, path = "/api/v1/servers/{server_id}/containers/{name}/watch", tag = "inventory",
    security(("api_key" = [])),
    params(("server_id" = String, Path, description = "Server id"), ("name" = String, Path, description = "Container name (Docker's rule)", pattern = "^[a-zA-Z0-9][a-zA-Z0-9_.-]*$", min_length = 1, max_length = 255)),
    responses((status = 200, body = MachineInventory), (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn unwatch(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath((id, name)): ApiPath<(String, String)>,
) -> ApiResult<Json<MachineInventory>> {
    Ok(Json(inventory::set_watched(&state, &id, &name, false).await?))
}

/// "Watch all running containers" on or off.
#[utoipa::path(put, path = "/api/v1/servers/{server_id}/containers/watch-all", tag = "inventory",
    security(("api_key" = [])),
    params(("server_id" = String, Path, description = "Server id")), request_body = WatchAllBody,
    responses((status = 200, body = MachineInventory), (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn watch_all(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<WatchAllBody>,
) -> ApiResult<Json<MachineInventory>> {
    Ok(Json(inventory::set_watch_all(&state, &id, body).await?))
}
