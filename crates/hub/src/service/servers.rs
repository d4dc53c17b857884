//! Servers: list, create, read, update, delete, maintenance mode, pending packages.

use std::collections::HashMap;

use homelab_core::server::{NewServer, Package, Server, ServerUpdate};
use homelab_core::time::{self, Timestamp};
use homelab_core::validate::Validator;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ServiceError, ServiceResult, status};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ServerList {
    pub servers: Vec<Server>,
    pub total: usize,
}

/// Optional paging of the fleet list for very large fleets; without it the list is v1's, whole.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServerListQuery {
    /// At most this many servers (≥ 1); all of them when absent.
    #[param(minimum = 1)]
    pub limit: Option<i64>,
    /// Servers skipped first (≥ 0, default 0), in the list's order (registration).
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// Every server (or one page of them), its status as of now (not as of the last offline
/// check). `total` counts the whole fleet, so a client paging through knows when to stop.
pub async fn list(state: &AppState, query: &ServerListQuery) -> ServiceResult<ServerList> {
    let mut v = Validator::new("query");
    v.range_i64("limit", query.limit, 1, None);
    v.range_i64("offset", query.offset, 0, None);
    v.finish()?;
    if query.limit.is_none() && query.offset.is_none() {
        let servers = status::observed(state, state.store.list_servers().await?).await?;
        return Ok(ServerList { total: servers.len(), servers });
    }
    let (servers, total) =
        state.store.list_servers_page(query.limit.unwrap_or(i64::MAX), query.offset.unwrap_or(0)).await?;
    let servers = status::observed(state, servers).await?;
    Ok(ServerList { servers, total: usize::try_from(total).unwrap_or_default() })
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
    if let Some(Some(parent)) = &update.depends_on {
        check_dependency(state, id, parent).await?;
    }
    let update = update.clone().with_category_source();
    let server = state.store.update_server(id, &update, state.clock.now()).await?;
    state.web.server_changed(&server.id, false);
    status::observed_one(state, server).await
}

/// A machine may depend on a known machine other than itself, and never in a circle (then no
/// outage would be anybody's own).
async fn check_dependency(state: &AppState, id: &str, parent: &str) -> ServiceResult<()> {
    let servers = state.store.list_servers().await?;
    let depends_on: HashMap<&str, Option<&str>> =
        servers.iter().map(|s| (s.id.as_str(), s.depends_on.as_deref())).collect();
    let refuse = |detail: String| {
        let mut v = Validator::new("body");
        v.custom("depends_on", "value_error", &detail, parent.into());
        v.finish().map_err(ServiceError::Invalid)
    };
    if parent == id {
        return refuse("a machine cannot depend on itself".into());
    }
    if !depends_on.contains_key(parent) {
        return refuse(format!("there is no server '{parent}'"));
    }
    let mut above = Some(parent);
    for _ in 0..servers.len() {
        match above {
            Some(machine) if machine == id => {
                return refuse(format!("'{parent}' already depends on '{id}'"));
            }
            Some(machine) => above = depends_on.get(machine).copied().flatten(),
            None => break,
        }
    }
    Ok(())
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
