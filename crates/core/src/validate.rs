//! Field validation with errors in the v1 (pydantic v2) 422 shape.
//!
//! Every error names its field twice: machine-readably in `loc` (as v1 clients expect) and in the
//! human-readable `msg`, so that a person reading a log line knows what to fix.

use serde::Serialize;
use serde_json::Value;

/// One step of a field path: an object key or a list index.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum LocSegment {
    Key(String),
    Index(usize),
}

impl From<&str> for LocSegment {
    fn from(key: &str) -> Self {
        LocSegment::Key(key.to_owned())
    }
}

impl From<usize> for LocSegment {
    fn from(index: usize) -> Self {
        LocSegment::Index(index)
    }
}

/// One invalid field, serialised exactly as a v1 validation error item.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// Machine-readable error kind, e.g. `less_than_equal`, `string_pattern_mismatch`, `missing`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Path to the field, starting with `body`, `query` or `path`: keys and list indexes.
    #[cfg_attr(feature = "openapi", schema(schema_with = loc_schema))]
    pub loc: Vec<LocSegment>,
    pub msg: String,
    /// The value that was refused (any JSON value; `null` when there was none).
    #[cfg_attr(feature = "openapi", schema(schema_with = any_value))]
    pub input: Value,
}

/// `loc` items are strings (keys) or integers (indexes), as we serialise them.
#[cfg(feature = "openapi")]
fn loc_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
    let key = ObjectBuilder::new().schema_type(Type::String);
    let index = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0));
    ArrayBuilder::new().items(OneOfBuilder::new().item(key).item(index)).build()
}

#[cfg(feature = "openapi")]
fn any_value() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new().schema_type(utoipa::openapi::schema::SchemaType::AnyValue).build()
}

impl FieldError {
    /// The dotted field name without the leading `body`/`query`, as used in messages.
    pub fn field_name(loc: &[LocSegment]) -> String {
        let mut name = String::new();
        for segment in loc.iter().skip(1) {
            match segment {
                LocSegment::Key(key) => {
                    if !name.is_empty() {
                        name.push('.');
                    }
                    name.push_str(key);
                }
                LocSegment::Index(index) => name.push_str(&format!("[{index}]")),
            }
        }
        name
    }

    pub fn new(kind: &str, loc: Vec<LocSegment>, detail: &str, input: Value) -> Self {
        let msg = format!("{}: {detail}", Self::field_name(&loc));
        FieldError { kind: kind.to_owned(), loc, msg, input }
    }
}

/// A non-empty list of field errors.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", .0.iter().map(|e| e.msg.as_str()).collect::<Vec<_>>().join("; "))]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    pub fn single(kind: &str, loc: Vec<LocSegment>, detail: &str, input: Value) -> Self {
        ValidationErrors(vec![FieldError::new(kind, loc, detail, input)])
    }
}

/// Collects field errors while walking a value; nested fields are visited with [`Validator::at`].
pub struct Validator {
    path: Vec<LocSegment>,
    errors: Vec<FieldError>,
}

impl Validator {
    /// `root` is where the value came from: `body`, `query` or `path`.
    pub fn new(root: &str) -> Self {
        Validator { path: vec![root.into()], errors: Vec::new() }
    }

    /// Validates a nested object or list item under `segment`.
    pub fn at(&mut self, segment: impl Into<LocSegment>, check: impl FnOnce(&mut Self)) {
        self.path.push(segment.into());
        check(self);
        self.path.pop();
    }

    fn fail(&mut self, field: &str, kind: &str, detail: &str, input: Value) {
        let mut loc = self.path.clone();
        loc.push(field.into());
        self.errors.push(FieldError::new(kind, loc, detail, input));
    }

    /// Reports an error found by a caller-specific rule.
    pub fn custom(&mut self, field: &str, kind: &str, detail: &str, input: Value) {
        self.fail(field, kind, detail, input);
    }

    pub fn str_len(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let len = value.chars().count();
        if len < min {
            self.fail(
                field,
                "string_too_short",
                &format!("should have at least {min} character{}", if min == 1 { "" } else { "s" }),
                value.into(),
            );
        } else if len > max {
            self.fail(field, "string_too_long", &format!("should have at most {max} characters"), value.into());
        }
    }

    pub fn opt_str_len(&mut self, field: &str, value: Option<&str>, min: usize, max: usize) {
        if let Some(value) = value {
            self.str_len(field, value, min, max);
        }
    }

    /// A slug: lower-case letters, digits and hyphens (the v1 server id rule).
    pub fn slug(&mut self, field: &str, value: &str) {
        self.str_len(field, value, 1, 100);
        if !value.is_empty() && !is_slug(value) {
            self.fail(
                field,
                "string_pattern_mismatch",
                "should match pattern '^[a-z0-9-]+$' (lower-case letters, digits and hyphens)",
                value.into(),
            );
        }
    }

    pub fn one_of(&mut self, field: &str, value: &str, allowed: &[&str]) {
        if !allowed.contains(&value) {
            let expected = allowed.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(", ");
            self.fail(field, "literal_error", &format!("should be one of {expected}"), value.into());
        }
    }

    pub fn opt_one_of(&mut self, field: &str, value: Option<&str>, allowed: &[&str]) {
        if let Some(value) = value {
            self.one_of(field, value, allowed);
        }
    }

    pub fn range_f64(&mut self, field: &str, value: Option<f64>, min: f64, max: Option<f64>) {
        let Some(value) = value else { return };
        if !value.is_finite() {
            self.fail(field, "finite_number", "should be a finite number", Value::Null);
        } else if value < min {
            self.fail(field, "greater_than_equal", &format!("should be greater than or equal to {min}"), value.into());
        } else if let Some(max) = max.filter(|max| value > *max) {
            self.fail(field, "less_than_equal", &format!("should be less than or equal to {max}"), value.into());
        }
    }

    pub fn range_i64(&mut self, field: &str, value: Option<i64>, min: i64, max: Option<i64>) {
        let Some(value) = value else { return };
        if value < min {
            self.fail(field, "greater_than_equal", &format!("should be greater than or equal to {min}"), value.into());
        } else if let Some(max) = max.filter(|max| value > *max) {
            self.fail(field, "less_than_equal", &format!("should be less than or equal to {max}"), value.into());
        }
    }

    /// `field` was sent as an explicit `null` but may not be null.
    pub fn not_null(&mut self, field: &str) {
        self.fail(field, "null_not_allowed", "may not be null", Value::Null);
    }

    pub fn finish(self) -> Result<(), ValidationErrors> {
        if self.errors.is_empty() { Ok(()) } else { Err(ValidationErrors(self.errors)) }
    }
}

/// `^[a-z0-9-]+$`
pub fn is_slug(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Lower-case UUID version 4, the v1 `server_guid` rule.
pub fn is_uuid_v4(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.len() != 36 {
        return false;
    }
    bytes.iter().enumerate().all(|(i, &b)| match i {
        8 | 13 | 18 | 23 => b == b'-',
        14 => b == b'4',
        19 => matches!(b, b'8' | b'9' | b'a' | b'b'),
        _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_errors_carry_the_full_path_and_name_the_field() {
        let mut v = Validator::new("body");
        v.at("services", |v| v.at(2usize, |v| v.str_len("name", "", 1, 255)));
        let errors = v.finish().unwrap_err().0;
        assert_eq!(errors.len(), 1);
        let json = serde_json::to_value(&errors[0]).unwrap();
        assert_eq!(json["loc"], serde_json::json!(["body", "services", 2, "name"]));
        assert_eq!(json["type"], "string_too_short");
        assert!(errors[0].msg.starts_with("services[2].name:"), "{}", errors[0].msg);
    }

    #[test]
    fn ranges_are_inclusive() {
        let mut v = Validator::new("body");
        v.range_f64("a", Some(100.0), 0.0, Some(100.0));
        v.range_f64("b", Some(0.0), 0.0, Some(100.0));
        v.range_i64("c", Some(0), 0, None);
        assert!(v.finish().is_ok());
        let mut v = Validator::new("body");
        v.range_f64("a", Some(100.5), 0.0, Some(100.0));
        v.range_i64("c", Some(-1), 0, None);
        let kinds: Vec<_> = v.finish().unwrap_err().0.into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["less_than_equal", "greater_than_equal"]);
    }

    #[test]
    fn slug_and_uuid_rules_match_v1() {
        assert!(is_slug("omv-mediaserver-2"));
        assert!(!is_slug("Media"));
        assert!(!is_slug("a.b"));
        assert!(is_uuid_v4("3f2b8a1e-9c4d-4e5f-8a6b-7c8d9e0f1a2b"));
        assert!(!is_uuid_v4("3F2B8A1E-9C4D-4E5F-8A6B-7C8D9E0F1A2B"));
        assert!(!is_uuid_v4("3f2b8a1e-9c4d-1e5f-8a6b-7c8d9e0f1a2b"));
        assert!(!is_uuid_v4("3f2b8a1e-9c4d-4e5f-7a6b-7c8d9e0f1a2b"));
    }
}
