//! v1 endpoints of features this hub does not build, which the original web UI still calls on
//! its pages: remediation actions (EP0004; the agent never executes them since v1's EP0013) and
//! configuration packs (EP0010). They answer v1's shapes with nothing in them, so the UI's pages
//! render instead of showing an error; what they read that we do hold (a server's assigned packs)
//! is real.

use homelab_core::validate::Validator;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ServiceResult;
use crate::state::AppState;

/// `GET /actions` query, as v1 accepts it.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActionsQuery {
    /// Only this server's actions.
    pub server_id: Option<String>,
    /// Only actions in this state (`pending`, `approved`, …).
    pub status: Option<String>,
    /// Page size, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Actions to skip, 0 or more (default 0).
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// v1's `ActionListResponse`; `actions` is always empty here.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionList {
    #[schema(value_type = Vec<Object>)]
    pub actions: Vec<serde_json::Value>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

pub fn actions(query: &ActionsQuery) -> ServiceResult<ActionList> {
    let mut v = Validator::new("query");
    v.range_i64("limit", query.limit, 1, Some(100));
    v.range_i64("offset", query.offset, 0, None);
    v.finish()?;
    Ok(ActionList {
        actions: Vec::new(),
        total: 0,
        limit: query.limit.unwrap_or(50),
        offset: query.offset.unwrap_or(0),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentVersion {
    /// The version of the agent this hub was built with (the one to upgrade to).
    pub version: String,
}

pub fn agent_version() -> AgentVersion {
    AgentVersion { version: env!("CARGO_PKG_VERSION").into() }
}

/// v1's `ConfigPackListResponse`: no packs are defined on this hub.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigPackList {
    #[schema(value_type = Vec<Object>)]
    pub packs: Vec<serde_json::Value>,
    pub total: usize,
}

pub fn config_packs() -> ConfigPackList {
    ConfigPackList { packs: Vec::new(), total: 0 }
}

/// v1's `PackAssignmentResponse`, from the server's stored fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct PackAssignment {
    pub server_id: String,
    pub assigned_packs: Vec<String>,
    pub drift_detection_enabled: bool,
}

pub async fn assigned_packs(state: &AppState, server_id: &str) -> ServiceResult<PackAssignment> {
    let server = state.store.get_server(server_id).await?;
    Ok(PackAssignment {
        server_id: server.id,
        assigned_packs: server.assigned_packs.unwrap_or_else(|| vec!["base".into()]),
        drift_detection_enabled: server.drift_detection_enabled,
    })
}
