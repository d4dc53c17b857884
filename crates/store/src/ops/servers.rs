//! Servers: CRUD, maintenance mode, package lists.

use std::collections::HashMap;

use homelab_core::server::{NewServer, Package, Patch, Server, ServerUpdate};
use homelab_core::snapshot::Snapshot;
use homelab_core::status::{MachineType, ServerStatus};
use homelab_core::time::{Timestamp, from_millis, to_millis};

use crate::backend::{Conn, Row, Value};
use crate::{StoreError, StoreResult};

/// The stored `status` column (written only by this crate, so anything else is corruption).
pub(crate) fn server_status(text: &str) -> StoreResult<ServerStatus> {
    ServerStatus::parse(text).ok_or_else(|| StoreError::Database(format!("unknown server status '{text}'")))
}

/// The stored `machine_type` column (validated on the way in).
pub(crate) fn machine_type(text: &str) -> StoreResult<MachineType> {
    MachineType::parse(text).ok_or_else(|| StoreError::Database(format!("unknown machine type '{text}'")))
}

/// Columns read by [`server_from_row`], in its order.
pub(crate) const SERVER_COLUMNS: &str = "pk, id, guid, hostname, display_name, ip_address, status, tdp_watts, \
    cpu_model, cpu_cores, machine_category, machine_category_source, idle_watts, os_distribution, os_version, \
    kernel_version, architecture, updates_available, security_updates, is_paused, paused_at, agent_version, \
    agent_mode, is_inactive, inactive_since, last_seen, tailscale_hostname, machine_type, ssh_username, sudo_mode, \
    config_user, created_at, updated_at, latest_metrics, filesystems, network_interfaces, assigned_packs, \
    drift_detection_enabled, depends_on";

fn opt_time(row: &Row, index: usize) -> StoreResult<Option<Timestamp>> {
    Ok(row.opt_i64(index)?.map(from_millis))
}

fn opt_json<T: serde::de::DeserializeOwned>(row: &Row, index: usize) -> StoreResult<Option<T>> {
    row.opt_str(index)?.map(|text| serde_json::from_str(&text)).transpose().map_err(Into::into)
}

/// A stored JSON snapshot, passed on as its text (checked to be JSON, not parsed into values).
fn opt_snapshot<T>(row: &Row, index: usize) -> StoreResult<Option<Snapshot<T>>> {
    row.opt_str(index)?.map(Snapshot::from_json).transpose().map_err(Into::into)
}

/// A server row with its surrogate key (history tables refer to `pk`, the API to `id`).
pub(crate) struct StoredServer {
    pub pk: i64,
    pub server: Server,
}

pub(crate) fn server_from_row(row: &Row) -> StoreResult<StoredServer> {
    let server = Server {
        id: row.str(1)?,
        guid: row.opt_str(2)?,
        hostname: row.str(3)?,
        display_name: row.opt_str(4)?,
        ip_address: row.opt_str(5)?,
        status: server_status(&row.str(6)?)?,
        tdp_watts: row.opt_i64(7)?,
        cpu_model: row.opt_str(8)?,
        cpu_cores: row.opt_i64(9)?,
        machine_category: row.opt_str(10)?,
        machine_category_source: row.opt_str(11)?,
        idle_watts: row.opt_i64(12)?,
        os_distribution: row.opt_str(13)?,
        os_version: row.opt_str(14)?,
        kernel_version: row.opt_str(15)?,
        architecture: row.opt_str(16)?,
        updates_available: row.opt_i64(17)?,
        security_updates: row.opt_i64(18)?,
        is_paused: row.bool(19)?,
        paused_at: opt_time(row, 20)?,
        agent_version: row.opt_str(21)?,
        agent_mode: row.opt_str(22)?,
        is_inactive: row.bool(23)?,
        inactive_since: opt_time(row, 24)?,
        last_seen: opt_time(row, 25)?,
        tailscale_hostname: row.opt_str(26)?,
        machine_type: machine_type(&row.str(27)?)?,
        ssh_username: row.opt_str(28)?,
        sudo_mode: row.str(29)?,
        config_user: row.opt_str(30)?,
        created_at: from_millis(row.i64(31)?),
        updated_at: from_millis(row.i64(32)?),
        latest_metrics: opt_snapshot(row, 33)?,
        filesystems: opt_snapshot(row, 34)?,
        network_interfaces: opt_snapshot(row, 35)?,
        active_alert_count: 0,
        active_alert_summaries: Vec::new(),
        assigned_packs: opt_json::<Vec<String>>(row, 36)?,
        drift_detection_enabled: row.bool(37)?,
        depends_on: row.opt_str(38)?,
    };
    Ok(StoredServer { pk: row.i64(0)?, server })
}

pub(crate) fn not_found(id: &str) -> StoreError {
    StoreError::NotFound(format!("Server '{id}' not found"))
}

pub(crate) async fn find_by_id(conn: &mut dyn Conn, id: &str) -> StoreResult<Option<StoredServer>> {
    let sql = format!("SELECT {SERVER_COLUMNS} FROM servers WHERE id = $1");
    conn.query_opt(&sql, &[id.into()]).await?.as_ref().map(server_from_row).transpose()
}

/// The few columns the heartbeat path needs to match a server; reading the whole row (and
/// parsing its JSON snapshots) on every heartbeat cost more than the rest of the ingest.
pub(crate) struct ServerKey {
    pub pk: i64,
    pub id: String,
    pub guid: Option<String>,
    pub is_inactive: bool,
    /// Agent time of the newest stored snapshot: an older heartbeat is a replay.
    pub latest_metrics_at: Option<i64>,
}

fn key_from_row(row: &Row) -> StoreResult<ServerKey> {
    Ok(ServerKey {
        pk: row.i64(0)?,
        id: row.str(1)?,
        guid: row.opt_str(2)?,
        is_inactive: row.bool(3)?,
        latest_metrics_at: row.opt_i64(4)?,
    })
}

pub(crate) async fn key_by_id(conn: &mut dyn Conn, id: &str) -> StoreResult<Option<ServerKey>> {
    let sql = "SELECT pk, id, guid, is_inactive, latest_metrics_at FROM servers WHERE id = $1";
    conn.query_opt(sql, &[id.into()]).await?.as_ref().map(key_from_row).transpose()
}

pub(crate) async fn key_by_guid(conn: &mut dyn Conn, guid: &str) -> StoreResult<Option<ServerKey>> {
    let sql = "SELECT pk, id, guid, is_inactive, latest_metrics_at FROM servers WHERE guid = $1";
    conn.query_opt(sql, &[guid.into()]).await?.as_ref().map(key_from_row).transpose()
}

/// The server with its open-alert count and summaries (v1 left them empty here).
pub(crate) async fn get(conn: &mut dyn Conn, id: &str) -> StoreResult<Server> {
    let stored = find_by_id(conn, id).await?.ok_or_else(|| not_found(id))?;
    let mut summaries = super::alerts::open_summaries(conn, Some(stored.pk)).await?;
    Ok(with_alerts(stored, &mut summaries))
}

/// Every server; alert counts come from one extra query, not one per server.
pub(crate) async fn list(conn: &mut dyn Conn) -> StoreResult<Vec<Server>> {
    let sql = format!("SELECT {SERVER_COLUMNS} FROM servers ORDER BY pk");
    let rows = conn.query(&sql, &[]).await?;
    let mut summaries = super::alerts::open_summaries(conn, None).await?;
    rows.iter().map(|row| server_from_row(row).map(|s| with_alerts(s, &mut summaries))).collect()
}

/// A page of [`list`], and the number of servers in all.
pub(crate) async fn list_page(conn: &mut dyn Conn, limit: i64, offset: i64) -> StoreResult<(Vec<Server>, i64)> {
    let sql = format!("SELECT {SERVER_COLUMNS} FROM servers ORDER BY pk LIMIT $1 OFFSET $2");
    let rows = conn.query(&sql, &[limit.into(), offset.into()]).await?;
    let total = conn.query_one("SELECT COUNT(*) FROM servers", &[]).await?.i64(0)?;
    let mut summaries = super::alerts::open_summaries(conn, None).await?;
    let servers: StoreResult<Vec<Server>> =
        rows.iter().map(|row| server_from_row(row).map(|s| with_alerts(s, &mut summaries))).collect();
    Ok((servers?, total))
}

fn with_alerts(stored: StoredServer, summaries: &mut HashMap<i64, (i64, Vec<String>)>) -> Server {
    let mut server = stored.server;
    if let Some((count, titles)) = summaries.remove(&stored.pk) {
        server.active_alert_count = count;
        server.active_alert_summaries = titles;
    }
    server
}

pub(crate) async fn create(conn: &mut dyn Conn, new: &NewServer, now: Timestamp) -> StoreResult<Server> {
    let packs = serde_json::to_string(&new.assigned_packs())?;
    let inserted = conn
        .execute(
            "INSERT INTO servers (id, hostname, display_name, ip_address, tdp_watts, machine_type, assigned_packs, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (id) DO NOTHING",
            &[
                (&new.id).into(),
                (&new.hostname).into(),
                new.display_name.as_deref().into(),
                new.ip_address.as_deref().into(),
                new.tdp_watts.into(),
                (&new.machine_type).into(),
                packs.into(),
                to_millis(&now).into(),
            ],
        )
        .await?;
    if inserted == 0 {
        return Err(StoreError::Conflict(format!("Server '{}' already exists", new.id)));
    }
    get(conn, &new.id).await
}

/// Appends `column = $n` to an UPDATE when the patch carries the key.
fn patch_column<T: Clone + Into<Value>>(
    sets: &mut Vec<String>,
    params: &mut Vec<Value>,
    column: &str,
    patch: &Patch<T>,
) {
    if let Some(value) = patch {
        params.push(value.clone().into());
        sets.push(format!("{column} = ${}", params.len()));
    }
}

pub(crate) async fn update(
    conn: &mut dyn Conn,
    id: &str,
    update: &ServerUpdate,
    now: Timestamp,
) -> StoreResult<Server> {
    let mut sets = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    patch_column(&mut sets, &mut params, "hostname", &update.hostname);
    patch_column(&mut sets, &mut params, "display_name", &update.display_name);
    patch_column(&mut sets, &mut params, "ip_address", &update.ip_address);
    patch_column(&mut sets, &mut params, "tdp_watts", &update.tdp_watts);
    patch_column(&mut sets, &mut params, "machine_category", &update.machine_category);
    patch_column(&mut sets, &mut params, "machine_category_source", &update.machine_category_source);
    patch_column(&mut sets, &mut params, "idle_watts", &update.idle_watts);
    patch_column(&mut sets, &mut params, "ssh_username", &update.ssh_username);
    patch_column(&mut sets, &mut params, "sudo_mode", &update.sudo_mode);
    patch_column(&mut sets, &mut params, "config_user", &update.config_user);
    patch_column(&mut sets, &mut params, "machine_type", &update.machine_type);
    patch_column(&mut sets, &mut params, "depends_on", &update.depends_on);
    params.push(to_millis(&now).into());
    sets.push(format!("updated_at = ${}", params.len()));
    params.push(id.into());
    let sql = format!("UPDATE servers SET {} WHERE id = ${}", sets.join(", "), params.len());
    if conn.execute(&sql, &params).await? == 0 {
        return Err(not_found(id));
    }
    get(conn, id).await
}

pub(crate) async fn delete(conn: &mut dyn Conn, id: &str) -> StoreResult<()> {
    // It and the machines behind it, whose rows change too, in the one global order.
    let involved = conn.query("SELECT pk, id FROM servers WHERE id = $1 OR depends_on = $1", &[id.into()]).await?;
    super::alerts::lock_servers(conn, &super::alerts::server_refs(&involved)?).await?;
    if conn.execute("DELETE FROM servers WHERE id = $1", &[id.into()]).await? == 0 {
        return Err(not_found(id));
    }
    // Machines behind it stand on their own again.
    conn.execute("UPDATE servers SET depends_on = NULL WHERE depends_on = $1", &[id.into()]).await?;
    Ok(())
}

pub(crate) async fn set_paused(conn: &mut dyn Conn, id: &str, paused: bool, now: Timestamp) -> StoreResult<Server> {
    let paused_at = paused.then(|| to_millis(&now));
    let changed = conn
        .execute(
            "UPDATE servers SET is_paused = $1, paused_at = $2, updated_at = $3 WHERE id = $4",
            &[paused.into(), paused_at.into(), to_millis(&now).into(), id.into()],
        )
        .await?;
    if changed == 0 {
        return Err(not_found(id));
    }
    get(conn, id).await
}

pub(crate) async fn packages(conn: &mut dyn Conn, id: &str) -> StoreResult<Vec<Package>> {
    let stored = find_by_id(conn, id).await?.ok_or_else(|| not_found(id))?;
    let rows = conn
        .query(
            "SELECT name, current_version, new_version, repository, is_security, detected_at, updated_at \
             FROM pending_packages WHERE server_pk = $1 ORDER BY name",
            &[stored.pk.into()],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Package {
                name: row.str(0)?,
                current_version: row.str(1)?,
                new_version: row.str(2)?,
                repository: row.str(3)?,
                is_security: row.bool(4)?,
                detected_at: from_millis(row.i64(5)?),
                updated_at: from_millis(row.i64(6)?),
            })
        })
        .collect()
}
