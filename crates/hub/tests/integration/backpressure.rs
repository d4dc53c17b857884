//! The router's concurrency limit and request timeout (issue 17, item 8), over real HTTP.
//!
//! Requests are held open deterministically: a raw connection sends a heartbeat's head with
//! `Expect: 100-continue` and keeps its body. hyper answers `100 Continue` only when the handler
//! starts reading the body, so once the test has read it, that request holds a slot, for as long
//! as the test keeps the body back.

use crate::common;

use std::time::{Duration, Instant};

use common::{API_KEY, Backend, TestHub, heartbeat_body, start_time};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Guards against a hung test only; every wait below ends on an event.
const GUARD: Duration = Duration::from_secs(20);

/// A heartbeat whose handler is running and waiting for its body.
struct Held {
    stream: TcpStream,
    body: Vec<u8>,
}

impl Held {
    async fn open(hub: &TestHub, server_id: &str) -> Held {
        let body = serde_json::to_vec(&heartbeat_body(server_id, start_time(), 10.0)).unwrap();
        let address = hub.base.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).await.unwrap();
        let head = format!(
            "POST /api/v1/agents/heartbeat HTTP/1.1\r\nHost: {address}\r\nX-API-Key: {API_KEY}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let interim = read_until(&mut stream, b"\r\n\r\n").await;
        assert!(interim.starts_with("HTTP/1.1 100 Continue"), "{interim}");
        Held { stream, body }
    }

    /// Sends the body and reads the answer.
    async fn release(mut self) -> (u16, String, Value) {
        let body = std::mem::take(&mut self.body);
        self.stream.write_all(&body).await.unwrap();
        self.answer().await
    }

    /// Reads the answer without sending the body.
    async fn answer(mut self) -> (u16, String, Value) {
        let head = read_until(&mut self.stream, b"\r\n\r\n").await;
        let status = head[9..12].parse().unwrap();
        let length: usize = head
            .lines()
            .find_map(|line| {
                line.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())
            })
            .expect("a content-length");
        let mut body = vec![0; length];
        tokio::time::timeout(GUARD, self.stream.read_exact(&mut body)).await.unwrap().unwrap();
        (status, head, serde_json::from_slice(&body).unwrap())
    }
}

/// Reads byte by byte up to and including `end` (the stream holds nothing we must not consume).
async fn read_until(stream: &mut TcpStream, end: &[u8]) -> String {
    let mut seen = Vec::new();
    while !seen.ends_with(end) {
        let byte = tokio::time::timeout(GUARD, stream.read_u8()).await.expect("an answer").unwrap();
        seen.push(byte);
    }
    String::from_utf8(seen).unwrap()
}

/// Reads an SSE response until `needle` appears (a heartbeat's `server-{id}` signal is sent
/// whether the machine is new or not).
async fn read_events_until(response: &mut reqwest::Response, needle: &str) -> String {
    let deadline = Instant::now() + GUARD;
    let mut seen = String::new();
    while !seen.contains(needle) {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, response.chunk()).await.expect("the event").unwrap().expect("open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

async fn start(backend: Backend, max_concurrent_requests: usize, request_timeout_seconds: u64) -> Option<TestHub> {
    let (config, dir) = TestHub::config(backend).await?;
    Some(
        TestHub::start_with(
            homelab_hub::config::Config { max_concurrent_requests, request_timeout_seconds, ..config },
            dir,
        )
        .await,
    )
}

async fn open_events(hub: &TestHub, cookie: &str) -> reqwest::Response {
    let events = hub.client.get(hub.url("/ui/events")).header("cookie", cookie).send().await.unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    events
}

async fn health(hub: &TestHub) -> Value {
    let (status, body) = hub.get_without_key("/api/v1/system/health").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Past the limit a request is answered 503 with `Retry-After` at once (not queued), counted in
/// health; a freed slot is taken again; the dashboard's live stream neither needs nor holds a
/// slot.
async fn past_the_limit_requests_are_shed_and_the_live_stream_is_exempt(backend: Backend) {
    let Some(hub) = start(backend, 2, 30).await else { return };
    let pair = hub.login_set_cookie().await;
    let cookie = pair.split(';').next().unwrap().to_owned();

    let first = Held::open(&hub, "held-1").await;
    let second = Held::open(&hub, "held-2").await;
    let response = hub.client.get(hub.url("/api/v1/servers")).header("x-api-key", API_KEY).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["detail"]["code"], "SERVICE_UNAVAILABLE", "{body}");
    assert!(body["detail"]["message"].as_str().unwrap().contains("limit of 2 requests at once"), "{body}");
    // A dashboard page is shed the same way; its live stream is not.
    let page = hub.client.get(hub.url("/")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    let mut events = open_events(&hub, &cookie).await;

    let (status, _, reply) = first.release().await;
    assert_eq!(status, 200, "{reply}");
    // One slot is free again, although the live stream is still open: it holds none.
    let (status, reply) = hub.heartbeat(heartbeat_body("web01", hub.now(), 42.0)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    read_events_until(&mut events, "event: server-web01").await;
    let counted = health(&hub).await;
    assert_eq!((counted["requests_shed"].as_u64(), counted["requests_timed_out"].as_u64()), (Some(2), Some(0)));

    let (status, _, reply) = second.release().await;
    assert_eq!(status, 200, "{reply}");
    let (status, servers) = hub.get("/api/v1/servers").await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = servers["servers"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    drop(events);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_limit_requests_are_shed_and_the_live_stream_is_exempt_sqlite() {
    past_the_limit_requests_are_shed_and_the_live_stream_is_exempt(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_limit_requests_are_shed_and_the_live_stream_is_exempt_postgres() {
    past_the_limit_requests_are_shed_and_the_live_stream_is_exempt(Backend::Postgres).await;
}

/// A request still running at the timeout is abandoned with a 503 that says so, counted in
/// health; a live stream opened before it outlives the timeout and still delivers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_the_timeout_is_abandoned_and_the_live_stream_is_not() {
    let hub = start(Backend::Sqlite, 512, 1).await.unwrap();
    let pair = hub.login_set_cookie().await;
    let cookie = pair.split(';').next().unwrap().to_owned();
    let mut events = open_events(&hub, &cookie).await;

    let stalled = Held::open(&hub, "trickle").await;
    let (status, head, reply) = stalled.answer().await;
    assert_eq!(status, 503, "{reply}");
    assert!(head.to_ascii_lowercase().contains("retry-after: 5"), "{head}");
    assert_eq!(reply["detail"]["code"], "SERVICE_UNAVAILABLE", "{reply}");
    assert_eq!(
        reply["detail"]["message"], "the request took longer than 1 s and was abandoned; retry later",
        "{reply}"
    );
    assert_eq!(health(&hub).await["requests_timed_out"], 1);

    // The stream was open before the stalled request began, so it has outlived the timeout.
    let (status, _) = hub.heartbeat(heartbeat_body("web01", hub.now(), 37.0)).await;
    assert_eq!(status, StatusCode::OK);
    read_events_until(&mut events, "event: server-web01").await;
    assert_eq!(hub.get("/api/v1/servers/trickle").await.0, StatusCode::NOT_FOUND);
    drop(events);
    hub.stop().await;
}
