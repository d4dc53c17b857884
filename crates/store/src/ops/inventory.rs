//! What agents report beyond v1 (`server_inventory`: each key's latest report, as JSON) and the
//! containers each server watches (`watched_containers`, `servers.watch_all_containers`).
//!
//! A heartbeat without any of these keys touches neither table, so it costs what it did before.

use std::collections::HashMap;

use homelab_core::heartbeat::HeartbeatRequest;
use homelab_core::inventory::{ContainerReport, MachineInventory};
use homelab_core::time::{Timestamp, from_millis, to_millis};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::servers::{key_by_id, not_found};
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

fn list<T: DeserializeOwned>(row: &Row, at: usize, key: usize) -> StoreResult<Option<Vec<T>>> {
    let Some(text) = row.opt_str(at + key)? else { return Ok(None) };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| StoreError::Unreadable { what: format!("inventory {}", KEYS[key]), reason: e.to_string() })
}

/// `pk, id, watch_all_containers` of servers joined with their inventory columns (all NULL for a
/// machine that has reported none), read by [`from_row`].
fn joined_sql(filter: &str) -> String {
    let columns: Vec<String> = KEYS.iter().map(|key| format!("i.{key}")).collect();
    format!(
        "SELECT s.pk, s.id, s.watch_all_containers, {}, i.updated_at FROM servers s \
         LEFT JOIN server_inventory i ON i.server_pk = s.pk {filter}",
        columns.join(", ")
    )
}

/// A row of [`joined_sql`], but for the watched containers.
fn from_row(row: &Row) -> StoreResult<MachineInventory> {
    const AT: usize = 3;
    Ok(MachineInventory {
        containers: list(row, AT, 0)?,
        temperatures: list(row, AT, 1)?,
        fans: list(row, AT, 2)?,
        disk_health: list(row, AT, 3)?,
        raid_arrays: list(row, AT, 4)?,
        zfs_pools: list(row, AT, 5)?,
        gpus: list(row, AT, 6)?,
        updated_at: row.opt_i64(AT + KEYS.len())?.map(from_millis),
        watch_all_containers: row.bool(2)?,
        ..MachineInventory::default()
    })
}

/// One server's inventory and its key.
async fn of_server(conn: &mut dyn Conn, server_id: &str) -> StoreResult<(i64, MachineInventory)> {
    let row = conn
        .query_opt(&joined_sql("WHERE s.id = $1"), &[server_id.into()])
        .await?
        .ok_or_else(|| not_found(server_id))?;
    let pk = row.i64(0)?;
    let mut inventory = from_row(&row)?;
    inventory.watched_containers = watched(conn, pk).await?;
    Ok((pk, inventory))
}

pub(crate) async fn get(conn: &mut dyn Conn, server_id: &str) -> StoreResult<MachineInventory> {
    Ok(of_server(conn, server_id).await?.1)
}

/// Every server's inventory, by server id (the fleet view's counts and hottest sensor), in two
/// queries whatever the size of the fleet.
pub(crate) async fn all(conn: &mut dyn Conn) -> StoreResult<Vec<(String, MachineInventory)>> {
    let mut watched: HashMap<i64, Vec<String>> = HashMap::new();
    for row in conn.query("SELECT server_pk, name FROM watched_containers ORDER BY server_pk, name", &[]).await? {
        watched.entry(row.i64(0)?).or_default().push(row.str(1)?);
    }
    let rows = conn.query(&joined_sql("ORDER BY s.id"), &[]).await?;
    let mut all = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut inventory = from_row(row)?;
        inventory.watched_containers = watched.remove(&row.i64(0)?).unwrap_or_default();
        all.push((row.str(1)?, inventory));
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
    let pk = key_by_id(conn, server_id).await?.ok_or_else(|| not_found(server_id))?.pk;
    if watched {
        watch(conn, pk, name, now).await?;
    } else {
        conn.execute("DELETE FROM watched_containers WHERE server_pk = $1 AND name = $2", &[pk.into(), name.into()])
            .await?;
    }
    Ok(of_server(conn, server_id).await?.1)
}

/// Turns "watch all running containers" on or off. Turning it on watches the containers running
/// now at once; turning it off keeps the list as it is (each can be unwatched by hand).
pub(crate) async fn set_watch_all(
    conn: &mut dyn Conn,
    server_id: &str,
    on: bool,
    now: Timestamp,
) -> StoreResult<MachineInventory> {
    let (pk, inventory) = of_server(conn, server_id).await?;
    conn.execute("UPDATE servers SET watch_all_containers = $1 WHERE pk = $2", &[on.into(), pk.into()]).await?;
    if on && let Some(containers) = &inventory.containers {
        watch_running(conn, pk, containers, now).await?;
    }
    Ok(of_server(conn, server_id).await?.1)
}
