//! Metric history: the v1 chart and sparkline endpoints, and a columnar series endpoint for
//! any metric (per-mount disks, interfaces, load) with min/max bands from the rollups.

use std::collections::BTreeMap;

use chrono::Duration;
use homelab_core::history::{HistoryRange, MetricKind, Tier, round2};
use homelab_core::time::{self, Timestamp};
use homelab_core::validate::ValidationErrors;
use homelab_store::{HistoryQuery, SeriesData};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ServiceError, ServiceResult};
use crate::state::AppState;

const CHART_METRICS: [MetricKind; 3] = [MetricKind::CpuPercent, MetricKind::MemoryPercent, MetricKind::DiskPercent];

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeParams {
    /// `24h` (default), `7d`, `30d` or `12m`.
    #[param(pattern = "^(24h|7d|30d|12m)$")]
    pub range: Option<String>,
}

pub fn parse_range(range: Option<&str>) -> ServiceResult<HistoryRange> {
    let Some(text) = range else { return Ok(HistoryRange::Day) };
    HistoryRange::parse(text).ok_or_else(|| {
        ServiceError::Invalid(ValidationErrors::single(
            "enum",
            vec!["query".into(), "range".into()],
            "should be '24h', '7d', '30d' or '12m'",
            text.into(),
        ))
    })
}

pub fn query_for(range: HistoryRange, metrics: Vec<MetricKind>, now: Timestamp) -> HistoryQuery {
    HistoryQuery {
        metrics,
        from: now - range.window(),
        to: now + Duration::seconds(homelab_core::heartbeat::MAX_CLOCK_SKEW_SECONDS),
        source: range.source_tier(),
        bucket_millis: range.bucket_millis(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DataPoint {
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::rfc3339")]
    pub timestamp: Timestamp,
    pub cpu_percent: Option<f64>,
    pub memory_percent: Option<f64>,
    pub disk_percent: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MetricsHistory {
    pub server_id: String,
    pub range: String,
    pub resolution: String,
    pub data_points: Vec<DataPoint>,
    pub total_points: usize,
}

/// The v1 chart's buckets and label per range: 7 days hourly, as v1 (§2.4) and its web UI expect;
/// the series endpoint keeps the finer 15-minute buckets for 7 days.
fn v1_chart_resolution(range: HistoryRange) -> (Option<i64>, &'static str) {
    match range {
        HistoryRange::Week => (Some(3_600_000), "1h"),
        other => (other.bucket_millis(), other.resolution()),
    }
}

/// CPU, memory and root-disk history (v1 shape). Every range merges the rollup tiers with the
/// newest raw data, so recent points always show.
pub async fn history(state: &AppState, id: &str, params: &RangeParams) -> ServiceResult<MetricsHistory> {
    let range = parse_range(params.range.as_deref())?;
    let (bucket_millis, resolution) = v1_chart_resolution(range);
    let mut query = query_for(range, CHART_METRICS.to_vec(), state.clock.now());
    query.bucket_millis = bucket_millis;
    let series = state.store.history(id, &query).await?;
    let mut rows: BTreeMap<i64, [Option<f64>; 3]> = BTreeMap::new();
    for data in &series {
        let Some(column) = CHART_METRICS.iter().position(|m| *m == data.metric) else { continue };
        for point in &data.points {
            let value = if range.bucket_millis().is_some() { round2(point.avg) } else { point.avg };
            rows.entry(point.ts).or_default()[column] = Some(value);
        }
    }
    let data_points: Vec<DataPoint> = rows
        .into_iter()
        .map(|(ts, [cpu, memory, disk])| DataPoint {
            timestamp: time::from_millis(ts),
            cpu_percent: cpu,
            memory_percent: memory,
            disk_percent: disk,
        })
        .collect();
    Ok(MetricsHistory {
        server_id: id.to_owned(),
        range: range.as_str().into(),
        resolution: resolution.into(),
        total_points: data_points.len(),
        data_points,
    })
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SparklineParams {
    /// `cpu_percent` (default), `memory_percent` or `disk_percent`.
    #[param(pattern = "^(cpu_percent|memory_percent|disk_percent)$")]
    pub metric: Option<String>,
    /// `30m` (default), `1h` or `6h`.
    #[param(pattern = "^(30m|1h|6h)$")]
    pub period: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SparklinePoint {
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::rfc3339")]
    pub timestamp: Timestamp,
    pub value: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Sparkline {
    pub server_id: String,
    pub metric: String,
    pub period: String,
    pub data: Vec<SparklinePoint>,
}

/// A short, down-sampled series for cards (v1 `metrics/sparkline`).
pub async fn sparkline(state: &AppState, id: &str, params: SparklineParams) -> ServiceResult<Sparkline> {
    // The server is checked first, as in v1.
    state.store.get_server(id).await?;
    let metric_name = params.metric.unwrap_or_else(|| "cpu_percent".into());
    let metric = CHART_METRICS.into_iter().find(|m| m.as_str() == metric_name).ok_or_else(|| {
        ServiceError::refused(
            "INVALID_METRIC",
            format!("Invalid metric '{metric_name}'. Valid options: cpu_percent, memory_percent, disk_percent"),
        )
    })?;
    let period = params.period.unwrap_or_else(|| "30m".into());
    let (minutes, target) = match period.as_str() {
        "30m" => (30, 30),
        "1h" => (60, 30),
        "6h" => (360, 36),
        _ => {
            return Err(ServiceError::refused(
                "INVALID_PERIOD",
                format!("Invalid period '{period}'. Valid options: 30m, 1h, 6h"),
            ));
        }
    };
    let now = state.clock.now();
    let query = HistoryQuery {
        metrics: vec![metric],
        from: now - Duration::minutes(minutes),
        to: now + Duration::seconds(homelab_core::heartbeat::MAX_CLOCK_SKEW_SECONDS),
        source: Tier::Raw,
        bucket_millis: None,
    };
    let points = state.store.history(id, &query).await?.into_iter().flat_map(|s| s.points).collect::<Vec<_>>();
    let picked: Vec<_> =
        if points.len() > target { (0..target).map(|i| points[i * points.len() / target]).collect() } else { points };
    Ok(Sparkline {
        server_id: id.to_owned(),
        metric: metric_name,
        period,
        data: picked
            .iter()
            .map(|p| SparklinePoint { timestamp: time::from_millis(p.ts), value: Some(p.avg) })
            .collect(),
    })
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesParams {
    /// `24h` (default), `7d`, `30d` or `12m`.
    #[param(pattern = "^(24h|7d|30d|12m)$")]
    pub range: Option<String>,
    /// Comma-separated metric names; default `cpu_percent,memory_percent,disk_percent`. Spaces
    /// around a name and empty entries are ignored (the document's pattern says the same:
    /// `api::document::metrics_pattern`).
    pub metrics: Option<String>,
}

/// One series in columns (the layout chart libraries such as uPlot take directly).
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesColumns {
    pub metric: String,
    /// Mount point or interface name; empty for machine-wide metrics.
    pub subject: String,
    /// Bucket starts in seconds since the epoch.
    pub timestamps: Vec<i64>,
    pub avg: Vec<f64>,
    pub min: Vec<f64>,
    pub max: Vec<f64>,
    /// Samples behind each point.
    pub count: Vec<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesResponse {
    pub server_id: String,
    pub range: String,
    pub resolution: String,
    pub series: Vec<SeriesColumns>,
}

fn to_columns(data: SeriesData) -> SeriesColumns {
    let n = data.points.len();
    let mut columns = SeriesColumns {
        metric: data.metric.as_str().into(),
        subject: data.subject,
        timestamps: Vec::with_capacity(n),
        avg: Vec::with_capacity(n),
        min: Vec::with_capacity(n),
        max: Vec::with_capacity(n),
        count: Vec::with_capacity(n),
    };
    for point in data.points {
        columns.timestamps.push(point.ts.div_euclid(1000));
        columns.avg.push(round2(point.avg));
        columns.min.push(point.min);
        columns.max.push(point.max);
        columns.count.push(point.count);
    }
    columns
}

/// History of any metrics, including per-mount (`fs_percent`, `fs_used_bytes`) and
/// per-interface (`if_rx_bytes`, `if_tx_bytes`) series, with min/max where the data is a rollup.
pub async fn series(state: &AppState, id: &str, params: &SeriesParams) -> ServiceResult<SeriesResponse> {
    let range = parse_range(params.range.as_deref())?;
    let metrics = match params.metrics.as_deref() {
        None => CHART_METRICS.to_vec(),
        Some(list) => list
            .split(',')
            .map(|name| name.trim_matches(' '))
            .filter(|name| !name.is_empty())
            .map(|name| {
                MetricKind::parse(name).ok_or_else(|| {
                    let known = MetricKind::ALL.map(MetricKind::as_str).join(", ");
                    ServiceError::Invalid(ValidationErrors::single(
                        "enum",
                        vec!["query".into(), "metrics".into()],
                        &format!("unknown metric '{name}'; known metrics: {known}"),
                        name.into(),
                    ))
                })
            })
            .collect::<ServiceResult<Vec<_>>>()?,
    };
    let series = state.store.history(id, &query_for(range, metrics, state.clock.now())).await?;
    Ok(SeriesResponse {
        server_id: id.to_owned(),
        range: range.as_str().into(),
        resolution: range.resolution().into(),
        series: series.into_iter().map(to_columns).collect(),
    })
}
