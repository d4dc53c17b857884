//! Electricity cost (v1 §2.7 `/config/cost`, and `/costs/summary|breakdown`); the rules are in
//! [`crate::service::costs`] and `homelab_core::power`.

use axum::Json;
use axum::extract::State;
use homelab_core::power::CostSettingsUpdate;

use crate::auth::AdminAuth;
use crate::error::{ApiResult, ErrorBody, ValidationBody};
use crate::extract::ApiJson;
use crate::service::costs::{self, CostBreakdown, CostConfig, CostSummary};
use crate::state::AppState;

/// The tariff; v1's defaults (0.24, `£`) while none was saved.
#[utoipa::path(get, path = "/api/v1/config/cost", tag = "costs", operation_id = "get_cost_config_api_v1_config_cost_get",
    security(("api_key" = [])),
    responses((status = 200, body = CostConfig), (status = 401, body = ErrorBody)))]
pub async fn get_config(_: AdminAuth, State(state): State<AppState>) -> ApiResult<Json<CostConfig>> {
    Ok(Json(costs::config(&state).await?))
}

/// Partial update of the tariff.
#[utoipa::path(put, path = "/api/v1/config/cost", tag = "costs", operation_id = "update_cost_config_api_v1_config_cost_put",
    security(("api_key" = [])), request_body = CostSettingsUpdate,
    responses((status = 200, body = CostConfig), (status = 401, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn put_config(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiJson(update): ApiJson<CostSettingsUpdate>,
) -> ApiResult<Json<CostConfig>> {
    Ok(Json(costs::update_config(&state, update).await?))
}

/// The fleet's estimated draw and cost; machines without a category or wattage are counted as
/// missing.
#[utoipa::path(get, path = "/api/v1/costs/summary", tag = "costs", operation_id = "get_cost_summary_api_v1_costs_summary_get",
    security(("api_key" = [])),
    responses((status = 200, body = CostSummary), (status = 401, body = ErrorBody)))]
pub async fn summary(_: AdminAuth, State(state): State<AppState>) -> ApiResult<Json<CostSummary>> {
    Ok(Json(costs::summary(&state).await?))
}

/// Each server's estimate, the totals and the tariff.
#[utoipa::path(get, path = "/api/v1/costs/breakdown", tag = "costs", operation_id = "get_cost_breakdown_api_v1_costs_breakdown_get",
    security(("api_key" = [])),
    responses((status = 200, body = CostBreakdown), (status = 401, body = ErrorBody)))]
pub async fn breakdown(_: AdminAuth, State(state): State<AppState>) -> ApiResult<Json<CostBreakdown>> {
    Ok(Json(costs::breakdown(&state).await?))
}
