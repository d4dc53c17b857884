//! The agent installer the hub serves (`/api/v1/agents/register/install.sh`): it parses, it
//! downloads the agent for this machine's architecture from the hub's `agent_binaries_dir`,
//! writes the systemd unit, claims the token against the hub (the agent's own `register`), and
//! says how to get a binary when the hub has none.
use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{Backend, TestHub};
use reqwest::{Method, StatusCode};
use serde_json::json;

fn machine_arch() -> String {
    let out = std::process::Command::new("uname").arg("-m").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The real agent when cargo built it next to this test (`target/debug/homelabcmd-agent`),
/// otherwise a stand-in that claims with curl, so that the script's steps are tested either way.
fn agent_binary(scratch: &Path) -> (PathBuf, bool) {
    let exe = std::env::current_exe().unwrap();
    if let Some(real) = exe.parent().and_then(Path::parent).map(|d| d.join("homelabcmd-agent")).filter(|p| p.exists()) {
        return (real, true);
    }
    let fake = scratch.join("fake-agent");
    std::fs::write(
        &fake,
        r#"#!/usr/bin/env bash
set -euo pipefail
[ "$1" = register ] || exit 2; shift
while [ $# -gt 0 ]; do case "$1" in --hub) hub=$2;; --token) token=$2;; --config) config=$2;; --server-id) id=$2;; esac; shift 2; done
curl -fsS -X POST "$hub/api/v1/agents/register/claim" -H 'Content-Type: application/json' \
  -d "{\"token\":\"$token\",\"server_id\":\"${id:-fake}\",\"hostname\":\"${id:-fake}\"}" > "$config"
"#,
    )
    .unwrap();
    (fake, false)
}

async fn run_script(script: &Path, args: Vec<String>) -> Output {
    let script = script.to_owned();
    tokio::task::spawn_blocking(move || std::process::Command::new("bash").arg(script).args(args).output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_installer_installs_claims_and_writes_the_unit() {
    let scratch = tempfile::tempdir().unwrap();
    let bins = tempfile::tempdir().unwrap();
    let arch = machine_arch();
    let (agent, real) = agent_binary(scratch.path());
    let shipped = bins.path().join(format!("homelabcmd-agent-{arch}"));
    std::fs::copy(&agent, &shipped).unwrap();
    let (mut config, dir) = TestHub::config(Backend::Sqlite).await.unwrap();
    config.agent_binaries_dir = Some(bins.path().to_owned());
    let hub = TestHub::start_with(config, dir).await;

    // Served without a key, as a shell script with this hub's address in it.
    let reply = hub.request(Method::GET, "/api/v1/agents/register/install.sh", &[], None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), Some("text/x-shellscript; charset=utf-8"));
    assert!(reply.text.contains(&format!("HUB_URL=\"{}\"", hub.base)), "{}", reply.text);
    assert!(reply.text.contains("ExecStart=/usr/local/bin/homelabcmd-agent run"), "the unit is in the script");
    let script = scratch.path().join("install.sh");
    std::fs::write(&script, &reply.text).unwrap();
    let syntax = std::process::Command::new("bash").arg("-n").arg(&script).output().unwrap();
    assert!(syntax.status.success(), "bash -n: {}", String::from_utf8_lossy(&syntax.stderr));

    // The download route: this architecture's file, nothing else.
    let reply = hub.client.get(hub.url(&format!("/api/v1/agents/download/{arch}"))).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    assert_eq!(reply.bytes().await.unwrap().as_ref(), std::fs::read(&shipped).unwrap().as_slice());
    for other in ["sparc64", "..%2Fhub.db", "x86_64%2F..%2F.."] {
        let reply = hub.request(Method::GET, &format!("/api/v1/agents/download/{other}"), &[], None).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{other}");
        assert!(reply.body["detail"].as_str().unwrap().starts_with("No agent binary"), "{}", reply.text);
    }

    let (_, created) = hub.post("/api/v1/agents/register/tokens", json!({"display_name": "Installed box"})).await;
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(
        created["install_command"]
            .as_str()
            .unwrap()
            .ends_with(&format!("install.sh | sudo bash -s -- --token {token}"))
    );
    let root = tempfile::tempdir().unwrap();
    let prefix = root.path().to_str().unwrap().to_owned();
    let args = ["--token", &token, "--prefix", &prefix, "--no-start", "--server-id", "installed-box"];
    let out = run_script(&script, args.iter().map(|a| a.to_string()).collect()).await;
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the installer failed (real agent: {real}):\n{log}");

    let installed = root.path().join("usr/local/bin/homelabcmd-agent");
    assert_eq!(std::fs::read(&installed).unwrap(), std::fs::read(&agent).unwrap(), "the hub's binary was installed");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&installed).unwrap().permissions().mode() & 0o777, 0o755);
    let unit = std::fs::read_to_string(root.path().join("etc/systemd/system/homelabcmd-agent.service")).unwrap();
    assert_eq!(unit.trim_end(), include_str!("../../../agent/dist/homelabcmd-agent.service").trim_end());
    let written = std::fs::read_to_string(root.path().join("etc/homelab-agent/config.toml")).unwrap();
    let (status, server) = hub.get("/api/v1/servers/installed-box").await;
    assert_eq!(status, StatusCode::OK, "the claim reached the hub:\n{log}");
    assert_eq!(server["display_name"], "Installed box");
    assert!(written.contains(server["guid"].as_str().unwrap()), "the config names the GUID: {written}");
    assert!(hub.get("/api/v1/agents/register/tokens").await.1["total"] == 0, "the token is used up");

    // Without a binary for this machine, and none installed, it stops and says what to do.
    std::fs::remove_file(&shipped).unwrap();
    let (_, created) = hub.post("/api/v1/agents/register/tokens", json!({})).await;
    let token = created["token"].as_str().unwrap().to_owned();
    let fresh = tempfile::tempdir().unwrap();
    let args =
        vec!["--token".into(), token, "--prefix".into(), fresh.path().to_str().unwrap().into(), "--no-start".into()];
    let out = run_script(&script, args).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("the hub has no agent binary for this machine ({arch})")), "{stderr}");
    assert!(stderr.contains("agent_binaries_dir"), "{stderr}");
    assert_eq!(hub.get("/api/v1/agents/register/tokens").await.1["total"], 1, "nothing was claimed");
    hub.stop().await;
}
