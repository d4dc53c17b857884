//! The agent built into the hub: with zero set-up the machine running the hub shows up in the
//! fleet. It uses the agent crate's collectors and writes straight into the store (no HTTP).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use homelab_agent::collectors::os::{read_hostname, server_id_from_hostname};
use homelab_agent::{AgentIdentity, Collector, CollectorConfig, SystemRoot};
use homelab_store::HeartbeatWrite;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::state::AppState;

pub fn spawn(state: AppState, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    let root = SystemRoot::host();
    let settings = state.config.local_agent.clone();
    let hostname = read_hostname(&root).unwrap_or_else(|_| "localhost".into());
    let identity = AgentIdentity {
        server_id: settings.server_id.clone().unwrap_or_else(|| server_id_from_hostname(&hostname)),
        server_guid: None,
        hostname,
    };
    tracing::info!(server_id = %identity.server_id, "monitoring this machine with the built-in agent");
    let config = CollectorConfig { services: settings.services.clone(), collect_packages: true, ..Default::default() };
    let collector = Arc::new(Mutex::new(Collector::new(root, config)));
    if let Ok(mut collector) = collector.lock() {
        for warning in collector.prime() {
            tracing::debug!(%warning, "local agent");
        }
    }
    super::spawn_periodic(
        "local-agent",
        Duration::from_secs(1),
        Duration::from_secs(settings.interval_seconds),
        shutdown,
        move || {
            let (state, collector, identity) = (state.clone(), Arc::clone(&collector), identity.clone());
            async move { report(&state, collector, identity).await }
        },
    )
}

async fn report(state: &AppState, collector: Arc<Mutex<Collector>>, identity: AgentIdentity) -> Result<(), String> {
    let now = state.clock.now();
    let collection = tokio::task::spawn_blocking(move || {
        collector
            .lock()
            .map(|mut collector| collector.collect(&identity, now))
            .map_err(|_| "collector lock poisoned".to_owned())
    })
    .await
    .map_err(|e| format!("collection task failed: {e}"))??;
    for warning in &collection.warnings {
        tracing::debug!(%warning, "local agent collector");
    }
    collection.heartbeat.validate(now).map_err(|e| format!("local heartbeat is invalid: {e}"))?;
    let outcome = state
        .store
        .ingest_heartbeat(HeartbeatWrite {
            request: collection.heartbeat,
            peer_ip: Some("127.0.0.1".into()),
            authenticated_guid: None,
            received_at: now,
        })
        .await
        .map_err(|e| e.to_string())?;
    state.web.server_changed(&outcome.server_id, outcome.server_registered);
    Ok(())
}
