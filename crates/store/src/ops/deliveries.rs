//! The notification outbox: routing events to channels, framing each channel's deliveries into
//! messages (storm grouping shared by every hub on the database), leasing a channel's next
//! message, recording outcomes under the lease, and the operator's retry/discard.

use std::collections::BTreeMap;

use homelab_core::alerts::AlertEvent;
use homelab_core::notify::{self, GroupHistory, Grouping, Unframed};
use homelab_core::time::{Timestamp, from_millis, to_millis};

use crate::backend::{Conn, Row, Value};
use crate::{
    ClaimedDelivery, ClaimedMessage, DeliveryOutcome, DeliveryRecord, EventRoute, Lease, StoreError, StoreResult,
    UnroutedEvent,
};

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
pub(crate) async fn route(conn: &mut dyn Conn, routes: &[EventRoute], now: Timestamp) -> StoreResult<()> {
    let now = to_millis(&now);
    for route in routes {
        for channel in &route.channels {
            conn.execute(
                // `created_at` is the event's commit time, from which its wait counts.
                "INSERT INTO deliveries (event_id, channel_id, next_attempt_at, created_at, group_key, server_pk) \
                 SELECT $1, $2, $3, created_at, $4, server_pk FROM alert_events WHERE id = $1 \
                 ON CONFLICT (event_id, channel_id) DO NOTHING",
                &[route.event_id.into(), channel.into(), now.into(), route.group.as_str().into()],
            )
            .await?;
        }
        let status = if route.channels.is_empty() { "delivered" } else { "pending" };
        conn.execute(
            "UPDATE alert_events SET routed_at = $1, status = $2 WHERE id = $3 AND routed_at IS NULL",
            &[now.into(), status.into(), route.event_id.into()],
        )
        .await?;
    }
    Ok(())
}

/// Held by one hub at a time while it frames, so that no delivery is framed twice.
const FRAMING_JOB_LOCK: i64 = 0x0066_7261_6d65;

/// Frames every channel's unframed deliveries into messages by [`notify::frame`]. Returns when
/// deliveries held now become due (or soon, when another hub is framing).
pub(crate) async fn frame_messages(
    conn: &mut dyn Conn,
    grouping: &Grouping,
    now: Timestamp,
) -> StoreResult<Option<Timestamp>> {
    if !conn.try_job_lock(FRAMING_JOB_LOCK).await? {
        return Ok(Some(now + chrono::Duration::seconds(1)));
    }
    let now_ms = to_millis(&now);
    let since = to_millis(&(now - grouping.interval));
    let rows = conn
        .query(
            "SELECT d.id, d.channel_id, d.created_at, d.group_key, c.v1_slack FROM deliveries d \
             JOIN channels c ON c.id = d.channel_id \
             WHERE d.message_id IS NULL AND d.status = 'pending' ORDER BY d.channel_id, d.id",
            &[],
        )
        .await?;
    let mut channels: BTreeMap<String, (bool, Vec<Unframed>)> = BTreeMap::new();
    for row in &rows {
        let unframed = Unframed { id: row.i64(0)?, created_at: from_millis(row.i64(2)?), group: row.str(3)? };
        let (channel, v1_slack) = (row.str(1)?, row.bool(4)?);
        channels.entry(channel).or_insert_with(|| (v1_slack, Vec::new())).1.push(unframed);
    }
    let mut next_due: Option<Timestamp> = None;
    for (channel, (v1_slack, unframed)) in channels {
        let mut history: BTreeMap<String, GroupHistory> = BTreeMap::new();
        let recent = conn
            .query(
                "SELECT group_key, COUNT(DISTINCT server_pk) FROM deliveries \
                 WHERE channel_id = $1 AND created_at > $2 GROUP BY group_key",
                &[channel.as_str().into(), since.into()],
            )
            .await?;
        for row in &recent {
            history.entry(row.str(0)?).or_default().recent_servers = usize::try_from(row.i64(1)?).unwrap_or(0);
        }
        let storms = conn
            .query(
                "SELECT group_key, storm_until FROM channel_storms WHERE channel_id = $1",
                &[channel.as_str().into()],
            )
            .await?;
        for row in &storms {
            history.entry(row.str(0)?).or_default().storm_until = Some(from_millis(row.i64(1)?));
        }
        let framing = notify::frame(&unframed, &history, grouping, v1_slack, now);
        for ids in &framing.messages {
            let message = conn
                .query_one(
                    "INSERT INTO messages (channel_id, next_attempt_at, created_at) VALUES ($1, $2, $2) RETURNING id",
                    &[channel.as_str().into(), now_ms.into()],
                )
                .await?
                .i64(0)?;
            for id in ids {
                conn.execute(
                    "UPDATE deliveries SET message_id = $1 WHERE id = $2 AND message_id IS NULL",
                    &[message.into(), (*id).into()],
                )
                .await?;
            }
        }
        for (group, until) in &framing.storms {
            conn.execute(
                "INSERT INTO channel_storms (channel_id, group_key, storm_until) VALUES ($1, $2, $3) \
                 ON CONFLICT (channel_id, group_key) DO UPDATE SET storm_until = excluded.storm_until",
                &[channel.as_str().into(), group.as_str().into(), to_millis(until).into()],
            )
            .await?;
        }
        if let Some(due) = framing.next_due {
            next_due = Some(next_due.map_or(due, |earliest| earliest.min(due)));
        }
    }
    Ok(next_due)
}

/// Channels whose next message is due at `now`.
pub(crate) async fn due_channels(conn: &mut dyn Conn, now: Timestamp) -> StoreResult<Vec<String>> {
    let rows = conn
        .query(
            "SELECT DISTINCT channel_id FROM messages WHERE status = 'pending' AND next_attempt_at <= $1",
            &[to_millis(&now).into()],
        )
        .await?;
    rows.iter().map(|row| row.str(0)).collect()
}

/// When the earliest pending message due strictly after `now` becomes due (a retry, or the end
/// of another dispatcher's lease): how long an idle dispatcher may sleep.
pub(crate) async fn next_due_after(conn: &mut dyn Conn, now: Timestamp) -> StoreResult<Option<Timestamp>> {
    let row = conn
        .query_one(
            "SELECT MIN(next_attempt_at) FROM messages WHERE status = 'pending' AND next_attempt_at > $1",
            &[to_millis(&now).into()],
        )
        .await?;
    Ok(row.opt_i64(0)?.map(from_millis))
}

/// Leases the channel's oldest unfinished message if it is due: a channel sends one message at
/// a time, in order, so an alert's later events never overtake its earlier ones. The row lock of
/// the `UPDATE` (no `SKIP LOCKED` here) makes a second hub wait and then see the lease.
pub(crate) async fn claim(
    conn: &mut dyn Conn,
    channel: &str,
    lease: &Lease,
    now: Timestamp,
) -> StoreResult<Option<ClaimedMessage>> {
    let claimed = conn
        .query_opt(
            "UPDATE messages SET next_attempt_at = $1, attempts = attempts + 1, lease_instance = $2, lease_token = $3 \
             WHERE id = (SELECT MIN(id) FROM messages WHERE channel_id = $4 AND status = 'pending') \
               AND next_attempt_at <= $5 \
             RETURNING id, attempts",
            &[
                to_millis(&lease.until).into(),
                lease.instance.as_str().into(),
                lease.token.as_str().into(),
                channel.into(),
                to_millis(&now).into(),
            ],
        )
        .await?;
    let Some(row) = claimed else { return Ok(None) };
    let (id, attempts) = (row.i64(0)?, row.i64(1)?);
    conn.execute(
        "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = $1 WHERE message_id = $2 AND status = 'pending'",
        &[to_millis(&lease.until).into(), id.into()],
    )
    .await?;
    let rows = conn
        .query(
            "SELECT d.id, d.event_id, d.channel_id, d.attempts, d.created_at, e.payload \
             FROM deliveries d JOIN alert_events e ON e.id = d.event_id WHERE d.message_id = $1 ORDER BY d.id",
            &[id.into()],
        )
        .await?;
    let deliveries = rows
        .iter()
        .map(|row| {
            Ok(ClaimedDelivery {
                id: row.i64(0)?,
                event_id: row.i64(1)?,
                channel_id: row.str(2)?,
                attempts: row.i64(3)?,
                created_at: from_millis(row.i64(4)?),
                event: event_from(&row.str(5)?)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Some(ClaimedMessage { id, channel_id: channel.to_owned(), attempts, deliveries }))
}

/// Records the outcome of an attempt, if `lease_token` still holds the message's lease: a hub
/// whose lease ran out and was taken over must not overwrite the new holder's outcome.
pub(crate) async fn finish(
    conn: &mut dyn Conn,
    message: i64,
    lease_token: &str,
    outcome: &DeliveryOutcome,
    now: Timestamp,
) -> StoreResult<bool> {
    let now = to_millis(&now);
    let (status, next_attempt_at, error, delivered_at) = match outcome {
        DeliveryOutcome::Delivered => ("delivered", now, None, Some(now)),
        DeliveryOutcome::Retry { error, next_attempt_at } => ("pending", to_millis(next_attempt_at), Some(error), None),
        DeliveryOutcome::Dead { error } => ("dead", now, Some(error), None),
    };
    let error: Value = error.map_or(Value::Null, |e| e.as_str().into());
    let delivered: Value = delivered_at.map_or(Value::Null, Value::from);
    let changed = conn
        .execute(
            "UPDATE messages SET status = $1, next_attempt_at = $2, last_error = $3, delivered_at = $4, \
             lease_instance = NULL, lease_token = NULL \
             WHERE id = $5 AND lease_token = $6 AND status = 'pending'",
            &[
                status.into(),
                next_attempt_at.into(),
                error.clone(),
                delivered.clone(),
                message.into(),
                lease_token.into(),
            ],
        )
        .await?;
    if changed == 0 {
        return Ok(false);
    }
    let ids: Vec<i64> = conn
        .query("SELECT id FROM deliveries WHERE message_id = $1 AND status = 'pending'", &[message.into()])
        .await?
        .iter()
        .map(|row| row.i64(0))
        .collect::<StoreResult<_>>()?;
    for id in ids {
        conn.execute(
            "UPDATE deliveries SET status = $1, next_attempt_at = $2, last_error = $3, delivered_at = $4 WHERE id = $5",
            &[status.into(), next_attempt_at.into(), error.clone(), delivered.clone(), id.into()],
        )
        .await?;
        refresh_event_status(conn, id, now).await?;
    }
    Ok(true)
}

/// Ends, at once, the leases that earlier processes of the hub `instance` left behind (a crash
/// or `kill -9` mid-send): the restarted hub sends those messages again now, not when the
/// leases would have run out.
pub(crate) async fn release_leases(conn: &mut dyn Conn, instance: &str, now: Timestamp) -> StoreResult<u64> {
    conn.execute(
        "UPDATE messages SET next_attempt_at = $1, lease_instance = NULL, lease_token = NULL \
         WHERE status = 'pending' AND lease_instance = $2 AND next_attempt_at > $1",
        &[to_millis(&now).into(), instance.into()],
    )
    .await
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

/// A delivery's status and the message it waits in, or [`StoreError::NotFound`].
async fn delivery_state(conn: &mut dyn Conn, id: i64) -> StoreResult<(String, Option<i64>)> {
    let row = conn
        .query_opt("SELECT status, message_id FROM deliveries WHERE id = $1", &[id.into()])
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("Delivery {id} not found")))?;
    Ok((row.str(0)?, row.opt_i64(1)?))
}

/// An operator's "try again now". A dead delivery is framed into a new message (its old message
/// keeps the events it went out with, so a delivery id never changes what it carries); a pending
/// one's message, waiting for a retry, becomes due now.
pub(crate) async fn retry(conn: &mut dyn Conn, id: i64, now: Timestamp) -> StoreResult<()> {
    let now = to_millis(&now);
    match delivery_state(conn, id).await? {
        (status, _) if status == "dead" => {
            conn.execute(
                "UPDATE deliveries SET status = 'pending', message_id = NULL, next_attempt_at = $1 WHERE id = $2",
                &[now.into(), id.into()],
            )
            .await?;
        }
        (status, message) if status == "pending" => {
            if let Some(message) = message {
                conn.execute(
                    "UPDATE messages SET next_attempt_at = $1 \
                     WHERE id = $2 AND status = 'pending' AND lease_token IS NULL AND next_attempt_at > $1",
                    &[now.into(), message.into()],
                )
                .await?;
            }
        }
        (status, _) => return Err(StoreError::Conflict(format!("Delivery {id} is {status} and cannot be retried"))),
    }
    refresh_event_status(conn, id, now).await
}

/// An operator's "never send this". A delivery waiting in a message discards that message with
/// all its events: a delivery id always carries the same events, so it cannot lose one.
pub(crate) async fn discard(conn: &mut dyn Conn, id: i64, now: Timestamp) -> StoreResult<()> {
    let now = to_millis(&now);
    let (status, message) = delivery_state(conn, id).await?;
    if status != "pending" && status != "dead" {
        return Err(StoreError::Conflict(format!("Delivery {id} is {status} and cannot be discarded")));
    }
    let ids: Vec<i64> = match message.filter(|_| status == "pending") {
        Some(message) => {
            conn.execute(
                "UPDATE messages SET status = 'discarded', lease_instance = NULL, lease_token = NULL \
                 WHERE id = $1 AND status = 'pending'",
                &[message.into()],
            )
            .await?;
            conn.query("SELECT id FROM deliveries WHERE message_id = $1 AND status = 'pending'", &[message.into()])
                .await?
                .iter()
                .map(|row| row.i64(0))
                .collect::<StoreResult<_>>()?
        }
        None => vec![id],
    };
    for id in ids {
        conn.execute("UPDATE deliveries SET status = 'discarded' WHERE id = $1", &[id.into()]).await?;
        refresh_event_status(conn, id, now).await?;
    }
    Ok(())
}
