//! The fleet overview at `/`: summary bar and one card per machine, with client-side search
//! and filters, kept live by the SSE stream (`events.rs`).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use homelab_core::server::Server;

use super::session::WebUser;
use super::view::{self, Card, Status};
use super::{Layout, render};
use crate::state::AppState;

/// Counts for the summary bar.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub total: usize,
    pub online: usize,
    pub warning: usize,
    pub offline: usize,
    pub asleep: usize,
    pub maintenance: usize,
    pub open_alerts: i64,
    /// Open (unacknowledged) alerts by severity, from the alert store.
    pub critical: i64,
    pub high: i64,
    pub medium: i64,
    pub low: i64,
}

impl Summary {
    pub fn of(cards: &[Card]) -> Summary {
        let mut summary = Summary { total: cards.len(), ..Summary::default() };
        for card in cards {
            match card.status {
                Status::Online => summary.online += 1,
                Status::Warning => summary.warning += 1,
                Status::Offline => summary.offline += 1,
                Status::Asleep => summary.asleep += 1,
                Status::Maintenance => summary.maintenance += 1,
            }
            summary.open_alerts += card.alerts;
        }
        summary
    }

    /// Adds the alert counts by severity (left at zero if the store cannot say).
    pub async fn with_alerts(mut self, state: &AppState) -> Summary {
        if let Ok(fleet) = state.store.fleet_summary().await {
            self.critical = fleet.open_critical;
            self.high = fleet.open_high;
            self.medium = fleet.open_medium;
            self.low = fleet.open_low;
            self.open_alerts = fleet.open_critical + fleet.open_high + fleet.open_medium + fleet.open_low;
        }
        self
    }
}

#[derive(Template)]
#[template(path = "fleet.html")]
pub struct FleetPage {
    pub layout: Layout,
    pub summary: Summary,
    pub cards: Vec<Card>,
}

/// The card of one machine; also sent as an SSE event when the machine changes.
#[derive(Template)]
#[template(path = "partials/card.html")]
pub struct CardPartial<'a> {
    pub card: &'a Card,
}

#[derive(Template)]
#[template(path = "partials/summary.html")]
pub struct SummaryPartial {
    pub summary: Summary,
    /// Out-of-band swap (when sent along with the grid).
    pub oob: bool,
}

#[derive(Template)]
#[template(path = "partials/grid.html")]
pub struct GridPartial {
    pub summary: Summary,
    pub cards: Vec<Card>,
}

/// How many sparkline reads run at once: enough to hide latency, few enough to leave the
/// store's read pool to other requests.
const SPARK_CONCURRENCY: usize = 8;

/// Cards for `servers` (sorted: problems first, then by name).
pub async fn cards_for(state: &AppState, servers: Vec<Server>) -> Vec<Card> {
    let thresholds = view::thresholds(state).await;
    let now = state.clock.now();
    let mut cards: Vec<Card> = futures_util::stream::iter(servers)
        .map(|server| async move {
            let spark = view::spark_values(state, &server.id, now).await;
            view::card(&server, &thresholds, now, &spark)
        })
        .buffered(SPARK_CONCURRENCY)
        .collect()
        .await;
    cards.sort_by(|a, b| rank(a.status).cmp(&rank(b.status)).then_with(|| a.name.cmp(&b.name)));
    cards
}

/// Problems first: offline, warning, then the rest.
fn rank(status: Status) -> u8 {
    match status {
        Status::Offline => 0,
        Status::Warning => 1,
        Status::Online => 2,
        Status::Maintenance => 3,
        Status::Asleep => 4,
    }
}

pub async fn all_cards(state: &AppState) -> Result<Vec<Card>, Response> {
    match state.store.list_servers().await {
        Ok(servers) => Ok(cards_for(state, servers).await),
        Err(error) => {
            tracing::error!(%error, "cannot list servers for the dashboard");
            Err((StatusCode::SERVICE_UNAVAILABLE, "The database is not answering; try again shortly.").into_response())
        }
    }
}

/// One card, or `None` when the server is gone.
pub async fn one_card(state: &AppState, id: &str) -> Option<Card> {
    let server = state.store.get_server(id).await.ok()?;
    cards_for(state, vec![server]).await.pop()
}

/// `GET /`: the fleet overview.
pub async fn page(State(state): State<AppState>, user: WebUser) -> Response {
    let cards = match all_cards(&state).await {
        Ok(cards) => cards,
        Err(response) => return response,
    };
    let summary = Summary::of(&cards).with_alerts(&state).await;
    render(&FleetPage { layout: Layout::new("Fleet", "fleet", &user.csrf), summary, cards })
}

/// `GET /ui/grid`: summary and cards again (after a new machine appears, or a missed update).
pub async fn grid(State(state): State<AppState>, _: WebUser) -> Response {
    match all_cards(&state).await {
        Ok(cards) => render(&GridPartial { summary: Summary::of(&cards).with_alerts(&state).await, cards }),
        Err(response) => response,
    }
}

/// `GET /ui/cards/{id}`: one card.
pub async fn card(State(state): State<AppState>, _: WebUser, Path(id): Path<String>) -> Response {
    match one_card(&state, &id).await {
        Some(card) => render(&CardPartial { card: &card }),
        None => (StatusCode::NOT_FOUND, "No such server").into_response(),
    }
}
