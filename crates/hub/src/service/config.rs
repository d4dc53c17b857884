//! Alert configuration (v1 §2.7): thresholds and notification settings as JSON documents in the
//! settings table, with the v1 defaults when absent. Updates are partial and validated after
//! merging, so a cross-field rule (critical above high) is checked on the document that would be
//! stored; every accepted field is stored and read by the engine (`server_offline_seconds` too,
//! which v1 ignored).

use std::sync::{Arc, Mutex};

use homelab_core::alerts::{NotificationSettings, NotificationSettingsUpdate, Thresholds, ThresholdsUpdate};
use homelab_store::{SettingChange, StoreError};
use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use super::{ServiceError, ServiceResult};
use crate::state::AppState;

/// Settings keys, shared with the store's engine wiring.
pub const THRESHOLDS_KEY: &str = "thresholds";
pub const NOTIFICATIONS_KEY: &str = "notifications";

/// The stored document `key`, or its defaults when none was saved.
fn document<T: DeserializeOwned + Default>(key: &str, stored: Option<serde_json::Value>) -> Result<T, String> {
    match stored {
        Some(value) => {
            serde_json::from_value(value).map_err(|e| format!("the stored '{key}' settings are unreadable: {e}"))
        }
        None => Ok(T::default()),
    }
}

/// A settings document, or its defaults when none was saved.
pub async fn load<T: DeserializeOwned + Default>(state: &AppState, key: &str) -> ServiceResult<T> {
    document(key, state.store.get_setting(key).await?).map_err(ServiceError::Internal)
}

/// Changes a settings document in one store transaction, so that concurrent edits (two people,
/// or two hubs) apply one after the other instead of overwriting each other. `change` edits the
/// document (its defaults when none was saved) and may refuse with any [`ServiceError`], which is
/// returned as is and saves nothing. It may run more than once.
pub async fn update<T, R, F>(state: &AppState, key: &str, change: F) -> ServiceResult<R>
where
    T: DeserializeOwned + Serialize + Default,
    R: Send + 'static,
    F: Fn(&mut T) -> ServiceResult<R> + Send + Sync + 'static,
{
    let outcome: Arc<Mutex<Option<ServiceResult<R>>>> = Arc::default();
    let slot = Arc::clone(&outcome);
    let name = key.to_owned();
    let store_change: SettingChange = Box::new(move |stored| {
        let mut current: T = document(&name, stored).map_err(StoreError::Database)?;
        let result = change(&mut current);
        let refused = result.is_err();
        if let Ok(mut slot) = slot.lock() {
            *slot = Some(result);
        }
        if refused {
            return Err(StoreError::Rejected("the change was refused".into()));
        }
        serde_json::to_value(&current).map_err(|e| StoreError::Database(e.to_string()))
    });
    let saved = state.store.update_setting(key, store_change, state.clock.now()).await;
    let result = outcome.lock().ok().and_then(|mut slot| slot.take());
    match (saved, result) {
        (_, Some(Err(refusal))) => Err(refusal),
        (Ok(_), Some(Ok(value))) => Ok(value),
        (Err(error), _) => Err(error.into()),
        (Ok(_), None) => Err(ServiceError::Internal(format!("the '{key}' settings change did not run"))),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigResponse {
    pub thresholds: Thresholds,
    pub notifications: NotificationSettings,
}

/// Both documents, defaults filled in.
pub async fn all(state: &AppState) -> ServiceResult<ConfigResponse> {
    Ok(ConfigResponse { thresholds: thresholds(state).await?, notifications: notifications(state).await? })
}

pub async fn thresholds(state: &AppState) -> ServiceResult<Thresholds> {
    load(state, THRESHOLDS_KEY).await
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
    let (updated, thresholds) = self::update(state, THRESHOLDS_KEY, move |current: &mut Thresholds| {
        let merged = current.merge(&update)?;
        *current = merged.config;
        Ok((merged.updated, merged.config))
    })
    .await?;
    Ok(ThresholdsUpdated { updated, thresholds })
}

pub async fn notifications(state: &AppState) -> ServiceResult<NotificationSettings> {
    load(state, NOTIFICATIONS_KEY).await
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
    let (updated, notifications) = self::update(state, NOTIFICATIONS_KEY, move |current: &mut NotificationSettings| {
        let merged = current.merge(&update)?;
        *current = merged.config.clone();
        Ok((merged.updated, merged.config))
    })
    .await?;
    Ok(NotificationsUpdated { updated, notifications })
}
