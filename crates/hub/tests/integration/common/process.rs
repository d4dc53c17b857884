//! The real `homelabcmd` binary as a child process, for tests that kill it (SIGKILL) and start
//! it again on the same database.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts the hub on `127.0.0.1:port` with `database_url` and admin key `key`.
pub fn spawn_hub(database_url: &str, port: u16, key: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_homelabcmd"))
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string(), "--no-local-agent"])
        .env("HOMELAB_CMD_DATABASE_URL", database_url)
        .env("HOMELAB_CMD_API_KEY", key)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Polls the health endpoint until the hub answers (it must within 20 s).
pub async fn wait_until_ready(client: &reqwest::Client, base: &str, child: &mut Child) {
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
