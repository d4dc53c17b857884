//! Alert configuration (v1 §2.7): thresholds and notification settings; the rules are in
//! [`crate::service::config`].

use axum::Json;
use axum::extract::State;
use homelab_core::alerts::{NotificationSettings, NotificationSettingsUpdate, Thresholds, ThresholdsUpdate};

use crate::auth::AdminAuth;
use crate::error::{ApiResult, ErrorBody, ValidationBody};
use crate::extract::ApiJson;
use crate::service::config::{self, ConfigResponse, NotificationsUpdated, ThresholdsUpdated};
use crate::state::AppState;

/// Both documents, defaults filled in.
#[utoipa::path(get, path = "/api/v1/config", tag = "config", security(("api_key" = [])),
    responses((status = 200, body = ConfigResponse), (status = 401, body = ErrorBody)))]
pub async fn get_all(_: AdminAuth, State(state): State<AppState>) -> ApiResult<Json<ConfigResponse>> {
    Ok(Json(config::all(&state).await?))
}

#[utoipa::path(get, path = "/api/v1/config/thresholds", tag = "config", security(("api_key" = [])),
    responses((status = 200, body = Thresholds), (status = 401, body = ErrorBody)))]
pub async fn get_thresholds(_: AdminAuth, State(state): State<AppState>) -> ApiResult<Json<Thresholds>> {
    Ok(Json(config::thresholds(&state).await?))
}

/// Partial update; `null` and absent fields keep their values. A 422 names the field, for range
/// errors and for the critical-above-high rule alike.
#[utoipa::path(put, path = "/api/v1/config/thresholds", tag = "config", security(("api_key" = [])),
    request_body = ThresholdsUpdate,
    responses((status = 200, body = ThresholdsUpdated), (status = 401, body = ErrorBody),
        (status = 422, body = ValidationBody)))]
pub async fn put_thresholds(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiJson(update): ApiJson<ThresholdsUpdate>,
) -> ApiResult<Json<ThresholdsUpdated>> {
    Ok(Json(config::update_thresholds(&state, update).await?))
}

#[utoipa::path(get, path = "/api/v1/config/notifications", tag = "config", security(("api_key" = [])),
    responses((status = 200, body = NotificationSettings), (status = 401, body = ErrorBody)))]
pub async fn get_notifications(_: AdminAuth, State(state): State<AppState>) -> ApiResult<Json<NotificationSettings>> {
    Ok(Json(config::notifications_shown(&state).await?))
}

/// Partial update of all eight v1 settings (v1 silently dropped three of them).
#[utoipa::path(put, path = "/api/v1/config/notifications", tag = "config", security(("api_key" = [])),
    request_body = NotificationSettingsUpdate,
    responses((status = 200, body = NotificationsUpdated), (status = 401, body = ErrorBody),
        (status = 422, body = ValidationBody)))]
pub async fn put_notifications(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiJson(update): ApiJson<NotificationSettingsUpdate>,
) -> ApiResult<Json<NotificationsUpdated>> {
    Ok(Json(config::update_notifications(&state, update).await?))
}
