//! Alert configuration (v1 §2.7): thresholds and notification settings, typed rows in the store
//! with the v1 defaults when none was saved. Updates are partial and validated after
//! merging, so a cross-field rule (critical above high) is checked on the document that would be
//! stored; every accepted field is stored and read by the engine (`server_offline_seconds` too,
//! which v1 ignored).

use std::sync::{Arc, Mutex};

use homelab_core::alerts::{NotificationSettings, NotificationSettingsUpdate, Thresholds, ThresholdsUpdate};
use homelab_store::{Change, StoreError, StoreResult};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ServiceError, ServiceResult};
use crate::state::AppState;

/// A change of a stored setting that may refuse with a [`ServiceError`] (a validation error
/// naming the field), which the store's [`Change`] cannot carry: the refusal waits beside it and
/// [`Guarded::outcome`] returns it after the store has rolled back.
pub struct Guarded<R> {
    result: Arc<Mutex<Option<ServiceResult<R>>>>,
}

/// Wraps `change` for the store: it edits the stored value in place and returns what the caller
/// answers with.
pub fn guarded<T, R>(change: impl FnOnce(&mut T) -> ServiceResult<R> + Send + 'static) -> (Change<T>, Guarded<R>)
where
    T: Send + 'static,
    R: Send + 'static,
{
    let result: Arc<Mutex<Option<ServiceResult<R>>>> = Arc::default();
    let slot = Arc::clone(&result);
    let store_change: Change<T> = Box::new(move |mut value| {
        let outcome = change(&mut value);
        let refused = outcome.is_err();
        if let Ok(mut slot) = slot.lock() {
            *slot = Some(outcome);
        }
        if refused { Err(StoreError::Rejected("the change was refused".into())) } else { Ok(value) }
    });
    (store_change, Guarded { result })
}

impl<R> Guarded<R> {
    /// The change's answer once the store has run it; `saved` is what the store returned.
    pub fn outcome<T>(self, saved: StoreResult<T>) -> ServiceResult<R> {
        let result = self.result.lock().ok().and_then(|mut slot| slot.take());
        match (saved, result) {
            (_, Some(Err(refusal))) => Err(refusal),
            (Ok(_), Some(Ok(value))) => Ok(value),
            (Err(error), _) => Err(error.into()),
            (Ok(_), None) => Err(ServiceError::Internal("the settings change did not run".into())),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigResponse {
    pub thresholds: Thresholds,
    pub notifications: NotificationSettings,
}

/// Both documents, defaults filled in, the v1 Slack URL masked.
pub async fn all(state: &AppState) -> ServiceResult<ConfigResponse> {
    Ok(ConfigResponse { thresholds: thresholds(state).await?, notifications: notifications_shown(state).await? })
}

/// The v1 Slack URL is a secret like every channel's webhook URL (its path lets anyone post to
/// the channel), so it is shown as channels show theirs: scheme and host only
/// (`https://hooks.slack.com/…`). It is write-only: the masked form sent back changes nothing.
fn shown(mut settings: NotificationSettings) -> NotificationSettings {
    settings.slack_webhook_url = crate::notify::config::redact_url(&settings.slack_webhook_url);
    settings
}

pub async fn thresholds(state: &AppState) -> ServiceResult<Thresholds> {
    Ok(state.store.thresholds().await?)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ThresholdsUpdated {
    /// Dotted names of the fields whose value changed (`cpu.high_percent`, …).
    pub updated: Vec<String>,
    pub thresholds: Thresholds,
}

/// Partial update; `null` and absent fields keep their values. Validated after merging, so the
/// critical-above-high rule is checked on the document that would be stored.
pub async fn update_thresholds(state: &AppState, update: ThresholdsUpdate) -> ServiceResult<ThresholdsUpdated> {
    let (change, guard) = guarded(move |current: &mut Thresholds| {
        let merged = current.merge(&update)?;
        *current = merged.config;
        Ok((merged.updated, merged.config))
    });
    let (updated, thresholds) = guard.outcome(state.store.update_thresholds(change, state.clock.now()).await)?;
    Ok(ThresholdsUpdated { updated, thresholds })
}

/// The stored settings with the v1 Slack URL in full, for the dispatcher; never shown.
pub async fn notifications(state: &AppState) -> ServiceResult<NotificationSettings> {
    Ok(state.store.notification_settings().await?)
}

/// The settings as the API shows them: the v1 Slack URL masked.
pub async fn notifications_shown(state: &AppState) -> ServiceResult<NotificationSettings> {
    Ok(shown(notifications(state).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationsUpdated {
    pub updated: Vec<String>,
    pub notifications: NotificationSettings,
}

/// Partial update of all eight v1 settings (v1 silently dropped three of them).
pub async fn update_notifications(
    state: &AppState,
    update: NotificationSettingsUpdate,
) -> ServiceResult<NotificationsUpdated> {
    let mut update = update;
    let (change, guard) = guarded(move |current: &mut NotificationSettings| {
        let masked = crate::notify::config::redact_url(&current.slack_webhook_url);
        if !current.slack_webhook_url.is_empty() && update.slack_webhook_url.as_deref() == Some(masked.as_str()) {
            update.slack_webhook_url = None;
        }
        let merged = current.merge(&update)?;
        *current = merged.config.clone();
        Ok((merged.updated, merged.config))
    });
    let saved = state.store.update_notification_settings(change, state.clock.now()).await;
    let (updated, notifications) = guard.outcome(saved)?;
    Ok(NotificationsUpdated { updated, notifications: shown(notifications) })
}
