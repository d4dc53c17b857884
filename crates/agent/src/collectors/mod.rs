//! One module per data source. Each exposes a pure `parse_*` function over the file's text and a
//! thin `read*` function that takes a [`SystemRoot`](crate::SystemRoot) and does the I/O.

pub mod containers;
pub mod cpu;
pub mod disks;
pub mod gpus;
pub mod load;
pub mod mdstat;
pub mod memory;
pub mod network;
pub mod os;
pub mod packages;
pub mod sensors;
pub mod services;
pub mod smart;
pub mod unix_http;
pub mod uptime;
pub mod zfs;

use std::path::Path;

use crate::error::{CollectError, ParseError};

/// Reads a whole (small) kernel or configuration file, naming the path on failure.
pub(crate) fn read_file(path: &Path) -> Result<String, CollectError> {
    std::fs::read_to_string(path).map_err(|source| CollectError::Read { path: path.to_path_buf(), source })
}

/// Reads `path` and parses it, attaching the path to a parse error.
pub(crate) fn read_and_parse<T>(
    path: &Path,
    parse: impl FnOnce(&str) -> Result<T, ParseError>,
) -> Result<T, CollectError> {
    let text = read_file(path)?;
    parse(&text).map_err(|e| CollectError::parse(path.display().to_string(), e.0))
}

/// Rounds to `places` decimals, as v1 did with Python's `round`, so values look the same.
pub(crate) fn round_to(value: f64, places: i32) -> f64 {
    let factor = 10f64.powi(places);
    (value * factor).round() / factor
}

/// Cuts text to the hub's length limit on a character boundary: one over-long value (a deep
/// mount point, an odd unit name) must not get the whole heartbeat rejected with 422.
pub(crate) fn truncate_chars(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((index, _)) => text[..index].to_owned(),
        None => text.to_owned(),
    }
}

/// The wire uses signed integers; kernel counters are unsigned and would only overflow after
/// exabytes, so saturating is the honest answer.
pub(crate) fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_matches_python_for_ordinary_values() {
        assert_eq!(round_to(12.345_678, 1), 12.3);
        assert_eq!(round_to(12.36, 1), 12.4);
        assert_eq!(round_to(0.126, 2), 0.13);
        assert_eq!(round_to(99.99, 0), 100.0);
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate_chars("ééé", 2), "éé");
        assert_eq!(truncate_chars("abc", 5), "abc");
        assert_eq!(truncate_chars("abc", 0), "");
    }

    #[test]
    fn huge_counters_saturate() {
        assert_eq!(saturating_i64(5), 5);
        assert_eq!(saturating_i64(u64::MAX), i64::MAX);
    }
}
