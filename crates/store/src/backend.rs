//! The narrow SQL interface the two backends implement, so that every store operation is
//! written once (in `ops/`) and runs on both.
//!
//! SQL is written in PostgreSQL's `$1` placeholder style; the SQLite backend rewrites the
//! placeholders to `?1`. Parameters are always bound, never formatted into the SQL text.

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;

use crate::{StoreError, StoreResult};

/// A bound parameter or a column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
    /// Opaque bytes (`BLOB` / `BYTEA`): the compact history rows.
    Blob(Vec<u8>),
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Value::Blob(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Refuses text with a NUL before it reaches a backend: PostgreSQL cannot store or even compare
/// it (a 500 from deep in a transaction), SQLite would keep it. Refusing on both keeps them alike
/// and is the last line behind the API's own field-named check, for input that arrives another
/// way (a dashboard form, a path the API does not extract).
pub(crate) fn check_storable(params: &[Value]) -> StoreResult<()> {
    if params.iter().any(|p| matches!(p, Value::Text(text) if text.contains('\0'))) {
        return Err(StoreError::Rejected("text containing a NUL character (U+0000) cannot be stored".into()));
    }
    Ok(())
}

/// One result row; getters convert between the backends' representations (SQLite stores
/// booleans as integers, PostgreSQL as `BOOLEAN`).
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<Value>);

impl Row {
    fn at(&self, index: usize) -> StoreResult<&Value> {
        self.0.get(index).ok_or_else(|| StoreError::Database(format!("result has no column {index}")))
    }

    fn mismatch(&self, index: usize, wanted: &str) -> StoreError {
        StoreError::Database(format!("column {index} is not {wanted}: {:?}", self.0.get(index)))
    }

    pub fn opt_i64(&self, index: usize) -> StoreResult<Option<i64>> {
        match self.at(index)? {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v)),
            Value::Bool(v) => Ok(Some(i64::from(*v))),
            _ => Err(self.mismatch(index, "an integer")),
        }
    }

    pub fn i64(&self, index: usize) -> StoreResult<i64> {
        self.opt_i64(index)?.ok_or_else(|| self.mismatch(index, "a non-null integer"))
    }

    pub fn opt_f64(&self, index: usize) -> StoreResult<Option<f64>> {
        match self.at(index)? {
            Value::Null => Ok(None),
            Value::Real(v) => Ok(Some(*v)),
            Value::Int(v) => Ok(Some(*v as f64)),
            _ => Err(self.mismatch(index, "a number")),
        }
    }

    pub fn f64(&self, index: usize) -> StoreResult<f64> {
        self.opt_f64(index)?.ok_or_else(|| self.mismatch(index, "a non-null number"))
    }

    pub fn opt_str(&self, index: usize) -> StoreResult<Option<String>> {
        match self.at(index)? {
            Value::Null => Ok(None),
            Value::Text(v) => Ok(Some(v.clone())),
            _ => Err(self.mismatch(index, "text")),
        }
    }

    pub fn str(&self, index: usize) -> StoreResult<String> {
        self.opt_str(index)?.ok_or_else(|| self.mismatch(index, "non-null text"))
    }

    /// Takes a byte column out of the row (history blobs are only ever read once).
    pub fn take_blob(&mut self, index: usize) -> StoreResult<Vec<u8>> {
        match self.0.get_mut(index) {
            Some(Value::Blob(bytes)) => Ok(std::mem::take(bytes)),
            _ => Err(self.mismatch(index, "bytes")),
        }
    }

    pub fn bool(&self, index: usize) -> StoreResult<bool> {
        match self.at(index)? {
            Value::Bool(v) => Ok(*v),
            Value::Int(v) => Ok(*v != 0),
            _ => Err(self.mismatch(index, "a boolean")),
        }
    }
}

/// A connection inside a transaction (writes) or a plain connection (reads).
#[async_trait]
pub trait Conn: Send {
    /// Appended to a sub-select that picks rows to lease, so that concurrent hubs skip rows
    /// another hub holds. Empty where there is only one writer (SQLite).
    fn lock_clause(&self) -> &'static str {
        ""
    }

    /// Takes a lock, held until the transaction ends, that only one hub at a time can hold:
    /// singleton jobs (the offline check) skip their run when another hub has it. Always granted
    /// where there is a single writer (SQLite).
    async fn try_job_lock(&mut self, _job: i64) -> StoreResult<bool> {
        Ok(true)
    }

    /// Tells every other hub on the database, once this transaction commits, that the alert
    /// rules changed, so that they drop what they cached (see [`SettingsWatch`]). Nothing where
    /// there is a single writer (SQLite).
    async fn announce_settings_changed(&mut self) -> StoreResult<()> {
        Ok(())
    }

    /// Whether the history tables are partitioned by time (PostgreSQL; see
    /// `ops/partitions.rs`). SQLite's are plain tables, pruned by `DELETE`.
    fn partitioned(&self) -> bool {
        false
    }

    /// Runs `sql` (statements without parameters that need a table's exclusive lock, such as
    /// dropping a partition) unless a lock it needs is not granted within `wait_ms`: then none
    /// of it is kept, the rest of the transaction goes on, and the answer is false, so that a
    /// maintenance step never holds up ingest for longer and simply tries again next time.
    /// Where there is one writer (SQLite) every lock is granted at once.
    async fn try_exclusive(&mut self, sql: &str, _wait_ms: u64) -> StoreResult<bool> {
        self.execute(sql, &[]).await.map(|_| true)
    }

    /// Runs a statement; returns the number of rows changed.
    async fn execute(&mut self, sql: &str, params: &[Value]) -> StoreResult<u64>;
    /// Runs a statement whose outcome the caller does not read. PostgreSQL sends it without
    /// waiting for the answer (pipelined with what follows) and checks it before the unit ends,
    /// so its failure still fails the unit; SQLite simply runs it.
    async fn execute_deferred(&mut self, sql: &str, params: &[Value]) -> StoreResult<()> {
        self.execute(sql, params).await.map(|_| ())
    }

    /// Sends a query the unit will run later with the same text and parameters, so that
    /// PostgreSQL answers it while the unit goes on (pipelining); that later [`Conn::query`]
    /// takes this answer, which shows the data as of when it was sent. Nothing where every
    /// statement runs at once anyway (SQLite).
    async fn prefetch(&mut self, _sql: &'static str, _params: &[Value]) -> StoreResult<()> {
        Ok(())
    }

    /// Runs a query and collects its rows.
    async fn query(&mut self, sql: &str, params: &[Value]) -> StoreResult<Vec<Row>>;

    async fn query_opt(&mut self, sql: &str, params: &[Value]) -> StoreResult<Option<Row>> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    async fn query_one(&mut self, sql: &str, params: &[Value]) -> StoreResult<Row> {
        self.query_opt(sql, params).await?.ok_or_else(|| StoreError::Database(format!("query returned no row: {sql}")))
    }
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A unit of work against a connection. Boxed so the SQLite backend can ship it to its writer
/// thread.
pub type Work<T> = Box<dyn for<'c> FnOnce(&'c mut dyn Conn) -> BoxFuture<'c, StoreResult<T>> + Send>;

/// How what the store caches of the settings (the alert rules) is kept true.
#[derive(Debug, Clone)]
pub enum SettingsWatch {
    /// Every write to the database goes through this backend (SQLite), so nothing changes
    /// behind the cache's back: the store's own updates clear it.
    SoleWriter,
    /// Other hubs may write too, and announce it ([`Conn::announce_settings_changed`]): the
    /// value moves on with every announcement heard, and is `None` while none can be heard
    /// (the listening connection is down), when nothing may be cached.
    Announced(tokio::sync::watch::Receiver<Option<u64>>),
}

impl SettingsWatch {
    /// Other writers may change the settings and none of it can be heard: nothing is cached.
    pub fn unheard() -> Self {
        SettingsWatch::Announced(tokio::sync::watch::channel(None).1)
    }
}

/// What a backend provides: transactions for writes, connections for reads.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    fn name(&self) -> &'static str;

    /// Runs `work` in a transaction, committed (durably) before this returns `Ok`. If `work`
    /// fails, none of its changes are kept.
    async fn write<T: Send + 'static>(&self, work: Work<T>) -> StoreResult<T>;

    /// Like [`Backend::write`], for small, frequent units (heartbeats) that may share one
    /// transaction with others (group commit): PostgreSQL's writer tasks commit them together,
    /// each in its own savepoint. Units with the same `key` (one server's) go to the same writer
    /// and run one after the other; a batch runs its units in the order of their keys, so that
    /// batches take row locks in one order. SQLite's writer groups every write already.
    async fn write_grouped<T: Send + 'static>(&self, _key: u64, work: Work<T>) -> StoreResult<T> {
        self.write(work).await
    }

    /// Runs `work` on a connection that sees committed data.
    async fn read<T: Send + 'static>(&self, work: Work<T>) -> StoreResult<T>;

    /// Whether writes can happen now (SQLite: its writer thread is running). Reads may still
    /// succeed when this fails, so the health check asks both.
    fn writable(&self) -> StoreResult<()> {
        Ok(())
    }

    /// How a cache of the alert rules learns that another writer changed them. By default it
    /// cannot, and nothing is cached.
    fn settings_watch(&self) -> SettingsWatch {
        SettingsWatch::unheard()
    }

    /// Drains queued writes; later writes fail with [`StoreError::Closed`].
    async fn close(&self);
}

/// Boxes a closure as [`Work`]; the signature lets the compiler infer the closure's lifetimes.
pub fn work<T, F>(f: F) -> Work<T>
where
    F: for<'c> FnOnce(&'c mut dyn Conn) -> BoxFuture<'c, StoreResult<T>> + Send + 'static,
{
    Box::new(f)
}
