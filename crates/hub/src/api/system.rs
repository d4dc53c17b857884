//! `GET /api/v1/system/health`: the only endpoint without authentication.

use axum::Json;
use axum::extract::State;
use chrono::SecondsFormat;
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `healthy` when the database answers, `degraded` otherwise.
    pub status: &'static str,
    pub version: &'static str,
    pub uptime_seconds: u64,
    /// `connected` or `disconnected`.
    pub database: &'static str,
    /// Which store backs the hub: `sqlite` or `postgres`.
    pub database_backend: &'static str,
    pub timestamp: String,
}

/// Liveness and database connectivity; always 200 so that monitors can read the body.
#[utoipa::path(get, path = "/api/v1/system/health", tag = "system", responses((status = 200, body = Health)))]
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    let connected = state.store.ping().await.is_ok();
    Json(Health {
        status: if connected { "healthy" } else { "degraded" },
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.started.elapsed().as_secs(),
        database: if connected { "connected" } else { "disconnected" },
        database_backend: state.store.backend_name(),
        timestamp: state.clock.now().to_rfc3339_opts(SecondsFormat::Secs, true),
    })
}
