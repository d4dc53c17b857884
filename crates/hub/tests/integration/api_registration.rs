//! Agent registration over HTTP (contract §2.8): registration tokens, the claim, and per-agent
//! credentials (get, rotate, revoke), on both backends.
use crate::common;

use chrono::Duration;
use common::{TestHub, start_time};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const TOKENS: &str = "/api/v1/agents/register/tokens";
const CLAIM: &str = "/api/v1/agents/register/claim";

fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_uuid_v4(text: &str) -> bool {
    homelab_core::validate::is_uuid_v4(text)
}

/// Claims without any credentials (the registration token is the credential).
async fn claim(hub: &TestHub, token: &str, server_id: &str) -> (StatusCode, Value) {
    let body = json!({"token": token, "server_id": server_id, "hostname": format!("{server_id}.home.lan")});
    let reply = hub.request(Method::POST, CLAIM, &[], Some(&body)).await;
    (reply.status, reply.body)
}

async fn create_token(hub: &TestHub, body: Value) -> Value {
    let (status, created) = hub.post(TOKENS, body).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    created
}

async fn creating_a_token(hub: &TestHub) {
    let created = create_token(hub, json!({})).await;
    let token = created["token"].as_str().unwrap();
    assert!(token.starts_with("hlh_rt_") && is_lower_hex(&token[7..], 64), "{token}");
    assert_eq!(created["token_prefix"], &token[..16]);
    assert_eq!(created["expires_at"], "2026-01-19T12:15:00.000Z");
    let install = created["install_command"].as_str().unwrap();
    assert!(install.contains(token) && install.contains(&hub.base), "{install}");
    assert_eq!(created.as_object().unwrap().len(), 4, "{created}");

    // Behind a proxy the forwarded address is used.
    let reply = hub
        .request(
            Method::POST,
            TOKENS,
            &[("X-API-Key", common::API_KEY), ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "hub.example.org")],
            Some(&json!({"expiry_minutes": 60, "mode": "readwrite"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body["install_command"].as_str().unwrap().contains("https://hub.example.org"), "{}", reply.text);
    assert_eq!(reply.body["expires_at"], "2026-01-19T13:00:00.000Z");
    // Every token is different.
    assert_ne!(reply.body["token"], created["token"]);

    for (body, kind, field) in [
        (json!({"expiry_minutes": 4}), "greater_than_equal", "expiry_minutes"),
        (json!({"expiry_minutes": 61}), "less_than_equal", "expiry_minutes"),
        (json!({"mode": "admin"}), "literal_error", "mode"),
        (json!({"display_name": "d".repeat(256)}), "string_too_long", "display_name"),
        (json!({"expiry_minutes": "soon"}), "type_error", "expiry_minutes"),
    ] {
        let (status, answer) = hub.post(TOKENS, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {answer}");
        assert_eq!(answer["detail"][0]["type"], kind, "{body} → {answer}");
        assert_eq!(answer["detail"][0]["loc"], json!(["body", field]), "{body} → {answer}");
    }
    let (status, answer) = hub.post(TOKENS, json!({"monitored_services": ["plex", ""]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["detail"][0]["loc"], json!(["body", "monitored_services", 1, "name"]));
    assert_eq!(hub.get(TOKENS).await.1["total"], 2, "invalid requests created no token");
}

async fn listing_shows_only_pending_tokens(hub: &TestHub) {
    assert_eq!(hub.get(TOKENS).await, (StatusCode::OK, json!({"tokens": [], "total": 0})));
    let first = create_token(hub, json!({})).await;
    hub.clock.advance(Duration::minutes(1));
    let second = create_token(
        hub,
        json!({"mode": "readwrite", "display_name": "Media server", "monitored_services": ["plex", "smbd"], "expiry_minutes": 5}),
    )
    .await;
    let (status, body) = hub.get(TOKENS).await;
    assert_eq!(status, StatusCode::OK);
    let first_id = body["tokens"][1]["id"].clone();
    let second_id = body["tokens"][0]["id"].clone();
    assert_eq!(
        body,
        json!({"total": 2, "tokens": [
            {"id": second_id, "token_prefix": second["token_prefix"], "mode": "readwrite", "display_name": "Media server",
             "monitored_services": ["plex", "smbd"], "expires_at": "2026-01-19T12:06:00.000Z",
             "created_at": "2026-01-19T12:01:00.000Z", "is_expired": false, "is_claimed": false},
            {"id": first_id, "token_prefix": first["token_prefix"], "mode": "readonly", "display_name": null,
             "monitored_services": null, "expires_at": "2026-01-19T12:15:00.000Z",
             "created_at": "2026-01-19T12:00:00.000Z", "is_expired": false, "is_claimed": false},
        ]})
    );
    assert!(first_id.as_i64().is_some() && first_id != second_id);

    // The second expires at 12:06 exactly: gone from then on.
    hub.clock.set(start_time() + Duration::minutes(6));
    let (_, body) = hub.get(TOKENS).await;
    assert_eq!(body["total"], 1);
    assert_eq!(body["tokens"][0]["id"], first_id);
    // A claimed token is no longer listed.
    assert_eq!(claim(hub, first["token"].as_str().unwrap(), "nas").await.0, StatusCode::OK);
    assert_eq!(hub.get(TOKENS).await.1, json!({"tokens": [], "total": 0}));
}

async fn deleting_tokens(hub: &TestHub) {
    let created = create_token(hub, json!({})).await;
    let id = hub.get(TOKENS).await.1["tokens"][0]["id"].as_i64().unwrap();
    let reply = hub.request(Method::DELETE, &format!("{TOKENS}/{id}"), &[("X-API-Key", common::API_KEY)], None).await;
    assert_eq!((reply.status, reply.text.as_str()), (StatusCode::NO_CONTENT, ""));
    assert_eq!(hub.get(TOKENS).await.1["total"], 0);
    let (status, body) = hub.delete(&format!("{TOKENS}/{id}")).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, plain("Token not found")));
    // A deleted token cannot be claimed.
    let (status, body) = claim(hub, created["token"].as_str().unwrap(), "nas").await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, plain("Invalid token")));

    // A claimed one cannot be deleted.
    let created = create_token(hub, json!({})).await;
    let id = hub.get(TOKENS).await.1["tokens"][0]["id"].as_i64().unwrap();
    assert_eq!(claim(hub, created["token"].as_str().unwrap(), "nas").await.0, StatusCode::OK);
    let (status, body) = hub.delete(&format!("{TOKENS}/{id}")).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, plain("Token has already been claimed")));
}

async fn claiming_creates_the_server_and_a_credential(hub: &TestHub) {
    let created = create_token(
        hub,
        json!({"mode": "readwrite", "display_name": "Media server", "monitored_services": ["plex", "smbd"]}),
    )
    .await;
    let token = created["token"].as_str().unwrap();
    hub.clock.advance(Duration::minutes(2));
    let (status, body) = claim(hub, token, "media").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let guid = body["server_guid"].as_str().unwrap();
    assert!(is_uuid_v4(guid), "{guid}");
    let api_token = body["api_token"].as_str().unwrap();
    let expected_start = format!("hlh_ag_{}_", &guid[..8]);
    assert!(api_token.starts_with(&expected_start) && is_lower_hex(&api_token[16..], 64), "{api_token}");
    assert_eq!(
        body,
        json!({"success": true, "server_id": "media", "server_guid": guid, "api_token": api_token, "error": null,
               "config_yaml": format!("hub_url: {}\nserver_id: media\nserver_guid: {guid}\napi_token: {api_token}\nmode: readwrite\nheartbeat_interval: 60\ncommand_execution_enabled: true\nmonitored_services:\n  - plex\n  - smbd\n", hub.base)})
    );

    let (_, server) = hub.get("/api/v1/servers/media").await;
    assert_eq!(
        (&server["guid"], &server["display_name"], &server["hostname"], &server["status"], &server["created_at"]),
        (
            &json!(guid),
            &json!("Media server"),
            &json!("media.home.lan"),
            &json!("unknown"),
            &json!("2026-01-19T12:02:00.000Z")
        )
    );
    let (status, credential) = hub.get(&format!("/api/v1/agents/register/credentials/{guid}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        credential,
        json!({"server_guid": guid, "api_token_prefix": &api_token[..20], "is_legacy": false, "last_used_at": null,
               "is_revoked": false, "created_at": "2026-01-19T12:02:00.000Z"})
    );

    // A readonly token without services gives the short configuration.
    let plain = create_token(hub, json!({})).await;
    let (status, body) = claim(hub, plain["token"].as_str().unwrap(), "plain").await;
    assert_eq!(status, StatusCode::OK);
    let yaml = body["config_yaml"].as_str().unwrap();
    assert!(yaml.ends_with("mode: readonly\nheartbeat_interval: 60\n"), "{yaml}");
    assert_eq!(hub.get("/api/v1/servers/plain").await.1["display_name"], Value::Null);
}

async fn claims_that_are_refused(hub: &TestHub) {
    let token = create_token(hub, json!({})).await["token"].as_str().unwrap().to_owned();
    assert_eq!(claim(hub, &token, "nas").await.0, StatusCode::OK);
    let refused = plain;
    assert_eq!(claim(hub, &token, "nas").await, (StatusCode::BAD_REQUEST, refused("Token has already been claimed")));
    assert_eq!(claim(hub, &token, "other").await, (StatusCode::BAD_REQUEST, refused("Token has already been claimed")));
    let unknown = format!("hlh_rt_{}", "0".repeat(64));
    assert_eq!(claim(hub, &unknown, "nas").await, (StatusCode::BAD_REQUEST, refused("Invalid token")));

    // Expired: valid for 15 minutes.
    let late = create_token(hub, json!({})).await["token"].as_str().unwrap().to_owned();
    hub.clock.advance(Duration::minutes(15));
    assert_eq!(claim(hub, &late, "late").await, (StatusCode::BAD_REQUEST, refused("Token has expired")));
    assert_eq!(hub.get("/api/v1/servers/late").await.0, StatusCode::NOT_FOUND);

    // A server with an active credential must rotate instead.
    let again = create_token(hub, json!({})).await["token"].as_str().unwrap().to_owned();
    assert_eq!(
        claim(hub, &again, "nas").await,
        (StatusCode::BAD_REQUEST, refused("Server already registered. Use token rotation to update credentials."))
    );
    // The refused claim did not use up the token: it still works for a new server.
    assert_eq!(claim(hub, &again, "fresh").await.0, StatusCode::OK);

    // Validation names the field.
    let fresh = create_token(hub, json!({})).await["token"].as_str().unwrap().to_owned();
    for (body, field) in [
        (json!({"token": "hlh_rt_short", "server_id": "a", "hostname": "a"}), "token"),
        (json!({"token": fresh, "server_id": "Not Valid", "hostname": "a"}), "server_id"),
        (json!({"token": fresh, "server_id": "a", "hostname": ""}), "hostname"),
        (json!({"token": fresh, "server_id": "a"}), "hostname"),
    ] {
        let reply = hub.request(Method::POST, CLAIM, &[], Some(&body)).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(reply.body["detail"][0]["loc"], json!(["body", field]), "{}", reply.text);
    }
}

async fn a_hand_made_server_gets_a_guid_when_claimed(hub: &TestHub) {
    hub.create_server(json!({"id": "nas", "hostname": "nas.lan", "display_name": "My NAS"})).await;
    let token = create_token(hub, json!({"display_name": "ignored"})).await["token"].as_str().unwrap().to_owned();
    let (status, body) = claim(hub, &token, "nas").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, server) = hub.get("/api/v1/servers/nas").await;
    assert_eq!(server["guid"], body["server_guid"]);
    assert_eq!((&server["display_name"], &server["hostname"]), (&json!("My NAS"), &json!("nas.lan")));
}

async fn credentials_rotate_and_revoke(hub: &TestHub) {
    let claimed = hub.register_agent("nas").await;
    let guid = claimed["server_guid"].as_str().unwrap().to_owned();
    let credentials = format!("/api/v1/agents/register/credentials/{guid}");

    let missing = "/api/v1/agents/register/credentials/00000000-0000-4000-8000-000000000000";
    assert_eq!(hub.get(missing).await, (StatusCode::NOT_FOUND, plain("Credential not found")));
    let no_active = plain("No active credential found for server");
    assert_eq!(hub.post(&format!("{missing}/rotate"), json!({})).await, (StatusCode::NOT_FOUND, no_active.clone()));
    assert_eq!(hub.post(&format!("{missing}/revoke"), json!({})).await, (StatusCode::NOT_FOUND, no_active.clone()));

    hub.clock.advance(Duration::minutes(3));
    let (status, rotated) = hub.post(&format!("{credentials}/rotate"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new_token = rotated["api_token"].as_str().unwrap();
    assert!(new_token.starts_with(&format!("hlh_ag_{}_", &guid[..8])) && is_lower_hex(&new_token[16..], 64));
    assert_ne!(new_token, claimed["api_token"].as_str().unwrap());
    assert_eq!(
        rotated,
        json!({"success": true, "server_guid": guid, "api_token": new_token, "api_token_prefix": &new_token[..20], "error": null})
    );
    let (_, credential) = hub.get(&credentials).await;
    assert_eq!(
        credential,
        json!({"server_guid": guid, "api_token_prefix": &new_token[..20], "is_legacy": false, "last_used_at": null,
               "is_revoked": false, "created_at": "2026-01-19T12:03:00.000Z"})
    );

    let (status, revoked) = hub.post(&format!("{credentials}/revoke"), json!({})).await;
    assert_eq!((status, revoked), (StatusCode::OK, json!({"success": true, "server_guid": guid, "error": null})));
    // Revoked is gone, as v1 answers it.
    assert_eq!(hub.get(&credentials).await, (StatusCode::NOT_FOUND, plain("Credential not found")));
    assert_eq!(hub.post(&format!("{credentials}/revoke"), json!({})).await, (StatusCode::NOT_FOUND, no_active.clone()));
    assert_eq!(hub.post(&format!("{credentials}/rotate"), json!({})).await, (StatusCode::NOT_FOUND, no_active));

    // After revocation the agent may register again, keeping its GUID.
    let token = create_token(hub, json!({})).await["token"].as_str().unwrap().to_owned();
    let (status, again) = claim(hub, &token, "nas").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["server_guid"], guid.as_str());
    assert_eq!(hub.get(&credentials).await.1["is_revoked"], false);
}

on_both_backends!(
    creating_a_token,
    listing_shows_only_pending_tokens,
    deleting_tokens,
    claiming_creates_the_server_and_a_credential,
    claims_that_are_refused,
    a_hand_made_server_gets_a_guid_when_claimed,
    credentials_rotate_and_revoke,
);

/// v1's plain-string error body of the registration endpoints.
fn plain(message: &str) -> Value {
    json!({ "detail": message })
}
