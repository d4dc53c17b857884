//! Metric history over HTTP (contract §2.4): range views, tier merging after rollups, the
//! sparkline and the per-mount/per-interface series, on both backends.
use crate::common;

use chrono::{DateTime, Duration, Utc};
use common::{TestHub, app_error, heartbeat_body, minimal_heartbeat, start_time};
use homelab_core::history::RetentionPolicy;
use homelab_core::time;
use reqwest::StatusCode;
use serde_json::{Value, json};

const RANGES: [(&str, &str); 4] = [("24h", "1m"), ("7d", "1h"), ("30d", "1h"), ("12m", "1d")];

fn fmt(ts: DateTime<Utc>) -> String {
    time::format(&ts)
}

/// Sets the hub clock to `at` and sends a minimal heartbeat stamped `at`.
async fn beat_at(hub: &TestHub, server: &str, at: DateTime<Utc>, cpu: f64) {
    hub.clock.set(at);
    let (status, body) = hub.heartbeat(minimal_heartbeat(server, at, cpu)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn history_shapes_and_errors(hub: &TestHub) {
    for (range, _) in RANGES {
        let (status, body) = hub.get(&format!("/api/v1/servers/nope/metrics?range={range}")).await;
        assert_eq!((status, body), (StatusCode::NOT_FOUND, app_error("NOT_FOUND", "Server 'nope' not found")));
    }
    hub.create_server(json!({"id": "nas", "hostname": "nas"})).await;
    for (range, resolution) in RANGES {
        let (status, body) = hub.get(&format!("/api/v1/servers/nas/metrics?range={range}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({"server_id": "nas", "range": range, "resolution": resolution, "data_points": [], "total_points": 0})
        );
    }
    // 24h is the default.
    assert_eq!(hub.get("/api/v1/servers/nas/metrics").await.1["range"], "24h");
    for bad in ["1y", "24H", ""] {
        let (status, body) = hub.get(&format!("/api/v1/servers/nas/metrics?range={bad}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(
            body,
            json!({"detail": [{"type": "enum", "loc": ["query", "range"],
                               "msg": "range: should be '24h', '7d', '30d' or '12m'", "input": bad}]})
        );
    }
}

async fn the_day_view_returns_every_raw_sample(hub: &TestHub) {
    let t0 = start_time();
    // Older than 24 hours: only the longer views show it.
    beat_at(hub, "nas", t0 - Duration::hours(25), 99.0).await;
    for (minute, cpu) in [(0, 10.0), (1, 20.5), (2, 30.25)] {
        beat_at(hub, "nas", t0 + Duration::minutes(minute), cpu).await;
    }
    let (status, body) = hub.get("/api/v1/servers/nas/metrics?range=24h").await;
    assert_eq!(status, StatusCode::OK);
    let point =
        |ts: &str, cpu: f64| json!({"timestamp": ts, "cpu_percent": cpu, "memory_percent": 62.5, "disk_percent": 78.3});
    assert_eq!(
        body,
        json!({"server_id": "nas", "range": "24h", "resolution": "1m", "total_points": 3, "data_points": [
            point("2026-01-19T12:00:00.000Z", 10.0),
            point("2026-01-19T12:01:00.000Z", 20.5),
            point("2026-01-19T12:02:00.000Z", 30.25),
        ]})
    );
    // 7 days is hourly, as v1: four samples in one hour (two 15-minute buckets), their mean
    // rounded to 2 dp.
    beat_at(hub, "nas", t0 + Duration::minutes(20), 40.0).await;
    let (_, week) = hub.get("/api/v1/servers/nas/metrics?range=7d").await;
    assert_eq!(week["resolution"], "1h");
    assert_eq!(week["total_points"], 2);
    assert_eq!(week["data_points"][0], point("2026-01-18T11:00:00.000Z", 99.0));
    assert_eq!(week["data_points"][1], point("2026-01-19T12:00:00.000Z", 25.19));
}

async fn null_metrics_are_null_in_the_chart(hub: &TestHub) {
    let mut body = minimal_heartbeat("nas", start_time(), 1.0);
    body["metrics"] = json!({"cpu_percent": 12.0, "memory_percent": null});
    assert_eq!(hub.heartbeat(body).await.0, StatusCode::OK);
    let (_, history) = hub.get("/api/v1/servers/nas/metrics").await;
    assert_eq!(
        history["data_points"],
        json!([{"timestamp": "2026-01-19T12:00:00.000Z", "cpu_percent": 12.0, "memory_percent": null, "disk_percent": null}])
    );
}

/// Heartbeats every 6 hours for 10 days with the retention job run daily: after the raw samples
/// older than 7 days are pruned, the 30-day and 12-month views still show every day, and the
/// newest (not yet rolled up) heartbeat too.
async fn rollups_keep_every_day_visible(hub: &TestHub) {
    let policy = RetentionPolicy::default();
    let t0 = start_time();
    let at = |i: i64| t0 + Duration::hours(6 * i);
    let mut raw_deleted = 0;
    for i in 0..40 {
        beat_at(hub, "nas", at(i), i as f64).await;
        if i % 4 == 3 {
            raw_deleted += hub.store.run_retention(&policy, hub.now()).await.unwrap().raw_deleted;
        }
    }
    assert!(raw_deleted > 0, "nothing was old enough to prune");
    // Now = at(39); raw samples before at(39) - 7 days = at(11) are gone, but rolled up.

    let (_, month) = hub.get("/api/v1/servers/nas/metrics?range=30d").await;
    assert_eq!(month["resolution"], "1h");
    let expected: Vec<Value> = (0..40)
        .map(
            |i| json!({"timestamp": fmt(at(i)), "cpu_percent": i as f64, "memory_percent": 62.5, "disk_percent": 78.3}),
        )
        .collect();
    assert_eq!(month["data_points"], Value::Array(expected.clone()));
    assert_eq!(month["total_points"], 40);

    // The job is idempotent: running it again changes nothing.
    hub.store.run_retention(&policy, hub.now()).await.unwrap();
    hub.store.run_retention(&policy, hub.now()).await.unwrap();
    assert_eq!(hub.get("/api/v1/servers/nas/metrics?range=30d").await.1["data_points"], Value::Array(expected.clone()));

    // 7 days: exactly the heartbeats inside the window, from the 5-minute tier and raw.
    let (_, week) = hub.get("/api/v1/servers/nas/metrics?range=7d").await;
    assert_eq!(week["data_points"], Value::Array(expected[11..].to_vec()));

    // 12 months: one point per UTC day, the mean of that day's heartbeats.
    let mut days: Vec<(String, Vec<f64>)> = Vec::new();
    for i in 0..40 {
        let day = fmt(at(i).date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc());
        match days.last_mut() {
            Some((last, values)) if *last == day => values.push(i as f64),
            _ => days.push((day, vec![i as f64])),
        }
    }
    assert_eq!(days.len(), 11);
    let expected_days: Vec<Value> = days
        .iter()
        .map(|(day, values)| {
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            json!({"timestamp": day, "cpu_percent": (mean * 100.0).round() / 100.0, "memory_percent": 62.5, "disk_percent": 78.3})
        })
        .collect();
    let (_, year) = hub.get("/api/v1/servers/nas/metrics?range=12m").await;
    assert_eq!(year["resolution"], "1d");
    assert_eq!(year["data_points"], Value::Array(expected_days));
    assert_eq!(year["data_points"][0]["cpu_percent"], 0.5);

    // A heartbeat after the last rollup shows at once in every view.
    beat_at(hub, "nas", at(39) + Duration::minutes(90), 77.0).await;
    let (_, month) = hub.get("/api/v1/servers/nas/metrics?range=30d").await;
    assert_eq!(month["total_points"], 41);
    assert_eq!(month["data_points"][40]["timestamp"], "2026-01-29T07:00:00.000Z");
    assert_eq!(month["data_points"][40]["cpu_percent"], 77.0);
    let (_, year) = hub.get("/api/v1/servers/nas/metrics?range=12m").await;
    assert_eq!(year["data_points"][10]["cpu_percent"], 51.33, "(38 + 39 + 77) / 3");
}

async fn sparkline_defaults_errors_and_down_sampling(hub: &TestHub) {
    // The server is checked first.
    let (status, body) = hub.get("/api/v1/servers/nope/metrics/sparkline?metric=bogus").await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, app_error("NOT_FOUND", "Server 'nope' not found")));
    hub.create_server(json!({"id": "nas", "hostname": "nas"})).await;
    let (status, body) = hub.get("/api/v1/servers/nas/metrics/sparkline").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"server_id": "nas", "metric": "cpu_percent", "period": "30m", "data": []}));
    let (status, body) = hub.get("/api/v1/servers/nas/metrics/sparkline?metric=load_1m").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        app_error(
            "INVALID_METRIC",
            "Invalid metric 'load_1m'. Valid options: cpu_percent, memory_percent, disk_percent"
        )
    );
    let (status, body) = hub.get("/api/v1/servers/nas/metrics/sparkline?period=2h").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, app_error("INVALID_PERIOD", "Invalid period '2h'. Valid options: 30m, 1h, 6h"));

    // 90 samples 20 s apart: more than the target, so every third one is picked.
    let t0 = start_time();
    let at = |k: i64| t0 + Duration::seconds(20 * k);
    for k in 0..90 {
        beat_at(hub, "nas", at(k), k as f64).await;
    }
    for (period, target) in [("30m", 30), ("1h", 30), ("6h", 36)] {
        let (status, body) = hub.get(&format!("/api/v1/servers/nas/metrics/sparkline?period={period}")).await;
        assert_eq!(status, StatusCode::OK);
        let expected: Vec<Value> = (0..target)
            .map(|i| {
                let k = i * 90 / target;
                json!({"timestamp": fmt(at(k)), "value": k as f64})
            })
            .collect();
        assert_eq!(body["data"], Value::Array(expected), "{period}");
        assert_eq!(body["period"], period);
    }
    // Fewer samples than the target are returned as they are; the window is the last 30 min.
    hub.clock.set(at(89) + Duration::minutes(25));
    let (_, body) = hub.get("/api/v1/servers/nas/metrics/sparkline?metric=memory_percent").await;
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 16, "samples 74..=89 are within 30 minutes");
    assert_eq!(data[0], json!({"timestamp": "2026-01-19T12:24:40.000Z", "value": 62.5}));
    assert_eq!(body["metric"], "memory_percent");
}

async fn series_per_mount_and_interface(hub: &TestHub) {
    let t0 = start_time();
    assert_eq!(hub.heartbeat(heartbeat_body("nas", t0, 10.0)).await.0, StatusCode::OK);
    hub.clock.set(t0 + Duration::minutes(1));
    let mut second = heartbeat_body("nas", t0 + Duration::minutes(1), 20.0);
    second["filesystems"][0]["percent"] = json!(80.0);
    second["network_interfaces"][0]["rx_bytes"] = json!(5000);
    second["network_interfaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "wg0", "rx_bytes": 7, "tx_bytes": 8, "rx_packets": 1, "tx_packets": 1, "is_up": true}));
    assert_eq!(hub.heartbeat(second).await.0, StatusCode::OK);

    let (status, body) = hub.get("/api/v1/servers/nas/metrics/series?range=24h&metrics=fs_percent,if_rx_bytes").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (s0, s1) = (t0.timestamp(), t0.timestamp() + 60);
    let columns = |metric: &str, subject: &str, ts: Vec<i64>, values: Vec<f64>| {
        let n = ts.len();
        json!({"metric": metric, "subject": subject, "timestamps": ts, "avg": values, "min": values, "max": values,
               "count": vec![1; n]})
    };
    assert_eq!(
        body,
        json!({"server_id": "nas", "range": "24h", "resolution": "1m", "series": [
            columns("fs_percent", "/", vec![s0, s1], vec![78.3, 80.0]),
            columns("fs_percent", "/srv", vec![s0, s1], vec![25.0, 25.0]),
            columns("if_rx_bytes", "eth0", vec![s0, s1], vec![1000.0, 5000.0]),
            columns("if_rx_bytes", "wg0", vec![s1], vec![7.0]),
        ]})
    );

    // Rollup views carry min/max per bucket.
    hub.clock.set(t0 + Duration::minutes(2));
    assert_eq!(hub.heartbeat(heartbeat_body("nas", t0 + Duration::minutes(2), 60.0)).await.0, StatusCode::OK);
    let (_, body) = hub.get("/api/v1/servers/nas/metrics/series?range=7d&metrics=cpu_percent").await;
    assert_eq!(
        body,
        json!({"server_id": "nas", "range": "7d", "resolution": "15m", "series": [
            {"metric": "cpu_percent", "subject": "", "timestamps": [s0], "avg": [30.0], "min": [10.0], "max": [60.0], "count": [3]}
        ]})
    );
    // Default metrics: the three chart series.
    let (_, body) = hub.get("/api/v1/servers/nas/metrics/series").await;
    let names: Vec<&str> = body["series"].as_array().unwrap().iter().map(|s| s["metric"].as_str().unwrap()).collect();
    assert_eq!(names, ["cpu_percent", "disk_percent", "memory_percent"]);

    let (status, body) = hub.get("/api/v1/servers/nas/metrics/series?metrics=fs_percent,bogus").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["type"], "enum");
    assert_eq!(body["detail"][0]["loc"], json!(["query", "metrics"]));
    assert_eq!(body["detail"][0]["input"], "bogus");
    assert!(body["detail"][0]["msg"].as_str().unwrap().starts_with("metrics: unknown metric 'bogus'"), "{body}");
    let (status, body) = hub.get("/api/v1/servers/nas/metrics/series?range=week").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["query", "range"]));
    let (status, body) = hub.get("/api/v1/servers/nope/metrics/series").await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, app_error("NOT_FOUND", "Server 'nope' not found")));
}

on_both_backends!(
    history_shapes_and_errors,
    the_day_view_returns_every_raw_sample,
    null_metrics_are_null_in_the_chart,
    rollups_keep_every_day_visible,
    sparkline_defaults_errors_and_down_sampling,
    series_per_mount_and_interface,
);
