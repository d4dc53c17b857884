//! Time since boot from `/proc/uptime`.
//!
//! Read directly rather than computed as `now − btime` (v1's psutil way), so a wall-clock step
//! after boot (NTP catching up on a board without an RTC, like a Raspberry Pi) cannot distort it.

use super::read_and_parse;
use crate::error::{CollectError, ParseError};
use crate::root::SystemRoot;

/// Parses `/proc/uptime` (`"607.21 700.13"`) into whole seconds.
pub fn parse_uptime(text: &str) -> Result<i64, ParseError> {
    let field = text.split_ascii_whitespace().next().ok_or_else(|| ParseError::new("empty"))?;
    match field.parse::<f64>() {
        // Truncation is intended: 607.21 s of uptime is 607 whole seconds.
        Ok(seconds) if seconds.is_finite() && seconds >= 0.0 && seconds < i64::MAX as f64 => Ok(seconds as i64),
        _ => Err(ParseError::new(format!("bad uptime {field:?}"))),
    }
}

/// Reads `/proc/uptime`.
pub fn read_uptime(root: &SystemRoot) -> Result<i64, CollectError> {
    read_and_parse(&root.proc.join("uptime"), parse_uptime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_is_truncated_to_whole_seconds() {
        assert_eq!(parse_uptime("607.21 700.13\n").unwrap(), 607);
        assert_eq!(parse_uptime("3505247.99 13810416.50\n").unwrap(), 3_505_247);
    }

    #[test]
    fn broken_uptime() {
        assert!(parse_uptime("").is_err());
        assert!(parse_uptime("soon 1.0").is_err());
        assert!(parse_uptime("-5 1.0").is_err());
    }
}
