//! Accepting connections so that clients that send nothing cannot lock the hub out.
//!
//! `axum::serve` keeps every accepted connection for as long as the client likes: 1 000 silent
//! connections at the common 1 024 open-file limit left no descriptor for the health check or
//! a heartbeat. Here each connection must send its request head within
//! [`Limits::header_read`], an idle keep-alive connection is closed after [`Limits::idle`], and
//! at most [`Limits::max_connections`] are open: past it, the connection idle for longest
//! (no request in progress) is closed to make room, so a flood of silent connections pushes out
//! itself, never the requests being answered.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

/// Descriptors kept free for the database, log files and outgoing notifications.
const RESERVED_FILES: u64 = 128;

/// Bounds on connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time a client has to send a request's head.
    pub header_read: Duration,
    /// Time a keep-alive connection may sit between requests.
    pub idle: Duration,
    pub max_connections: usize,
}

impl Limits {
    /// Bounds that fit the process's open-file limit.
    pub fn for_this_process() -> Limits {
        let files = open_file_limit().unwrap_or(1024);
        let max_connections = usize::try_from(files.saturating_sub(RESERVED_FILES).max(64)).unwrap_or(usize::MAX);
        Limits { header_read: Duration::from_secs(10), idle: Duration::from_secs(60), max_connections }
    }
}

/// The soft open-file limit (`RLIMIT_NOFILE`).
pub fn open_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we own.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0).then_some(limit.rlim_cur)
}

/// Raises the soft open-file limit to the hard one, as far as the system allows: the soft limit
/// of 1 024 that many service managers start with is a few hundred agents' worth of connections.
/// Returns the limit in force afterwards.
pub fn raise_open_file_limit() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
        // SAFETY: setrlimit only reads the struct.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return Some(raised.rlim_cur);
        }
    }
    Some(limit.rlim_cur)
}

/// One open connection, as the registry sees it.
struct Connection {
    /// Requests in progress; a connection with none may be closed to make room.
    busy: Arc<AtomicUsize>,
    /// When it last started or finished a request (or was accepted).
    last_active: Arc<Mutex<Instant>>,
    close: Arc<Notify>,
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    open: HashMap<u64, Connection>,
}

impl Registry {
    /// Asks the connection idle for longest to close; `false` when every one is answering.
    fn evict_idlest(&mut self) -> bool {
        let idlest = self
            .open
            .iter()
            .filter(|(_, c)| c.busy.load(Ordering::SeqCst) == 0)
            .min_by_key(|(_, c)| c.last_active.lock().map(|t| *t).unwrap_or_else(|_| Instant::now()))
            .map(|(id, _)| *id);
        match idlest.and_then(|id| self.open.remove(&id)) {
            Some(connection) => {
                connection.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets requests in progress finish
/// (SSE streams end when the dashboard's broadcast closes) and returns.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, shutdown: impl Future<Output = ()> + Send) {
    let registry = Arc::new(Mutex::new(Registry::default()));
    let (stopping, stop_seen) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut accept_failing = false;
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors (or another passing failure): free one and go on.
                    if !accept_failing {
                        tracing::warn!(%error, "cannot accept a connection; closing the longest-idle one");
                        accept_failing = true;
                    }
                    if let Ok(mut registry) = registry.lock() {
                        registry.evict_idlest();
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        accept_failing = false;
        let Some((id, connection)) = admit(&registry, limits) else {
            // Every open connection is answering a request: this one is dropped (closed) at once.
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(run_connection(stream, peer, app.clone(), limits, connection, stop_seen.clone(), {
            let registry = Arc::clone(&registry);
            move || {
                if let Ok(mut registry) = registry.lock() {
                    registry.open.remove(&id);
                }
            }
        }));
    }
    let _ = stopping.send(true);
    // Wait for the connections to finish their requests and close.
    while registry.lock().map(|r| !r.open.is_empty()).unwrap_or(false) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Registers a new connection, closing the idlest one first when at the cap.
fn admit(registry: &Mutex<Registry>, limits: Limits) -> Option<(u64, Connection)> {
    let mut registry = registry.lock().ok()?;
    if registry.open.len() >= limits.max_connections && !registry.evict_idlest() {
        return None;
    }
    let connection = Connection {
        busy: Arc::default(),
        last_active: Arc::new(Mutex::new(Instant::now())),
        close: Arc::new(Notify::new()),
    };
    let id = registry.next_id;
    registry.next_id += 1;
    let shared = Connection {
        busy: Arc::clone(&connection.busy),
        last_active: Arc::clone(&connection.last_active),
        close: Arc::clone(&connection.close),
    };
    registry.open.insert(id, connection);
    Some((id, shared))
}

async fn run_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    connection: Connection,
    mut stopping: watch::Receiver<bool>,
    forget: impl FnOnce(),
) {
    let (busy, last_active) = (Arc::clone(&connection.busy), Arc::clone(&connection.last_active));
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let guard = Activity::start(Arc::clone(&busy), Arc::clone(&last_active));
        let app = app.clone();
        async move {
            let response = app.oneshot(request.map(axum::body::Body::new)).await;
            // The response body (an SSE stream) may still be streaming: the guard travels with it.
            response.map(|response| response.map(|body| axum::body::Body::new(GuardedBody { body, _guard: guard })))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read).keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let idle_check = Duration::from_secs(1).min(limits.idle);
    loop {
        tokio::select! {
            _ = conn.as_mut() => break,
            () = connection.close.notified() => break,
            changed = stopping.changed() => {
                if changed.is_err() || *stopping.borrow() {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.as_mut().await;
                    break;
                }
            }
            () = tokio::time::sleep(idle_check) => {
                let idle_since = connection.last_active.lock().map(|t| *t).unwrap_or_else(|_| Instant::now());
                if connection.busy.load(Ordering::SeqCst) == 0 && idle_since.elapsed() >= limits.idle {
                    break;
                }
            }
        }
    }
    forget();
}

/// Marks a request in progress on its connection from its start until its response body ends.
struct Activity {
    busy: Arc<AtomicUsize>,
    last_active: Arc<Mutex<Instant>>,
}

impl Activity {
    fn start(busy: Arc<AtomicUsize>, last_active: Arc<Mutex<Instant>>) -> Activity {
        busy.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut at) = last_active.lock() {
            *at = Instant::now();
        }
        Activity { busy, last_active }
    }
}

impl Drop for Activity {
    fn drop(&mut self) {
        if let Ok(mut at) = self.last_active.lock() {
            *at = Instant::now();
        }
        self.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its request's [`Activity`] alive until it is dropped.
struct GuardedBody {
    body: axum::body::Body,
    _guard: Activity,
}

impl http_body::Body for GuardedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
