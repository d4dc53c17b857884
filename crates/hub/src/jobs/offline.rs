//! Offline detection: marks servers silent for longer than the `server_offline_seconds` setting
//! offline and lets the engine open (and remind about) their offline alerts. Time comes from the
//! hub's injected clock, so tests drive it with a manual clock instead of waiting.

use std::time::Duration;

use crate::state::AppState;

use super::worker::{Every, Worker, WorkerState};

/// How often to check. The offline timeout itself is the `server_offline_seconds` setting; this
/// only bounds how late past it a silent server is noticed.
pub const INTERVAL: Duration = Duration::from_secs(30);

pub struct OfflineCheck {
    state: AppState,
    schedule: Every,
}

impl OfflineCheck {
    pub fn new(state: AppState) -> Self {
        OfflineCheck { state, schedule: Every::new(INTERVAL, INTERVAL) }
    }
}

impl Worker for OfflineCheck {
    fn name(&self) -> &'static str {
        "offline"
    }

    async fn work(&mut self) -> Result<WorkerState, String> {
        run_once(&self.state).await?;
        Ok(WorkerState::Idle)
    }

    async fn wait_for_work(&mut self) {
        self.schedule.tick().await;
    }
}

pub async fn run_once(state: &AppState) -> Result<(), String> {
    let report = state.store.check_offline(state.clock.now()).await.map_err(|e| e.to_string())?;
    state.outbox.events_committed(report.events);
    for id in &report.marked_offline {
        state.web.server_changed(id, false);
    }
    if !report.marked_offline.is_empty() {
        tracing::info!(servers = ?report.marked_offline, events = report.events, "servers went offline");
    }
    Ok(())
}
