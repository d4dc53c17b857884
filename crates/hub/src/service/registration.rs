//! Agent registration (v1 §2.8): one-time registration tokens, the claim that exchanges one for
//! a per-agent credential, and credential rotation and revocation.
//!
//! Tokens are shown once; only their SHA-256 hashes are stored.

use axum::http::HeaderMap;
use chrono::Duration;
use homelab_core::time::{self, Timestamp};
use homelab_core::validate::Validator;
use homelab_store::{AgentCredential, RegistrationToken, StoreError, TokenClaim};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ServiceError, ServiceResult};
use crate::auth::sha256_hex;
use crate::state::AppState;
use crate::tokens;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateTokenRequest {
    /// `readonly` (default) or `readwrite`.
    #[serde(default = "default_mode")]
    #[schema(pattern = "^(readonly|readwrite)$")]
    pub mode: String,
    /// Name for the server the token registers, at most 255 characters.
    #[serde(default)]
    #[schema(max_length = 255)]
    pub display_name: Option<String>,
    /// systemd units to watch, each 1–255 characters.
    #[serde(default)]
    pub monitored_services: Option<Vec<String>>,
    /// 5–60, default 15.
    #[serde(default = "default_expiry")]
    #[schema(minimum = 5, maximum = 60)]
    pub expiry_minutes: i64,
}

fn default_mode() -> String {
    "readonly".into()
}

fn default_expiry() -> i64 {
    15
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    /// Shown only now; the hub keeps a hash.
    pub token: String,
    pub token_prefix: String,
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::rfc3339")]
    pub expires_at: Timestamp,
    /// The command to run on the new machine.
    pub install_command: String,
}

/// The URL agents should use: the configured external URL, else what the request was sent to
/// (`origin`: its headers, honouring `X-Forwarded-Proto`/`-Host` from a reverse proxy).
pub fn hub_url(state: &AppState, origin: &HeaderMap) -> String {
    if let Some(url) = &state.config.external_url {
        return url.trim_end_matches('/').to_owned();
    }
    let header = |name: &str| origin.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let proto = header("x-forwarded-proto").unwrap_or_else(|| "http".into());
    let host = header("x-forwarded-host")
        .or_else(|| header("host"))
        .unwrap_or_else(|| state.config.listen_address().to_string());
    format!("{proto}://{host}")
}

/// Creates a one-time registration token for a new agent; `origin` is the request's headers, for
/// the install command's hub URL.
pub async fn create_token(
    state: &AppState,
    request: CreateTokenRequest,
    origin: &HeaderMap,
) -> ServiceResult<CreatedToken> {
    let mut v = Validator::new("body");
    v.one_of("mode", &request.mode, &["readonly", "readwrite"]);
    v.opt_str_len("display_name", request.display_name.as_deref(), 0, 255);
    v.range_i64("expiry_minutes", Some(request.expiry_minutes), 5, Some(60));
    if let Some(services) = &request.monitored_services {
        v.at("monitored_services", |v| {
            for (index, name) in services.iter().enumerate() {
                v.at(index, |v| v.str_len("name", name, 1, 255));
            }
        });
    }
    v.finish()?;
    let now = state.clock.now();
    let (token, new) = tokens::new_registration_token(
        request.mode,
        request.display_name,
        request.monitored_services,
        now,
        Duration::minutes(request.expiry_minutes),
    );
    let stored = state.store.create_registration_token(&new).await?;
    let install_command = tokens::install_command(&hub_url(state, origin), &token);
    Ok(CreatedToken { token, token_prefix: stored.token_prefix, expires_at: stored.expires_at, install_command })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenInfo {
    pub id: i64,
    pub token_prefix: String,
    pub mode: String,
    pub display_name: Option<String>,
    pub monitored_services: Option<Vec<String>>,
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::rfc3339")]
    pub expires_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
    pub is_expired: bool,
    pub is_claimed: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenInfo>,
    pub total: usize,
}

fn token_info(token: RegistrationToken, now: Timestamp) -> TokenInfo {
    TokenInfo {
        id: token.id,
        is_expired: token.expires_at <= now,
        is_claimed: token.claimed_at.is_some(),
        token_prefix: token.token_prefix,
        mode: token.mode,
        display_name: token.display_name,
        monitored_services: token.monitored_services,
        expires_at: token.expires_at,
        created_at: token.created_at,
    }
}

/// Pending (unclaimed, unexpired) tokens, newest first.
pub async fn list_tokens(state: &AppState) -> ServiceResult<TokenList> {
    let now = state.clock.now();
    let tokens: Vec<TokenInfo> =
        state.store.list_registration_tokens(now).await?.into_iter().map(|t| token_info(t, now)).collect();
    Ok(TokenList { total: tokens.len(), tokens })
}

/// Revokes a token that has not been used yet.
pub async fn delete_token(state: &AppState, id: i64) -> ServiceResult<()> {
    state.store.delete_registration_token(id).await.map_err(|error| match error {
        StoreError::Conflict(message) => ServiceError::refused("TOKEN_CLAIMED", message),
        other => other.into(),
    })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ClaimRequest {
    /// The registration token (`hlh_rt_…`) from `POST /agents/register/tokens`, unclaimed and
    /// unexpired; any other is 400 `{"detail":"Invalid token"}` (or v1's other 400s), as in v1.
    #[schema(min_length = 40, max_length = 200)]
    pub token: String,
    /// Server slug: 1–100 of `a-z 0-9 -`.
    #[schema(pattern = "^[a-z0-9-]+$", min_length = 1, max_length = 100)]
    pub server_id: String,
    /// Host name, 1–255 characters.
    #[schema(min_length = 1, max_length = 255)]
    pub hostname: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClaimResponse {
    pub success: bool,
    pub server_id: String,
    pub server_guid: String,
    /// The agent's own token, shown once.
    pub api_token: String,
    /// Agent configuration in the v1 (YAML) layout.
    pub config_yaml: String,
    pub error: Option<String>,
}

/// Exchanges a registration token for a server GUID and a per-agent token. The registration
/// token is the credential.
pub async fn claim(state: &AppState, request: ClaimRequest, origin: &HeaderMap) -> ServiceResult<ClaimResponse> {
    let mut v = Validator::new("body");
    v.str_len("token", &request.token, 40, 200);
    v.slug("server_id", &request.server_id);
    v.str_len("hostname", &request.hostname, 1, 255);
    v.finish()?;
    let existing_guid = match state.store.get_server(&request.server_id).await {
        Ok(server) => server.guid,
        Err(StoreError::NotFound(_)) => None,
        Err(other) => return Err(other.into()),
    };
    let server_guid = existing_guid.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let (api_token, credential) = tokens::new_agent_token(&server_guid);
    let claimed = state
        .store
        .claim_registration_token(&TokenClaim {
            token_hash: sha256_hex(&request.token),
            server_id: request.server_id,
            hostname: request.hostname,
            server_guid,
            credential,
            now: state.clock.now(),
        })
        .await
        .map_err(|error| match error {
            StoreError::Rejected(message) => ServiceError::refused("INVALID_TOKEN", message),
            other => other.into(),
        })?;
    let mut config_yaml = format!(
        "hub_url: {}\nserver_id: {}\nserver_guid: {}\napi_token: {api_token}\nmode: {}\nheartbeat_interval: 60\n",
        hub_url(state, origin),
        claimed.server_id,
        claimed.server_guid,
        claimed.mode
    );
    if claimed.mode == "readwrite" {
        config_yaml.push_str("command_execution_enabled: true\n");
    }
    if let Some(services) = claimed.monitored_services.as_ref().filter(|s| !s.is_empty()) {
        config_yaml.push_str("monitored_services:\n");
        for service in services {
            config_yaml.push_str(&format!("  - {service}\n"));
        }
    }
    Ok(ClaimResponse {
        success: true,
        server_id: claimed.server_id,
        server_guid: claimed.server_guid,
        api_token,
        config_yaml,
        error: None,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialInfo {
    pub server_guid: String,
    pub api_token_prefix: String,
    pub is_legacy: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    #[serde(with = "time::rfc3339_option")]
    pub last_used_at: Option<Timestamp>,
    pub is_revoked: bool,
    #[schema(value_type = String, format = DateTime)]
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
}

impl From<AgentCredential> for CredentialInfo {
    fn from(c: AgentCredential) -> Self {
        CredentialInfo {
            is_revoked: c.revoked_at.is_some(),
            server_guid: c.server_guid,
            api_token_prefix: c.token_prefix,
            is_legacy: c.is_legacy,
            last_used_at: c.last_used_at,
            created_at: c.created_at,
        }
    }
}

/// The agent's current (or last) credential, without the secret.
/// A revoked credential is not found (as v1): the agent has none until it registers again.
pub async fn credential(state: &AppState, guid: &str) -> ServiceResult<CredentialInfo> {
    let credential = state.store.credential_info(guid).await?;
    if credential.revoked_at.is_some() {
        return Err(ServiceError::NotFound("Credential not found".into()));
    }
    Ok(credential.into())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RotateResponse {
    pub success: bool,
    pub server_guid: String,
    pub api_token: String,
    pub api_token_prefix: String,
    pub error: Option<String>,
}

/// Issues a new agent token and revokes the old one at once.
pub async fn rotate(state: &AppState, guid: &str) -> ServiceResult<RotateResponse> {
    let (api_token, credential) = tokens::new_agent_token(guid);
    state.store.rotate_credential(guid, &credential, state.clock.now()).await?;
    Ok(RotateResponse {
        success: true,
        server_guid: guid.to_owned(),
        api_token,
        api_token_prefix: credential.token_prefix,
        error: None,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevokeResponse {
    pub success: bool,
    pub server_guid: String,
    pub error: Option<String>,
}

/// Revokes the agent's token; its heartbeats are refused until it registers again.
pub async fn revoke(state: &AppState, guid: &str) -> ServiceResult<RevokeResponse> {
    state.store.revoke_credential(guid, state.clock.now()).await?;
    Ok(RevokeResponse { success: true, server_guid: guid.to_owned(), error: None })
}

const INSTALL_SCRIPT: &str = include_str!("../../assets/install.sh");
const AGENT_UNIT: &str = include_str!("../../../agent/dist/homelabcmd-agent.service");

/// Architectures (`uname -m`) the download route serves; anything else is not a file name we
/// would ever look up.
pub const AGENT_ARCHITECTURES: [&str; 6] = ["x86_64", "aarch64", "armv7l", "armv6l", "riscv64", "i686"];

/// A URL that is safe to paste into a shell script between double quotes: the hub URL may come
/// from request headers, so anything else is left for the person to pass with `--hub`.
fn shell_safe(url: &str) -> &str {
    let safe = url.bytes().all(|b| b.is_ascii_alphanumeric() || b":/.-_[]%@".contains(&b));
    if safe { url } else { "" }
}

/// The installer for our agent, with this hub's URL and the agent's systemd unit filled in.
pub fn install_script(state: &AppState, origin: &HeaderMap) -> String {
    let hub = hub_url(state, origin);
    INSTALL_SCRIPT.replace("__HUB_URL__", shell_safe(&hub)).replace("__UNIT__", AGENT_UNIT.trim_end())
}

/// The agent binary for `arch` from the configured directory (`homelabcmd-agent-<arch>`).
pub async fn agent_binary(state: &AppState, arch: &str) -> ServiceResult<Vec<u8>> {
    let missing = || ServiceError::NotFound(format!("No agent binary for architecture '{arch}' on this hub"));
    if !AGENT_ARCHITECTURES.contains(&arch) {
        return Err(missing());
    }
    let Some(dir) = &state.config.agent_binaries_dir else { return Err(missing()) };
    match tokio::fs::read(dir.join(format!("homelabcmd-agent-{arch}"))).await {
        Ok(bytes) => Ok(bytes),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(missing()),
        Err(error) => Err(ServiceError::Internal(format!("reading the agent binary for {arch}: {error}"))),
    }
}
