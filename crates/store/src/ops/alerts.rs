//! Alerts: running the pure engine inside the caller's transaction and persisting its result
//! (alert rows, engine states, outbox events), plus the alert queries of the API.
//!
//! The engine (`homelab_core::alerts::evaluate`) decides; this module only loads its inputs and
//! writes its output, so both backends behave identically and every rule stays unit-tested in core.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use homelab_core::alerts::{
    AlertEvent, AlertKey, AlertKind, AlertState, AlertStatus, Evaluation, EventKind, ExpectedService, Observation,
    Parent, Rules, ServerContext, Severity, Topology,
};
use homelab_core::status::HEARTBEAT_INTERVAL_SECONDS;
use homelab_core::time::{Timestamp, from_millis, to_millis};

use super::{service_states, settings};
use crate::backend::{Conn, Row, SettingsWatch, Value};
use crate::{
    AlertFilter, AlertPage, AlertRecord, FleetSummary, OfflineReport, OutboxEvent, PendingAlert, StoreError,
    StoreResult,
};

/// The engine's rules from the stored thresholds and notification settings (the v1 defaults
/// while none were saved). Settings that cannot be read fail the caller with
/// [`StoreError::Unreadable`], as everywhere else (see there why not defaults): a heartbeat is
/// then refused and waits in the agent's spool.
pub(crate) async fn load_rules(conn: &mut dyn Conn) -> StoreResult<Rules> {
    let thresholds = settings::thresholds(conn).await?;
    let notifications = settings::notifications(conn).await?;
    Ok(Rules::new(&thresholds, &notifications))
}

/// The rules as last read, so that a heartbeat neither reads nor parses the two settings rows.
///
/// Each cached value carries the stamp it was read under: how many times this store cleared
/// the cache, and (PostgreSQL) how many changes by other hubs it has heard of. A value is used
/// only while both are unchanged, and kept only if they did not change while it was read, so a
/// read racing an update never caches what the update replaced.
///
/// - This store's own updates (`update_thresholds`, `update_notification_settings`) clear it
///   inside their unit and again after their commit; so does any failed write, as a rolled-back
///   batch may have cached what it never committed.
/// - Other hubs' updates are announced on commit (PostgreSQL `NOTIFY`) and heard by a listening
///   connection ([`SettingsWatch::Announced`]). Between another hub's commit and this hub hearing
///   of it, a heartbeat may still be judged by the rules it replaced: milliseconds, as if it had
///   arrived a little earlier. While the listening connection is down nothing is cached.
pub(crate) struct RulesCache {
    watch: SettingsWatch,
    cleared: AtomicU64,
    rules: Mutex<Option<(Stamp, Rules)>>,
}

/// (times cleared here, changes heard from other writers).
type Stamp = (u64, u64);

impl RulesCache {
    pub(crate) fn new(watch: SettingsWatch) -> Self {
        RulesCache { watch, cleared: AtomicU64::new(0), rules: Mutex::new(None) }
    }

    /// The current stamp; `None` when changes by others cannot be heard now.
    fn stamp(&self) -> Option<Stamp> {
        let heard = match &self.watch {
            SettingsWatch::SoleWriter => 0,
            SettingsWatch::Announced(changes) => (*changes.borrow())?,
        };
        Some((self.cleared.load(Ordering::Acquire), heard))
    }

    pub(crate) async fn load(&self, conn: &mut dyn Conn) -> StoreResult<Rules> {
        let stamp = self.stamp();
        if let Some(stamp) = stamp
            && let Ok(cached) = self.rules.lock()
            && let Some((at, rules)) = *cached
            && at == stamp
        {
            return Ok(rules);
        }
        let rules = load_rules(conn).await?;
        if let Some(stamp) = stamp
            && self.stamp() == Some(stamp)
            && let Ok(mut cached) = self.rules.lock()
        {
            *cached = Some((stamp, rules));
        }
        Ok(rules)
    }

    pub(crate) fn clear(&self) {
        self.cleared.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut cached) = self.rules.lock() {
            *cached = None;
        }
    }
}

/// Takes the server row's lock for the rest of the transaction (PostgreSQL; SQLite has a single
/// writer anyway), so that a heartbeat, the offline check and a person's acknowledgement of the
/// same server evaluate one after the other and never from stale states.
pub(crate) async fn lock_server(conn: &mut dyn Conn, pk: i64) -> StoreResult<()> {
    conn.execute("UPDATE servers SET status = status WHERE pk = $1", &[pk.into()]).await?;
    Ok(())
}

/// A server's key and id, as [`lock_servers`] takes them.
pub(crate) type ServerRef = (i64, String);

/// Reads `(pk, id)` from each row's first two columns.
pub(crate) fn server_refs(rows: &[Row]) -> StoreResult<Vec<ServerRef>> {
    rows.iter().map(|row| Ok((row.i64(0)?, row.str(1)?))).collect()
}

/// Sorts servers into the one order in which every transaction takes several servers' rows:
/// that of their group keys ([`super::group_key`]), in which heartbeat batches run their units.
pub(crate) fn sort_for_locking(servers: &mut [ServerRef]) {
    servers.sort_by_key(|(pk, id)| (super::group_key(id), *pk));
}

/// Takes the rows of several servers (see [`lock_server`]) in the one global order
/// ([`sort_for_locking`]): a transaction taking them in another order (by `pk`, say) and a
/// heartbeat batch could each hold a row the other waits for.
pub(crate) async fn lock_servers(conn: &mut dyn Conn, servers: &[ServerRef]) -> StoreResult<()> {
    let mut ordered = servers.to_vec();
    sort_for_locking(&mut ordered);
    for (pk, _) in &ordered {
        lock_server(conn, *pk).await?;
    }
    Ok(())
}

const CONTEXT_SQL: &str =
    "SELECT id, hostname, display_name, machine_type, is_paused, last_seen FROM servers WHERE pk = $1";
const EXPECTED_SQL: &str =
    "SELECT service_name, is_critical, enabled, grace_seconds FROM expected_services WHERE server_pk = $1";
const STATES_SQL: &str = "SELECT state FROM alert_states WHERE server_pk = $1";

/// Sends the reads of [`observe`] for every key of a server ahead of it (see
/// [`Conn::prefetch`]): the caller must already hold the server's row lock, so that what they
/// read cannot change before the engine runs.
pub(crate) async fn prefetch_observe(conn: &mut dyn Conn, pk: i64) -> StoreResult<()> {
    for sql in [CONTEXT_SQL, EXPECTED_SQL, STATES_SQL] {
        conn.prefetch(sql, &[pk.into()]).await?;
    }
    Ok(())
}

/// What the engine needs to know about a server, read from its row and expected services.
pub(crate) async fn server_context(conn: &mut dyn Conn, pk: i64) -> StoreResult<ServerContext> {
    let row = conn
        .query_opt(CONTEXT_SQL, &[pk.into()])
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("Server #{pk} not found")))?;
    let services = conn.query(EXPECTED_SQL, &[pk.into()]).await?;
    let expected_services = services
        .iter()
        .map(|s| {
            Ok(ExpectedService {
                service_name: s.str(0)?,
                is_critical: s.bool(1)?,
                enabled: s.bool(2)?,
                grace_seconds: s.opt_i64(3)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(ServerContext {
        server_id: row.str(0)?,
        name: alert_name(&row.str(0)?, &row.str(1)?, row.opt_str(2)?),
        machine_type: super::servers::machine_type(&row.str(3)?)?,
        is_paused: row.bool(4)?,
        last_seen: row.opt_i64(5)?.map(from_millis),
        expected_services,
        watched_containers: Vec::new(),
        topology: Topology::default(),
    })
}

/// The machine `server` depends on and, when it is silent itself, the machines behind it that fell
/// silent with it (last heard no later than one heartbeat interval after it), by hostname.
async fn topology(conn: &mut dyn Conn, pk: i64, server: &ServerContext) -> StoreResult<Topology> {
    let parent = conn
        .query_opt(
            "SELECT p.last_seen, \
             (SELECT MAX(a.resolved_at) FROM alerts a WHERE a.server_pk = p.pk AND a.alert_type = 'offline') \
             FROM servers c JOIN servers p ON p.id = c.depends_on WHERE c.pk = $1",
            &[pk.into()],
        )
        .await?
        .map(|row| {
            Ok::<_, StoreError>(Parent {
                last_seen: row.opt_i64(0)?.map(from_millis),
                back_at: row.opt_i64(1)?.map(from_millis),
            })
        })
        .transpose()?;
    let unreachable_behind = match server.last_seen {
        Some(seen) => {
            let fell_silent_with_it = to_millis(&seen) + HEARTBEAT_INTERVAL_SECONDS * 1000;
            conn.query(
                "SELECT hostname FROM servers WHERE depends_on = $1 AND is_inactive = FALSE \
                 AND last_seen IS NOT NULL AND last_seen <= $2 ORDER BY hostname",
                &[server.server_id.as_str().into(), fell_silent_with_it.into()],
            )
            .await?
            .iter()
            .map(|row| row.str(0))
            .collect::<StoreResult<_>>()?
        }
        None => Vec::new(),
    };
    Ok(Topology { parent, unreachable_behind })
}

/// What alert titles and notifications call a machine: its hostname, as v1 writes them (clients
/// match titles), even when a display name is set; the dashboard shows the display name beside
/// them. A server created without a hostname falls back to its display name, then its id.
fn alert_name(server_id: &str, hostname: &str, display_name: Option<String>) -> String {
    if !hostname.trim().is_empty() {
        return hostname.to_owned();
    }
    display_name.filter(|name| !name.trim().is_empty()).unwrap_or_else(|| server_id.to_owned())
}

/// The stored states of a server; with `key`, only that key's.
pub(crate) async fn load_states(conn: &mut dyn Conn, pk: i64, key: Option<&AlertKey>) -> StoreResult<Vec<AlertState>> {
    let rows = match key {
        Some(key) => {
            conn.query(
                "SELECT state FROM alert_states WHERE server_pk = $1 AND alert_key = $2",
                &[pk.into(), key.key_string().into()],
            )
            .await?
        }
        None => conn.query(STATES_SQL, &[pk.into()]).await?,
    };
    rows.iter().map(|row| Ok(serde_json::from_str(&row.str(0)?)?)).collect()
}

/// Loads everything for one server, applies `observation`, persists the result and returns the
/// events. Runs in the caller's transaction: the states, alert rows and outbox entries commit
/// (or roll back) together with whatever else the caller wrote.
pub(crate) async fn observe(
    conn: &mut dyn Conn,
    pk: i64,
    rules: &Rules,
    observation: &Observation,
    only_key: Option<&AlertKey>,
) -> StoreResult<Vec<AlertEvent>> {
    let mut server = server_context(conn, pk).await?;
    match observation {
        Observation::Tick { .. } => server.topology = topology(conn, pk, &server).await?,
        // Only a container report needs the watched list: other heartbeats pay nothing for it.
        Observation::Heartbeat { sample, .. } if sample.containers.is_some() => {
            server.watched_containers = super::inventory::watched(conn, pk).await?;
        }
        _ => {}
    }
    let states = load_states(conn, pk, only_key).await?;
    let evaluation = homelab_core::alerts::evaluate(&states, &server, rules, observation);
    persist(conn, pk, &states, evaluation, observation.now()).await
}

/// Writes an [`Evaluation`] as the engine's documentation prescribes: alert rows first (so new
/// alerts get their ids onto the states), then the states, then the outbox. States equal to
/// their `previous` value are not rewritten, and idle ones that were never stored are not
/// deleted: a healthy server's heartbeat then writes no alert rows at all.
pub(crate) async fn persist(
    conn: &mut dyn Conn,
    pk: i64,
    previous: &[AlertState],
    evaluation: Evaluation,
    now: Timestamp,
) -> StoreResult<Vec<AlertEvent>> {
    let Evaluation { mut states, mut events } = evaluation;
    for event in &mut events {
        let id = write_alert_row(conn, pk, event).await?;
        if event.alert_id.is_none() {
            event.alert_id = id;
        }
        if event.kind == EventKind::Opened
            && let (Some(id), Some(state)) = (id, states.iter_mut().find(|s| s.key == event.key))
        {
            state.set_alert_id(id);
        }
    }
    let now = to_millis(&now);
    for state in &states {
        let stored = previous.iter().find(|p| p.key == state.key);
        if stored == Some(state) || (stored.is_none() && state.is_idle()) {
            continue;
        }
        let key = state.key.key_string();
        if state.is_idle() {
            conn.execute_deferred(
                "DELETE FROM alert_states WHERE server_pk = $1 AND alert_key = $2",
                &[pk.into(), key.into()],
            )
            .await?;
            continue;
        }
        let json = serde_json::to_string(state)?;
        let first_breach = state.first_breach_at.as_ref().map(to_millis);
        let severity = state.active.as_ref().map(|active| active.severity.as_str());
        conn.execute_deferred(
            "INSERT INTO alert_states (server_pk, alert_key, state, first_breach_at, active_severity, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (server_pk, alert_key) DO UPDATE SET \
             state = excluded.state, first_breach_at = excluded.first_breach_at, \
             active_severity = excluded.active_severity, updated_at = excluded.updated_at",
            &[pk.into(), key.into(), json.into(), first_breach.into(), severity.into(), now.into()],
        )
        .await?;
    }
    for event in events.iter().filter(|event| event.notify) {
        let at = to_millis(&event.at);
        conn.execute_deferred(
            "INSERT INTO alert_events (alert_id, server_pk, kind, severity, payload, status, attempts, \
             next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)",
            &[
                event.alert_id.into(),
                pk.into(),
                event.kind.as_str().into(),
                event.severity.as_str().into(),
                serde_json::to_string(event)?.into(),
                at.into(),
            ],
        )
        .await?;
    }
    Ok(events)
}

/// Applies one event to the `alerts` table and returns the id of the row concerned.
///
/// Rows are found by key (`status <> 'resolved'`), which the partial unique index makes exact;
/// that also covers states written before their alert had an id.
async fn write_alert_row(conn: &mut dyn Conn, pk: i64, event: &AlertEvent) -> StoreResult<Option<i64>> {
    let key = event.key.key_string();
    let at = to_millis(&event.at);
    let active = |extra: &str| {
        format!(
            "UPDATE alerts SET {extra} WHERE server_pk = $1 AND alert_key = $2 AND status <> 'resolved' RETURNING id"
        )
    };
    let row = match event.kind {
        EventKind::Opened => {
            let inserted = conn
                .query_opt(
                    "INSERT INTO alerts (server_pk, alert_type, alert_key, subject, severity, status, title, message, \
                     threshold_value, actual_value, created_at, auto_resolved, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $9, $10, FALSE, $10) \
                     ON CONFLICT DO NOTHING RETURNING id",
                    &[
                        pk.into(),
                        event.alert_type.as_str().into(),
                        (&key).into(),
                        (&event.key.subject).into(),
                        event.severity.as_str().into(),
                        (&event.title).into(),
                        (&event.message).into(),
                        event.threshold_value.into(),
                        event.actual_value.into(),
                        at.into(),
                    ],
                )
                .await?;
            match inserted {
                Some(row) => Some(row),
                None => {
                    // A row for this key is still active although the engine's state had none
                    // (state lost or written by an older hub): adopt it rather than fail the
                    // heartbeat.
                    tracing::warn!(server_pk = pk, %key, "adopting an active alert the engine state did not know");
                    conn.query_opt(
                        &active("severity = $3, title = $4, message = $5, threshold_value = $6, actual_value = $7, updated_at = $8"),
                        &alert_values(pk, &key, event, at),
                    )
                    .await?
                }
            }
        }
        EventKind::Escalated | EventKind::DeEscalated => {
            conn.query_opt(
                &active(
                    "severity = $3, title = $4, message = $5, threshold_value = $6, actual_value = $7, updated_at = $8",
                ),
                &alert_values(pk, &key, event, at),
            )
            .await?
        }
        // A reminder also carries what was last observed, so it refreshes the row like an update.
        EventKind::Reminder | EventKind::Updated => {
            conn.query_opt(
                &active("title = $3, actual_value = $4, updated_at = $5"),
                &[pk.into(), (&key).into(), (&event.title).into(), event.actual_value.into(), at.into()],
            )
            .await?
        }
        EventKind::Resolved { auto } => {
            conn.query_opt(
                &active("status = 'resolved', resolved_at = $3, auto_resolved = $4, updated_at = $3"),
                &[pk.into(), (&key).into(), at.into(), auto.into()],
            )
            .await?
        }
        EventKind::Acknowledged => {
            conn.query_opt(
                "UPDATE alerts SET status = 'acknowledged', acknowledged_at = $3, updated_at = $3 \
                 WHERE server_pk = $1 AND alert_key = $2 AND status = 'open' RETURNING id",
                &[pk.into(), (&key).into(), at.into()],
            )
            .await?
        }
    };
    row.map(|row| row.i64(0)).transpose()
}

fn alert_values(pk: i64, key: &str, event: &AlertEvent, at: i64) -> Vec<Value> {
    vec![
        pk.into(),
        key.into(),
        event.severity.as_str().into(),
        (&event.title).into(),
        (&event.message).into(),
        event.threshold_value.into(),
        event.actual_value.into(),
        at.into(),
    ]
}

// ---- Offline detection ------------------------------------------------------------------------

/// Advisory-lock key of the offline check ("offline" in ASCII), distinct from the migration lock.
pub(crate) const OFFLINE_JOB_LOCK: i64 = 0x006f_6666_6c69_6e65;

/// Marks silent servers offline and runs the engine's clock tick for every server that is
/// offline or has an offline alert state (openings, reminders, workstation conversions).
pub(crate) async fn check_offline(
    conn: &mut dyn Conn,
    now: Timestamp,
    watching_since: Option<Timestamp>,
) -> StoreResult<OfflineReport> {
    if !conn.try_job_lock(OFFLINE_JOB_LOCK).await? {
        // Another hub on the same database is running this check right now.
        return Ok(OfflineReport::default());
    }
    let rules = Rules { watching_since, ..load_rules(conn).await? };
    let silence = rules.silence();
    // `offline_at` only moves later with `last_seen`: silent are those seen at or before the
    // last `last_seen` whose deadline has come (none while a restart's grace lasts).
    let timeout_millis = rules.thresholds.server_offline_seconds.saturating_mul(1000);
    let cutoff = to_millis(&now).saturating_sub(timeout_millis);
    let grace_over = silence.grace_ends().is_none_or(|ends| ends <= now);
    const SILENT: &str = "status = 'online' AND is_inactive = FALSE AND last_seen IS NOT NULL AND last_seen <= $1";
    let silent = if grace_over {
        server_refs(&conn.query(&format!("SELECT pk, id FROM servers WHERE {SILENT}"), &[cutoff.into()]).await?)?
    } else {
        Vec::new()
    };
    let ticked = server_refs(
        &conn
            .query(
                "SELECT pk, id FROM servers WHERE (status = 'offline' AND is_inactive = FALSE) \
                 OR pk IN (SELECT server_pk FROM alert_states WHERE alert_key = $1)",
                &[AlertKey::offline().key_string().into()],
            )
            .await?,
    )?;
    // Every row this check may change, taken at once in the global order before any is changed
    // (an `UPDATE` over all silent servers would take them in whatever order it finds them).
    let mut involved: Vec<ServerRef> = silent.iter().chain(&ticked).cloned().collect();
    involved.sort_unstable();
    involved.dedup();
    lock_servers(conn, &involved).await?;
    let mut tick: std::collections::HashSet<i64> = ticked.iter().map(|(pk, _)| *pk).collect();
    let mut marked_offline = Vec::new();
    for (pk, id) in &silent {
        // Still silent now that the row is ours: a heartbeat may have committed meanwhile.
        let sql = format!("UPDATE servers SET status = 'offline' WHERE pk = $2 AND {SILENT}");
        if conn.execute(&sql, &[cutoff.into(), (*pk).into()]).await? > 0 {
            marked_offline.push(id.clone());
            tick.insert(*pk);
        }
    }
    marked_offline.sort_unstable();
    let mut report = OfflineReport { marked_offline, events: 0 };
    let observation = Observation::Tick { now };
    let offline = AlertKey::offline();
    for (pk, _) in involved.into_iter().filter(|(pk, _)| tick.contains(pk)) {
        report.events += observe(conn, pk, &rules, &observation, Some(&offline)).await?.len();
    }
    Ok(report)
}

pub(crate) async fn last_seen_bounds(conn: &mut dyn Conn) -> StoreResult<(Option<Timestamp>, Option<Timestamp>)> {
    let row = conn
        .query_one(
            "SELECT MIN(CASE WHEN status = 'online' AND is_inactive = FALSE THEN last_seen END), MAX(last_seen) \
             FROM servers",
            &[],
        )
        .await?;
    Ok((row.opt_i64(0)?.map(from_millis), row.opt_i64(1)?.map(from_millis)))
}

// ---- Acknowledge and resolve ------------------------------------------------------------------

/// A person acknowledges or resolves an alert. The engine decides (so a manual resolve resets the
/// key and a new breach opens a new alert); when the engine has no state for the alert (history
/// older than its state), the row is updated directly.
pub(crate) async fn act_on_alert(
    conn: &mut dyn Conn,
    id: i64,
    resolve: bool,
    now: Timestamp,
) -> StoreResult<AlertRecord> {
    let row = conn
        .query_opt("SELECT server_pk, alert_key, status FROM alerts WHERE id = $1", &[id.into()])
        .await?
        .ok_or_else(|| alert_not_found(id))?;
    let (pk, key_text, status) = (row.i64(0)?, row.str(1)?, row.str(2)?);
    let status = AlertStatus::parse(&status).unwrap_or(AlertStatus::Resolved);
    match (resolve, status) {
        (_, AlertStatus::Resolved) if resolve => return get(conn, id).await,
        (false, AlertStatus::Resolved) => {
            return Err(StoreError::Rejected("Cannot acknowledge a resolved alert".into()));
        }
        (false, AlertStatus::Acknowledged) => return get(conn, id).await,
        _ => {}
    }
    lock_server(conn, pk).await?;
    let rules = load_rules(conn).await?;
    if let Some(key) = AlertKey::parse(&key_text) {
        let observation = if resolve {
            Observation::Resolve { key: key.clone(), alert_id: Some(id), now }
        } else {
            Observation::Acknowledge { key: key.clone(), alert_id: Some(id), now }
        };
        observe(conn, pk, &rules, &observation, Some(&key)).await?;
    }
    let millis = to_millis(&now);
    if resolve {
        conn.execute(
            "UPDATE alerts SET status = 'resolved', resolved_at = $2, auto_resolved = FALSE, updated_at = $2 \
             WHERE id = $1 AND status <> 'resolved'",
            &[id.into(), millis.into()],
        )
        .await?;
    } else {
        conn.execute(
            "UPDATE alerts SET status = 'acknowledged', acknowledged_at = $2, updated_at = $2 \
             WHERE id = $1 AND status = 'open'",
            &[id.into(), millis.into()],
        )
        .await?;
    }
    get(conn, id).await
}

// ---- Queries ----------------------------------------------------------------------------------

fn alert_not_found(id: i64) -> StoreError {
    StoreError::NotFound(format!("Alert {id} not found"))
}

/// Columns read by [`alert_from_row`]; the last two find a service alert's service in the
/// server's service states ([`with_service_status`]).
const ALERT_COLUMNS: &str = "a.id, s.id, COALESCE(s.display_name, s.hostname), a.alert_type, a.alert_key, \
    a.severity, a.status, a.title, a.message, a.threshold_value, a.actual_value, a.created_at, a.acknowledged_at, \
    a.resolved_at, a.auto_resolved, a.updated_at, a.server_pk, a.subject";

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Database(format!("stored alert has an invalid {what} '{value}'"))
}

/// Reads alert rows, looking up each service alert's service in its server's newest states.
async fn with_service_status(conn: &mut dyn Conn, rows: &[Row]) -> StoreResult<Vec<AlertRecord>> {
    let mut service_servers = Vec::new();
    for row in rows {
        if row.str(3)? == AlertKind::Service.as_str() {
            service_servers.push(row.i64(16)?);
        }
    }
    let states = service_states::snapshots(conn, &service_servers).await?;
    rows.iter()
        .map(|row| {
            let mut alert = alert_from_row(row)?;
            if alert.alert_type == AlertKind::Service {
                let service = row.opt_str(17)?;
                alert.latest_service_status = states
                    .get(&row.i64(16)?)
                    .and_then(|all| all.iter().find(|s| Some(&s.name) == service.as_ref()))
                    .map(|s| s.status.clone());
            }
            Ok(alert)
        })
        .collect()
}

fn alert_from_row(row: &Row) -> StoreResult<AlertRecord> {
    let (kind, key, severity, status) = (row.str(3)?, row.str(4)?, row.str(5)?, row.str(6)?);
    Ok(AlertRecord {
        id: row.i64(0)?,
        server_id: row.str(1)?,
        server_name: row.str(2)?,
        alert_type: AlertKind::parse(&kind).ok_or_else(|| corrupt("type", &kind))?,
        key: AlertKey::parse(&key).ok_or_else(|| corrupt("key", &key))?,
        severity: Severity::parse(&severity).ok_or_else(|| corrupt("severity", &severity))?,
        status: AlertStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        title: row.str(7)?,
        message: row.opt_str(8)?,
        threshold_value: row.opt_f64(9)?,
        actual_value: row.opt_f64(10)?,
        created_at: from_millis(row.i64(11)?),
        acknowledged_at: row.opt_i64(12)?.map(from_millis),
        resolved_at: row.opt_i64(13)?.map(from_millis),
        auto_resolved: row.bool(14)?,
        updated_at: from_millis(row.i64(15)?),
        latest_service_status: None,
    })
}

pub(crate) async fn get(conn: &mut dyn Conn, id: i64) -> StoreResult<AlertRecord> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts a JOIN servers s ON s.pk = a.server_pk WHERE a.id = $1");
    let row = conn.query_opt(&sql, &[id.into()]).await?.ok_or_else(|| alert_not_found(id))?;
    with_service_status(conn, &[row]).await?.pop().ok_or_else(|| alert_not_found(id))
}

pub(crate) async fn list(conn: &mut dyn Conn, filter: &AlertFilter) -> StoreResult<AlertPage> {
    let mut conditions = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    let mut add = |condition: &str, value: Value| {
        params.push(value);
        conditions.push(format!("{condition} ${}", params.len()));
    };
    if let Some(status) = &filter.status {
        add("a.status =", status.into());
    }
    if let Some(severity) = &filter.severity {
        add("a.severity =", severity.into());
    }
    if let Some(server_id) = &filter.server_id {
        add("s.id =", server_id.into());
    }
    if let Some(alert_type) = &filter.alert_type {
        add("a.alert_type =", alert_type.into());
    }
    if let Some(from) = &filter.from {
        add("a.created_at >=", to_millis(from).into());
    }
    if let Some(to) = &filter.to {
        add("a.created_at <=", to_millis(to).into());
    }
    let clause = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
    let count_sql = format!("SELECT COUNT(*) FROM alerts a JOIN servers s ON s.pk = a.server_pk {clause}");
    let total = conn.query_one(&count_sql, &params).await?.i64(0)?;
    let mut page_params = params;
    page_params.push(filter.limit.into());
    page_params.push(filter.offset.into());
    let sql = format!(
        "SELECT {ALERT_COLUMNS} FROM alerts a JOIN servers s ON s.pk = a.server_pk {clause} \
         ORDER BY a.created_at DESC, a.id DESC LIMIT ${} OFFSET ${}",
        page_params.len() - 1,
        page_params.len()
    );
    let rows = conn.query(&sql, &page_params).await?;
    Ok(AlertPage { alerts: with_service_status(conn, &rows).await?, total })
}

/// Breaches still inside their sustained window, per server and key.
pub(crate) async fn pending(conn: &mut dyn Conn, now: Timestamp) -> StoreResult<Vec<PendingAlert>> {
    let rules = load_rules(conn).await?;
    let rows = conn
        .query(
            "SELECT s.id, COALESCE(s.display_name, s.hostname), st.state FROM alert_states st \
             JOIN servers s ON s.pk = st.server_pk \
             WHERE st.first_breach_at IS NOT NULL AND st.active_severity IS NULL ORDER BY s.id, st.alert_key",
            &[],
        )
        .await?;
    let mut pending = Vec::new();
    for row in rows {
        let state: AlertState = serde_json::from_str(&row.str(2)?)?;
        if let Some(breach) = state.pending(&rules.thresholds, now) {
            pending.push(PendingAlert { server_id: row.str(0)?, server_name: row.str(1)?, breach });
        }
    }
    Ok(pending)
}

/// Open-alert counts and up to three newest open titles per server, for the server `pk` (all
/// servers when `None`). One query whatever the fleet size.
pub(crate) async fn open_summaries(
    conn: &mut dyn Conn,
    pk: Option<i64>,
) -> StoreResult<HashMap<i64, (i64, Vec<String>)>> {
    // `status <> 'resolved'` matches the partial unique index, so this reads only active alerts.
    let base = "SELECT server_pk, status, title FROM alerts WHERE status <> 'resolved'";
    let rows = match pk {
        Some(pk) => {
            conn.query(&format!("{base} AND server_pk = $1 ORDER BY created_at DESC, id DESC"), &[pk.into()]).await?
        }
        None => conn.query(&format!("{base} ORDER BY server_pk, created_at DESC, id DESC"), &[]).await?,
    };
    let mut summaries: HashMap<i64, (i64, Vec<String>)> = HashMap::new();
    for row in rows {
        if row.str(1)? != AlertStatus::Open.as_str() {
            continue;
        }
        let entry = summaries.entry(row.i64(0)?).or_default();
        entry.0 += 1;
        if entry.1.len() < 3 {
            entry.1.push(row.str(2)?);
        }
    }
    Ok(summaries)
}

pub(crate) async fn fleet_summary(conn: &mut dyn Conn) -> StoreResult<FleetSummary> {
    let mut summary = FleetSummary::default();
    let alerts = conn
        .query(
            "SELECT severity, status, COUNT(*) FROM alerts WHERE status <> 'resolved' GROUP BY severity, status",
            &[],
        )
        .await?;
    for row in alerts {
        let (severity, status, count) = (row.str(0)?, row.str(1)?, row.i64(2)?);
        if status != AlertStatus::Open.as_str() {
            summary.acknowledged += count;
            continue;
        }
        match Severity::parse(&severity) {
            Some(Severity::Critical) => summary.open_critical += count,
            Some(Severity::High) => summary.open_high += count,
            Some(Severity::Medium) => summary.open_medium += count,
            Some(Severity::Low) => summary.open_low += count,
            None => {}
        }
    }
    Ok(summary)
}

const OUTBOX_COLUMNS: &str = "e.id, e.alert_id, s.id, e.kind, e.severity, e.payload, e.status, e.attempts, \
    e.next_attempt_at, e.last_error, e.created_at, e.delivered_at";

fn outbox_event_from(row: &Row) -> StoreResult<OutboxEvent> {
    Ok(OutboxEvent {
        id: row.i64(0)?,
        alert_id: row.opt_i64(1)?,
        server_id: row.str(2)?,
        kind: row.str(3)?,
        severity: row.str(4)?,
        event: serde_json::from_str(&row.str(5)?)?,
        status: row.str(6)?,
        attempts: row.i64(7)?,
        next_attempt_at: from_millis(row.i64(8)?),
        last_error: row.opt_str(9)?,
        created_at: from_millis(row.i64(10)?),
        delivered_at: row.opt_i64(11)?.map(from_millis),
    })
}

/// The newest outbox entries (newest first), for tests.
#[cfg(feature = "test-support")]
pub(crate) async fn outbox(conn: &mut dyn Conn, limit: i64) -> StoreResult<Vec<OutboxEvent>> {
    let rows = conn
        .query(
            &format!(
                "SELECT {OUTBOX_COLUMNS} FROM alert_events e JOIN servers s ON s.pk = e.server_pk \
                 ORDER BY e.id DESC LIMIT $1"
            ),
            &[limit.into()],
        )
        .await?;
    rows.iter().map(outbox_event_from).collect()
}

/// The outbox entries of one alert, oldest first: the notified part of its timeline.
pub(crate) async fn outbox_of_alert(conn: &mut dyn Conn, alert_id: i64) -> StoreResult<Vec<OutboxEvent>> {
    let rows = conn
        .query(
            &format!(
                "SELECT {OUTBOX_COLUMNS} FROM alert_events e JOIN servers s ON s.pk = e.server_pk \
                 WHERE e.alert_id = $1 ORDER BY e.id"
            ),
            &[alert_id.into()],
        )
        .await?;
    rows.iter().map(outbox_event_from).collect()
}
