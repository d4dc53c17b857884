//! The fleet summary v1 lacked (its dashboard counted alerts on the client): servers by status
//! (the same `homelab_core::status` the dashboard's cards show) and open alerts by severity.

use homelab_core::status::StatusCounts;
use homelab_store::FleetSummary;
use serde::Serialize;
use utoipa::ToSchema;

use super::{ServiceResult, status};
use crate::state::AppState;

/// Open (not acknowledged) alerts by severity.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeverityCounts {
    pub critical: i64,
    pub high: i64,
    pub medium: i64,
    pub low: i64,
    pub total: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FleetSummaryResponse {
    pub servers: StatusCounts,
    pub open_alerts: SeverityCounts,
    /// Acknowledged alerts not resolved yet.
    pub acknowledged_alerts: i64,
}

impl FleetSummaryResponse {
    fn new(servers: StatusCounts, s: FleetSummary) -> Self {
        FleetSummaryResponse {
            servers,
            open_alerts: SeverityCounts {
                critical: s.open_critical,
                high: s.open_high,
                medium: s.open_medium,
                low: s.open_low,
                total: s.open_critical + s.open_high + s.open_medium + s.open_low,
            },
            acknowledged_alerts: s.acknowledged,
        }
    }
}

/// Servers by status (as the dashboard shows them) and open alerts by severity.
pub async fn summary(state: &AppState) -> ServiceResult<FleetSummaryResponse> {
    Ok(FleetSummaryResponse::new(status::counts(state).await?, state.store.fleet_summary().await?))
}
