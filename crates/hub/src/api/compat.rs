//! v1 endpoints of features this hub does not build, answering their empty shapes so that the
//! original web UI renders; see [`crate::service::compat`].

use axum::Json;
use axum::extract::State;

use crate::auth::AdminAuth;
use crate::error::{ApiResult, ErrorBody, ValidationBody};
use crate::extract::{ApiPath, ApiQuery};
use crate::service::compat::{self, ActionList, ActionsQuery, AgentVersion, ConfigPackList, PackAssignment};
use crate::state::AppState;

/// Remediation actions: none exist on this hub (it queues no commands), so the list is empty.
#[utoipa::path(get, path = "/api/v1/actions", tag = "actions", operation_id = "list_actions_api_v1_actions_get",
    security(("api_key" = [])), params(ActionsQuery),
    responses((status = 200, body = ActionList), (status = 401, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn list_actions(_: AdminAuth, ApiQuery(query): ApiQuery<ActionsQuery>) -> ApiResult<Json<ActionList>> {
    Ok(Json(compat::actions(&query)?))
}

/// The agent version this hub ships, which the UI offers upgrades to.
#[utoipa::path(get, path = "/api/v1/agents/version", tag = "agents", operation_id = "get_agent_version_api_v1_agents_version_get",
    security(("api_key" = [])),
    responses((status = 200, body = AgentVersion), (status = 401, body = ErrorBody)))]
pub async fn agent_version(_: AdminAuth) -> Json<AgentVersion> {
    Json(compat::agent_version())
}

/// Configuration packs: none are defined on this hub.
#[utoipa::path(get, path = "/api/v1/config/packs", tag = "config", operation_id = "list_packs_api_v1_config_packs_get",
    security(("api_key" = [])),
    responses((status = 200, body = ConfigPackList), (status = 401, body = ErrorBody)))]
pub async fn config_packs(_: AdminAuth) -> Json<ConfigPackList> {
    Json(compat::config_packs())
}

/// The packs assigned to a server when it was created (v1 names them; nothing applies them here).
#[utoipa::path(get, path = "/api/v1/servers/{server_id}/config/packs", tag = "servers",
    operation_id = "get_assigned_packs_api_v1_servers__server_id__config_packs_get", security(("api_key" = [])),
    params(("server_id" = String, Path, description = "Server id")),
    responses((status = 200, body = PackAssignment), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn assigned_packs(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PackAssignment>> {
    Ok(Json(compat::assigned_packs(&state, &id).await?))
}
