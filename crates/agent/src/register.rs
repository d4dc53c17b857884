//! `register`: exchanges a one-time registration token for this server's GUID and per-agent
//! token (v1 §2.8 claim) and writes them into the config file, so the next step is only to
//! start the service.

use std::path::Path;

use serde::Deserialize;

use crate::client::{CLAIM_PATH, Transport, summarise};
use crate::config::{ConfigError, Settings, is_guid, is_slug, read_file};
use crate::state::{self, StateError};

/// What `register` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub hub_url: String,
    pub token: String,
    pub server_id: String,
    pub hostname: String,
}

/// What the hub handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub server_id: String,
    pub server_guid: String,
    /// Services the token was created with (from the claim's v1 `config_yaml`).
    pub monitored_services: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("cannot reach the hub at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the hub refused the registration (HTTP {status}): {detail}")]
    Refused { status: u16, detail: String },
    #[error("the hub's answer is not a claim response: {0}")]
    BadAnswer(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot write the configuration: {0}")]
    Write(#[from] StateError),
}

#[derive(Deserialize)]
struct ClaimResponse {
    server_id: String,
    server_guid: String,
    api_token: String,
    #[serde(default)]
    config_yaml: String,
}

/// Claims the token and writes `config_path` (mode 0600: it holds a secret). Settings already in
/// an existing file (services, intervals…) are kept; the hub URL and identity are replaced.
pub fn register(
    request: &Registration,
    config_path: &Path,
    transport: &dyn Transport,
) -> Result<Registered, RegisterError> {
    // Read the existing file first, so a broken one is reported before the one-time token is used.
    let existing = read_file(config_path, false)?;
    let hub_url = request.hub_url.trim().trim_end_matches('/').to_owned();
    let url = format!("{hub_url}{CLAIM_PATH}");
    let body = serde_json::json!({
        "token": request.token.trim(),
        "server_id": request.server_id,
        "hostname": request.hostname,
    });
    let response = transport
        .post_json(&url, &[], body.to_string().as_bytes())
        .map_err(|e| RegisterError::Unreachable { url: url.clone(), reason: e.0 })?;
    if !(200..300).contains(&response.status) {
        return Err(RegisterError::Refused { status: response.status, detail: summarise(&response.body) });
    }
    let claim: ClaimResponse =
        serde_json::from_str(&response.body).map_err(|e| RegisterError::BadAnswer(e.to_string()))?;
    if !is_guid(&claim.server_guid) || !is_slug(&claim.server_id) || claim.api_token.is_empty() {
        return Err(RegisterError::BadAnswer(format!(
            "server_id `{}`, server_guid `{}`",
            claim.server_id, claim.server_guid
        )));
    }
    let services = services_from_yaml(&claim.config_yaml);
    let settings = Settings {
        hub_url: Some(hub_url),
        server_id: Some(claim.server_id.clone()),
        server_guid: Some(claim.server_guid.clone()),
        api_token: Some(claim.api_token),
        api_key: None,
        monitored_services: if services.is_empty() {
            existing.monitored_services.clone()
        } else {
            Some(services.clone())
        },
        ..existing
    };
    if let Some(dir) = config_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StateError::Io { path: dir.to_owned(), source })?;
    }
    let text = format!(
        "# Written by `homelabcmd-agent register`. Keys: see `homelabcmd-agent --help`.\n{}",
        settings.to_toml()?
    );
    state::write_atomically(config_path, text.as_bytes(), 0o600)?;
    Ok(Registered {
        server_id: claim.server_id,
        server_guid: claim.server_guid,
        monitored_services: settings.monitored_services.unwrap_or_default(),
    })
}

/// The `monitored_services:` list of the claim's v1 YAML (`  - name` lines). Only this one list
/// is needed, so a YAML parser is not worth its weight.
pub fn services_from_yaml(yaml: &str) -> Vec<String> {
    let mut services = Vec::new();
    let mut inside = false;
    for line in yaml.lines() {
        if line.trim_end() == "monitored_services:" {
            inside = true;
        } else if inside {
            match line.trim_start().strip_prefix("- ") {
                Some(item) if line.starts_with(' ') || line.starts_with('-') => {
                    let name = item.trim().trim_matches(|c| c == '"' || c == '\'');
                    if !name.is_empty() {
                        services.push(name.to_owned());
                    }
                }
                _ => inside = false,
            }
        }
    }
    services
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;
    use crate::client::{HttpResponse, TransportError};

    const GUID: &str = "0b6c1a3e-7f2d-4c4b-9e1a-5d2f3c4b5a69";

    struct Hub {
        answer: HttpResponse,
        sent: RefCell<Vec<(String, String)>>,
    }

    impl Transport for Hub {
        fn post_json(&self, url: &str, _: &[(&str, &str)], body: &[u8]) -> Result<HttpResponse, TransportError> {
            self.sent.borrow_mut().push((url.to_owned(), String::from_utf8_lossy(body).into_owned()));
            Ok(self.answer.clone())
        }
    }

    fn request() -> Registration {
        Registration {
            hub_url: "http://hub:8080/".into(),
            token: "hlh_rt_abc".into(),
            server_id: "nas".into(),
            hostname: "nas.lan".into(),
        }
    }

    #[test]
    fn claim_writes_a_private_config_and_keeps_other_settings() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etc/config.toml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "heartbeat_interval = 30\napi_key = \"old\"\n").unwrap();
        let body = serde_json::json!({
            "success": true, "server_id": "nas", "server_guid": GUID, "api_token": "hlh_ag_secret",
            "config_yaml": "hub_url: x\nmonitored_services:\n  - plex\n  - smbd\nmode: readonly\n", "error": null
        });
        let hub = Hub { answer: HttpResponse { status: 200, body: body.to_string() }, sent: RefCell::default() };
        let registered = register(&request(), &path, &hub).unwrap();
        assert_eq!(registered.server_guid, GUID);
        assert_eq!(registered.monitored_services, vec!["plex".to_owned(), "smbd".to_owned()]);
        let (url, sent) = hub.sent.borrow()[0].clone();
        assert_eq!(url, "http://hub:8080/api/v1/agents/register/claim");
        let sent: serde_json::Value = serde_json::from_str(&sent).unwrap();
        assert_eq!(sent, serde_json::json!({"token": "hlh_rt_abc", "server_id": "nas", "hostname": "nas.lan"}));

        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let written = Settings::from_toml(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(written.hub_url.as_deref(), Some("http://hub:8080"));
        assert_eq!(written.api_token.as_deref(), Some("hlh_ag_secret"));
        assert_eq!(written.server_guid.as_deref(), Some(GUID));
        assert_eq!(written.api_key, None, "the token replaces the admin key");
        assert_eq!(written.heartbeat_interval, Some(30));
        let config = crate::config::resolve(written, Settings::default(), Settings::default()).unwrap();
        assert_eq!(config.auth, crate::config::Auth::Token("hlh_ag_secret".into()));
    }

    #[test]
    fn refusal_shows_the_hubs_reason_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let hub = Hub {
            answer: HttpResponse { status: 400, body: r#"{"detail":"Token has expired"}"#.into() },
            sent: RefCell::default(),
        };
        let error = register(&request(), &path, &hub).unwrap_err();
        assert_eq!(error.to_string(), "the hub refused the registration (HTTP 400): Token has expired");
        assert!(!path.exists());
    }

    #[test]
    fn services_list_from_v1_yaml() {
        assert_eq!(services_from_yaml("a: b\nmonitored_services:\n  - x\n  - \"y\"\nmode: ro\n- z\n"), vec!["x", "y"]);
        assert!(services_from_yaml("hub_url: x\n").is_empty());
    }
}
