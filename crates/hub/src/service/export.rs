//! The metrics export (v1 US0048): the history the detail page shows, as a CSV or JSON download.
//!
//! As in v1, 24h and 7d export the raw rows (`timestamp,cpu_percent,memory_percent,disk_percent`)
//! and 30d and 12m export aggregates with min/max. Unlike v1, every range merges the tiers, so
//! the newest data is always present.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use homelab_core::history::{HistoryRange, MetricKind, Tier, round2};
use homelab_core::time::{self, Timestamp};
use homelab_core::validate::ValidationErrors;
use homelab_store::HistoryQuery;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::IntoParams;

use super::metrics::{parse_range, query_for};
use super::{ServiceError, ServiceResult};
use crate::state::AppState;

const METRICS: [MetricKind; 3] = [MetricKind::CpuPercent, MetricKind::MemoryPercent, MetricKind::DiskPercent];
const RAW_COLUMNS: [&str; 3] = ["cpu_percent", "memory_percent", "disk_percent"];
const AGGREGATE_COLUMNS: [&str; 9] =
    ["cpu_avg", "cpu_min", "cpu_max", "memory_avg", "memory_min", "memory_max", "disk_avg", "disk_min", "disk_max"];

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `24h`, `7d`, `30d` or `12m` (required).
    #[param(required = true, pattern = "^(24h|7d|30d|12m)$")]
    pub range: Option<String>,
    /// `csv` (default) or `json`.
    #[param(pattern = "^(csv|json)$")]
    pub format: Option<String>,
}

/// The export file: its name, media type and body.
pub struct ExportFile {
    pub filename: String,
    pub content_type: &'static str,
    pub body: String,
}

fn missing_range() -> ServiceError {
    ServiceError::Invalid(ValidationErrors::single(
        "missing",
        vec!["query".into(), "range".into()],
        "Field required",
        Value::Null,
    ))
}

fn bad_format(text: &str) -> ServiceError {
    ServiceError::Invalid(ValidationErrors::single(
        "enum",
        vec!["query".into(), "format".into()],
        "should be 'csv' or 'json'",
        text.into(),
    ))
}

/// Rows keyed by timestamp (ms): one `[avg, min, max]` per metric.
type Rows = BTreeMap<i64, [Option<(f64, f64, f64)>; 3]>;

/// Builds the export of `range` for server `id`; shared by the API and the dashboard.
pub async fn build(state: &AppState, id: &str, range: Option<&str>, format: Option<&str>) -> ServiceResult<ExportFile> {
    // The server is checked first, as in v1.
    let server = state.store.get_server(id).await?;
    let range = parse_range(Some(range.ok_or_else(missing_range)?))?;
    let json_format = match format.unwrap_or("csv") {
        "csv" => false,
        "json" => true,
        other => return Err(bad_format(other)),
    };
    let now = state.clock.now();
    let aggregated = matches!(range, HistoryRange::Month | HistoryRange::Year);
    let mut query = query_for(range, METRICS.to_vec(), now);
    if !aggregated {
        query = HistoryQuery { source: Tier::Raw, bucket_millis: None, ..query };
    }
    let mut rows = Rows::new();
    for series in state.store.history(id, &query).await? {
        let Some(column) = METRICS.iter().position(|m| *m == series.metric) else { continue };
        for point in series.points {
            rows.entry(point.ts).or_default()[column] = Some((point.avg, point.min, point.max));
        }
    }
    let extension = if json_format { "json" } else { "csv" };
    let filename = format!("{}-metrics-{}-{}.{extension}", server.id, range.as_str(), now.format("%Y-%m-%d"));
    let body = if json_format {
        export_json(&server.id, server.display_name.as_deref(), range, now, &rows, aggregated)
    } else {
        export_csv(&rows, aggregated)
    };
    Ok(ExportFile {
        filename,
        content_type: if json_format { "application/json" } else { "text/csv; charset=utf-8" },
        body,
    })
}

/// The cells of one row in column order (`None` is an empty field / `null`).
fn cells(values: &[Option<(f64, f64, f64)>; 3], aggregated: bool) -> Vec<Option<f64>> {
    values
        .iter()
        .flat_map(|value| {
            if aggregated {
                match value {
                    Some((avg, min, max)) => vec![Some(round2(*avg)), Some(round2(*min)), Some(round2(*max))],
                    None => vec![None, None, None],
                }
            } else {
                vec![value.map(|(avg, _, _)| avg)]
            }
        })
        .collect()
}

fn export_csv(rows: &Rows, aggregated: bool) -> String {
    let columns: &[&str] = if aggregated { &AGGREGATE_COLUMNS } else { &RAW_COLUMNS };
    let mut out = format!("timestamp,{}\n", columns.join(","));
    for (ts, values) in rows {
        out.push_str(&time::format(&time::from_millis(*ts)));
        for cell in cells(values, aggregated) {
            out.push(',');
            if let Some(value) = cell {
                let _ = write!(out, "{value}");
            }
        }
        out.push('\n');
    }
    out
}

fn export_json(
    server_id: &str,
    server_name: Option<&str>,
    range: HistoryRange,
    now: Timestamp,
    rows: &Rows,
    aggregated: bool,
) -> String {
    let columns: &[&str] = if aggregated { &AGGREGATE_COLUMNS } else { &RAW_COLUMNS };
    let data_points: Vec<Value> = rows
        .iter()
        .map(|(ts, values)| {
            let mut point = Map::new();
            point.insert("timestamp".into(), time::format(&time::from_millis(*ts)).into());
            for (name, cell) in columns.iter().zip(cells(values, aggregated)) {
                point.insert((*name).into(), cell.map_or(Value::Null, Value::from));
            }
            Value::Object(point)
        })
        .collect();
    let document = json!({
        "server_id": server_id,
        "server_name": server_name,
        "range": range.as_str(),
        "exported_at": time::format(&now),
        "data_points": data_points,
    });
    serde_json::to_string_pretty(&document).unwrap_or_default()
}
