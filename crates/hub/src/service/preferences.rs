//! The original web UI's dashboard layout (`/preferences/dashboard`), stored so that the UI keeps
//! its card order against this hub. Our own dashboard orders cards itself.

use homelab_core::preferences::{CardOrder, DashboardPreferences};
use homelab_core::time::{self, Timestamp};
use serde::Serialize;
use utoipa::ToSchema;

use super::ServiceResult;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardPreferencesResponse {
    pub card_order: CardOrder,
    pub collapsed_sections: Vec<String>,
    pub view_mode: String,
    /// When the layout was last saved; `null` while the defaults apply.
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(with = "time::rfc3339_option")]
    pub updated_at: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreferencesSaved {
    /// Always `saved`.
    pub status: String,
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::rfc3339")]
    pub updated_at: Timestamp,
}

pub async fn dashboard(state: &AppState) -> ServiceResult<DashboardPreferencesResponse> {
    let stamped = state.store.dashboard_preferences().await?;
    let DashboardPreferences { card_order, collapsed_sections, view_mode } = stamped.value;
    Ok(DashboardPreferencesResponse { card_order, collapsed_sections, view_mode, updated_at: stamped.updated_at })
}

/// Replaces the layout whole, as the UI sends it.
pub async fn save_dashboard(state: &AppState, preferences: DashboardPreferences) -> ServiceResult<PreferencesSaved> {
    preferences.validate()?;
    let now = state.clock.now();
    let saved = state.store.set_dashboard_preferences(&preferences, now).await?;
    Ok(PreferencesSaved { status: "saved".into(), updated_at: saved.updated_at.unwrap_or(now) })
}
