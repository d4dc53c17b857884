//! Tiered retention: roll raw samples up into 5-minute and hourly tiers, then prune each tier.
//! The store does both in one transaction, rollup first, so no data is pruned unaggregated.

use crate::state::AppState;

pub async fn run_once(state: &AppState) -> Result<(), String> {
    let report =
        state.store.run_retention(&state.config.retention, state.clock.now()).await.map_err(|e| e.to_string())?;
    tracing::debug!(?report, "retention run finished");
    Ok(())
}
