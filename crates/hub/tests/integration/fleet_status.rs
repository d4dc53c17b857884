//! One notion of status: the fleet summary (`/api/v1/fleet/summary`), the servers API and the
//! dashboard's cards say the same about a sleeping workstation and about a server that has just
//! passed its offline timeout, whether or not the offline job has run since.

use crate::common;

use chrono::Duration;
use common::{TestHub, heartbeat_body};
use homelab_core::alerts::thresholds::DEFAULT_OFFLINE_SECONDS;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn session(hub: &TestHub) -> String {
    hub.login_set_cookie().await.split(';').next().unwrap().to_owned()
}

/// `data-status` of each card on the fleet page, by server id.
async fn card_statuses(hub: &TestHub, cookie: &str, ids: &[&str]) -> Vec<String> {
    let page = hub.client.get(hub.url("/")).header("cookie", cookie).send().await.unwrap().text().await.unwrap();
    ids.iter()
        .map(|id| {
            let card = page.split(&format!("id=\"card-{id}\"")).nth(1).unwrap_or_else(|| panic!("no card {id}"));
            card.split("data-status=\"").nth(1).unwrap().split('"').next().unwrap().to_owned()
        })
        .collect()
}

async fn api_statuses(hub: &TestHub, ids: &[&str]) -> Vec<Value> {
    let mut statuses = Vec::new();
    for id in ids {
        let (status, server) = hub.get(&format!("/api/v1/servers/{id}")).await;
        assert_eq!(status, StatusCode::OK);
        statuses.push(server["status"].clone());
    }
    let (_, list) = hub.get("/api/v1/servers").await;
    let listed: Vec<Value> = ids
        .iter()
        .map(|id| list["servers"].as_array().unwrap().iter().find(|s| s["id"] == *id).unwrap()["status"].clone())
        .collect();
    assert_eq!(listed, statuses, "the list and the single server agree");
    statuses
}

async fn summary(hub: &TestHub) -> Value {
    let (status, summary) = hub.get("/api/v1/fleet/summary").await;
    assert_eq!(status, StatusCode::OK);
    summary["servers"].clone()
}

async fn summary_and_cards_agree(hub: &TestHub) {
    let (status, _) = hub
        .post("/api/v1/servers", json!({"id": "desk", "hostname": "desk.home.lan", "machine_type": "workstation"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Added by hand and never heard from: unknown in all three.
    let cookie = session(hub).await;
    assert_eq!(card_statuses(hub, &cookie, &["desk"]).await, ["unknown"]);
    assert_eq!(api_statuses(hub, &["desk"]).await, [json!("unknown")]);
    assert_eq!(
        summary(hub).await,
        json!({"total": 1, "online": 0, "offline": 0, "asleep": 0, "unknown": 1, "paused": 0})
    );

    let t0 = hub.now();
    for id in ["srv", "desk"] {
        assert_eq!(hub.heartbeat(heartbeat_body(id, t0, 10.0)).await.0, StatusCode::OK);
    }
    let ids = ["srv", "desk"];

    assert_eq!(card_statuses(hub, &cookie, &ids).await, ["online", "online"]);
    assert_eq!(api_statuses(hub, &ids).await, [json!("online"), json!("online")]);
    assert_eq!(
        summary(hub).await,
        json!({"total": 2, "online": 2, "offline": 0, "asleep": 0, "unknown": 0, "paused": 0})
    );

    // A millisecond before the timeout nothing has changed…
    hub.clock.advance(Duration::seconds(DEFAULT_OFFLINE_SECONDS) - Duration::milliseconds(1));
    assert_eq!(card_statuses(hub, &cookie, &ids).await, ["online", "online"]);
    assert_eq!(summary(hub).await["online"], 2);

    // …at the timeout the server is offline and the workstation asleep, everywhere at once, before
    // the offline job has marked anything and after it has.
    hub.clock.advance(Duration::milliseconds(1));
    let offline = json!({"total": 2, "online": 0, "offline": 1, "asleep": 1, "unknown": 0, "paused": 0});
    for job_ran in [false, true] {
        if job_ran {
            hub.store.check_offline(hub.now(), None).await.unwrap();
        }
        assert_eq!(card_statuses(hub, &cookie, &ids).await, ["offline", "asleep"], "job ran: {job_ran}");
        assert_eq!(api_statuses(hub, &ids).await, [json!("offline"), json!("offline")], "job ran: {job_ran}");
        assert_eq!(summary(hub).await, offline, "job ran: {job_ran}");
    }

    // A heartbeat brings the workstation back in all three.
    assert_eq!(hub.heartbeat(heartbeat_body("desk", hub.now(), 10.0)).await.0, StatusCode::OK);
    assert_eq!(card_statuses(hub, &cookie, &ids).await, ["offline", "online"]);
    assert_eq!(api_statuses(hub, &ids).await, [json!("offline"), json!("online")]);
    assert_eq!(summary(hub).await["asleep"], 0);
}

on_both_backends!(summary_and_cards_agree);
