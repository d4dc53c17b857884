//! Expected services of a server (v1 `expected_services`): what the service-down rules watch.

use homelab_core::alerts::{AlertKey, Observation};
use homelab_core::time::{Timestamp, from_millis, to_millis};

use super::alerts::{load_rules, lock_server, observe};
use super::servers::{find_by_id, not_found};
use super::service_states::{ServiceState, snapshot};
use crate::backend::{Conn, Row, Value};
use crate::{
    ExpectedServiceRecord, ExpectedServiceUpdate, NewExpectedService, ReportedService, StoreError, StoreResult,
};

const COLUMNS: &str = "service_name, display_name, is_critical, enabled, created_at, grace_seconds";

fn from_row(row: &Row, states: &[ServiceState]) -> StoreResult<ExpectedServiceRecord> {
    let service_name = row.str(0)?;
    let current_status = states.iter().find(|s| s.name == service_name).map(ServiceState::report);
    Ok(ExpectedServiceRecord {
        service_name,
        display_name: row.opt_str(1)?,
        is_critical: row.bool(2)?,
        enabled: row.bool(3)?,
        grace_seconds: row.opt_i64(5)?,
        created_at: from_millis(row.i64(4)?),
        current_status,
    })
}

fn service_not_found(server_id: &str, name: &str) -> StoreError {
    StoreError::NotFound(format!("Service '{name}' not found for server '{server_id}'"))
}

async fn server_pk(conn: &mut dyn Conn, server_id: &str) -> StoreResult<i64> {
    Ok(find_by_id(conn, server_id).await?.ok_or_else(|| not_found(server_id))?.pk)
}

async fn one(conn: &mut dyn Conn, pk: i64, server_id: &str, name: &str) -> StoreResult<ExpectedServiceRecord> {
    let sql = format!("SELECT {COLUMNS} FROM expected_services WHERE server_pk = $1 AND service_name = $2");
    let row =
        conn.query_opt(&sql, &[pk.into(), name.into()]).await?.ok_or_else(|| service_not_found(server_id, name))?;
    from_row(&row, &snapshot(conn, pk).await?)
}

pub(crate) async fn list(conn: &mut dyn Conn, server_id: &str) -> StoreResult<Vec<ExpectedServiceRecord>> {
    let pk = server_pk(conn, server_id).await?;
    let sql = format!("SELECT {COLUMNS} FROM expected_services WHERE server_pk = $1 ORDER BY service_name");
    let rows = conn.query(&sql, &[pk.into()]).await?;
    let states = snapshot(conn, pk).await?;
    rows.iter().map(|row| from_row(row, &states)).collect()
}

pub(crate) async fn reported(conn: &mut dyn Conn, server_id: &str) -> StoreResult<Vec<ReportedService>> {
    let pk = server_pk(conn, server_id).await?;
    let expected = conn.query("SELECT service_name FROM expected_services WHERE server_pk = $1", &[pk.into()]).await?;
    let expected = expected.iter().map(|row| row.str(0)).collect::<StoreResult<Vec<_>>>()?;
    Ok(snapshot(conn, pk)
        .await?
        .iter()
        .map(|state| ReportedService {
            service_name: state.name.clone(),
            expected: expected.contains(&state.name),
            status: state.report(),
        })
        .collect())
}

pub(crate) async fn create(
    conn: &mut dyn Conn,
    server_id: &str,
    new: &NewExpectedService,
    now: Timestamp,
) -> StoreResult<ExpectedServiceRecord> {
    let pk = server_pk(conn, server_id).await?;
    let inserted = conn
        .execute(
            "INSERT INTO expected_services (server_pk, service_name, display_name, is_critical, enabled, created_at, \
             grace_seconds) VALUES ($1, $2, $3, $4, TRUE, $5, $6) ON CONFLICT (server_pk, service_name) DO NOTHING",
            &[
                pk.into(),
                (&new.service_name).into(),
                new.display_name.as_deref().into(),
                new.is_critical.into(),
                to_millis(&now).into(),
                new.grace_seconds.into(),
            ],
        )
        .await?;
    if inserted == 0 {
        return Err(StoreError::Conflict(format!(
            "Service '{}' already exists for server '{server_id}'",
            new.service_name
        )));
    }
    one(conn, pk, server_id, &new.service_name).await
}

pub(crate) async fn update(
    conn: &mut dyn Conn,
    server_id: &str,
    name: &str,
    update: &ExpectedServiceUpdate,
    now: Timestamp,
) -> StoreResult<ExpectedServiceRecord> {
    let pk = server_pk(conn, server_id).await?;
    let mut sets = Vec::new();
    let mut params: Vec<Value> = vec![pk.into(), name.into()];
    if let Some(display_name) = &update.display_name {
        params.push(display_name.as_deref().into());
        sets.push(format!("display_name = ${}", params.len()));
    }
    if let Some(is_critical) = update.is_critical {
        params.push(is_critical.into());
        sets.push(format!("is_critical = ${}", params.len()));
    }
    if let Some(enabled) = update.enabled {
        params.push(enabled.into());
        sets.push(format!("enabled = ${}", params.len()));
    }
    if let Some(grace_seconds) = update.grace_seconds {
        params.push(grace_seconds.into());
        sets.push(format!("grace_seconds = ${}", params.len()));
    }
    if !sets.is_empty() {
        let sql =
            format!("UPDATE expected_services SET {} WHERE server_pk = $1 AND service_name = $2", sets.join(", "));
        if conn.execute(&sql, &params).await? == 0 {
            return Err(service_not_found(server_id, name));
        }
    }
    if update.enabled == Some(false) {
        close_alert(conn, pk, name, now).await?;
    }
    one(conn, pk, server_id, name).await
}

pub(crate) async fn delete(conn: &mut dyn Conn, server_id: &str, name: &str, now: Timestamp) -> StoreResult<()> {
    let pk = server_pk(conn, server_id).await?;
    let deleted = conn
        .execute("DELETE FROM expected_services WHERE server_pk = $1 AND service_name = $2", &[pk.into(), name.into()])
        .await?;
    if deleted == 0 {
        return Err(service_not_found(server_id, name));
    }
    close_alert(conn, pk, name, now).await
}

/// Resolves the service's active alert through the engine (as a person would), so that an alert
/// about a service nobody watches any more does not stay open for ever.
async fn close_alert(conn: &mut dyn Conn, pk: i64, name: &str, now: Timestamp) -> StoreResult<()> {
    lock_server(conn, pk).await?;
    let rules = load_rules(conn).await?;
    // Its crash-loop alert too: nobody watches the service any more.
    for key in [AlertKey::service(name), AlertKey::crash_loop(name)] {
        let observation = Observation::Resolve { key: key.clone(), alert_id: None, now };
        observe(conn, pk, &rules, &observation, Some(&key)).await?;
    }
    Ok(())
}
