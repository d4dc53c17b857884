//! Authentication extractors: the admin API key, and agent credentials for heartbeats.
//!
//! Secrets are compared in constant time; agent tokens are stored and compared as SHA-256
//! hashes, so a database leak does not leak usable tokens.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

pub const API_KEY_HEADER: &str = "X-API-Key";
pub const AGENT_TOKEN_HEADER: &str = "X-Agent-Token";
pub const SERVER_GUID_HEADER: &str = "X-Server-GUID";

/// Equality that takes the same time wherever the inputs differ.
pub fn secrets_equal(a: &[u8], b: &[u8]) -> bool {
    // Hashing first makes the comparison independent of the lengths as well.
    Sha256::digest(a).as_slice().ct_eq(Sha256::digest(b).as_slice()).into()
}

pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The client's address, as the connection saw it (a reverse proxy's own address behind one).
pub fn peer(parts: &Parts) -> Option<std::net::IpAddr> {
    parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip())
}

/// Runs one credential check under the per-address throttle: a blocked address is answered 429
/// without a check; a failure is counted (and may block), a success clears the record.
pub fn throttled<T>(
    state: &AppState,
    address: Option<std::net::IpAddr>,
    check: impl FnOnce() -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let Some(address) = address else { return check() };
    let now = state.clock.now();
    state.auth_throttle.check(address, now).map_err(ApiError::TooManyAttempts)?;
    match check() {
        Ok(value) => {
            state.auth_throttle.succeeded(address);
            Ok(value)
        }
        Err(ApiError::Unauthorized(message)) => {
            state.auth_throttle.failed(address, now).map_err(ApiError::TooManyAttempts)?;
            Err(ApiError::Unauthorized(message))
        }
        Err(other) => Err(other),
    }
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty())
}

/// Proof that the request carried the admin API key. Only this extractor makes one (the field
/// is private), so a handler that takes it cannot be reached without the key.
pub struct AdminAuth(());

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        throttled(state, peer(parts), || match header(parts, API_KEY_HEADER) {
            Some(key) if secrets_equal(key.as_bytes(), state.config.api_key.as_bytes()) => Ok(AdminAuth(())),
            _ => Err(ApiError::Unauthorized("Invalid or missing API key")),
        })
    }
}

/// Who sent a heartbeat: an agent with its own token (bound to one server GUID), or a holder of
/// the admin key (v1 "legacy" agents).
pub enum AgentAuth {
    Agent { server_guid: String },
    AdminKey,
}

impl FromRequestParts<AppState> for AgentAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let (Some(token), Some(guid)) = (header(parts, AGENT_TOKEN_HEADER), header(parts, SERVER_GUID_HEADER)) {
            // No fallback to the API key once agent headers are sent (as in v1).
            let credential = state.store.active_credential(guid).await?;
            let presented = sha256_hex(token);
            return throttled(state, peer(parts), || match credential {
                Some(credential) if secrets_equal(presented.as_bytes(), credential.token_hash.as_bytes()) => {
                    Ok(AgentAuth::Agent { server_guid: credential.server_guid })
                }
                _ => Err(ApiError::Unauthorized("Invalid agent token or server GUID")),
            });
        }
        throttled(state, peer(parts), || match header(parts, API_KEY_HEADER) {
            Some(key) if secrets_equal(key.as_bytes(), state.config.api_key.as_bytes()) => Ok(AgentAuth::AdminKey),
            _ => Err(ApiError::Unauthorized("Invalid or missing authentication")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_by_content() {
        assert!(secrets_equal(b"abc", b"abc"));
        assert!(!secrets_equal(b"abc", b"abd"));
        assert!(!secrets_equal(b"abc", b"abcd"));
    }

    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
