//! Extractors that turn malformed requests into 4xx answers naming the offending field,
//! instead of axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use homelab_core::validate::{FieldError, LocSegment, ValidationErrors};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest accepted request body; a heartbeat of a big machine is a few tens of KiB.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// JSON body whose parse errors become a v1 422 with the path of the field.
pub struct ApiJson<T>(pub T);

fn path_to_loc(root: &str, path: &serde_path_to_error::Path) -> Vec<LocSegment> {
    let mut loc = vec![LocSegment::from(root)];
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => loc.push(LocSegment::Index(*index)),
            serde_path_to_error::Segment::Map { key } => loc.push(LocSegment::Key(key.clone())),
            serde_path_to_error::Segment::Enum { variant } => loc.push(LocSegment::Key(variant.clone())),
            serde_path_to_error::Segment::Unknown => {}
        }
    }
    loc
}

/// Parses JSON, reporting where it failed. Valid bodies (nearly all) take the plain parser;
/// only a failed one is parsed again with path tracking, which costs on every field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let inner = error.inner();
        let (kind, loc) = if inner.is_syntax() || inner.is_eof() {
            ("json_invalid", vec![LocSegment::from("body"), LocSegment::Index(inner.column())])
        } else if inner.to_string().starts_with("missing field") {
            let field = inner.to_string().split('`').nth(1).unwrap_or_default().to_owned();
            let mut loc = path_to_loc("body", error.path());
            if !field.is_empty() {
                loc.push(LocSegment::Key(field));
            }
            ("missing", loc)
        } else {
            ("type_error", path_to_loc("body", error.path()))
        };
        let detail = inner.to_string();
        let detail = detail.split(" at line ").next().unwrap_or(&detail);
        let detail = if kind == "missing" { "field required" } else { detail };
        ApiError::Validation(ValidationErrors(vec![FieldError::new(kind, loc, detail, serde_json::Value::Null)]))
    })
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge { limit: BODY_LIMIT }
            } else {
                ApiError::bad_request("INVALID_BODY", rejection.body_text())
            }
        })?;
        if bytes.is_empty() {
            return Err(ApiError::Validation(ValidationErrors::single(
                "missing",
                vec!["body".into()],
                "a JSON body is required",
                serde_json::Value::Null,
            )));
        }
        parse_json(&bytes).map(ApiJson)
    }
}

/// Query string whose errors become a v1 422 naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer).map(ApiQuery).map_err(|error| {
            let message = error.inner().to_string();
            // serde_urlencoded reports the field inside the message rather than the path.
            let field = message.split('`').nth(1).map(str::to_owned);
            let mut loc = path_to_loc("query", error.path());
            if let (1, Some(field)) = (loc.len(), field) {
                loc.push(LocSegment::Key(field));
            }
            ApiError::Validation(ValidationErrors(vec![FieldError::new(
                "query_invalid",
                loc,
                &message,
                serde_json::Value::String(query.to_owned()),
            )]))
        })
    }
}

/// Path parameters whose errors become a v1 422 naming the parameter, instead of axum's
/// plain-text 400 (e.g. a non-numeric token id, or a server id that is not UTF-8).
pub struct ApiPath<T>(pub T);

/// The name of the route's only parameter (`/servers/{id}` → `id`), for errors that carry none.
fn only_parameter(parts: &Parts) -> Option<String> {
    let route = parts.extensions.get::<axum::extract::MatchedPath>()?.as_str();
    let mut names = route.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'));
    let name = names.next()?;
    names.next().is_none().then(|| name.trim_start_matches('*').to_owned())
}

// The one place that uses axum's `Path`, to turn its rejection into JSON.
#[allow(clippy::disallowed_types)]
impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::path::ErrorKind;
        use axum::extract::rejection::PathRejection;

        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(PathRejection::FailedToDeserializePathParams(error)) => {
                let message = error.body_text();
                let (kind, key, input) = match error.into_kind() {
                    ErrorKind::ParseErrorAtKey { key, value, .. } => ("type_error", Some(key), value),
                    ErrorKind::ParseError { value, .. } | ErrorKind::ParseErrorAtIndex { value, .. } => {
                        ("type_error", None, value)
                    }
                    ErrorKind::DeserializeError { key, value, .. } => ("type_error", Some(key), value),
                    ErrorKind::InvalidUtf8InPathParam { key } => ("string_unicode", Some(key), String::new()),
                    _ => ("type_error", None, String::new()),
                };
                let mut loc = vec![LocSegment::from("path")];
                if let Some(key) = key.or_else(|| only_parameter(parts)) {
                    loc.push(LocSegment::Key(key));
                }
                let detail = message.trim_start_matches("Invalid URL: ");
                Err(ApiError::Validation(ValidationErrors(vec![FieldError::new(kind, loc, detail, input.into())])))
            }
            Err(other) => Err(ApiError::Internal(other.body_text())),
        }
    }
}
