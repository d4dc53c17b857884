//! Agent registration (v1 §2.8): tokens, the claim, credential rotation and revocation; the
//! rules are in [`crate::service::registration`].

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use crate::auth::AdminAuth;
use crate::error::{ApiResult, ErrorBody, ValidationBody};
use crate::extract::{ApiJson, ApiPath};
use crate::service::registration::{
    self, ClaimRequest, ClaimResponse, CreateTokenRequest, CreatedToken, CredentialInfo, RevokeResponse,
    RotateResponse, TokenList,
};
use crate::state::AppState;

/// Creates a one-time registration token for a new agent.
#[utoipa::path(post, path = "/api/v1/agents/register/tokens", tag = "registration", security(("api_key" = [])),
    request_body = CreateTokenRequest,
    responses((status = 200, body = CreatedToken), (status = 422, body = ValidationBody)))]
pub async fn create_token(
    _: AdminAuth,
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<CreateTokenRequest>,
) -> ApiResult<Json<CreatedToken>> {
    Ok(Json(registration::create_token(&state, request, &headers).await?))
}

/// Pending (unclaimed, unexpired) tokens, newest first.
#[utoipa::path(get, path = "/api/v1/agents/register/tokens", tag = "registration", security(("api_key" = [])),
    responses((status = 200, body = TokenList)))]
pub async fn list_tokens(_: AdminAuth, State(state): State<AppState>) -> ApiResult<Json<TokenList>> {
    Ok(Json(registration::list_tokens(&state).await?))
}

/// Revokes a token that has not been used yet.
#[utoipa::path(delete, path = "/api/v1/agents/register/tokens/{id}", tag = "registration", security(("api_key" = [])),
    params(("id" = i64, Path, description = "Token id")),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_token(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    registration::delete_token(&state, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Exchanges a registration token for a server GUID and a per-agent token. Needs no API key:
/// the registration token is the credential.
#[utoipa::path(post, path = "/api/v1/agents/register/claim", tag = "registration", request_body = ClaimRequest,
    responses((status = 200, body = ClaimResponse), (status = 400, body = ErrorBody), (status = 422, body = ValidationBody)))]
pub async fn claim(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ClaimRequest>,
) -> ApiResult<Json<ClaimResponse>> {
    Ok(Json(registration::claim(&state, request, &headers).await?))
}

/// The agent's current (or last) credential, without the secret.
#[utoipa::path(get, path = "/api/v1/agents/register/credentials/{guid}", tag = "registration", security(("api_key" = [])),
    params(("guid" = String, Path, description = "Server GUID")),
    responses((status = 200, body = CredentialInfo), (status = 404, body = ErrorBody)))]
pub async fn credential(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(guid): ApiPath<String>,
) -> ApiResult<Json<CredentialInfo>> {
    Ok(Json(registration::credential(&state, &guid).await?))
}

/// Issues a new agent token and revokes the old one at once.
#[utoipa::path(post, path = "/api/v1/agents/register/credentials/{guid}/rotate", tag = "registration",
    security(("api_key" = [])), params(("guid" = String, Path, description = "Server GUID")),
    responses((status = 200, body = RotateResponse), (status = 404, body = ErrorBody)))]
pub async fn rotate(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(guid): ApiPath<String>,
) -> ApiResult<Json<RotateResponse>> {
    Ok(Json(registration::rotate(&state, &guid).await?))
}

/// Revokes the agent's token; its heartbeats are refused until it registers again.
#[utoipa::path(post, path = "/api/v1/agents/register/credentials/{guid}/revoke", tag = "registration",
    security(("api_key" = [])), params(("guid" = String, Path, description = "Server GUID")),
    responses((status = 200, body = RevokeResponse), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(guid): ApiPath<String>,
) -> ApiResult<Json<RevokeResponse>> {
    Ok(Json(registration::revoke(&state, &guid).await?))
}
