//! Discord webhooks: one embed per event.

use async_trait::async_trait;
use homelab_core::alerts::AlertEvent;
use homelab_core::notify::discord_payload;
use homelab_core::time::Timestamp;

use super::{Channel, DeliveryError, classify};

pub struct Discord {
    client: reqwest::Client,
    webhook_url: String,
}

impl Discord {
    pub fn new(client: reqwest::Client, webhook_url: String) -> Self {
        Discord { client, webhook_url }
    }
}

#[async_trait]
impl Channel for Discord {
    async fn send(&self, events: &[AlertEvent], _delivery_id: &str, now: Timestamp) -> Result<(), DeliveryError> {
        classify(self.client.post(&self.webhook_url).json(&discord_payload(events, &now)).send().await).await
    }
}
