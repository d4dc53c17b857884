//! The notification dispatcher: routes committed outbox events to the channels that want them,
//! then delivers what is due, at least once, with backoff and a dead-letter horizon.
//!
//! It runs after commits, never inside a request. Deliveries are leased in the store (with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL), so several hubs never send one twice, and a hub that
//! dies mid-send leaves its lease to expire and the delivery to be picked up again.
//!
//! It is a [`Worker`]: a pass routes new events and starts a send for each channel with due
//! deliveries, then the dispatcher sleeps until a commit rings the [`OutboxSignal`], a send
//! finishes, or the next retry, lease end or grouping window falls due. Channels are sent to
//! concurrently (at most [`MAX_SENDING_CHANNELS`] at once), one send per channel at a time, so a
//! receiver that hangs delays only its own deliveries and each channel keeps its order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use homelab_core::alerts::{AlertEvent, EventKind, NotificationSettings, Severity};
use homelab_core::notify::{group_send_at, retry_delay};
use homelab_core::time::Timestamp;
use homelab_store::{ClaimedDelivery, DeliveryOutcome, Store, V1_SLACK_CHANNEL};
use tokio::task::{Id, JoinError, JoinSet};

use crate::notify::{self, ChannelConfig, ChannelTarget, DeliveryError, EventFilter};
use crate::service::notifications::load_channels;
use crate::state::AppState;
use crate::web::WebState;

use super::outbox::OutboxSignal;
use super::worker::{Worker, WorkerState};

/// Events routed per store transaction.
const ROUTE_BATCH: i64 = 1000;

/// Most channels sent to at the same time.
pub const MAX_SENDING_CHANNELS: usize = 8;

/// Longest idle sleep without a wake-up: another hub on the same PostgreSQL database may leave
/// work (an expired lease, events it committed) that no commit here announces.
pub const IDLE_RECHECK: Duration = Duration::from_secs(60);

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
    settings: Arc<DispatchSettings>,
    client: reqwest::Client,
    wake: OutboxSignal,
    /// When each channel last reached its receiver: the start of its grouping window.
    last_sent: HashMap<String, Timestamp>,
    /// Sends in progress, at most one per channel.
    sending: JoinSet<Sent>,
    sending_channels: HashMap<Id, String>,
    /// The earliest moment something not yet due becomes due (retry, lease end, grouping window).
    next_due: Option<Timestamp>,
}

/// How one send ended.
struct Sent {
    channel_id: String,
    /// When the receiver accepted it (opens the channel's grouping window).
    reached_at: Option<Timestamp>,
}

impl Dispatcher {
    pub fn new(state: AppState, settings: DispatchSettings) -> Result<Self, String> {
        Ok(Dispatcher {
            wake: state.outbox.clone(),
            state,
            settings: Arc::new(settings),
            client: notify::http_client()?,
            last_sent: HashMap::new(),
            sending: JoinSet::new(),
            sending_channels: HashMap::new(),
            next_due: None,
        })
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

    /// One pass: route new events, then start a send for every channel with due deliveries that
    /// is not sending already, held by its grouping window, or over the concurrency bound.
    /// Returns how many sends it started; they run on after it returns.
    pub async fn pass(&mut self) -> Result<usize, String> {
        while let Some(done) = self.sending.try_join_next_with_id() {
            self.finished(done);
        }
        let now = self.state.clock.now();
        let store = Arc::clone(&self.state.store);
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
        let mut next_due: Option<Timestamp> = None;
        let mut started = 0;
        for channel_id in store.due_channels(now).await.map_err(|e| e.to_string())? {
            if self.sending_channels.values().any(|sending| *sending == channel_id) {
                continue; // its send's end wakes the dispatcher
            }
            let send_at = group_send_at(self.last_sent.get(&channel_id).copied(), self.settings.group_window, now);
            if send_at > now {
                tracing::debug!(channel = %channel_id, %send_at, "holding deliveries for the grouping window");
                next_due = Some(next_due.map_or(send_at, |due| due.min(send_at)));
                continue;
            }
            if self.sending.len() >= MAX_SENDING_CHANNELS {
                tracing::debug!(channel = %channel_id, "as many channels sending as allowed; waiting for one");
                continue; // a send's end wakes the dispatcher
            }
            let claimed = store
                .claim_deliveries(&channel_id, now, now + self.settings.lease, self.settings.batch)
                .await
                .map_err(|e| e.to_string())?;
            tracing::debug!(channel = %channel_id, claimed = claimed.len(), "sending");
            if claimed.is_empty() {
                continue;
            }
            let config = routes.iter().find(|r| r.config.id == channel_id).map(|r| r.config.clone());
            let send = SendTask {
                store: Arc::clone(&store),
                web: self.state.web.clone(),
                client: self.client.clone(),
                settings: Arc::clone(&self.settings),
            };
            let handle = self.sending.spawn(send.run(channel_id.clone(), config, claimed, now));
            self.sending_channels.insert(handle.id(), channel_id);
            started += 1;
        }
        if let Some(due) = store.next_delivery_due_after(now).await.map_err(|e| e.to_string())? {
            next_due = Some(next_due.map_or(due, |held| held.min(due)));
        }
        self.next_due = next_due;
        Ok(started)
    }

    fn finished(&mut self, done: Result<(Id, Sent), JoinError>) {
        match done {
            Ok((id, sent)) => {
                self.sending_channels.remove(&id);
                if let Some(at) = sent.reached_at {
                    self.last_sent.insert(sent.channel_id, at);
                }
            }
            Err(error) => {
                let channel = self.sending_channels.remove(&error.id());
                // The lease keeps the deliveries; they are sent again when it ends.
                tracing::error!(?channel, %error, "a notification send failed to complete");
            }
        }
    }

    /// Whether sends are still in progress.
    pub fn is_sending(&self) -> bool {
        !self.sending.is_empty()
    }

    /// Waits for the next send in progress to end (returns at once when none is).
    pub async fn next_send_finished(&mut self) {
        if let Some(done) = self.sending.join_next_with_id().await {
            self.finished(done);
        }
    }

    /// Runs passes until nothing more can be sent now and no send is in progress.
    pub async fn settle(&mut self) -> Result<(), String> {
        loop {
            self.pass().await?;
            if !self.is_sending() {
                return Ok(());
            }
            self.next_send_finished().await;
        }
    }
}

impl Worker for Dispatcher {
    fn name(&self) -> &'static str {
        "dispatcher"
    }

    async fn work(&mut self) -> Result<WorkerState, String> {
        self.pass().await?;
        Ok(WorkerState::Idle)
    }

    async fn wait_for_work(&mut self) {
        let sleep = match self.next_due {
            Some(due) => (due - self.state.clock.now()).to_std().unwrap_or(Duration::ZERO).min(IDLE_RECHECK),
            None => IDLE_RECHECK,
        };
        tokio::select! {
            _ = self.wake.woken() => {}
            _ = tokio::time::sleep(sleep) => {}
            Some(done) = self.sending.join_next_with_id() => self.finished(done),
        }
    }

    async fn finish(&mut self) {
        // Within the exit deadline; sends cut short by it keep their lease and go out again.
        while self.is_sending() {
            self.next_send_finished().await;
        }
    }
}

/// What a send needs, owned, so that it runs as its own task.
struct SendTask {
    store: Arc<dyn Store>,
    web: WebState,
    client: reqwest::Client,
    settings: Arc<DispatchSettings>,
}

impl SendTask {
    async fn run(
        self,
        channel_id: String,
        config: Option<ChannelConfig>,
        claimed: Vec<ClaimedDelivery>,
        now: Timestamp,
    ) -> Sent {
        let outcome = match &config {
            Some(config) => self.deliver(config, &claimed, now).await,
            None => DeliveryOutcome::Dead { error: format!("channel '{channel_id}' no longer exists") },
        };
        // Only what reached the receiver opens a grouping window; retries follow the backoff.
        let reached_at = (outcome == DeliveryOutcome::Delivered).then_some(now);
        let ids: Vec<i64> = claimed.iter().map(|d| d.id).collect();
        if let Err(error) = self.store.finish_deliveries(&ids, &outcome, now).await {
            // The lease keeps the deliveries; they are sent again when it ends.
            tracing::error!(channel = %channel_id, %error, "cannot record a delivery attempt");
        }
        self.web.deliveries_changed();
        Sent { channel_id, reached_at }
    }

    async fn deliver(&self, config: &ChannelConfig, claimed: &[ClaimedDelivery], now: Timestamp) -> DeliveryOutcome {
        let events: Vec<AlertEvent> = claimed.iter().map(|d| d.event.clone()).collect();
        // Stable across retries of the same first delivery: receivers can drop duplicates.
        let delivery_id = format!("{}-{}", config.id, claimed.first().map_or(0, |d| d.id));
        let result = notify::build(config, &self.client).send(&events, &delivery_id, now).await;
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
