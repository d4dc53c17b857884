//! Timestamps on the wire and in storage.
//!
//! The v1 hub emitted three different timestamp shapes; we emit exactly one (RFC 3339, UTC,
//! millisecond precision, trailing `Z`) so clients can compare them lexically, and accept both
//! the naive form the v1 hub produced and any RFC 3339 offset on input, normalising to UTC.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// Every instant in the domain is UTC.
pub type Timestamp = DateTime<Utc>;

/// Formats a timestamp the one way the API emits them: `2026-01-19T12:00:00.000Z`.
pub fn format(ts: &Timestamp) -> String {
    ts.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses RFC 3339 with any offset (normalised to UTC) or a naive ISO 8601 date-time (taken as UTC).
pub fn parse(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(ts) = DateTime::parse_from_rfc3339(text) {
        return Some(ts.with_timezone(&Utc));
    }
    // RFC 3339 requires the `T`; Python's isoformat also allows a space.
    for pattern in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, pattern) {
            return Some(Utc.from_utc_datetime(&naive));
        }
    }
    DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z").ok().map(|ts| ts.with_timezone(&Utc))
}

/// Milliseconds since the Unix epoch: the storage representation (compact and index-friendly).
pub fn to_millis(ts: &Timestamp) -> i64 {
    ts.timestamp_millis()
}

/// The inverse of [`to_millis`]; out-of-range values (never written by us) clamp to the epoch.
pub fn from_millis(millis: i64) -> Timestamp {
    Utc.timestamp_millis_opt(millis).single().unwrap_or_default()
}

/// `serde(with = "homelab_core::time::rfc3339")` for a required timestamp.
pub mod rfc3339 {
    use super::*;

    pub fn serialize<S: Serializer>(ts: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(ts))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("invalid datetime '{text}': expected RFC 3339, e.g. 2026-01-19T12:00:00Z"))
        })
    }
}

/// `serde(with = "homelab_core::time::rfc3339_option")` for a nullable timestamp.
pub mod rfc3339_option {
    use super::*;

    pub fn serialize<S: Serializer>(ts: &Option<Timestamp>, serializer: S) -> Result<S::Ok, S::Error> {
        match ts {
            Some(ts) => serializer.serialize_str(&format(ts)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Timestamp>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            None => Ok(None),
            Some(text) => parse(&text).map(Some).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "invalid datetime '{text}': expected RFC 3339, e.g. 2026-01-19T12:00:00Z"
                ))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_normalised_to_utc() {
        let ts = parse("2026-01-19T14:00:00+02:00").unwrap();
        assert_eq!(format(&ts), "2026-01-19T12:00:00.000Z");
    }

    #[test]
    fn naive_input_is_taken_as_utc() {
        assert_eq!(format(&parse("2026-01-19T12:00:00.5").unwrap()), "2026-01-19T12:00:00.500Z");
        assert_eq!(format(&parse("2026-01-19 12:00:00").unwrap()), "2026-01-19T12:00:00.000Z");
    }

    #[test]
    fn python_isoformat_with_offset_is_accepted() {
        let ts = parse("2026-01-19T12:00:00.123456+00:00").unwrap();
        assert_eq!(format(&ts), "2026-01-19T12:00:00.123Z");
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(parse("yesterday").is_none());
        assert!(parse("2026-13-40T00:00:00Z").is_none());
    }

    #[test]
    fn millis_round_trip() {
        let ts = parse("2026-01-19T12:00:00.250Z").unwrap();
        assert_eq!(from_millis(to_millis(&ts)), ts);
    }
}
