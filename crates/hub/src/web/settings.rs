//! Settings at `/settings`: alert thresholds, reminder intervals and notification gates, and
//! agent registration tokens (create, copy the install command, revoke), through the config and
//! registration services.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use homelab_core::alerts::thresholds::{
    CooldownsUpdate, MetricThresholdUpdate, NotificationSettings, NotificationSettingsUpdate, TemperatureLevelsUpdate,
    TemperatureThresholdsUpdate, Thresholds, ThresholdsUpdate,
};
use serde::Deserialize;

use super::session::{CsrfUser, WebUser};
use super::{Layout, error_message, render};
use crate::service::ServiceError;
use crate::service::config;
use crate::service::registration::{self, CreateTokenRequest, CreatedToken, TokenInfo};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    pub layout: Layout,
    pub thresholds: ThresholdsPartial,
    pub reminders: RemindersPartial,
    pub tokens: TokensPartial,
}

/// The token list, with the token just created (shown once) or an error.
#[derive(Template)]
#[template(path = "partials/tokens.html")]
pub struct TokensPartial {
    pub tokens: Vec<TokenInfo>,
    pub created: Option<CreatedToken>,
    pub error: Option<String>,
}

async fn tokens(state: &AppState, created: Option<CreatedToken>, error: Option<String>) -> TokensPartial {
    let (tokens, list_error) = match registration::list_tokens(state).await {
        Ok(list) => (list.tokens, None),
        Err(e) => (Vec::new(), Some(error_message(&e))),
    };
    TokensPartial { tokens, created, error: error.or(list_error) }
}

/// `GET /settings`.
pub async fn page(State(state): State<AppState>, user: WebUser) -> Response {
    let tokens = tokens(&state, None, None).await;
    let thresholds = thresholds_form(&state, None, Vec::new()).await;
    let reminders = reminders_form(&state, None, Vec::new()).await;
    render(&SettingsPage { layout: Layout::new("Settings", "settings", &user.csrf), thresholds, reminders, tokens })
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    expiry_minutes: String,
}

/// `POST /ui/tokens`: a registration token from the form's values.
pub async fn create_token(
    State(state): State<AppState>,
    _: CsrfUser,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form = serde_urlencoded::from_bytes::<TokenForm>(&body).unwrap_or(TokenForm {
        display_name: String::new(),
        mode: String::new(),
        expiry_minutes: String::new(),
    });
    let name = form.display_name.trim();
    let request = CreateTokenRequest {
        mode: if form.mode.is_empty() { "readonly".into() } else { form.mode },
        display_name: (!name.is_empty()).then(|| name.to_owned()),
        monitored_services: None,
        // A non-number is sent as 0 so that the API's range check explains the limits.
        expiry_minutes: form.expiry_minutes.trim().parse().unwrap_or(0),
    };
    let partial = match registration::create_token(&state, request, &headers).await {
        Ok(created) => tokens(&state, Some(created), None).await,
        Err(error) => tokens(&state, None, Some(error_message(&error))).await,
    };
    render(&partial)
}

/// `POST /ui/tokens/{id}/revoke`: revokes a token nobody has used yet.
pub async fn revoke_token(State(state): State<AppState>, _: CsrfUser, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return render(&tokens(&state, None, Some("That token no longer exists.".to_owned())).await);
    };
    let error = match registration::delete_token(&state, id).await {
        Ok(()) => None,
        Err(ServiceError::NotFound(_)) => Some("That token no longer exists.".to_owned()),
        Err(error) => Some(error_message(&error)),
    };
    render(&tokens(&state, None, error).await)
}

/// One metric's row of the thresholds form (text, so that a bad entry is shown back as typed).
pub struct ThresholdRow {
    pub key: &'static str,
    pub label: &'static str,
    pub high: String,
    pub critical: String,
    pub sustained: String,
    pub clear: String,
}

/// One sensor kind's row of the temperature levels.
pub struct TemperatureRow {
    pub key: &'static str,
    pub high: String,
    pub critical: String,
}

/// The thresholds form with the outcome of the last save.
#[derive(Template)]
#[template(path = "partials/thresholds.html")]
pub struct ThresholdsPartial {
    pub rows: Vec<ThresholdRow>,
    pub temperatures: Vec<TemperatureRow>,
    pub temperature_sustained: String,
    pub temperature_clear: String,
    pub offline: String,
    pub service_grace: String,
    pub message: Option<String>,
    pub errors: Vec<String>,
}

impl ThresholdsPartial {
    fn of(t: &Thresholds, message: Option<String>, errors: Vec<String>) -> Self {
        let row = |key, label, m: &homelab_core::alerts::thresholds::MetricThreshold| ThresholdRow {
            key,
            label,
            high: m.high_percent.to_string(),
            critical: m.critical_percent.to_string(),
            sustained: m.sustained_seconds.to_string(),
            clear: m.clear_seconds.to_string(),
        };
        ThresholdsPartial {
            rows: vec![row("cpu", "CPU", &t.cpu), row("memory", "Memory", &t.memory), row("disk", "Disk", &t.disk)],
            temperatures: t
                .temperature
                .kinds()
                .into_iter()
                .map(|(key, levels)| TemperatureRow {
                    key,
                    high: levels.high_celsius.to_string(),
                    critical: levels.critical_celsius.to_string(),
                })
                .collect(),
            temperature_sustained: t.temperature.sustained_seconds.to_string(),
            temperature_clear: t.temperature.clear_seconds.to_string(),
            offline: t.server_offline_seconds.to_string(),
            service_grace: t.service_grace_seconds.to_string(),
            message,
            errors,
        }
    }
}

async fn thresholds_form(state: &AppState, message: Option<String>, errors: Vec<String>) -> ThresholdsPartial {
    match config::thresholds(state).await {
        Ok(t) => ThresholdsPartial::of(&t, message, errors),
        Err(e) => ThresholdsPartial::of(&Thresholds::default(), message, vec![error_message(&e)]),
    }
}

/// `POST /ui/thresholds`: the thresholds update with the form's numbers. Entries that are not
/// whole numbers are reported here; every other rule (ranges, critical above high) is the
/// service's, and its messages are shown as they are.
pub async fn save_thresholds(State(state): State<AppState>, _: CsrfUser, body: axum::body::Bytes) -> Response {
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.trim().to_owned())).collect();
    let mut errors = Vec::new();
    let mut number = |name: &str| -> Option<i64> {
        let text = pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default();
        if text.is_empty() {
            return None;
        }
        match text.parse::<i64>() {
            Ok(value) => Some(value),
            Err(_) => {
                errors.push(format!("{}: enter a whole number (got “{text}”)", name.replace('_', " ")));
                None
            }
        }
    };
    let metric = |number: &mut dyn FnMut(&str) -> Option<i64>, key: &str| MetricThresholdUpdate {
        high_percent: number(&format!("{key}_high")),
        critical_percent: number(&format!("{key}_critical")),
        sustained_seconds: number(&format!("{key}_sustained")),
        clear_seconds: number(&format!("{key}_clear")),
        ..MetricThresholdUpdate::default()
    };
    let levels = |number: &mut dyn FnMut(&str) -> Option<i64>, kind: &str| {
        Some(TemperatureLevelsUpdate {
            high_celsius: number(&format!("temp_{kind}_high")),
            critical_celsius: number(&format!("temp_{kind}_critical")),
        })
    };
    let temperature = TemperatureThresholdsUpdate {
        cpu: levels(&mut number, "cpu"),
        drive: levels(&mut number, "drive"),
        chipset: levels(&mut number, "chipset"),
        gpu: levels(&mut number, "gpu"),
        ambient: levels(&mut number, "ambient"),
        other: levels(&mut number, "other"),
        sustained_seconds: number("temp_sustained"),
        clear_seconds: number("temp_clear"),
        hysteresis_celsius: None,
    };
    let update = ThresholdsUpdate {
        cpu: Some(metric(&mut number, "cpu")),
        memory: Some(metric(&mut number, "memory")),
        disk: Some(metric(&mut number, "disk")),
        server_offline_seconds: number("server_offline_seconds"),
        service_grace_seconds: number("service_grace_seconds"),
        temperature: Some(temperature),
    };
    if !errors.is_empty() {
        let mut form = thresholds_form(&state, None, errors).await;
        form.message = None;
        return render(&form);
    }
    match config::update_thresholds(&state, update).await {
        Ok(saved) => {
            let message = if saved.updated.is_empty() {
                "Nothing changed.".to_owned()
            } else {
                format!("Saved: {}.", saved.updated.join(", "))
            };
            render(&ThresholdsPartial::of(&saved.thresholds, Some(message), Vec::new()))
        }
        Err(ServiceError::Invalid(list)) => {
            let errors = list.0.iter().map(|e| e.msg.clone()).collect();
            render(&thresholds_form(&state, None, errors).await)
        }
        Err(e) => render(&thresholds_form(&state, None, vec![error_message(&e)]).await),
    }
}

/// One notify-on switch of the reminders form.
pub struct FlagRow {
    pub name: &'static str,
    pub label: &'static str,
    pub on: bool,
}

/// The reminder intervals (cooldowns) and the v1 notify-on switches, with the outcome of the
/// last save. The Slack URL stays with the channels, on the notifications page.
#[derive(Template)]
#[template(path = "partials/reminders.html")]
pub struct RemindersPartial {
    pub critical_minutes: String,
    pub high_minutes: String,
    pub flags: Vec<FlagRow>,
    pub message: Option<String>,
    pub errors: Vec<String>,
}

/// The switches in the form's order: name, label, value.
fn flags_of(n: &NotificationSettings) -> [(&'static str, &'static str, bool); 6] {
    [
        ("notify_on_critical", "Notify critical alerts", n.notify_on_critical),
        ("notify_on_high", "Notify high alerts", n.notify_on_high),
        ("notify_on_remediation", "Notify resolutions", n.notify_on_remediation),
        ("notify_on_auto_resolve", "Notify automatic resolutions", n.notify_on_auto_resolve),
        ("notify_on_action_failure", "Notify failed actions", n.notify_on_action_failure),
        ("notify_on_action_success", "Notify successful actions", n.notify_on_action_success),
    ]
}

impl RemindersPartial {
    fn of(n: &NotificationSettings, message: Option<String>, errors: Vec<String>) -> Self {
        RemindersPartial {
            critical_minutes: n.cooldowns.critical_minutes.to_string(),
            high_minutes: n.cooldowns.high_minutes.to_string(),
            flags: flags_of(n).into_iter().map(|(name, label, on)| FlagRow { name, label, on }).collect(),
            message,
            errors,
        }
    }
}

async fn reminders_form(state: &AppState, message: Option<String>, errors: Vec<String>) -> RemindersPartial {
    match config::notifications(state).await {
        Ok(n) => RemindersPartial::of(&n, message, errors),
        Err(e) => RemindersPartial::of(&NotificationSettings::default(), message, vec![error_message(&e)]),
    }
}

/// `POST /ui/notification-settings`: the notifications update the API makes, with the form's
/// intervals and switches (a switch not sent is off, as browsers send only ticked boxes). Entries
/// that are not whole numbers are reported here; the ranges are the service's, its messages shown
/// as they are (`cooldowns.critical_minutes: …`).
pub async fn save_reminders(State(state): State<AppState>, _: CsrfUser, body: axum::body::Bytes) -> Response {
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.trim().to_owned())).collect();
    let value = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let mut errors = Vec::new();
    let mut minutes = |name: &str| -> Option<i64> {
        let text = value(name).unwrap_or_default();
        if text.is_empty() {
            return None;
        }
        text.parse::<i64>()
            .map_err(|_| errors.push(format!("{}: enter a whole number (got “{text}”)", name.replace('_', " "))))
            .ok()
    };
    let cooldowns =
        CooldownsUpdate { critical_minutes: minutes("critical_minutes"), high_minutes: minutes("high_minutes") };
    if !errors.is_empty() {
        return refused(reminders_form(&state, None, errors).await);
    }
    let on = |name: &str| Some(value(name).is_some_and(|v| v == "true" || v == "on"));
    let update = NotificationSettingsUpdate {
        cooldowns: Some(cooldowns),
        notify_on_critical: on("notify_on_critical"),
        notify_on_high: on("notify_on_high"),
        notify_on_remediation: on("notify_on_remediation"),
        notify_on_auto_resolve: on("notify_on_auto_resolve"),
        notify_on_action_failure: on("notify_on_action_failure"),
        notify_on_action_success: on("notify_on_action_success"),
        ..NotificationSettingsUpdate::default()
    };
    match config::update_notifications(&state, update).await {
        Ok(saved) => {
            let message = if saved.updated.is_empty() {
                "Nothing changed.".to_owned()
            } else {
                format!("Saved: {}.", saved.updated.join(", "))
            };
            render(&RemindersPartial::of(&saved.notifications, Some(message), Vec::new()))
        }
        Err(ServiceError::Invalid(list)) => {
            let errors = list.0.iter().map(|e| e.msg.clone()).collect();
            refused(reminders_form(&state, None, errors).await)
        }
        Err(e) => render(&reminders_form(&state, None, vec![error_message(&e)]).await),
    }
}

/// The form with its refusal, answered 422 as the API answers it; htmx still shows it.
fn refused(partial: RemindersPartial) -> Response {
    let mut response = render(&partial);
    *response.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    response
}
