//! A real HTTP listener standing in for Slack, Discord, ntfy or a webhook receiver: it records
//! every request and answers with scripted statuses (then 200).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::Notify;

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }
}

/// One scripted answer: a status and an optional `Retry-After` (seconds).
#[derive(Debug, Clone, Copy)]
pub struct Answer(pub u16, pub Option<u64>);

#[derive(Default)]
struct Inner {
    received: Mutex<Vec<Received>>,
    /// Requests answered with a failure, in order.
    failed: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Answer>>,
    /// While set, every request is answered 503 (a receiver that is down).
    down: std::sync::atomic::AtomicBool,
    arrived: Notify,
}

#[derive(Clone)]
pub struct FakeReceiver {
    pub url: String,
    inner: Arc<Inner>,
}

async fn record(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let answer = if inner.down.load(std::sync::atomic::Ordering::SeqCst) {
        Answer(503, None)
    } else {
        inner.script.lock().unwrap().pop_front().unwrap_or(Answer(200, None))
    };
    let request = Received { headers, body };
    if answer.0 < 300 {
        inner.received.lock().unwrap().push(request);
    } else {
        inner.failed.lock().unwrap().push(request);
    }
    inner.arrived.notify_waiters();
    let status = StatusCode::from_u16(answer.0).unwrap();
    match answer.1 {
        Some(seconds) => (status, [("retry-after", seconds.to_string())], "slow down").into_response(),
        None if answer.0 >= 300 => (status, format!("receiver says {}", answer.0)).into_response(),
        None => (status, "ok").into_response(),
    }
}

impl FakeReceiver {
    pub async fn start(script: &[Answer]) -> FakeReceiver {
        let inner = Arc::new(Inner::default());
        inner.script.lock().unwrap().extend(script.iter().copied());
        let app = Router::new().fallback(record).with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeReceiver { url, inner }
    }

    pub fn set_down(&self, down: bool) {
        self.inner.down.store(down, std::sync::atomic::Ordering::SeqCst);
    }

    /// Successfully received requests, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    pub fn failed(&self) -> Vec<Received> {
        self.inner.failed.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until at least `count` requests were accepted.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let notified = self.inner.arrived.notified();
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("expected {count} deliveries, got {}", self.received().len());
            }
        }
    }
}
