//! Containers through a stand-in Docker Engine API served over a real unix socket.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::engine::{Behaviour, StandInEngine};
use homelab_agent::collectors::containers::{ContainerMonitor, EngineSocket};
use homelab_agent::{AgentIdentity, Collector, CollectorConfig, SystemRoot};
use homelab_core::inventory::ContainerReport;

const TIMEOUT: Duration = Duration::from_secs(5);

fn web(cpu_percent: Option<f64>) -> ContainerReport {
    ContainerReport {
        id: "4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b".into(),
        name: "blog-web-1".into(),
        image: "nginx:1.27-alpine".into(),
        engine: Some("docker".into()),
        state: "running".into(),
        health: Some("healthy".into()),
        exit_code: None,
        restart_count: Some(0),
        started_at: Some("2025-11-30T22:00:01.5Z".into()),
        cpu_percent,
        // usage 50 MiB minus 10 MiB inactive file cache, as `docker stats` shows it.
        memory_used_bytes: Some(41_943_040),
        memory_limit_bytes: Some(8_352_862_208),
        network_rx_bytes: Some(123_457_789),
        network_tx_bytes: Some(98_767_432),
        block_read_bytes: Some(12_582_912),
        block_write_bytes: Some(4_096_000),
        compose_project: Some("blog".into()),
        compose_service: Some("web".into()),
    }
}

fn by_name<'a>(reports: &'a [ContainerReport], name: &str) -> &'a ContainerReport {
    reports.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("no {name} in {reports:?}"))
}

#[test]
fn running_exited_unhealthy_restarting_and_created_containers() {
    let engine = StandInEngine::start(Behaviour::Answer);
    let sockets = [EngineSocket::at(&engine.socket)];
    let mut monitor = ContainerMonitor::new();

    let (first, warnings) = monitor.collect(&sockets, TIMEOUT);
    assert_eq!(warnings, Vec::<String>::new());
    let first = first.unwrap();
    let names: Vec<&str> = first.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["backup", "blog-db-1", "blog-web-1", "flappy", "worker"], "sorted by name");
    // One-shot stats leave the engine's previous sample empty: no CPU % on the first collection.
    assert_eq!(by_name(&first, "blog-web-1"), &web(None));
    // One list, five inspections, stats for the two running containers only.
    assert_eq!(engine.request_count(), 1 + 5 + 2);

    engine.generation.fetch_add(1, Ordering::SeqCst);
    let (second, _) = monitor.collect(&sockets, TIMEOUT);
    let second = second.unwrap();
    assert_eq!(by_name(&second, "blog-web-1"), &web(Some(20.0)), "CPU % from the previous collection's counters");

    let db = by_name(&second, "blog-db-1");
    assert_eq!(
        (db.state.as_str(), db.health.as_deref(), db.restart_count, db.compose_project.as_deref()),
        ("running", Some("unhealthy"), Some(2), Some("blog"))
    );
    assert_eq!(db.compose_service.as_deref(), Some("db"));
    let worker = by_name(&second, "worker");
    assert_eq!(
        worker,
        &ContainerReport {
            id: "1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c".into(),
            name: "worker".into(),
            image: "ghcr.io/example/worker:2.3.1".into(),
            engine: Some("docker".into()),
            state: "exited".into(),
            exit_code: Some(137),
            restart_count: Some(0),
            started_at: Some("2025-11-25T08:00:00Z".into()),
            ..ContainerReport::default()
        }
    );
    let flappy = by_name(&second, "flappy");
    assert_eq!(
        (flappy.state.as_str(), flappy.exit_code, flappy.restart_count, flappy.compose_project.as_deref()),
        ("restarting", Some(1), Some(7), None)
    );
    assert_eq!(flappy.cpu_percent, None, "no stats for a container that is not running");
    let backup = by_name(&second, "backup");
    assert_eq!((backup.state.as_str(), backup.started_at.as_deref()), ("created", None), "never started");
    assert_eq!(backup.compose_project.as_deref(), Some("backups"));
}

#[test]
fn no_socket_means_not_collected_and_no_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut monitor = ContainerMonitor::new();
    let sockets = [EngineSocket::at(dir.path().join("docker.sock")), EngineSocket::at(dir.path().join("podman.sock"))];
    assert_eq!(monitor.collect(&sockets, TIMEOUT), (None, vec![]));
}

#[test]
fn a_hung_engine_costs_at_most_the_time_bound_and_warns_once() {
    let engine = StandInEngine::start(Behaviour::Hang);
    let sockets = [EngineSocket::at(&engine.socket)];
    let mut monitor = ContainerMonitor::new();
    let bound = Duration::from_millis(300);

    let started = Instant::now();
    let (found, warnings) = monitor.collect(&sockets, bound);
    let took = started.elapsed();
    assert_eq!(found, None);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("no answer within 0.3 s"), "{warnings:?}");
    assert!(took >= bound, "gave up before the bound: {took:?}");
    assert!(took < bound + Duration::from_secs(2), "not bounded: {took:?}");

    let (found, warnings) = monitor.collect(&sockets, bound);
    assert_eq!((found, warnings), (None, vec![]), "the same failure is not reported again");
}

#[test]
fn an_engine_hanging_on_stats_still_lists_its_containers() {
    let engine = StandInEngine::start(Behaviour::HangOnStats);
    let sockets = [EngineSocket::at(&engine.socket)];
    let mut monitor = ContainerMonitor::new();
    let bound = Duration::from_millis(300);
    let started = Instant::now();
    let (found, warnings) = monitor.collect(&sockets, bound);
    assert!(started.elapsed() < bound + Duration::from_secs(2));
    let found = found.unwrap();
    assert_eq!(found.len(), 5, "every listed container is reported");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("cut short"), "{warnings:?}");
    // Health and exit codes come from the list's status text where there was no time to inspect.
    assert_eq!(by_name(&found, "blog-db-1").health.as_deref(), Some("unhealthy"));
    assert_eq!(by_name(&found, "worker").exit_code, Some(137));
    assert!(found.iter().all(|c| c.memory_used_bytes.is_none()));
}

#[test]
fn a_socket_without_an_engine_behind_it_is_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    // Something listens but speaks no HTTP: it closes every connection at once.
    let path = dir.path().join("docker.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    let mut monitor = ContainerMonitor::new();
    let (found, warnings) = monitor.collect(&[EngineSocket::at(&path)], TIMEOUT);
    assert_eq!(found, None);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("docker ("), "{warnings:?}");
    assert_eq!(monitor.collect(&[EngineSocket::at(&path)], TIMEOUT).1, Vec::<String>::new());
}

#[test]
fn the_collector_puts_containers_in_the_heartbeat() {
    let engine = StandInEngine::start(Behaviour::Answer);
    let root = tempfile::tempdir().unwrap();
    let config = CollectorConfig {
        container_sockets: Some(vec![engine.socket.clone()]),
        collect_disk_health: false,
        collect_gpus: false,
        ..CollectorConfig::default()
    };
    let mut collector = Collector::new(SystemRoot::under(root.path()), config);
    assert!(collector.prime().iter().all(|w| w.collector != "containers"));
    engine.generation.fetch_add(1, Ordering::SeqCst);
    let identity = AgentIdentity { server_id: "nas".into(), server_guid: None, hostname: "nas".into() };
    let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
    let collection = collector.collect(&identity, now);
    let containers = collection.heartbeat.containers.clone().unwrap();
    assert_eq!(containers.len(), 5);
    assert_eq!(by_name(&containers, "blog-web-1").cpu_percent, Some(20.0), "prime took the baseline");
    collection.heartbeat.validate(now).unwrap();

    let off = CollectorConfig {
        collect_containers: false,
        container_sockets: Some(vec![engine.socket.clone()]),
        ..CollectorConfig::default()
    };
    let before = engine.request_count();
    let heartbeat = Collector::new(SystemRoot::under(root.path()), off).collect(&identity, now).heartbeat;
    assert_eq!((heartbeat.containers, engine.request_count()), (None, before), "switched off: not asked");
}

/// Not a test: serves the stand-in engine for footprint measurements (BENCHMARKS.md) until
/// killed. `HOMELAB_STAND_IN_ENGINE=/tmp/engine.sock HOMELAB_STAND_IN_CONTAINERS=30 cargo test
/// -p homelab-agent --test containers -- --ignored --exact serve_stand_in_engine`
#[test]
#[ignore = "serves until killed; for footprint measurements"]
fn serve_stand_in_engine() {
    let socket = std::env::var("HOMELAB_STAND_IN_ENGINE").expect("HOMELAB_STAND_IN_ENGINE: the socket path");
    let copies = std::env::var("HOMELAB_STAND_IN_CONTAINERS").map_or(30, |n| n.parse().unwrap());
    let _ = std::fs::remove_file(&socket);
    let engine = StandInEngine::serve(std::path::Path::new(&socket), Behaviour::Answer, Some(copies));
    eprintln!("serving {copies} containers on {socket}");
    loop {
        // The CPU counters advance as a running engine's would.
        std::thread::sleep(Duration::from_secs(1));
        engine.generation.fetch_add(1, Ordering::SeqCst);
    }
}

/// Not a test: a hub that answers every request 200, for the same measurements
/// (`HOMELAB_STAND_IN_HUB=127.0.0.1:18931`).
#[test]
#[ignore = "serves until killed; for footprint measurements"]
fn serve_stand_in_hub() {
    use std::io::{BufRead, BufReader, Read, Write};
    let address = std::env::var("HOMELAB_STAND_IN_HUB").expect("HOMELAB_STAND_IN_HUB: host:port");
    let listener = std::net::TcpListener::bind(&address).unwrap();
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut stream = stream;
            loop {
                let mut length = 0;
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if line == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n{\"status\":\"ok\"}";
                if stream.write_all(answer.as_bytes()).is_err() {
                    return;
                }
            }
        });
    }
}
