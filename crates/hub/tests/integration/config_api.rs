//! Threshold and notification settings over HTTP: v1 shapes, partial updates, validation that
//! names the field, and proof that the engine honours what was stored.
use crate::common;

use chrono::Duration;
use common::{TestHub, heartbeat_body};
use reqwest::StatusCode;
use serde_json::json;

async fn defaults_are_the_v1_defaults(hub: &TestHub) {
    let (status, config) = hub.get("/api/v1/config").await;
    assert_eq!(status, StatusCode::OK);
    let cpu = &config["thresholds"]["cpu"];
    assert_eq!(
        (cpu["high_percent"].clone(), cpu["critical_percent"].clone(), cpu["sustained_seconds"].clone()),
        (json!(85), json!(95), json!(180))
    );
    assert_eq!(cpu["sustained_heartbeats"], json!(null));
    assert_eq!(config["thresholds"]["disk"]["high_percent"], 80);
    assert_eq!(config["thresholds"]["disk"]["sustained_seconds"], 0);
    assert_eq!(config["thresholds"]["server_offline_seconds"], 180);
    assert_eq!(
        config["notifications"],
        json!({"slack_webhook_url": "", "cooldowns": {"critical_minutes": 30, "high_minutes": 240},
               "notify_on_critical": true, "notify_on_high": true, "notify_on_remediation": true,
               "notify_on_action_failure": true, "notify_on_action_success": false, "notify_on_auto_resolve": true})
    );
    assert_eq!(hub.get("/api/v1/config/thresholds").await.1, config["thresholds"]);
    assert_eq!(hub.get("/api/v1/config/notifications").await.1, config["notifications"]);
}

async fn threshold_updates_merge_and_validate(hub: &TestHub) {
    let (status, body) =
        hub.put("/api/v1/config/thresholds", json!({"cpu": {"high_percent": 70, "critical_percent": 95}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["updated"], json!(["cpu.high_percent"]), "only changed fields are listed");
    assert_eq!(body["thresholds"]["cpu"]["high_percent"], 70);
    assert_eq!(body["thresholds"]["memory"]["high_percent"], 85, "other metrics keep their values");
    assert_eq!(hub.get("/api/v1/config/thresholds").await.1["cpu"]["high_percent"], 70, "persisted");

    // The cross-field rule answers as v1 does, a plain string naming the metric.
    let (status, error) = hub.put("/api/v1/config/thresholds", json!({"cpu": {"critical_percent": 60}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error, json!({"detail": "('cpu',): Value error, critical_percent must be greater than high_percent"}));
    let (status, error) = hub.put("/api/v1/config/thresholds", json!({"disk": {"high_percent": 96}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error, json!({"detail": "('disk',): Value error, critical_percent must be greater than high_percent"}));
    let (status, error) = hub.put("/api/v1/config/thresholds", json!({"memory": {"high_percent": 150}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["detail"][0]["loc"], json!(["body", "memory", "high_percent"]));
    let (status, error) = hub.put("/api/v1/config/thresholds", json!({"server_offline_seconds": 10})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["detail"][0]["loc"], json!(["body", "server_offline_seconds"]));
    let (status, error) = hub.put("/api/v1/config/thresholds", json!({"disk": {"sustained_seconds": "soon"}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["detail"][0]["loc"], json!(["body", "disk", "sustained_seconds"]));
    assert_eq!(hub.get("/api/v1/config/thresholds").await.1["cpu"]["critical_percent"], 95, "rejected, not stored");

    // The deprecated heartbeat count becomes seconds, as in v1.
    let (_, body) = hub
        .put("/api/v1/config/thresholds", json!({"memory": {"sustained_seconds": 0, "sustained_heartbeats": 2}}))
        .await;
    assert_eq!(body["thresholds"]["memory"]["sustained_seconds"], 120);
}

async fn stored_settings_are_honoured(hub: &TestHub) {
    hub.put(
        "/api/v1/config/thresholds",
        json!({"cpu": {"high_percent": 50, "critical_percent": 90, "sustained_seconds": 0}, "server_offline_seconds": 60}),
    )
    .await;
    let (status, _) = hub.heartbeat(heartbeat_body("lab", hub.now(), 60.0)).await;
    assert_eq!(status, StatusCode::OK);
    let (_, alerts) = hub.get("/api/v1/alerts").await;
    assert_eq!(alerts["total"], 1, "fires at once above the configured 50 %: {alerts}");
    assert_eq!(alerts["alerts"][0]["threshold_value"], 50.0);

    hub.clock.advance(Duration::seconds(61));
    hub.step_offline_check().await;
    assert_eq!(hub.get("/api/v1/servers/lab").await.1["status"], "offline", "60 s, not the default 180 s");
    assert_eq!(hub.get("/api/v1/alerts?alert_type=offline").await.1["total"], 1);
}

/// A heartbeat of `lab` whose root disk is at `percent`.
fn disk_heartbeat(hub: &TestHub, percent: f64) -> serde_json::Value {
    let mut body = heartbeat_body("lab", hub.now(), 10.0);
    body["filesystems"][0]["percent"] = json!(percent);
    body
}

/// v1's "disk 85 then 70 resolves" on the next heartbeat; a value inside the hysteresis margin
/// resolves after the configured clear period, and meanwhile the alert shows the latest value.
async fn clear_periods_resolve_honestly(hub: &TestHub) {
    let (status, error) = hub.put("/api/v1/config/thresholds", json!({"disk": {"clear_seconds": 601}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["detail"][0]["loc"], json!(["body", "disk", "clear_seconds"]), "{error}");
    let (status, body) = hub.put("/api/v1/config/thresholds", json!({"disk": {"clear_seconds": 60}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["updated"], json!(["disk.clear_seconds"]));
    assert_eq!(hub.get("/api/v1/config/thresholds").await.1["disk"]["clear_seconds"], 60, "persisted");

    hub.heartbeat(disk_heartbeat(hub, 85.0)).await;
    hub.clock.advance(Duration::seconds(60));
    hub.heartbeat(disk_heartbeat(hub, 70.0)).await;
    let (_, alerts) = hub.get("/api/v1/alerts?alert_type=disk").await;
    assert_eq!((alerts["total"].clone(), alerts["alerts"][0]["status"].clone()), (json!(1), json!("resolved")));

    hub.clock.advance(Duration::seconds(60));
    hub.heartbeat(disk_heartbeat(hub, 90.0)).await;
    hub.clock.advance(Duration::seconds(60));
    hub.heartbeat(disk_heartbeat(hub, 78.0)).await;
    let (_, open) = hub.get("/api/v1/alerts?alert_type=disk&status=open").await;
    assert_eq!(open["total"], 1, "78 with high 80 is inside the margin: {open}");
    assert_eq!(open["alerts"][0]["title"], "High DISK usage on lab.home.lan (78%)", "the title follows the value");
    assert_eq!(open["alerts"][0]["actual_value"], 78.0);
    hub.clock.advance(Duration::seconds(60));
    hub.heartbeat(disk_heartbeat(hub, 78.0)).await;
    assert_eq!(hub.get("/api/v1/alerts?alert_type=disk&status=open").await.1["total"], 0, "resolved after 60 s");
}

async fn notification_settings_merge_all_eight_fields(hub: &TestHub) {
    let (status, body) = hub
        .put(
            "/api/v1/config/notifications",
            json!({"notify_on_auto_resolve": false, "notify_on_action_success": true, "cooldowns": {"high_minutes": 60},
                   "slack_webhook_url": "https://hooks.slack.com/services/T/B/x"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["updated"],
        json!(["slack_webhook_url", "cooldowns.high_minutes", "notify_on_action_success", "notify_on_auto_resolve"])
    );
    assert_eq!(
        body["notifications"]["slack_webhook_url"], "https://hooks.slack.com/…",
        "write-only, like channels' URLs"
    );
    let (_, stored) = hub.get("/api/v1/config/notifications").await;
    assert_eq!(stored["slack_webhook_url"], "https://hooks.slack.com/…");
    assert_eq!(hub.get("/api/v1/config").await.1["notifications"]["slack_webhook_url"], "https://hooks.slack.com/…");
    // The masked form sent back (a client saving what it read) keeps the stored URL.
    let (status, body) = hub.put("/api/v1/config/notifications", stored.clone()).await;
    assert_eq!((status, &body["updated"]), (StatusCode::OK, &json!([])), "{body}");
    let v1 = hub.store.notification_settings().await.unwrap();
    assert_eq!(v1.slack_webhook_url, "https://hooks.slack.com/services/T/B/x");
    assert_eq!(stored["notify_on_auto_resolve"], false, "v1 silently dropped this one");
    assert_eq!(stored["cooldowns"], json!({"critical_minutes": 30, "high_minutes": 60}));

    let (status, error) = hub.put("/api/v1/config/notifications", json!({"cooldowns": {"critical_minutes": 1}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error["detail"][0]["loc"], json!(["body", "cooldowns", "critical_minutes"]));
}

async fn every_config_endpoint_needs_the_key(hub: &TestHub) {
    for path in ["/api/v1/config", "/api/v1/config/thresholds", "/api/v1/config/notifications"] {
        assert_eq!(hub.get_without_key(path).await.0, StatusCode::UNAUTHORIZED, "{path}");
    }
    for path in ["/api/v1/config/thresholds", "/api/v1/config/notifications"] {
        let status = hub.client.put(hub.url(path)).json(&json!({})).send().await.unwrap().status();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
}

on_both_backends!(
    defaults_are_the_v1_defaults,
    threshold_updates_merge_and_validate,
    stored_settings_are_honoured,
    clear_periods_resolve_honestly,
    notification_settings_merge_all_eight_fields,
    every_config_endpoint_needs_the_key,
);

/// Stored settings damaged outside the hub are one answer everywhere: an error naming them, never
/// silent defaults (which would alert at levels nobody chose). SQLite only: PostgreSQL's column
/// types refuse the damage itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_thresholds_are_named_not_replaced_by_defaults() {
    let hub = TestHub::start(common::Backend::Sqlite).await.unwrap();
    let (status, _) = hub.put("/api/v1/config/thresholds", json!({"cpu": {"high_percent": 70}})).await;
    assert_eq!(status, StatusCode::OK);
    let db = rusqlite::Connection::open(hub.sqlite_file()).unwrap();
    db.execute("UPDATE alert_thresholds SET cpu_high_percent = 'lots'", []).unwrap();
    drop(db);

    for path in ["/api/v1/config/thresholds", "/api/v1/config"] {
        let (status, body) = hub.get(path).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}: {body}");
        assert_eq!(body["detail"]["code"], "STORED_DATA_UNREADABLE", "{path}");
        assert!(body["detail"]["message"].as_str().unwrap().contains("thresholds"), "{body}");
    }
    // The heartbeat is refused (the agent keeps it in its spool) rather than judged by defaults.
    let (status, body) = hub.heartbeat(heartbeat_body("nas", hub.now(), 50.0)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert_eq!(body["detail"]["code"], "STORED_DATA_UNREADABLE");
    assert_eq!(hub.get("/api/v1/servers/nas").await.0, StatusCode::NOT_FOUND);
    hub.stop().await;
}
