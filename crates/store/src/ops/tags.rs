//! Server tags, one row per server and tag (`server_tags`), removed with their server.

use super::servers;
use crate::backend::Conn;
use crate::{StoreResult, TagMap};

/// Every server's tags in one query (servers without tags are absent).
pub(crate) async fn all(conn: &mut dyn Conn) -> StoreResult<TagMap> {
    let rows = conn
        .query("SELECT s.id, t.tag FROM server_tags t JOIN servers s ON s.pk = t.server_pk ORDER BY s.id, t.tag", &[])
        .await?;
    let mut tags = TagMap::new();
    for row in rows {
        tags.entry(row.str(0)?).or_default().push(row.str(1)?);
    }
    Ok(tags)
}

/// One server's tags, sorted; [`StoreError::NotFound`] when there is no such server.
pub(crate) async fn of_server(conn: &mut dyn Conn, server_id: &str) -> StoreResult<Vec<String>> {
    let pk = conn
        .query_opt("SELECT pk FROM servers WHERE id = $1", &[server_id.into()])
        .await?
        .ok_or_else(|| servers::not_found(server_id))?
        .i64(0)?;
    let rows = conn.query("SELECT tag FROM server_tags WHERE server_pk = $1 ORDER BY tag", &[pk.into()]).await?;
    rows.iter().map(|row| row.str(0)).collect()
}

/// Replaces one server's tags; returns them sorted, without duplicates. The server row is locked
/// first, so two replacements of one server's tags apply one after the other.
pub(crate) async fn replace(conn: &mut dyn Conn, server_id: &str, tags: &[String]) -> StoreResult<Vec<String>> {
    let pk = conn
        .query_opt("UPDATE servers SET status = status WHERE id = $1 RETURNING pk", &[server_id.into()])
        .await?
        .ok_or_else(|| servers::not_found(server_id))?
        .i64(0)?;
    let mut tags = tags.to_vec();
    tags.sort();
    tags.dedup();
    conn.execute("DELETE FROM server_tags WHERE server_pk = $1", &[pk.into()]).await?;
    for tag in &tags {
        conn.execute("INSERT INTO server_tags (server_pk, tag) VALUES ($1, $2)", &[pk.into(), tag.into()]).await?;
    }
    Ok(tags)
}
