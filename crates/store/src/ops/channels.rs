//! Notification channels, one row each (`channels`), and the delivery foreign key's rules.
//!
//! A channel is never removed: deleting one turns its row into a tombstone (`deleted_at` set,
//! settings and their secrets emptied) and dead-letters its pending deliveries at once, with the
//! error the dispatcher gave them before ("channel '…' no longer exists"). Delivered and dead
//! deliveries keep naming it, so the delivery log and alert timelines keep their history, and
//! `deliveries.channel_id` can reference `channels` without a cascade. Creating a channel with a
//! tombstone's id revives the row, as an id could be reused when channels were a document.
//!
//! v1's `slack_webhook_url` (notification settings) stands for the channel
//! [`V1_SLACK_CHANNEL`]: the dispatcher builds it from the settings, as before, and the store
//! keeps a hidden row (`v1_slack`) for its deliveries to reference. A real channel with that id
//! takes its place, as the dispatcher already preferred it.

use homelab_core::alerts::Severity;
use homelab_core::time::{Timestamp, to_millis};

use super::{deliveries, settings};
use crate::backend::{Conn, Row};
use crate::{Change, Channel, ChannelEvents, StoreError, StoreResult, V1_SLACK_CHANNEL};

const COLUMNS: &str = "id, kind, enabled, min_severity, on_firing, on_reminders, on_resolutions, settings";
/// Rows a person configured: neither tombstones nor the v1 Slack row.
const LIVE: &str = "deleted_at IS NULL AND v1_slack = FALSE";

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound(format!("Channel '{id}' not found"))
}

fn channel_from(row: &Row) -> StoreResult<Channel> {
    let id = row.str(0)?;
    let read = || -> StoreResult<Channel> {
        let severity = row.str(3)?;
        let settings = match serde_json::from_str(&row.str(7)?) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(other) => return Err(StoreError::Database(format!("settings are not a JSON object: {other}"))),
            Err(error) => return Err(StoreError::Database(format!("settings are not JSON: {error}"))),
        };
        Ok(Channel {
            id: id.clone(),
            kind: row.str(1)?,
            enabled: row.bool(2)?,
            min_severity: Severity::parse(&severity)
                .ok_or_else(|| StoreError::Database(format!("'{severity}' is not a severity")))?,
            events: ChannelEvents { firing: row.bool(4)?, reminders: row.bool(5)?, resolutions: row.bool(6)? },
            settings,
        })
    };
    read().map_err(StoreError::unreadable(&format!("channel '{id}'")))
}

pub(crate) async fn list(conn: &mut dyn Conn) -> StoreResult<Vec<Channel>> {
    let rows = conn.query(&format!("SELECT {COLUMNS} FROM channels WHERE {LIVE} ORDER BY id"), &[]).await?;
    rows.iter().map(channel_from).collect()
}

pub(crate) async fn get(conn: &mut dyn Conn, id: &str) -> StoreResult<Channel> {
    let row = conn.query_opt(&format!("SELECT {COLUMNS} FROM channels WHERE id = $1 AND {LIVE}"), &[id.into()]).await?;
    channel_from(&row.ok_or_else(|| not_found(id))?)
}

/// Inserts `channel`, or revives a tombstone (or takes the v1 Slack row's place) with its id.
/// [`StoreError::Conflict`] when a channel with that id exists.
pub(crate) async fn create(conn: &mut dyn Conn, channel: &Channel, now: Timestamp) -> StoreResult<Channel> {
    let now = to_millis(&now);
    let created = conn
        .execute(
            "INSERT INTO channels (id, kind, enabled, min_severity, on_firing, on_reminders, on_resolutions, \
             settings, v1_slack, created_at, updated_at, deleted_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, FALSE, $9, $9, NULL) \
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, enabled = excluded.enabled, \
             min_severity = excluded.min_severity, on_firing = excluded.on_firing, \
             on_reminders = excluded.on_reminders, on_resolutions = excluded.on_resolutions, \
             settings = excluded.settings, v1_slack = FALSE, created_at = excluded.created_at, \
             updated_at = excluded.updated_at, deleted_at = NULL \
             WHERE channels.deleted_at IS NOT NULL OR channels.v1_slack = TRUE",
            &[
                channel.id.as_str().into(),
                channel.kind.as_str().into(),
                channel.enabled.into(),
                channel.min_severity.as_str().into(),
                channel.events.firing.into(),
                channel.events.reminders.into(),
                channel.events.resolutions.into(),
                serde_json::Value::Object(channel.settings.clone()).to_string().into(),
                now.into(),
            ],
        )
        .await?;
    if created == 0 {
        return Err(StoreError::Conflict(format!("Channel '{}' already exists", channel.id)));
    }
    Ok(channel.clone())
}

/// Changes one channel in one transaction (its row locked from read to write).
pub(crate) async fn update(
    conn: &mut dyn Conn,
    id: &str,
    change: Change<Channel>,
    now: Timestamp,
) -> StoreResult<Channel> {
    let locked = conn
        .execute(&format!("UPDATE channels SET updated_at = updated_at WHERE id = $1 AND {LIVE}"), &[id.into()])
        .await?;
    if locked == 0 {
        return Err(not_found(id));
    }
    let changed = change(get(conn, id).await?)?;
    if changed.id != id {
        return Err(StoreError::Rejected(format!("Channel '{id}' cannot be renamed to '{}'", changed.id)));
    }
    conn.execute(
        "UPDATE channels SET kind = $2, enabled = $3, min_severity = $4, on_firing = $5, on_reminders = $6, \
         on_resolutions = $7, settings = $8, updated_at = $9 WHERE id = $1",
        &[
            id.into(),
            changed.kind.as_str().into(),
            changed.enabled.into(),
            changed.min_severity.as_str().into(),
            changed.events.firing.into(),
            changed.events.reminders.into(),
            changed.events.resolutions.into(),
            serde_json::Value::Object(changed.settings.clone()).to_string().into(),
            to_millis(&now).into(),
        ],
    )
    .await?;
    Ok(changed)
}

/// Deletes a channel: see the module comment for what happens to its deliveries.
pub(crate) async fn delete(conn: &mut dyn Conn, id: &str, now: Timestamp) -> StoreResult<()> {
    let now = to_millis(&now);
    if !tombstone(conn, id, LIVE, now).await? {
        return Err(not_found(id));
    }
    if id == V1_SLACK_CHANNEL {
        // v1's Slack URL, if set, stands for this id again.
        let url = settings::notifications(conn).await?.slack_webhook_url;
        sync_v1_slack(conn, &url, now).await?;
    }
    Ok(())
}

/// Empties the channel's row, keeping the id, if it matches `condition` (SQL on `channels`),
/// and then dead-letters its pending deliveries. Checking the condition in the `UPDATE` itself
/// keeps a concurrent change of the row (a person creating the channel the v1 row stood for)
/// from being overwritten. Returns whether the row matched.
async fn tombstone(conn: &mut dyn Conn, id: &str, condition: &str, now: i64) -> StoreResult<bool> {
    let emptied = conn
        .execute(
            &format!(
                "UPDATE channels SET enabled = FALSE, settings = '{{}}', v1_slack = FALSE, updated_at = $2, \
                 deleted_at = $2 WHERE id = $1 AND {condition}"
            ),
            &[id.into(), now.into()],
        )
        .await?;
    if emptied == 0 {
        return Ok(false);
    }
    let gone = format!("channel '{id}' no longer exists");
    conn.execute(
        "UPDATE messages SET status = 'dead', last_error = $2, lease_instance = NULL, lease_token = NULL \
         WHERE channel_id = $1 AND status = 'pending'",
        &[id.into(), gone.as_str().into()],
    )
    .await?;
    let dead = conn
        .query(
            "UPDATE deliveries SET status = 'dead', last_error = $2 WHERE channel_id = $1 AND status = 'pending' \
             RETURNING id",
            &[id.into(), gone.into()],
        )
        .await?;
    for row in dead {
        deliveries::refresh_event_status(conn, row.i64(0)?, now).await?;
    }
    Ok(true)
}

/// Keeps the hidden v1 Slack row in step with `slack_webhook_url`: present while the URL is set
/// and no real channel has the id, a tombstone once the URL is emptied. The row holds no URL; the
/// dispatcher reads it from the notification settings. A real channel with the id is never
/// touched, even one created concurrently: both statements check for it themselves.
pub(crate) async fn sync_v1_slack(conn: &mut dyn Conn, url: &str, now: i64) -> StoreResult<()> {
    if url.trim().is_empty() {
        tombstone(conn, V1_SLACK_CHANNEL, "v1_slack = TRUE AND deleted_at IS NULL", now).await?;
        return Ok(());
    }
    conn.execute(
        "INSERT INTO channels (id, kind, enabled, min_severity, on_firing, on_reminders, on_resolutions, settings, \
         v1_slack, created_at, updated_at, deleted_at) \
         VALUES ($1, 'slack', TRUE, 'low', TRUE, TRUE, TRUE, '{}', TRUE, $2, $2, NULL) \
         ON CONFLICT (id) DO UPDATE SET kind = 'slack', enabled = TRUE, min_severity = 'low', on_firing = TRUE, \
         on_reminders = TRUE, on_resolutions = TRUE, settings = '{}', v1_slack = TRUE, updated_at = excluded.updated_at, \
         deleted_at = NULL WHERE channels.deleted_at IS NOT NULL",
        &[V1_SLACK_CHANNEL.into(), now.into()],
    )
    .await?;
    Ok(())
}
