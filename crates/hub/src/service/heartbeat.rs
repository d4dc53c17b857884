//! The ingest path: one heartbeat, validated and committed in one store transaction. Nothing
//! remote is contacted here: alert events go to the outbox in the same transaction and the
//! dispatcher delivers them after the commit.

use homelab_core::heartbeat::{HeartbeatRequest, HeartbeatResponse};
use homelab_store::HeartbeatWrite;

use super::ServiceResult;
use crate::state::AppState;

/// Who sent a heartbeat, as the adapter authenticated it.
pub struct Sender {
    /// The GUID an agent token is bound to; `None` for the admin key or the built-in agent.
    pub authenticated_guid: Option<String>,
    /// The address it came from (the server's `ip_address` when the agent sends none).
    pub peer_ip: Option<String>,
}

/// Stores a heartbeat. Returns only after it is committed, so an answer means it is durable.
pub async fn ingest(state: &AppState, request: HeartbeatRequest, sender: Sender) -> ServiceResult<HeartbeatResponse> {
    let now = state.clock.now();
    let history_from = state.config.retention.cutoff(homelab_core::history::Tier::Hourly, now);
    request.validate_kept(now, Some(history_from))?;
    let outcome = state
        .store
        .ingest_heartbeat(HeartbeatWrite {
            request,
            peer_ip: sender.peer_ip,
            authenticated_guid: sender.authenticated_guid,
            received_at: now,
        })
        .await?;
    // After the commit: dashboards show what is durable, and the dispatcher sends what is new.
    state.web.server_changed(&outcome.server_id, outcome.server_registered);
    state.outbox.events_committed(outcome.outbox_events);
    Ok(HeartbeatResponse::ok(outcome.server_registered))
}
