//! Electricity cost (v1's `/config/cost` and `/costs/…`): the tariff, and each machine's
//! estimated draw and cost from its category, wattage and latest CPU load
//! (`homelab_core::power`), per server and for the fleet. Every machine is estimated as running
//! all day; v1's workstation uptime accounting never ran (its table stayed empty).

use homelab_core::power::{self, CostSettings, CostSettingsUpdate, MachineCategory, ServerEstimate};
use homelab_core::server::Server;
use homelab_core::time::{self, Timestamp};
use homelab_store::Stamped;
use serde::Serialize;
use utoipa::ToSchema;

use super::ServiceResult;
use crate::state::AppState;

/// `GET/PUT /config/cost`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CostConfig {
    pub electricity_rate: f64,
    pub currency_symbol: String,
    /// When the tariff was last saved; `null` while the defaults apply.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(with = "time::rfc3339_option")]
    pub updated_at: Option<Timestamp>,
}

impl From<Stamped<CostSettings>> for CostConfig {
    fn from(stamped: Stamped<CostSettings>) -> Self {
        CostConfig {
            electricity_rate: stamped.value.electricity_rate,
            currency_symbol: stamped.value.currency_symbol,
            updated_at: stamped.updated_at,
        }
    }
}

pub async fn config(state: &AppState) -> ServiceResult<CostConfig> {
    Ok(state.store.cost_settings().await?.into())
}

/// Partial update; absent fields keep their values.
pub async fn update_config(state: &AppState, update: CostSettingsUpdate) -> ServiceResult<CostConfig> {
    update.validate()?;
    let change = Box::new(move |current: CostSettings| Ok(update.apply(current)));
    Ok(state.store.update_cost_settings(change, state.clock.now()).await?.into())
}

/// One machine's estimate (v1's `ServerCostItem`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServerCost {
    pub server_id: String,
    pub hostname: String,
    pub machine_category: Option<String>,
    pub machine_category_label: Option<String>,
    pub machine_category_source: Option<String>,
    pub cpu_model: Option<String>,
    /// The idle draw used: the server's `idle_watts`, else its category's default.
    pub idle_watts: Option<i64>,
    /// The full-load draw used: the server's `tdp_watts`, else its category's default.
    pub tdp_watts: Option<i64>,
    pub estimated_watts: Option<f64>,
    /// The latest CPU load reported (the estimate assumes 50 % when there is none).
    pub avg_cpu_percent: Option<f64>,
    pub daily_cost: Option<f64>,
    pub monthly_cost: Option<f64>,
}

fn server_cost(server: &Server, rate: f64) -> (ServerCost, ServerEstimate) {
    let cpu = server.metrics().and_then(|m| m.cpu_percent);
    let category = server.machine_category.as_deref();
    let estimate = power::estimate(category, server.idle_watts, server.tdp_watts, cpu, rate);
    let item = ServerCost {
        server_id: server.id.clone(),
        hostname: server.hostname.clone(),
        machine_category: server.machine_category.clone(),
        machine_category_label: category.and_then(MachineCategory::parse).map(|c| c.label().to_owned()),
        machine_category_source: server.machine_category_source.clone(),
        cpu_model: server.cpu_model.clone(),
        idle_watts: estimate.range.map(|r| r.idle_watts),
        tdp_watts: estimate.range.map(|r| r.max_watts),
        estimated_watts: estimate.estimated_watts,
        avg_cpu_percent: cpu,
        daily_cost: estimate.daily_cost,
        monthly_cost: estimate.monthly_cost,
    };
    (item, estimate)
}

/// v1's `/costs/summary`: the fleet's total (the `*_tdp` fields are v1's deprecated names).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CostSummary {
    pub daily_cost: f64,
    pub monthly_cost: f64,
    pub currency_symbol: String,
    pub servers_included: usize,
    pub servers_missing_config: usize,
    pub total_estimated_watts: f64,
    pub electricity_rate: f64,
    pub servers_missing_tdp: usize,
    pub total_tdp_watts: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CostTotals {
    pub servers_configured: usize,
    pub servers_unconfigured: usize,
    pub total_estimated_watts: f64,
    pub daily_cost: f64,
    pub monthly_cost: f64,
    pub servers_with_tdp: usize,
    pub servers_without_tdp: usize,
    pub total_tdp_watts: f64,
}

/// v1's `/costs/breakdown`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CostBreakdown {
    pub servers: Vec<ServerCost>,
    pub totals: CostTotals,
    pub settings: CostSettings,
}

/// Every server's estimate and the fleet's total, in one read of each.
pub async fn breakdown(state: &AppState) -> ServiceResult<CostBreakdown> {
    let settings = state.store.cost_settings().await?.value;
    let servers = state.store.list_servers().await?;
    let rate = settings.electricity_rate;
    let (items, estimates): (Vec<_>, Vec<_>) = servers.iter().map(|s| server_cost(s, rate)).unzip();
    let fleet = power::fleet_estimate(&estimates, rate);
    let totals = CostTotals {
        servers_configured: fleet.servers_included,
        servers_unconfigured: fleet.servers_missing_config,
        total_estimated_watts: fleet.total_estimated_watts,
        daily_cost: fleet.daily_cost,
        monthly_cost: fleet.monthly_cost,
        servers_with_tdp: fleet.servers_included,
        servers_without_tdp: fleet.servers_missing_config,
        total_tdp_watts: fleet.total_estimated_watts,
    };
    Ok(CostBreakdown { servers: items, totals, settings })
}

pub async fn summary(state: &AppState) -> ServiceResult<CostSummary> {
    let breakdown = breakdown(state).await?;
    let totals = breakdown.totals;
    Ok(CostSummary {
        daily_cost: totals.daily_cost,
        monthly_cost: totals.monthly_cost,
        currency_symbol: breakdown.settings.currency_symbol,
        servers_included: totals.servers_configured,
        servers_missing_config: totals.servers_unconfigured,
        total_estimated_watts: totals.total_estimated_watts,
        electricity_rate: breakdown.settings.electricity_rate,
        servers_missing_tdp: totals.servers_unconfigured,
        total_tdp_watts: totals.total_estimated_watts,
    })
}

/// One server's estimate in the stored tariff (the dashboard's server page).
pub async fn for_server(state: &AppState, server: &Server) -> ServiceResult<(ServerCost, CostSettings)> {
    let settings = state.store.cost_settings().await?.value;
    Ok((server_cost(server, settings.electricity_rate).0, settings))
}
