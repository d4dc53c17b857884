//! Slack incoming webhooks, with the v1 message layouts.

use async_trait::async_trait;
use homelab_core::alerts::AlertEvent;
use homelab_core::notify::{slack_payload, slack_test_payload};
use homelab_core::time::Timestamp;

use super::{Channel, DeliveryError, classify};

pub struct Slack {
    client: reqwest::Client,
    webhook_url: String,
}

impl Slack {
    pub fn new(client: reqwest::Client, webhook_url: String) -> Self {
        Slack { client, webhook_url }
    }
}

#[async_trait]
impl Channel for Slack {
    async fn send(&self, events: &[AlertEvent], _delivery_id: &str, now: Timestamp) -> Result<(), DeliveryError> {
        classify(self.client.post(&self.webhook_url).json(&slack_payload(events, &now)).send().await).await
    }

    /// The v1 test message.
    async fn send_test(&self, now: Timestamp) -> Result<(), DeliveryError> {
        classify(self.client.post(&self.webhook_url).json(&slack_test_payload(&now)).send().await).await
    }
}
