//! What agents report beyond v1 (`server_inventory`: each key's latest report, as JSON) and the
//! containers each server watches (`watched_containers`, `servers.watch_all_containers`).
//!
//! A heartbeat without any of these keys touches neither table, so it costs what it did before.

use homelab_core::heartbeat::HeartbeatRequest;
use homelab_core::inventory::{ContainerReport, MachineInventory};
use homelab_core::time::{Timestamp, from_millis, to_millis};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::servers::{find_by_id, not_found};
use crate::backend::{Conn, Row, Value};
use crate::{StoreError, StoreResult};

const KEYS: [&str; 7] = ["containers", "temperatures", "fans", "disk_health", "raid_arrays", "zfs_pools", "gpus"];

fn json<T: Serialize>(value: &Option<Vec<T>>) -> StoreResult<Value> {
    Ok(match value {
        Some(list) => serde_json::to_string(list)?.into(),
        None => Value::Null,
    })
}

/// Whether the heartbeat carries any key this module keeps.
fn carries_any(hb: &HeartbeatRequest) -> bool {
    hb.containers.is_some()
        || hb.temperatures.is_some()
        || hb.fans.is_some()
        || hb.disk_health.is_some()
        || hb.raid_arrays.is_some()
        || hb.zfs_pools.is_some()
        || hb.gpus.is_some()
}

/// Keeps the keys the heartbeat carries as the server's latest, leaving the others as they
/// were, and with "watch all" on adds every running container to the watched list (before the
/// engine runs, so a container that stops in the next heartbeat alerts).
pub(crate) async fn record(conn: &mut dyn Conn, pk: i64, hb: &HeartbeatRequest, now: Timestamp) -> StoreResult<()> {
    if !carries_any(hb) {
        return Ok(());
    }
    let values = vec![
        pk.into(),
        json(&hb.containers)?,
        json(&hb.temperatures)?,
        json(&hb.fans)?,
        json(&hb.disk_health)?,
        json(&hb.raid_arrays)?,
        json(&hb.zfs_pools)?,
        json(&hb.gpus)?,
        to_millis(&now).into(),
    ];
    let keep = KEYS.map(|key| format!("{key} = COALESCE(excluded.{key}, server_inventory.{key})")).join(", ");
    let sql = format!(
        "INSERT INTO server_inventory (server_pk, {}, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (server_pk) DO UPDATE SET {keep}, updated_at = excluded.updated_at",
        KEYS.join(", ")
    );
    conn.execute(&sql, &values).await?;
    if let Some(containers) = &hb.containers {
        let watch_all = conn
            .query_opt("SELECT watch_all_containers FROM servers WHERE pk = $1", &[pk.into()])
            .await?
            .map(|row| row.bool(0))
            .transpose()?
            .unwrap_or(false);
        if watch_all {
            watch_running(conn, pk, containers, now).await?;
        }
    }
    Ok(())
}

async fn watch_running(
    conn: &mut dyn Conn,
    pk: i64,
    containers: &[ContainerReport],
    now: Timestamp,
) -> StoreResult<()> {
    for container in containers.iter().filter(|c| c.state == "running") {
        watch(conn, pk, &container.name, now).await?;
    }
    Ok(())
}

async fn watch(conn: &mut dyn Conn, pk: i64, name: &str, now: Timestamp) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO watched_containers (server_pk, name, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (server_pk, name) DO NOTHING",
        &[pk.into(), name.into(), to_millis(&now).into()],
    )
    .await?;
    Ok(())
}

/// The names of the containers a server watches, sorted.
pub(crate) async fn watched(conn: &mut dyn Conn, pk: i64) -> StoreResult<Vec<String>> {
    let rows =
        conn.query("SELECT name FROM watched_containers WHERE server_pk = $1 ORDER BY name", &[pk.into()]).await?;
    rows.iter().map(|row| row.str(0)).collect()
}

fn list<T: DeserializeOwned>(row: &Row, at: usize) -> StoreResult<Option<Vec<T>>> {
    let Some(text) = row.opt_str(at)? else { return Ok(None) };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| StoreError::Unreadable { what: format!("inventory {}", KEYS[at]), reason: e.to_string() })
}

async fn of_pk(conn: &mut dyn Conn, pk: i64, watch_all_containers: bool) -> StoreResult<MachineInventory> {
    let sql = format!("SELECT {}, updated_at FROM server_inventory WHERE server_pk = $1", KEYS.join(", "));
    let mut inventory = match conn.query_opt(&sql, &[pk.into()]).await? {
        Some(row) => MachineInventory {
            containers: list(&row, 0)?,
            temperatures: list(&row, 1)?,
            fans: list(&row, 2)?,
            disk_health: list(&row, 3)?,
            raid_arrays: list(&row, 4)?,
            zfs_pools: list(&row, 5)?,
            gpus: list(&row, 6)?,
            updated_at: Some(from_millis(row.i64(7)?)),
            ..MachineInventory::default()
        },
        None => MachineInventory::default(),
    };
    inventory.watched_containers = watched(conn, pk).await?;
    inventory.watch_all_containers = watch_all_containers;
    Ok(inventory)
}

async fn server(conn: &mut dyn Conn, server_id: &str) -> StoreResult<(i64, bool)> {
    let pk = find_by_id(conn, server_id).await?.ok_or_else(|| not_found(server_id))?.pk;
    let row = conn.query_one("SELECT watch_all_containers FROM servers WHERE pk = $1", &[pk.into()]).await?;
    Ok((pk, row.bool(0)?))
}

pub(crate) async fn get(conn: &mut dyn Conn, server_id: &str) -> StoreResult<MachineInventory> {
    let (pk, watch_all) = server(conn, server_id).await?;
    of_pk(conn, pk, watch_all).await
}

/// Every server's inventory, by server id (the fleet view's counts and hottest sensor).
pub(crate) async fn all(conn: &mut dyn Conn) -> StoreResult<Vec<(String, MachineInventory)>> {
    let rows = conn.query("SELECT pk, id, watch_all_containers FROM servers ORDER BY id", &[]).await?;
    let mut all = Vec::with_capacity(rows.len());
    for row in &rows {
        all.push((row.str(1)?, of_pk(conn, row.i64(0)?, row.bool(2)?).await?));
    }
    Ok(all)
}

/// Watches or stops watching one container. Watching a name the machine has not reported is
/// allowed: a container can be watched before it is deployed, and then alerts as missing.
pub(crate) async fn set_watched(
    conn: &mut dyn Conn,
    server_id: &str,
    name: &str,
    watched: bool,
    now: Timestamp,
) -> StoreResult<MachineInventory> {
    let (pk, watch_all) = server(conn, server_id).await?;
    if watched {
        watch(conn, pk, name, now).await?;
    } else {
        conn.execute("DELETE FROM watched_containers WHERE server_pk = $1 AND name = $2", &[pk.into(), name.into()])
            .await?;
    }
    of_pk(conn, pk, watch_all).await
}

/// Turns "watch all running containers" on or off. Turning it on watches the containers running
/// now at once; turning it off keeps the list as it is (each can be unwatched by hand).
pub(crate) async fn set_watch_all(
    conn: &mut dyn Conn,
    server_id: &str,
    on: bool,
    now: Timestamp,
) -> StoreResult<MachineInventory> {
    let (pk, _) = server(conn, server_id).await?;
    conn.execute("UPDATE servers SET watch_all_containers = $1 WHERE pk = $2", &[on.into(), pk.into()]).await?;
    let inventory = of_pk(conn, pk, on).await?;
    if on && let Some(containers) = &inventory.containers {
        watch_running(conn, pk, containers, now).await?;
        return of_pk(conn, pk, on).await;
    }
    Ok(inventory)
}
