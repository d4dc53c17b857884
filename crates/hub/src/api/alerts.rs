//! Alerts (v1 §2.5): history with filters and paging, acknowledge, resolve, pending breaches and
//! timelines; the rules are in [`crate::service::alerts`].

use axum::Json;
use axum::extract::State;

use crate::auth::AdminAuth;
use crate::error::{ApiResult, ErrorBody, ValidationBody};
use crate::extract::{ApiPath, ApiQuery};
use crate::service::alerts::{
    self, AcknowledgeResponse, AlertList, AlertQuery, AlertResponse, AlertTimeline, PendingList, ResolveResponse,
};
use crate::state::AppState;

/// Alert history, newest first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", security(("api_key" = [])), params(AlertQuery),
    responses((status = 200, body = AlertList), (status = 401, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn list(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AlertQuery>,
) -> ApiResult<Json<AlertList>> {
    Ok(Json(alerts::list(&state, &query).await?))
}

#[utoipa::path(get, path = "/api/v1/alerts/{alert_id}", tag = "alerts", security(("api_key" = [])),
    params(("alert_id" = i64, Path, description = "Alert id")),
    responses((status = 200, body = AlertResponse), (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn get(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<AlertResponse>> {
    Ok(Json(alerts::get(&state, id).await?))
}

/// Acknowledges an open alert: reminders stop, but it still escalates and auto-resolves (v1 froze
/// acknowledged alerts for ever). Idempotent. Refused for a resolved alert and, as in v1, for a
/// service alert whose service is still down.
#[utoipa::path(post, path = "/api/v1/alerts/{alert_id}/acknowledge", tag = "alerts", security(("api_key" = [])),
    params(("alert_id" = i64, Path, description = "Alert id")),
    responses((status = 200, body = AcknowledgeResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn acknowledge(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<AcknowledgeResponse>> {
    Ok(Json(alerts::acknowledge(&state, id).await?))
}

/// Resolves an open or acknowledged alert by hand. The key starts afresh, so a problem that
/// persists opens a new alert. Idempotent: a resolved alert is returned as stored.
#[utoipa::path(post, path = "/api/v1/alerts/{alert_id}/resolve", tag = "alerts", security(("api_key" = [])),
    params(("alert_id" = i64, Path, description = "Alert id")),
    responses((status = 200, body = ResolveResponse), (status = 404, body = ErrorBody)))]
pub async fn resolve(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<ResolveResponse>> {
    Ok(Json(alerts::resolve(&state, id).await?))
}

/// Breaches inside their sustained window: what will alert if nothing changes.
#[utoipa::path(get, path = "/api/v1/alerts/pending", tag = "alerts", security(("api_key" = [])),
    responses((status = 200, body = PendingList), (status = 401, body = ErrorBody)))]
pub async fn pending(_: AdminAuth, State(state): State<AppState>) -> ApiResult<Json<PendingList>> {
    Ok(Json(alerts::pending(&state).await?))
}

/// What happened to an alert, with the notifications each step sent and their outcome.
#[utoipa::path(get, path = "/api/v1/alerts/{alert_id}/timeline", tag = "alerts", security(("api_key" = [])),
    params(("alert_id" = i64, Path, description = "Alert id")),
    responses((status = 200, body = AlertTimeline), (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn timeline(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<AlertTimeline>> {
    Ok(Json(alerts::timeline(&state, id).await?))
}
