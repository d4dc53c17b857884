//! Open dashboards: N browser tabs' live-update streams (`GET /ui/events`, Server-Sent Events)
//! held open during an ingest run, so that the hub's CPU can be measured against the number of
//! subscribers. Each stream is read to the end and discarded; only its bytes and events are
//! counted, so that a run whose streams stayed silent is caught instead of quoted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

/// Logs in once as the dashboard does (`POST /login`, form field `api_key`) and returns the
/// `Cookie` header value carrying the session: every `name=value` pair the hub set, so this
/// does not depend on the cookie's name (`hlc_session` today, in the hub's `web/session.rs`).
pub async fn login(hub: &str, api_key: &str) -> anyhow::Result<String> {
    // Without redirects: the 303 is the answer that carries the cookie.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?;
    let body = format!("api_key={}", form_encode(api_key));
    let response = client
        .post(format!("{hub}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .context("logging in to the dashboard")?;
    let status = response.status();
    let cookies: Vec<String> = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .map(|pair| pair.trim().to_owned())
        .filter(|pair| pair.contains('='))
        .collect();
    if !status.is_redirection() || cookies.is_empty() {
        let location = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        bail!("POST /login answered {status} (location {location:?}) without a session cookie: wrong --api-key?");
    }
    Ok(cookies.join("; "))
}

/// `application/x-www-form-urlencoded` for the key (keys are usually plain, but may not be).
fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What one stream has received so far.
#[derive(Default)]
struct Received {
    bytes: AtomicU64,
    events: AtomicU64,
}

/// Bytes and named events received by every open stream at one instant.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    per_stream: Vec<(u64, u64)>,
}

impl Snapshot {
    /// Per stream: (bytes, events) received between `earlier` and `self`.
    pub fn since(&self, earlier: &Snapshot) -> Vec<(u64, u64)> {
        self.per_stream
            .iter()
            .zip(earlier.per_stream.iter().chain(std::iter::repeat(&(0, 0))))
            .map(|(&(bytes, events), &(b0, e0))| (bytes.saturating_sub(b0), events.saturating_sub(e0)))
            .collect()
    }
}

/// N open `GET /ui/events` streams; closed (connections dropped) by [`Dashboards::close`] or
/// when dropped.
pub struct Dashboards {
    received: Vec<Arc<Received>>,
    readers: Vec<tokio::task::JoinHandle<Option<String>>>,
}

impl Dashboards {
    /// Opens `count` streams with the session `cookie`; returns once the hub has answered every
    /// one with 200, so the hub has subscribed them all before the caller starts its clock.
    pub async fn open(hub: &str, cookie: &str, count: usize) -> anyhow::Result<Dashboards> {
        // No overall timeout: a stream lives as long as the run. One connection per stream, as
        // each tab has its own.
        let client =
            reqwest::Client::builder().connect_timeout(Duration::from_secs(10)).pool_max_idle_per_host(0).build()?;
        let url = format!("{hub}/ui/events");
        let mut pending = Vec::with_capacity(count);
        for _ in 0..count {
            let request = client.get(&url).header(COOKIE, cookie).header("accept", "text/event-stream");
            pending.push(tokio::spawn(async move { request.send().await }));
        }
        let mut dashboards = Dashboards { received: Vec::with_capacity(count), readers: Vec::with_capacity(count) };
        for (index, task) in pending.into_iter().enumerate() {
            let response = task.await?.with_context(|| format!("opening live-update stream {index}"))?;
            let status = response.status();
            let content_type =
                response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            if !status.is_success() || !content_type.starts_with("text/event-stream") {
                bail!("GET /ui/events answered {status} ({content_type}) for stream {index}: not logged in?");
            }
            let received = Arc::new(Received::default());
            dashboards.received.push(Arc::clone(&received));
            dashboards.readers.push(tokio::spawn(read(response, received)));
        }
        Ok(dashboards)
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            per_stream: self
                .received
                .iter()
                .map(|r| (r.bytes.load(Ordering::Relaxed), r.events.load(Ordering::Relaxed)))
                .collect(),
        }
    }

    /// Streams that have already ended, with why (the hub should keep them open for the run).
    pub fn ended(&self) -> Vec<usize> {
        self.readers.iter().enumerate().filter(|(_, reader)| reader.is_finished()).map(|(i, _)| i).collect()
    }

    /// Drops every connection, as closing the tabs would.
    pub async fn close(self) -> Vec<String> {
        let mut errors = Vec::new();
        for reader in self.readers {
            if reader.is_finished() {
                match reader.await {
                    Ok(Some(error)) => errors.push(error),
                    Ok(None) => errors.push("the hub ended the stream".to_owned()),
                    Err(error) => errors.push(error.to_string()),
                }
            } else {
                reader.abort();
                let _ = reader.await;
            }
        }
        errors
    }
}

/// Reads one stream to its end, counting bytes and `event:` lines (each named event the hub
/// sends; keep-alive comments are not events). Returns the error that ended it, if any.
async fn read(mut response: reqwest::Response, received: Arc<Received>) -> Option<String> {
    let mut lines = EventCounter::default();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                received.bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                let events = lines.feed(&chunk);
                received.events.fetch_add(events, Ordering::Relaxed);
            }
            Ok(None) => return None,
            Err(error) => return Some(error.to_string()),
        }
    }
}

/// Counts SSE `event:` lines across chunk boundaries.
#[derive(Default)]
struct EventCounter {
    /// The start of a line that the previous chunk cut (only its first bytes matter).
    partial: Vec<u8>,
    /// Whether the current line began in an earlier chunk and was already judged.
    judged: bool,
}

const EVENT_FIELD: &[u8] = b"event:";

impl EventCounter {
    fn feed(&mut self, chunk: &[u8]) -> u64 {
        let mut events = 0;
        let mut rest = chunk;
        while !rest.is_empty() {
            let end = rest.iter().position(|&b| b == b'\n');
            let (line, after) = match end {
                Some(end) => (&rest[..end], &rest[end + 1..]),
                None => (rest, &rest[rest.len()..]),
            };
            if !self.judged {
                let wanted = EVENT_FIELD.len().saturating_sub(self.partial.len()).min(line.len());
                self.partial.extend_from_slice(&line[..wanted]);
                if self.partial.len() >= EVENT_FIELD.len() || end.is_some() {
                    if self.partial.starts_with(EVENT_FIELD) {
                        events += 1;
                    }
                    self.judged = true;
                }
            }
            if end.is_some() {
                self.partial.clear();
                self.judged = false;
            }
            rest = after;
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_counted_across_chunk_boundaries() {
        let stream = b"event: card-a\ndata: <div>event: not one</div>\n\n:\n\nevent: summary\ndata: x\n\nevent:fleet\ndata: reload\n\n";
        for split in 0..stream.len() {
            let mut counter = EventCounter::default();
            let events = counter.feed(&stream[..split]) + counter.feed(&stream[split..]);
            assert_eq!(events, 3, "split at {split}");
        }
        let mut counter = EventCounter::default();
        assert_eq!(stream.iter().map(|b| counter.feed(std::slice::from_ref(b))).sum::<u64>(), 3);
    }

    #[test]
    fn the_key_is_form_encoded() {
        assert_eq!(form_encode("bench-key"), "bench-key");
        assert_eq!(form_encode("a b&c=d"), "a+b%26c%3Dd");
    }

    #[test]
    fn a_snapshot_difference_is_per_stream() {
        let before = Snapshot { per_stream: vec![(10, 1), (0, 0)] };
        let after = Snapshot { per_stream: vec![(25, 4), (7, 2)] };
        assert_eq!(after.since(&before), vec![(15, 3), (7, 2)]);
    }
}
