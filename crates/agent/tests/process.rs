//! The real `homelabcmd-agent` binary against a scripted stand-in hub: `register` writes a
//! private config file, `run` sends heartbeats with the agent's headers, and heartbeats spooled
//! while the hub answered 503 survive the agent being SIGKILLed and are delivered, in order,
//! by the next process. (The real hub is exercised in `crates/hub/tests/integration/agent_e2e.rs`.)

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

mod common;

const GUID: &str = "0b6c1a3e-7f2d-4c4b-9e1a-5d2f3c4b5a69";

/// A request as the stand-in hub saw it.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: Vec<(String, String)>,
    body: serde_json::Value,
    status: u16,
}

/// A tiny HTTP/1.1 server: answers the claim, and heartbeats with whatever `status` holds.
struct StandIn {
    url: String,
    status: Arc<AtomicU16>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl StandIn {
    fn start() -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let status = Arc::new(AtomicU16::new(200));
        let seen = Arc::new(Mutex::new(Vec::new()));
        thread::spawn({
            let (status, seen) = (Arc::clone(&status), Arc::clone(&seen));
            move || {
                for stream in listener.incoming().flatten() {
                    let (status, seen) = (Arc::clone(&status), Arc::clone(&seen));
                    thread::spawn(move || serve(stream, &status, &seen));
                }
            }
        });
        StandIn { url, status, seen }
    }

    fn heartbeats(&self, status: u16) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == "/api/v1/agents/heartbeat" && s.status == status)
            .cloned()
            .collect()
    }
}

fn serve(stream: TcpStream, status: &AtomicU16, seen: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let length: usize = headers.iter().find(|(n, _)| n == "content-length").map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let (code, answer) = if path == "/api/v1/agents/register/claim" {
        let answer = serde_json::json!({
            "success": true, "server_id": "cli-test", "server_guid": GUID, "api_token": "hlh_ag_0b6c1a3e_secret",
            "config_yaml": "monitored_services:\n  - cron\n", "error": null
        });
        (200, answer.to_string())
    } else if path == "/api/v1/system/health" {
        (200, r#"{"status":"healthy"}"#.to_owned())
    } else {
        let code = status.load(Ordering::SeqCst);
        (code, r#"{"status":"ok","server_registered":false,"pending_commands":[],"results_acknowledged":[]}"#.into())
    };
    seen.lock().unwrap().push(Seen {
        path,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        status: code,
    });
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
        answer.len()
    );
}

fn agent(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_homelabcmd-agent"));
    command.args(args).stdout(Stdio::piped()).stderr(Stdio::inherit());
    // The machine's own settings must not leak in.
    for (name, _) in std::env::vars() {
        if name.starts_with("HOMELAB_AGENT_") {
            command.env_remove(name);
        }
    }
    command
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

fn spooled(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.retain(|n| n.ends_with(".json"));
    names.sort();
    names
}

fn timestamps_in(dir: &Path) -> Vec<String> {
    spooled(dir)
        .iter()
        .map(|name| {
            let body: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap();
            body["timestamp"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn kill(mut child: Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn register_then_run_and_survive_sigkill_with_a_backlog() {
    let hub = StandIn::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("etc/config.toml");
    let config_arg = config.to_str().unwrap();

    let output = agent(&[
        "register",
        "--hub",
        &hub.url,
        "--token",
        "hlh_rt_test",
        "--server-id",
        "cli-test",
        "--config",
        config_arg,
    ])
    .output()
    .unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).contains("systemctl enable --now homelabcmd-agent"));
    assert_eq!(std::fs::metadata(&config).unwrap().permissions().mode() & 0o777, 0o600);
    let claim = hub.seen.lock().unwrap()[0].body.clone();
    assert_eq!(claim["token"], "hlh_rt_test");
    assert_eq!(claim["server_id"], "cli-test");

    // The hub is "down" (503): the agent spools.
    hub.status.store(503, Ordering::SeqCst);
    let state = dir.path().join("state");
    let spool = state.join("spool");
    let run_args = [
        "run",
        "--config",
        config_arg,
        "--interval-ms",
        "100",
        "--no-packages",
        "--state-dir",
        state.to_str().unwrap(),
    ];
    let first = agent(&run_args).spawn().unwrap();
    wait_for("five spooled heartbeats", Duration::from_secs(30), || spooled(&spool).len() >= 5);
    kill(first);
    let backlog = timestamps_in(&spool);
    assert!(backlog.len() >= 5);

    // A new process, and the hub is back: the backlog goes first, in order.
    hub.status.store(200, Ordering::SeqCst);
    let second = agent(&run_args).spawn().unwrap();
    wait_for("the backlog and three more", Duration::from_secs(30), || {
        spooled(&spool).is_empty() && hub.heartbeats(200).len() >= backlog.len() + 3
    });
    kill(second);

    let delivered = hub.heartbeats(200);
    let times: Vec<String> = delivered.iter().map(|s| s.body["timestamp"].as_str().unwrap().to_owned()).collect();
    assert_eq!(times[..backlog.len()], backlog[..], "the backlog is replayed first, oldest first");
    assert!(times.windows(2).all(|w| w[0] < w[1]), "in order, none twice: {times:?}");
    for seen in &delivered {
        let header = |name: &str| seen.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(header("x-agent-token"), Some("hlh_ag_0b6c1a3e_secret"));
        assert_eq!(header("x-server-guid"), Some(GUID));
        assert_eq!(header("content-type"), Some("application/json"));
        assert_eq!(seen.body["server_id"], "cli-test");
        assert_eq!(seen.body["server_guid"], GUID);
        assert_eq!(seen.body["services"][0]["name"], "cron", "monitored_services came with the claim");
    }
}

#[test]
fn without_a_token_the_guid_is_made_once_and_kept() {
    let hub = StandIn::start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let args = [
        "--hub",
        &hub.url,
        "--api-key",
        "admin-key",
        "--server-id",
        "keyed",
        "--interval-ms",
        "100",
        "--no-packages",
        "--config",
        "/nonexistent-is-fine-unless-named.toml",
        "--state-dir",
        state.to_str().unwrap(),
    ];
    // A named config file that does not exist is an error (exit 2)…
    let output = agent(&args).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    // …while an empty one is fine: flags alone are enough.
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let args: Vec<&str> =
        args.iter().map(|a| if a.contains("nonexistent") { empty.to_str().unwrap() } else { a }).collect();
    let mut guids = Vec::new();
    for round in 1..=2 {
        let child = agent(&args).spawn().unwrap();
        wait_for("a heartbeat", Duration::from_secs(30), || hub.heartbeats(200).len() >= round * 2);
        kill(child);
        let last = hub.heartbeats(200).last().cloned().unwrap();
        assert!(last.headers.iter().any(|(n, v)| n == "x-api-key" && v == "admin-key"));
        guids.push(last.body["server_guid"].as_str().unwrap().to_owned());
    }
    assert_eq!(guids[0], guids[1], "one GUID across restarts");
    assert_eq!(std::fs::read_to_string(state.join("guid")).unwrap().trim(), guids[0]);
}

/// A heartbeat the hub answers 500 to while its health check answers is set aside after a few
/// tries, so that newer heartbeats flow, and `check` counts what was set aside.
#[test]
fn heartbeats_the_hub_keeps_failing_on_are_set_aside_and_counted_by_check() {
    let hub = StandIn::start();
    hub.status.store(500, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let (empty, state_arg) = (empty.to_str().unwrap(), state.to_str().unwrap());
    let args = [
        "--hub",
        &hub.url,
        "--api-key",
        "admin-key",
        "--server-id",
        "failing",
        "--interval-ms",
        "50",
        "--no-packages",
        "--config",
        empty,
        "--state-dir",
        state_arg,
    ];
    let child = agent(&args).spawn().unwrap();
    let aside = state.join("spool/dead-letter");
    wait_for("a heartbeat set aside", Duration::from_secs(60), || !spooled(&aside).is_empty());
    hub.status.store(200, Ordering::SeqCst);
    wait_for("newer heartbeats delivered", Duration::from_secs(30), || !hub.heartbeats(200).is_empty());
    kill(child);
    let set_aside = spooled(&aside);
    let first_failed = hub.heartbeats(500)[0].body["timestamp"].clone();
    let body: serde_json::Value = serde_json::from_slice(&std::fs::read(aside.join(&set_aside[0])).unwrap()).unwrap();
    assert_eq!(body["timestamp"], first_failed, "the oldest is the one set aside");

    let output = agent(&["check", "--config", empty])
        .env("HOMELAB_AGENT_STATE_DIR", state_arg)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!("{} heartbeat(s) the hub kept failing on are set aside", set_aside.len());
    assert!(stderr.contains(&expected), "{stderr}");
}

/// `check` prints the inventory beyond v1: containers from an engine's socket, and (run once in
/// the foreground) what `smartctl`, `zpool` and `nvidia-smi` report; here the fixture NAS, its
/// tools replaced by scripts printing the fixture's output.
#[test]
fn check_prints_containers_sensors_disks_and_gpus() {
    let engine = common::engine::StandInEngine::start(common::engine::Behaviour::Answer);
    let nas = common::fixture("nas-ryzen-bookworm");
    let bin = tempfile::tempdir().unwrap();
    let commands = nas.join("commands");
    let scripts = [
        (
            "smartctl",
            format!(
                "case \"$*\" in *--scan-open*) exec cat {0}/smartctl/scan.json ;; esac\n\
                 for last; do :; done; exec cat {0}/smartctl/$(basename \"$last\").json\n",
                commands.display()
            ),
        ),
        ("zpool", format!("exec cat {}/zpool-list.txt\n", commands.display())),
        ("nvidia-smi", format!("exec cat {}/nvidia-smi.csv\n", commands.display())),
    ];
    for (name, body) in scripts {
        let path = bin.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default());
    let config = bin.path().join("empty.toml");
    std::fs::write(&config, "").unwrap();
    let output = agent(&["check", "--config", config.to_str().unwrap(), "--root", nas.to_str().unwrap()])
        .env("PATH", path)
        .env("HOMELAB_AGENT_CONTAINER_SOCKETS", &engine.socket)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let heartbeat: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    let count = |key: &str| heartbeat[key].as_array().map_or(0, Vec::len);
    let counts: Vec<usize> =
        ["containers", "temperatures", "fans", "disk_health", "raid_arrays", "zfs_pools", "gpus"].map(count).to_vec();
    assert_eq!(counts, [5, 8, 2, 4, 4, 3, 3], "{heartbeat:#}");
    assert_eq!(heartbeat["disk_health"][1]["passed"], serde_json::json!(false));
    assert_eq!(heartbeat["containers"][1]["health"], serde_json::json!("unhealthy"));
}
