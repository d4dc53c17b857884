//! The original web UI's dashboard layout; see [`crate::service::preferences`].

use axum::Json;
use axum::extract::State;
use homelab_core::preferences::DashboardPreferences;

use crate::auth::AdminAuth;
use crate::error::{ApiResult, ErrorBody, ValidationBody};
use crate::extract::ApiJson;
use crate::service::preferences::{self, DashboardPreferencesResponse, PreferencesSaved};
use crate::state::AppState;

#[utoipa::path(get, path = "/api/v1/preferences/dashboard", tag = "preferences",
    operation_id = "get_dashboard_preferences_api_v1_preferences_dashboard_get", security(("api_key" = [])),
    responses((status = 200, body = DashboardPreferencesResponse), (status = 401, body = ErrorBody)))]
pub async fn get_dashboard(
    _: AdminAuth,
    State(state): State<AppState>,
) -> ApiResult<Json<DashboardPreferencesResponse>> {
    Ok(Json(preferences::dashboard(&state).await?))
}

/// Replaces the layout whole.
#[utoipa::path(put, path = "/api/v1/preferences/dashboard", tag = "preferences",
    operation_id = "save_dashboard_preferences_api_v1_preferences_dashboard_put", security(("api_key" = [])),
    request_body = DashboardPreferences,
    responses((status = 200, body = PreferencesSaved), (status = 401, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn put_dashboard(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<DashboardPreferences>,
) -> ApiResult<Json<PreferencesSaved>> {
    Ok(Json(preferences::save_dashboard(&state, body).await?))
}
