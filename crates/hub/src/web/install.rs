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
                one_command: Some(tokens::install_command(&hub, &created.token)),
                register_command: Some(tokens::register_command(&hub, &created.token)),
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
