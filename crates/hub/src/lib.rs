//! The Homelab Command hub: REST API, background jobs and the built-in local agent, wired over
//! one [`Store`](homelab_store::Store).

pub mod api;
pub mod auth;
pub mod backpressure;
pub mod clock;
pub mod config;
pub mod error;
pub mod extract;
pub mod jobs;
pub mod listen;
pub mod notify;
pub mod service;
pub mod state;
pub mod strict_json;
pub mod throttle;
pub mod tokens;
pub mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use homelab_core::status::Silence;
use homelab_store::{OpenOptions, Store, StoreError};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::clock::Clock;
use crate::config::Config;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot listen on {address}: {source}")]
    Listen { address: SocketAddr, source: std::io::Error },
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// The complete HTTP application for `state`.
pub fn app(state: AppState) -> Router {
    let (api, openapi) = api::router();
    let cors = api::cors(&state.config.cors_allowed_origins);
    let limited = backpressure::limit(
        api::with_docs(api, openapi).merge(web::router()),
        state.config.request_limits(),
        Arc::clone(&state.shedding),
    );
    // The live-update stream is merged after the limits: it is open as long as a tab is.
    limited
        .merge(web::live_router())
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(error::ApiError::Internal("a handler panicked".into()))
        }))
        // Around everything: a route's own 405 must not answer a preflight first.
        .layer(cors)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Opens the store named by the configuration (applying migrations).
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, HubError> {
    Ok(homelab_store::open(&config.database_url, &OpenOptions::default()).await?)
}

/// Serves the hub on `listener` until `shutdown` completes, then finishes in-flight requests,
/// stops the background jobs and lets the store commit what is queued.
pub async fn serve(
    config: Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HubError> {
    serve_with(config, store, clock, listener, shutdown, jobs::JobMode::Running).await
}

/// [`serve`] with the background jobs driven as `jobs` says (tests step them).
pub async fn serve_with(
    config: Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    jobs: jobs::JobMode,
) -> Result<(), HubError> {
    let newest_heartbeat = store.last_seen_bounds().await.map(|(_, newest)| newest).unwrap_or_else(|error| {
        tracing::warn!(%error, "cannot tell how long the hub was down; no grace before offline alerts");
        None
    });
    let watching_since = Silence::watching_since(newest_heartbeat, clock.now());
    if let Some(since) = watching_since {
        tracing::info!(%since, "the hub was down: machines get one heartbeat interval plus the offline timeout to report");
    }
    let state = AppState {
        store: Arc::clone(&store),
        config: Arc::new(config),
        clock,
        started: Instant::now(),
        web: web::WebState::new(),
        outbox: jobs::outbox::OutboxSignal::default(),
        watching_since,
        auth_throttle: Arc::default(),
        shedding: Arc::default(),
    };
    if let Err(error) = service::notifications::apply_configured_channels(&state).await {
        tracing::error!(%error, "cannot store the notification channels of the configuration file");
    }
    let workers = jobs::start(&state, jobs).await;

    let web = state.web.clone();
    let shutdown = async move {
        shutdown.await;
        web.close();
    };
    let limits = listen::Limits::for_this_process();
    tracing::info!(max_connections = limits.max_connections, "serving");
    listen::serve(listener, app(state), limits, shutdown).await;
    let result = Ok(());
    workers.stop(jobs::worker::EXIT_DEADLINE).await;
    store.close().await;
    tracing::info!("hub stopped; all acknowledged writes are committed");
    result
}

/// Binds the configured address.
pub async fn bind(config: &Config) -> Result<TcpListener, HubError> {
    let address = config.listen_address();
    TcpListener::bind(address).await.map_err(|source| HubError::Listen { address, source })
}
