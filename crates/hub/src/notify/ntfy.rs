//! ntfy (self-hosted push notifications): a POST to the topic URL, priority by severity.

use async_trait::async_trait;
use homelab_core::alerts::AlertEvent;
use homelab_core::notify::ntfy_message;
use homelab_core::time::Timestamp;

use super::{Channel, DeliveryError, classify};

pub struct Ntfy {
    client: reqwest::Client,
    topic_url: String,
    access_token: Option<String>,
}

impl Ntfy {
    pub fn new(client: reqwest::Client, topic_url: String, access_token: Option<String>) -> Self {
        Ntfy { client, topic_url, access_token }
    }
}

#[async_trait]
impl Channel for Ntfy {
    async fn send(&self, events: &[AlertEvent], _delivery_id: &str, _now: Timestamp) -> Result<(), DeliveryError> {
        let message = ntfy_message(events);
        let mut request = self
            .client
            .post(&self.topic_url)
            .header("Title", message.title)
            .header("Priority", message.priority.to_string())
            .header("Tags", message.tags)
            .body(message.body);
        if let Some(token) = &self.access_token {
            request = request.bearer_auth(token);
        }
        classify(request.send().await).await
    }
}
