//! The notification dispatcher: routes committed outbox events to the channels that want them,
//! then delivers what is due, at least once, with backoff and a dead-letter horizon.
//!
//! It runs after commits, never inside a request. Deliveries are leased in the store (with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL), so several hubs never send one twice, and a hub that
//! dies mid-send leaves its lease to expire and the delivery to be picked up again.

use std::collections::HashMap;
use std::time::Duration;

use homelab_core::alerts::{AlertEvent, EventKind, NotificationSettings, Severity};
use homelab_core::notify::{group_send_at, retry_delay};
use homelab_core::time::Timestamp;
use homelab_store::{ClaimedDelivery, DeliveryOutcome};

use crate::notify::{self, ChannelConfig, ChannelTarget, DeliveryError, EventFilter};
use crate::service::notifications::load_channels;
use crate::state::AppState;

/// Events routed per store transaction.
const ROUTE_BATCH: i64 = 1000;

/// Id of the channel the v1 `slack_webhook_url` setting stands for.
pub const V1_SLACK_CHANNEL: &str = "slack";

#[derive(Debug, Clone)]
pub struct DispatchSettings {
    /// Storm grouping window per channel.
    pub group_window: chrono::Duration,
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// After this long since the event, a failing delivery is dead-lettered.
    pub retry_horizon: chrono::Duration,
    /// How long a claimed delivery is reserved for the claiming hub.
    pub lease: chrono::Duration,
    /// Most events in one message.
    pub batch: i64,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        DispatchSettings {
            group_window: chrono::Duration::seconds(30),
            retry_base: Duration::from_secs(5),
            retry_cap: Duration::from_secs(3600),
            retry_horizon: chrono::Duration::hours(24),
            lease: chrono::Duration::seconds(60),
            batch: 50,
        }
    }
}

/// A channel and, for the v1 Slack setting, v1's per-severity gates.
struct Route {
    config: ChannelConfig,
    v1_gates: Option<NotificationSettings>,
}

impl Route {
    fn wants(&self, event: &AlertEvent) -> bool {
        if !self.config.wants(event) {
            return false;
        }
        let Some(gates) = &self.v1_gates else { return true };
        match (event.kind, event.severity) {
            (EventKind::Resolved { .. }, _) => gates.notify_on_remediation && gates.notify_on_auto_resolve,
            (_, Severity::Critical) => gates.notify_on_critical,
            (_, Severity::High) => gates.notify_on_high,
            _ => true,
        }
    }
}

pub struct Dispatcher {
    state: AppState,
    settings: DispatchSettings,
    client: reqwest::Client,
    last_sent: HashMap<String, Timestamp>,
}

impl Dispatcher {
    pub fn new(state: AppState, settings: DispatchSettings) -> Result<Self, String> {
        Ok(Dispatcher { state, settings, client: notify::http_client()?, last_sent: HashMap::new() })
    }

    async fn routes(&self) -> Result<Vec<Route>, String> {
        let mut routes: Vec<Route> = load_channels(&self.state)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|config| Route { config, v1_gates: None })
            .collect();
        let v1: NotificationSettings =
            crate::service::config::notifications(&self.state).await.map_err(|e| e.to_string())?;
        if !v1.slack_webhook_url.trim().is_empty() && !routes.iter().any(|r| r.config.id == V1_SLACK_CHANNEL) {
            routes.push(Route {
                config: ChannelConfig {
                    id: V1_SLACK_CHANNEL.into(),
                    target: ChannelTarget::Slack { webhook_url: v1.slack_webhook_url.trim().to_owned() },
                    min_severity: Severity::Low,
                    events: EventFilter::default(),
                    enabled: true,
                },
                v1_gates: Some(v1),
            });
        }
        Ok(routes)
    }

    /// One pass: route new events, then send what is due. Returns how many deliveries were sent
    /// successfully.
    pub async fn run_once(&mut self) -> Result<usize, String> {
        let now = self.state.clock.now();
        let store = std::sync::Arc::clone(&self.state.store);
        let routes = self.routes().await?;
        // Route the whole backlog (in batches) before sending, so a new alert never waits
        // behind a pile of older events that no channel wants.
        loop {
            let events = store.unrouted_events(ROUTE_BATCH).await.map_err(|e| e.to_string())?;
            if events.is_empty() {
                break;
            }
            let assignments: Vec<(i64, Vec<String>)> = events
                .iter()
                .map(|e| (e.id, routes.iter().filter(|r| r.wants(&e.event)).map(|r| r.config.id.clone()).collect()))
                .collect();
            store.route_events(&assignments, now).await.map_err(|e| e.to_string())?;
            self.state.web.deliveries_changed();
            if (events.len() as i64) < ROUTE_BATCH {
                break;
            }
        }
        let mut sent = 0;
        for channel_id in store.due_channels(now).await.map_err(|e| e.to_string())? {
            let send_at = group_send_at(self.last_sent.get(&channel_id).copied(), self.settings.group_window, now);
            if send_at > now {
                tracing::debug!(channel = %channel_id, %send_at, "holding deliveries for the grouping window");
                continue;
            }
            let claimed = store
                .claim_deliveries(&channel_id, now, now + self.settings.lease, self.settings.batch)
                .await
                .map_err(|e| e.to_string())?;
            tracing::debug!(channel = %channel_id, claimed = claimed.len(), "sending");
            if claimed.is_empty() {
                continue;
            }
            let outcome = match routes.iter().find(|r| r.config.id == channel_id) {
                Some(route) => self.deliver(&route.config, &claimed, now).await,
                None => DeliveryOutcome::Dead { error: format!("channel '{channel_id}' no longer exists") },
            };
            if outcome == DeliveryOutcome::Delivered {
                sent += claimed.len();
            }
            let ids: Vec<i64> = claimed.iter().map(|d| d.id).collect();
            store.finish_deliveries(&ids, &outcome, now).await.map_err(|e| e.to_string())?;
            self.state.web.deliveries_changed();
        }
        Ok(sent)
    }

    async fn deliver(
        &mut self,
        config: &ChannelConfig,
        claimed: &[ClaimedDelivery],
        now: Timestamp,
    ) -> DeliveryOutcome {
        let events: Vec<AlertEvent> = claimed.iter().map(|d| d.event.clone()).collect();
        // Stable across retries of the same first delivery: receivers can drop duplicates.
        let delivery_id = format!("{}-{}", config.id, claimed[0].id);
        let result = notify::build(config, &self.client).send(&events, &delivery_id, now).await;
        // Only what reached the receiver opens a grouping window; retries follow the backoff.
        if result.is_ok() {
            self.last_sent.insert(config.id.clone(), now);
        }
        let attempts = claimed.iter().map(|d| d.attempts).max().unwrap_or(1);
        match result {
            Ok(()) => DeliveryOutcome::Delivered,
            Err(DeliveryError::Permanent(error)) => {
                tracing::warn!(channel = %config.id, %error, "notification rejected; not retrying");
                DeliveryOutcome::Dead { error }
            }
            Err(DeliveryError::Retry { message, retry_after }) => {
                let delay = retry_delay(
                    u32::try_from(attempts).unwrap_or(u32::MAX),
                    self.settings.retry_base,
                    self.settings.retry_cap,
                    0.2,
                    rand::random::<f64>(),
                    retry_after,
                );
                let next = now + chrono::Duration::from_std(delay).unwrap_or(self.settings.lease);
                let oldest = claimed.iter().map(|d| d.created_at).min().unwrap_or(now);
                if next > oldest + self.settings.retry_horizon {
                    tracing::error!(channel = %config.id, error = %message, attempts, "notification dead-lettered");
                    DeliveryOutcome::Dead { error: format!("gave up after {attempts} attempts: {message}") }
                } else {
                    tracing::info!(channel = %config.id, error = %message, retry_in = ?delay, "notification will be retried");
                    DeliveryOutcome::Retry { error: message, next_attempt_at: next }
                }
            }
        }
    }
}

/// How often the dispatcher looks for work; bounds the alert-to-notification latency.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Runs the dispatcher until shutdown.
pub fn spawn(
    state: AppState,
    settings: DispatchSettings,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let dispatcher = std::sync::Arc::new(tokio::sync::Mutex::new(Dispatcher::new(state, settings)?));
    Ok(super::spawn_periodic("dispatcher", POLL_INTERVAL, POLL_INTERVAL, shutdown, move || {
        let dispatcher = std::sync::Arc::clone(&dispatcher);
        async move { dispatcher.lock().await.run_once().await.map(|_| ()) }
    }))
}
