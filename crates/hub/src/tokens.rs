//! Secrets handed to agents: one-time registration tokens and per-agent tokens. Only their
//! SHA-256 hashes are stored; the plain token is shown once. Shared by the API and the CLI.

use chrono::Duration;
use homelab_core::time::Timestamp;
use homelab_store::{NewCredential, NewRegistrationToken};
use rand::RngCore;

use crate::auth::sha256_hex;

const REGISTRATION_PREFIX: &str = "hlh_rt_";
const AGENT_PREFIX: &str = "hlh_ag_";

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// `hlh_rt_<64 hex>` and what to store of it.
pub fn new_registration_token(
    mode: String,
    display_name: Option<String>,
    monitored_services: Option<Vec<String>>,
    now: Timestamp,
    valid_for: Duration,
) -> (String, NewRegistrationToken) {
    let token = format!("{REGISTRATION_PREFIX}{}", random_hex());
    let stored = NewRegistrationToken {
        token_hash: sha256_hex(&token),
        token_prefix: token.chars().take(16).collect(),
        mode,
        display_name,
        monitored_services,
        expires_at: now + valid_for,
        created_at: now,
    };
    (token, stored)
}

/// `hlh_ag_<first 8 of GUID>_<64 hex>`: the GUID fragment tells an operator whose token it is.
pub fn new_agent_token(guid: &str) -> (String, NewCredential) {
    let token = format!("{AGENT_PREFIX}{}_{}", guid.get(..8).unwrap_or(guid), random_hex());
    let credential = NewCredential { token_hash: sha256_hex(&token), token_prefix: token.chars().take(20).collect() };
    (token, credential)
}

/// What to run on the new machine (v1's form): the hub's installer fetches the agent, writes
/// the unit, claims the token and starts the service.
pub fn install_command(hub_url: &str, token: &str) -> String {
    format!("curl -sSL {hub_url}/api/v1/agents/register/install.sh | sudo bash -s -- --token {token}")
}

/// What to run where the agent is already installed: it claims the token itself.
pub fn register_command(hub_url: &str, token: &str) -> String {
    format!("homelabcmd-agent register --hub {hub_url} --token {token}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_fetch_the_installer_or_register_with_this_hub() {
        assert_eq!(
            install_command("http://hub.lan:8080", "hlh_rt_abc"),
            "curl -sSL http://hub.lan:8080/api/v1/agents/register/install.sh | sudo bash -s -- --token hlh_rt_abc"
        );
        assert_eq!(
            register_command("http://hub.lan:8080", "hlh_rt_abc"),
            "homelabcmd-agent register --hub http://hub.lan:8080 --token hlh_rt_abc"
        );
    }

    #[test]
    fn token_formats() {
        let now = homelab_core::time::parse("2026-01-19T12:00:00Z").unwrap();
        let (token, stored) = new_registration_token("readonly".into(), None, None, now, Duration::minutes(15));
        assert!(token.starts_with("hlh_rt_") && token.len() == 7 + 64);
        assert_eq!(stored.token_prefix, &token[..16]);
        assert_eq!(stored.token_hash, sha256_hex(&token));
        let (agent, credential) = new_agent_token("3f2b8a1e-9c4d-4e5f-8a6b-7c8d9e0f1a2b");
        assert!(agent.starts_with("hlh_ag_3f2b8a1e_") && agent.len() == 16 + 64);
        assert_eq!(credential.token_prefix, &agent[..20]);
    }
}
