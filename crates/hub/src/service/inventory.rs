//! Containers, sensors, disk health and GPUs (issue 15): what each machine last reported and
//! which containers are watched. The alert rules themselves are in the engine
//! (`homelab_core::alerts`); this decides who may watch what.

use homelab_core::inventory::MachineInventory;
use homelab_core::validate::Validator;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ServiceResult;
use crate::state::AppState;

/// `PUT /servers/{id}/containers/watch-all` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct WatchAllBody {
    /// On: every container seen running is watched from then on (those running now at once).
    pub enabled: bool,
}

/// One machine's counts for the fleet: what its card shows and what the "a container is down"
/// filter selects on.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InventorySummary {
    pub server_id: String,
    /// `null` when the machine never reported containers.
    pub containers_running: Option<usize>,
    pub containers_total: Option<usize>,
    /// Watched containers that are down, missing or unhealthy.
    pub containers_down: Vec<String>,
    /// The hottest sensor (`gpu/<id>` for GPUs, `disk/sda` for disks).
    pub hottest_sensor: Option<String>,
    pub hottest_celsius: Option<f64>,
}

impl InventorySummary {
    pub fn of(server_id: String, inventory: &MachineInventory) -> Self {
        let counts = inventory.container_counts();
        let hottest = inventory.hottest();
        InventorySummary {
            server_id,
            containers_running: counts.map(|(running, _)| running),
            containers_total: counts.map(|(_, total)| total),
            containers_down: inventory.watched_containers_down().into_iter().map(str::to_owned).collect(),
            hottest_celsius: hottest.as_ref().map(|(_, celsius)| *celsius),
            hottest_sensor: hottest.map(|(sensor, _)| sensor),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InventorySummaryList {
    pub servers: Vec<InventorySummary>,
    pub total: usize,
}

/// Docker's own rule for container names (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`, Podman's too), so a
/// watched name can match a real container and a typo is refused.
fn check_container_name(name: &str) -> ServiceResult<()> {
    let mut v = Validator::new("path");
    v.str_len("name", name, 1, 255);
    let mut bytes = name.bytes();
    let valid = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !name.is_empty() && !valid {
        v.custom(
            "name",
            "string_pattern_mismatch",
            "should match pattern '^[a-zA-Z0-9][a-zA-Z0-9_.-]*$' (a Docker or Podman container name)",
            name.into(),
        );
    }
    Ok(v.finish()?)
}

pub async fn get(state: &AppState, server_id: &str) -> ServiceResult<MachineInventory> {
    Ok(state.store.inventory(server_id).await?)
}

/// Every machine's counts, by server id.
pub async fn summaries(state: &AppState) -> ServiceResult<InventorySummaryList> {
    let servers: Vec<InventorySummary> = state
        .store
        .all_inventories()
        .await?
        .into_iter()
        .map(|(server_id, inventory)| InventorySummary::of(server_id, &inventory))
        .collect();
    Ok(InventorySummaryList { total: servers.len(), servers })
}

/// Watches a container (or stops): a watched container alerts when it stops, goes missing,
/// turns unhealthy or restarts in a loop. A name not reported yet may be watched (it alerts as
/// missing until it runs).
pub async fn set_watched(
    state: &AppState,
    server_id: &str,
    name: &str,
    watched: bool,
) -> ServiceResult<MachineInventory> {
    check_container_name(name)?;
    let inventory = state.store.set_container_watched(server_id, name, watched, state.clock.now()).await?;
    state.web.server_changed(server_id, false);
    Ok(inventory)
}

pub async fn set_watch_all(state: &AppState, server_id: &str, body: WatchAllBody) -> ServiceResult<MachineInventory> {
    let inventory = state.store.set_watch_all_containers(server_id, body.enabled, state.clock.now()).await?;
    state.web.server_changed(server_id, false);
    Ok(inventory)
}
