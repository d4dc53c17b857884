//! Metric history: the v1 chart and sparkline endpoints, and a columnar series endpoint for
//! any metric; the rules are in [`crate::service::metrics`].

use axum::Json;
use axum::extract::State;

use crate::auth::AdminAuth;
use crate::error::{ApiResult, ErrorBody, ValidationBody};
use crate::extract::{ApiPath, ApiQuery};
use crate::service::metrics::{
    self, MetricsHistory, RangeParams, SeriesParams, SeriesResponse, Sparkline, SparklineParams,
};
use crate::state::AppState;

/// CPU, memory and root-disk history (v1 shape). Every range merges the rollup tiers with the
/// newest raw data, so recent points always show.
#[utoipa::path(get, path = "/api/v1/servers/{server_id}/metrics", tag = "metrics", security(("api_key" = [])),
    params(("server_id" = String, Path, description = "Server id"), RangeParams),
    responses((status = 200, body = MetricsHistory), (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn history(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<RangeParams>,
) -> ApiResult<Json<MetricsHistory>> {
    Ok(Json(metrics::history(&state, &id, &params).await?))
}

/// A short, down-sampled series for cards (v1 `metrics/sparkline`).
#[utoipa::path(get, path = "/api/v1/servers/{server_id}/metrics/sparkline", tag = "metrics", security(("api_key" = [])),
    params(("server_id" = String, Path, description = "Server id"), SparklineParams),
    responses((status = 200, body = Sparkline), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn sparkline(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<SparklineParams>,
) -> ApiResult<Json<Sparkline>> {
    Ok(Json(metrics::sparkline(&state, &id, params).await?))
}

/// History of any metrics, including per-mount (`fs_percent`, `fs_used_bytes`) and
/// per-interface (`if_rx_bytes`, `if_tx_bytes`) series, with min/max where the data is a rollup.
#[utoipa::path(get, path = "/api/v1/servers/{server_id}/metrics/series", tag = "metrics", security(("api_key" = [])),
    params(("server_id" = String, Path, description = "Server id"), SeriesParams),
    responses((status = 200, body = SeriesResponse), (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn series(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(params): ApiQuery<SeriesParams>,
) -> ApiResult<Json<SeriesResponse>> {
    Ok(Json(metrics::series(&state, &id, &params).await?))
}
