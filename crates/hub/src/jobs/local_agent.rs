//! The agent built into the hub: with zero set-up the machine running the hub shows up in the
//! fleet. It uses the agent crate's collectors and writes straight into the store (no HTTP).
//! Collecting reads `/proc` and files and runs `systemctl`, so all of it runs on blocking
//! threads, never on the async runtime.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use homelab_agent::collectors::os::{read_hostname, server_id_from_hostname};
use homelab_agent::{AgentIdentity, Collector, CollectorConfig, SystemRoot};

use crate::service::heartbeat::{Sender, ingest};
use crate::state::AppState;

use super::worker::{Every, Worker, WorkerState};

/// Between priming the collector (the first counter readings) and the first heartbeat, so that
/// its rates cover a real interval.
const FIRST_REPORT_AFTER: Duration = Duration::from_secs(1);

pub struct LocalAgent {
    state: AppState,
    /// Set up by the first unit of work (it reads files and runs `systemctl`).
    agent: Option<(AgentIdentity, Arc<Mutex<Collector>>)>,
    schedule: Every,
}

impl LocalAgent {
    pub fn new(state: AppState) -> Self {
        let every = Duration::from_secs(state.config.local_agent.interval_seconds);
        LocalAgent { state, agent: None, schedule: Every::new(FIRST_REPORT_AFTER, every) }
    }
}

impl Worker for LocalAgent {
    fn name(&self) -> &'static str {
        "local-agent"
    }

    async fn work(&mut self) -> Result<WorkerState, String> {
        match &self.agent {
            None => {
                let settings = self.state.config.local_agent.clone();
                let (identity, collector) = tokio::task::spawn_blocking({
                    let settings = settings.clone();
                    move || prime(&settings)
                })
                .await
                .map_err(|e| format!("priming the collector failed: {e}"))?;
                tracing::info!(server_id = %identity.server_id, "monitoring this machine with the built-in agent");
                self.agent = Some((identity, Arc::new(Mutex::new(collector))));
                self.schedule = Every::new(FIRST_REPORT_AFTER, Duration::from_secs(settings.interval_seconds));
            }
            Some((identity, collector)) => report(&self.state, Arc::clone(collector), identity.clone()).await?,
        }
        Ok(WorkerState::Idle)
    }

    async fn wait_for_work(&mut self) {
        self.schedule.tick().await;
    }
}

/// Blocking: reads the hostname and takes the collector's first readings.
fn prime(settings: &crate::config::LocalAgentConfig) -> (AgentIdentity, Collector) {
    let root = SystemRoot::host();
    let hostname = read_hostname(&root).unwrap_or_else(|_| "localhost".into());
    let identity = AgentIdentity {
        server_id: settings.server_id.clone().unwrap_or_else(|| server_id_from_hostname(&hostname)),
        server_guid: None,
        hostname,
    };
    let config = CollectorConfig {
        services: settings.services.clone(),
        collect_packages: true,
        command_interval: Duration::from_secs(settings.interval_seconds)
            .clamp(Duration::from_secs(10), Duration::from_secs(300)),
        ..Default::default()
    };
    let mut collector = Collector::new(root, config);
    // smartctl, zpool and nvidia-smi on their own thread: never on a heartbeat's path.
    collector.start_command_probes();
    for warning in collector.prime() {
        tracing::debug!(%warning, "local agent");
    }
    (identity, collector)
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
    // The same path as an agent's heartbeat over HTTP: validation, one transaction, then the
    // dashboards and the dispatcher are told.
    let sender = Sender { authenticated_guid: None, peer_ip: Some("127.0.0.1".into()) };
    ingest(state, collection.heartbeat, sender).await.map_err(|e| format!("local heartbeat refused: {e}"))?;
    Ok(())
}
