//! Expected services of a server (v1 §2.6): what the service-down alerts watch; the rules are
//! in [`crate::service::services`].

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::auth::AdminAuth;
use crate::error::{ApiResult, ErrorBody, ValidationBody};
use crate::extract::{ApiJson, ApiPath};
use crate::service::services::{
    self, ExpectedServiceResponse, NewServiceBody, ReportedServiceList, ServiceList, ServiceUpdateBody,
};
use crate::state::AppState;

/// Every expected service of the server, disabled ones included, by name.
#[utoipa::path(get, path = "/api/v1/servers/{server_id}/services", tag = "services", security(("api_key" = [])),
    params(("server_id" = String, Path, description = "Server id")),
    responses((status = 200, body = ServiceList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ServiceList>> {
    Ok(Json(services::list(&state, &id).await?))
}

/// Every service the agent has reported, with its newest state, by name: what to pick the
/// services to watch from.
#[utoipa::path(get, path = "/api/v1/servers/{server_id}/reported-services", tag = "services", security(("api_key" = [])),
    params(("server_id" = String, Path, description = "Server id")),
    responses((status = 200, body = ReportedServiceList), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn reported(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ReportedServiceList>> {
    Ok(Json(services::reported(&state, &id).await?))
}

/// Starts watching a service (enabled).
#[utoipa::path(post, path = "/api/v1/servers/{server_id}/services", tag = "services", security(("api_key" = [])),
    params(("server_id" = String, Path, description = "Server id")), request_body = NewServiceBody,
    responses((status = 201, body = ExpectedServiceResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn create(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<NewServiceBody>,
) -> ApiResult<(StatusCode, Json<ExpectedServiceResponse>)> {
    Ok((StatusCode::CREATED, Json(services::create(&state, &id, body).await?)))
}

/// Changes the display name, criticality or enabled flag. Severity of an open alert is kept;
/// disabling closes the service's open alert.
#[utoipa::path(put, path = "/api/v1/servers/{server_id}/services/{service_name}", tag = "services",
    security(("api_key" = [])),
    params(("server_id" = String, Path, description = "Server id"), ("service_name" = String, Path, description = "Service")),
    request_body = ServiceUpdateBody,
    responses((status = 200, body = ExpectedServiceResponse), (status = 404, body = ErrorBody),
        (status = 422, body = ValidationBody)))]
pub async fn update(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath((id, name)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<ServiceUpdateBody>,
) -> ApiResult<Json<ExpectedServiceResponse>> {
    Ok(Json(services::update(&state, &id, &name, body).await?))
}

/// Stops watching a service and closes its open alert; its status history is kept.
#[utoipa::path(delete, path = "/api/v1/servers/{server_id}/services/{service_name}", tag = "services",
    security(("api_key" = [])),
    params(("server_id" = String, Path, description = "Server id"), ("service_name" = String, Path, description = "Service")),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath((id, name)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    services::delete(&state, &id, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
