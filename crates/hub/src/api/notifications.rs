//! Notification channels: CRUD, a test per channel, and the v1 `POST /config/test-webhook`.
//! Channels are stored as one settings document (`channels`); secrets are never echoed back.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AdminAuth;
use crate::error::{ApiError, ApiResult, ErrorBody, ValidationBody};
use crate::extract::ApiJson;
use crate::notify::config::MASK;
use crate::notify::{self, ChannelConfig, ChannelTarget, DeliveryError};
use crate::state::AppState;

/// Settings key of the channel list.
pub const CHANNELS_KEY: &str = "channels";

pub async fn load_channels(state: &AppState) -> ApiResult<Vec<ChannelConfig>> {
    super::config::load(state, CHANNELS_KEY).await
}

/// Puts the channels of the configuration file into the stored list (same id: replaced).
pub async fn apply_configured_channels(state: &AppState) -> ApiResult<()> {
    if state.config.channels.is_empty() {
        return Ok(());
    }
    let configured = state.config.channels.clone();
    super::config::update(state, CHANNELS_KEY, move |channels: &mut Vec<ChannelConfig>| {
        for channel in &configured {
            match channels.iter_mut().find(|c| c.id == channel.id) {
                Some(stored) => *stored = channel.clone(),
                None => channels.push(channel.clone()),
            }
        }
        Ok(())
    })
    .await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelList {
    pub channels: Vec<ChannelConfig>,
    pub total: usize,
}

/// Configured channels, secrets masked.
#[utoipa::path(get, path = "/api/v1/notifications/channels", tag = "notifications", security(("api_key" = [])),
    responses((status = 200, body = ChannelList)))]
pub async fn list_channels(_: AdminAuth, State(state): State<AppState>) -> ApiResult<Json<ChannelList>> {
    let channels: Vec<ChannelConfig> = load_channels(&state).await?.iter().map(ChannelConfig::redacted).collect();
    Ok(Json(ChannelList { total: channels.len(), channels }))
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
    channel.validate()?;
    let shown = channel.redacted();
    super::config::update(&state, CHANNELS_KEY, move |channels: &mut Vec<ChannelConfig>| {
        if channels.iter().any(|c| c.id == channel.id) {
            return Err(ApiError::Conflict(format!("Channel '{}' already exists", channel.id)));
        }
        channels.push(channel.clone());
        Ok(())
    })
    .await?;
    state.outbox.wake();
    Ok((StatusCode::CREATED, Json(shown)))
}

fn is_masked(value: &str) -> bool {
    value == MASK || value.ends_with("/…")
}

fn restore(new: &mut String, old: &str) {
    if is_masked(new) {
        *new = old.to_owned();
    }
}

fn restore_optional(new: &mut Option<String>, old: &Option<String>) {
    if new.as_deref().is_some_and(is_masked) {
        new.clone_from(old);
    }
}

/// Keeps stored secrets where the client sent back the mask (it never saw the real value).
fn keep_masked_secrets(new: &mut ChannelConfig, old: &ChannelConfig) {
    match (&mut new.target, &old.target) {
        (ChannelTarget::Slack { webhook_url: n }, ChannelTarget::Slack { webhook_url: o })
        | (ChannelTarget::Discord { webhook_url: n }, ChannelTarget::Discord { webhook_url: o }) => restore(n, o),
        (
            ChannelTarget::Ntfy { topic_url: n, access_token: nt },
            ChannelTarget::Ntfy { topic_url: o, access_token: ot },
        ) => {
            restore(n, o);
            restore_optional(nt, ot);
        }
        (ChannelTarget::Webhook { url: n, secret: ns }, ChannelTarget::Webhook { url: o, secret: os }) => {
            restore(n, o);
            restore_optional(ns, os);
        }
        (ChannelTarget::Email(n), ChannelTarget::Email(o)) => restore_optional(&mut n.password, &o.password),
        _ => {}
    }
}

/// Replaces a channel. Secret fields may be sent back masked to keep their stored values.
#[utoipa::path(put, path = "/api/v1/notifications/channels/{id}", tag = "notifications", security(("api_key" = [])),
    params(("id" = String, Path, description = "Channel id")), request_body = ChannelConfig,
    responses((status = 200, body = ChannelConfig), (status = 404, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn update_channel(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(mut channel): ApiJson<ChannelConfig>,
) -> ApiResult<Json<ChannelConfig>> {
    channel.id = id;
    let saved = super::config::update(&state, CHANNELS_KEY, move |channels: &mut Vec<ChannelConfig>| {
        let slot = channels.iter_mut().find(|c| c.id == channel.id).ok_or_else(|| channel_not_found(&channel.id))?;
        let mut updated = channel.clone();
        keep_masked_secrets(&mut updated, slot);
        updated.validate()?;
        *slot = updated.clone();
        Ok(updated)
    })
    .await?;
    state.outbox.wake();
    Ok(Json(saved.redacted()))
}

fn channel_not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("Channel '{id}' not found"))
}

#[utoipa::path(delete, path = "/api/v1/notifications/channels/{id}", tag = "notifications", security(("api_key" = [])),
    params(("id" = String, Path, description = "Channel id")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_channel(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    super::config::update(&state, CHANNELS_KEY, move |channels: &mut Vec<ChannelConfig>| {
        let before = channels.len();
        channels.retain(|c| c.id != id);
        if channels.len() == before { Err(channel_not_found(&id)) } else { Ok(()) }
    })
    .await?;
    state.outbox.wake();
    Ok(StatusCode::NO_CONTENT)
}

/// The v1 test-webhook answer (always HTTP 200).
#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    pub success: bool,
    pub message: Option<String>,
    pub error: Option<String>,
}

impl TestResult {
    fn from_delivery(result: Result<(), DeliveryError>) -> Self {
        match result {
            Ok(()) => TestResult { success: true, message: Some("Test message sent successfully".into()), error: None },
            Err(error) => TestResult { success: false, message: None, error: Some(error.to_string()) },
        }
    }
}

/// Sends a test message through a configured channel; reports the remote error verbatim.
#[utoipa::path(post, path = "/api/v1/notifications/channels/{id}/test", tag = "notifications", security(("api_key" = [])),
    params(("id" = String, Path, description = "Channel id")),
    responses((status = 200, body = TestResult), (status = 404, body = ErrorBody)))]
pub async fn test_channel(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<TestResult>> {
    let channels = load_channels(&state).await?;
    let config = channels.iter().find(|c| c.id == id).ok_or_else(|| channel_not_found(&id))?;
    let client = notify::http_client().map_err(ApiError::Internal)?;
    let channel = notify::build(config, &client);
    Ok(Json(TestResult::from_delivery(channel.send_test(state.clock.now()).await)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TestWebhookRequest {
    pub webhook_url: String,
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
    let mut v = homelab_core::validate::Validator::new("body");
    v.str_len("webhook_url", &request.webhook_url, 1, 2048);
    v.finish()?;
    let client = notify::http_client().map_err(ApiError::Internal)?;
    let slack = notify::slack::Slack::new(client, request.webhook_url);
    let result = notify::Channel::send_test(&slack, state.clock.now()).await;
    // v1's wording for the common failures.
    let result = result.map_err(|error| match &error {
        DeliveryError::Permanent(message) if message.starts_with("HTTP 404") => {
            DeliveryError::Permanent("Invalid webhook URL".into())
        }
        DeliveryError::Retry { message, .. } if message.starts_with("HTTP 429") => {
            DeliveryError::Permanent("Too many requests, try again later".into())
        }
        DeliveryError::Permanent(message) | DeliveryError::Retry { message, .. } if message.starts_with("HTTP ") => {
            DeliveryError::Permanent(format!("Slack returned error: {}", message.split_once(": ").map_or("", |p| p.1)))
        }
        _ => error,
    });
    Ok(Json(TestResult::from_delivery(result)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DeliveryParams {
    /// `pending`, `delivered`, `dead` or `discarded`.
    pub status: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryInfo {
    pub id: i64,
    pub event_id: i64,
    /// The alert the event belongs to (its timeline is `GET /alerts/{id}/timeline`).
    pub alert_id: Option<i64>,
    pub channel_id: String,
    pub status: String,
    pub attempts: i64,
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "homelab_core::time::rfc3339")]
    pub next_attempt_at: homelab_core::time::Timestamp,
    /// The receiver's last error, verbatim.
    pub last_error: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "homelab_core::time::rfc3339")]
    pub created_at: homelab_core::time::Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(with = "homelab_core::time::rfc3339_option")]
    pub delivered_at: Option<homelab_core::time::Timestamp>,
    pub event_kind: String,
    pub server_id: String,
    pub title: String,
    pub severity: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<DeliveryInfo>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// The delivery log: every (event, channel) pair with its attempts and last error.
#[utoipa::path(get, path = "/api/v1/notifications/deliveries", tag = "notifications", security(("api_key" = [])),
    params(DeliveryParams), responses((status = 200, body = DeliveryList), (status = 422, body = ValidationBody)))]
pub async fn list_deliveries(
    _: AdminAuth,
    State(state): State<AppState>,
    crate::extract::ApiQuery(params): crate::extract::ApiQuery<DeliveryParams>,
) -> ApiResult<Json<DeliveryList>> {
    let mut v = homelab_core::validate::Validator::new("query");
    let (limit, offset) = (params.limit.unwrap_or(50), params.offset.unwrap_or(0));
    v.range_i64("limit", Some(limit), 1, Some(500));
    v.range_i64("offset", Some(offset), 0, None);
    v.opt_one_of("status", params.status.as_deref(), &["pending", "delivered", "dead", "discarded"]);
    v.finish()?;
    let (records, total) = state.store.list_deliveries(params.status.as_deref(), limit, offset).await?;
    let deliveries = records
        .into_iter()
        .map(|d| DeliveryInfo {
            id: d.id,
            event_id: d.event_id,
            alert_id: d.event.alert_id,
            channel_id: d.channel_id,
            status: d.status,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_error: d.last_error,
            created_at: d.created_at,
            delivered_at: d.delivered_at,
            event_kind: d.event.kind.as_str().into(),
            server_id: d.event.server_id,
            title: d.event.title,
            severity: d.event.severity.as_str().into(),
        })
        .collect();
    Ok(Json(DeliveryList { deliveries, total, limit, offset }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryAction {
    pub id: i64,
    pub status: &'static str,
}

/// Tries a dead delivery again now.
#[utoipa::path(post, path = "/api/v1/notifications/deliveries/{id}/retry", tag = "notifications", security(("api_key" = [])),
    params(("id" = i64, Path, description = "Delivery id")),
    responses((status = 200, body = DeliveryAction), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn retry_delivery(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<DeliveryAction>> {
    state.store.retry_delivery(id, state.clock.now()).await?;
    state.outbox.wake();
    Ok(Json(DeliveryAction { id, status: "pending" }))
}

/// Gives up on a pending or dead delivery.
#[utoipa::path(post, path = "/api/v1/notifications/deliveries/{id}/discard", tag = "notifications", security(("api_key" = [])),
    params(("id" = i64, Path, description = "Delivery id")),
    responses((status = 200, body = DeliveryAction), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn discard_delivery(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> ApiResult<Json<DeliveryAction>> {
    state.store.discard_delivery(id, state.clock.now()).await?;
    Ok(Json(DeliveryAction { id, status: "discarded" }))
}
