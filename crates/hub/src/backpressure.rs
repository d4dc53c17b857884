//! Router-level backpressure (issue 17, item 8). The store's bounds (the write queue, the pool
//! wait) only cover writes; requests themselves were accepted without limit, so a reconnect
//! storm of thousands of agents replaying their spools grew memory (one body of up to 1 MB each)
//! and latency without bound. Here at most `max_concurrent_requests` are handled at once and
//! none for longer than `request_timeout_seconds`:
//!
//! - past the limit a request is answered at once with 503 and `Retry-After` rather than queued
//!   (agents keep the heartbeat in their spool and come back);
//! - a request still running at the timeout (a stalled database, a client trickling its body) is
//!   dropped and answered 503 the same way. A heartbeat dropped after its commit is harmless:
//!   its replay overwrites the same row.
//!
//! Both are counted ([`Shedding`], shown by the health check) and logged, the first of every
//! thousand, so an overload is never silent and never floods the log.
//!
//! The dashboard's live-update stream is not behind these layers (`web::live_router`): it stays
//! open for as long as a tab does, and open tabs must neither hold slots nor be cut off.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower::timeout::TimeoutLayer;
use tower::{BoxError, ServiceBuilder};

use crate::error::ApiError;
use crate::state::AppState;

/// The bounds, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    pub max_concurrent: usize,
    pub timeout: Duration,
}

/// Requests refused by the limits since the hub started.
#[derive(Debug, Default)]
pub struct Shedding {
    shed: AtomicU64,
    timed_out: AtomicU64,
}

impl Shedding {
    /// Requests answered 503 because the hub was already handling its limit.
    pub fn shed(&self) -> u64 {
        self.shed.load(Ordering::Relaxed)
    }

    /// Requests answered 503 because they ran past the timeout.
    pub fn timed_out(&self) -> u64 {
        self.timed_out.load(Ordering::Relaxed)
    }

    fn answer(&self, limits: RequestLimits, method: &Method, uri: &Uri, error: &BoxError) -> Response {
        let path = uri.path();
        let message = if error.is::<tower::load_shed::error::Overloaded>() {
            let count = self.shed.fetch_add(1, Ordering::Relaxed) + 1;
            if count % 1000 == 1 {
                tracing::warn!(%method, path, shed_so_far = count, limit = limits.max_concurrent,
                    "request refused with 503: the hub is handling its limit of requests at once");
            }
            format!("the hub is handling its limit of {} requests at once; retry later", limits.max_concurrent)
        } else if error.is::<tower::timeout::error::Elapsed>() {
            let count = self.timed_out.fetch_add(1, Ordering::Relaxed) + 1;
            if count % 1000 == 1 {
                tracing::warn!(%method, path, timed_out_so_far = count, timeout_seconds = limits.timeout.as_secs_f64(),
                    "request abandoned with 503: it ran past the request timeout");
            }
            format!("the request took longer than {} s and was abandoned; retry later", limits.timeout.as_secs_f64())
        } else {
            return ApiError::Internal(format!("{method} {path}: {error}")).into_response();
        };
        ApiError::ServiceUnavailable(message).into_response()
    }
}

/// `router` with every route behind the limits (routes merged in later are not).
pub fn limit(router: Router<AppState>, limits: RequestLimits, shedding: Arc<Shedding>) -> Router<AppState> {
    let answer = move |method: Method, uri: Uri, error: BoxError| {
        let shedding = Arc::clone(&shedding);
        async move { shedding.answer(limits, &method, &uri, &error) }
    };
    router.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(answer))
            .layer(LoadShedLayer::new())
            // Global: axum applies a layer to each route on its own, and the limit is for all.
            .layer(GlobalConcurrencyLimitLayer::new(limits.max_concurrent))
            .layer(TimeoutLayer::new(limits.timeout)),
    )
}
