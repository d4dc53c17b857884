//! Settings documents (`thresholds`, `notifications`, …) stored as JSON text, as in v1.

use homelab_core::time::{Timestamp, to_millis};

use crate::StoreResult;
use crate::backend::Conn;

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
