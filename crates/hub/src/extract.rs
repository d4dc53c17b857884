//! Extractors that turn malformed requests into 4xx answers naming the offending field,
//! instead of axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use homelab_core::validate::{FieldError, LocSegment, ValidationErrors};
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::strict_json::Strict;

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

/// The one kind of valid JSON text the hub cannot keep: PostgreSQL's `TEXT` has no NUL, and a
/// NUL in a host, service or package name is a collector's fault, not data worth keeping. Both
/// backends refuse it the same way (422 naming the field) rather than store it on one only.
const NUL_KIND: &str = "string_nul_character";
const NUL_DETAIL: &str = "may not contain a NUL character (U+0000)";

/// Every place in `value` holding a NUL, keys included, as `loc` paths under `root`.
fn nul_locations(value: &serde_json::Value, loc: &mut Vec<LocSegment>, found: &mut Vec<FieldError>) {
    match value {
        serde_json::Value::String(text) if text.contains('\0') => {
            found.push(FieldError::new(NUL_KIND, loc.clone(), NUL_DETAIL, value.clone()));
        }
        serde_json::Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                loc.push(LocSegment::Index(index));
                nul_locations(item, loc, found);
                loc.pop();
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                loc.push(LocSegment::Key(key.clone()));
                if key.contains('\0') {
                    found.push(FieldError::new(NUL_KIND, loc.clone(), NUL_DETAIL, serde_json::Value::Null));
                } else {
                    nul_locations(item, loc, found);
                }
                loc.pop();
            }
        }
        _ => {}
    }
}

/// Refuses a body with a NUL anywhere. JSON can only carry one escaped (`\u0000`), so bodies
/// without that sequence (nearly all) cost one scan and are never parsed twice.
fn refuse_nul(bytes: &[u8]) -> Result<(), ApiError> {
    if !bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else { return Ok(()) };
    let mut found = Vec::new();
    nul_locations(&value, &mut vec![LocSegment::from("body")], &mut found);
    if found.is_empty() { Ok(()) } else { Err(ApiError::Validation(ValidationErrors(found))) }
}

/// Parses JSON strictly (see [`crate::strict_json`]), reporting where it failed. Valid bodies
/// (nearly all) are read once as they stream, with no tree built and no path tracked; only a
/// failed one is read again to say where, which costs on every field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    refuse_nul(bytes)?;
    let mut stream = serde_json::Deserializer::from_slice(bytes);
    if let Ok(value) = T::deserialize(Strict(&mut stream))
        && stream.end().is_ok()
    {
        return Ok(value);
    }
    // Valid JSON that does not fit: read from its tree, where a repeated key is the last one
    // given (as v1 reads it) rather than serde's "duplicate field".
    if let Ok(tree) = serde_json::from_slice::<serde_json::Value>(bytes) {
        return serde_path_to_error::deserialize(Strict(&tree)).map_err(json_error);
    }
    // Not JSON at all: the streaming parse says where.
    let mut stream = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(Strict(&mut stream)).map_err(json_error)?;
    // The path-tracking parse stops after the value; what follows it (`{…}garbage`) is an error.
    stream.end().map_err(|inner| {
        let loc = vec![LocSegment::from("body"), LocSegment::Index(inner.column())];
        let detail = inner.to_string();
        let detail = detail.split(" at line ").next().unwrap_or(&detail).to_owned();
        ApiError::Validation(ValidationErrors(vec![FieldError::new(
            "json_invalid",
            loc,
            &detail,
            serde_json::Value::Null,
        )]))
    })?;
    Ok(value)
}

/// A parse error as a v1 422 naming where it happened.
fn json_error(error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
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
        let nul: Vec<FieldError> = form_urlencoded::parse(query.as_bytes())
            .filter(|(key, value)| key.contains('\0') || value.contains('\0'))
            .map(|(key, value)| {
                let loc = vec![LocSegment::from("query"), LocSegment::Key(key.replace('\0', "\\u0000"))];
                FieldError::new(NUL_KIND, loc, NUL_DETAIL, serde_json::Value::String(value.into_owned()))
            })
            .collect();
        if !nul.is_empty() {
            return Err(ApiError::Validation(ValidationErrors(nul)));
        }
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

        if let Ok(raw) = axum::extract::RawPathParams::from_request_parts(parts, state).await {
            let nul: Vec<FieldError> = raw
                .iter()
                .filter(|(_, value)| value.contains('\0'))
                .map(|(key, value)| {
                    let loc = vec![LocSegment::from("path"), LocSegment::from(key)];
                    FieldError::new(NUL_KIND, loc, NUL_DETAIL, value.into())
                })
                .collect();
            if !nul.is_empty() {
                return Err(ApiError::Validation(ValidationErrors(nul)));
            }
        }
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
