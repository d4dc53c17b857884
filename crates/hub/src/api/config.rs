//! Alert configuration (v1 §2.7): thresholds and notification settings; the rules are in
//! [`crate::service::config`].

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use homelab_core::alerts::{NotificationSettings, NotificationSettingsUpdate, Thresholds, ThresholdsUpdate};
use homelab_core::validate::LocSegment;

use crate::auth::AdminAuth;
use crate::error::{ApiError, ApiResult, ErrorBody, PlainErrorBody, ValidationBody};
use crate::extract::ApiJson;
use crate::service::ServiceError;
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

/// Partial update; `null` and absent fields keep their values. A range error is a 422 naming the
/// field; the critical-above-high rule, checked after merging, is v1's plain-string 422.
#[utoipa::path(put, path = "/api/v1/config/thresholds", tag = "config", security(("api_key" = [])),
    request_body = ThresholdsUpdate,
    responses((status = 200, body = ThresholdsUpdated), (status = 401, body = ErrorBody),
        (status = 422, body = ThresholdsRefusal,
            description = "A field out of range (list) or critical not above high (string)")))]
pub async fn put_thresholds(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiJson(update): ApiJson<ThresholdsUpdate>,
) -> ApiResult<Json<ThresholdsUpdated>> {
    config::update_thresholds(&state, update).await.map(Json).map_err(v1_cross_field)
}

/// The two 422 shapes of `PUT /config/thresholds`, for the document only.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ThresholdsRefusal {
    Fields(ValidationBody),
    CrossField(PlainErrorBody),
}

/// v1 (pydantic) answers the critical-above-high rule, checked on the merged document, with a
/// plain-string 422 naming the metric, which its web UI shows as is; range errors keep the list.
fn v1_cross_field(error: ServiceError) -> ApiError {
    let ServiceError::Invalid(errors) = &error else { return error.into() };
    let metrics: Option<Vec<String>> = errors
        .0
        .iter()
        .map(|e| match (e.kind.as_str(), e.loc.as_slice()) {
            ("value_error", [_, LocSegment::Key(metric), LocSegment::Key(field)]) if field == "critical_percent" => {
                Some(metric.clone())
            }
            _ => None,
        })
        .collect();
    match metrics.as_deref() {
        Some([metric, ..]) => ApiError::Plain {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: format!("('{metric}',): Value error, critical_percent must be greater than high_percent"),
        },
        _ => error.into(),
    }
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
