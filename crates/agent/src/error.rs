//! Why a collector produced nothing.

use std::io;
use std::path::PathBuf;

use crate::command::CommandError;

/// A collector failure. The [`Collector`](crate::Collector) turns these into warnings and leaves
/// the field empty; the error keeps enough context (path, program) to be actionable in a log.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot parse {what}: {reason}")]
    Parse { what: String, reason: String },
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The command ran but reported an error, e.g. apt unable to take its lock.
    #[error("`{command}` failed: {reason}")]
    CommandFailed { command: String, reason: String },
}

impl CollectError {
    pub(crate) fn parse(what: impl Into<String>, reason: impl Into<String>) -> Self {
        CollectError::Parse { what: what.into(), reason: reason.into() }
    }
}

/// A parser's complaint about its input; the reading function adds the file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

impl ParseError {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        ParseError(reason.into())
    }
}
