//! `GET /api/v1/fleet/summary`, the fleet summary v1 lacked (its dashboard counted alerts on the
//! client); computed by [`crate::service::fleet`].

use axum::Json;
use axum::extract::State;

use crate::auth::AdminAuth;
use crate::error::{ApiResult, ErrorBody};
use crate::service::fleet::{self, FleetSummaryResponse};
use crate::state::AppState;

/// Servers by status (as the dashboard shows them) and open alerts by severity.
#[utoipa::path(get, path = "/api/v1/fleet/summary", tag = "fleet", security(("api_key" = [])),
    responses((status = 200, body = FleetSummaryResponse), (status = 401, body = ErrorBody)))]
pub async fn fleet_summary(_: AdminAuth, State(state): State<AppState>) -> ApiResult<Json<FleetSummaryResponse>> {
    Ok(Json(fleet::summary(&state).await?))
}
