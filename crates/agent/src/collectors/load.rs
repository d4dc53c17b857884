//! Load averages from `/proc/loadavg`.

use super::{read_and_parse, round_to};
use crate::error::{CollectError, ParseError};
use crate::root::SystemRoot;

/// The 1, 5 and 15 minute load averages, rounded to 2 dp as v1 sent them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadAverage {
    pub one: f64,
    pub five: f64,
    pub fifteen: f64,
}

/// Parses `/proc/loadavg` (`"1.73 1.13 0.48 1/83 7922"`).
pub fn parse_loadavg(text: &str) -> Result<LoadAverage, ParseError> {
    let mut fields = text.split_ascii_whitespace();
    let mut next = |name: &str| -> Result<f64, ParseError> {
        let field = fields.next().ok_or_else(|| ParseError::new(format!("missing {name} load average")))?;
        match field.parse::<f64>() {
            Ok(value) if value.is_finite() && value >= 0.0 => Ok(round_to(value, 2)),
            _ => Err(ParseError::new(format!("bad {name} load average {field:?}"))),
        }
    };
    Ok(LoadAverage { one: next("1 minute")?, five: next("5 minute")?, fifteen: next("15 minute")? })
}

/// Reads `/proc/loadavg`.
pub fn read_load(root: &SystemRoot) -> Result<LoadAverage, CollectError> {
    read_and_parse(&root.proc.join("loadavg"), parse_loadavg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loadavg() {
        assert_eq!(
            parse_loadavg("1.73 1.13 0.48 1/83 7922\n").unwrap(),
            LoadAverage { one: 1.73, five: 1.13, fifteen: 0.48 }
        );
    }

    #[test]
    fn broken_loadavg() {
        assert!(parse_loadavg("1.73 1.13\n").is_err());
        assert!(parse_loadavg("1.73 x 0.48 1/83 7922\n").is_err());
        assert!(parse_loadavg("-1 0 0 1/83 7922\n").is_err());
        assert!(parse_loadavg("").is_err());
    }
}
