//! Log lines on standard error, each with a UTC timestamp and a level.
//!
//! Deliberately tiny instead of `tracing`: the agent logs a handful of lines a day, and journald
//! (or whoever reads stderr) does the rest. A line is written with one `write` call so lines from
//! different threads do not interleave.

use std::io::Write;

/// How serious a line is; printed in upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn label(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// Writes one line; a failing stderr is ignored because there is nowhere else to report it.
pub fn write(level: Level, message: std::fmt::Arguments<'_>) {
    let line = format!("{} {:<5} {message}\n", chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"), level.label());
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// `info!("…", args)`: routine events (start, recovery).
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Info, format_args!($($arg)*)) };
}

/// `warn!("…", args)`: something is lost or degraded but the agent carries on.
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Warn, format_args!($($arg)*)) };
}

/// `error!("…", args)`: needs a human (bad credentials, unwritable spool).
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Error, format_args!($($arg)*)) };
}
