//! Notification channels: CRUD, a test per channel, the v1 test-webhook, and the delivery log
//! with retry and discard. Channels are rows of the store's channel table; secrets are never
//! shown back: every answer carries [`ChannelConfig::redacted`] copies, and a masked secret
//! sent back on update keeps the stored value.

use homelab_core::validate::{FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use homelab_store::StoreError;

use super::{ServiceError, ServiceResult};
use crate::notify::config::MASK;
use crate::notify::{self, ChannelConfig, ChannelTarget, DeliveryError};
use crate::state::AppState;

/// Every channel with its secrets, for the dispatcher (never for an answer).
pub async fn load_channels(state: &AppState) -> ServiceResult<Vec<ChannelConfig>> {
    let stored = state.store.list_channels().await?;
    Ok(stored.into_iter().map(ChannelConfig::from_stored).collect::<Result<_, _>>()?)
}

/// Puts the channels of the configuration file into the store (same id: replaced).
pub async fn apply_configured_channels(state: &AppState) -> ServiceResult<()> {
    let now = state.clock.now();
    for channel in &state.config.channels {
        let stored = channel.to_stored()?;
        let replacement = stored.clone();
        match state.store.update_channel(&channel.id, Box::new(move |_| Ok(replacement)), now).await {
            Err(StoreError::NotFound(_)) => {
                state.store.create_channel(&stored, now).await?;
            }
            other => {
                other?;
            }
        }
    }
    Ok(())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelList {
    pub channels: Vec<ChannelConfig>,
    pub total: usize,
}

/// Configured channels, secrets masked.
pub async fn list_channels(state: &AppState) -> ServiceResult<ChannelList> {
    let channels: Vec<ChannelConfig> = load_channels(state).await?.iter().map(ChannelConfig::redacted).collect();
    Ok(ChannelList { total: channels.len(), channels })
}

/// Adds a channel; answers it with its secrets masked.
pub async fn create_channel(state: &AppState, channel: ChannelConfig) -> ServiceResult<ChannelConfig> {
    channel.validate()?;
    state.store.create_channel(&channel.to_stored()?, state.clock.now()).await?;
    // Events not routed yet may want the new channel.
    state.outbox.wake();
    Ok(channel.redacted())
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

/// The secret fields of `channel` that hold the mask instead of a value.
fn masked_secrets(channel: &ChannelConfig) -> Vec<&'static str> {
    let masked = |value: &str| is_masked(value);
    let optional = |value: &Option<String>| value.as_deref().is_some_and(is_masked);
    let fields: Vec<(&'static str, bool)> = match &channel.target {
        ChannelTarget::Slack { webhook_url } | ChannelTarget::Discord { webhook_url } => {
            vec![("webhook_url", masked(webhook_url))]
        }
        ChannelTarget::Ntfy { topic_url, access_token } => {
            vec![("topic_url", masked(topic_url)), ("access_token", optional(access_token))]
        }
        ChannelTarget::Webhook { url, secret } => vec![("url", masked(url)), ("secret", optional(secret))],
        ChannelTarget::Email(email) => vec![("password", optional(&email.password))],
    };
    fields.into_iter().filter(|(_, masked)| *masked).map(|(name, _)| name).collect()
}

/// A stored secret is kept for a mask sent back only while the channel keeps its kind: after a
/// change of kind the mask stands for a secret of the old kind, which would be saved as it is.
fn refuse_masks_of_another_kind(new: &ChannelConfig, old: &ChannelConfig) -> Result<(), ValidationErrors> {
    if std::mem::discriminant(&new.target) == std::mem::discriminant(&old.target) {
        return Ok(());
    }
    let errors: Vec<FieldError> = masked_secrets(new)
        .into_iter()
        .map(|field| {
            FieldError::new(
                "secret_masked",
                vec!["body".into(), field.into()],
                "enter it in full (the saved one belongs to the channel's old kind)",
                serde_json::Value::Null,
            )
        })
        .collect();
    if errors.is_empty() { Ok(()) } else { Err(ValidationErrors(errors)) }
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

/// Replaces channel `id`. Secret fields may be sent back masked to keep their stored values.
pub async fn update_channel(state: &AppState, id: &str, mut channel: ChannelConfig) -> ServiceResult<ChannelConfig> {
    channel.id = id.to_owned();
    let (change, guard) = super::config::guarded(move |stored: &mut homelab_store::Channel| {
        let old = ChannelConfig::from_stored(stored.clone())?;
        refuse_masks_of_another_kind(&channel, &old)?;
        keep_masked_secrets(&mut channel, &old);
        channel.validate()?;
        *stored = channel.to_stored()?;
        Ok(channel.redacted())
    });
    let saved = guard.outcome(state.store.update_channel(id, change, state.clock.now()).await)?;
    state.outbox.wake();
    Ok(saved)
}

pub async fn delete_channel(state: &AppState, id: &str) -> ServiceResult<()> {
    state.store.delete_channel(id, state.clock.now()).await?;
    state.outbox.wake();
    Ok(())
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
pub async fn test_channel(state: &AppState, id: &str) -> ServiceResult<TestResult> {
    let config = ChannelConfig::from_stored(state.store.get_channel(id).await?)?;
    let client = notify::http_client().map_err(ServiceError::Internal)?;
    let channel = notify::build(&config, &client);
    Ok(TestResult::from_delivery(channel.send_test(state.clock.now()).await))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TestWebhookRequest {
    pub webhook_url: String,
}

/// v1: posts the Slack test message to any URL, without storing it.
pub async fn test_webhook(state: &AppState, request: TestWebhookRequest) -> ServiceResult<TestResult> {
    let mut v = homelab_core::validate::Validator::new("body");
    v.str_len("webhook_url", &request.webhook_url, 1, 2048);
    v.finish()?;
    let client = notify::http_client().map_err(ServiceError::Internal)?;
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
    Ok(TestResult::from_delivery(result))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
pub async fn list_deliveries(state: &AppState, params: &DeliveryParams) -> ServiceResult<DeliveryList> {
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
    Ok(DeliveryList { deliveries, total, limit, offset })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryAction {
    pub id: i64,
    pub status: &'static str,
}

/// Tries a dead delivery again now.
pub async fn retry_delivery(state: &AppState, id: i64) -> ServiceResult<DeliveryAction> {
    state.store.retry_delivery(id, state.clock.now()).await?;
    state.web.deliveries_changed();
    state.outbox.wake();
    Ok(DeliveryAction { id, status: "pending" })
}

/// Gives up on a pending or dead delivery.
pub async fn discard_delivery(state: &AppState, id: i64) -> ServiceResult<DeliveryAction> {
    state.store.discard_delivery(id, state.clock.now()).await?;
    state.web.deliveries_changed();
    Ok(DeliveryAction { id, status: "discarded" })
}
