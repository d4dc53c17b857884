//! The notification outbox: routing events to channels, leasing due deliveries (with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several hubs never send one delivery twice),
//! recording outcomes, and the operator's retry/discard.

use homelab_core::alerts::AlertEvent;
use homelab_core::time::{Timestamp, from_millis, to_millis};

use crate::backend::{Conn, Row, Value};
use crate::{ClaimedDelivery, DeliveryOutcome, DeliveryRecord, StoreError, StoreResult, UnroutedEvent};

fn event_from(text: &str) -> StoreResult<AlertEvent> {
    Ok(serde_json::from_str(text)?)
}

pub(crate) async fn unrouted(conn: &mut dyn Conn, limit: i64) -> StoreResult<Vec<UnroutedEvent>> {
    let rows = conn
        .query("SELECT id, payload FROM alert_events WHERE routed_at IS NULL ORDER BY id LIMIT $1", &[limit.into()])
        .await?;
    rows.iter().map(|row| Ok(UnroutedEvent { id: row.i64(0)?, event: event_from(&row.str(1)?)? })).collect()
}

/// Creates the deliveries of each event (idempotent: a second hub routing the same event adds
/// nothing) and marks the events routed.
pub(crate) async fn route(conn: &mut dyn Conn, routes: &[(i64, Vec<String>)], now: Timestamp) -> StoreResult<()> {
    let now = to_millis(&now);
    for (event_id, channels) in routes {
        for channel in channels {
            conn.execute(
                "INSERT INTO deliveries (event_id, channel_id, next_attempt_at, created_at) VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (event_id, channel_id) DO NOTHING",
                &[(*event_id).into(), channel.into(), now.into()],
            )
            .await?;
        }
        let status = if channels.is_empty() { "delivered" } else { "pending" };
        conn.execute(
            "UPDATE alert_events SET routed_at = $1, status = $2 WHERE id = $3 AND routed_at IS NULL",
            &[now.into(), status.into(), (*event_id).into()],
        )
        .await?;
    }
    Ok(())
}

/// Channels with deliveries due at `now`.
pub(crate) async fn due_channels(conn: &mut dyn Conn, now: Timestamp) -> StoreResult<Vec<String>> {
    let rows = conn
        .query(
            "SELECT DISTINCT channel_id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $1",
            &[to_millis(&now).into()],
        )
        .await?;
    rows.iter().map(|row| row.str(0)).collect()
}

/// When the earliest pending delivery due strictly after `now` becomes due (a retry, or the end
/// of another dispatcher's lease): how long an idle dispatcher may sleep.
pub(crate) async fn next_due_after(conn: &mut dyn Conn, now: Timestamp) -> StoreResult<Option<Timestamp>> {
    let row = conn
        .query_one(
            "SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending' AND next_attempt_at > $1",
            &[to_millis(&now).into()],
        )
        .await?;
    Ok(row.opt_i64(0)?.map(from_millis))
}

/// Leases up to `limit` due deliveries of `channel`: they are invisible to other dispatchers
/// until `lease_until`, after which a crashed dispatcher's work is picked up again.
pub(crate) async fn claim(
    conn: &mut dyn Conn,
    channel: &str,
    now: Timestamp,
    lease_until: Timestamp,
    limit: i64,
) -> StoreResult<Vec<ClaimedDelivery>> {
    let sql = format!(
        "UPDATE deliveries SET next_attempt_at = $1, attempts = attempts + 1 WHERE id IN (\
         SELECT id FROM deliveries WHERE channel_id = $2 AND status = 'pending' AND next_attempt_at <= $3 \
         ORDER BY id LIMIT $4{}) \
         RETURNING id, event_id, channel_id, attempts, created_at",
        conn.lock_clause()
    );
    let claimed = conn
        .query(&sql, &[to_millis(&lease_until).into(), channel.into(), to_millis(&now).into(), limit.into()])
        .await?;
    let mut deliveries = Vec::with_capacity(claimed.len());
    for row in &claimed {
        let event_id = row.i64(1)?;
        let payload = conn.query_one("SELECT payload FROM alert_events WHERE id = $1", &[event_id.into()]).await?;
        deliveries.push(ClaimedDelivery {
            id: row.i64(0)?,
            event_id,
            channel_id: row.str(2)?,
            attempts: row.i64(3)?,
            created_at: from_millis(row.i64(4)?),
            event: event_from(&payload.str(0)?)?,
        });
    }
    deliveries.sort_by_key(|d| d.id);
    Ok(deliveries)
}

pub(crate) async fn finish(
    conn: &mut dyn Conn,
    ids: &[i64],
    outcome: &DeliveryOutcome,
    now: Timestamp,
) -> StoreResult<()> {
    let now = to_millis(&now);
    for id in ids {
        let (sql, params): (&str, Vec<Value>) = match outcome {
            DeliveryOutcome::Delivered => (
                "UPDATE deliveries SET status = 'delivered', delivered_at = $1, last_error = NULL WHERE id = $2",
                vec![now.into(), (*id).into()],
            ),
            DeliveryOutcome::Retry { error, next_attempt_at } => (
                "UPDATE deliveries SET next_attempt_at = $1, last_error = $2 WHERE id = $3",
                vec![to_millis(next_attempt_at).into(), error.into(), (*id).into()],
            ),
            DeliveryOutcome::Dead { error } => (
                "UPDATE deliveries SET status = 'dead', last_error = $1 WHERE id = $2",
                vec![error.into(), (*id).into()],
            ),
        };
        conn.execute(sql, &params).await?;
        refresh_event_status(conn, *id, now).await?;
    }
    Ok(())
}

/// Keeps the event's own status a summary of its deliveries: pending while any is, dead if any
/// channel gave up, delivered otherwise.
pub(crate) async fn refresh_event_status(conn: &mut dyn Conn, delivery_id: i64, now: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE alert_events SET status = CASE \
           WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = alert_events.id AND d.status = 'pending') THEN 'pending' \
           WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = alert_events.id AND d.status = 'dead') THEN 'dead' \
           ELSE 'delivered' END, \
         delivered_at = CASE WHEN NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = alert_events.id \
           AND d.status IN ('pending', 'dead')) THEN CAST($2 AS BIGINT) ELSE NULL END \
         WHERE id = (SELECT event_id FROM deliveries WHERE id = $1)",
        &[delivery_id.into(), now.into()],
    )
    .await?;
    Ok(())
}

const RECORD_COLUMNS: &str = "d.id, d.event_id, d.channel_id, d.status, d.attempts, d.next_attempt_at, d.last_error, \
    d.created_at, d.delivered_at, e.payload";

fn record_from(row: &Row) -> StoreResult<DeliveryRecord> {
    Ok(DeliveryRecord {
        id: row.i64(0)?,
        event_id: row.i64(1)?,
        channel_id: row.str(2)?,
        status: row.str(3)?,
        attempts: row.i64(4)?,
        next_attempt_at: from_millis(row.i64(5)?),
        last_error: row.opt_str(6)?,
        created_at: from_millis(row.i64(7)?),
        delivered_at: row.opt_i64(8)?.map(from_millis),
        event: event_from(&row.str(9)?)?,
    })
}

pub(crate) async fn list(
    conn: &mut dyn Conn,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> StoreResult<(Vec<DeliveryRecord>, i64)> {
    let mut params: Vec<Value> = vec![limit.into(), offset.into()];
    let (filter, count_filter) = match status {
        Some(status) => {
            params.push(status.into());
            ("WHERE d.status = $3", "WHERE status = $1")
        }
        None => ("", ""),
    };
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM deliveries d JOIN alert_events e ON e.id = d.event_id {filter} \
         ORDER BY d.id DESC LIMIT $1 OFFSET $2"
    );
    let rows = conn.query(&sql, &params).await?;
    let total =
        conn.query_one(&format!("SELECT COUNT(*) FROM deliveries {count_filter}"), &params[2..]).await?.i64(0)?;
    Ok((rows.iter().map(record_from).collect::<StoreResult<_>>()?, total))
}

/// Every delivery of one alert's outbox events, oldest first (for the alert's timeline).
pub(crate) async fn of_alert(conn: &mut dyn Conn, alert_id: i64) -> StoreResult<Vec<DeliveryRecord>> {
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM deliveries d JOIN alert_events e ON e.id = d.event_id \
         WHERE e.alert_id = $1 ORDER BY d.id"
    );
    let rows = conn.query(&sql, &[alert_id.into()]).await?;
    rows.iter().map(record_from).collect()
}

/// An operator's "try again now" for a dead (or pending) delivery.
pub(crate) async fn retry(conn: &mut dyn Conn, id: i64, now: Timestamp) -> StoreResult<()> {
    let changed = conn
        .execute(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = $1 WHERE id = $2 AND status IN ('pending', 'dead')",
            &[to_millis(&now).into(), id.into()],
        )
        .await?;
    settle(conn, id, changed, "retried", to_millis(&now)).await
}

/// An operator's "never send this".
pub(crate) async fn discard(conn: &mut dyn Conn, id: i64, now: Timestamp) -> StoreResult<()> {
    let changed = conn
        .execute(
            "UPDATE deliveries SET status = 'discarded' WHERE id = $1 AND status IN ('pending', 'dead')",
            &[id.into()],
        )
        .await?;
    settle(conn, id, changed, "discarded", to_millis(&now)).await
}

async fn settle(conn: &mut dyn Conn, id: i64, changed: u64, verb: &str, now: i64) -> StoreResult<()> {
    if changed == 0 {
        return match conn.query_opt("SELECT status FROM deliveries WHERE id = $1", &[id.into()]).await? {
            None => Err(StoreError::NotFound(format!("Delivery {id} not found"))),
            Some(row) => Err(StoreError::Conflict(format!("Delivery {id} is {} and cannot be {verb}", row.str(0)?))),
        };
    }
    refresh_event_status(conn, id, now).await
}
