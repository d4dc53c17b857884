//! Expected services of a server (v1 §2.6): what the service-down alerts watch.

use homelab_core::alerts::thresholds::MAX_SERVICE_GRACE_SECONDS;
use homelab_core::server::{Patch, patch};
use homelab_core::time::{self, Timestamp};
use homelab_core::validate::{ValidationErrors, Validator};
use homelab_store::{ExpectedServiceRecord, ExpectedServiceUpdate, NewExpectedService, ServiceStatusReport};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ServiceResult;
use crate::state::AppState;

/// The newest status the agent reported for a service.
#[derive(Debug, Serialize, ToSchema)]
pub struct CurrentStatus {
    pub status: String,
    pub status_reason: Option<String>,
    pub pid: Option<i64>,
    pub memory_mb: Option<f64>,
    pub cpu_percent: Option<f64>,
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::rfc3339")]
    pub last_seen: Timestamp,
}

/// v1 `ExpectedServiceResponse` (no id, server id or creation time, as in v1).
#[derive(Debug, Serialize, ToSchema)]
pub struct ExpectedServiceResponse {
    pub service_name: String,
    pub display_name: Option<String>,
    pub is_critical: bool,
    pub enabled: bool,
    /// Not in v1: seconds the service may be reported down before its alert opens; `null` uses
    /// the thresholds' `service_grace_seconds`.
    pub grace_seconds: Option<i64>,
    pub current_status: Option<CurrentStatus>,
}

impl From<ServiceStatusReport> for CurrentStatus {
    fn from(s: ServiceStatusReport) -> Self {
        CurrentStatus {
            status: s.status,
            status_reason: s.status_reason,
            pid: s.pid,
            memory_mb: s.memory_mb,
            cpu_percent: s.cpu_percent,
            last_seen: s.last_seen,
        }
    }
}

impl From<ExpectedServiceRecord> for ExpectedServiceResponse {
    fn from(record: ExpectedServiceRecord) -> Self {
        ExpectedServiceResponse {
            service_name: record.service_name,
            display_name: record.display_name,
            is_critical: record.is_critical,
            enabled: record.enabled,
            grace_seconds: record.grace_seconds,
            current_status: record.current_status.map(Into::into),
        }
    }
}

/// A service the agent reports, watched or not (not in v1, which only listed expected ones).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportedServiceResponse {
    pub service_name: String,
    /// Whether the server expects it (it is in `GET /servers/{id}/services`).
    pub expected: bool,
    pub current_status: CurrentStatus,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportedServiceList {
    pub services: Vec<ReportedServiceResponse>,
    pub total: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceList {
    pub services: Vec<ExpectedServiceResponse>,
    pub total: usize,
}

/// `POST /servers/{id}/services` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewServiceBody {
    /// 1–255 characters of `a-z 0-9 @ . _ -` (systemd unit names; upper case is refused as in v1).
    #[schema(pattern = "^[a-z0-9@._-]+$", min_length = 1, max_length = 255)]
    pub service_name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// Critical services alert at HIGH when down, others at MEDIUM. Default false (as v1's code).
    #[serde(default)]
    pub is_critical: bool,
    /// Not in v1: seconds (0–3600) the service may be reported down before its alert opens, so
    /// that a restart raises nothing; absent or `null` uses the thresholds' `service_grace_seconds`.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 3600)]
    pub grace_seconds: Option<i64>,
}

fn is_service_name(name: &str) -> bool {
    name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"@._-".contains(&b))
}

impl NewServiceBody {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = Validator::new("body");
        v.str_len("service_name", &self.service_name, 1, 255);
        if !self.service_name.is_empty() && !is_service_name(&self.service_name) {
            v.custom(
                "service_name",
                "string_pattern_mismatch",
                "should match pattern '^[a-z0-9@._-]+$'",
                self.service_name.as_str().into(),
            );
        }
        v.opt_str_len("display_name", self.display_name.as_deref(), 0, 255);
        check_grace(&mut v, self.grace_seconds);
        v.finish()
    }
}

/// One rule for a service's grace period, for the API and the dashboard's form alike.
fn check_grace(v: &mut Validator, grace_seconds: Option<i64>) {
    v.range_i64("grace_seconds", grace_seconds, 0, Some(MAX_SERVICE_GRACE_SECONDS));
}

/// `PUT /servers/{id}/services/{name}` body: only the keys sent change.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ServiceUpdateBody {
    #[serde(default, deserialize_with = "patch")]
    #[schema(value_type = Option<String>)]
    pub display_name: Patch<String>,
    #[serde(default)]
    pub is_critical: Option<bool>,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// `null` goes back to the global default.
    #[serde(default, deserialize_with = "patch")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 3600)]
    pub grace_seconds: Patch<i64>,
}

/// Every expected service of the server, disabled ones included, by name.
pub async fn list(state: &AppState, server_id: &str) -> ServiceResult<ServiceList> {
    let services: Vec<ExpectedServiceResponse> =
        state.store.list_expected_services(server_id).await?.into_iter().map(Into::into).collect();
    Ok(ServiceList { total: services.len(), services })
}

/// Every service the agent has reported, with its newest state, by name: what to pick the
/// services to watch from.
pub async fn reported(state: &AppState, server_id: &str) -> ServiceResult<ReportedServiceList> {
    let services: Vec<ReportedServiceResponse> = state
        .store
        .list_reported_services(server_id)
        .await?
        .into_iter()
        .map(|service| ReportedServiceResponse {
            expected: service.expected,
            service_name: service.service_name,
            current_status: service.status.into(),
        })
        .collect();
    Ok(ReportedServiceList { total: services.len(), services })
}

/// Starts watching a service (enabled).
pub async fn create(state: &AppState, server_id: &str, body: NewServiceBody) -> ServiceResult<ExpectedServiceResponse> {
    body.validate()?;
    let new = NewExpectedService {
        service_name: body.service_name,
        display_name: body.display_name,
        is_critical: body.is_critical,
        grace_seconds: body.grace_seconds,
    };
    let created = state.store.create_expected_service(server_id, &new, state.clock.now()).await?;
    state.web.server_changed(server_id, false);
    Ok(created.into())
}

/// Changes the display name, criticality or enabled flag. Severity of an open alert is kept;
/// disabling closes the service's open alert.
pub async fn update(
    state: &AppState,
    server_id: &str,
    service_name: &str,
    body: ServiceUpdateBody,
) -> ServiceResult<ExpectedServiceResponse> {
    let mut v = Validator::new("body");
    v.opt_str_len("display_name", body.display_name.as_ref().and_then(|d| d.as_deref()), 0, 255);
    check_grace(&mut v, body.grace_seconds.flatten());
    v.finish()?;
    let update = ExpectedServiceUpdate {
        display_name: body.display_name,
        is_critical: body.is_critical,
        enabled: body.enabled,
        grace_seconds: body.grace_seconds,
    };
    let updated = state.store.update_expected_service(server_id, service_name, &update, state.clock.now()).await?;
    state.web.server_changed(server_id, false);
    // Disabling a service closes its alert: a resolution to send.
    state.outbox.wake();
    Ok(updated.into())
}

/// Stops watching a service and closes its open alert; its status history is kept.
pub async fn delete(state: &AppState, server_id: &str, service_name: &str) -> ServiceResult<()> {
    state.store.delete_expected_service(server_id, service_name, state.clock.now()).await?;
    state.web.server_changed(server_id, false);
    state.outbox.wake();
    Ok(())
}
