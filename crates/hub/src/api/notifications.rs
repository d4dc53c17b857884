//! Notification channels and the delivery log (`/api/v1/notifications/…`) and the v1
//! `POST /config/test-webhook`; the rules are in [`crate::service::notifications`].

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::auth::AdminAuth;
use crate::error::{ApiResult, ErrorBody, ValidationBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::notify::ChannelConfig;
use crate::service::notifications::{
    self, ChannelList, DeliveryAction, DeliveryList, DeliveryParams, TestResult, TestWebhookRequest,
};
use crate::state::AppState;

/// Configured channels, secrets masked.
#[utoipa::path(get, path = "/api/v1/notifications/channels", tag = "notifications", security(("api_key" = [])),
    responses((status = 200, body = ChannelList)))]
pub async fn list_channels(_: AdminAuth, State(state): State<AppState>) -> ApiResult<Json<ChannelList>> {
    Ok(Json(notifications::list_channels(&state).await?))
}

/// Adds a channel.
#[utoipa::path(post, path = "/api/v1/notifications/channels", tag = "notifications", security(("api_key" = [])),
    request_body = ChannelConfig,
    responses((status = 201, body = ChannelConfig), (status = 409, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn create_channel(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiJson(channel): ApiJson<ChannelConfig>,
) -> ApiResult<(StatusCode, Json<ChannelConfig>)> {
    Ok((StatusCode::CREATED, Json(notifications::create_channel(&state, channel).await?)))
}

/// Replaces a channel. Secret fields may be sent back masked to keep their stored values.
#[utoipa::path(put, path = "/api/v1/notifications/channels/{id}", tag = "notifications", security(("api_key" = [])),
    params(("id" = String, Path, description = "Channel id")), request_body = ChannelConfig,
    responses((status = 200, body = ChannelConfig), (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn update_channel(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(channel): ApiJson<ChannelConfig>,
) -> ApiResult<Json<ChannelConfig>> {
    Ok(Json(notifications::update_channel(&state, &id, channel).await?))
}

#[utoipa::path(delete, path = "/api/v1/notifications/channels/{id}", tag = "notifications", security(("api_key" = [])),
    params(("id" = String, Path, description = "Channel id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_channel(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    notifications::delete_channel(&state, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a test message through a configured channel; reports the remote error verbatim.
#[utoipa::path(post, path = "/api/v1/notifications/channels/{id}/test", tag = "notifications", security(("api_key" = [])),
    params(("id" = String, Path, description = "Channel id")),
    responses((status = 200, body = TestResult), (status = 404, body = ErrorBody)))]
pub async fn test_channel(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<TestResult>> {
    Ok(Json(notifications::test_channel(&state, &id).await?))
}

/// v1: posts the Slack test message to any URL, without storing it.
#[utoipa::path(post, path = "/api/v1/config/test-webhook", tag = "notifications", security(("api_key" = [])),
    request_body = TestWebhookRequest,
    responses((status = 200, body = TestResult), (status = 422, body = ValidationBody)))]
pub async fn test_webhook(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiJson(request): ApiJson<TestWebhookRequest>,
) -> ApiResult<Json<TestResult>> {
    Ok(Json(notifications::test_webhook(&state, request).await?))
}

/// The delivery log: every (event, channel) pair with its attempts and last error.
#[utoipa::path(get, path = "/api/v1/notifications/deliveries", tag = "notifications", security(("api_key" = [])),
    params(DeliveryParams), responses((status = 200, body = DeliveryList), (status = 422, body = ValidationBody)))]
pub async fn list_deliveries(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<DeliveryParams>,
) -> ApiResult<Json<DeliveryList>> {
    Ok(Json(notifications::list_deliveries(&state, &params).await?))
}

/// Tries a dead delivery again now.
#[utoipa::path(post, path = "/api/v1/notifications/deliveries/{id}/retry", tag = "notifications", security(("api_key" = [])),
    params(("id" = i64, Path, description = "Delivery id")),
    responses((status = 200, body = DeliveryAction), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn retry_delivery(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<DeliveryAction>> {
    Ok(Json(notifications::retry_delivery(&state, id).await?))
}

/// Gives up on a pending or dead delivery.
#[utoipa::path(post, path = "/api/v1/notifications/deliveries/{id}/discard", tag = "notifications", security(("api_key" = [])),
    params(("id" = i64, Path, description = "Delivery id")),
    responses((status = 200, body = DeliveryAction), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn discard_delivery(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Json<DeliveryAction>> {
    Ok(Json(notifications::discard_delivery(&state, id).await?))
}
