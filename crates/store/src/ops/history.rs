//! Reading history across tiers, and the retention job (rollup, then prune).
//!
//! Every tier holds one row per server and instant (raw) or bucket (rollups), whose blob holds
//! all of that server's series (see [`crate::codec`]). Rollups therefore run in Rust, per
//! server: read a server's rows of a range, aggregate per series and bucket, write one row per
//! bucket. Buckets are always recomputed whole, which keeps the job idempotent.
//!
//! The job runs as a series of small write units ([`retention_step`]), so that it never holds
//! the writer (and every heartbeat queued behind it) for long, however large the fleet. A tier's
//! next range is first *claimed*, then rolled up a batch of servers per unit, then marked *done*.
//! Ingest compares late samples with the claimed mark, so a sample that arrives for a server
//! already rolled up in this range is queued in `rollup_dirty` like any other late one.

use std::collections::{BTreeMap, HashMap};

use homelab_core::history::{Aggregate, MetricKind, RetentionPolicy, Tier, bucket_start, rebucket, tier_plan};
use homelab_core::time::{Timestamp, to_millis};

use super::partitions::Pruned;
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
    /// Everything before this is rolled up into the 5-minute tier (what reads rely on).
    five: i64,
    /// Everything before this is rolled up into the hourly tier.
    hourly: i64,
    /// The end of the 5-minute range being rolled up; equal to `five` when none is.
    five_claimed: i64,
    hourly_claimed: i64,
    /// The last server whose part of the claimed range is rolled up.
    five_cursor: i64,
    hourly_cursor: i64,
    /// Raw rows before this have been pruned (so late rows there are merged, not recomputed).
    raw_pruned: i64,
    /// 5-minute rows before this have been pruned.
    five_pruned: i64,
    /// Hourly rows before this have been pruned (no row until the first prune).
    hourly_pruned: i64,
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
                "1h-pruned" => marks.hourly_pruned = value,
                "5m-claimed" => marks.five_claimed = value,
                "1h-claimed" => marks.hourly_claimed = value,
                "5m-cursor" => marks.five_cursor = value,
                "1h-cursor" => marks.hourly_cursor = value,
                _ => {}
            }
        }
        Ok(marks)
    }
}

async fn set_mark(conn: &mut dyn Conn, name: &str, value: i64) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO rollup_watermarks (tier, watermark) VALUES ($2, $1) \
         ON CONFLICT (tier) DO UPDATE SET watermark = excluded.watermark",
        &[value.into(), name.into()],
    )
    .await?;
    Ok(())
}

pub(crate) fn table(tier: Tier) -> &'static str {
    match tier {
        Tier::Raw => "history_raw",
        Tier::FiveMinutes => "history_5m",
        Tier::Hourly => "history_1h",
    }
}

pub(crate) fn blob_column(tier: Tier) -> &'static str {
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

/// Every server's raw samples of one whole-machine metric in `[from, to)`: one query for the
/// series, then one indexed range read per server, all in the same read transaction.
pub(crate) async fn fleet_samples(
    conn: &mut dyn Conn,
    metric: MetricKind,
    from: i64,
    to: i64,
) -> StoreResult<HashMap<String, Vec<Aggregate>>> {
    let series = conn
        .query(
            "SELECT s.id, se.server_pk, se.id FROM series se JOIN servers s ON s.pk = se.server_pk \
             WHERE se.metric = $1 AND se.subject = ''",
            &[metric.as_str().into()],
        )
        .await?;
    let mut fleet = HashMap::with_capacity(series.len());
    for server in &series {
        let (pk, wanted) = (server.i64(1)?, server.i64(2)?);
        let mut points = Vec::new();
        for mut row in rows(conn, Tier::Raw, pk, from, to).await? {
            if let Some(value) = codec::find_sample(&row.take_blob(1)?, wanted)? {
                points.push(Aggregate::of_sample(row.i64(0)?, value));
            }
        }
        fleet.insert(server.str(0)?, points);
    }
    Ok(fleet)
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

/// How much one retention unit may do.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnitSize {
    /// Servers rolled up per unit when a tier moves forward.
    pub servers: i64,
    /// Late buckets caught up per unit.
    pub buckets: i64,
}

impl Default for UnitSize {
    /// About 10–50 ms of writer time per unit on a small machine.
    fn default() -> Self {
        UnitSize { servers: 100, buckets: 200 }
    }
}

/// The names of a rollup tier's rows in `rollup_watermarks`: done, claimed, cursor.
fn mark_names(target: Tier) -> (&'static str, &'static str, &'static str) {
    match target {
        Tier::Hourly => ("1h", "1h-claimed", "1h-cursor"),
        Tier::FiveMinutes | Tier::Raw => ("5m", "5m-claimed", "5m-cursor"),
    }
}

/// Claims `target`'s range from its done mark to `to` (a bucket boundary). A done mark of 0
/// means "never rolled up": the range then starts at the oldest source row. False when there
/// is nothing to claim.
async fn claim(conn: &mut dyn Conn, target: Tier, done: i64, to: i64) -> StoreResult<bool> {
    let (source, width) = source_of(target);
    let from = if done == 0 { oldest(conn, source).await?.map_or(0, |ts| bucket_start(ts, width)) } else { done };
    if to <= from {
        return Ok(false);
    }
    let (done_name, claimed_name, cursor_name) = mark_names(target);
    set_mark(conn, done_name, from).await?;
    set_mark(conn, claimed_name, to).await?;
    set_mark(conn, cursor_name, 0).await?;
    Ok(true)
}

/// Rolls up the claimed range `[done, claimed)` of the next batch of servers after `cursor`;
/// after the last one, marks the range done. Returns the bucket rows written.
async fn roll_up_servers(
    conn: &mut dyn Conn,
    target: Tier,
    (done, claimed, cursor): (i64, i64, i64),
    servers: i64,
) -> StoreResult<u64> {
    let (source, width) = source_of(target);
    let batch = conn
        .query("SELECT pk, id FROM servers WHERE pk > $1 ORDER BY pk LIMIT $2", &[cursor.into(), servers.into()])
        .await?;
    let batch = super::alerts::server_refs(&batch)?;
    let last = batch.last().map_or(cursor, |(pk, _)| *pk);
    // A heartbeat holds its server's row until it commits, and one that read the marks before
    // this range was claimed queued nothing for later: wait for it, so that its sample is read
    // here rather than lost (PostgreSQL; SQLite has one writer). The rows are taken in the
    // order heartbeat batches take them, not by `pk`: else a batch and this unit could each
    // hold a row the other waits for.
    super::alerts::lock_servers(conn, &batch).await?;
    let mut written = 0;
    for (pk, _) in &batch {
        let mut buckets = Buckets::new();
        aggregate(source, width, rows(conn, source, *pk, done, claimed).await?, &mut buckets)?;
        written += write_buckets(conn, target, *pk, &buckets).await?;
    }
    let (done_name, _, cursor_name) = mark_names(target);
    if (batch.len() as i64) < servers {
        set_mark(conn, done_name, claimed).await?;
        set_mark(conn, cursor_name, 0).await?;
    } else {
        set_mark(conn, cursor_name, last).await?;
    }
    Ok(written)
}

/// Brings up to `limit` of the `target` buckets that received late rows up to date. A bucket
/// whose source rows are all still there is recomputed; one whose source rows were pruned
/// before (`pruned_before`) has its stored aggregate merged with the late rows, which are then
/// deleted so that they are never counted twice. A recomputed 5-minute bucket that the hourly
/// tier already covers (`hourly_claimed`) queues its hour in turn. Returns the bucket rows
/// written and the number of queued buckets handled.
async fn roll_up_dirty(
    conn: &mut dyn Conn,
    target: Tier,
    pruned_before: i64,
    hourly_claimed: i64,
    limit: i64,
) -> StoreResult<(u64, usize)> {
    let (source, width) = source_of(target);
    let dirty = conn
        .query(
            "SELECT d.server_pk, d.ts, s.id FROM rollup_dirty d JOIN servers s ON s.pk = d.server_pk \
             WHERE d.tier = $1 ORDER BY d.ts, d.server_pk LIMIT $2",
            &[target.as_str().into(), limit.into()],
        )
        .await?;
    // A heartbeat queues its late buckets holding its server's row: take the rows of these
    // servers first (in the global order), or this unit, deleting a queued bucket and queueing
    // its hour, and a batch, queueing the same two the other way round, wait for each other.
    let mut servers = dirty.iter().map(|row| Ok((row.i64(0)?, row.str(2)?))).collect::<StoreResult<Vec<_>>>()?;
    servers.sort_unstable();
    servers.dedup();
    super::alerts::lock_servers(conn, &servers).await?;
    let mut written = 0;
    for row in &dirty {
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
        if target == Tier::FiveMinutes && bucket_start(start, HOUR) < hourly_claimed {
            conn.execute(
                "INSERT INTO rollup_dirty (server_pk, tier, ts) VALUES ($1, '1h', $2) ON CONFLICT DO NOTHING",
                &[pk.into(), bucket_start(start, HOUR).into()],
            )
            .await?;
        }
    }
    Ok((written, dirty.len()))
}

/// The oldest queued late bucket of `tier` at or after `from`: its source rows must stay until
/// it is rolled up (older ones are merged into their stored aggregate instead).
async fn oldest_dirty(conn: &mut dyn Conn, tier: Tier, from: i64) -> StoreResult<Option<i64>> {
    conn.query_one(
        "SELECT MIN(ts) FROM rollup_dirty WHERE tier = $1 AND ts >= $2",
        &[tier.as_str().into(), from.into()],
    )
    .await?
    .opt_i64(0)
}

/// Removes `tier`'s rows before `before`: all of them, or, where history is partitioned
/// (PostgreSQL), those of the default partition; the partitions wholly before `before` are
/// dropped afterwards ([`super::partitions::drop_below`]).
/// Prunes `tier` before `before`. On SQLite, a tier whose cutoff has not passed its pruned mark
/// (`done`) has nothing to prune: rows older than the mark never come back (a late one is queued
/// and merged into its bucket, then deleted; older than the hourly tier's cutoff is refused at
/// ingest). Skipping spares the `DELETE`'s seek into every server's rows, which with 10 000
/// machines held the writer for tens of milliseconds at every run (every few seconds at most).
async fn prune(conn: &mut dyn Conn, tier: Tier, before: i64, done: i64) -> StoreResult<Pruned> {
    let rows = if conn.partitioned() {
        super::partitions::prune_default(conn, tier, before).await?
    } else if before <= done {
        0
    } else {
        let sql = format!("DELETE FROM {} WHERE server_pk IN (SELECT pk FROM servers) AND ts < $1", table(tier));
        conn.execute(&sql, &[before.into()]).await?
    };
    Ok(Pruned { rows, below: before, partitions_dropped: 0 })
}

async fn oldest(conn: &mut dyn Conn, tier: Tier) -> StoreResult<Option<i64>> {
    let sql = format!("SELECT MIN(ts) FROM {}", table(tier));
    conn.query_one(&sql, &[]).await?.opt_i64(0)
}

/// Advisory-lock key of the retention job ("rollup" in ASCII): two hubs merging the same late
/// rows at once could each add them to the stored aggregate.
const RETENTION_JOB_LOCK: i64 = 0x0000_726f_6c6c_7570;

/// Creates the next missing history partition (PostgreSQL; see [`super::partitions`]) as one
/// write unit, under the retention job's lock so that two hubs never create the same one.
/// Returns the partitions created and whether more may be missing.
pub(crate) async fn partitions_step(
    conn: &mut dyn Conn,
    now: Timestamp,
    keep: super::partitions::KeepFrom,
) -> StoreResult<(u64, bool)> {
    if !conn.partitioned() || !conn.try_job_lock(RETENTION_JOB_LOCK).await? {
        return Ok((0, false));
    }
    super::partitions::create_next(conn, now, keep).await
}

/// Does the next piece of the retention job as one write unit and says whether more remains.
/// In order: move the 5-minute tier forward (claim, then a batch of servers per unit), catch up
/// its late buckets, the same for the hourly tier, then prune every tier in one last unit.
pub(crate) async fn retention_step(
    conn: &mut dyn Conn,
    policy: &RetentionPolicy,
    now: Timestamp,
    size: UnitSize,
) -> StoreResult<(RetentionReport, bool)> {
    let mut report = RetentionReport::default();
    if !conn.try_job_lock(RETENTION_JOB_LOCK).await? {
        // Another hub on the same database is rolling up right now; the next run catches up.
        return Ok((report, false));
    }
    let marks = Marks::load(conn).await?;
    let (five, hourly) = (Tier::FiveMinutes, Tier::Hourly);
    // 5-minute tier: a range in progress, else a new one, else its late buckets.
    if marks.five_claimed > marks.five {
        report.five_minute_buckets_written =
            roll_up_servers(conn, five, (marks.five, marks.five_claimed, marks.five_cursor), size.servers).await?;
        return Ok((report, true));
    }
    if claim(conn, five, marks.five, bucket_start(to_millis(&now), FIVE_MINUTES)).await? {
        return Ok((report, true));
    }
    let (written, handled) = roll_up_dirty(conn, five, marks.raw_pruned, marks.hourly_claimed, size.buckets).await?;
    if handled > 0 {
        report.five_minute_buckets_written = written;
        return Ok((report, true));
    }
    // Hourly tier, from what the 5-minute tier holds.
    if marks.hourly_claimed > marks.hourly {
        report.hourly_buckets_written =
            roll_up_servers(conn, hourly, (marks.hourly, marks.hourly_claimed, marks.hourly_cursor), size.servers)
                .await?;
        return Ok((report, true));
    }
    if claim(conn, hourly, marks.hourly, bucket_start(marks.five, HOUR)).await? {
        return Ok((report, true));
    }
    let (written, handled) = roll_up_dirty(conn, hourly, marks.five_pruned, marks.hourly_claimed, size.buckets).await?;
    if handled > 0 {
        report.hourly_buckets_written = written;
        return Ok((report, true));
    }
    prune_tiers(conn, policy, now, &marks, &mut report).await?;
    Ok((report, false))
}

/// Prunes only what the next tier already holds, and only whole buckets of it, so a bucket is
/// either entirely present in its source tier or entirely gone; and never the source rows of a
/// late bucket still queued.
async fn prune_tiers(
    conn: &mut dyn Conn,
    policy: &RetentionPolicy,
    now: Timestamp,
    marks: &Marks,
    report: &mut RetentionReport,
) -> StoreResult<()> {
    let cutoff = |tier| to_millis(&policy.cutoff(tier, now));
    let mut raw_cutoff = cutoff(Tier::Raw).min(marks.five);
    if let Some(pending) = oldest_dirty(conn, Tier::FiveMinutes, marks.raw_pruned).await? {
        raw_cutoff = raw_cutoff.min(pending);
    }
    let mut five_cutoff = cutoff(Tier::FiveMinutes).min(marks.hourly);
    if let Some(pending) = oldest_dirty(conn, Tier::Hourly, marks.five_pruned).await? {
        five_cutoff = five_cutoff.min(pending);
    }
    let cutoffs = [
        (Tier::Raw, bucket_start(raw_cutoff, FIVE_MINUTES)),
        (Tier::FiveMinutes, bucket_start(five_cutoff, HOUR)),
        (Tier::Hourly, bucket_start(cutoff(Tier::Hourly), HOUR)),
    ];
    let done = [marks.raw_pruned, marks.five_pruned, marks.hourly_pruned];
    report.service_status_deleted =
        conn.execute("DELETE FROM service_status WHERE ts < $1", &[cutoff(Tier::Raw).into()]).await?;
    let mut pruned = Vec::with_capacity(cutoffs.len());
    for ((tier, before), done) in cutoffs.into_iter().zip(done) {
        pruned.push(prune(conn, tier, before, done).await?);
    }
    // Dropping a partition takes its table's exclusive lock (and its foreign key's table's), held
    // until this unit commits: last, so that nothing else runs while ingest waits.
    if conn.partitioned() {
        for ((tier, before), pruned) in cutoffs.into_iter().zip(&mut pruned) {
            super::partitions::drop_below(conn, tier, before, pruned).await?;
        }
    }
    let [raw, five, hourly] = [pruned[0], pruned[1], pruned[2]];
    (report.raw_deleted, report.five_minute_deleted, report.hourly_deleted) = (raw.rows, five.rows, hourly.rows);
    report.partitions_dropped = raw.partitions_dropped + five.partitions_dropped + hourly.partitions_dropped;
    // Only up to where no row is left: late rows below a mark are merged into their stored
    // bucket, which would count twice any row still there.
    if raw.below > marks.raw_pruned {
        set_mark(conn, "raw-pruned", raw.below).await?;
    }
    if five.below > marks.five_pruned {
        set_mark(conn, "5m-pruned", five.below).await?;
    }
    if hourly.below > marks.hourly_pruned {
        set_mark(conn, "1h-pruned", hourly.below).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use homelab_core::heartbeat::HeartbeatRequest;
    use homelab_core::time;
    use serde_json::json;

    use super::*;
    use crate::backend::{Backend, work};
    use crate::sqlite::SqliteBackend;
    use crate::{HeartbeatWrite, OpenOptions, SqlStore, Store};

    fn beat(server_id: &str, ts: Timestamp, cpu: f64) -> HeartbeatWrite {
        let request: HeartbeatRequest = serde_json::from_value(json!({
            "server_id": server_id,
            "hostname": format!("{server_id}.lan"),
            "timestamp": time::format(&ts),
            "metrics": {"cpu_percent": cpu}
        }))
        .unwrap();
        HeartbeatWrite { request, peer_ip: None, authenticated_guid: None, received_at: ts }
    }

    async fn step(store: &SqlStore<SqliteBackend>, now: Timestamp) -> bool {
        let size = UnitSize { servers: 1, buckets: 1 };
        let policy = RetentionPolicy::default();
        let work = work(move |conn| Box::pin(async move { retention_step(conn, &policy, now, size).await }));
        store.backend.write(work).await.unwrap().1
    }

    /// A late sample for a server whose part of the claimed range is already rolled up, arriving
    /// before the rest of the fleet is done, is queued and counted in its bucket.
    #[tokio::test]
    async fn a_sample_arriving_between_units_is_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        let backend = SqliteBackend::open(&dir.path().join("h.db"), &OpenOptions::default()).await.unwrap();
        let store = SqlStore::open(backend).await.unwrap();
        let t0 = time::parse("2026-05-01T10:00:00Z").unwrap();
        for minute in 0..4 {
            for server in ["a", "b", "c"] {
                store.ingest_heartbeat(beat(server, t0 + Duration::minutes(minute), 10.0)).await.unwrap();
            }
        }
        let now = t0 + Duration::minutes(10);
        assert!(step(&store, now).await, "claims [10:00, 10:10)");
        assert!(step(&store, now).await, "rolls up server a");
        store.ingest_heartbeat(beat("a", t0 + Duration::seconds(270), 100.0)).await.unwrap();
        let mut units = 2;
        while step(&store, now).await {
            units += 1;
        }
        assert!(units >= 5, "b, c, the end of the range and the late bucket each took a unit: {units}");

        let query = HistoryQuery {
            metrics: vec![MetricKind::CpuPercent],
            from: t0,
            to: t0 + Duration::minutes(5),
            source: Tier::FiveMinutes,
            bucket_millis: None,
        };
        for (server, count, max) in [("a", 5, 100.0), ("b", 4, 10.0), ("c", 4, 10.0)] {
            let points = &store.history(server, &query).await.unwrap()[0].points;
            assert_eq!(points.len(), 1, "{server}: one 5-minute bucket, not raw rows: {points:?}");
            assert_eq!((points[0].count, points[0].max), (count, max), "{server}");
        }
    }
}

/// PostgreSQL, where retention drops whole partitions.
#[cfg(test)]
#[cfg(feature = "test-support")]
mod partitioned_tests {
    use chrono::Duration;
    use homelab_core::heartbeat::HeartbeatRequest;
    use homelab_core::time;
    use serde_json::json;

    use super::*;
    use crate::backend::{Backend, work};
    use crate::postgres::PostgresBackend;
    use crate::{HeartbeatWrite, OpenOptions, SqlStore, Store};

    fn beat(ts: Timestamp) -> HeartbeatWrite {
        let request: HeartbeatRequest = serde_json::from_value(json!({
            "server_id": "queued",
            "hostname": "queued.lan",
            "timestamp": time::format(&ts),
            "metrics": {"cpu_percent": 5.0}
        }))
        .unwrap();
        HeartbeatWrite { request, peer_ip: None, authenticated_guid: None, received_at: ts }
    }

    async fn count(store: &SqlStore<PostgresBackend>, sql: &'static str, params: Vec<crate::backend::Value>) -> i64 {
        let work = work(move |conn| Box::pin(async move { conn.query_one(sql, &params).await?.i64(0) }));
        store.backend.read(work).await.unwrap()
    }

    /// A late bucket still queued when pruning runs (its heartbeat committed after the catch-up
    /// unit): the raw partition holding its source rows stays, the ones before it go, and the
    /// raw tier's "pruned" mark says only what is really gone (the start of the kept partition,
    /// not the bucket), so that later late rows there are recomputed, not merged twice.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_partition_holding_a_queued_buckets_rows_is_not_dropped() {
        let Some(cluster) = crate::testing::postgres_cluster() else { return };
        let url = cluster.create_database().await.unwrap();
        let store = SqlStore::open(PostgresBackend::open(&url, &OpenOptions::default()).await.unwrap()).await.unwrap();
        let start = time::parse("2026-01-01T00:00:00Z").unwrap();
        let keep_all = RetentionPolicy { raw_days: 30, five_minute_days: 90, hourly_days: 730 };
        store.maintain_history_partitions(&keep_all, start).await.unwrap();
        for hour in 0..10 * 24 {
            store.ingest_heartbeat(beat(start + Duration::hours(hour))).await.unwrap();
        }
        let now = start + Duration::days(10);
        store.run_retention(&keep_all, now).await.unwrap();
        let late = to_millis(&(start + Duration::hours(36)));
        let queue = work(move |conn| {
            Box::pin(async move {
                conn.execute(
                    "INSERT INTO rollup_dirty (server_pk, tier, ts) SELECT pk, '5m', $1 FROM servers",
                    &[late.into()],
                )
                .await
                .map(|_| ())
            })
        });
        store.backend.write(queue).await.unwrap();

        let policy = RetentionPolicy::default();
        let prune = work(move |conn| {
            Box::pin(async move {
                let marks = Marks::load(conn).await?;
                let mut report = RetentionReport::default();
                prune_tiers(conn, &policy, now, &marks, &mut report).await?;
                Ok(report)
            })
        });
        let report = store.backend.write(prune).await.unwrap();
        assert_eq!((report.partitions_dropped, report.raw_deleted), (1, 24), "1 January only: {report:?}");
        let kept = "SELECT COUNT(*) FROM history_raw WHERE ts >= $1 AND ts < $2";
        let day = 86_400_000;
        assert_eq!(count(&store, kept, vec![(late - day / 2).into(), (late + day / 2).into()]).await, 24, "2 January");
        let mark = "SELECT watermark FROM rollup_watermarks WHERE tier = 'raw-pruned'";
        assert_eq!(count(&store, mark, vec![]).await, late - day / 2, "pruned up to 2 January, not to the bucket");
        // Once the bucket is rolled up, the next run drops up to the cutoff.
        let report = store.run_retention(&policy, now).await.unwrap();
        assert_eq!(report.partitions_dropped, 2, "2 and 3 January: {report:?}");
        assert_eq!(count(&store, mark, vec![]).await, to_millis(&(now - Duration::days(7))));
        store.close().await;
    }

    /// A partition whose table ingest holds (an open heartbeat batch) is not dropped, without
    /// the retention run failing or waiting for the batch; the next run drops it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_partition_ingest_holds_is_dropped_by_the_next_run() {
        let Some(cluster) = crate::testing::postgres_cluster() else { return };
        let url = cluster.create_database().await.unwrap();
        let store = SqlStore::open(PostgresBackend::open(&url, &OpenOptions::default()).await.unwrap()).await.unwrap();
        let start = time::parse("2026-01-01T00:00:00Z").unwrap();
        let policy = RetentionPolicy::default();
        store.maintain_history_partitions(&policy, start).await.unwrap();
        for hour in 0..10 * 24 {
            store.ingest_heartbeat(beat(start + Duration::hours(hour))).await.unwrap();
        }
        let now = start + Duration::days(10);
        let (batch, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        batch.batch_execute("BEGIN").await.unwrap();
        let newest = to_millis(&(now - Duration::minutes(10)));
        batch
            .execute(
                "INSERT INTO history_raw (server_pk, ts, samples) SELECT server_pk, $1, samples FROM history_raw LIMIT 1",
                &[&newest],
            )
            .await
            .unwrap();
        let report = store.run_retention(&policy, now).await.unwrap();
        assert_eq!((report.partitions_dropped, report.raw_deleted), (0, 0), "{report:?}");
        let mark = "SELECT watermark FROM rollup_watermarks WHERE tier = 'raw-pruned'";
        assert!(count(&store, mark, vec![]).await <= to_millis(&start), "nothing is gone");
        batch.batch_execute("ROLLBACK").await.unwrap();
        let report = store.run_retention(&policy, now).await.unwrap();
        assert_eq!((report.partitions_dropped, report.raw_deleted), (3, 72), "{report:?}");
        store.close().await;
    }
}
