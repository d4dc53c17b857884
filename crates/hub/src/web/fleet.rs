//! The fleet overview at `/`: summary bar, the open-alerts banner, breaches about to fire, and
//! one card per machine with client-side search and filters (status, type, tag, a watched
//! container down), all kept live
//! by the SSE stream (`events.rs`).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use futures_util::StreamExt;
use homelab_core::alerts::Thresholds;
use homelab_core::server::Server;

use super::alerts::AlertRow;
use super::session::WebUser;
use super::view::{self, Card, Status};
use super::{Layout, error_message, error_page, render};
use crate::service::alerts::{AlertList, AlertQuery};
use crate::service::inventory::InventorySummary;
use crate::service::tags::TagMap;
use crate::service::{self, ServiceError};
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
    /// Never heard from.
    pub unknown: usize,
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
                Status::Unknown => summary.unknown += 1,
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
    pub banner: BannerPartial,
    pub pending: PendingPartial,
    pub cards: Vec<Card>,
    /// Every tag in use and how many machines carry it, for the tag filter.
    pub tag_options: Vec<(String, usize)>,
    /// "Add a machine": a token and the one command that installs the agent.
    pub install: super::install::InstallPartial,
    /// Per card, the group heading to show before it ([`group_heads`]).
    pub heads: Vec<Option<&'static str>>,
    /// The fleet's estimated power and electricity cost, one line.
    pub power: String,
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
    pub heads: Vec<Option<&'static str>>,
}

/// How many sparkline reads run at once: enough to hide latency, few enough to leave the
/// store's read pool to other requests.
const SPARK_CONCURRENCY: usize = 8;

/// Cards for `servers` (sorted: problems first, then by name).
pub async fn cards_for(state: &AppState, servers: Vec<Server>) -> Result<Vec<Card>, ServiceError> {
    let tags = service::tags::load_all(state).await?;
    let thresholds = view::thresholds(state).await?;
    Ok(cards_with(state, servers, &tags, &thresholds).await)
}

/// Cards for `servers` with tags and thresholds already read (once per page or live-update
/// batch). Each card derives its status itself ([`view::card`]), so the servers can be the
/// store's rows as they are.
pub async fn cards_with(state: &AppState, servers: Vec<Server>, tags: &TagMap, thresholds: &Thresholds) -> Vec<Card> {
    let now = state.clock.now();
    let silence = state.silence(thresholds);
    state.web.sparks.refresh(state, &servers, now).await;
    // One read for every card; without it the cards still show, only without these counts.
    let inventories: std::collections::HashMap<String, InventorySummary> =
        match service::inventory::summaries(state).await {
            Ok(list) => list.servers.into_iter().map(|s| (s.server_id.clone(), s)).collect(),
            Err(error) => {
                tracing::warn!(%error, "fleet cards without container and sensor counts");
                Default::default()
            }
        };
    let inventories = &inventories;
    let mut cards: Vec<Card> = futures_util::stream::iter(servers)
        .map(|server| async move {
            let spark = state.web.sparks.get(state, &server, now).await;
            let mut card =
                view::card(&server, thresholds, &silence, now, &spark).with_inventory(inventories.get(&server.id));
            card.tags = tags.get(&server.id).cloned().unwrap_or_default();
            card
        })
        .buffered(SPARK_CONCURRENCY)
        .collect()
        .await;
    cards.sort_by(|a, b| {
        (a.is_workstation(), rank(a.status))
            .cmp(&(b.is_workstation(), rank(b.status)))
            .then_with(|| a.name.cmp(&b.name))
    });
    cards
}

/// Group headings for sorted cards (servers, then workstations): "Servers" before the first
/// server and "Workstations" before the first workstation, only when the fleet has both.
pub fn group_heads(cards: &[Card]) -> Vec<Option<&'static str>> {
    let both = cards.iter().any(Card::is_workstation) && cards.iter().any(|c| !c.is_workstation());
    cards
        .iter()
        .enumerate()
        .map(|(i, card)| {
            let starts = i == 0 || cards[i - 1].is_workstation() != card.is_workstation();
            (both && starts).then_some(if card.is_workstation() { "Workstations" } else { "Servers" })
        })
        .collect()
}

/// Problems first: offline, warning, then the rest (within servers and within workstations).
fn rank(status: Status) -> u8 {
    match status {
        Status::Offline => 0,
        Status::Warning => 1,
        Status::Online => 2,
        Status::Maintenance => 3,
        Status::Asleep => 4,
        Status::Unknown => 5,
    }
}

pub async fn all_cards(state: &AppState) -> Result<Vec<Card>, Response> {
    let servers = state.store.list_servers().await.map_err(|e| error_page(&e.into()))?;
    let cards = cards_for(state, servers).await.map_err(|e| error_page(&e))?;
    state.web.sparks.keep_only(&cards.iter().map(|c| c.id.as_str()).collect());
    Ok(cards)
}

/// One card.
pub async fn one_card(state: &AppState, id: &str) -> Result<Card, ServiceError> {
    let server = state.store.get_server(id).await?;
    let mut cards = cards_for(state, vec![server]).await?;
    cards.pop().ok_or_else(|| ServiceError::NotFound(format!("Server '{id}' not found")))
}

/// Every tag in use with its number of machines, by name.
fn tag_options(cards: &[Card]) -> Vec<(String, usize)> {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for tag in cards.iter().flat_map(|c| &c.tags) {
        *counts.entry(tag).or_default() += 1;
    }
    counts.into_iter().map(|(tag, n)| (tag.to_owned(), n)).collect()
}

/// How many open alerts the banner lists; the rest are a link away.
const BANNER_ROWS: usize = 5;

/// The open-alerts banner: the most severe, newest open (unacknowledged) alerts.
#[derive(Template)]
#[template(path = "partials/banner.html")]
pub struct BannerPartial {
    pub rows: Vec<AlertRow>,
    /// All open alerts (the banner shows at most [`BANNER_ROWS`]).
    pub total: i64,
    pub error: Option<String>,
}

impl BannerPartial {
    pub fn more(&self) -> i64 {
        self.total - self.rows.len() as i64
    }
}

/// How many open alerts one read covers; beyond that the banner reads per severity.
const BANNER_SCAN: i64 = 100;

fn severity_rank(severity: homelab_core::alerts::Severity) -> u8 {
    use homelab_core::alerts::Severity;
    match severity {
        Severity::Critical => 0,
        Severity::High => 1,
        Severity::Medium => 2,
        Severity::Low => 3,
    }
}

async fn open_alerts(state: &AppState, severity: Option<&str>, limit: i64) -> Result<AlertList, ServiceError> {
    let query = AlertQuery {
        status: Some("open".into()),
        severity: severity.map(str::to_owned),
        limit: Some(limit),
        ..Default::default()
    };
    service::alerts::list(state, &query).await
}

/// Reads the banner through the alert list: the most severe open alerts, newest
/// first within a severity. Usually one read holds every open alert; with more than
/// [`BANNER_SCAN`] open, it reads one severity at a time, so that many newer medium alerts cannot
/// push an old critical one out.
pub async fn banner(state: &AppState) -> BannerPartial {
    use homelab_core::alerts::Severity;
    let now = state.clock.now();
    let failed = |e: ServiceError| BannerPartial { rows: Vec::new(), total: 0, error: Some(error_message(&e)) };
    let mut page = match open_alerts(state, None, BANNER_SCAN).await {
        Ok(page) => page,
        Err(e) => return failed(e),
    };
    if page.total <= BANNER_SCAN {
        // The API lists newest first; the stable sort keeps that within a severity.
        page.alerts.sort_by_key(|a| severity_rank(a.severity));
        let rows = page.alerts.into_iter().take(BANNER_ROWS).map(|a| AlertRow::of(a, now)).collect();
        return BannerPartial { rows, total: page.total, error: None };
    }
    let mut rows = Vec::new();
    for severity in [Severity::Critical, Severity::High, Severity::Medium, Severity::Low] {
        if rows.len() == BANNER_ROWS {
            break;
        }
        match open_alerts(state, Some(severity.as_str()), BANNER_ROWS as i64).await {
            Ok(list) => {
                let room = BANNER_ROWS - rows.len();
                rows.extend(list.alerts.into_iter().take(room).map(|a| AlertRow::of(a, now)));
            }
            Err(e) => return failed(e),
        }
    }
    BannerPartial { rows, total: page.total, error: None }
}

/// One breach that will fire unless it clears.
pub struct PendingRow {
    pub server_id: String,
    pub server_name: String,
    /// "CPU", "Memory", "Disk /srv".
    pub metric: String,
    pub current: String,
    pub threshold: String,
    pub severity: &'static str,
    pub symbol: &'static str,
    /// Seconds until it fires, as of rendering (the page counts down from here).
    pub left_seconds: i64,
    pub left_text: String,
}

/// "1 min 05 s", "42 s", "firing now".
pub fn countdown(seconds: i64) -> String {
    match seconds {
        s if s <= 0 => "firing now".into(),
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {:02} s", s / 60, s % 60),
        s => format!("{} h {:02} min", s / 3600, s % 3600 / 60),
    }
}

/// Breaches inside their sustained window, soonest to fire first.
#[derive(Template)]
#[template(path = "partials/pending.html")]
pub struct PendingPartial {
    pub rows: Vec<PendingRow>,
    pub error: Option<String>,
}

/// Pending breaches, soonest to fire first.
pub async fn pending(state: &AppState) -> PendingPartial {
    use homelab_core::alerts::{AlertKind, Severity};
    match service::alerts::pending(state).await {
        Ok(list) => {
            let mut rows: Vec<PendingRow> = list
                .pending
                .into_iter()
                .map(|p| {
                    let metric = match (p.metric_type, &p.mount_point) {
                        (AlertKind::Disk, Some(mount)) => format!("Disk {mount}"),
                        (AlertKind::Disk, None) => "Disk".into(),
                        (AlertKind::Memory, _) => "Memory".into(),
                        (AlertKind::Cpu, _) => "CPU".into(),
                        (other, _) => other.as_str().to_owned(),
                    };
                    PendingRow {
                        server_id: p.server_id,
                        server_name: p.server_name,
                        metric,
                        current: format!("{:.0} %", p.current_value),
                        threshold: format!("{:.0} %", p.threshold_value),
                        severity: p.severity.as_str(),
                        symbol: if p.severity == Severity::Critical { "■" } else { "▲" },
                        left_seconds: p.time_until_alert,
                        left_text: countdown(p.time_until_alert),
                    }
                })
                .collect();
            rows.sort_by_key(|r| r.left_seconds);
            PendingPartial { rows, error: None }
        }
        Err(e) => PendingPartial { rows: Vec::new(), error: Some(error_message(&e)) },
    }
}

/// `GET /`: the fleet overview.
pub async fn page(State(state): State<AppState>, user: WebUser) -> Response {
    let cards = match all_cards(&state).await {
        Ok(cards) => cards,
        Err(response) => return response,
    };
    let summary = Summary::of(&cards).with_alerts(&state).await;
    let (banner, pending) = tokio::join!(banner(&state), pending(&state));
    let power = match crate::service::costs::summary(&state).await {
        Ok(costs) => power_total(&costs),
        Err(error) => return super::error_page(&error),
    };
    render(&FleetPage {
        power,
        layout: Layout::new("Fleet", "fleet", &user.csrf),
        summary,
        banner,
        pending,
        tag_options: tag_options(&cards),
        install: super::install::InstallPartial::default(),
        heads: group_heads(&cards),
        cards,
    })
}

/// "Estimated power 116.0 W · £0.70 a day, £20.88 a month (2 of 3 machines)".
fn power_total(costs: &crate::service::costs::CostSummary) -> String {
    let symbol = &costs.currency_symbol;
    let machines = costs.servers_included + costs.servers_missing_config;
    format!(
        "Estimated power {:.1} W · {symbol}{:.2} a day, {symbol}{:.2} a month ({} of {machines} machines)",
        costs.total_estimated_watts, costs.daily_cost, costs.monthly_cost, costs.servers_included
    )
}

/// `GET /ui/grid`: summary and cards again (after a new machine appears, or a missed update).
pub async fn grid(State(state): State<AppState>, _: WebUser) -> Response {
    match all_cards(&state).await {
        Ok(cards) => render(&GridPartial {
            summary: Summary::of(&cards).with_alerts(&state).await,
            heads: group_heads(&cards),
            cards,
        }),
        Err(response) => response,
    }
}

/// `GET /ui/cards/{id}`: one card.
pub async fn card(State(state): State<AppState>, _: WebUser, Path(id): Path<String>) -> Response {
    match one_card(&state, &id).await {
        Ok(card) => render(&CardPartial { card: &card }),
        Err(error) => error_page(&error),
    }
}

#[cfg(test)]
mod tests {
    use super::countdown;

    #[test]
    fn countdowns_read_naturally() {
        assert_eq!(countdown(0), "firing now");
        assert_eq!(countdown(42), "42 s");
        assert_eq!(countdown(65), "1 min 05 s");
        assert_eq!(countdown(7260), "2 h 01 min");
    }
}
