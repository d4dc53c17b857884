use std::sync::Arc;
use std::time::Instant;

use homelab_core::alerts::Thresholds;
use homelab_core::status::Silence;
use homelab_core::time::Timestamp;
use homelab_store::Store;

use crate::clock::Clock;
use crate::config::Config;
use crate::jobs::outbox::OutboxSignal;
use crate::web::WebState;

/// Shared by every handler and job.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub started: Instant,
    /// Dashboard sessions and the live-update channel.
    pub web: WebState,
    /// Rung after commits that give the notification dispatcher work (outbox events, retries,
    /// channel changes).
    pub outbox: OutboxSignal,
    /// When this hub started watching, if it had been down for longer than a heartbeat interval
    /// before: machines then get a grace period before silence counts ([`Silence`]).
    pub watching_since: Option<Timestamp>,
    /// Failed authentication per client address (API key, agent token, dashboard login).
    pub auth_throttle: Arc<crate::throttle::AuthThrottle>,
    /// Requests refused by the router's concurrency limit and timeout (the health check shows
    /// them).
    pub shedding: Arc<crate::backpressure::Shedding>,
}

impl AppState {
    /// How silence is judged now: the offline timeout of `thresholds` and this hub's grace.
    pub fn silence(&self, thresholds: &Thresholds) -> Silence {
        Silence::new(thresholds, self.watching_since)
    }
}
