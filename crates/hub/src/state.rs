use std::sync::Arc;
use std::time::Instant;

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
    /// Failed authentication per client address (API key, agent token, dashboard login).
    pub auth_throttle: Arc<crate::throttle::AuthThrottle>,
}
