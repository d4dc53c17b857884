//! The notification dispatcher: routes committed outbox events to the channels that want them,
//! frames them into messages, then delivers each message at least once, with backoff and a
//! dead-letter horizon.
//!
//! It runs after commits, never inside a request. Framing (which deliveries go out together, and
//! when: [`homelab_core::notify::frame`]) happens in the store, with the storms every hub on the
//! database shares. A message is leased in the store by this hub process, so several hubs never
//! send one twice; only the lease holder records the outcome; a hub that dies mid-send leaves its
//! lease to expire (or, restarted, takes it back at once) and the message goes out again, with
//! the same events under the same delivery id.
//!
//! It is a [`Worker`]: a pass routes new events, frames what is due and starts a send for each
//! channel whose next message is due, then the dispatcher sleeps until a commit rings the
//! [`OutboxSignal`], a send finishes, or the next wait, storm follow-up, retry or lease end falls
//! due. Channels are sent to concurrently (at most [`MAX_SENDING_CHANNELS`] at once), one message
//! per channel at a time and in order, so a receiver that hangs delays only its own messages and
//! an alert's events reach each channel in the order they happened.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use homelab_core::alerts::{AlertEvent, EventKind, NotificationSettings, Severity};
use homelab_core::notify::{Grouping, retry_delay};
use homelab_core::time::Timestamp;
use homelab_store::{ClaimedMessage, DeliveryOutcome, EventRoute, Lease, Store, V1_SLACK_CHANNEL};
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
    /// When events go out together (waits, storms, follow-ups).
    pub grouping: Grouping,
    /// Names this hub across its restarts in leases (`host:port`), so that a restarted hub takes
    /// back what its previous process had leased.
    pub instance: String,
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// After this long since the event, a failing delivery is dead-lettered.
    pub retry_horizon: chrono::Duration,
    /// How long a claimed message is reserved for the claiming hub.
    pub lease: chrono::Duration,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        DispatchSettings {
            grouping: Grouping::default(),
            instance: "homelabcmd".into(),
            retry_base: Duration::from_secs(5),
            retry_cap: Duration::from_secs(3600),
            retry_horizon: chrono::Duration::hours(24),
            lease: chrono::Duration::seconds(60),
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
    /// This process's lease token: only it can record the outcome of what it leased.
    token: String,
    /// Whether the leases of this hub's previous process have been taken back.
    leases_released: bool,
    /// Sends in progress, at most one per channel.
    sending: JoinSet<()>,
    sending_channels: HashMap<Id, String>,
    /// The earliest moment something not yet due becomes due (a wait, a storm's follow-up, a
    /// retry, a lease end).
    next_due: Option<Timestamp>,
}

impl Dispatcher {
    pub fn new(state: AppState, settings: DispatchSettings) -> Result<Self, String> {
        Ok(Dispatcher {
            wake: state.outbox.clone(),
            state,
            settings: Arc::new(settings),
            client: notify::http_client()?,
            token: format!("{}-{:016x}", std::process::id(), rand::random::<u64>()),
            leases_released: false,
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

    /// One pass: route new events, frame what is due into messages, then start a send for every
    /// channel whose next message is due, unless it is sending already or the concurrency bound
    /// is reached. Returns how many sends it started; they run on after it returns.
    pub async fn pass(&mut self) -> Result<usize, String> {
        while let Some(done) = self.sending.try_join_next_with_id() {
            self.finished(done);
        }
        let now = self.state.clock.now();
        let store = Arc::clone(&self.state.store);
        if !self.leases_released {
            let released = store.release_leases(&self.settings.instance, now).await.map_err(|e| e.to_string())?;
            if released > 0 {
                tracing::info!(released, "taking back the messages this hub was sending when it stopped");
            }
            self.leases_released = true;
        }
        let routes = self.routes().await?;
        // Route the whole backlog (in batches) before sending, so a new alert never waits
        // behind a pile of older events that no channel wants.
        loop {
            let events = store.unrouted_events(ROUTE_BATCH).await.map_err(|e| e.to_string())?;
            if events.is_empty() {
                break;
            }
            let assignments: Vec<EventRoute> = events
                .iter()
                .map(|e| EventRoute {
                    event_id: e.id,
                    channels: routes.iter().filter(|r| r.wants(&e.event)).map(|r| r.config.id.clone()).collect(),
                    group: e.event.alert_type.as_str().to_owned(),
                })
                .collect();
            store.route_events(&assignments, now).await.map_err(|e| e.to_string())?;
            self.state.web.deliveries_changed();
            if (events.len() as i64) < ROUTE_BATCH {
                break;
            }
        }
        let mut next_due = store.frame_messages(&self.settings.grouping, now).await.map_err(|e| e.to_string())?;
        let mut started = 0;
        for channel_id in store.due_channels(now).await.map_err(|e| e.to_string())? {
            if self.sending_channels.values().any(|sending| *sending == channel_id) {
                continue; // its send's end wakes the dispatcher
            }
            if self.sending.len() >= MAX_SENDING_CHANNELS {
                tracing::debug!(channel = %channel_id, "as many channels sending as allowed; waiting for one");
                continue; // a send's end wakes the dispatcher
            }
            let lease = Lease {
                instance: self.settings.instance.clone(),
                token: self.token.clone(),
                until: now + self.settings.lease,
            };
            let Some(message) = store.claim_message(&channel_id, &lease, now).await.map_err(|e| e.to_string())? else {
                continue; // its next message is not due yet, or another hub has it
            };
            tracing::debug!(channel = %channel_id, message = message.id, events = message.deliveries.len(), "sending");
            let config = routes.iter().find(|r| r.config.id == channel_id).map(|r| r.config.clone());
            let send = SendTask {
                store: Arc::clone(&store),
                web: self.state.web.clone(),
                client: self.client.clone(),
                settings: Arc::clone(&self.settings),
                token: self.token.clone(),
            };
            let handle = self.sending.spawn(send.run(config, message, now));
            self.sending_channels.insert(handle.id(), channel_id);
            started += 1;
        }
        if let Some(due) = store.next_delivery_due_after(now).await.map_err(|e| e.to_string())? {
            next_due = Some(next_due.map_or(due, |held| held.min(due)));
        }
        self.next_due = next_due;
        Ok(started)
    }

    fn finished(&mut self, done: Result<(Id, ()), JoinError>) {
        match done {
            Ok((id, ())) => {
                self.sending_channels.remove(&id);
            }
            Err(error) => {
                let channel = self.sending_channels.remove(&error.id());
                // The lease keeps the message; it is sent again when the lease ends.
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
    token: String,
}

impl SendTask {
    async fn run(self, config: Option<ChannelConfig>, message: ClaimedMessage, now: Timestamp) {
        let outcome = match &config {
            Some(config) => self.deliver(config, &message, now).await,
            None => DeliveryOutcome::Dead { error: format!("channel '{}' no longer exists", message.channel_id) },
        };
        match self.store.finish_message(message.id, &self.token, &outcome, now).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                channel = %message.channel_id,
                message = message.id,
                "the lease on this message ran out during the send and another hub took it over; its outcome stands"
            ),
            // The lease keeps the message; it is sent again when the lease ends.
            Err(error) => tracing::error!(channel = %message.channel_id, %error, "cannot record a delivery attempt"),
        }
        self.web.deliveries_changed();
    }

    async fn deliver(&self, config: &ChannelConfig, message: &ClaimedMessage, now: Timestamp) -> DeliveryOutcome {
        let events: Vec<AlertEvent> = message.deliveries.iter().map(|d| d.event.clone()).collect();
        // One message, one id, one set of events for ever: receivers can drop duplicates by it.
        let delivery_id = format!("{}-{}", config.id, message.id);
        let result = notify::build(config, &self.client).send(&events, &delivery_id, now).await;
        let attempts = message.attempts;
        match result {
            Ok(()) => DeliveryOutcome::Delivered,
            Err(DeliveryError::Permanent(error)) => {
                tracing::warn!(channel = %config.id, %error, "notification rejected; not retrying");
                DeliveryOutcome::Dead { error }
            }
            Err(DeliveryError::Retry { message: error, retry_after }) => {
                let delay = retry_delay(
                    u32::try_from(attempts).unwrap_or(u32::MAX),
                    self.settings.retry_base,
                    self.settings.retry_cap,
                    0.2,
                    rand::random::<f64>(),
                    retry_after,
                );
                let next = now + chrono::Duration::from_std(delay).unwrap_or(self.settings.lease);
                let oldest = message.deliveries.iter().map(|d| d.created_at).min().unwrap_or(now);
                if next > oldest + self.settings.retry_horizon {
                    tracing::error!(channel = %config.id, %error, attempts, "notification dead-lettered");
                    DeliveryOutcome::Dead { error: format!("gave up after {attempts} attempts: {error}") }
                } else {
                    tracing::info!(channel = %config.id, %error, retry_in = ?delay, "notification will be retried");
                    DeliveryOutcome::Retry { error, next_attempt_at: next }
                }
            }
        }
    }
}
