//! Upgrade steps that need code rather than SQL. A migration queues a step by name in
//! `pending_upgrades`; the store runs it when it opens, before anything reads the data.
//!
//! `compact-history` converts the per-series sample tables of schema version 3 into the compact
//! rows of version 4 (see [`crate::codec`]), one server per transaction so that a large database
//! neither holds one huge transaction nor loses work if the hub stops half-way: a server whose
//! old rows are gone is done, and the step resumes with the next.

use std::collections::BTreeMap;

use homelab_core::history::Aggregate;

use crate::StoreResult;
use crate::backend::Conn;
use crate::codec;

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
