use thiserror::Error;

/// Why a store operation failed. The HTTP layer maps each variant to one status code.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The named thing does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The operation clashes with existing data (409).
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do this to this object (403).
    #[error("{0}")]
    Forbidden(String),
    /// The request is well-formed but refused in the current state (400).
    #[error("{0}")]
    Rejected(String),
    /// The database URL or options are unusable.
    #[error("{0}")]
    Config(String),
    /// Stored settings (thresholds, notification settings, a channel) cannot be read back: the row
    /// was damaged outside the hub or written by a newer version. This is the one answer to
    /// unreadable settings everywhere, the engine's heartbeat ingest included: never defaults in
    /// their place, because defaults would silently alert at levels nobody chose (and send to
    /// nobody), while an error is seen at once, and a refused heartbeat waits in the agent's
    /// spool until the row is fixed. `what` names the data (`thresholds`, `channel 'team'`) so
    /// that the hub can say which row to repair (500, logged).
    #[error("the stored {what} cannot be read: {reason}")]
    Unreadable { what: String, reason: String },
    /// The database failed; details are for logs, not for API clients.
    #[error("database error: {0}")]
    Database(String),
    /// More writes are waiting than the store takes on (SQLite's queue is full, or no PostgreSQL
    /// connection freed up in time): the caller should retry later (503 with `Retry-After`).
    /// Shedding early keeps memory and latency bounded in a reconnect storm, when thousands of
    /// agents replay their spools at once, and agents spool what is shed.
    #[error("{0}")]
    Overloaded(String),
    /// The store was closed (the hub is shutting down).
    #[error("the store is shutting down")]
    Closed,
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// Turns a failure to decode `what` into [`StoreError::Unreadable`]; other errors (the
    /// database is down, the store is closing) pass through unchanged.
    pub(crate) fn unreadable(what: &str) -> impl Fn(StoreError) -> StoreError + '_ {
        move |error| match error {
            StoreError::Database(reason) => StoreError::Unreadable { what: what.to_owned(), reason },
            other => other,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Database(error.to_string())
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        match error.as_db_error() {
            Some(db) => database_error(db.code(), db.message()),
            None => StoreError::Database(error.to_string()),
        }
    }
}

/// A deadlock or serialisation failure is PostgreSQL choosing one of two transactions to give
/// up (a batch of heartbeats and the retention job taking the same server rows in another
/// order, say): nothing is wrong with the request and the same write succeeds when retried, so
/// it is [`StoreError::Overloaded`] (503 with `Retry-After`; agents keep the heartbeat in their
/// spool) rather than a fault of the hub (500, which an agent sets aside after a few tries).
fn database_error(code: &tokio_postgres::error::SqlState, message: &str) -> StoreError {
    use tokio_postgres::error::SqlState;
    if *code == SqlState::T_R_DEADLOCK_DETECTED || *code == SqlState::T_R_SERIALIZATION_FAILURE {
        return StoreError::Overloaded(format!("the database gave this write up in a conflict, retry: {message}"));
    }
    StoreError::Database(format!("{}: {message}", code.code()))
}

impl From<serde_json::Error> for StoreError {
    fn from(error: serde_json::Error) -> Self {
        StoreError::Database(format!("stored JSON is unreadable: {error}"))
    }
}

impl From<crate::codec::CodecError> for StoreError {
    fn from(error: crate::codec::CodecError) -> Self {
        StoreError::Database(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use tokio_postgres::error::SqlState;

    use super::*;

    #[test]
    fn conflicts_postgresql_resolves_by_giving_up_a_transaction_are_retried_not_faults() {
        for code in [SqlState::T_R_DEADLOCK_DETECTED, SqlState::T_R_SERIALIZATION_FAILURE] {
            assert!(matches!(database_error(&code, "deadlock detected"), StoreError::Overloaded(_)));
        }
        let other = database_error(&SqlState::UNIQUE_VIOLATION, "duplicate key");
        assert!(matches!(other, StoreError::Database(ref m) if m == "23505: duplicate key"), "{other:?}");
    }
}
