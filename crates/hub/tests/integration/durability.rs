//! An acknowledged heartbeat is durable: the real `homelabcmd` binary is killed with SIGKILL
//! right after answering, restarted on the same database, and every heartbeat it acknowledged
//! is still there.

use crate::common;

use chrono::Utc;
use common::process::{free_port, spawn_hub, wait_until_ready};
use homelab_core::time;
use serde_json::{Value, json};

const KEY: &str = "durability-test-key";

async fn acknowledged_heartbeats_survive_sigkill(database_url: &str) {
    common::install_tls_provider();
    let client = reqwest::Client::new();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut hub = spawn_hub(database_url, port, KEY);
    wait_until_ready(&client, &base, &mut hub).await;

    let start = Utc::now() - chrono::Duration::minutes(30);
    let count = 25;
    for i in 0..count {
        let body = json!({
            "server_id": "survivor",
            "hostname": "survivor",
            "timestamp": time::format(&(start + chrono::Duration::seconds(i * 60))),
            "metrics": {"cpu_percent": i as f64}
        });
        let response = client
            .post(format!("{base}/api/v1/agents/heartbeat"))
            .header("X-API-Key", KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    // SIGKILL: no graceful shutdown, no chance to flush anything after the answers.
    hub.kill().unwrap();
    hub.wait().unwrap();

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut hub = spawn_hub(database_url, port, KEY);
    wait_until_ready(&client, &base, &mut hub).await;
    let history: Value = client
        .get(format!("{base}/api/v1/servers/survivor/metrics?range=24h"))
        .header("X-API-Key", KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cpus: Vec<f64> =
        history["data_points"].as_array().unwrap().iter().map(|p| p["cpu_percent"].as_f64().unwrap()).collect();
    assert_eq!(cpus, (0..count).map(|i| i as f64).collect::<Vec<_>>());
    hub.kill().unwrap();
    hub.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_heartbeats_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    acknowledged_heartbeats_survive_sigkill(&format!("sqlite://{}", dir.path().join("hub.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_heartbeats_survive_sigkill() {
    let Some(cluster) = homelab_store::testing::postgres_cluster() else { return };
    let url = cluster.create_database().await.unwrap();
    acknowledged_heartbeats_survive_sigkill(&url).await;
}
