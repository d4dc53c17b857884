//! The fleet summary v1 lacked (its dashboard counted alerts on the client): servers by status
//! and open alerts by severity, counted by the database.

use homelab_store::FleetSummary;
use serde::Serialize;
use utoipa::ToSchema;

use super::ServiceResult;
use crate::state::AppState;

/// Server counts by status.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServerCounts {
    pub total: i64,
    pub online: i64,
    pub offline: i64,
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

impl From<FleetSummary> for FleetSummaryResponse {
    fn from(s: FleetSummary) -> Self {
        FleetSummaryResponse {
            servers: ServerCounts {
                total: s.servers_total,
                online: s.online,
                offline: s.offline,
                unknown: s.unknown,
                paused: s.paused,
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

/// Servers by status and open alerts by severity, counted by the database.
pub async fn summary(state: &AppState) -> ServiceResult<FleetSummaryResponse> {
    Ok(state.store.fleet_summary().await?.into())
}
