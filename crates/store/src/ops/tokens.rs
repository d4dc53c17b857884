//! Agent registration tokens and per-agent credentials (v1 §2.8). Only SHA-256 hashes of the
//! secrets are stored; the hub hashes before calling.

use homelab_core::time::{Timestamp, from_millis, to_millis};

use super::servers::find_by_id;
use crate::backend::{Conn, Row};
use crate::{
    AgentCredential, ClaimedAgent, NewCredential, NewRegistrationToken, RegistrationToken, StoreError, StoreResult,
    TokenClaim,
};

const TOKEN_COLUMNS: &str =
    "id, token_prefix, mode, display_name, monitored_services, expires_at, created_at, claimed_at";

fn token_from_row(row: &Row) -> StoreResult<RegistrationToken> {
    Ok(RegistrationToken {
        id: row.i64(0)?,
        token_prefix: row.str(1)?,
        mode: row.str(2)?,
        display_name: row.opt_str(3)?,
        monitored_services: row.opt_str(4)?.map(|text| serde_json::from_str(&text)).transpose()?,
        expires_at: from_millis(row.i64(5)?),
        created_at: from_millis(row.i64(6)?),
        claimed_at: row.opt_i64(7)?.map(from_millis),
    })
}

pub(crate) async fn create_token(conn: &mut dyn Conn, token: &NewRegistrationToken) -> StoreResult<RegistrationToken> {
    let services = token.monitored_services.as_ref().map(serde_json::to_string).transpose()?;
    let sql = format!(
        "INSERT INTO registration_tokens (token_hash, token_prefix, mode, display_name, monitored_services, \
         expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {TOKEN_COLUMNS}"
    );
    let row = conn
        .query_one(
            &sql,
            &[
                (&token.token_hash).into(),
                (&token.token_prefix).into(),
                (&token.mode).into(),
                token.display_name.as_deref().into(),
                services.into(),
                to_millis(&token.expires_at).into(),
                to_millis(&token.created_at).into(),
            ],
        )
        .await?;
    token_from_row(&row)
}

pub(crate) async fn list_tokens(conn: &mut dyn Conn, now: Timestamp) -> StoreResult<Vec<RegistrationToken>> {
    let sql = format!(
        "SELECT {TOKEN_COLUMNS} FROM registration_tokens WHERE claimed_at IS NULL AND expires_at > $1 \
         ORDER BY created_at DESC, id DESC"
    );
    conn.query(&sql, &[to_millis(&now).into()]).await?.iter().map(token_from_row).collect()
}

pub(crate) async fn delete_token(conn: &mut dyn Conn, id: i64) -> StoreResult<()> {
    let row = conn.query_opt("SELECT claimed_at FROM registration_tokens WHERE id = $1", &[id.into()]).await?;
    match row {
        None => Err(StoreError::NotFound("Token not found".into())),
        Some(row) if row.opt_i64(0)?.is_some() => Err(StoreError::Conflict("Token has already been claimed".into())),
        Some(_) => {
            conn.execute("DELETE FROM registration_tokens WHERE id = $1", &[id.into()]).await?;
            Ok(())
        }
    }
}

pub(crate) async fn claim(conn: &mut dyn Conn, claim: &TokenClaim) -> StoreResult<ClaimedAgent> {
    let now = to_millis(&claim.now);
    let token = conn
        .query_opt(
            &format!("SELECT {TOKEN_COLUMNS} FROM registration_tokens WHERE token_hash = $1"),
            &[(&claim.token_hash).into()],
        )
        .await?
        .as_ref()
        .map(token_from_row)
        .transpose()?
        .ok_or_else(|| StoreError::Rejected("Invalid token".into()))?;
    if token.claimed_at.is_some() {
        return Err(StoreError::Rejected("Token has already been claimed".into()));
    }
    if token.expires_at <= claim.now {
        return Err(StoreError::Rejected("Token has expired".into()));
    }
    let server_pk = match find_by_id(conn, &claim.server_id).await? {
        Some(existing) => {
            if let Some(guid) = &existing.server.guid {
                if guid != &claim.server_guid {
                    return Err(StoreError::Conflict(format!(
                        "Server '{}' has GUID {guid}; retry the claim",
                        claim.server_id
                    )));
                }
                if active_credential(conn, guid).await?.is_some() {
                    return Err(StoreError::Rejected(
                        "Server already registered. Use token rotation to update credentials.".into(),
                    ));
                }
            } else {
                conn.execute(
                    "UPDATE servers SET guid = $1, updated_at = $2 WHERE pk = $3",
                    &[(&claim.server_guid).into(), now.into(), existing.pk.into()],
                )
                .await?;
            }
            existing.pk
        }
        None => conn
            .query_one(
                "INSERT INTO servers (id, guid, hostname, display_name, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'unknown', $5, $5) RETURNING pk",
                &[
                    (&claim.server_id).into(),
                    (&claim.server_guid).into(),
                    (&claim.hostname).into(),
                    token.display_name.as_deref().into(),
                    now.into(),
                ],
            )
            .await?
            .i64(0)?,
    };
    insert_credential(conn, server_pk, &claim.server_guid, &claim.credential, now).await?;
    conn.execute(
        "UPDATE registration_tokens SET claimed_at = $1, claimed_by_server_pk = $2 WHERE id = $3",
        &[now.into(), server_pk.into(), token.id.into()],
    )
    .await?;
    Ok(ClaimedAgent {
        server_id: claim.server_id.clone(),
        server_guid: claim.server_guid.clone(),
        mode: token.mode,
        monitored_services: token.monitored_services,
    })
}

async fn insert_credential(
    conn: &mut dyn Conn,
    server_pk: i64,
    guid: &str,
    credential: &NewCredential,
    now: i64,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO agent_credentials (server_pk, server_guid, api_token_hash, api_token_prefix, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
        &[
            server_pk.into(),
            guid.into(),
            (&credential.token_hash).into(),
            (&credential.token_prefix).into(),
            now.into(),
        ],
    )
    .await?;
    Ok(())
}

const CREDENTIAL_COLUMNS: &str = "s.id, c.server_guid, c.api_token_hash, c.api_token_prefix, c.is_legacy, \
    c.last_used_at, c.revoked_at, c.created_at";

fn credential_from_row(row: &Row) -> StoreResult<AgentCredential> {
    Ok(AgentCredential {
        server_id: row.str(0)?,
        server_guid: row.str(1)?,
        token_hash: row.str(2)?,
        token_prefix: row.str(3)?,
        is_legacy: row.bool(4)?,
        last_used_at: row.opt_i64(5)?.map(from_millis),
        revoked_at: row.opt_i64(6)?.map(from_millis),
        created_at: from_millis(row.i64(7)?),
    })
}

pub(crate) async fn active_credential(conn: &mut dyn Conn, guid: &str) -> StoreResult<Option<AgentCredential>> {
    let sql = format!(
        "SELECT {CREDENTIAL_COLUMNS} FROM agent_credentials c JOIN servers s ON s.pk = c.server_pk \
         WHERE c.server_guid = $1 AND c.revoked_at IS NULL"
    );
    conn.query_opt(&sql, &[guid.into()]).await?.as_ref().map(credential_from_row).transpose()
}

/// The newest credential of an agent, revoked or not.
pub(crate) async fn credential_info(conn: &mut dyn Conn, guid: &str) -> StoreResult<AgentCredential> {
    let sql = format!(
        "SELECT {CREDENTIAL_COLUMNS} FROM agent_credentials c JOIN servers s ON s.pk = c.server_pk \
         WHERE c.server_guid = $1 ORDER BY c.id DESC LIMIT 1"
    );
    conn.query_opt(&sql, &[guid.into()])
        .await?
        .as_ref()
        .map(credential_from_row)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound("Credential not found".into()))
}

async fn revoke_active(conn: &mut dyn Conn, guid: &str, now: i64) -> StoreResult<i64> {
    let row = conn
        .query_opt(
            "UPDATE agent_credentials SET revoked_at = $1 WHERE server_guid = $2 AND revoked_at IS NULL \
             RETURNING server_pk",
            &[now.into(), guid.into()],
        )
        .await?;
    match row {
        Some(row) => row.i64(0),
        None => Err(StoreError::NotFound("No active credential found for server".into())),
    }
}

pub(crate) async fn rotate(conn: &mut dyn Conn, guid: &str, new: &NewCredential, now: Timestamp) -> StoreResult<()> {
    let now = to_millis(&now);
    let server_pk = revoke_active(conn, guid, now).await?;
    insert_credential(conn, server_pk, guid, new, now).await
}

pub(crate) async fn revoke(conn: &mut dyn Conn, guid: &str, now: Timestamp) -> StoreResult<()> {
    revoke_active(conn, guid, to_millis(&now)).await.map(|_| ())
}
