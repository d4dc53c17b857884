//! Live updates: `GET /ui/events` is a Server-Sent Events stream. Services and jobs publish
//! [`WebEvent`]s on a broadcast channel after their commit; one task ([`render_loop`]) gathers
//! them into batches, renders each batch once and broadcasts the finished events to every open
//! dashboard, which sends them as named events that htmx's SSE extension swaps in
//! (`sse-swap="card-{id}"`), so cards update within a second without a reload.
//!
//! Events of one batch: `card-{id}` (a card), `summary` (the summary bar), `banner` (open
//! alerts), `pending` (breaches about to fire), `server-{id}` (a signal: the server detail's
//! services and alerts panels fetch themselves again), `fleet` (reload the grid) and
//! `deliveries` (a signal for the delivery log and alert timelines).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use homelab_store::StoreError;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::fleet::{CardPartial, Summary, SummaryPartial};
use super::render_string;
use super::session::WebUser;
use crate::state::AppState;

/// Something a dashboard should redraw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebEvent {
    /// A heartbeat (or an edit) changed this server; `registered` when it is new.
    ServerChanged { id: String, registered: bool },
    /// The notification outbox changed (deliveries routed, sent, retried or given up).
    DeliveriesChanged,
}

/// Heartbeats arriving within this window are drawn together: one summary per batch.
const COALESCE: Duration = Duration::from_millis(150);

/// What one batch of events asks for.
#[derive(Default)]
struct Batch {
    /// Changed servers (ordered so tests see a stable order).
    changed: BTreeMap<String, ()>,
    /// Redraw the whole grid (a new server, or this client fell behind).
    reload: bool,
    deliveries: bool,
}

impl Batch {
    /// Changes were missed: redraw everything.
    fn fell_behind(&mut self) {
        self.reload = true;
        self.deliveries = true;
    }

    fn add(&mut self, event: WebEvent) {
        match event {
            WebEvent::ServerChanged { id, registered } => {
                self.reload |= registered;
                self.changed.insert(id, ());
            }
            WebEvent::DeliveriesChanged => self.deliveries = true,
        }
    }
}

/// One rendered SSE event, the same for every open dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub name: String,
    pub data: String,
}

impl Rendered {
    fn new(name: impl Into<String>, data: impl Into<String>) -> Self {
        Rendered { name: name.into(), data: data.into() }
    }

    fn to_event(&self) -> Event {
        Event::default().event(&self.name).data(&self.data)
    }
}

/// A batch of rendered events, shared (not copied) by every subscriber.
pub type RenderedBatch = Arc<[Rendered]>;

/// Renders each batch of changes once for all open dashboards: cost grows with batches × fleet,
/// not with the number of tabs. Started with the first dashboard; ends when the hub shuts down.
pub(super) async fn render_loop(state: AppState, mut changes: broadcast::Receiver<WebEvent>) {
    let mut closing = state.web.closing.subscribe();
    loop {
        if *closing.borrow() {
            return;
        }
        let mut batch = Batch::default();
        tokio::select! {
            received = changes.recv() => match received {
                Ok(event) => batch.add(event),
                Err(RecvError::Lagged(_)) => batch.fell_behind(),
                Err(RecvError::Closed) => return,
            },
            _ = closing.changed() => return,
        }
        // Heartbeats arriving within the window are drawn together.
        tokio::select! {
            () = tokio::time::sleep(COALESCE) => {}
            _ = closing.changed() => return,
        }
        loop {
            match changes.try_recv() {
                Ok(event) => batch.add(event),
                Err(TryRecvError::Lagged(_)) => batch.fell_behind(),
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        // Nobody watching (every tab closed): nothing to draw.
        if state.web.rendered.receiver_count() == 0 {
            continue;
        }
        let rendered = render_batch(&state, batch).await;
        if !rendered.is_empty() {
            let _ = state.web.rendered.send(rendered.into());
        }
    }
}

/// `GET /ui/events`: the rendered batches as named events: `card-{id}` (a card's HTML),
/// `summary`, `banner`, `pending`, `server-{id}`, `deliveries` and `fleet` (reload the grid).
pub async fn stream(State(state): State<AppState>, _: WebUser) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = state.web.subscribe(&state);
    let closing = state.web.closing.subscribe();
    let stream = futures_util::stream::unfold((receiver, closing), |(mut receiver, mut closing)| async move {
        if *closing.borrow() {
            return None;
        }
        let events: Vec<Event> = tokio::select! {
            received = receiver.recv() => match received {
                Ok(batch) => batch.iter().map(Rendered::to_event).collect(),
                // This tab fell behind the shared batches: it redraws everything itself.
                Err(RecvError::Lagged(_)) => vec![
                    Event::default().event("deliveries").data("changed"),
                    Event::default().event("fleet").data("reload"),
                ],
                Err(RecvError::Closed) => return None,
            },
            _ = closing.changed() => return None,
        };
        Some((futures_util::stream::iter(events.into_iter().map(Ok)), (receiver, closing)))
    })
    .flatten();
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(20)))
}

async fn render_batch(state: &AppState, batch: Batch) -> Vec<Rendered> {
    let mut events = Vec::new();
    if batch.deliveries {
        events.push(Rendered::new("deliveries", "changed"));
    }
    if !batch.reload && batch.changed.is_empty() {
        return events;
    }
    // Read once for the batch's cards and its summary.
    let thresholds = super::view::thresholds(state).await;
    if let Err(error) = &thresholds {
        tracing::warn!(%error, "live update without cards and summary");
    }
    if batch.reload {
        events.push(Rendered::new("fleet", "reload"));
    } else if let Ok(thresholds) = &thresholds {
        match crate::service::tags::load_all(state).await {
            Ok(tags) => {
                for id in batch.changed.keys() {
                    match state.store.get_server(id).await {
                        Ok(server) => {
                            let cards = super::fleet::cards_with(state, vec![server], &tags, thresholds).await;
                            if let Some(card) = cards.first() {
                                let html = render_string(&CardPartial { card });
                                events.push(Rendered::new(format!("card-{id}"), html));
                            }
                        }
                        // Deleted since: the grid reload that the deletion sent removes it.
                        Err(StoreError::NotFound(_)) => {}
                        Err(error) => tracing::warn!(%error, server = %id, "live update without the card"),
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "live update without cards"),
        }
    }
    for id in batch.changed.keys() {
        events.push(Rendered::new(format!("server-{id}"), "changed"));
    }
    // The summary needs every server's status; reading the list is cheap next to the sparklines,
    // so it is computed without them.
    if let (Ok(servers), Ok(thresholds)) = (state.store.list_servers().await, &thresholds) {
        let now = state.clock.now();
        let silence = state.silence(thresholds);
        let cards: Vec<_> = servers.iter().map(|s| super::view::card(s, thresholds, &silence, now, &[])).collect();
        let html = render_string(&SummaryPartial { summary: Summary::of(&cards).with_alerts(state).await, oob: false });
        events.push(Rendered::new("summary", html));
    }
    let banner = super::fleet::banner(state).await;
    events.push(Rendered::new("banner", render_string(&banner)));
    let pending = super::fleet::pending(state).await;
    events.push(Rendered::new("pending", render_string(&pending)));
    events
}
