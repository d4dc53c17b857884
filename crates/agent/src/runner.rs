//! The agent's main loop: collect, deliver, wait for the next tick; until asked to stop.
//!
//! Blocking and single-threaded on purpose: one heartbeat a minute needs no async runtime, and
//! a thread that mostly sleeps costs nothing. It is a library function so that tests (and the
//! hub's end-to-end tests) can run the real loop in-process and stop it cleanly; the binary
//! never stops it, because everything it keeps is already safe on disk and SIGTERM's default
//! action is fine.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use crate::client::{HttpClient, Transport};
use crate::collectors::os;
use crate::config::Config;
use crate::sender::Sender;
use crate::spool::{Spool, SpoolError, SpoolLimits};
use crate::state::{self, StateError};
use crate::{AGENT_VERSION, AgentIdentity, Collector, SystemRoot};

/// A stop request shared between the loop and whoever wants it to end; waiting on it is an
/// interruptible sleep.
#[derive(Debug, Clone, Default)]
pub struct Shutdown(Arc<(Mutex<bool>, Condvar)>);

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the loop to stop; it finishes the request in flight and returns.
    pub fn request(&self) {
        let (flag, condvar) = &*self.0;
        *flag.lock().unwrap_or_else(PoisonError::into_inner) = true;
        condvar.notify_all();
    }

    pub fn is_requested(&self) -> bool {
        *self.0.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps for `timeout` or until a stop is requested; `true` if it was.
    pub fn wait(&self, timeout: Duration) -> bool {
        let (flag, condvar) = &*self.0;
        let guard = flag.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) =
            condvar.wait_timeout_while(guard, timeout, |stopped| !*stopped).unwrap_or_else(PoisonError::into_inner);
        *guard
    }
}

/// Why the loop could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot keep the server GUID: {0}")]
    State(#[from] StateError),
    #[error("cannot open the spool: {0}")]
    Spool(#[from] SpoolError),
    #[error("cannot derive a server id from the host name `{0}`; set server_id")]
    ServerId(String),
}

/// Who this agent reports as, worked out from the configuration and the machine: the host name
/// from the kernel unless configured, the server id from the host name unless configured, and
/// the GUID from the configuration or else the state directory (created once, then kept).
pub fn identity(config: &Config, root: &SystemRoot) -> Result<AgentIdentity, RunError> {
    let hostname = match &config.hostname {
        Some(name) => name.clone(),
        None => os::read_hostname(root).unwrap_or_else(|e| {
            warn!("cannot read the host name ({e}); reporting `localhost`");
            "localhost".to_owned()
        }),
    };
    let server_id = match &config.server_id {
        Some(id) => id.clone(),
        None => {
            let id = os::server_id_from_hostname(&hostname);
            if !crate::config::is_slug(&id) {
                return Err(RunError::ServerId(hostname));
            }
            id
        }
    };
    let server_guid = match &config.server_guid {
        Some(guid) => guid.clone(),
        None => state::load_or_create_guid(&config.state_dir)?,
    };
    Ok(AgentIdentity { server_id, server_guid: Some(server_guid), hostname })
}

/// Runs the loop against the hub in `config` until `shutdown` is requested.
pub fn run(config: &Config, shutdown: &Shutdown) -> Result<(), RunError> {
    run_with(config, HttpClient::new(config.request_timeout), shutdown)
}

/// [`run`] with a caller-supplied transport.
pub fn run_with<T: Transport>(config: &Config, transport: T, shutdown: &Shutdown) -> Result<(), RunError> {
    let root = config.root.as_ref().map_or_else(SystemRoot::host, SystemRoot::under);
    let identity = identity(config, &root)?;
    let guid = identity.server_guid.clone().unwrap_or_default();
    let spool = Spool::open(
        &config.spool_dir,
        SpoolLimits { max_bytes: config.spool_max_bytes, max_age: config.spool_max_age },
    )?;
    info!(
        "homelabcmd-agent {AGENT_VERSION}: reporting `{}` (GUID {guid}) to {} every {}; {} heartbeat(s) spooled in {}",
        identity.server_id,
        config.hub_url,
        describe(config.interval),
        spool.len(),
        config.spool_dir.display()
    );
    let mut sender = Sender::new(transport, &config.hub_url, config.auth.clone(), guid, spool);
    let mut collector = Collector::new(root, config.collector_config());
    collector.start_command_probes();
    let mut warnings = WarningLog::default();
    warnings.log(collector.prime().iter().map(ToString::to_string));

    // The first heartbeat needs a CPU baseline: a second is enough, and short test intervals
    // should not wait longer than themselves.
    let mut next = Instant::now() + config.interval.min(Duration::from_secs(1));
    loop {
        if shutdown.wait(next.saturating_duration_since(Instant::now())) {
            break;
        }
        let collection = collector.collect(&identity, chrono::Utc::now());
        warnings.log(collection.warnings.iter().map(ToString::to_string));
        match serde_json::to_vec(&collection.heartbeat) {
            Ok(body) => {
                sender.deliver(body, SystemTime::now(), &|| shutdown.is_requested());
            }
            Err(e) => warnings.log([format!("cannot encode the heartbeat: {e}")]),
        }
        // Fixed rate rather than fixed delay, so the period does not drift by the collection
        // time; ticks missed while a long replay ran are skipped rather than bunched up.
        let now = Instant::now();
        next += config.interval;
        if next <= now {
            let behind = now.duration_since(next).as_nanos() / config.interval.as_nanos().max(1);
            next += config.interval * u32::try_from(behind + 1).unwrap_or(u32::MAX);
        }
    }
    info!("stopping; {} heartbeat(s) left in the spool", sender.spool().len());
    Ok(())
}

fn describe(interval: Duration) -> String {
    if interval.subsec_millis() == 0 {
        format!("{} s", interval.as_secs())
    } else {
        format!("{} ms", interval.as_millis())
    }
}

/// Collector warnings, each logged the first time it appears; a container without systemd
/// would otherwise log the same line every minute forever.
#[derive(Default)]
struct WarningLog(HashSet<String>);

impl WarningLog {
    fn log(&mut self, messages: impl IntoIterator<Item = String>) {
        for message in messages {
            if self.0.len() >= 256 {
                self.0.clear();
            }
            if !self.0.contains(&message) {
                warn!("{message}");
                self.0.insert(message);
            }
        }
    }
}

/// Where `run` keeps things, for messages elsewhere.
pub fn guid_path(config: &Config) -> PathBuf {
    config.state_dir.join(state::GUID_FILE)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::thread;

    use super::*;
    use crate::client::{HttpResponse, TransportError};
    use crate::config::{Settings, resolve};

    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<serde_json::Value>>>);

    impl Transport for Recorder {
        fn post_json(&self, _: &str, _: &[(&str, &str)], body: &[u8]) -> Result<HttpResponse, TransportError> {
            let value = serde_json::from_slice(body).map_err(|e| TransportError(e.to_string()))?;
            self.0.lock().unwrap().push(value);
            Ok(HttpResponse { status: 200, body: "{}".into() })
        }
    }

    #[test]
    fn shutdown_interrupts_a_wait() {
        let shutdown = Shutdown::new();
        assert!(!shutdown.wait(Duration::from_millis(1)));
        let other = shutdown.clone();
        let started = Instant::now();
        let handle = thread::spawn(move || other.wait(Duration::from_secs(30)));
        thread::sleep(Duration::from_millis(20));
        shutdown.request();
        assert!(handle.join().unwrap());
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn loop_sends_heartbeats_with_a_persistent_guid() {
        let dir = tempfile::tempdir().unwrap();
        let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/debian12-epyc-container");
        let settings = Settings {
            hub_url: Some("http://hub".into()),
            api_key: Some("key".into()),
            heartbeat_interval_ms: Some(20),
            collect_packages: Some(false),
            state_dir: Some(dir.path().to_owned()),
            root: Some(fixture.into()),
            ..Settings::default()
        };
        let config = resolve(settings, Settings::default(), Settings::default()).unwrap();
        let recorder = Recorder::default();
        let shutdown = Shutdown::new();
        let handle = thread::spawn({
            let (config, recorder, shutdown) = (config.clone(), recorder.clone(), shutdown.clone());
            move || run_with(&config, recorder, &shutdown)
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        while recorder.0.lock().unwrap().len() < 3 {
            assert!(Instant::now() < deadline, "no heartbeats");
            thread::sleep(Duration::from_millis(10));
        }
        shutdown.request();
        handle.join().unwrap().unwrap();
        let sent = recorder.0.lock().unwrap();
        let guid = std::fs::read_to_string(guid_path(&config)).unwrap();
        for heartbeat in sent.iter() {
            assert_eq!(heartbeat["server_guid"].as_str(), Some(guid.trim()));
            assert!(heartbeat["metrics"]["memory_total_mb"].as_u64().is_some());
        }
        let times: Vec<&str> = sent.iter().map(|h| h["timestamp"].as_str().unwrap()).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    }
}
