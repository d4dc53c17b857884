//! The electricity tariff (`cost_settings`) and the original UI's dashboard layout
//! (`dashboard_preferences`): one row each, the v1 defaults while there is none.

use homelab_core::power::CostSettings;
use homelab_core::preferences::{CardOrder, DashboardPreferences};
use homelab_core::time::{Timestamp, from_millis, to_millis};

use crate::backend::Conn;
use crate::{Change, Stamped, StoreError, StoreResult};

const COST: &str = "cost settings";
const DASHBOARD: &str = "dashboard preferences";

pub(crate) async fn cost(conn: &mut dyn Conn) -> StoreResult<Stamped<CostSettings>> {
    let sql = "SELECT electricity_rate, currency_symbol, updated_at FROM cost_settings WHERE id = 1";
    let Some(row) = conn.query_opt(sql, &[]).await? else { return Ok(Stamped::default()) };
    let read = || -> StoreResult<Stamped<CostSettings>> {
        let value = CostSettings { electricity_rate: row.f64(0)?, currency_symbol: row.str(1)? };
        Ok(Stamped { value, updated_at: Some(from_millis(row.i64(2)?)) })
    };
    read().map_err(StoreError::unreadable(COST))
}

/// Applies `change` to the stored tariff with the row locked (created from the defaults first),
/// so that two edits apply one after the other.
pub(crate) async fn update_cost(
    conn: &mut dyn Conn,
    change: Change<CostSettings>,
    now: Timestamp,
) -> StoreResult<Stamped<CostSettings>> {
    let now = to_millis(&now);
    let defaults = CostSettings::default();
    conn.execute(
        "INSERT INTO cost_settings (id, electricity_rate, currency_symbol, updated_at) VALUES (1, $1, $2, $3) \
         ON CONFLICT (id) DO NOTHING",
        &[defaults.electricity_rate.into(), defaults.currency_symbol.as_str().into(), now.into()],
    )
    .await?;
    conn.execute("UPDATE cost_settings SET updated_at = updated_at WHERE id = 1", &[]).await?;
    let value = change(cost(conn).await?.value)?;
    conn.execute(
        "UPDATE cost_settings SET electricity_rate = $1, currency_symbol = $2, updated_at = $3 WHERE id = 1",
        &[value.electricity_rate.into(), value.currency_symbol.as_str().into(), now.into()],
    )
    .await?;
    Ok(Stamped { value, updated_at: Some(from_millis(now)) })
}

fn list(json: &str) -> StoreResult<Vec<String>> {
    Ok(serde_json::from_str(json)?)
}

pub(crate) async fn dashboard(conn: &mut dyn Conn) -> StoreResult<Stamped<DashboardPreferences>> {
    let sql = "SELECT server_order, workstation_order, collapsed_sections, view_mode, updated_at \
               FROM dashboard_preferences WHERE id = 1";
    let Some(row) = conn.query_opt(sql, &[]).await? else { return Ok(Stamped::default()) };
    let read = || -> StoreResult<Stamped<DashboardPreferences>> {
        let value = DashboardPreferences {
            card_order: CardOrder { servers: list(&row.str(0)?)?, workstations: list(&row.str(1)?)? },
            collapsed_sections: list(&row.str(2)?)?,
            view_mode: row.str(3)?,
        };
        Ok(Stamped { value, updated_at: Some(from_millis(row.i64(4)?)) })
    };
    read().map_err(StoreError::unreadable(DASHBOARD))
}

/// Replaces the layout whole, as the UI saves it.
pub(crate) async fn put_dashboard(
    conn: &mut dyn Conn,
    value: &DashboardPreferences,
    now: Timestamp,
) -> StoreResult<Stamped<DashboardPreferences>> {
    let now = to_millis(&now);
    conn.execute(
        "INSERT INTO dashboard_preferences (id, server_order, workstation_order, collapsed_sections, view_mode, updated_at) \
         VALUES (1, $1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET server_order = excluded.server_order, \
         workstation_order = excluded.workstation_order, collapsed_sections = excluded.collapsed_sections, \
         view_mode = excluded.view_mode, updated_at = excluded.updated_at",
        &[
            serde_json::to_string(&value.card_order.servers)?.into(),
            serde_json::to_string(&value.card_order.workstations)?.into(),
            serde_json::to_string(&value.collapsed_sections)?.into(),
            value.view_mode.as_str().into(),
            now.into(),
        ],
    )
    .await?;
    Ok(Stamped { value: value.clone(), updated_at: Some(from_millis(now)) })
}
