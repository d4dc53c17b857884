//! Background jobs, each a [`Worker`](worker::Worker) run by [`Workers`](worker::Workers):
//! retention and the offline check on timers, the built-in agent on its interval, and the
//! notification dispatcher woken by outbox commits. A failing run is backed off and logged, never
//! allowed to take the hub down; stopping ends them within [`worker::EXIT_DEADLINE`].

pub mod dispatcher;
pub mod local_agent;
pub mod offline;
pub mod outbox;
pub mod retention;
pub mod worker;

use std::sync::Arc;

use tokio::sync::Mutex;

use crate::state::AppState;

use homelab_agent::collectors::os::read_hostname;
use homelab_agent::root::SystemRoot;
use homelab_core::notify::Grouping;

use self::dispatcher::{DispatchSettings, Dispatcher};
use self::worker::Workers;

/// How the hub drives its jobs.
#[derive(Clone, Default)]
pub enum JobMode {
    /// On their timers and wake-ups (production).
    #[default]
    Running,
    /// Not at all until stepped through the [`Stepper`] (tests drive them, no timers; the
    /// built-in agent, when enabled, still runs).
    Stepped(Stepper),
}

/// Runs the dispatcher, the offline check and retention one step at a time, on request.
#[derive(Clone, Default)]
pub struct Stepper {
    jobs: Arc<Mutex<Option<SteppedJobs>>>,
}

struct SteppedJobs {
    state: AppState,
    dispatcher: Option<Dispatcher>,
}

impl Stepper {
    async fn with<T>(&self, step: impl AsyncFnOnce(&mut SteppedJobs) -> Result<T, String>) -> Result<T, String> {
        let mut jobs = self.jobs.lock().await;
        let jobs = jobs.as_mut().ok_or("the hub has not started its jobs yet")?;
        step(jobs).await
    }

    /// Whether the hub has handed its jobs over (it does so before it serves requests).
    pub async fn started(&self) -> bool {
        self.jobs.lock().await.is_some()
    }

    /// Routes and sends everything due now and waits until the sends have ended.
    pub async fn dispatcher(&self) -> Result<(), String> {
        self.with(async |jobs| jobs.dispatcher.as_mut().ok_or("the dispatcher cannot start")?.settle().await).await
    }

    /// Routes and starts the sends due now, without waiting for them to end.
    pub async fn dispatcher_pass(&self) -> Result<usize, String> {
        self.with(async |jobs| jobs.dispatcher.as_mut().ok_or("the dispatcher cannot start")?.pass().await).await
    }

    pub async fn offline_check(&self) -> Result<(), String> {
        self.with(async |jobs| offline::run_once(&jobs.state).await).await
    }

    /// When the running offline check would next wake up.
    pub async fn offline_check_due(&self) -> Result<homelab_core::time::Timestamp, String> {
        self.with(async |jobs| offline::next_check_at(&jobs.state).await).await
    }

    pub async fn retention(&self) -> Result<(), String> {
        self.with(async |jobs| retention::run_once(&jobs.state).await).await
    }
}

/// Dispatcher settings from the hub's configuration.
pub fn dispatch_settings(state: &AppState) -> DispatchSettings {
    let config = &state.config;
    let host = read_hostname(&SystemRoot::host()).unwrap_or_else(|_| "hub".into());
    DispatchSettings {
        grouping: Grouping {
            wait: chrono::Duration::seconds(config.notification_group_wait_seconds),
            interval: chrono::Duration::seconds(config.notification_group_interval_seconds),
            storm_servers: usize::try_from(config.notification_storm_servers).unwrap_or(usize::MAX),
            ..Grouping::default()
        },
        instance: format!("{host}:{}", config.port),
        retry_horizon: chrono::Duration::hours(config.notification_retry_horizon_hours),
        ..Default::default()
    }
}

/// Starts the hub's jobs in `mode`.
pub async fn start(state: &AppState, mode: JobMode) -> Workers {
    let mut workers = Workers::default();
    let dispatcher = Dispatcher::new(state.clone(), dispatch_settings(state))
        .inspect_err(|error| tracing::error!(%error, "notifications are disabled: the dispatcher cannot start"))
        .ok();
    match mode {
        JobMode::Running => {
            workers.spawn(retention::Retention::new(state.clone()));
            workers.spawn(offline::OfflineCheck::new(state.clone()));
            if let Some(dispatcher) = dispatcher {
                workers.spawn(dispatcher);
            }
        }
        JobMode::Stepped(stepper) => {
            *stepper.jobs.lock().await = Some(SteppedJobs { state: state.clone(), dispatcher });
        }
    }
    if state.config.local_agent.enabled {
        workers.spawn(local_agent::LocalAgent::new(state.clone()));
    }
    workers
}
