//! Alert configuration (v1 §2.7): thresholds and notification settings as JSON documents in the
//! settings table, with the v1 defaults when absent. Updates are partial and validated after
//! merging, so a cross-field rule (critical above high) is checked on the document that would be
//! stored; every accepted field is stored and read by the engine (`server_offline_seconds` too,
//! which v1 ignored).

use axum::Json;
use axum::extract::State;
use homelab_core::alerts::{NotificationSettings, NotificationSettingsUpdate, Thresholds, ThresholdsUpdate};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use crate::auth::AdminAuth;
use crate::error::{ApiError, ApiResult, ErrorBody, ValidationBody};
use crate::extract::ApiJson;
use crate::state::AppState;

/// Settings keys, shared with the store's engine wiring.
pub const THRESHOLDS_KEY: &str = "thresholds";
pub const NOTIFICATIONS_KEY: &str = "notifications";

/// A settings document, or its defaults when none was saved.
pub(crate) async fn load<T: DeserializeOwned + Default>(state: &AppState, key: &str) -> ApiResult<T> {
    match state.store.get_setting(key).await? {
        Some(value) => serde_json::from_value(value)
            .map_err(|e| ApiError::Internal(format!("the stored '{key}' settings are unreadable: {e}"))),
        None => Ok(T::default()),
    }
}

pub(crate) async fn save<T: Serialize>(state: &AppState, key: &str, value: &T) -> ApiResult<()> {
    let value = serde_json::to_value(value).map_err(|e| ApiError::Internal(e.to_string()))?;
    state.store.put_setting(key, &value, state.clock.now()).await?;
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigResponse {
    pub thresholds: Thresholds,
    pub notifications: NotificationSettings,
}

/// Both documents, defaults filled in.
#[utoipa::path(get, path = "/api/v1/config", tag = "config", security(("api_key" = [])),
    responses((status = 200, body = ConfigResponse), (status = 401, body = ErrorBody)))]
pub async fn get_all(_: AdminAuth, State(state): State<AppState>) -> ApiResult<Json<ConfigResponse>> {
    Ok(Json(ConfigResponse {
        thresholds: load(&state, THRESHOLDS_KEY).await?,
        notifications: load(&state, NOTIFICATIONS_KEY).await?,
    }))
}

#[utoipa::path(get, path = "/api/v1/config/thresholds", tag = "config", security(("api_key" = [])),
    responses((status = 200, body = Thresholds), (status = 401, body = ErrorBody)))]
pub async fn get_thresholds(_: AdminAuth, State(state): State<AppState>) -> ApiResult<Json<Thresholds>> {
    Ok(Json(load(&state, THRESHOLDS_KEY).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ThresholdsUpdated {
    /// Dotted names of the fields whose value changed (`cpu.high_percent`, …).
    pub updated: Vec<String>,
    pub thresholds: Thresholds,
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
    let current: Thresholds = load(&state, THRESHOLDS_KEY).await?;
    let merged = current.merge(&update)?;
    save(&state, THRESHOLDS_KEY, &merged.config).await?;
    Ok(Json(ThresholdsUpdated { updated: merged.updated, thresholds: merged.config }))
}

#[utoipa::path(get, path = "/api/v1/config/notifications", tag = "config", security(("api_key" = [])),
    responses((status = 200, body = NotificationSettings), (status = 401, body = ErrorBody)))]
pub async fn get_notifications(_: AdminAuth, State(state): State<AppState>) -> ApiResult<Json<NotificationSettings>> {
    Ok(Json(load(&state, NOTIFICATIONS_KEY).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationsUpdated {
    pub updated: Vec<String>,
    pub notifications: NotificationSettings,
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
    let current: NotificationSettings = load(&state, NOTIFICATIONS_KEY).await?;
    let merged = current.merge(&update)?;
    save(&state, NOTIFICATIONS_KEY, &merged.config).await?;
    Ok(Json(NotificationsUpdated { updated: merged.updated, notifications: merged.config }))
}
