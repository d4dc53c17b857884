//! Settings documents (`thresholds`, `notifications`, …) stored as JSON text, as in v1.

use homelab_core::time::{Timestamp, to_millis};

use crate::backend::Conn;
use crate::{SettingChange, StoreError, StoreResult};

pub(crate) async fn get(conn: &mut dyn Conn, key: &str) -> StoreResult<Option<serde_json::Value>> {
    let row = conn.query_opt("SELECT value FROM settings WHERE key = $1", &[key.into()]).await?;
    row.map(|row| Ok(serde_json::from_str(&row.str(0)?)?)).transpose()
}

pub(crate) async fn put(conn: &mut dyn Conn, key: &str, value: &serde_json::Value, now: Timestamp) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        &[key.into(), value.to_string().into(), to_millis(&now).into()],
    )
    .await?;
    Ok(())
}

/// Read-modify-write of one document in the caller's transaction. The row is locked first
/// (PostgreSQL: a no-op `UPDATE` takes the row lock until commit; SQLite has a single writer),
/// so concurrent changes apply one after the other instead of overwriting each other. A
/// document created by someone else between our read and our insert makes us go round again,
/// this time with the row to lock.
pub(crate) async fn update(
    conn: &mut dyn Conn,
    key: &str,
    change: &SettingChange,
    now: Timestamp,
) -> StoreResult<serde_json::Value> {
    for _ in 0..2 {
        let locked = conn.execute("UPDATE settings SET updated_at = updated_at WHERE key = $1", &[key.into()]).await?;
        if locked == 1 {
            let value = change(get(conn, key).await?)?;
            put(conn, key, &value, now).await?;
            return Ok(value);
        }
        let value = change(None)?;
        let created = conn
            .execute(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING",
                &[key.into(), value.to_string().into(), to_millis(&now).into()],
            )
            .await?;
        if created == 1 {
            return Ok(value);
        }
    }
    Err(StoreError::Conflict(format!("the '{key}' settings changed while they were saved; retry")))
}
