//! Live updates: `GET /ui/events` is a Server-Sent Events stream. The heartbeat handler and the
//! built-in agent publish [`WebEvent`]s on a broadcast channel after their commit; each open
//! dashboard renders the changed cards and sends them as named events that htmx's SSE extension
//! swaps in (`sse-swap="card-{id}"`), so cards update within a second without a reload.
//!
//! Events of one batch: `card-{id}` (a card), `summary` (the summary bar), `banner` (open
//! alerts), `pending` (breaches about to fire), `server-{id}` (a signal: the server detail's
//! services and alerts panels fetch themselves again), `fleet` (reload the grid) and
//! `deliveries` (a signal for the delivery log and alert timelines).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
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

/// `GET /ui/events`: named events `card-{id}` (a card's HTML), `summary` (the summary bar) and
/// `fleet` (the grid should reload itself).
pub async fn stream(State(state): State<AppState>, _: WebUser) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = state.web.events.subscribe();
    let closing = state.web.closing.subscribe();
    let stream =
        futures_util::stream::unfold((state, receiver, closing), |(state, mut receiver, mut closing)| async move {
            let mut batch = Batch::default();
            if *closing.borrow() {
                return None;
            }
            tokio::select! {
                received = receiver.recv() => match received {
                    Ok(event) => batch.add(event),
                    Err(RecvError::Lagged(_)) => {
                        batch.reload = true;
                        batch.deliveries = true;
                    }
                    Err(RecvError::Closed) => return None,
                },
                _ = closing.changed() => return None,
            }
            tokio::time::sleep(COALESCE).await;
            loop {
                match receiver.try_recv() {
                    Ok(event) => batch.add(event),
                    Err(TryRecvError::Lagged(_)) => {
                        batch.reload = true;
                        batch.deliveries = true;
                    }
                    Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                }
            }
            let events = render_batch(&state, batch).await;
            Some((futures_util::stream::iter(events.into_iter().map(Ok)), (state, receiver, closing)))
        })
        .flatten();
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(20)))
}

async fn render_batch(state: &AppState, batch: Batch) -> Vec<Event> {
    let mut events = Vec::new();
    if batch.deliveries {
        events.push(Event::default().event("deliveries").data("changed"));
    }
    if !batch.reload && batch.changed.is_empty() {
        return events;
    }
    if batch.reload {
        events.push(Event::default().event("fleet").data("reload"));
    } else {
        let tags = crate::service::tags::load_all(state).await.unwrap_or_default();
        for id in batch.changed.keys() {
            if let Some(card) = super::fleet::one_card_tagged(state, id, &tags).await {
                let html = render_string(&CardPartial { card: &card });
                events.push(Event::default().event(format!("card-{id}")).data(html));
            }
        }
    }
    for id in batch.changed.keys() {
        events.push(Event::default().event(format!("server-{id}")).data("changed"));
    }
    // The summary needs every server's status; reading the list is cheap next to the sparklines,
    // so it is computed without them.
    if let Ok(servers) = state.store.list_servers().await {
        let thresholds = super::view::thresholds(state).await;
        let now = state.clock.now();
        let cards: Vec<_> = servers.iter().map(|s| super::view::card(s, &thresholds, now, &[])).collect();
        let html = render_string(&SummaryPartial { summary: Summary::of(&cards).with_alerts(state).await, oob: false });
        events.push(Event::default().event("summary").data(html));
    }
    let banner = super::fleet::banner(state).await;
    events.push(Event::default().event("banner").data(render_string(&banner)));
    let pending = super::fleet::pending(state).await;
    events.push(Event::default().event("pending").data(render_string(&pending)));
    events
}
