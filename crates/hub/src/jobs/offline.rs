//! Offline detection: marks servers silent for longer than the `server_offline_seconds` setting
//! offline and lets the engine open (and remind about) their offline alerts. Time comes from the
//! hub's injected clock, so tests drive it with a manual clock instead of waiting.
//!
//! The check runs at each machine's own deadline (its last heartbeat plus the timeout, or the
//! grace of a hub back from downtime: [`homelab_core::status::Silence`]), not on a scan period,
//! so an offline alert opens on time rather than up to a period late.

use std::time::Duration;

use homelab_core::time::Timestamp;

use crate::state::AppState;

use super::worker::{Worker, WorkerState};

/// Longest sleep between checks: offline reminders fall due on their own, another hub on the same
/// database may have moved deadlines, and a lowered timeout takes effect within this.
pub const MAX_SLEEP: Duration = Duration::from_secs(30);

pub struct OfflineCheck {
    state: AppState,
}

impl OfflineCheck {
    pub fn new(state: AppState) -> Self {
        OfflineCheck { state }
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
        let now = self.state.clock.now();
        let sleep = match next_check_at(&self.state).await {
            Ok(at) => (at - now).to_std().unwrap_or(Duration::ZERO),
            Err(error) => {
                tracing::warn!(%error, "cannot tell when the next machine falls silent; checking again soon");
                MAX_SLEEP
            }
        };
        tokio::time::sleep(sleep).await;
    }
}

/// When the next check is due: the earliest deadline of a machine now online, and no later than
/// [`MAX_SLEEP`] from now.
pub async fn next_check_at(state: &AppState) -> Result<Timestamp, String> {
    let now = state.clock.now();
    let latest = now + chrono::Duration::from_std(MAX_SLEEP).unwrap_or_default();
    let thresholds = crate::service::status::rules(state).await.map_err(|e| e.to_string())?;
    let (oldest_online, _) = state.store.last_seen_bounds().await.map_err(|e| e.to_string())?;
    let deadline = oldest_online.map(|seen| state.silence(&thresholds).offline_at(seen));
    Ok(deadline.map_or(latest, |deadline| deadline.clamp(now, latest)))
}

pub async fn run_once(state: &AppState) -> Result<(), String> {
    let report = state.store.check_offline(state.clock.now(), state.watching_since).await.map_err(|e| e.to_string())?;
    state.outbox.events_committed(report.events);
    for id in &report.marked_offline {
        state.web.server_changed(id, false);
    }
    if !report.marked_offline.is_empty() {
        tracing::info!(servers = ?report.marked_offline, events = report.events, "servers went offline");
    }
    Ok(())
}
