//! What every view shows as a machine's status: `homelab_core::status` applied to what the
//! store returns, with the offline timeout from the thresholds, the hub's grace after downtime
//! and the hub clock. The API's
//! `status`, the fleet summary and the dashboard's cards all go through here.

use homelab_core::alerts::thresholds::Thresholds;
use homelab_core::server::Server;
use homelab_core::status::{StatusCounts, status};

use super::ServiceResult;
use crate::state::AppState;

/// The rules status is judged by (the offline timeout lives in the thresholds document).
pub async fn rules(state: &AppState) -> ServiceResult<Thresholds> {
    super::config::thresholds(state).await
}

/// `servers` with their stored status replaced by the status at the hub's `now`.
pub async fn observed(state: &AppState, mut servers: Vec<Server>) -> ServiceResult<Vec<Server>> {
    let silence = state.silence(&rules(state).await?);
    let now = state.clock.now();
    for server in &mut servers {
        server.status = status(server, &silence, now);
    }
    Ok(servers)
}

/// One server with its status at the hub's `now`.
pub async fn observed_one(state: &AppState, mut server: Server) -> ServiceResult<Server> {
    let silence = state.silence(&rules(state).await?);
    server.status = status(&server, &silence, state.clock.now());
    Ok(server)
}

/// Every server counted by its status at the hub's `now`.
pub async fn counts(state: &AppState) -> ServiceResult<StatusCounts> {
    let servers = state.store.list_servers().await?;
    let silence = state.silence(&rules(state).await?);
    Ok(StatusCounts::of(&servers, &silence, state.clock.now()))
}
