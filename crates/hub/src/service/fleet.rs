//! The fleet summary v1 lacked (its dashboard counted alerts on the client): servers by status
//! (the same `homelab_core::status` the dashboard's cards show) and open alerts by severity.

use homelab_core::status::StatusCounts;
use homelab_store::FleetSummary;
use serde::Serialize;
use utoipa::ToSchema;

use super::{ServiceResult, status};
use crate::state::AppState;

/// Server counts by status.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerCounts {
    pub total: i64,
    pub online: i64,
    /// Offline servers; offline workstations are `asleep`.
    pub offline: i64,
    /// Workstations that are off (expected, never alerted on).
    pub asleep: i64,
    /// Never heard from.
    pub unknown: i64,
    /// In maintenance mode, whatever their status.
    pub paused: i64,
}

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
    pub servers: ServerCounts,
    pub open_alerts: SeverityCounts,
    /// Acknowledged alerts not resolved yet.
    pub acknowledged_alerts: i64,
}

impl FleetSummaryResponse {
    fn new(c: StatusCounts, s: FleetSummary) -> Self {
        FleetSummaryResponse {
            servers: ServerCounts {
                total: c.total,
                online: c.online,
                offline: c.offline,
                asleep: c.asleep,
                unknown: c.unknown,
                paused: c.paused,
            },
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
