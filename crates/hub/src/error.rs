//! One error type for every handler, rendered in the v1 shapes: `{"detail":{"code","message"}}`
//! for application errors and the pydantic-style list for validation errors (422).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use homelab_core::validate::{FieldError, ValidationErrors};
use homelab_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::service::ServiceError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A 400 with its own code (`INVALID_METRIC`, `INVALID_TOKEN`, …).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{0}")]
    Validation(ValidationErrors),
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    ServiceUnavailable(String),
    /// Too many failed authentications from this address: wait this many seconds.
    #[error("too many failed authentication attempts from this address; retry in {0} s")]
    TooManyAttempts(u64),
    /// Stored settings that cannot be read: a 500 that says which, so the admin can repair it.
    #[error("{0}")]
    StoredDataUnreadable(String),
    /// Logged in full; the client sees a generic message.
    #[error("internal error: {0}")]
    Internal(String),
    /// v1's plain-string shape, `{"detail":"…"}`, which the registration endpoints answer.
    #[error("{message}")]
    Plain { status: StatusCode, message: String },
}

/// `{"detail":{"code":…,"message":…}}`
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub detail: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

/// `{"detail":"…"}`: v1's registration errors.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlainErrorBody {
    pub detail: String,
}

/// `{"detail":[{type, loc, msg, input}]}`
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationBody {
    pub detail: Vec<FieldError>,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::StoredDataUnreadable(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Plain { status, .. } => *status,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "UNAUTHORIZED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::BadRequest { code, .. } => code,
            ApiError::Validation(_) => "VALIDATION_ERROR",
            ApiError::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            ApiError::ServiceUnavailable(_) => "SERVICE_UNAVAILABLE",
            ApiError::TooManyAttempts(_) => "TOO_MANY_ATTEMPTS",
            ApiError::StoredDataUnreadable(_) => "STORED_DATA_UNREADABLE",
            ApiError::Internal(_) => "INTERNAL_ERROR",
            ApiError::Plain { .. } => "ERROR",
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest { code, message: message.into() }
    }

    /// The registration endpoints' errors in v1's plain-string shape: a refusal is a 400, a
    /// missing token or credential a 404; validation, auth and faults keep their usual shapes.
    pub fn plain(error: ServiceError) -> Self {
        match error {
            ServiceError::NotFound(message) => ApiError::Plain { status: StatusCode::NOT_FOUND, message },
            ServiceError::Refused { message, .. } | ServiceError::Conflict(message) => {
                ApiError::Plain { status: StatusCode::BAD_REQUEST, message }
            }
            other => other.into(),
        }
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        ApiError::Validation(errors)
    }
}

/// The auth extractors read the store directly; its errors mean what they mean to the services.
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ServiceError::from(error).into()
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::NotFound(message) => ApiError::NotFound(message),
            ServiceError::Conflict(message) => ApiError::Conflict(message),
            ServiceError::Forbidden(message) => ApiError::Forbidden(message),
            ServiceError::Invalid(errors) => ApiError::Validation(errors),
            ServiceError::Refused { code, message } => ApiError::BadRequest { code, message },
            ServiceError::Unavailable(message) => ApiError::ServiceUnavailable(message),
            ServiceError::Unreadable(message) => ApiError::StoredDataUnreadable(message),
            ServiceError::Internal(message) => ApiError::Internal(message),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match self {
            ApiError::Validation(errors) => (status, Json(ValidationBody { detail: errors.0 })).into_response(),
            ApiError::Plain { message, .. } => (status, Json(PlainErrorBody { detail: message })).into_response(),
            ApiError::StoredDataUnreadable(message) => {
                tracing::error!(%message, "stored settings are unreadable");
                let body = ErrorBody { detail: ErrorDetail { code: "STORED_DATA_UNREADABLE".into(), message } };
                (status, Json(body)).into_response()
            }
            ApiError::Internal(message) => {
                tracing::error!(%message, "request failed");
                let body = ErrorBody {
                    detail: ErrorDetail {
                        code: "INTERNAL_ERROR".into(),
                        message: "The hub could not complete the request; see its log".into(),
                    },
                };
                (status, Json(body)).into_response()
            }
            ApiError::ServiceUnavailable(message) => {
                // Agents spool and retry on 503; tell them (and proxies) when.
                let body = ErrorBody { detail: ErrorDetail { code: "SERVICE_UNAVAILABLE".into(), message } };
                (status, [(axum::http::header::RETRY_AFTER, RETRY_AFTER_SECONDS)], Json(body)).into_response()
            }
            ApiError::TooManyAttempts(seconds) => {
                let message = ApiError::TooManyAttempts(seconds).to_string();
                let body = ErrorBody { detail: ErrorDetail { code: "TOO_MANY_ATTEMPTS".into(), message } };
                (status, [(axum::http::header::RETRY_AFTER, seconds.to_string())], Json(body)).into_response()
            }
            other => {
                let body = ErrorBody { detail: ErrorDetail { code: other.code().into(), message: other.to_string() } };
                (status, Json(body)).into_response()
            }
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// What a 503 asks clients to wait: long enough for a queue of writes to drain, short enough
/// that an agent's next interval is not missed.
pub const RETRY_AFTER_SECONDS: &str = "5";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_answers_say_when_to_retry() {
        let response = ApiError::from(ServiceError::from(StoreError::Overloaded("queue full".into()))).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[axum::http::header::RETRY_AFTER], RETRY_AFTER_SECONDS);
    }
}
