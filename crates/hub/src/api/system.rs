//! `GET /api/v1/system/health`: the only endpoint without authentication.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::SecondsFormat;
use homelab_store::SettingsWatch;
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `healthy` when the database answers and takes writes, `degraded` otherwise (503).
    pub status: &'static str,
    pub version: &'static str,
    pub uptime_seconds: u64,
    /// `connected`, or `disconnected` when it does not answer or cannot take writes (SQLite's
    /// writer has stopped).
    pub database: &'static str,
    /// Which store backs the hub: `sqlite` or `postgres`.
    pub database_backend: &'static str,
    pub timestamp: String,
    /// Writes refused with 503 since the hub started because the database was saturated (not
    /// in v1).
    pub writes_shed: u64,
    /// Requests answered 503 at once since the hub started because it was handling its limit
    /// of requests (`max_concurrent_requests`; not in v1).
    pub requests_shed: u64,
    /// Requests abandoned and answered 503 since the hub started because they ran past
    /// `request_timeout_seconds` (not in v1).
    pub requests_timed_out: u64,
    /// How the alert rules cached for heartbeats are kept true (not in v1): `sole-writer`
    /// (SQLite: the hub's own changes clear them), `listening` (PostgreSQL: other hubs' changes
    /// are heard), or `not-listening` (PostgreSQL: that connection is down, and the rules are read
    /// per heartbeat until it is back).
    pub settings_cache: &'static str,
}

/// Liveness and database connectivity. 503 (with the same body) when the hub cannot store
/// anything, unlike v1's constant 200: a load balancer or an agent asking whether the hub is
/// really up must not be told yes while every heartbeat fails.
#[utoipa::path(get, path = "/api/v1/system/health", tag = "system",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let probe = state.store.ping().await;
    if let Err(error) = &probe {
        tracing::warn!(%error, "health check: the database cannot take writes");
    }
    let connected = probe.is_ok();
    let status = if connected { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (
        status,
        Json(Health {
            status: if connected { "healthy" } else { "degraded" },
            version: env!("CARGO_PKG_VERSION"),
            uptime_seconds: state.started.elapsed().as_secs(),
            database: if connected { "connected" } else { "disconnected" },
            database_backend: state.store.backend_name(),
            timestamp: state.clock.now().to_rfc3339_opts(SecondsFormat::Secs, true),
            writes_shed: homelab_store::writes_shed(),
            requests_shed: state.shedding.shed(),
            requests_timed_out: state.shedding.timed_out(),
            settings_cache: match state.store.settings_watch() {
                SettingsWatch::SoleWriter => "sole-writer",
                SettingsWatch::Announced(changes) if changes.borrow().is_some() => "listening",
                SettingsWatch::Announced(_) => "not-listening",
            },
        }),
    )
}
