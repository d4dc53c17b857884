//! Reading history across tiers, and the retention job (rollup, then prune).
//!
//! Every tier holds one row per server and instant (raw) or bucket (rollups), whose blob holds
//! all of that server's series (see [`crate::codec`]). Rollups therefore run in Rust, per
//! server: read a server's rows of a range, aggregate per series and bucket, write one row per
//! bucket. Buckets are always recomputed whole, which keeps the job idempotent.

use std::collections::{BTreeMap, HashMap};

use homelab_core::history::{Aggregate, MetricKind, RetentionPolicy, Tier, bucket_start, rebucket, tier_plan};
use homelab_core::time::{Timestamp, to_millis};

use super::servers::{find_by_id, not_found};
use crate::backend::{Conn, Row};
use crate::codec;
use crate::{HistoryQuery, RetentionReport, SeriesData, StoreResult};

const FIVE_MINUTES: i64 = 300_000;
const HOUR: i64 = 3_600_000;

/// The rows of `rollup_watermarks`: how far each tier is rolled up, and how far the two finer
/// tiers have been pruned.
#[derive(Debug, Clone, Copy, Default)]
struct Marks {
    /// Everything before this is rolled up into the 5-minute tier.
    five: i64,
    /// Everything before this is rolled up into the hourly tier.
    hourly: i64,
    /// Raw rows before this have been pruned (so late rows there are merged, not recomputed).
    raw_pruned: i64,
    /// 5-minute rows before this have been pruned.
    five_pruned: i64,
}

impl Marks {
    async fn load(conn: &mut dyn Conn) -> StoreResult<Marks> {
        let mut marks = Marks::default();
        for row in conn.query("SELECT tier, watermark FROM rollup_watermarks", &[]).await? {
            let value = row.i64(1)?;
            match row.str(0)?.as_str() {
                "5m" => marks.five = value,
                "1h" => marks.hourly = value,
                "raw-pruned" => marks.raw_pruned = value,
                "5m-pruned" => marks.five_pruned = value,
                _ => {}
            }
        }
        Ok(marks)
    }
}

async fn set_mark(conn: &mut dyn Conn, name: &str, value: i64) -> StoreResult<()> {
    conn.execute("UPDATE rollup_watermarks SET watermark = $1 WHERE tier = $2", &[value.into(), name.into()]).await?;
    Ok(())
}

fn table(tier: Tier) -> &'static str {
    match tier {
        Tier::Raw => "history_raw",
        Tier::FiveMinutes => "history_5m",
        Tier::Hourly => "history_1h",
    }
}

fn blob_column(tier: Tier) -> &'static str {
    match tier {
        Tier::Raw => "samples",
        Tier::FiveMinutes | Tier::Hourly => "aggregates",
    }
}

/// Decodes one stored row (`ts`, blob) of `tier` into per-series aggregates stamped `stamp`
/// (the row's own time, or the bucket it is being rolled into).
fn decode_row(tier: Tier, row: &mut Row, stamp: impl Fn(i64) -> i64) -> StoreResult<Vec<(i64, Aggregate)>> {
    let ts = stamp(row.i64(0)?);
    let blob = row.take_blob(1)?;
    Ok(match tier {
        Tier::Raw => codec::decode_samples(&blob)?
            .into_iter()
            .map(|(series, value)| (series, Aggregate::of_sample(ts, value)))
            .collect(),
        Tier::FiveMinutes | Tier::Hourly => codec::decode_aggregates(&blob, ts)?,
    })
}

/// One server's rows of `tier` in `[from, to)`, oldest first.
async fn rows(conn: &mut dyn Conn, tier: Tier, pk: i64, from: i64, to: i64) -> StoreResult<Vec<Row>> {
    let sql = format!(
        "SELECT ts, {} FROM {} WHERE server_pk = $1 AND ts >= $2 AND ts < $3 ORDER BY ts",
        blob_column(tier),
        table(tier)
    );
    conn.query(&sql, &[pk.into(), from.into(), to.into()]).await
}

pub(crate) async fn history(
    conn: &mut dyn Conn,
    server_id: &str,
    query: &HistoryQuery,
) -> StoreResult<Vec<SeriesData>> {
    let server = find_by_id(conn, server_id).await?.ok_or_else(|| not_found(server_id))?;
    let marks = Marks::load(conn).await?;
    let (from, to) = (to_millis(&query.from), to_millis(&query.to));
    let mut series = Vec::new();
    let mut position = HashMap::new();
    for row in conn
        .query(
            "SELECT id, metric, subject FROM series WHERE server_pk = $1 ORDER BY metric, subject",
            &[server.pk.into()],
        )
        .await?
    {
        let Some(metric) = MetricKind::parse(&row.str(1)?) else { continue };
        if query.metrics.contains(&metric) {
            position.insert(row.i64(0)?, series.len());
            series.push(SeriesData { metric, subject: row.str(2)?, points: Vec::new() });
        }
    }
    if series.is_empty() {
        return Ok(series);
    }
    for (tier, start, end) in tier_plan(query.source, from, to, marks.five, marks.hourly) {
        for mut row in rows(conn, tier, server.pk, start, end).await? {
            for (id, point) in decode_row(tier, &mut row, |ts| ts)? {
                if let Some(&index) = position.get(&id) {
                    series[index].points.push(point);
                }
            }
        }
    }
    if let Some(width) = query.bucket_millis {
        for data in &mut series {
            data.points = rebucket(std::mem::take(&mut data.points), width);
        }
    }
    Ok(series)
}

/// Bucket start → series id → aggregate.
type Buckets = BTreeMap<i64, BTreeMap<i64, Aggregate>>;

/// Aggregates `source` rows into `target`-wide buckets, merging into `into`.
fn aggregate(source: Tier, width: i64, rows: Vec<Row>, into: &mut Buckets) -> StoreResult<()> {
    for mut row in rows {
        for (series, point) in decode_row(source, &mut row, |ts| bucket_start(ts, width))? {
            into.entry(point.ts)
                .or_default()
                .entry(series)
                .and_modify(|existing| *existing = existing.merge(&point))
                .or_insert(point);
        }
    }
    Ok(())
}

async fn write_buckets(conn: &mut dyn Conn, target: Tier, pk: i64, buckets: &Buckets) -> StoreResult<u64> {
    let sql = format!(
        "INSERT INTO {} (server_pk, ts, aggregates) VALUES ($1, $2, $3) \
         ON CONFLICT (server_pk, ts) DO UPDATE SET aggregates = excluded.aggregates",
        table(target)
    );
    for (ts, series) in buckets {
        let entries: Vec<(i64, Aggregate)> = series.iter().map(|(id, aggregate)| (*id, *aggregate)).collect();
        conn.execute(&sql, &[pk.into(), (*ts).into(), codec::encode_aggregates(&entries).into()]).await?;
    }
    Ok(buckets.len() as u64)
}

/// The tier a rollup tier is computed from, and its bucket width.
fn source_of(target: Tier) -> (Tier, i64) {
    match target {
        Tier::Hourly => (Tier::FiveMinutes, HOUR),
        Tier::FiveMinutes | Tier::Raw => (Tier::Raw, FIVE_MINUTES),
    }
}

/// Recomputes every `target` bucket in `[from, to)`, server by server (which bounds memory
/// however long the range is). Returns the number of bucket rows written.
async fn roll_up_range(conn: &mut dyn Conn, target: Tier, from: i64, to: i64) -> StoreResult<u64> {
    let (source, width) = source_of(target);
    let mut written = 0;
    for server in conn.query("SELECT pk FROM servers ORDER BY pk", &[]).await? {
        let pk = server.i64(0)?;
        let mut buckets = Buckets::new();
        aggregate(source, width, rows(conn, source, pk, from, to).await?, &mut buckets)?;
        written += write_buckets(conn, target, pk, &buckets).await?;
    }
    Ok(written)
}

/// Brings the `target` buckets that received late rows up to date. A bucket whose source rows
/// are all still there is recomputed; one whose source rows were pruned before (`pruned_before`)
/// has its stored aggregate merged with the late rows, which are then deleted so that they are
/// never counted twice.
async fn roll_up_dirty(conn: &mut dyn Conn, target: Tier, pruned_before: i64) -> StoreResult<u64> {
    let (source, width) = source_of(target);
    let dirty = conn.query("SELECT server_pk, ts FROM rollup_dirty WHERE tier = $1", &[target.as_str().into()]).await?;
    let mut written = 0;
    for row in dirty {
        let (pk, start) = (row.i64(0)?, row.i64(1)?);
        let mut buckets = Buckets::new();
        let merge = start < pruned_before;
        if merge {
            let existing = conn
                .query_opt(
                    &format!("SELECT ts, aggregates FROM {} WHERE server_pk = $1 AND ts = $2", table(target)),
                    &[pk.into(), start.into()],
                )
                .await?;
            aggregate(target, width, existing.into_iter().collect(), &mut buckets)?;
        }
        aggregate(source, width, rows(conn, source, pk, start, start + width).await?, &mut buckets)?;
        written += write_buckets(conn, target, pk, &buckets).await?;
        if merge {
            conn.execute(
                &format!("DELETE FROM {} WHERE server_pk = $1 AND ts >= $2 AND ts < $3", table(source)),
                &[pk.into(), start.into(), (start + width).into()],
            )
            .await?;
        }
        conn.execute(
            "DELETE FROM rollup_dirty WHERE server_pk = $1 AND tier = $2 AND ts = $3",
            &[pk.into(), target.as_str().into(), start.into()],
        )
        .await?;
    }
    Ok(written)
}

async fn prune(conn: &mut dyn Conn, tier: Tier, before: i64) -> StoreResult<u64> {
    let sql = format!("DELETE FROM {} WHERE server_pk IN (SELECT pk FROM servers) AND ts < $1", table(tier));
    conn.execute(&sql, &[before.into()]).await
}

async fn oldest(conn: &mut dyn Conn, tier: Tier) -> StoreResult<Option<i64>> {
    let sql = format!("SELECT MIN(ts) FROM {}", table(tier));
    conn.query_one(&sql, &[]).await?.opt_i64(0)
}

/// Rolls a tier forward from its watermark to `to` (a bucket boundary), then catches up its late
/// buckets. Returns the new watermark and the number of bucket rows written.
async fn roll_up(conn: &mut dyn Conn, target: Tier, mark: i64, to: i64, pruned_before: i64) -> StoreResult<(i64, u64)> {
    let (source, width) = source_of(target);
    // A watermark of 0 means "never rolled up": start from the oldest source row instead.
    let from = if mark == 0 { oldest(conn, source).await?.map_or(0, |ts| bucket_start(ts, width)) } else { mark };
    let mut written = 0;
    if to > from {
        written += roll_up_range(conn, target, from, to).await?;
        set_mark(conn, target.as_str(), to).await?;
    }
    written += roll_up_dirty(conn, target, pruned_before).await?;
    Ok((to.max(mark), written))
}

/// Advisory-lock key of the retention job ("rollup" in ASCII): two hubs merging the same late
/// rows at once could each add them to the stored aggregate.
const RETENTION_JOB_LOCK: i64 = 0x0000_726f_6c6c_7570;

pub(crate) async fn run_retention(
    conn: &mut dyn Conn,
    policy: &RetentionPolicy,
    now: Timestamp,
) -> StoreResult<RetentionReport> {
    if !conn.try_job_lock(RETENTION_JOB_LOCK).await? {
        // Another hub on the same database is rolling up right now; the next run catches up.
        return Ok(RetentionReport::default());
    }
    let marks = Marks::load(conn).await?;
    let mut report = RetentionReport::default();
    let cutoff = |tier| to_millis(&policy.cutoff(tier, now));

    let (five_done, written) =
        roll_up(conn, Tier::FiveMinutes, marks.five, bucket_start(to_millis(&now), FIVE_MINUTES), marks.raw_pruned)
            .await?;
    report.five_minute_buckets_written = written;
    let (hourly_done, written) =
        roll_up(conn, Tier::Hourly, marks.hourly, bucket_start(five_done, HOUR), marks.five_pruned).await?;
    report.hourly_buckets_written = written;

    // Prune only what the next tier already holds, and only whole buckets of it, so a bucket is
    // either entirely present in its source tier or entirely gone.
    let raw_cutoff = bucket_start(cutoff(Tier::Raw).min(five_done), FIVE_MINUTES);
    report.raw_deleted = prune(conn, Tier::Raw, raw_cutoff).await?;
    if raw_cutoff > marks.raw_pruned {
        set_mark(conn, "raw-pruned", raw_cutoff).await?;
    }
    let five_cutoff = bucket_start(cutoff(Tier::FiveMinutes).min(hourly_done), HOUR);
    report.five_minute_deleted = prune(conn, Tier::FiveMinutes, five_cutoff).await?;
    if five_cutoff > marks.five_pruned {
        set_mark(conn, "5m-pruned", five_cutoff).await?;
    }
    report.hourly_deleted = prune(conn, Tier::Hourly, cutoff(Tier::Hourly)).await?;
    report.service_status_deleted =
        conn.execute("DELETE FROM service_status WHERE ts < $1", &[cutoff(Tier::Raw).into()]).await?;
    Ok(report)
}
