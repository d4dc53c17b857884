//! What the original v1 web UI calls (contract §9) answers here, on both backends: the endpoints
//! of features we build (cost, dashboard preferences) for real, the others (actions, config
//! packs) in v1's empty shapes; never a 404. And the power category and cost estimate the UI
//! shows.
use crate::common;

use common::{TestHub, heartbeat_body};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// Every read a page of the v1 UI makes, with a server present (`lab`).
async fn every_page_call_of_the_v1_ui_answers(hub: &TestHub) {
    hub.heartbeat(heartbeat_body("lab", hub.now(), 40.0)).await;
    let reads = [
        "/api/v1/servers",
        "/api/v1/alerts?status=open",
        "/api/v1/actions",
        "/api/v1/alerts/pending",
        "/api/v1/preferences/dashboard",
        "/api/v1/servers/lab/metrics/sparkline?metric=cpu_percent&period=30m",
        "/api/v1/agents/register/tokens",
        "/api/v1/servers/lab",
        "/api/v1/servers/lab/metrics?range=24h",
        "/api/v1/servers/lab/metrics?range=7d",
        "/api/v1/config/cost",
        "/api/v1/agents/version",
        "/api/v1/servers/lab/services",
        "/api/v1/actions?server_id=lab",
        "/api/v1/servers/lab/packages",
        "/api/v1/config/packs",
        "/api/v1/servers/lab/config/packs",
        "/api/v1/alerts?status=open&severity=high&server_id=lab&limit=20&offset=0",
        "/api/v1/config",
        "/api/v1/costs/summary",
        "/api/v1/costs/breakdown",
    ];
    for path in reads {
        let (status, body) = hub.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(hub.get_without_key(path).await.0, StatusCode::UNAUTHORIZED, "{path} needs the key");
    }
}

async fn actions_answer_the_empty_v1_list(hub: &TestHub) {
    let (_, body) = hub.get("/api/v1/actions").await;
    assert_eq!(body, json!({"actions": [], "total": 0, "limit": 50, "offset": 0}));
    let (_, body) = hub.get("/api/v1/actions?server_id=lab&status=pending&limit=20&offset=40").await;
    assert_eq!(body, json!({"actions": [], "total": 0, "limit": 20, "offset": 40}));
    let (status, body) = hub.get("/api/v1/actions?limit=0").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["query", "limit"]), "{body}");
    let (status, body) = hub.get("/api/v1/actions?offset=lots").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["query", "offset"]), "{body}");
}

async fn agent_version_and_config_packs(hub: &TestHub) {
    let (_, body) = hub.get("/api/v1/agents/version").await;
    assert_eq!(body, json!({"version": env!("CARGO_PKG_VERSION")}));
    assert_eq!(hub.get("/api/v1/config/packs").await.1, json!({"packs": [], "total": 0}));
    hub.create_server(json!({"id": "desk", "hostname": "desk.lan", "machine_type": "workstation"})).await;
    let (_, body) = hub.get("/api/v1/servers/desk/config/packs").await;
    assert_eq!(
        body,
        json!({"server_id": "desk", "assigned_packs": ["base", "developer-lite"], "drift_detection_enabled": true})
    );
    let (status, body) = hub.get("/api/v1/servers/nowhere/config/packs").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

async fn cost_config_defaults_updates_and_validation(hub: &TestHub) {
    let (_, body) = hub.get("/api/v1/config/cost").await;
    assert_eq!(body, json!({"electricity_rate": 0.24, "currency_symbol": "£", "updated_at": null}));
    let (status, body) = hub.put("/api/v1/config/cost", json!({"electricity_rate": 0.31})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["electricity_rate"], 0.31);
    assert_eq!(body["currency_symbol"], "£", "absent fields keep their value");
    assert!(common::is_api_timestamp(body["updated_at"].as_str().unwrap()), "{body}");
    let (status, body) =
        hub.put("/api/v1/config/cost", json!({"electricity_rate": -1, "currency_symbol": "€€€€€€€€€€€"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<_> = body["detail"].as_array().unwrap().iter().map(|e| e["loc"].clone()).collect();
    assert_eq!(fields, [json!(["body", "electricity_rate"]), json!(["body", "currency_symbol"])], "{body}");
    let (status, body) = hub.put("/api/v1/config/cost", json!({"currency_symbol": "€"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = hub.get("/api/v1/config/cost").await;
    assert_eq!(
        (body["electricity_rate"].clone(), body["currency_symbol"].clone()),
        (json!(0.31), json!("€")),
        "persisted"
    );
}

async fn dashboard_preferences_round_trip(hub: &TestHub) {
    let (_, body) = hub.get("/api/v1/preferences/dashboard").await;
    assert_eq!(
        body,
        json!({"card_order": {"servers": [], "workstations": []}, "collapsed_sections": [], "view_mode": "grid", "updated_at": null})
    );
    let saved = json!({"card_order": {"servers": ["nas", "pi"], "workstations": ["desk"]},
                       "collapsed_sections": ["workstations"], "view_mode": "list"});
    let (status, body) = hub.put("/api/v1/preferences/dashboard", saved.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "saved");
    let (_, mut read) = hub.get("/api/v1/preferences/dashboard").await;
    assert!(common::is_api_timestamp(read["updated_at"].as_str().unwrap()));
    read.as_object_mut().unwrap().remove("updated_at");
    assert_eq!(read, saved);
    let (status, body) = hub.put("/api/v1/preferences/dashboard", json!({"view_mode": ""})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "view_mode"]), "{body}");
}

/// The CPU suggests the category (`auto`) until a person sets one (`user`), which heartbeats
/// then keep; clearing it hands it back.
async fn category_is_inferred_unless_chosen(hub: &TestHub) {
    let mut beat = heartbeat_body("rack", hub.now(), 25.0);
    beat["cpu_info"]["cpu_model"] = json!("AMD EPYC 7B13 64-Core Processor");
    hub.heartbeat(beat.clone()).await;
    let (_, server) = hub.get("/api/v1/servers/rack").await;
    assert_eq!(
        (server["machine_category"].clone(), server["machine_category_source"].clone()),
        (json!("rack_server"), json!("auto"))
    );

    let (status, server) =
        hub.put("/api/v1/servers/rack", json!({"machine_category": "nas", "idle_watts": 20, "tdp_watts": 60})).await;
    assert_eq!(status, StatusCode::OK, "{server}");
    assert_eq!(
        (server["machine_category"].clone(), server["machine_category_source"].clone()),
        (json!("nas"), json!("user"))
    );
    hub.heartbeat(beat.clone()).await;
    let (_, server) = hub.get("/api/v1/servers/rack").await;
    assert_eq!(server["machine_category"], "nas", "a person's choice outlives heartbeats");
    assert_eq!((server["idle_watts"].clone(), server["tdp_watts"].clone()), (json!(20), json!(60)));

    let (status, body) = hub.put("/api/v1/servers/rack", json!({"machine_category": "toaster"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["body", "machine_category"]), "{body}");

    let (_, server) = hub.put("/api/v1/servers/rack", json!({"machine_category": null})).await;
    assert_eq!(server["machine_category_source"], json!(null));
    hub.heartbeat(beat).await;
    let (_, server) = hub.get("/api/v1/servers/rack").await;
    assert_eq!(
        (server["machine_category"].clone(), server["machine_category_source"].clone()),
        (json!("rack_server"), json!("auto"))
    );
}

/// Per-server and fleet estimates from category defaults, wattage overrides and the latest load.
async fn costs_estimate_per_server_and_for_the_fleet(hub: &TestHub) {
    // An N100 is a mini PC (10–25 W): at 40 % CPU, 16 W.
    hub.heartbeat(heartbeat_body("mini", hub.now(), 40.0)).await;
    // A Xeon is a rack server (100–300 W), tuned by hand to 50–150 W: at 50 %, 100 W.
    let mut beat = heartbeat_body("big", hub.now(), 50.0);
    beat["cpu_info"]["cpu_model"] = json!("Intel(R) Xeon(R) CPU E5-2680 v4");
    hub.heartbeat(beat).await;
    hub.put("/api/v1/servers/big", json!({"idle_watts": 50, "tdp_watts": 150})).await;
    // Created by hand, nothing known: counted as missing.
    hub.create_server(json!({"id": "bare", "hostname": "bare.lan"})).await;
    hub.put("/api/v1/config/cost", json!({"electricity_rate": 0.25, "currency_symbol": "$"})).await;

    let (_, summary) = hub.get("/api/v1/costs/summary").await;
    // 116 W for a day is 2.784 kWh: 0.696 a day, 20.88 a month at 0.25.
    assert_eq!(
        summary,
        json!({"daily_cost": 0.7, "monthly_cost": 20.88, "currency_symbol": "$", "servers_included": 2,
               "servers_missing_config": 1, "total_estimated_watts": 116.0, "electricity_rate": 0.25,
               "servers_missing_tdp": 1, "total_tdp_watts": 116.0})
    );
    let (_, breakdown) = hub.get("/api/v1/costs/breakdown").await;
    let servers = breakdown["servers"].as_array().unwrap();
    let mini = servers.iter().find(|s| s["server_id"] == "mini").unwrap();
    assert_eq!(mini["machine_category"], "mini_pc");
    assert_eq!(mini["machine_category_label"], "Mini PC");
    assert_eq!((mini["idle_watts"].clone(), mini["tdp_watts"].clone()), (json!(10), json!(25)));
    assert_eq!(mini["estimated_watts"], 16.0);
    let big = servers.iter().find(|s| s["server_id"] == "big").unwrap();
    assert_eq!(big["estimated_watts"], 100.0);
    assert_eq!(big["daily_cost"], 0.6);
    let bare = servers.iter().find(|s| s["server_id"] == "bare").unwrap();
    assert_eq!(bare["estimated_watts"], json!(null));
    assert_eq!(breakdown["totals"]["servers_configured"], 2);
    assert_eq!(breakdown["settings"], json!({"electricity_rate": 0.25, "currency_symbol": "$"}));
}

/// v1 §1.1: a browser on another origin may call the API; preflights need no key.
async fn cors_lets_another_origin_call_the_api(hub: &TestHub) {
    let origin = [("Origin", "http://ui.example.org")];
    let preflight = [
        ("Origin", "http://ui.example.org"),
        ("Access-Control-Request-Method", "PUT"),
        ("Access-Control-Request-Headers", "x-api-key,content-type"),
    ];
    let reply = hub.request(Method::OPTIONS, "/api/v1/config/cost", &preflight, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    assert!(reply.header("access-control-allow-methods").unwrap().contains("PUT"));
    assert!(reply.header("access-control-allow-headers").unwrap().contains("x-api-key"));
    let reply = hub.request(Method::GET, "/api/v1/servers", &[origin[0], ("X-API-Key", common::API_KEY)], None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    let reply = hub.request(Method::GET, "/api/v1/servers", &origin, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "CORS is no way around the key");
}

/// The dashboard shows the same estimate: per machine on its page, the total on the fleet page.
async fn dashboard_shows_power_and_cost(hub: &TestHub) {
    hub.heartbeat(heartbeat_body("mini", hub.now(), 40.0)).await;
    hub.create_server(json!({"id": "bare", "hostname": "bare.lan"})).await;
    let cookie = hub.login_set_cookie().await.split(';').next().unwrap().to_owned();
    let page = |path: &'static str| {
        let request = hub.client.get(hub.url(path)).header("Cookie", cookie.clone());
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let text = page("/servers/mini").await;
    assert!(text.contains("Mini PC (auto) · 10–25 W · about 16.0 W · £0.09 a day, £2.76 a month"), "{text}");
    let text = page("/servers/bare").await;
    assert!(text.contains("No category · not estimated"), "{text}");
    let text = page("/").await;
    assert!(text.contains("Estimated power 16.0 W · £0.09 a day, £2.76 a month (1 of 2 machines)"), "{text}");
}

on_both_backends!(
    cors_lets_another_origin_call_the_api,
    dashboard_shows_power_and_cost,
    every_page_call_of_the_v1_ui_answers,
    actions_answer_the_empty_v1_list,
    agent_version_and_config_packs,
    cost_config_defaults_updates_and_validation,
    dashboard_preferences_round_trip,
    category_is_inferred_unless_chosen,
    costs_estimate_per_server_and_for_the_fleet,
);

/// Only the configured origins are allowed when a list is given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_origins_are_configurable() {
    let (mut config, dir) = TestHub::config(common::Backend::Sqlite).await.unwrap();
    config.cors_allowed_origins = vec!["http://ui.lan:3000".into()];
    let hub = TestHub::start_with(config, dir).await;
    let ask = |origin: &'static str| [("Origin", origin), ("Access-Control-Request-Method", "GET")];
    let reply = hub.request(Method::OPTIONS, "/api/v1/servers", &ask("http://ui.lan:3000"), None).await;
    assert_eq!(reply.header("access-control-allow-origin"), Some("http://ui.lan:3000"));
    let reply = hub.request(Method::OPTIONS, "/api/v1/servers", &ask("http://evil.example"), None).await;
    assert_eq!(reply.header("access-control-allow-origin"), None);
    hub.stop().await;
}
