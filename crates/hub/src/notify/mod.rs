//! Notification channels: where alert events go once committed. Each channel is a small module
//! behind the [`Channel`] trait; message bodies come from `homelab_core::notify` (pure), so
//! these modules only move bytes and classify failures for the dispatcher's retry policy.

pub mod config;
pub mod discord;
pub mod email;
pub mod ntfy;
pub mod slack;
pub mod webhook;

use std::time::Duration;

use async_trait::async_trait;
use homelab_core::alerts::AlertEvent;
use homelab_core::time::Timestamp;

pub use config::{ChannelConfig, ChannelTarget, EventFilter};

/// Why a delivery failed, which decides whether the dispatcher tries again.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying (timeouts, 5xx, 429), optionally not before `retry_after`.
    #[error("{message}")]
    Retry { message: String, retry_after: Option<Duration> },
    /// Retrying cannot help (a 4xx such as a revoked webhook); the remote error is kept verbatim.
    #[error("{0}")]
    Permanent(String),
}

/// A destination for notifications.
#[async_trait]
pub trait Channel: Send + Sync {
    /// Sends one message covering `events` (one event, or a group). `delivery_id` is stable
    /// across retries so that receivers can drop duplicates (at-least-once delivery).
    async fn send(&self, events: &[AlertEvent], delivery_id: &str, now: Timestamp) -> Result<(), DeliveryError>;

    /// Sends a harmless test message so a person can check the set-up.
    async fn send_test(&self, now: Timestamp) -> Result<(), DeliveryError> {
        self.send(&[test_event(now)], &format!("test-{}", now.timestamp_millis()), now).await
    }
}

/// A low-severity, clearly labelled event for channel tests.
pub fn test_event(now: Timestamp) -> AlertEvent {
    use homelab_core::alerts::{AlertKey, EventKind, Severity};
    AlertEvent {
        kind: EventKind::Opened,
        alert_type: homelab_core::alerts::AlertKind::Cpu,
        key: AlertKey::cpu(),
        alert_id: None,
        server_id: "homelab-command".into(),
        server_name: "Homelab Command".into(),
        severity: Severity::Low,
        previous_severity: None,
        title: "Test notification from Homelab Command".into(),
        message: "This channel is set up correctly. No action is needed.".into(),
        threshold_value: 0.0,
        actual_value: 0.0,
        duration_seconds: None,
        at: now,
        notify: true,
    }
}

/// Timeout for one delivery attempt (v1 used 10 s for Slack).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client all webhook channels share: rustls with the system's roots, a timeout.
pub fn http_client() -> Result<reqwest::Client, String> {
    // Several crates could each install a provider; the first install wins, later ones are
    // harmless errors.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(SEND_TIMEOUT)
        .user_agent(concat!("homelabcmd/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// Classifies an HTTP answer: 2xx delivered; 429 and 5xx retried (honouring `Retry-After`);
/// other statuses are permanent, with the receiver's body quoted.
pub async fn classify(result: Result<reqwest::Response, reqwest::Error>) -> Result<(), DeliveryError> {
    // The URL of a webhook is its secret: keep it out of errors (they are logged and stored).
    let result = result.map_err(reqwest::Error::without_url);
    let response = match result {
        Ok(response) => response,
        Err(error) if error.is_timeout() => {
            return Err(DeliveryError::Retry { message: "Connection timed out".into(), retry_after: None });
        }
        Err(error) if error.is_connect() => {
            return Err(DeliveryError::Retry { message: "Failed to connect to webhook URL".into(), retry_after: None });
        }
        Err(error) => return Err(DeliveryError::Retry { message: error.to_string(), retry_after: None }),
    };
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response.text().await.unwrap_or_default();
    let body: String = body.chars().take(500).collect();
    let message = format!("HTTP {}: {}", status.as_u16(), body.trim());
    if status.as_u16() == 429 || status.is_server_error() {
        Err(DeliveryError::Retry { message, retry_after })
    } else {
        Err(DeliveryError::Permanent(message))
    }
}

/// Builds the channel a configuration describes.
pub fn build(config: &ChannelConfig, client: &reqwest::Client) -> Box<dyn Channel> {
    match &config.target {
        ChannelTarget::Slack { webhook_url } => Box::new(slack::Slack::new(client.clone(), webhook_url.clone())),
        ChannelTarget::Discord { webhook_url } => Box::new(discord::Discord::new(client.clone(), webhook_url.clone())),
        ChannelTarget::Ntfy { topic_url, access_token } => {
            Box::new(ntfy::Ntfy::new(client.clone(), topic_url.clone(), access_token.clone()))
        }
        ChannelTarget::Webhook { url, secret } => {
            Box::new(webhook::Webhook::new(client.clone(), url.clone(), secret.clone()))
        }
        ChannelTarget::Email(settings) => Box::new(email::Email::new(settings.clone())),
    }
}
