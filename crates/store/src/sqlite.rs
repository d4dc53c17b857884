//! The embedded SQLite backend.
//!
//! Writes go through one writer thread that owns the only write connection. It takes every
//! queued unit of work, runs each inside its own savepoint, and commits them together: one
//! fsync covers many heartbeats (group commit), and a failing unit rolls back alone. Callers
//! are answered only after the commit. Reads use a small pool of connections on blocking
//! threads; WAL lets them run while the writer works.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use tokio::sync::{Semaphore, oneshot};

use crate::backend::{Backend, Conn, Row, SettingsWatch, Value, Work};
use crate::{OpenOptions, StoreError, StoreResult};

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/sqlite/0001_init.sql")),
    (2, "alerts", include_str!("../migrations/sqlite/0002_alerts.sql")),
    (3, "notifications", include_str!("../migrations/sqlite/0003_notifications.sql")),
    (4, "compact history", include_str!("../migrations/sqlite/0004_compact_history.sql")),
    (5, "service snapshots", include_str!("../migrations/sqlite/0005_service_snapshots.sql")),
    (6, "retention in units", include_str!("../migrations/sqlite/0006_retention_in_units.sql")),
    (7, "typed settings", include_str!("../migrations/sqlite/0007_typed_settings.sql")),
    (8, "messages", include_str!("../migrations/sqlite/0008_messages.sql")),
    (9, "dependencies", include_str!("../migrations/sqlite/0009_dependencies.sql")),
    (10, "clear seconds", include_str!("../migrations/sqlite/0010_clear_seconds.sql")),
    (11, "service grace", include_str!("../migrations/sqlite/0011_service_grace.sql")),
    (12, "cost and preferences", include_str!("../migrations/sqlite/0012_cost_and_preferences.sql")),
    (13, "inventory", include_str!("../migrations/sqlite/0013_inventory.sql")),
];

/// Read connections kept open (and the most reads running at once).
const READERS: usize = 8;

/// The path in a `sqlite://` URL. Accepts `sqlite://data/x.db`, `sqlite:///abs/x.db` and the
/// v1 (SQLAlchemy) form `sqlite:///./data/x.db`.
pub fn path_from_url(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://")?;
    let rest = rest.split('?').next().unwrap_or(rest);
    let path = rest.strip_prefix('/').filter(|r| r.starts_with("./") || r.starts_with('/')).unwrap_or(rest);
    (!path.is_empty()).then(|| PathBuf::from(path))
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Owned(rusqlite::types::Value::Null),
            Value::Int(v) => ToSqlOutput::Owned((*v).into()),
            Value::Real(v) => ToSqlOutput::Owned((*v).into()),
            Value::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Value::Bool(v) => ToSqlOutput::Owned(i64::from(*v).into()),
            Value::Blob(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
        })
    }
}

/// Rewrites PostgreSQL placeholders (`$1`) into SQLite's numbered form (`?1`). SQLite would
/// accept `$1` itself, but as a *named* parameter numbered by first appearance, not by its digits.
fn sqlite_placeholders(sql: &str) -> String {
    let bytes = sql.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    for (index, &byte) in bytes.iter().enumerate() {
        let placeholder = byte == b'$' && bytes.get(index + 1).is_some_and(u8::is_ascii_digit);
        out.push(if placeholder { b'?' } else { byte });
    }
    // Only an ASCII byte was replaced by another, so the text is still valid UTF-8.
    String::from_utf8(out).unwrap_or_else(|_| sql.to_owned())
}

struct SqliteConn(Connection, Poison);

/// Set when a unit's savepoint could not be rolled back: its changes may be in the transaction,
/// so the whole batch must be rolled back instead of committed.
#[derive(Default)]
struct Poison(Option<String>);

#[async_trait]
impl Conn for SqliteConn {
    async fn execute(&mut self, sql: &str, params: &[Value]) -> StoreResult<u64> {
        crate::backend::check_storable(params)?;
        let mut statement = self.0.prepare_cached(&sqlite_placeholders(sql))?;
        Ok(statement.execute(rusqlite::params_from_iter(params.iter()))? as u64)
    }

    async fn query(&mut self, sql: &str, params: &[Value]) -> StoreResult<Vec<Row>> {
        crate::backend::check_storable(params)?;
        let mut statement = self.0.prepare_cached(&sqlite_placeholders(sql))?;
        let columns = statement.column_count();
        let mut rows = statement.query(rusqlite::params_from_iter(params.iter()))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(columns);
            for index in 0..columns {
                values.push(match row.get_ref(index)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Int(v),
                    ValueRef::Real(v) => Value::Real(v),
                    // `from_utf8` checks valid text (nearly all) faster than the lossy scan.
                    ValueRef::Text(v) => Value::Text(
                        String::from_utf8(v.to_vec())
                            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
                    ),
                    ValueRef::Blob(v) => Value::Blob(v.to_vec()),
                });
            }
            out.push(Row(values));
        }
        Ok(out)
    }
}

/// Drives a future that never waits on anything but SQLite calls, which complete at once.
fn run_now<T>(future: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result,
        Poll::Pending => Err(StoreError::Database("SQLite work waited on something that is not SQLite".into())),
    }
}

/// Runs `work` inside a savepoint so that its failure undoes only its own changes. A panic in
/// `work` is its failure like any other: the writer thread must outlive every unit, or every
/// later write would fail while reads still succeed. When the savepoint cannot be rolled back,
/// the batch is poisoned (see [`Poison`]); the savepoint is released either way, so the next
/// unit does not nest inside it.
fn in_savepoint<T>(conn: &mut SqliteConn, work: Work<T>) -> StoreResult<T> {
    conn.0.prepare_cached("SAVEPOINT unit")?.execute([])?;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_now(work(conn))));
    let result = outcome.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(panic = %what, "a store operation panicked; its changes are rolled back");
        Err(StoreError::Database(format!("a store operation panicked: {what}")))
    });
    if result.is_err()
        && let Err(error) = conn.0.prepare_cached("ROLLBACK TO unit").and_then(|mut s| s.execute([]))
    {
        conn.1.0 = Some(format!("a failed unit could not be rolled back: {error}"));
    }
    if let Err(error) = conn.0.prepare_cached("RELEASE unit").and_then(|mut s| s.execute([])) {
        conn.1.0.get_or_insert(format!("a unit's savepoint could not be released: {error}"));
    }
    result
}

/// Called with the batch's commit outcome once the transaction has ended.
type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
/// A unit of work for the writer; given no connection when the batch could not begin.
type Job = Box<dyn FnOnce(Option<&mut SqliteConn>) -> Completion + Send>;

fn open_connection(path: &Path, flags: OpenFlags) -> StoreResult<SqliteConn> {
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| StoreError::Config(format!("cannot open SQLite database {}: {e}", path.display())))?;
    // FULL: a heartbeat answered 200 survives power loss, not just a crash. Group commit keeps
    // the cost of the extra fsync per batch, not per heartbeat.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA busy_timeout = 5000; PRAGMA cache_size = -4000; PRAGMA journal_size_limit = 67108864;",
    )?;
    conn.set_prepared_statement_cache_capacity(256);
    Ok(SqliteConn(conn, Poison::default()))
}

/// Applies the migrations up to and including `up_to` that are not applied yet.
fn migrate(conn: &mut SqliteConn, up_to: i64) -> StoreResult<()> {
    conn.0.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, \
         applied_at INTEGER NOT NULL)",
    )?;
    for (version, name, sql) in MIGRATIONS.iter().filter(|(version, _, _)| *version <= up_to) {
        let applied: bool =
            conn.0
                .query_row("SELECT COUNT(*) > 0 FROM schema_migrations WHERE version = ?1", [version], |r| r.get(0))?;
        if applied {
            continue;
        }
        let tx = conn.0.transaction()?;
        tx.execute_batch(sql)?;
        if sql.contains("writable_schema") {
            // The schema text was edited in place: a new cookie makes every connection,
            // this one included, parse it again.
            let cookie: i64 = tx.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
            tx.execute_batch(&format!("PRAGMA schema_version = {}", cookie + 1))?;
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, CAST(strftime('%s','now') AS INTEGER) * 1000)",
            rusqlite::params![version, name],
        )?;
        tx.commit()?;
        tracing::info!(version, name, "applied SQLite migration");
    }
    Ok(())
}

fn writer_loop(mut conn: SqliteConn, jobs: Receiver<Job>, max_batch: usize) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(error) = conn.0.execute_batch("BEGIN IMMEDIATE") {
            let message = format!("cannot begin a transaction: {error}");
            tracing::error!(%message, "SQLite writer");
            for job in batch {
                job(None)(Err(message.clone()));
            }
            continue;
        }
        let completions: Vec<Completion> = batch.into_iter().map(|job| job(Some(&mut conn))).collect();
        let commit = match conn.1.0.take() {
            Some(poisoned) => Err(poisoned),
            None => conn.0.execute_batch("COMMIT").map_err(|e| e.to_string()),
        };
        if let Err(message) = &commit {
            tracing::error!(%message, "SQLite batch not committed; it was rolled back");
            let _ = conn.0.execute_batch("ROLLBACK");
        }
        for complete in completions {
            complete(commit.clone());
        }
    }
    // Shutting down: fold the WAL into the database and empty it, so the file left behind is
    // the whole database.
    if let Err(error) = conn.0.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        tracing::warn!(%error, "final SQLite checkpoint failed; the WAL will be replayed on next start");
    }
}

/// How often the WAL is copied back into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// Past this size the WAL is emptied by a truncating checkpoint. Under sustained ingest a passive
/// checkpoint never catches up (the writer keeps appending while readers pin older frames), and
/// the WAL grew past a gigabyte for a 25 MB database.
pub const WAL_TRUNCATE_BYTES: u64 = 64 * 1024 * 1024;

/// Checkpoints the WAL from its own connection. The writer's automatic checkpoint is off: run
/// inside a commit it stalled every heartbeat of that batch for the length of an fsync of the
/// database file. A passive checkpoint here never blocks the writer.
fn checkpoint_loop(path: &Path, stop: &Receiver<()>) {
    let conn = match open_connection(path, OpenFlags::default()) {
        Ok(conn) => conn,
        Err(error) => {
            tracing::error!(%error, "SQLite checkpointer cannot open the database; the WAL will grow");
            return;
        }
    };
    let wal = wal_path(path);
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_INTERVAL) {
        if let Err(error) = checkpoint_once(&conn.0, &wal, WAL_TRUNCATE_BYTES) {
            tracing::warn!(%error, "SQLite checkpoint failed; retrying");
        }
    }
}

fn wal_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// One checkpoint: passive while the WAL is below `truncate_above` bytes; past it, a truncating
/// one, which waits (up to the busy timeout) for readers of old frames and holds new writes back
/// while it copies the rest, then empties the file.
fn checkpoint_once(conn: &Connection, wal: &Path, truncate_above: u64) -> rusqlite::Result<()> {
    let size = std::fs::metadata(wal).map_or(0, |meta| meta.len());
    if size <= truncate_above {
        return conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE)");
    }
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    let after = std::fs::metadata(wal).map_or(0, |meta| meta.len());
    tracing::info!(before_bytes = size, after_bytes = after, "the SQLite WAL passed its bound; truncated it");
    Ok(())
}

/// SQLite behind a single group-committing writer and a pool of readers.
pub struct SqliteBackend {
    path: PathBuf,
    jobs: Mutex<Option<SyncSender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// Dropping it stops the checkpointer.
    stop_checkpoints: Mutex<Option<Sender<()>>>,
    readers: Arc<Mutex<Vec<SqliteConn>>>,
    read_slots: Semaphore,
}

impl SqliteBackend {
    /// Opens (creating if needed) the database file, applies migrations and starts the writer.
    pub async fn open(path: &Path, options: &OpenOptions) -> StoreResult<Self> {
        let path = path.to_owned();
        let max_batch = options.max_batch.max(1);
        let max_queue = options.max_queue.max(1);
        let (conn, jobs, receiver) = tokio::task::spawn_blocking({
            let path = path.clone();
            move || -> StoreResult<_> {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        StoreError::Config(format!("cannot create the data directory {}: {e}", parent.display()))
                    })?;
                }
                let mut conn = open_connection(&path, OpenFlags::default())?;
                migrate(&mut conn, i64::MAX)?;
                // Every connection's page cache is resident memory: 4 MB each for readers (set in
                // open_connection), more for the writer, whose hot pages are the index leaves of
                // recent samples.
                conn.0.execute_batch("PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -16000;")?;
                let (jobs, receiver) = mpsc::sync_channel::<Job>(max_queue);
                Ok((conn, jobs, receiver))
            }
        })
        .await
        .map_err(|e| StoreError::Database(format!("SQLite open task failed: {e}")))??;
        let handle = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, receiver, max_batch))
            .map_err(|e| StoreError::Database(format!("cannot start the SQLite writer thread: {e}")))?;
        let (stop_checkpoints, stopped) = mpsc::channel();
        let checkpoint_path = path.clone();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(&checkpoint_path, &stopped))
            .map_err(|e| StoreError::Database(format!("cannot start the SQLite checkpoint thread: {e}")))?;
        Ok(SqliteBackend {
            path,
            jobs: Mutex::new(Some(jobs)),
            writer: Mutex::new(Some(handle)),
            stop_checkpoints: Mutex::new(Some(stop_checkpoints)),
            readers: Arc::new(Mutex::new(Vec::new())),
            read_slots: Semaphore::new(READERS),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Creates (or continues) the database at `path` up to schema version `up_to` only, as an older
/// hub would have left it: upgrade tests start from there.
#[cfg(feature = "test-support")]
pub fn migrate_to(path: &Path, up_to: i64) -> StoreResult<()> {
    let mut conn = open_connection(path, OpenFlags::default())?;
    migrate(&mut conn, up_to)
}

#[async_trait]
impl Backend for SqliteBackend {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    async fn write<T: Send + 'static>(&self, work: Work<T>) -> StoreResult<T> {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Some(conn) => in_savepoint(conn, work),
                None => Err(StoreError::Database("the write transaction could not begin".into())),
            };
            Box::new(move |commit: Result<(), String>| {
                let _ = answer.send(match commit {
                    Ok(()) => result,
                    Err(message) => Err(StoreError::Database(format!("commit failed: {message}"))),
                });
            })
        });
        {
            let jobs = self.jobs.lock().map_err(|_| StoreError::Closed)?;
            match jobs.as_ref().ok_or(StoreError::Closed)?.try_send(job) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => return Err(crate::shed("the SQLite write queue is full")),
                Err(TrySendError::Disconnected(_)) => return Err(StoreError::Closed),
            }
        }
        answered.await.map_err(|_| StoreError::Closed)?
    }

    fn settings_watch(&self) -> SettingsWatch {
        SettingsWatch::SoleWriter
    }

    fn writable(&self) -> StoreResult<()> {
        let running = self.writer.lock().ok().is_some_and(|w| w.as_ref().is_some_and(|h| !h.is_finished()));
        if running { Ok(()) } else { Err(StoreError::Database("the SQLite writer has stopped".into())) }
    }

    async fn read<T: Send + 'static>(&self, work: Work<T>) -> StoreResult<T> {
        let _slot = self.read_slots.acquire().await.map_err(|_| StoreError::Closed)?;
        let readers = Arc::clone(&self.readers);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = readers.lock().ok().and_then(|mut pool| pool.pop());
            let mut conn = match pooled {
                Some(conn) => conn,
                None => open_connection(&path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?,
            };
            // One snapshot for the whole read, so multi-query reads are consistent.
            conn.0.execute_batch("BEGIN DEFERRED")?;
            let result = run_now(work(&mut conn));
            conn.0.execute_batch("COMMIT")?;
            if let Ok(mut pool) = readers.lock() {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Database(format!("SQLite read task failed: {e}")))?
    }

    async fn close(&self) {
        if let Ok(mut stop) = self.stop_checkpoints.lock() {
            stop.take();
        }
        // Readers hold the WAL open; close them so the writer's last checkpoint can empty it.
        if let Ok(mut readers) = self.readers.lock() {
            readers.clear();
        }
        // Dropping the sender lets the writer drain what is queued, then exit.
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        let handle = self.writer.lock().ok().and_then(|mut writer| writer.take());
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
        self.read_slots.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wal_past_its_bound_is_emptied_and_one_below_it_is_left_to_passive_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let writer = open_connection(&path, OpenFlags::default()).unwrap();
        writer.0.execute_batch("PRAGMA wal_autocheckpoint = 0; CREATE TABLE blobs (data BLOB NOT NULL);").unwrap();
        let checkpointer = open_connection(&path, OpenFlags::default()).unwrap();
        // A reader in the middle of a read pins the frames it sees, as the hub's readers do.
        let reader = open_connection(&path, OpenFlags::default()).unwrap();
        let wal = wal_path(&path);
        let grow = || {
            for _ in 0..64 {
                writer.0.execute("INSERT INTO blobs (data) VALUES (zeroblob(16384))", []).unwrap();
            }
        };
        grow();
        reader.0.execute_batch("BEGIN; SELECT COUNT(*) FROM blobs;").unwrap();
        grow();
        let grown = std::fs::metadata(&wal).unwrap().len();
        assert!(grown > 1_000_000, "{grown}");

        checkpoint_once(&checkpointer.0, &wal, grown).unwrap();
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), grown, "below the bound: passive, never truncated");
        reader.0.execute_batch("COMMIT").unwrap();
        checkpoint_once(&checkpointer.0, &wal, 512 * 1024).unwrap();
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0, "past the bound: emptied");
        let count: i64 = checkpointer.0.query_row("SELECT COUNT(*) FROM blobs", [], |row| row.get(0)).unwrap();
        assert_eq!(count, 128, "nothing lost");
    }

    #[test]
    fn urls_map_to_paths() {
        assert_eq!(path_from_url("sqlite://data/x.db"), Some(PathBuf::from("data/x.db")));
        assert_eq!(path_from_url("sqlite:///./data/homelab.db"), Some(PathBuf::from("./data/homelab.db")));
        assert_eq!(path_from_url("sqlite:////var/lib/h.db"), Some(PathBuf::from("/var/lib/h.db")));
        assert_eq!(path_from_url("sqlite:///var/lib/h.db?mode=rwc"), Some(PathBuf::from("/var/lib/h.db")));
        assert_eq!(path_from_url("postgres://x"), None);
        assert_eq!(path_from_url("sqlite://"), None);
    }

    fn insert(name: &'static str) -> Work<()> {
        crate::backend::work(move |conn| {
            Box::pin(async move {
                conn.execute("INSERT INTO servers_probe (name) VALUES ($1)", &[name.into()]).await.map(|_| ())
            })
        })
    }

    async fn probe_backend(dir: &Path) -> SqliteBackend {
        let backend = SqliteBackend::open(&dir.join("probe.db"), &OpenOptions::default()).await.unwrap();
        backend
            .write(crate::backend::work(|conn| {
                Box::pin(async move { conn.execute("CREATE TABLE servers_probe (name TEXT)", &[]).await.map(|_| ()) })
            }))
            .await
            .unwrap();
        backend
    }

    async fn names(backend: &SqliteBackend) -> Vec<String> {
        backend
            .read(crate::backend::work(|conn| {
                Box::pin(async move {
                    let rows = conn.query("SELECT name FROM servers_probe ORDER BY name", &[]).await?;
                    rows.iter().map(|r| r.str(0)).collect()
                })
            }))
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_unit_rolls_back_alone_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let backend = probe_backend(dir.path()).await;
        let panicking = crate::backend::work(|conn| {
            Box::pin(async move {
                conn.execute("INSERT INTO servers_probe (name) VALUES ('half-done')", &[]).await?;
                panic!("a bug in a store operation")
            })
        });
        let (before, panicked, after) =
            tokio::join!(backend.write(insert("a")), backend.write::<()>(panicking), backend.write(insert("b")));
        assert!(before.is_ok() && after.is_ok());
        assert!(matches!(panicked, Err(StoreError::Database(m)) if m.contains("panicked")));
        backend.writable().unwrap();
        backend.write(insert("c")).await.unwrap();
        assert_eq!(names(&backend).await, ["a", "b", "c"]);
        backend.close().await;
        assert!(backend.writable().is_err(), "a stopped writer is reported");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_unit_that_cannot_be_rolled_back_takes_its_batch_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let backend = probe_backend(dir.path()).await;
        // The unit releases its own savepoint and fails: ROLLBACK TO has nothing to roll back to,
        // and its insert would have been committed with the batch.
        let unrollable = crate::backend::work(|conn| {
            Box::pin(async move {
                conn.execute("INSERT INTO servers_probe (name) VALUES ('failed-but-kept')", &[]).await?;
                conn.execute("RELEASE unit", &[]).await?;
                Err::<(), _>(StoreError::Rejected("refused after writing".into()))
            })
        });
        assert!(backend.write(unrollable).await.is_err());
        backend.write(insert("next")).await.unwrap();
        assert_eq!(names(&backend).await, ["next"], "nothing of the failed unit was committed");
        backend.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_queue_bound_writes_are_shed_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let options = OpenOptions { max_queue: 2, ..OpenOptions::default() };
        let backend = SqliteBackend::open(&dir.path().join("queue.db"), &options).await.unwrap();
        backend
            .write(crate::backend::work(|conn| {
                Box::pin(async move { conn.execute("CREATE TABLE servers_probe (name TEXT)", &[]).await.map(|_| ()) })
            }))
            .await
            .unwrap();
        let backend = Arc::new(backend);
        // A unit that holds the writer until released, so that the queue behind it fills.
        let (started, has_started) = mpsc::channel::<()>();
        let (release, released) = mpsc::channel::<()>();
        let blocker = crate::backend::work(move |conn| {
            Box::pin(async move {
                let _ = started.send(());
                let _ = released.recv();
                conn.execute("INSERT INTO servers_probe (name) VALUES ('blocker')", &[]).await.map(|_| ())
            })
        });
        let held = tokio::spawn({
            let backend = Arc::clone(&backend);
            async move { backend.write(blocker).await }
        });
        tokio::task::spawn_blocking(move || has_started.recv()).await.unwrap().unwrap();
        let mut queued = vec![backend.write(insert("q0")), backend.write(insert("q1"))];
        for write in &mut queued {
            let polled = write.as_mut().poll(&mut Context::from_waker(Waker::noop()));
            assert!(polled.is_pending(), "queued behind the blocker");
        }
        let before = crate::writes_shed();
        let shed = backend.write(insert("shed")).await;
        assert!(matches!(shed, Err(StoreError::Overloaded(_))), "{shed:?}");
        assert!(crate::writes_shed() > before, "counted");
        release.send(()).unwrap();
        held.await.unwrap().unwrap();
        for write in queued {
            write.await.unwrap();
        }
        assert_eq!(names(&backend).await, ["blocker", "q0", "q1"]);
        backend.close().await;
    }

    #[test]
    fn placeholders_are_rewritten() {
        assert_eq!(sqlite_placeholders("a = $1 AND b = $12, '$'"), "a = ?1 AND b = ?12, '$'");
    }
}
