//! Expected services of a server (v1 §2.6): what the service-down alerts watch.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use homelab_core::server::{Patch, patch};
use homelab_core::time::{self, Timestamp};
use homelab_core::validate::{ValidationErrors, Validator};
use homelab_store::{ExpectedServiceRecord, ExpectedServiceUpdate, NewExpectedService, ServiceStatusReport};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AdminAuth;
use crate::error::{ApiResult, ErrorBody, ValidationBody};
use crate::extract::ApiJson;
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
    pub service_name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// Critical services alert at HIGH when down, others at MEDIUM. Default false (as v1's code).
    #[serde(default)]
    pub is_critical: bool,
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
        v.finish()
    }
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
}

/// Every expected service of the server, disabled ones included, by name.
#[utoipa::path(get, path = "/api/v1/servers/{id}/services", tag = "services", security(("api_key" = [])),
    params(("id" = String, Path, description = "Server id")),
    responses((status = 200, body = ServiceList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(_: AdminAuth, State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<ServiceList>> {
    let services: Vec<ExpectedServiceResponse> =
        state.store.list_expected_services(&id).await?.into_iter().map(Into::into).collect();
    Ok(Json(ServiceList { total: services.len(), services }))
}

/// Every service the agent has reported, with its newest state, by name: what to pick the
/// services to watch from.
#[utoipa::path(get, path = "/api/v1/servers/{id}/reported-services", tag = "services", security(("api_key" = [])),
    params(("id" = String, Path, description = "Server id")),
    responses((status = 200, body = ReportedServiceList), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn reported(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<ReportedServiceList>> {
    let services: Vec<ReportedServiceResponse> = state
        .store
        .list_reported_services(&id)
        .await?
        .into_iter()
        .map(|service| ReportedServiceResponse {
            expected: service.expected,
            service_name: service.service_name,
            current_status: service.status.into(),
        })
        .collect();
    Ok(Json(ReportedServiceList { total: services.len(), services }))
}

/// Starts watching a service (enabled).
#[utoipa::path(post, path = "/api/v1/servers/{id}/services", tag = "services", security(("api_key" = [])),
    params(("id" = String, Path, description = "Server id")), request_body = NewServiceBody,
    responses((status = 201, body = ExpectedServiceResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn create(
    _: AdminAuth,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewServiceBody>,
) -> ApiResult<(StatusCode, Json<ExpectedServiceResponse>)> {
    body.validate()?;
    let new = NewExpectedService {
        service_name: body.service_name,
        display_name: body.display_name,
        is_critical: body.is_critical,
    };
    let created = state.store.create_expected_service(&id, &new, state.clock.now()).await?;
    state.web.server_changed(&id, false);
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// Changes the display name, criticality or enabled flag. Severity of an open alert is kept;
/// disabling closes the service's open alert.
#[utoipa::path(put, path = "/api/v1/servers/{id}/services/{service_name}", tag = "services",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "Server id"), ("service_name" = String, Path, description = "Service")),
    request_body = ServiceUpdateBody,
    responses((status = 200, body = ExpectedServiceResponse), (status = 404, body = ErrorBody),
        (status = 422, body = ValidationBody)))]
pub async fn update(
    _: AdminAuth,
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    ApiJson(body): ApiJson<ServiceUpdateBody>,
) -> ApiResult<Json<ExpectedServiceResponse>> {
    let mut v = Validator::new("body");
    v.opt_str_len("display_name", body.display_name.as_ref().and_then(|d| d.as_deref()), 0, 255);
    v.finish()?;
    let update =
        ExpectedServiceUpdate { display_name: body.display_name, is_critical: body.is_critical, enabled: body.enabled };
    let updated = state.store.update_expected_service(&id, &name, &update, state.clock.now()).await?;
    state.outbox.wake();
    state.web.server_changed(&id, false);
    Ok(Json(updated.into()))
}

/// Stops watching a service and closes its open alert; its status history is kept.
#[utoipa::path(delete, path = "/api/v1/servers/{id}/services/{service_name}", tag = "services",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "Server id"), ("service_name" = String, Path, description = "Service")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    _: AdminAuth,
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.store.delete_expected_service(&id, &name, state.clock.now()).await?;
    state.outbox.wake();
    state.web.server_changed(&id, false);
    Ok(StatusCode::NO_CONTENT)
}
