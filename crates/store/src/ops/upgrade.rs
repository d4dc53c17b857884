//! Upgrade steps that need code rather than SQL. A migration queues a step by name in
//! `pending_upgrades`; the store runs it when it opens, before anything reads the data.
//!
//! `compact-history` converts the per-series sample tables of schema version 3 into the compact
//! rows of version 4 (see [`crate::codec`]), one server per transaction so that a large database
//! neither holds one huge transaction nor loses work if the hub stops half-way: a server whose
//! old rows are gone is done, and the step resumes with the next.
//!
//! `typed-settings` moves the settings documents of schema version 6 (thresholds, notification
//! settings, the channels list, the server tags) into the tables of version 7, in one
//! transaction, parsing them with the same serde definitions (and defaults) that read them before.

use std::collections::BTreeMap;

use homelab_core::alerts::{NotificationSettings, Severity, Thresholds};
use homelab_core::history::Aggregate;

use super::{channels, settings, tags};
use crate::backend::Conn;
use crate::codec;
use crate::{Channel, ChannelEvents, StoreError, StoreResult, TagMap};

pub(crate) const COMPACT_HISTORY: &str = "compact-history";

pub(crate) async fn is_pending(conn: &mut dyn Conn, name: &str) -> StoreResult<bool> {
    Ok(conn.query_opt("SELECT 1 FROM pending_upgrades WHERE name = $1", &[name.into()]).await?.is_some())
}

/// Servers that still have rows in the old tables.
pub(crate) async fn servers_to_convert(conn: &mut dyn Conn) -> StoreResult<Vec<i64>> {
    let mut pks = Vec::new();
    for row in conn.query("SELECT pk FROM servers ORDER BY pk", &[]).await? {
        let pk = row.i64(0)?;
        let has_rows = conn
            .query_opt(
                "SELECT 1 FROM series s WHERE s.server_pk = $1 AND (\
                 EXISTS (SELECT 1 FROM samples_raw r WHERE r.series_id = s.id) OR \
                 EXISTS (SELECT 1 FROM samples_5m r WHERE r.series_id = s.id) OR \
                 EXISTS (SELECT 1 FROM samples_1h r WHERE r.series_id = s.id)) LIMIT 1",
                &[pk.into()],
            )
            .await?
            .is_some();
        if has_rows {
            pks.push(pk);
        }
    }
    Ok(pks)
}

/// Converts one server's history and deletes its old rows; returns the rows converted.
pub(crate) async fn convert_server(conn: &mut dyn Conn, pk: i64) -> StoreResult<u64> {
    let mut converted = 0;
    let raw = conn
        .query(
            "SELECT r.ts, r.series_id, r.value FROM samples_raw r JOIN series s ON s.id = r.series_id \
             WHERE s.server_pk = $1 ORDER BY r.ts",
            &[pk.into()],
        )
        .await?;
    converted += raw.len() as u64;
    let mut instants: BTreeMap<i64, Vec<(i64, f64)>> = BTreeMap::new();
    for row in raw {
        instants.entry(row.i64(0)?).or_default().push((row.i64(1)?, row.f64(2)?));
    }
    for (ts, samples) in instants {
        conn.execute(
            "INSERT INTO history_raw (server_pk, ts, samples) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[pk.into(), ts.into(), codec::encode_samples(&samples).into()],
        )
        .await?;
    }
    for (old, new) in [("samples_5m", "history_5m"), ("samples_1h", "history_1h")] {
        let rows = conn
            .query(
                &format!(
                    "SELECT r.ts, r.series_id, r.avg, r.min, r.max, r.count FROM {old} r \
                     JOIN series s ON s.id = r.series_id WHERE s.server_pk = $1 ORDER BY r.ts"
                ),
                &[pk.into()],
            )
            .await?;
        converted += rows.len() as u64;
        let mut buckets: BTreeMap<i64, Vec<(i64, Aggregate)>> = BTreeMap::new();
        for row in rows {
            let ts = row.i64(0)?;
            let aggregate = Aggregate { ts, avg: row.f64(2)?, min: row.f64(3)?, max: row.f64(4)?, count: row.i64(5)? };
            buckets.entry(ts).or_default().push((row.i64(1)?, aggregate));
        }
        for (ts, aggregates) in buckets {
            conn.execute(
                &format!("INSERT INTO {new} (server_pk, ts, aggregates) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"),
                &[pk.into(), ts.into(), codec::encode_aggregates(&aggregates).into()],
            )
            .await?;
        }
    }
    for old in ["samples_raw", "samples_5m", "samples_1h"] {
        conn.execute(
            &format!("DELETE FROM {old} WHERE series_id IN (SELECT id FROM series WHERE server_pk = $1)"),
            &[pk.into()],
        )
        .await?;
    }
    Ok(converted)
}

/// Drops the emptied old tables and marks the step done (idempotent, for concurrent hubs).
pub(crate) async fn finish_compact_history(conn: &mut dyn Conn) -> StoreResult<()> {
    for old in ["samples_raw", "samples_5m", "samples_1h"] {
        conn.execute(&format!("DROP TABLE IF EXISTS {old}"), &[]).await?;
    }
    conn.execute("DELETE FROM pending_upgrades WHERE name = $1", &[COMPACT_HISTORY.into()]).await?;
    Ok(())
}

pub(crate) const TYPED_SETTINGS: &str = "typed-settings";

/// The `settings` keys of the documents that schema version 7 turned into tables. Only this
/// upgrade still knows them.
const THRESHOLDS_DOCUMENT: &str = "thresholds";
const NOTIFICATIONS_DOCUMENT: &str = "notifications";
const CHANNELS_DOCUMENT: &str = "channels";
const TAGS_DOCUMENT: &str = "server_tags";

fn unreadable(what: &str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Unreadable { what: what.to_owned(), reason: reason.to_string() }
}

/// Moves the settings documents into the typed tables of schema version 7 and drops `settings`,
/// in one transaction. A document that cannot be read stops the upgrade (and the store from
/// opening) with [`StoreError::Unreadable`] naming it, rather than being replaced by defaults:
/// delete or repair that row of `settings` and start again. Returns false when another hub has
/// already done it.
pub(crate) async fn typed_settings(conn: &mut dyn Conn) -> StoreResult<bool> {
    // Claims the step: a second hub waits here for the first to commit, then finds nothing.
    if conn.execute("DELETE FROM pending_upgrades WHERE name = $1", &[TYPED_SETTINGS.into()]).await? == 0 {
        return Ok(false);
    }
    let mut documents = BTreeMap::new();
    for row in conn.query("SELECT key, value, updated_at FROM settings", &[]).await? {
        documents.insert(row.str(0)?, (row.str(1)?, row.i64(2)?));
    }
    let mut slack_url = String::new();
    let mut now = 0;
    for (key, (text, updated_at)) in &documents {
        now = now.max(*updated_at);
        match key.as_str() {
            THRESHOLDS_DOCUMENT => {
                let value: Thresholds = serde_json::from_str(text).map_err(|e| unreadable("thresholds", e))?;
                settings::put_thresholds(conn, &value, *updated_at).await?;
            }
            NOTIFICATIONS_DOCUMENT => {
                let value: NotificationSettings =
                    serde_json::from_str(text).map_err(|e| unreadable("notification settings", e))?;
                slack_url.clone_from(&value.slack_webhook_url);
                settings::put_notifications(conn, &value, *updated_at).await?;
            }
            CHANNELS_DOCUMENT => {
                let list: Vec<serde_json::Value> =
                    serde_json::from_str(text).map_err(|e| unreadable("channels document", e))?;
                for document in list {
                    let channel = channel_from_document(document)?;
                    import_channel(conn, &channel, *updated_at).await?;
                }
            }
            TAGS_DOCUMENT => {
                let all: TagMap = serde_json::from_str(text).map_err(|e| unreadable("server tags document", e))?;
                for (server_id, tags) in all {
                    // Tags of servers deleted since were kept in the document; they go now.
                    if conn
                        .query_opt("SELECT 1 FROM servers WHERE id = $1", &[server_id.as_str().into()])
                        .await?
                        .is_some()
                    {
                        tags::replace(conn, &server_id, &tags).await?;
                    }
                }
            }
            other => tracing::warn!(key = other, "dropping a settings document nothing reads"),
        }
    }
    // The channels document is read after the notification settings (keys in order), so a real
    // `slack` channel is in place before the v1 row is considered.
    channels::sync_v1_slack(conn, &slack_url, now).await?;
    conn.execute("DROP TABLE settings", &[]).await?;
    if !documents.is_empty() {
        tracing::info!(documents = documents.len(), "moved the settings documents into typed tables");
    }
    Ok(true)
}

/// A channel of the hub's v1-era channels document: `id`, `kind`, `min_severity`, `events`
/// and `enabled` next to the kind-specific fields, with the hub's defaults for what is absent.
fn channel_from_document(document: serde_json::Value) -> StoreResult<Channel> {
    let serde_json::Value::Object(mut fields) = document else {
        return Err(unreadable("channels document", "a channel is not a JSON object"));
    };
    let mut text = |name: &str| match fields.remove(name) {
        Some(serde_json::Value::String(value)) => Ok(value),
        _ => Err(unreadable("channels document", format!("a channel has no '{name}'"))),
    };
    let id = text("id")?;
    let kind = text("kind")?;
    let what = format!("channel '{id}'");
    let min_severity = match fields.remove("min_severity") {
        None => Severity::Low,
        Some(value) => value
            .as_str()
            .and_then(Severity::parse)
            .ok_or_else(|| unreadable(&what, "min_severity is not a severity"))?,
    };
    let flag = |value: Option<&serde_json::Value>, name: &str| match value {
        None => Ok(true),
        Some(value) => value.as_bool().ok_or_else(|| unreadable(&what, format!("{name} is not true or false"))),
    };
    let enabled = flag(fields.remove("enabled").as_ref(), "enabled")?;
    let events = match fields.remove("events") {
        None => ChannelEvents::default(),
        Some(serde_json::Value::Object(events)) => ChannelEvents {
            firing: flag(events.get("firing"), "events.firing")?,
            reminders: flag(events.get("reminders"), "events.reminders")?,
            resolutions: flag(events.get("resolutions"), "events.resolutions")?,
        },
        Some(_) => return Err(unreadable(&what, "events is not an object")),
    };
    Ok(Channel { id, kind, enabled, min_severity, events, settings: fields })
}

/// Writes a channel of the document, reviving the tombstone migration 7 made for it when its
/// deliveries already named it (or, for an id listed twice, replacing the first: the last wins).
async fn import_channel(conn: &mut dyn Conn, channel: &Channel, updated_at: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE channels SET deleted_at = $2, v1_slack = FALSE WHERE id = $1",
        &[channel.id.as_str().into(), updated_at.into()],
    )
    .await?;
    channels::create(conn, channel, homelab_core::time::from_millis(updated_at)).await.map(|_| ())
}
