//! Time partitions of the history tables (PostgreSQL; SQLite's are plain tables and all of this
//! is skipped where [`Conn::partitioned`] is false).
//!
//! `history_raw`, `history_5m` and `history_1h` are partitioned by range of `ts` (migration 14),
//! each with a `DEFAULT` partition that takes whatever no partition covers (a heartbeat from an
//! agent whose clock is far off, a back-fill older than any partition), so that no write ever
//! fails for want of a partition. Retention drops a partition once its whole range lies below
//! what the tier may prune, which frees its space at once (`DELETE` leaves dead rows that
//! PostgreSQL's tables never give back) and costs no per-row work; rows only `DELETE`d are those
//! in the default partition.
//!
//! Widths are whole multiples of the tier's bucket, so a bucket never spans two partitions and
//! retention, which prunes whole buckets, can drop whole partitions:
//! - raw, one day: with the default 7 days kept, at most a day (~14 %) more than the policy is
//!   held before a partition can go, and a day's rows of 1 000 machines (1.4 M) stay cheap to
//!   move out of the default partition;
//! - 5-minute, one week (a multiple of the hour the 5-minute tier is pruned by): 13 of them for
//!   the default 90 days;
//! - hourly, 30 days: 25 for the default two years; months are not a fixed width.
//!
//! Partitions are created ahead of time (two days for raw, one width for the rollups, which only
//! ever write the past), when a store opens and at every retention run, under the retention
//! job's advisory lock so that two hubs never create the same one.

use homelab_core::history::{RetentionPolicy, Tier, bucket_start};
use homelab_core::time::{Timestamp, from_millis, to_millis};

use super::history::{blob_column, table};
use crate::backend::Conn;
use crate::{HistoryPartition, StoreResult};

const DAY: i64 = 86_400_000;

/// How long a maintenance or retention step waits for a lock that ingest may hold (a table's
/// exclusive lock, needed to drop a partition, queues every insert behind it while it waits).
/// Past it, the step leaves that work for the next run.
pub(crate) const LOCK_WAIT_MS: u64 = 100;

/// Width of one partition of `tier`, and how far ahead of now they are created.
pub(crate) fn layout(tier: Tier) -> (i64, i64) {
    match tier {
        Tier::Raw => (DAY, 2 * DAY),
        Tier::FiveMinutes => (7 * DAY, 7 * DAY),
        Tier::Hourly => (30 * DAY, 30 * DAY),
    }
}

pub(crate) const TIERS: [Tier; 3] = [Tier::Raw, Tier::FiveMinutes, Tier::Hourly];

/// One partition: its table and the range `[from, to)` of `ts` it holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Partition {
    pub name: String,
    pub from: i64,
    pub to: i64,
}

pub(crate) fn default_partition(tier: Tier) -> String {
    format!("{}_default", table(tier))
}

fn partition_name(tier: Tier, from: i64) -> String {
    format!("{}_{}", table(tier), from_millis(from).format("%Y%m%d"))
}

/// The two bounds of a `FOR VALUES FROM ('a') TO ('b')` clause as PostgreSQL prints it.
fn bounds(clause: &str) -> Option<(i64, i64)> {
    let mut numbers = Vec::new();
    let mut current = String::new();
    for c in clause.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() || (c == '-' && current.is_empty()) {
            current.push(c);
        } else if !current.is_empty() {
            numbers.push(std::mem::take(&mut current).parse::<i64>().ok()?);
        }
    }
    match numbers[..] {
        [from, to] => Some((from, to)),
        _ => None,
    }
}

/// The partitions of `tier` other than the default one, oldest first.
pub(crate) async fn list(conn: &mut dyn Conn, tier: Tier) -> StoreResult<Vec<Partition>> {
    let rows = conn
        .query(
            "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i \
             JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::text::regclass",
            &[table(tier).into()],
        )
        .await?;
    let mut partitions = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some((from, to)) = bounds(&row.str(1)?) {
            partitions.push(Partition { name: row.str(0)?, from, to });
        }
    }
    partitions.sort_by_key(|p| p.from);
    Ok(partitions)
}

/// Every tier's partitions, for [`crate::Store::history_partitions`].
pub(crate) async fn all(conn: &mut dyn Conn) -> StoreResult<Vec<HistoryPartition>> {
    let mut all = Vec::new();
    if conn.partitioned() {
        for tier in TIERS {
            all.extend(list(conn, tier).await?.into_iter().map(|p| HistoryPartition {
                tier,
                name: p.name,
                from: from_millis(p.from),
                to: from_millis(p.to),
            }));
        }
    }
    Ok(all)
}

/// Where each tier's partitions should start: rows older than this are pruned from the default
/// partition rather than moved into a partition of their own just to be dropped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeepFrom([i64; 3]);

impl KeepFrom {
    /// From now on only: when a store opens, which knows no retention policy.
    pub(crate) fn now(now: Timestamp) -> Self {
        KeepFrom([to_millis(&now); 3])
    }

    /// From each tier's retention cutoff.
    pub(crate) fn policy(policy: &RetentionPolicy, now: Timestamp) -> Self {
        KeepFrom(TIERS.map(|tier| to_millis(&policy.cutoff(tier, now))))
    }

    fn of(&self, tier: Tier) -> i64 {
        match tier {
            Tier::Raw => self.0[0],
            Tier::FiveMinutes => self.0[1],
            Tier::Hourly => self.0[2],
        }
    }
}

/// Creates the next missing partition of any tier, from the oldest row in its default
/// partition (but not before `keep`) to `now` plus the tier's margin; one per unit, since each
/// may move rows out of the default partition. Returns how many it created (0 or 1) and whether
/// more may be missing. Holds the retention job's lock, which its caller took.
pub(crate) async fn create_next(conn: &mut dyn Conn, now: Timestamp, keep: KeepFrom) -> StoreResult<(u64, bool)> {
    if !conn.partitioned() {
        return Ok((0, false));
    }
    let now = to_millis(&now);
    for tier in TIERS {
        let (width, ahead) = layout(tier);
        let existing = list(conn, tier).await?;
        let oldest = conn
            .query_one(&format!("SELECT MIN(ts) FROM {}", default_partition(tier)), &[])
            .await?
            .opt_i64(0)?
            .unwrap_or(now);
        let from = bucket_start(oldest.min(now).max(keep.of(tier)), width);
        let to = bucket_start(now + ahead, width) + width;
        let mut start = from;
        while start < to {
            let end = start + width;
            // A partition of another width (a later layout) covering part of it: leave it.
            if !existing.iter().any(|p| p.from < end && p.to > start) {
                return Ok(if create(conn, tier, start, end).await? { (1, true) } else { (0, false) });
            }
            start = end;
        }
    }
    Ok((0, false))
}

/// Creates the partition `[from, to)` of `tier`, moving the default partition's rows of that
/// range into it first (PostgreSQL refuses to attach a range the default partition has rows
/// of). The default partition is locked before its rows are read, so no heartbeat can add one
/// between the move and the attach. False when a lock was not granted in time.
async fn create(conn: &mut dyn Conn, tier: Tier, from: i64, to: i64) -> StoreResult<bool> {
    let (parent, default, name) = (table(tier), default_partition(tier), partition_name(tier, from));
    let blob = blob_column(tier);
    // Every name and bound here is ours (a fixed table name, integers), none is input.
    let sql = format!(
        "LOCK TABLE {default} IN ACCESS EXCLUSIVE MODE; \
         CREATE TABLE {name} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE); \
         WITH moved AS (DELETE FROM {default} WHERE ts >= {from} AND ts < {to} RETURNING server_pk, ts, {blob}) \
           INSERT INTO {name} (server_pk, ts, {blob}) SELECT server_pk, ts, {blob} FROM moved; \
         ALTER TABLE {parent} ATTACH PARTITION {name} FOR VALUES FROM ({from}) TO ({to});"
    );
    let created = conn.try_exclusive(&sql, LOCK_WAIT_MS).await?;
    if created {
        tracing::info!(partition = %name, "created history partition");
    }
    Ok(created)
}

/// What pruning a tier did.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pruned {
    pub rows: u64,
    /// No row of the tier is left before this, which is what its "pruned" mark may say.
    pub below: i64,
    pub partitions_dropped: u64,
}

/// Deletes the default partition's rows of `tier` before `before` and gives its space back if
/// it is left empty. Returns the rows deleted.
pub(crate) async fn prune_default(conn: &mut dyn Conn, tier: Tier, before: i64) -> StoreResult<u64> {
    let default = default_partition(tier);
    let deleted = conn.execute(&format!("DELETE FROM {default} WHERE ts < $1"), &[before.into()]).await?;
    truncate_if_empty(conn, &default).await?;
    Ok(deleted)
}

/// Drops every partition of `tier` whose whole range lies before `before`, adding to `pruned`.
/// Rows in a partition that begins before `before` but ends after it stay until the whole
/// partition may go, and so do those of one whose lock was not granted in time (the next run
/// drops it); [`Pruned::below`] then says where the rows left begin.
pub(crate) async fn drop_below(conn: &mut dyn Conn, tier: Tier, before: i64, pruned: &mut Pruned) -> StoreResult<()> {
    let mut locked_out = false;
    for partition in list(conn, tier).await? {
        if partition.from >= before {
            break;
        }
        if partition.to <= before && !locked_out {
            let rows = conn.query_one(&format!("SELECT COUNT(*) FROM {}", partition.name), &[]).await?.i64(0)?;
            if conn.try_exclusive(&format!("DROP TABLE {}", partition.name), LOCK_WAIT_MS).await? {
                tracing::info!(partition = %partition.name, rows, "dropped history partition");
                pruned.rows += u64::try_from(rows).unwrap_or_default();
                pruned.partitions_dropped += 1;
                continue;
            }
            // Ingest held the table for too long: the rest waits for the next run.
            locked_out = true;
        }
        pruned.below = pruned.below.min(partition.from);
    }
    Ok(())
}

/// Gives the default partition's space back once it holds no row: rows moved out of it or
/// pruned from it leave dead space that PostgreSQL would otherwise keep. Locked first, so no
/// heartbeat can add a row between the check and the truncation; skipped if that takes long.
/// Unlike `DELETE`, `TRUNCATE` is not hidden from snapshots taken before it: a read already
/// under way could miss rows deleted or moved just before, which only happens to rows being
/// pruned or moved at that very moment.
async fn truncate_if_empty(conn: &mut dyn Conn, default: &str) -> StoreResult<()> {
    let size = conn.query_one("SELECT pg_relation_size($1::text::regclass)", &[default.into()]).await?.i64(0)?;
    if size == 0 || !conn.try_exclusive(&format!("LOCK TABLE {default} IN ACCESS EXCLUSIVE MODE"), LOCK_WAIT_MS).await?
    {
        return Ok(());
    }
    if conn.query_opt(&format!("SELECT 1 FROM {default} LIMIT 1"), &[]).await?.is_none() {
        conn.execute(&format!("TRUNCATE {default}"), &[]).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_read_as_postgresql_prints_them() {
        assert_eq!(
            bounds("FOR VALUES FROM ('1764633600000') TO ('1764720000000')"),
            Some((1764633600000, 1764720000000))
        );
        assert_eq!(bounds("FOR VALUES FROM ('-86400000') TO ('0')"), Some((-86_400_000, 0)));
        assert_eq!(bounds("DEFAULT"), None);
    }

    #[test]
    fn widths_are_whole_buckets_of_their_tier_and_of_the_next() {
        for tier in TIERS {
            let (width, ahead) = layout(tier);
            assert_eq!(width % 3_600_000, 0, "{tier:?}: whole hours, so whole 5-minute and hourly buckets");
            assert!(ahead >= width.min(2 * DAY), "{tier:?}");
        }
    }

    /// Migration 14 on a database holding history: the rows, copied into the default
    /// partitions, read back, and maintenance moves them into partitions of their own.
    #[cfg(feature = "test-support")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn history_stored_before_partitioning_reads_back_and_is_moved() {
        use homelab_core::history::MetricKind;
        use homelab_core::time;

        use crate::postgres::PostgresBackend;
        use crate::{HistoryQuery, OpenOptions, SqlStore, Store};

        let Some(cluster) = crate::testing::postgres_cluster() else { return };
        let url = cluster.create_database().await.unwrap();
        PostgresBackend::migrate_to(&url, 13).await.unwrap();
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        let pk: i64 = client
            .query_one(
                "INSERT INTO servers (id, hostname, created_at, updated_at) VALUES ('old', 'old.lan', 0, 0) RETURNING pk",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        let series: i64 = client
            .query_one(
                "INSERT INTO series (server_pk, metric, subject) VALUES ($1, 'cpu_percent', '') RETURNING id",
                &[&pk],
            )
            .await
            .unwrap()
            .get(0);
        let (first, second) =
            (time::parse("2026-01-01T00:00:00Z").unwrap(), time::parse("2026-01-05T06:00:00Z").unwrap());
        for (at, cpu) in [(first, 12.5), (second, 42.5)] {
            let blob = crate::codec::encode_samples(&[(series, cpu)]);
            client
                .execute(
                    "INSERT INTO history_raw (server_pk, ts, samples) VALUES ($1, $2, $3)",
                    &[&pk, &to_millis(&at), &blob],
                )
                .await
                .unwrap();
        }

        let store = SqlStore::open(PostgresBackend::open(&url, &OpenOptions::default()).await.unwrap()).await.unwrap();
        let query = HistoryQuery {
            metrics: vec![MetricKind::CpuPercent],
            from: first,
            to: second + chrono::Duration::days(1),
            source: Tier::Raw,
            bucket_millis: None,
        };
        let read = async || -> Vec<(i64, f64)> {
            let series = store.history("old", &query).await.unwrap();
            series[0].points.iter().map(|p| (p.ts, p.avg)).collect()
        };
        let expected = vec![(to_millis(&first), 12.5), (to_millis(&second), 42.5)];
        assert_eq!(read().await, expected, "from the default partition");
        let in_default = "SELECT COUNT(*) FROM history_raw_default";
        assert_eq!(client.query_one(in_default, &[]).await.unwrap().get::<_, i64>(0), 2);

        let now = second + chrono::Duration::days(1);
        let created = store.maintain_history_partitions(&RetentionPolicy::default(), now).await.unwrap();
        assert!(created >= 8, "1 January (the oldest row) to two days ahead: {created}");
        assert_eq!(read().await, expected, "from their partitions");
        assert_eq!(client.query_one(in_default, &[]).await.unwrap().get::<_, i64>(0), 0, "moved out");
        store.close().await;
    }
}
