//! The PostgreSQL backend: a connection pool, statements prepared once per connection and
//! pipelined where the unit does not wait for their answer, heartbeats committed in groups by a
//! few writer tasks. Several hubs may share one database.

use std::error::Error;
use std::future::Future;
use std::pin::{Pin, pin};
use std::str::FromStr;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;
use bytes::BytesMut;
use deadpool_postgres::{ClientWrapper, Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::NoTls;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use crate::backend::{Backend, BoxFuture, Conn, Row, SettingsWatch, Value, Work};
use crate::settings_listener::{SETTINGS_CHANNEL, SettingsListener};
use crate::{OpenOptions, StoreError, StoreResult, redact_url};

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/postgres/0001_init.sql")),
    (2, "alerts", include_str!("../migrations/postgres/0002_alerts.sql")),
    (3, "notifications", include_str!("../migrations/postgres/0003_notifications.sql")),
    (4, "compact history", include_str!("../migrations/postgres/0004_compact_history.sql")),
    (5, "service snapshots", include_str!("../migrations/postgres/0005_service_snapshots.sql")),
    (6, "retention in units", include_str!("../migrations/postgres/0006_retention_in_units.sql")),
    (7, "typed settings", include_str!("../migrations/postgres/0007_typed_settings.sql")),
    (8, "messages", include_str!("../migrations/postgres/0008_messages.sql")),
    (9, "dependencies", include_str!("../migrations/postgres/0009_dependencies.sql")),
    (10, "clear seconds", include_str!("../migrations/postgres/0010_clear_seconds.sql")),
    (11, "service grace", include_str!("../migrations/postgres/0011_service_grace.sql")),
    (12, "cost and preferences", include_str!("../migrations/postgres/0012_cost_and_preferences.sql")),
    (13, "inventory", include_str!("../migrations/postgres/0013_inventory.sql")),
    (14, "partitioned history", include_str!("../migrations/postgres/0014_partitioned_history.sql")),
];

/// Serialises migrations when several hubs start at once.
const MIGRATION_LOCK: i64 = 0x0068_6f6d_656c_6162; // "homelab"

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match (self, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(v), &Type::INT4) => i32::try_from(*v)?.to_sql(ty, out),
            (Value::Int(v), &Type::INT2) => i16::try_from(*v)?.to_sql(ty, out),
            (Value::Int(v), &Type::FLOAT8) => (*v as f64).to_sql(ty, out),
            (Value::Int(v), &Type::BOOL) => (*v != 0).to_sql(ty, out),
            (Value::Int(v), _) => v.to_sql(ty, out),
            (Value::Real(v), &Type::FLOAT4) => (*v as f32).to_sql(ty, out),
            (Value::Real(v), _) => v.to_sql(ty, out),
            (Value::Text(v), _) => v.as_str().to_sql(ty, out),
            (Value::Bool(v), &Type::INT8) => i64::from(*v).to_sql(ty, out),
            (Value::Bool(v), _) => v.to_sql(ty, out),
            (Value::Blob(v), _) => v.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn column_value(row: &tokio_postgres::Row, index: usize) -> StoreResult<Value> {
    let ty = row.columns().get(index).map(|c| c.type_().clone()).unwrap_or(Type::UNKNOWN);
    Ok(match ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(index)?.map_or(Value::Null, Value::Int),
        Type::INT4 => row.try_get::<_, Option<i32>>(index)?.map_or(Value::Null, |v| Value::Int(v.into())),
        Type::INT2 => row.try_get::<_, Option<i16>>(index)?.map_or(Value::Null, |v| Value::Int(v.into())),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(index)?.map_or(Value::Null, Value::Real),
        Type::FLOAT4 => row.try_get::<_, Option<f32>>(index)?.map_or(Value::Null, |v| Value::Real(v.into())),
        Type::BOOL => row.try_get::<_, Option<bool>>(index)?.map_or(Value::Null, Value::Bool),
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(index)?.map_or(Value::Null, Value::Blob),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
            row.try_get::<_, Option<String>>(index)?.map_or(Value::Null, Value::Text)
        }
        other => return Err(StoreError::Database(format!("unsupported column type {other} in column {index}"))),
    })
}

/// A statement sent to PostgreSQL whose answer has not been read yet.
type Pending<'a> = Pin<Box<dyn Future<Output = Result<u64, tokio_postgres::Error>> + Send + 'a>>;

/// A query sent before the unit asks for its rows (see [`Conn::prefetch`]).
type PendingRows<'a> =
    Pin<Box<dyn Future<Output = Result<Vec<tokio_postgres::Row>, tokio_postgres::Error>> + Send + 'a>>;

struct Prefetched<'a> {
    sql: &'static str,
    params: Vec<Value>,
    answer: Answer<'a>,
}

enum Answer<'a> {
    Waiting(PendingRows<'a>),
    Ready(Result<Vec<tokio_postgres::Row>, tokio_postgres::Error>),
}

/// A connection inside a transaction. Statements whose outcome the unit does not read
/// ([`Conn::execute_deferred`], `BEGIN`, savepoints) are sent without waiting for their answer:
/// PostgreSQL runs them in order with whatever the unit sends next (pipelining), so a heartbeat
/// waits for a few round trips instead of one per statement. Their answers are read by
/// [`PgConn::settle`] before the unit counts as done, so a failure still fails the unit.
struct PgConn<'a> {
    client: &'a ClientWrapper,
    pending: Vec<Pending<'a>>,
    prefetched: Vec<Prefetched<'a>>,
    /// The first failure among the pipelined statements already answered.
    failed: Option<tokio_postgres::Error>,
}

/// Polls the pipelined statements, dropping those answered and keeping the first failure, and
/// the prefetched queries, keeping their answers. Says whether any is still unanswered.
fn poll_pending(
    pending: &mut Vec<Pending<'_>>,
    prefetched: &mut [Prefetched<'_>],
    failed: &mut Option<tokio_postgres::Error>,
    cx: &mut Context<'_>,
) -> bool {
    pending.retain_mut(|statement| match statement.as_mut().poll(cx) {
        Poll::Ready(Ok(_)) => false,
        Poll::Ready(Err(error)) => {
            failed.get_or_insert(error);
            false
        }
        Poll::Pending => true,
    });
    let mut waiting = !pending.is_empty();
    for query in prefetched.iter_mut() {
        if let Answer::Waiting(rows) = &mut query.answer {
            match rows.as_mut().poll(cx) {
                Poll::Ready(answer) => query.answer = Answer::Ready(answer),
                Poll::Pending => waiting = true,
            }
        }
    }
    waiting
}

impl<'a> PgConn<'a> {
    fn new(client: &'a ClientWrapper) -> Self {
        PgConn { client, pending: Vec::new(), prefetched: Vec::new(), failed: None }
    }

    /// Starts `statement`: its first poll hands the request to the connection (tokio-postgres
    /// queues it before it first waits), so later statements follow it on the wire.
    fn send(&mut self, mut statement: Pending<'a>) {
        match statement.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(_)) => {}
            Poll::Ready(Err(error)) => {
                self.failed.get_or_insert(error);
            }
            Poll::Pending => self.pending.push(statement),
        }
    }

    /// Sends a fixed command (transaction control) without waiting for its answer.
    fn send_command(&mut self, sql: &'static str) {
        let client = self.client;
        self.send(Box::pin(async move { client.batch_execute(sql).await.map(|()| 0) }));
    }

    /// Awaits `future` while reading the answers of the pipelined statements sent before it:
    /// the connection hands each answer to its statement's own small channel and stops reading
    /// while one is full, so a later answer can only arrive once the earlier ones are taken.
    async fn drive<T>(&mut self, future: impl Future<Output = T>) -> T {
        let mut future = pin!(future);
        let (pending, prefetched, failed) = (&mut self.pending, &mut self.prefetched, &mut self.failed);
        std::future::poll_fn(|cx| {
            poll_pending(pending, prefetched, failed, cx);
            future.as_mut().poll(cx)
        })
        .await
    }

    /// Reads the answers of everything sent and not yet read; the first failure is returned.
    /// Prefetched rows nobody asked for are dropped, but a failed prefetch still fails the unit
    /// (it aborted the transaction).
    async fn settle(&mut self) -> StoreResult<()> {
        let (pending, prefetched, failed) = (&mut self.pending, &mut self.prefetched, &mut self.failed);
        std::future::poll_fn(|cx| {
            if poll_pending(pending, prefetched, failed, cx) { Poll::Pending } else { Poll::Ready(()) }
        })
        .await;
        for query in self.prefetched.drain(..) {
            if let Answer::Ready(Err(error)) = query.answer {
                self.failed.get_or_insert(error);
            }
        }
        self.failed.take().map_or(Ok(()), |error| Err(error.into()))
    }

    /// The answer of a prefetched query with this text and these parameters, if one was sent.
    async fn take_prefetched(
        &mut self,
        sql: &str,
        params: &[Value],
    ) -> Option<Result<Vec<tokio_postgres::Row>, tokio_postgres::Error>> {
        let index = self.prefetched.iter().position(|query| query.sql == sql && query.params == params)?;
        let query = self.prefetched.remove(index);
        Some(match query.answer {
            Answer::Ready(answer) => answer,
            Answer::Waiting(rows) => self.drive(rows).await,
        })
    }

    /// The error a failed statement reports: an earlier pipelined statement's failure if there
    /// was one (it aborted the transaction, so the later statement only says so).
    async fn failure(&mut self, error: tokio_postgres::Error) -> StoreError {
        match self.settle().await {
            Err(earlier) => earlier,
            Ok(()) => error.into(),
        }
    }

    async fn run(&mut self, sql: &str, params: &[Value]) -> StoreResult<Vec<tokio_postgres::Row>> {
        crate::backend::check_storable(params)?;
        if let Some(answer) = self.take_prefetched(sql, params).await {
            return match answer {
                Ok(rows) => Ok(rows),
                Err(error) => Err(self.failure(error).await),
            };
        }
        let client = self.client;
        let result = self
            .drive(async {
                let statement = client.prepare_cached(sql).await?;
                let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                client.query(&statement, &params).await
            })
            .await;
        match result {
            Ok(rows) => Ok(rows),
            Err(error) => Err(self.failure(error).await),
        }
    }
}

#[async_trait]
impl<'a> Conn for PgConn<'a> {
    fn lock_clause(&self) -> &'static str {
        " FOR UPDATE SKIP LOCKED"
    }

    async fn try_job_lock(&mut self, job: i64) -> StoreResult<bool> {
        Conn::query_one(self, "SELECT pg_try_advisory_xact_lock($1)", &[job.into()]).await?.bool(0)
    }

    async fn announce_settings_changed(&mut self) -> StoreResult<()> {
        Conn::execute(self, "SELECT pg_notify($1, '')", &[SETTINGS_CHANNEL.into()]).await.map(|_| ())
    }

    fn partitioned(&self) -> bool {
        true
    }

    async fn try_exclusive(&mut self, sql: &str, wait_ms: u64) -> StoreResult<bool> {
        // Whatever was pipelined answers first, so that a failure here is this statement's.
        self.settle().await?;
        let client = self.client;
        // `SET LOCAL` inside the savepoint ends with it (rolled back) or is reset (released).
        let begin = format!("SAVEPOINT exclusive; SET LOCAL lock_timeout = {wait_ms}");
        self.drive(client.batch_execute(&begin)).await?;
        match self.drive(client.batch_execute(sql)).await {
            Ok(()) => {
                self.drive(client.batch_execute("RELEASE SAVEPOINT exclusive; SET LOCAL lock_timeout = DEFAULT"))
                    .await?;
                Ok(true)
            }
            Err(error) if error.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) => {
                self.drive(client.batch_execute("ROLLBACK TO SAVEPOINT exclusive; RELEASE SAVEPOINT exclusive"))
                    .await?;
                Ok(false)
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn execute(&mut self, sql: &str, params: &[Value]) -> StoreResult<u64> {
        crate::backend::check_storable(params)?;
        let client = self.client;
        let result = self
            .drive(async {
                let statement = client.prepare_cached(sql).await?;
                let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
                client.execute(&statement, &params).await
            })
            .await;
        match result {
            Ok(changed) => Ok(changed),
            Err(error) => Err(self.failure(error).await),
        }
    }

    async fn execute_deferred(&mut self, sql: &str, params: &[Value]) -> StoreResult<()> {
        crate::backend::check_storable(params)?;
        let client = self.client;
        let statement = match self.drive(client.prepare_cached(sql)).await {
            Ok(statement) => statement,
            Err(error) => return Err(self.failure(error).await),
        };
        let params = params.to_vec();
        self.send(Box::pin(async move {
            let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            client.execute(&statement, &params).await
        }));
        Ok(())
    }

    async fn prefetch(&mut self, sql: &'static str, params: &[Value]) -> StoreResult<()> {
        crate::backend::check_storable(params)?;
        let client = self.client;
        let statement = match self.drive(client.prepare_cached(sql)).await {
            Ok(statement) => statement,
            Err(error) => return Err(self.failure(error).await),
        };
        let owned = params.to_vec();
        let mut rows: PendingRows<'a> = Box::pin(async move {
            let params: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            client.query(&statement, &params).await
        });
        // As in `send`: the first poll puts the query on the wire.
        let answer = match rows.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(answer) => Answer::Ready(answer),
            Poll::Pending => Answer::Waiting(rows),
        };
        self.prefetched.push(Prefetched { sql, params: params.to_vec(), answer });
        Ok(())
    }

    async fn query(&mut self, sql: &str, params: &[Value]) -> StoreResult<Vec<Row>> {
        let rows = self.run(sql, params).await?;
        rows.iter()
            .map(|row| (0..row.len()).map(|index| column_value(row, index)).collect::<StoreResult<Vec<_>>>().map(Row))
            .collect()
    }
}

fn pool_error(error: deadpool_postgres::PoolError) -> StoreError {
    match error {
        deadpool_postgres::PoolError::Timeout(deadpool_postgres::TimeoutType::Wait) => {
            crate::shed("no PostgreSQL connection became free in time")
        }
        deadpool_postgres::PoolError::Closed => StoreError::Closed,
        other => StoreError::Database(format!("PostgreSQL connection pool: {other}")),
    }
}

/// The same failure for each unit of a batch (errors are not `Clone`).
fn copy_of(error: &StoreError) -> StoreError {
    match error {
        StoreError::Overloaded(message) => StoreError::Overloaded(message.clone()),
        StoreError::Closed => StoreError::Closed,
        other => StoreError::Database(other.to_string()),
    }
}

/// A pooled connection with a transaction that may be open. Dropped while it is open (the
/// caller's future was cancelled), it sends `ROLLBACK` before the connection returns to the
/// pool; the connection runs requests in order, so the next user starts after it.
struct Session {
    client: Object,
    open: bool,
}

impl Session {
    fn new(client: Object) -> Self {
        Session { client, open: true }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.open {
            let mut rollback = pin!(self.client.batch_execute("ROLLBACK"));
            let _ = rollback.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        }
    }
}

/// Catches a panic in a unit as [`std::panic::catch_unwind`] does for a closure: a writer task
/// must outlive every unit, or every later heartbeat would fail.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Pin::new(&mut *inner).poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => Poll::Ready(Err(panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default())),
        }
    }
}

/// Answers a unit's caller once its batch has ended: `None` if the batch committed.
type Completion = Box<dyn FnOnce(Option<StoreError>) + Send>;
/// A grouped unit: run against the batch's connection (or told why there is none), it says
/// whether it succeeded and how to answer its caller after the commit.
type Job = Box<dyn for<'c> FnOnce(Option<&'c mut dyn Conn>) -> BoxFuture<'c, (bool, Completion)> + Send>;

fn job<T: Send + 'static>(work: Work<T>, reply: oneshot::Sender<StoreResult<T>>) -> Job {
    Box::new(move |conn| {
        Box::pin(async move {
            let Some(conn) = conn else {
                let completion: Completion =
                    Box::new(move |failure| drop(reply.send(Err(failure.unwrap_or(StoreError::Closed)))));
                return (false, completion);
            };
            let result = match CatchUnwind(work(conn)).await {
                Ok(result) => result,
                Err(panic) => {
                    tracing::error!(%panic, "a store operation panicked; its changes are rolled back");
                    Err(StoreError::Database(format!("a store operation panicked: {panic}")))
                }
            };
            let succeeded = result.is_ok();
            let completion: Completion = Box::new(move |failure| {
                let _ = reply.send(match (result, failure) {
                    (Err(error), _) => Err(error),
                    (Ok(_), Some(error)) => Err(error),
                    (Ok(value), None) => Ok(value),
                });
            });
            (succeeded, completion)
        })
    })
}

/// Most units in one transaction. Each unit's savepoint takes a subtransaction id once it writes;
/// PostgreSQL keeps 64 of them per transaction in shared memory and past that makes every other
/// session's snapshot look them up on disk.
const MAX_GROUP: usize = 32;

/// Group commit (as the SQLite writer does): a writer task takes the units queued for it, runs
/// each in a savepoint of one transaction and commits them at once. A failing unit is rolled back
/// to its savepoint alone; a savepoint that cannot be rolled back fails the batch.
///
/// A batch runs its units in the order of their keys (stable, so one server's stay in arrival
/// order): every batch, of this hub or of another on the same database, then takes the row locks
/// of its servers in one order, so two open batches can wait for each other but never in a
/// circle (a deadlock, which PostgreSQL breaks only after `deadlock_timeout`, failing a unit).
async fn group_writer(pool: Pool, mut jobs: mpsc::Receiver<(u64, Job)>) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        batch.sort_by_key(|(key, _)| *key);
        run_batch(&pool, batch.into_iter().map(|(_, job)| job).collect()).await;
    }
}

async fn run_batch(pool: &Pool, batch: Vec<Job>) {
    let client = match pool.get().await {
        Ok(client) => client,
        Err(error) => {
            let error = pool_error(error);
            for job in batch {
                let (_, completion) = job(None).await;
                completion(Some(copy_of(&error)));
            }
            return;
        }
    };
    let mut session = Session::new(client);
    let mut conn = PgConn::new(&session.client);
    conn.send_command("BEGIN");
    let mut answers = Vec::with_capacity(batch.len());
    let mut poisoned = None;
    for job in batch {
        if poisoned.is_some() {
            let (_, completion) = job(None).await;
            answers.push((completion, None));
            continue;
        }
        conn.send_command("SAVEPOINT unit");
        let (succeeded, completion) = job(Some(&mut conn as &mut dyn Conn)).await;
        let outcome = conn.settle().await;
        let unit_failure = match (succeeded, outcome) {
            (true, Ok(())) => None,
            (true, Err(error)) => Some(error),
            (false, _) => None,
        };
        if succeeded && unit_failure.is_none() {
            conn.send_command("RELEASE SAVEPOINT unit");
        } else if let Err(error) = conn.client.batch_execute("ROLLBACK TO SAVEPOINT unit; RELEASE SAVEPOINT unit").await
        {
            poisoned = Some(format!("a failed unit could not be rolled back: {error}"));
        }
        answers.push((completion, unit_failure));
    }
    let ended = match poisoned {
        Some(why) => {
            let _ = conn.settle().await;
            let _ = conn.client.batch_execute("ROLLBACK").await;
            Err(StoreError::Database(why))
        }
        None => match conn.settle().await {
            // A savepoint's release failed: the transaction is aborted and would not commit.
            Err(error) => {
                let _ = conn.client.batch_execute("ROLLBACK").await;
                Err(error)
            }
            Ok(()) => conn.client.batch_execute("COMMIT").await.map_err(StoreError::from),
        },
    };
    drop(conn);
    session.open = false;
    for (completion, unit_failure) in answers {
        completion(match (&ended, unit_failure) {
            (Err(error), _) => Some(copy_of(error)),
            (Ok(()), failure) => failure,
        });
    }
}

/// The group-commit writers: units with the same key go to the same writer, so that the
/// heartbeats of one server never wait in two open batches for each other's row locks.
struct Writers {
    queues: Mutex<Vec<mpsc::Sender<(u64, Job)>>>,
    tasks: tokio::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// PostgreSQL through a pool of connections.
pub struct PostgresBackend {
    pool: Pool,
    writers: Writers,
    /// Hears other hubs' settings changes; none for a backend that only migrates.
    settings: Option<SettingsListener>,
}

impl PostgresBackend {
    /// Connects, checks the server answers, and applies migrations.
    pub async fn open(url: &str, options: &OpenOptions) -> StoreResult<Self> {
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid PostgreSQL URL '{}': {e}", redact_url(url))))?;
        let manager =
            Manager::from_config(config.clone(), NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool_size = options.pool_size.max(1);
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .wait_timeout(Some(options.pool_wait))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Config(format!("cannot build the PostgreSQL pool: {e}")))?;
        // A quarter of the pool: the rest serves reads and other writes.
        let count = (pool_size / 4).clamp(1, 4);
        let per_writer = (options.max_queue / count).max(1);
        let mut queues = Vec::with_capacity(count);
        let mut tasks = Vec::with_capacity(count);
        for _ in 0..count {
            let (sender, receiver) = mpsc::channel(per_writer);
            queues.push(sender);
            tasks.push(tokio::spawn(group_writer(pool.clone(), receiver)));
        }
        let writers = Writers { queues: Mutex::new(queues), tasks: tokio::sync::Mutex::new(tasks) };
        let mut backend = PostgresBackend { pool, writers, settings: None };
        backend.migrate(i64::MAX).await.map_err(|e| match e {
            StoreError::Database(message) => {
                StoreError::Config(format!("cannot prepare PostgreSQL at '{}': {message}", redact_url(url)))
            }
            other => other,
        })?;
        backend.settings = Some(SettingsListener::start(config));
        Ok(backend)
    }

    /// Creates (or continues) the schema of the database at `url` up to version `up_to` only, as
    /// an older hub would have left it: upgrade tests start from there.
    #[cfg(feature = "test-support")]
    pub async fn migrate_to(url: &str, up_to: i64) -> StoreResult<()> {
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid PostgreSQL URL '{}': {e}", redact_url(url))))?;
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(1)
            .build()
            .map_err(|e| StoreError::Config(format!("cannot build the PostgreSQL pool: {e}")))?;
        let backend = PostgresBackend {
            pool,
            writers: Writers { queues: Mutex::new(Vec::new()), tasks: tokio::sync::Mutex::new(Vec::new()) },
            settings: None,
        };
        let result = backend.migrate(up_to).await;
        backend.pool.close();
        result
    }

    /// Applies the migrations up to and including `up_to` that are not applied yet.
    async fn migrate(&self, up_to: i64) -> StoreResult<()> {
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
             applied_at BIGINT NOT NULL)",
        )
        .await?;
        for (version, name, sql) in MIGRATIONS.iter().filter(|(version, _, _)| *version <= up_to) {
            let applied = tx.query_opt("SELECT 1 FROM schema_migrations WHERE version = $1", &[version]).await?;
            if applied.is_some() {
                continue;
            }
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) \
                 VALUES ($1, $2, (extract(epoch from now()) * 1000)::bigint)",
                &[version, name],
            )
            .await?;
            tracing::info!(version, name, "applied PostgreSQL migration");
        }
        tx.commit().await?;
        Ok(())
    }
}

#[async_trait]
impl Backend for PostgresBackend {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn settings_watch(&self) -> SettingsWatch {
        match &self.settings {
            Some(listener) => SettingsWatch::Announced(listener.changes()),
            None => SettingsWatch::unheard(),
        }
    }

    async fn write<T: Send + 'static>(&self, work: Work<T>) -> StoreResult<T> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let mut session = Session::new(client);
        let mut conn = PgConn::new(&session.client);
        conn.send_command("BEGIN");
        let result = match work(&mut conn).await {
            Ok(value) => conn.settle().await.map(|()| value),
            Err(error) => {
                let _ = conn.settle().await;
                Err(error)
            }
        };
        let result = match result {
            Ok(value) => conn.client.batch_execute("COMMIT").await.map(|()| value).map_err(StoreError::from),
            Err(error) => {
                conn.send_command("ROLLBACK");
                Err(error)
            }
        };
        drop(conn);
        session.open = false;
        result
    }

    async fn write_grouped<T: Send + 'static>(&self, key: u64, work: Work<T>) -> StoreResult<T> {
        let (reply, answer) = oneshot::channel();
        let queue = {
            let queues = self.writers.queues.lock().map_err(|_| StoreError::Closed)?;
            if queues.is_empty() {
                return Err(StoreError::Closed);
            }
            queues[(key % queues.len() as u64) as usize].clone()
        };
        match queue.try_send((key, job(work, reply))) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => return Err(crate::shed("the PostgreSQL write queue is full")),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(StoreError::Closed),
        }
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn read<T: Send + 'static>(&self, work: Work<T>) -> StoreResult<T> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let mut session = Session::new(client);
        let mut conn = PgConn::new(&session.client);
        conn.send_command("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        let result = work(&mut conn).await;
        let settled = conn.settle().await;
        // Nothing to keep: the connection runs the rollback before its next user's statements.
        conn.send_command("ROLLBACK");
        drop(conn);
        session.open = false;
        settled.and(result)
    }

    async fn close(&self) {
        if let Ok(mut queues) = self.writers.queues.lock() {
            queues.clear();
        }
        // The writers finish what is queued, then stop.
        for task in self.writers.tasks.lock().await.drain(..) {
            let _ = task.await;
        }
        self.pool.close();
    }
}

#[cfg(all(test, feature = "test-support"))]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::backend::work;

    /// Units queued together commit in one batch; one that fails (a statement error, a
    /// pipelined write that fails only when its answer is read, a panic) is rolled back alone
    /// and the others' writes are kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_unit_in_a_group_loses_nothing_of_the_others() {
        let Some(cluster) = crate::testing::postgres_cluster() else { return };
        let url = cluster.create_database().await.unwrap();
        let backend = Arc::new(PostgresBackend::open(&url, &OpenOptions::default()).await.unwrap());
        backend
            .write(work(|conn| {
                Box::pin(
                    async move { conn.execute("CREATE TABLE grouped (n BIGINT PRIMARY KEY)", &[]).await.map(|_| ()) },
                )
            }))
            .await
            .unwrap();
        let insert = |n: i64| {
            work(move |conn| {
                Box::pin(async move { conn.execute_deferred("INSERT INTO grouped (n) VALUES ($1)", &[n.into()]).await })
            })
        };
        // Same key: one writer, queued at once, so they share batches.
        let units = (0..12).map(|n| {
            let backend = Arc::clone(&backend);
            async move {
                match n {
                    // Fails only when the pipelined answer is read (NOT NULL).
                    3 => {
                        backend
                            .write_grouped(
                                7,
                                work(|conn| {
                                    Box::pin(async move {
                                        conn.execute_deferred("INSERT INTO grouped (n) VALUES ($1)", &[Value::Null])
                                            .await
                                    })
                                }),
                            )
                            .await
                    }
                    5 => {
                        backend
                            .write_grouped(
                                7,
                                work(|conn| {
                                    Box::pin(
                                        async move { conn.execute("SELECT no_such_column", &[]).await.map(|_| ()) },
                                    )
                                }),
                            )
                            .await
                    }
                    8 => backend.write_grouped(7, work(|_conn| Box::pin(async move { explode() }))).await,
                    n => backend.write_grouped(7, insert(n)).await,
                }
            }
        });
        let results: Vec<StoreResult<()>> = futures_join(units.map(|unit| tokio::spawn(unit)).collect())
            .await
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        for (n, result) in results.iter().enumerate() {
            assert_eq!(result.is_ok(), ![3, 5, 8].contains(&n), "unit {n}: {result:?}");
        }
        let stored: Vec<i64> = backend
            .read(work(|conn| {
                Box::pin(async move {
                    conn.query("SELECT n FROM grouped ORDER BY n", &[]).await?.iter().map(|row| row.i64(0)).collect()
                })
            }))
            .await
            .unwrap();
        assert_eq!(stored, vec![0, 1, 2, 4, 6, 7, 9, 10, 11]);
        backend.close().await;
    }

    fn explode() -> StoreResult<()> {
        panic!("a unit panics")
    }

    async fn futures_join<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<Result<T, tokio::task::JoinError>> {
        let mut out = Vec::with_capacity(handles.len());
        for handle in handles {
            out.push(handle.await);
        }
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiting_for_a_connection_is_bounded_and_the_unit_shed() {
        let Some(cluster) = crate::testing::postgres_cluster() else { return };
        let url = cluster.create_database().await.unwrap();
        let options = OpenOptions { pool_size: 1, pool_wait: Duration::from_millis(200), ..OpenOptions::default() };
        let backend = Arc::new(PostgresBackend::open(&url, &options).await.unwrap());
        // A unit that holds the only connection until released.
        let (started, has_started) = tokio::sync::oneshot::channel::<()>();
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let held = tokio::spawn({
            let backend = Arc::clone(&backend);
            async move {
                backend
                    .write(work(move |_conn| {
                        Box::pin(async move {
                            let _ = started.send(());
                            let _ = released.await;
                            Ok(())
                        })
                    }))
                    .await
            }
        });
        has_started.await.unwrap();
        let before = crate::writes_shed();
        let shed =
            backend.write(work(|conn| Box::pin(async move { conn.execute("SELECT 1", &[]).await.map(|_| ()) }))).await;
        assert!(matches!(shed, Err(StoreError::Overloaded(_))), "{shed:?}");
        assert!(crate::writes_shed() > before, "counted");
        release.send(()).unwrap();
        held.await.unwrap().unwrap();
        backend.close().await;
    }
}
