//! The PostgreSQL backend: a connection pool, one transaction per unit of work, statements
//! prepared once per connection. Several hubs may share one database.

use std::error::Error;
use std::str::FromStr;

use async_trait::async_trait;
use bytes::BytesMut;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Transaction};
use tokio_postgres::NoTls;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use crate::backend::{Backend, Conn, Row, Value, Work};
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

struct PgConn<'a>(Transaction<'a>);

impl PgConn<'_> {
    async fn run(&mut self, sql: &str, params: &[Value]) -> StoreResult<Vec<tokio_postgres::Row>> {
        crate::backend::check_storable(params)?;
        let statement = self.0.prepare_cached(sql).await?;
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        Ok(self.0.query(&statement, &params).await?)
    }
}

#[async_trait]
impl Conn for PgConn<'_> {
    fn lock_clause(&self) -> &'static str {
        " FOR UPDATE SKIP LOCKED"
    }

    async fn try_job_lock(&mut self, job: i64) -> StoreResult<bool> {
        Conn::query_one(self, "SELECT pg_try_advisory_xact_lock($1)", &[job.into()]).await?.bool(0)
    }

    async fn execute(&mut self, sql: &str, params: &[Value]) -> StoreResult<u64> {
        crate::backend::check_storable(params)?;
        let statement = self.0.prepare_cached(sql).await?;
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        Ok(self.0.execute(&statement, &params).await?)
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

/// PostgreSQL through a pool of connections.
pub struct PostgresBackend {
    pool: Pool,
}

impl PostgresBackend {
    /// Connects, checks the server answers, and applies migrations.
    pub async fn open(url: &str, options: &OpenOptions) -> StoreResult<Self> {
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid PostgreSQL URL '{}': {e}", redact_url(url))))?;
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .wait_timeout(Some(options.pool_wait))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Config(format!("cannot build the PostgreSQL pool: {e}")))?;
        let backend = PostgresBackend { pool };
        backend.migrate(i64::MAX).await.map_err(|e| match e {
            StoreError::Database(message) => {
                StoreError::Config(format!("cannot prepare PostgreSQL at '{}': {message}", redact_url(url)))
            }
            other => other,
        })?;
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
        let backend = PostgresBackend { pool };
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

    async fn write<T: Send + 'static>(&self, work: Work<T>) -> StoreResult<T> {
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let mut conn = PgConn(client.transaction().await?);
        match work(&mut conn).await {
            Ok(value) => {
                conn.0.commit().await?;
                Ok(value)
            }
            Err(error) => {
                let _ = conn.0.rollback().await;
                Err(error)
            }
        }
    }

    async fn read<T: Send + 'static>(&self, work: Work<T>) -> StoreResult<T> {
        let mut client = self.pool.get().await.map_err(pool_error)?;
        let transaction = client
            .build_transaction()
            .read_only(true)
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .start()
            .await?;
        let mut conn = PgConn(transaction);
        let result = work(&mut conn).await;
        let _ = conn.0.rollback().await;
        result
    }

    async fn close(&self) {
        self.pool.close();
    }
}

#[cfg(all(test, feature = "test-support"))]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::backend::work;

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
