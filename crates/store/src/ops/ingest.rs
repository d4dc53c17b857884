//! The heartbeat write path: match (or register) the server, refresh its snapshot, append
//! history, replace packages. All of it in the caller's transaction.

use std::collections::HashMap;
use std::sync::Mutex;

use homelab_core::heartbeat::HeartbeatRequest;
use homelab_core::history::{MetricKind, Sample, bucket_start, samples_of};
use homelab_core::power::{SOURCE_AUTO, SOURCE_USER, infer_category};
use homelab_core::time::{Timestamp, to_millis};

use homelab_core::alerts::{HeartbeatSample, Observation};

use super::servers::{ServerKey, key_by_guid, key_by_id};
use super::{alerts, inventory, service_states};
use crate::backend::{Conn, Value};
use crate::codec;
use crate::{HeartbeatOutcome, HeartbeatWrite, StoreError, StoreResult};

/// Rows per multi-row INSERT: keeps statements (and SQLite's statement cache) small.
pub(super) const INSERT_CHUNK: usize = 64;

/// The parts of a heartbeat's write that need no database: the `UPDATE` of the server row with
/// its JSON snapshots encoded, and the history samples. Built on the request's thread before the
/// unit is queued, so that SQLite's single writer, which bounds ingest, only runs SQL.
pub(crate) struct Prepared {
    /// The statement and its parameters but the last, the server's key (found in the unit).
    server_update: String,
    server_params: Vec<Value>,
    samples: Vec<Sample>,
}

impl Prepared {
    pub(crate) fn of(write: &HeartbeatWrite) -> StoreResult<Self> {
        let (server_update, server_params) = server_update(write)?;
        Ok(Prepared { server_update, server_params, samples: samples_of(&write.request) })
    }
}

pub(crate) async fn ingest(
    conn: &mut dyn Conn,
    cache: &SeriesCache,
    rules: &alerts::RulesCache,
    write: &HeartbeatWrite,
    prepared: Prepared,
) -> StoreResult<HeartbeatOutcome> {
    let hb = &write.request;
    let (server, registered) = match match_server(conn, write).await? {
        Some(server) => (server, false),
        None => match register(conn, write).await? {
            Some(server) => (server, true),
            // Created by a concurrent heartbeat: apply the usual matching rules to it.
            None => (match_server(conn, write).await?.ok_or_else(|| not_found_after_race(&write.request))?, false),
        },
    };
    if server.is_inactive {
        return Err(StoreError::Forbidden(format!(
            "Server '{}' is inactive (agent removed). Uninstall the agent.",
            server.id
        )));
    }
    let Prepared { server_update, mut server_params, samples } = prepared;
    server_params.push(server.pk.into());
    conn.execute_deferred(&server_update, &server_params).await?;
    // The row is locked now: send the reads below ahead (PostgreSQL answers them meanwhile).
    if hb.services.is_some() {
        service_states::prefetch_record(conn, server.pk).await?;
    }
    alerts::prefetch_observe(conn, server.pk).await?;
    let ts = to_millis(&hb.timestamp);
    append_samples(conn, cache, server.pk, ts, &samples).await?;
    if let Some(services) = &hb.services {
        // Safe against a concurrent heartbeat of the same server: the server's `UPDATE` above
        // has locked its row until commit.
        service_states::record(conn, server.pk, ts, services).await?;
    }
    if let Some(packages) = &hb.packages {
        replace_packages(conn, server.pk, packages, write.received_at).await?;
    }
    inventory::record(conn, server.pk, hb, write.received_at).await?;
    let outbox_events = evaluate_alerts(conn, rules, &server, write).await?;
    if let Some(guid) = &write.authenticated_guid {
        conn.execute_deferred(
            "UPDATE agent_credentials SET last_used_at = $1 WHERE server_guid = $2 AND revoked_at IS NULL",
            &[to_millis(&write.received_at).into(), guid.into()],
        )
        .await?;
    }
    Ok(HeartbeatOutcome { server_id: server.id, server_registered: registered, outbox_events })
}

/// Runs the alert engine on this heartbeat in the same transaction, so that engine state, alert
/// rows and outbox events commit atomically with the heartbeat itself. The server row is already
/// locked by the server's `UPDATE`, which serialises concurrent evaluations of one server.
///
/// A heartbeat older than one already stored (an agent replaying its spool after an outage) is
/// history, not news: its readings are not evaluated, or a backlog would open and resolve alerts
/// about the past. It still proves the server is alive, so it resolves an offline alert.
/// Returns how many notification events went to the outbox.
async fn evaluate_alerts(
    conn: &mut dyn Conn,
    rules: &alerts::RulesCache,
    server: &ServerKey,
    write: &HeartbeatWrite,
) -> StoreResult<usize> {
    let rules = rules.load(conn).await?;
    let replayed = server.latest_metrics_at.is_some_and(|newest| newest > to_millis(&write.request.timestamp));
    let sample = if replayed { HeartbeatSample::default() } else { HeartbeatSample::from_request(&write.request) };
    let observation = Observation::Heartbeat { sample, now: write.received_at };
    let events = alerts::observe(conn, server.pk, &rules, &observation, None).await?;
    Ok(events.iter().filter(|event| event.notify).count())
}

fn not_found_after_race(hb: &HeartbeatRequest) -> StoreError {
    StoreError::Conflict(format!("Server '{}' changed while this heartbeat was stored; retry", hb.server_id))
}

/// Finds the server a heartbeat belongs to. A per-agent token may only write its own server;
/// a GUID and a server id that point at two different servers are refused rather than
/// written under the wrong id (a v1 defect).
async fn match_server(conn: &mut dyn Conn, write: &HeartbeatWrite) -> StoreResult<Option<ServerKey>> {
    let hb = &write.request;
    if let Some(token_guid) = &write.authenticated_guid {
        if hb.server_guid.as_ref().is_some_and(|guid| guid != token_guid) {
            return Err(StoreError::Forbidden(format!(
                "This agent token belongs to server GUID {token_guid}, not {}",
                hb.server_guid.as_deref().unwrap_or_default()
            )));
        }
        let server = key_by_guid(conn, token_guid)
            .await?
            .ok_or_else(|| StoreError::Forbidden(format!("No server has GUID {token_guid}")))?;
        if server.id != hb.server_id {
            return Err(StoreError::Forbidden(format!(
                "This agent token belongs to server '{}'; it may not write heartbeats for '{}'",
                server.id, hb.server_id
            )));
        }
        return Ok(Some(server));
    }
    if let Some(guid) = &hb.server_guid
        && let Some(server) = key_by_guid(conn, guid).await?
    {
        if server.id != hb.server_id {
            return Err(StoreError::Conflict(format!(
                "GUID {guid} belongs to server '{}', not '{}'",
                server.id, hb.server_id
            )));
        }
        return Ok(Some(server));
    }
    let Some(server) = key_by_id(conn, &hb.server_id).await? else { return Ok(None) };
    match (&server.guid, &hb.server_guid) {
        (Some(existing), Some(sent)) if existing != sent => {
            Err(StoreError::Conflict(format!("Server '{}' already has a different GUID", hb.server_id)))
        }
        (None, Some(sent)) => {
            // A server created by hand (or by a v1 hub) adopts its agent's GUID.
            conn.execute("UPDATE servers SET guid = $1 WHERE pk = $2", &[sent.into(), server.pk.into()]).await?;
            Ok(Some(server))
        }
        _ => Ok(Some(server)),
    }
}

/// Creates the server a heartbeat names. Returns `None` when a concurrent heartbeat created it
/// first (the caller then uses that row).
async fn register(conn: &mut dyn Conn, write: &HeartbeatWrite) -> StoreResult<Option<ServerKey>> {
    let hb = &write.request;
    let now = to_millis(&write.received_at);
    let inserted = conn
        .execute(
            "INSERT INTO servers (id, guid, hostname, status, last_seen, created_at, updated_at) \
             VALUES ($1, $2, $3, 'online', $4, $4, $4) ON CONFLICT DO NOTHING",
            &[(&hb.server_id).into(), hb.server_guid.as_deref().into(), (&hb.hostname).into(), now.into()],
        )
        .await?;
    let server = key_by_id(conn, &hb.server_id).await?.ok_or_else(|| {
        StoreError::Conflict(format!(
            "GUID {} is already registered to another server",
            hb.server_guid.as_deref().unwrap_or_default()
        ))
    })?;
    Ok((inserted == 1).then_some(server))
}

/// The `UPDATE` that refreshes the server row, and its parameters but the last: the server's key.
/// Executed first thing after matching, it also locks the row for the rest of the transaction.
fn server_update(write: &HeartbeatWrite) -> StoreResult<(String, Vec<Value>)> {
    let hb = &write.request;
    let now = to_millis(&write.received_at);
    let mut sets = vec![
        "status = 'online'".to_owned(),
        "last_seen = $1".to_owned(),
        "updated_at = $1".to_owned(),
        "hostname = $2".to_owned(),
        "ip_address = COALESCE($3, ip_address)".to_owned(),
    ];
    let mut params: Vec<Value> = vec![now.into(), (&hb.hostname).into(), write.peer_ip.as_deref().into()];
    let mut set = |column: &str, value: Value| {
        params.push(value);
        sets.push(format!("{column} = ${}", params.len()));
    };
    if let Some(os) = &hb.os_info {
        set("os_distribution", os.distribution.as_deref().into());
        set("os_version", os.version.as_deref().into());
        set("kernel_version", os.kernel.as_deref().into());
        set("architecture", os.architecture.as_deref().into());
    }
    if let Some(cpu) = &hb.cpu_info {
        set("cpu_model", cpu.cpu_model.as_deref().into());
        set("cpu_cores", cpu.cpu_cores.into());
    }
    if let Some(version) = &hb.agent_version {
        set("agent_version", version.into());
    }
    if let Some(mode) = &hb.agent_mode {
        set("agent_mode", mode.into());
    }
    if let Some(count) = hb.updates_available {
        set("updates_available", count.into());
    }
    if let Some(count) = hb.security_updates {
        set("security_updates", count.into());
    }
    if let Some(cpu) = &hb.cpu_info {
        // v1: the CPU suggests the power category unless a person chose one.
        let architecture = hb.os_info.as_ref().and_then(|os| os.architecture.as_deref());
        if let Some(category) = infer_category(cpu.cpu_model.as_deref(), architecture) {
            params.push(category.as_str().into());
            sets.push(format!(
                "machine_category = CASE WHEN machine_category_source = '{SOURCE_USER}' THEN machine_category ELSE ${} END",
                params.len()
            ));
            sets.push(format!(
                "machine_category_source = CASE WHEN machine_category_source = '{SOURCE_USER}' \
                 THEN machine_category_source ELSE '{SOURCE_AUTO}' END"
            ));
        }
    }
    let ts = to_millis(&hb.timestamp);
    let mut snapshot = |column: &str, json: String| {
        // A replayed (older) heartbeat must not overwrite a newer snapshot.
        params.push(json.into());
        let json_param = params.len();
        params.push(ts.into());
        sets.push(format!(
            "{column} = CASE WHEN latest_metrics_at IS NULL OR latest_metrics_at <= ${} THEN ${json_param} ELSE {column} END",
            params.len()
        ));
    };
    if let Some(metrics) = &hb.metrics {
        snapshot("latest_metrics", serde_json::to_string(metrics)?);
    }
    if let Some(filesystems) = &hb.filesystems {
        snapshot("filesystems", serde_json::to_string(filesystems)?);
    }
    if let Some(interfaces) = &hb.network_interfaces {
        snapshot("network_interfaces", serde_json::to_string(interfaces)?);
    }
    params.push(ts.into());
    // Must come last: the CASE expressions above read the old value.
    sets.push(format!(
        "latest_metrics_at = CASE WHEN latest_metrics_at IS NULL OR latest_metrics_at <= ${0} THEN ${0} ELSE latest_metrics_at END",
        params.len()
    ));
    let sql = format!("UPDATE servers SET {} WHERE pk = ${}", sets.join(", "), params.len() + 1);
    Ok((sql, params))
}

/// Series ids by server, then (metric, subject). Series are only ever removed together with
/// their server, whose surrogate key is never reused, so a cached id stays valid for good; only
/// ids read back from the database (not ones created in a transaction that might still roll
/// back) are cached, and the owner clears the cache whenever a write fails.
#[derive(Default)]
pub(crate) struct SeriesCache(Mutex<HashMap<i64, ServerSeries>>);

/// One server's series ids by metric, then subject (mount point, interface or empty).
type ServerSeries = HashMap<MetricKind, HashMap<String, i64>>;

impl SeriesCache {
    pub(crate) fn clear(&self) {
        if let Ok(mut map) = self.0.lock() {
            map.clear();
        }
    }

    /// The ids of all of `samples`, if every one is known (looked up without allocating).
    fn lookup(&self, pk: i64, samples: &[Sample]) -> Option<Vec<i64>> {
        let map = self.0.lock().ok()?;
        let server = map.get(&pk)?;
        samples.iter().map(|s| server.get(&s.kind)?.get(s.subject.as_str()).copied()).collect()
    }

    fn remember(&self, pk: i64, ids: &HashMap<(MetricKind, String), i64>) {
        if let Ok(mut map) = self.0.lock() {
            let server = map.entry(pk).or_default();
            for ((kind, subject), id) in ids {
                server.entry(*kind).or_default().insert(subject.clone(), *id);
            }
        }
    }
}

/// Ids of the series of `samples`, in the same order, creating the missing ones.
async fn series_ids(conn: &mut dyn Conn, cache: &SeriesCache, pk: i64, samples: &[Sample]) -> StoreResult<Vec<i64>> {
    if let Some(ids) = cache.lookup(pk, samples) {
        return Ok(ids);
    }
    let mut ids = HashMap::new();
    for row in conn.query("SELECT id, metric, subject FROM series WHERE server_pk = $1", &[pk.into()]).await? {
        if let Some(kind) = MetricKind::parse(&row.str(1)?) {
            ids.insert((kind, row.str(2)?), row.i64(0)?);
        }
    }
    cache.remember(pk, &ids);
    let mut ordered = Vec::with_capacity(samples.len());
    for sample in samples {
        let key = (sample.kind, sample.subject.clone());
        if let Some(id) = ids.get(&key) {
            ordered.push(*id);
            continue;
        }
        let params = [pk.into(), sample.kind.as_str().into(), sample.subject.as_str().into()];
        // A concurrent heartbeat of the same server may create the series first.
        let created = conn
            .query_opt(
                "INSERT INTO series (server_pk, metric, subject) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING id",
                &params,
            )
            .await?;
        let row = match created {
            Some(row) => row,
            None => {
                conn.query_one("SELECT id FROM series WHERE server_pk = $1 AND metric = $2 AND subject = $3", &params)
                    .await?
            }
        };
        let id = row.i64(0)?;
        ids.insert(key, id);
        ordered.push(id);
    }
    Ok(ordered)
}

/// Appends the heartbeat's samples as one compact row (see [`crate::codec`]).
async fn append_samples(
    conn: &mut dyn Conn,
    cache: &SeriesCache,
    pk: i64,
    ts: i64,
    samples: &[Sample],
) -> StoreResult<()> {
    if samples.is_empty() {
        return Ok(());
    }
    let ids = series_ids(conn, cache, pk, samples).await?;
    let entries: Vec<(i64, f64)> = ids.into_iter().zip(samples.iter().map(|s| s.value)).collect();
    // Replays (agent spool) of an already stored heartbeat overwrite instead of failing.
    conn.execute_deferred(
        "INSERT INTO history_raw (server_pk, ts, samples) VALUES ($1, $2, $3) \
         ON CONFLICT (server_pk, ts) DO UPDATE SET samples = excluded.samples",
        &[pk.into(), ts.into(), codec::encode_samples(&entries).into()],
    )
    .await?;
    // Late data (older than what is rolled up, or claimed by a rollup under way) marks its
    // buckets for the next rollup. In-order heartbeats match no watermark row and write nothing.
    conn.execute_deferred(
        "INSERT INTO rollup_dirty (server_pk, tier, ts) \
         SELECT $1, CASE WHEN tier = '5m-claimed' THEN '5m' ELSE '1h' END, \
           CASE WHEN tier = '5m-claimed' THEN CAST($2 AS BIGINT) ELSE CAST($3 AS BIGINT) END \
         FROM rollup_watermarks \
         WHERE (tier = '5m-claimed' AND watermark > $2) OR (tier = '1h-claimed' AND watermark > $3) \
         ON CONFLICT DO NOTHING",
        &[pk.into(), bucket_start(ts, 300_000).into(), bucket_start(ts, 3_600_000).into()],
    )
    .await?;
    Ok(())
}

async fn replace_packages(
    conn: &mut dyn Conn,
    pk: i64,
    packages: &[homelab_core::heartbeat::PackageReport],
    now: Timestamp,
) -> StoreResult<()> {
    conn.execute_deferred("DELETE FROM pending_packages WHERE server_pk = $1", &[pk.into()]).await?;
    let mut by_name: Vec<&homelab_core::heartbeat::PackageReport> = Vec::with_capacity(packages.len());
    for package in packages {
        match by_name.iter_mut().find(|p| p.name == package.name) {
            Some(existing) => *existing = package,
            None => by_name.push(package),
        }
    }
    let now = to_millis(&now);
    for chunk in by_name.chunks(INSERT_CHUNK) {
        let mut values = Vec::with_capacity(chunk.len());
        let mut params: Vec<Value> = vec![pk.into(), now.into()];
        for package in chunk {
            let base = params.len();
            params.extend([
                (&package.name).into(),
                (&package.current_version).into(),
                (&package.new_version).into(),
                (&package.repository).into(),
                package.is_security.into(),
            ]);
            values.push(format!(
                "($1, ${}, ${}, ${}, ${}, ${}, $2, $2)",
                base + 1,
                base + 2,
                base + 3,
                base + 4,
                base + 5
            ));
        }
        let sql = format!(
            "INSERT INTO pending_packages (server_pk, name, current_version, new_version, repository, is_security, \
             detected_at, updated_at) VALUES {}",
            values.join(", ")
        );
        conn.execute_deferred(&sql, &params).await?;
    }
    Ok(())
}
