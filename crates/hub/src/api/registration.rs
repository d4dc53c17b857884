//! Agent registration (v1 §2.8): tokens, the claim, credential rotation and revocation; the
//! rules are in [`crate::service::registration`].

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;

use crate::auth::AdminAuth;
use crate::error::{ApiError, ApiResult, ErrorBody, PlainErrorBody, ValidationBody};
use crate::extract::{ApiJson, ApiPath};
use crate::service::registration::{
    self, ClaimRequest, ClaimResponse, CreateTokenRequest, CreatedToken, CredentialInfo, RevokeResponse,
    RotateResponse, TokenList,
};
use crate::state::AppState;

/// Creates a one-time registration token for a new agent.
#[utoipa::path(post, path = "/api/v1/agents/register/tokens", tag = "registration", security(("api_key" = [])),
    request_body = CreateTokenRequest,
    responses((status = 200, body = CreatedToken), (status = 401, body = ErrorBody), (status = 422, body = ValidationBody)))]
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
    responses((status = 200, body = TokenList), (status = 401, body = ErrorBody)))]
pub async fn list_tokens(_: AdminAuth, State(state): State<AppState>) -> ApiResult<Json<TokenList>> {
    Ok(Json(registration::list_tokens(&state).await?))
}

/// Revokes a token that has not been used yet.
#[utoipa::path(delete, path = "/api/v1/agents/register/tokens/{token_id}", tag = "registration", security(("api_key" = [])),
    params(("token_id" = i64, Path, description = "Token id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 400, body = PlainErrorBody), (status = 404, body = PlainErrorBody)))]
pub async fn delete_token(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    registration::delete_token(&state, id).await.map_err(ApiError::plain)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Exchanges a registration token for a server GUID and a per-agent token. Needs no API key:
/// the registration token is the credential.
#[utoipa::path(post, path = "/api/v1/agents/register/claim", tag = "registration", request_body = ClaimRequest,
    responses((status = 200, body = ClaimResponse), (status = 400, body = PlainErrorBody), (status = 422, body = ValidationBody)))]
pub async fn claim(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ClaimRequest>,
) -> ApiResult<Json<ClaimResponse>> {
    Ok(Json(registration::claim(&state, request, &headers).await.map_err(ApiError::plain)?))
}

/// The agent's current (or last) credential, without the secret.
#[utoipa::path(get, path = "/api/v1/agents/register/credentials/{server_guid}", tag = "registration", security(("api_key" = [])),
    params(("server_guid" = String, Path, description = "Server GUID")),
    responses((status = 200, body = CredentialInfo), (status = 401, body = ErrorBody), (status = 404, body = PlainErrorBody)))]
pub async fn credential(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(guid): ApiPath<String>,
) -> ApiResult<Json<CredentialInfo>> {
    Ok(Json(registration::credential(&state, &guid).await.map_err(ApiError::plain)?))
}

/// Issues a new agent token and revokes the old one at once.
#[utoipa::path(post, path = "/api/v1/agents/register/credentials/{server_guid}/rotate", tag = "registration",
    security(("api_key" = [])), params(("server_guid" = String, Path, description = "Server GUID")),
    responses((status = 200, body = RotateResponse), (status = 401, body = ErrorBody), (status = 404, body = PlainErrorBody)))]
pub async fn rotate(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(guid): ApiPath<String>,
) -> ApiResult<Json<RotateResponse>> {
    Ok(Json(registration::rotate(&state, &guid).await.map_err(ApiError::plain)?))
}

/// Revokes the agent's token; its heartbeats are refused until it registers again.
#[utoipa::path(post, path = "/api/v1/agents/register/credentials/{server_guid}/revoke", tag = "registration",
    security(("api_key" = [])), params(("server_guid" = String, Path, description = "Server GUID")),
    responses((status = 200, body = RevokeResponse), (status = 401, body = ErrorBody), (status = 404, body = PlainErrorBody)))]
pub async fn revoke(
    _: AdminAuth,
    State(state): State<AppState>,
    ApiPath(guid): ApiPath<String>,
) -> ApiResult<Json<RevokeResponse>> {
    Ok(Json(registration::revoke(&state, &guid).await.map_err(ApiError::plain)?))
}

/// The installer for this hub's agent (`text/x-shellscript`). Needs no key, as in v1: it holds
/// nothing secret, and the machine running it has only its registration token.
#[utoipa::path(get, path = "/api/v1/agents/register/install.sh", tag = "registration",
    operation_id = "get_install_script_api_v1_agents_register_install_sh_get",
    responses((status = 200, description = "A bash installer", content_type = "text/x-shellscript", body = String)))]
pub async fn install_script(State(state): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/x-shellscript; charset=utf-8")], registration::install_script(&state, &headers))
}

/// The agent binary for an architecture (`uname -m`), from the hub's `agent_binaries_dir`. Needs
/// no key, like the installer that fetches it: the binary is the published agent, not a secret.
#[utoipa::path(get, path = "/api/v1/agents/download/{arch}", tag = "registration",
    operation_id = "download_agent_api_v1_agents_download__arch__get",
    params(("arch" = String, Path, description = "Architecture as `uname -m` prints it (`x86_64`, `aarch64`, …)")),
    responses((status = 200, description = "The agent binary", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, body = PlainErrorBody)))]
pub async fn download_agent(
    State(state): State<AppState>,
    ApiPath(arch): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let bytes = registration::agent_binary(&state, &arch).await.map_err(ApiError::plain)?;
    let disposition = format!("attachment; filename=\"homelabcmd-agent-{arch}\"");
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream".to_owned()), (header::CONTENT_DISPOSITION, disposition)],
        bytes,
    ))
}
