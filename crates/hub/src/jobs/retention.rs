//! Tiered retention: roll raw samples up into 5-minute and hourly tiers, then prune each tier.
//! The store does both in small transactions, rollup first, so no data is pruned unaggregated.

use std::time::Duration;

use crate::state::AppState;

use super::worker::{Every, Worker, WorkerState};

/// Runs retention on the `retention_interval_seconds` schedule.
pub struct Retention {
    state: AppState,
    schedule: Every,
}

impl Retention {
    pub fn new(state: AppState) -> Self {
        let every = Duration::from_secs(state.config.retention_interval_seconds);
        // Soon after start (the hub may have been down for a while), but not in its first breath.
        let first = every.min(Duration::from_secs(30));
        Retention { state, schedule: Every::new(first, every) }
    }
}

impl Worker for Retention {
    fn name(&self) -> &'static str {
        "retention"
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
    let report =
        state.store.run_retention(&state.config.retention, state.clock.now()).await.map_err(|e| e.to_string())?;
    tracing::debug!(?report, "retention run finished");
    Ok(())
}
