//! Servers: list, create, read, update, delete, maintenance mode, pending packages.

use homelab_core::server::{NewServer, Package, Server, ServerUpdate};
use homelab_core::time::{self, Timestamp};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ServiceResult, status};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ServerList {
    pub servers: Vec<Server>,
    pub total: usize,
}

/// Every server, its status as of now (not as of the last offline check).
pub async fn list(state: &AppState) -> ServiceResult<ServerList> {
    let servers = status::observed(state, state.store.list_servers().await?).await?;
    Ok(ServerList { total: servers.len(), servers })
}

/// Registers a server by hand (agents also register themselves on their first heartbeat).
pub async fn create(state: &AppState, new: &NewServer) -> ServiceResult<Server> {
    new.validate()?;
    let server = state.store.create_server(new, state.clock.now()).await?;
    state.web.server_changed(&server.id, true);
    status::observed_one(state, server).await
}

pub async fn get(state: &AppState, id: &str) -> ServiceResult<Server> {
    status::observed_one(state, state.store.get_server(id).await?).await
}

/// Partial update: only the keys sent are changed; `null` clears an optional field.
pub async fn update(state: &AppState, id: &str, update: &ServerUpdate) -> ServiceResult<Server> {
    update.validate()?;
    let update = update.clone().with_category_source();
    let server = state.store.update_server(id, &update, state.clock.now()).await?;
    state.web.server_changed(&server.id, false);
    status::observed_one(state, server).await
}

/// Deletes the server and all its history, alerts and credentials.
pub async fn delete(state: &AppState, id: &str) -> ServiceResult<()> {
    state.store.delete_server(id).await?;
    // Open dashboards redraw the grid without its card.
    state.web.server_changed(id, true);
    Ok(())
}

/// Maintenance mode on (`paused`) or off: no new alerts while on.
pub async fn set_maintenance(state: &AppState, id: &str, paused: bool) -> ServiceResult<Server> {
    let server = state.store.set_paused(id, paused, state.clock.now()).await?;
    state.web.server_changed(&server.id, false);
    status::observed_one(state, server).await
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
pub async fn packages(state: &AppState, id: &str) -> ServiceResult<PackageList> {
    let server = state.store.get_server(id).await?;
    let packages = state.store.list_packages(id).await?;
    Ok(PackageList {
        server_id: server.id,
        last_checked: server.last_seen,
        total_count: packages.len(),
        security_count: packages.iter().filter(|p| p.is_security).count(),
        packages,
    })
}
