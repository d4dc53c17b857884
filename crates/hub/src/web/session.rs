//! Dashboard login: the admin API key is exchanged once for a session cookie (HttpOnly,
//! SameSite=Strict, Secure behind HTTPS), so the key never lives in the browser. Sessions are
//! kept in memory (a restart logs everyone out, which is acceptable for one admin).
//!
//! Every state-changing request must carry the session's CSRF token in `X-CSRF-Token`; htmx
//! sends it from the page's `hx-headers`. SameSite=Strict already stops cross-site posts in
//! current browsers; the token covers older ones and same-site subdomains.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use rand::RngCore;
use serde::Deserialize;

use crate::auth::secrets_equal;
use crate::state::AppState;

pub const COOKIE: &str = "hlc_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Idle sessions end after this long; each request extends it.
const IDLE_TIMEOUT: Duration = Duration::from_secs(12 * 3600);
/// Bounds memory if someone logs in in a loop.
const MAX_SESSIONS: usize = 1000;

struct Session {
    csrf: String,
    expires: Instant,
}

/// Server-side sessions keyed by a random id.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl Sessions {
    /// Starts a session; returns `(session id, CSRF token)`.
    pub fn create(&self) -> (String, String) {
        let (id, csrf) = (random_token(), random_token());
        let now = Instant::now();
        if let Ok(mut map) = self.map.lock() {
            map.retain(|_, s| s.expires > now);
            if map.len() >= MAX_SESSIONS {
                // Drop the session closest to expiry rather than refuse the login.
                if let Some(oldest) = map.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| k.clone()) {
                    map.remove(&oldest);
                }
            }
            map.insert(id.clone(), Session { csrf: csrf.clone(), expires: now + IDLE_TIMEOUT });
        }
        (id, csrf)
    }

    /// The CSRF token of a live session (extending it), or `None`.
    pub fn touch(&self, id: &str) -> Option<String> {
        let now = Instant::now();
        let mut map = self.map.lock().ok()?;
        let session = map.get_mut(id)?;
        if session.expires <= now {
            map.remove(id);
            return None;
        }
        session.expires = now + IDLE_TIMEOUT;
        Some(session.csrf.clone())
    }

    pub fn remove(&self, id: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(id);
        }
    }
}

/// The value of our session cookie, if the request has one.
pub fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// A logged-in dashboard user. Pages redirect to the login page without one; htmx requests get
/// `HX-Redirect` so that the whole page goes there, not a fragment.
pub struct WebUser {
    pub session: String,
    pub csrf: String,
}

pub struct LoginRequired {
    htmx: bool,
}

impl IntoResponse for LoginRequired {
    fn into_response(self) -> Response {
        if self.htmx {
            (StatusCode::UNAUTHORIZED, [("hx-redirect", "/login")]).into_response()
        } else {
            Redirect::to("/login").into_response()
        }
    }
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = LoginRequired;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let htmx = super::is_htmx(&parts.headers);
        let session = session_id(&parts.headers).ok_or(LoginRequired { htmx })?;
        let csrf = state.web.sessions.touch(&session).ok_or(LoginRequired { htmx })?;
        Ok(WebUser { session, csrf })
    }
}

/// A logged-in user whose request carries the right CSRF token: required for every
/// state-changing dashboard request. A missing or wrong token is a 403.
pub struct CsrfUser(pub WebUser);

pub enum CsrfRejection {
    Login(LoginRequired),
    BadToken,
}

impl IntoResponse for CsrfRejection {
    fn into_response(self) -> Response {
        match self {
            CsrfRejection::Login(login) => login.into_response(),
            CsrfRejection::BadToken => super::error_toast(
                StatusCode::FORBIDDEN,
                "This page is out of date (missing or wrong security token). Reload it and try again.",
            ),
        }
    }
}

impl FromRequestParts<AppState> for CsrfUser {
    type Rejection = CsrfRejection;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let user = WebUser::from_request_parts(parts, state).await.map_err(CsrfRejection::Login)?;
        let presented = parts.headers.get(CSRF_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
        if secrets_equal(presented, user.csrf.as_bytes()) { Ok(CsrfUser(user)) } else { Err(CsrfRejection::BadToken) }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub assets: &'static super::assets::AssetUrls,
    pub error: Option<String>,
}

pub async fn login_page() -> Response {
    super::render(&LoginPage { assets: super::assets::urls(), error: None })
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    api_key: String,
}

/// Whether the browser reached us over HTTPS (directly or through a proxy that says so).
fn is_https(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// `POST /login` (a plain form post, no htmx): checks the key in constant time and sets the
/// session cookie.
pub async fn login(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let body = axum::body::to_bytes(body, crate::extract::BODY_LIMIT).await.unwrap_or_default();
    let form: LoginForm = serde_urlencoded::from_bytes(&body).unwrap_or(LoginForm { api_key: String::new() });
    let key = form.api_key.trim();
    let checked = crate::auth::throttled(&state, crate::auth::peer(&parts), || {
        if key.is_empty() || !secrets_equal(key.as_bytes(), state.config.api_key.as_bytes()) {
            Err(crate::error::ApiError::Unauthorized("That key is not the hub's API key."))
        } else {
            Ok(())
        }
    });
    if let Err(error) = checked {
        let (status, retry_after) = match error {
            crate::error::ApiError::TooManyAttempts(seconds) => (StatusCode::TOO_MANY_REQUESTS, Some(seconds)),
            _ => (StatusCode::UNAUTHORIZED, None),
        };
        let page = LoginPage { assets: super::assets::urls(), error: Some(error.to_string()) };
        let mut response = (status, super::render(&page)).into_response();
        if let Some(seconds) = retry_after
            && let Ok(value) = header::HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let (id, _) = state.web.sessions.create();
    let secure = if is_https(headers) { "; Secure" } else { "" };
    let cookie =
        format!("{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}", IDLE_TIMEOUT.as_secs());
    (StatusCode::SEE_OTHER, [(header::SET_COOKIE, cookie), (header::LOCATION, "/".to_owned())]).into_response()
}

/// `POST /logout` (htmx, CSRF-checked): ends the session and clears the cookie.
pub async fn logout(State(state): State<AppState>, CsrfUser(user): CsrfUser) -> Response {
    state.web.sessions.remove(&user.session);
    let cookie = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    let redirect = header::HeaderName::from_static("hx-redirect");
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie), (redirect, "/login".to_owned())]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_start_touch_and_end() {
        let sessions = Sessions::default();
        let (id, csrf) = sessions.create();
        assert_eq!(id.len(), 64);
        assert_ne!(id, csrf);
        assert_eq!(sessions.touch(&id).as_deref(), Some(csrf.as_str()));
        sessions.remove(&id);
        assert_eq!(sessions.touch(&id), None);
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, "theme=dark; hlc_session=abc123; other=1".parse().unwrap());
        assert_eq!(session_id(&headers).as_deref(), Some("abc123"));
        headers.insert(header::COOKIE, "hlc_sessionx=1".parse().unwrap());
        assert_eq!(session_id(&headers), None);
    }
}
