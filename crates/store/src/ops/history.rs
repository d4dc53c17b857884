//! Reading history across tiers, and the retention job (rollup, then prune).

use homelab_core::history::{Aggregate, MetricKind, RetentionPolicy, Tier, bucket_start, rebucket, tier_plan};
use homelab_core::time::{Timestamp, to_millis};

use super::servers::{find_by_id, not_found};
use crate::backend::Conn;
use crate::{HistoryQuery, RetentionReport, SeriesData, StoreResult};

const FIVE_MINUTES: i64 = 300_000;
const HOUR: i64 = 3_600_000;

async fn watermarks(conn: &mut dyn Conn) -> StoreResult<(i64, i64)> {
    let (mut five, mut hourly) = (0, 0);
    for row in conn.query("SELECT tier, watermark FROM rollup_watermarks", &[]).await? {
        match row.str(0)?.as_str() {
            "5m" => five = row.i64(1)?,
            "1h" => hourly = row.i64(1)?,
            _ => {}
        }
    }
    Ok((five, hourly))
}

fn table(tier: Tier) -> &'static str {
    match tier {
        Tier::Raw => "samples_raw",
        Tier::FiveMinutes => "samples_5m",
        Tier::Hourly => "samples_1h",
    }
}

pub(crate) async fn history(
    conn: &mut dyn Conn,
    server_id: &str,
    query: &HistoryQuery,
) -> StoreResult<Vec<SeriesData>> {
    let server = find_by_id(conn, server_id).await?.ok_or_else(|| not_found(server_id))?;
    let (five, hourly) = watermarks(conn).await?;
    let (from, to) = (to_millis(&query.from), to_millis(&query.to));
    let plan = tier_plan(query.source, from, to, five, hourly);
    let mut series = Vec::new();
    let rows = conn
        .query(
            "SELECT id, metric, subject FROM series WHERE server_pk = $1 ORDER BY metric, subject",
            &[server.pk.into()],
        )
        .await?;
    for row in rows {
        let Some(metric) = MetricKind::parse(&row.str(1)?) else { continue };
        if !query.metrics.contains(&metric) {
            continue;
        }
        let id = row.i64(0)?;
        let mut points = Vec::new();
        for (tier, start, end) in &plan {
            let sql = match tier {
                Tier::Raw => "SELECT ts, value, value, value, 1 FROM samples_raw \
                              WHERE series_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts"
                    .to_owned(),
                _ => format!(
                    "SELECT ts, avg, min, max, count FROM {} WHERE series_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts",
                    table(*tier)
                ),
            };
            for point in conn.query(&sql, &[id.into(), (*start).into(), (*end).into()]).await? {
                points.push(Aggregate {
                    ts: point.i64(0)?,
                    avg: point.f64(1)?,
                    min: point.f64(2)?,
                    max: point.f64(3)?,
                    count: point.i64(4)?,
                });
            }
        }
        if let Some(width) = query.bucket_millis {
            points = rebucket(points, width);
        }
        series.push(SeriesData { metric, subject: row.str(2)?, points });
    }
    Ok(series)
}

/// Recomputes the `width` buckets of `target` in `[from, to)` from `source`. Recomputing whole
/// buckets (rather than adding to them) is what makes the job idempotent.
async fn roll_up(conn: &mut dyn Conn, source: Tier, target: Tier, width: i64, from: i64, to: i64) -> StoreResult<u64> {
    if to <= from {
        return Ok(0);
    }
    let (avg, min, max, count) = match source {
        Tier::Raw => ("AVG(value)", "MIN(value)", "MAX(value)", "COUNT(*)"),
        _ => (
            "SUM(avg * count) / CAST(SUM(count) AS DOUBLE PRECISION)",
            "MIN(min)",
            "MAX(max)",
            "CAST(SUM(count) AS BIGINT)",
        ),
    };
    let sql = format!(
        "INSERT INTO {target} (series_id, ts, avg, min, max, count) \
         SELECT series_id, (ts / {width}) * {width}, {avg}, {min}, {max}, {count} FROM {source} \
         WHERE series_id IN (SELECT id FROM series) AND ts >= $1 AND ts < $2 \
         GROUP BY series_id, (ts / {width}) * {width} \
         ON CONFLICT (series_id, ts) DO UPDATE SET avg = excluded.avg, min = excluded.min, max = excluded.max, \
         count = excluded.count",
        target = table(target),
        source = table(source),
    );
    conn.execute(&sql, &[from.into(), to.into()]).await
}

/// Moves a watermark only if nobody lowered it meanwhile (a late sample); otherwise the next
/// run recomputes from the lowered value.
async fn advance_watermark(conn: &mut dyn Conn, tier: Tier, old: i64, new: i64) -> StoreResult<()> {
    conn.execute(
        "UPDATE rollup_watermarks SET watermark = $1 WHERE tier = $2 AND watermark = $3",
        &[new.into(), tier.as_str().into(), old.into()],
    )
    .await?;
    Ok(())
}

async fn prune(conn: &mut dyn Conn, tier: Tier, before: i64) -> StoreResult<u64> {
    let sql = format!("DELETE FROM {} WHERE series_id IN (SELECT id FROM series) AND ts < $1", table(tier));
    conn.execute(&sql, &[before.into()]).await
}

pub(crate) async fn run_retention(
    conn: &mut dyn Conn,
    policy: &RetentionPolicy,
    now: Timestamp,
) -> StoreResult<RetentionReport> {
    let now_ms = to_millis(&now);
    let (five, hourly) = watermarks(conn).await?;
    let mut report = RetentionReport::default();

    // A watermark of 0 means "never rolled up": start from the oldest raw sample instead.
    let five_from =
        if five == 0 { oldest(conn, Tier::Raw).await?.map_or(0, |ts| bucket_start(ts, FIVE_MINUTES)) } else { five };
    let five_to = bucket_start(now_ms, FIVE_MINUTES);
    if five_to > five_from {
        report.five_minute_buckets_written =
            roll_up(conn, Tier::Raw, Tier::FiveMinutes, FIVE_MINUTES, five_from, five_to).await?;
        advance_watermark(conn, Tier::FiveMinutes, five, five_to).await?;
    }
    let five_done = five_to.max(five);

    let hourly_from = if hourly == 0 {
        oldest(conn, Tier::FiveMinutes).await?.map_or(0, |ts| bucket_start(ts, HOUR))
    } else {
        hourly
    };
    let hourly_to = bucket_start(five_done, HOUR);
    if hourly_to > hourly_from {
        report.hourly_buckets_written =
            roll_up(conn, Tier::FiveMinutes, Tier::Hourly, HOUR, hourly_from, hourly_to).await?;
        advance_watermark(conn, Tier::Hourly, hourly, hourly_to).await?;
    }
    let hourly_done = hourly_to.max(hourly);

    // Prune only what the next tier already holds.
    let raw_cutoff = to_millis(&policy.cutoff(Tier::Raw, now)).min(five_done);
    report.raw_deleted = prune(conn, Tier::Raw, raw_cutoff).await?;
    report.five_minute_deleted =
        prune(conn, Tier::FiveMinutes, to_millis(&policy.cutoff(Tier::FiveMinutes, now)).min(hourly_done)).await?;
    report.hourly_deleted = prune(conn, Tier::Hourly, to_millis(&policy.cutoff(Tier::Hourly, now))).await?;
    report.service_status_deleted = conn
        .execute("DELETE FROM service_status WHERE ts < $1", &[to_millis(&policy.cutoff(Tier::Raw, now)).into()])
        .await?;
    Ok(report)
}

async fn oldest(conn: &mut dyn Conn, tier: Tier) -> StoreResult<Option<i64>> {
    let sql = format!("SELECT MIN(ts) FROM {}", table(tier));
    conn.query_one(&sql, &[]).await?.opt_i64(0)
}
