//! `POST /api/v1/agents/heartbeat`: the ingest path.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use homelab_core::heartbeat::{HeartbeatRequest, HeartbeatResponse};
use homelab_store::HeartbeatWrite;

use crate::auth::AgentAuth;
use crate::error::{ApiResult, ErrorBody, ValidationBody};
use crate::extract::ApiJson;
use crate::state::AppState;

/// Stores a heartbeat. The answer comes only after the heartbeat is committed, so a 200 means
/// it is durable. Nothing remote (notifications) is contacted inside this request.
#[utoipa::path(post, path = "/api/v1/agents/heartbeat", tag = "agents", request_body = HeartbeatRequest,
    security(("api_key" = []), ("agent_token" = [], "server_guid" = [])),
    responses(
        (status = 200, body = HeartbeatResponse),
        (status = 401, body = ErrorBody, description = "Missing or invalid credentials"),
        (status = 403, body = ErrorBody, description = "Token bound to another server, or server inactive"),
        (status = 409, body = ErrorBody, description = "GUID conflict"),
        (status = 413, body = ErrorBody),
        (status = 422, body = ValidationBody),
    ))]
pub async fn heartbeat(
    auth: AgentAuth,
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ApiJson(request): ApiJson<HeartbeatRequest>,
) -> ApiResult<Json<HeartbeatResponse>> {
    let now = state.clock.now();
    request.validate(now)?;
    let authenticated_guid = match auth {
        AgentAuth::Agent { server_guid } => Some(server_guid),
        AgentAuth::AdminKey => None,
    };
    let outcome = state
        .store
        .ingest_heartbeat(HeartbeatWrite {
            request,
            peer_ip: Some(peer.ip().to_canonical().to_string()),
            authenticated_guid,
            received_at: now,
        })
        .await?;
    // After the commit: dashboards show what is durable, and the dispatcher sends what is new.
    state.outbox.events_committed(outcome.outbox_events);
    state.web.server_changed(&outcome.server_id, outcome.server_registered);
    Ok(Json(HeartbeatResponse::ok(outcome.server_registered)))
}
