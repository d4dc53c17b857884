//! "Add a machine": a registration token created from the dashboard and the one command that
//! installs the agent with it, offered on the fleet page and on a machine still waiting for its
//! first heartbeat, so that a new user never has to find the tokens under Settings.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::session::CsrfUser;
use super::{error_message, error_status, render};
use crate::service::registration::{self, CreateTokenRequest};
use crate::state::AppState;
use crate::tokens;

/// How long a token made here stays valid: the longest the API allows, time enough to open a
/// shell on the new machine.
const EXPIRY_MINUTES: i64 = 60;

/// The form, and once a token exists the commands that use it (shown only now).
#[derive(Template, Default)]
#[template(path = "partials/install.html")]
pub struct InstallPartial {
    /// Prefilled machine name (a machine added by hand that is waiting for its agent).
    pub name: String,
    pub one_command: Option<String>,
    pub register_command: Option<String>,
    /// "at 14:05 UTC".
    pub expires: Option<String>,
    pub error: Option<String>,
}

impl InstallPartial {
    pub fn for_name(name: &str) -> Self {
        InstallPartial { name: name.to_owned(), ..InstallPartial::default() }
    }
}

/// The command that downloads the installer from this hub and registers the agent with `token`.
pub fn one_command(hub_url: &str, token: &str) -> String {
    format!("curl -fsSL {hub_url}/api/v1/agents/register/install.sh | sudo bash -s -- --token {token}")
}

#[derive(Deserialize, Default)]
pub struct InstallForm {
    #[serde(default)]
    display_name: String,
}

/// `POST /ui/install`: a registration token and the commands that use it.
pub async fn create(
    State(state): State<AppState>,
    _: CsrfUser,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form = serde_urlencoded::from_bytes::<InstallForm>(&body).unwrap_or_default();
    let name = form.display_name.trim().to_owned();
    let request = CreateTokenRequest {
        mode: "readonly".into(),
        display_name: (!name.is_empty()).then(|| name.clone()),
        monitored_services: None,
        expiry_minutes: EXPIRY_MINUTES,
    };
    match registration::create_token(&state, request, &headers).await {
        Ok(created) => {
            let hub = registration::hub_url(&state, &headers);
            render(&InstallPartial {
                one_command: Some(one_command(&hub, &created.token)),
                register_command: Some(tokens::install_command(&hub, &created.token)),
                expires: Some(created.expires_at.format("at %H:%M UTC").to_string()),
                name,
                error: None,
            })
        }
        Err(error) => {
            let mut response =
                render(&InstallPartial { error: Some(error_message(&error)), name, ..Default::default() });
            if matches!(error_status(&error), StatusCode::UNPROCESSABLE_ENTITY) {
                *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::one_command;

    #[test]
    fn the_one_command_fetches_the_installer_from_this_hub() {
        assert_eq!(
            one_command("http://hub.lan:8080", "hlh_rt_abc"),
            "curl -fsSL http://hub.lan:8080/api/v1/agents/register/install.sh | sudo bash -s -- --token hlh_rt_abc"
        );
    }
}
