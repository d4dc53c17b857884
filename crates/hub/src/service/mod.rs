//! The hub's rules, once. Plain async functions over [`AppState`] that take typed input and
//! return typed results or one [`ServiceError`]. The JSON API (`crate::api`) and the dashboard
//! (`crate::web`) are thin adapters over these: they authenticate, parse the request into the
//! typed input, call one function here and shape its answer (JSON, or HTML).
//!
//! A function here that changes something also tells whoever must know after its commit (open
//! dashboards through `state.web`, the notification dispatcher through its wake-up), so neither
//! adapter can forget to.

pub mod alerts;
pub mod compat;
pub mod config;
pub mod costs;
pub mod export;
pub mod fleet;
pub mod heartbeat;
pub mod inventory;
pub mod metrics;
pub mod notifications;
pub mod preferences;
pub mod registration;
pub mod servers;
pub mod services;
pub mod status;
pub mod tags;

use homelab_core::validate::ValidationErrors;
use homelab_store::StoreError;

/// Why a service function refused or failed. Adapters map it to HTTP (`crate::error`) or to a
/// message on the page (`crate::web::error_message`).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    NotFound(String),
    /// The thing already exists (a duplicate id or name).
    #[error("{0}")]
    Conflict(String),
    /// Not allowed for this caller or in this state of the server (a token bound elsewhere).
    #[error("{0}")]
    Forbidden(String),
    /// Input that breaks a field's rule; each error names its field.
    #[error("{0}")]
    Invalid(ValidationErrors),
    /// A well-formed request the rules refuse, with a stable code (`INVALID_STATE`,
    /// `SERVICE_STILL_DOWN`, `INVALID_TOKEN`, …).
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// Stored settings the hub cannot read (damaged outside the hub); names what. The one answer
    /// everywhere, the heartbeat path included: never silent defaults, which would alert at
    /// levels nobody chose.
    #[error("{0}")]
    Unreadable(String),
    /// The hub is shutting down or the database is not answering; retrying later may work.
    #[error("{0}")]
    Unavailable(String),
    /// A fault of the hub (logged in full; users see a generic message).
    #[error("internal error: {0}")]
    Internal(String),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    pub fn refused(code: &'static str, message: impl Into<String>) -> Self {
        ServiceError::Refused { code, message: message.into() }
    }

    /// A single-field validation error (`loc` is the field's path, e.g. `["query", "range"]`).
    pub fn invalid(
        kind: &str,
        loc: Vec<homelab_core::validate::LocSegment>,
        message: &str,
        input: serde_json::Value,
    ) -> Self {
        ServiceError::Invalid(ValidationErrors::single(kind, loc, message, input))
    }
}

impl From<ValidationErrors> for ServiceError {
    fn from(errors: ValidationErrors) -> Self {
        ServiceError::Invalid(errors)
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(message) => ServiceError::NotFound(message),
            StoreError::Conflict(message) => ServiceError::Conflict(message),
            StoreError::Forbidden(message) => ServiceError::Forbidden(message),
            StoreError::Rejected(message) => ServiceError::refused("INVALID_REQUEST", message),
            StoreError::Closed => ServiceError::Unavailable("The hub is shutting down; retry shortly".into()),
            StoreError::Overloaded(message) => ServiceError::Unavailable(message),
            error @ StoreError::Unreadable { .. } => ServiceError::Unreadable(error.to_string()),
            StoreError::Config(message) | StoreError::Database(message) => ServiceError::Internal(message),
        }
    }
}
