//! The newest reported state of each service of a server, kept as one row per server.
//!
//! A heartbeat reports 5–15 services whose pid, memory and CPU change every time, so a row per
//! service meant 5–15 upserts per heartbeat: the largest single cost of ingest. One JSON array per
//! server is read and rewritten whole instead. `service_status` still logs every change of status
//! or reason, row by row, for history.

use std::collections::HashMap;

use homelab_core::heartbeat::ServiceReport;
use homelab_core::time::from_millis;
use serde::{Deserialize, Serialize};

use super::ingest::INSERT_CHUNK;
use crate::backend::{Conn, Value};
use crate::{ServiceStatusReport, StoreError, StoreResult};

/// One service's entry in a server's snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ServiceState {
    pub name: String,
    /// The agent's timestamp of the report (milliseconds), which decides whether a replayed
    /// report is older than what is kept.
    pub ts: i64,
    pub status: String,
    #[serde(default)]
    pub status_reason: Option<String>,
    #[serde(default)]
    pub pid: Option<i64>,
    #[serde(default)]
    pub memory_mb: Option<f64>,
    #[serde(default)]
    pub cpu_percent: Option<f64>,
}

impl ServiceState {
    fn reported(report: &ServiceReport, ts: i64) -> Self {
        ServiceState {
            name: report.name.clone(),
            ts,
            status: report.status.clone(),
            status_reason: report.status_reason.clone(),
            pid: report.pid,
            memory_mb: report.memory_mb,
            cpu_percent: report.cpu_percent,
        }
    }

    pub(crate) fn report(&self) -> ServiceStatusReport {
        ServiceStatusReport {
            status: self.status.clone(),
            status_reason: self.status_reason.clone(),
            pid: self.pid,
            memory_mb: self.memory_mb,
            cpu_percent: self.cpu_percent,
            last_seen: from_millis(self.ts),
        }
    }
}

/// The server's snapshot, sorted by service name; empty when it never reported a service.
pub(crate) async fn snapshot(conn: &mut dyn Conn, pk: i64) -> StoreResult<Vec<ServiceState>> {
    Ok(stored(conn, pk).await?.unwrap_or_default())
}

const SNAPSHOT_SQL: &str = "SELECT services FROM service_snapshots WHERE server_pk = $1";

/// Sends the read of [`record`] ahead of it (see [`Conn::prefetch`]); the caller holds the
/// server's row lock, so the snapshot cannot change in between.
pub(crate) async fn prefetch_record(conn: &mut dyn Conn, pk: i64) -> StoreResult<()> {
    conn.prefetch(SNAPSHOT_SQL, &[pk.into()]).await
}

/// The server's stored snapshot, or `None` when it has no row yet.
async fn stored(conn: &mut dyn Conn, pk: i64) -> StoreResult<Option<Vec<ServiceState>>> {
    match conn.query_opt(SNAPSHOT_SQL, &[pk.into()]).await? {
        Some(row) => decode(pk, &row.str(0)?).map(Some),
        None => Ok(None),
    }
}

/// The snapshots of several servers at once, by server key.
pub(crate) async fn snapshots(conn: &mut dyn Conn, pks: &[i64]) -> StoreResult<HashMap<i64, Vec<ServiceState>>> {
    let mut unique = pks.to_vec();
    unique.sort_unstable();
    unique.dedup();
    let mut found = HashMap::with_capacity(unique.len());
    for pk in unique {
        found.insert(pk, snapshot(conn, pk).await?);
    }
    Ok(found)
}

fn decode(pk: i64, json: &str) -> StoreResult<Vec<ServiceState>> {
    let mut states: Vec<ServiceState> = serde_json::from_str(json)
        .map_err(|e| StoreError::Database(format!("stored service states of server #{pk} are unreadable: {e}")))?;
    states.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(states)
}

/// Merges a heartbeat's service reports into the server's snapshot and logs changes of status or
/// reason. A replayed (older) report neither rolls a state back nor counts as a change; a
/// service missing from this heartbeat keeps its last state.
pub(crate) async fn record(conn: &mut dyn Conn, pk: i64, ts: i64, reports: &[ServiceReport]) -> StoreResult<()> {
    let existing = stored(conn, pk).await?;
    let has_row = existing.is_some();
    let mut states = existing.unwrap_or_default();
    let mut changed: Vec<&ServiceReport> = Vec::new();
    let mut touched = false;
    // Last report wins when an agent lists a service twice.
    for (index, report) in reports.iter().enumerate() {
        if reports[index + 1..].iter().any(|later| later.name == report.name) {
            continue;
        }
        let fresh = ServiceState::reported(report, ts);
        match states.binary_search_by(|s| s.name.as_str().cmp(&report.name)) {
            Ok(at) if states[at].ts > ts => {}
            Ok(at) => {
                let kept = &mut states[at];
                if kept.status != fresh.status || kept.status_reason != fresh.status_reason {
                    changed.push(report);
                }
                touched |= *kept != fresh;
                *kept = fresh;
            }
            Err(at) => {
                changed.push(report);
                touched = true;
                states.insert(at, fresh);
            }
        }
    }
    log_changes(conn, pk, ts, &changed).await?;
    if !touched {
        return Ok(());
    }
    let json = serde_json::to_string(&states)
        .map_err(|e| StoreError::Database(format!("service states of server #{pk} cannot be encoded: {e}")))?;
    let sql = if has_row {
        "UPDATE service_snapshots SET services = $2 WHERE server_pk = $1"
    } else {
        "INSERT INTO service_snapshots (server_pk, services) VALUES ($1, $2)"
    };
    conn.execute_deferred(sql, &[pk.into(), json.into()]).await?;
    Ok(())
}

async fn log_changes(conn: &mut dyn Conn, pk: i64, ts: i64, services: &[&ServiceReport]) -> StoreResult<()> {
    for chunk in services.chunks(INSERT_CHUNK) {
        let mut values = Vec::with_capacity(chunk.len());
        let mut params: Vec<Value> = vec![pk.into(), ts.into()];
        for service in chunk {
            let base = params.len();
            params.extend([
                (&service.name).into(),
                (&service.status).into(),
                service.status_reason.as_deref().into(),
                service.pid.into(),
                service.memory_mb.into(),
                service.cpu_percent.into(),
            ]);
            values.push(format!(
                "($1, ${}, $2, ${}, ${}, ${}, ${}, ${})",
                base + 1,
                base + 2,
                base + 3,
                base + 4,
                base + 5,
                base + 6
            ));
        }
        let sql = format!(
            "INSERT INTO service_status (server_pk, service_name, ts, status, status_reason, pid, memory_mb, \
             cpu_percent) VALUES {} ON CONFLICT (server_pk, service_name, ts) DO NOTHING",
            values.join(", ")
        );
        conn.execute_deferred(&sql, &params).await?;
    }
    Ok(())
}
