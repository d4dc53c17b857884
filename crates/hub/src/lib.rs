//! The Homelab Command hub: REST API, background jobs and the built-in local agent, wired over
//! one [`Store`](homelab_store::Store).

pub mod api;
pub mod auth;
pub mod clock;
pub mod config;
pub mod error;
pub mod extract;
pub mod jobs;
pub mod notify;
pub mod state;
pub mod status;
pub mod tokens;
pub mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use homelab_store::{OpenOptions, Store, StoreError};
use tokio::net::TcpListener;
use tokio::sync::watch;
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
    api::with_docs(api, openapi)
        .merge(web::router())
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(error::ApiError::Internal("a handler panicked".into()))
        }))
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
    let state = AppState {
        store: Arc::clone(&store),
        config: Arc::new(config),
        clock,
        started: Instant::now(),
        web: web::WebState::new(),
    };
    if let Err(error) = api::notifications::apply_configured_channels(&state).await {
        tracing::error!(%error, "cannot store the notification channels of the configuration file");
    }
    let (stop_jobs, jobs_stopped) = watch::channel(false);
    let mut jobs = Vec::new();
    let retention_state = state.clone();
    jobs.push(jobs::spawn_periodic(
        "retention",
        // Soon after start (the hub may have been down for a while), but not in its first breath.
        Duration::from_secs(state.config.retention_interval_seconds.min(30)),
        Duration::from_secs(state.config.retention_interval_seconds),
        jobs_stopped.clone(),
        move || {
            let state = retention_state.clone();
            async move { jobs::retention::run_once(&state).await }
        },
    ));
    let dispatch = jobs::dispatcher::DispatchSettings {
        group_window: chrono::Duration::seconds(state.config.notification_group_window_seconds),
        retry_horizon: chrono::Duration::hours(state.config.notification_retry_horizon_hours),
        ..Default::default()
    };
    match jobs::dispatcher::spawn(state.clone(), dispatch, jobs_stopped.clone()) {
        Ok(job) => jobs.push(job),
        Err(error) => tracing::error!(%error, "notifications are disabled: the dispatcher cannot start"),
    }
    let offline_state = state.clone();
    jobs.push(jobs::spawn_periodic(
        "offline",
        jobs::offline::INTERVAL,
        jobs::offline::INTERVAL,
        jobs_stopped.clone(),
        move || {
            let state = offline_state.clone();
            async move { jobs::offline::run_once(&state).await }
        },
    ));
    if state.config.local_agent.enabled {
        jobs.push(jobs::local_agent::spawn(state.clone(), jobs_stopped.clone()));
    }

    let web = state.web.clone();
    let shutdown = async move {
        shutdown.await;
        web.close();
    };
    let app = app(state).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app).with_graceful_shutdown(shutdown).await.map_err(HubError::Serve);
    let _ = stop_jobs.send(true);
    for job in jobs {
        let _ = job.await;
    }
    store.close().await;
    tracing::info!("hub stopped; all acknowledged writes are committed");
    result
}

/// Binds the configured address.
pub async fn bind(config: &Config) -> Result<TcpListener, HubError> {
    let address = config.listen_address();
    TcpListener::bind(address).await.map_err(|source| HubError::Listen { address, source })
}
