//! An acknowledged heartbeat is durable: the real `homelabcmd` binary is killed with SIGKILL
//! right after answering, restarted on the same database, and every heartbeat it acknowledged
//! is still there.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use homelab_core::time;
use serde_json::{Value, json};

const KEY: &str = "durability-test-key";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn spawn_hub(database_url: &str, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_homelabcmd"))
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string(), "--no-local-agent"])
        .env("HOMELAB_CMD_DATABASE_URL", database_url)
        .env("HOMELAB_CMD_API_KEY", KEY)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Polls the health endpoint until the hub answers (it must within 20 s).
async fn wait_until_ready(client: &reqwest::Client, base: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(response) = client.get(format!("{base}/api/v1/system/health")).send().await
            && response.status().is_success()
        {
            return;
        }
        assert!(child.try_wait().unwrap().is_none(), "the hub exited during start-up");
        assert!(Instant::now() < deadline, "the hub did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn acknowledged_heartbeats_survive_sigkill(database_url: &str) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut hub = spawn_hub(database_url, port);
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
    let mut hub = spawn_hub(database_url, port);
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
