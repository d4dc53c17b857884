//! The agent's configuration: a TOML file, `HOMELAB_AGENT_*` environment variables and
//! command-line flags, in that order of precedence (a flag beats a variable beats the file).
//!
//! Each source is read into the same partial [`Settings`]; [`resolve`] layers them and checks
//! the result. Resolution is a pure function so the precedence rules are unit-tested without
//! touching the machine; reading the file and the environment are thin wrappers around it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where `run` and `register` look for the file unless `--config` says otherwise.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/homelab-agent/config.toml";
/// Where the persisted GUID and the spool live (systemd's `StateDirectory=homelab-agent`).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/homelab-agent";
/// v1's default period.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// Enough for about a week of one-minute heartbeats with a few services and disks.
pub const DEFAULT_SPOOL_MAX_BYTES: u64 = 50 * 1024 * 1024;
/// Older heartbeats are of little use and the hub's raw tier would prune them soon anyway.
pub const DEFAULT_SPOOL_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// v1's request timeout.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// S.M.A.R.T. more often than this only wakes disks.
pub const MIN_DISK_HEALTH_INTERVAL: Duration = Duration::from_secs(60);

/// One source's view of the configuration: every key optional, so that sources can be layered.
/// The same struct is the TOML file's schema; unknown keys are refused so a typo is an error
/// rather than a silently ignored setting. `Debug` by hand: the token and key are masked.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `http://hub.lan:8080`; a trailing `/` is ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hub_url: Option<String>,
    /// The server slug; default derived from the host name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_id: Option<String>,
    /// The server's GUID; default: generated once and kept in the state directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_guid: Option<String>,
    /// Per-agent token from `register`; sent with the GUID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_token: Option<String>,
    /// The hub's admin key, when no per-agent token is used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// The host name to report; default the kernel's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Seconds between heartbeats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_interval: Option<u64>,
    /// Milliseconds between heartbeats; overrides `heartbeat_interval`. Undocumented: for tests
    /// that need many heartbeats quickly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_interval_ms: Option<u64>,
    /// systemd units to report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monitored_services: Option<Vec<String>>,
    /// Whether to list pending package updates (hourly).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collect_packages: Option<bool>,
    /// Holds the GUID file and, by default, the spool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<PathBuf>,
    /// Default `<state_dir>/spool`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spool_dir: Option<PathBuf>,
    /// Spool bound in megabytes (MiB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spool_max_mb: Option<u64>,
    /// Spool bound in hours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spool_max_age_hours: Option<u64>,
    /// Seconds before a request to the hub is abandoned (and the heartbeat spooled).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timeout: Option<u64>,
    /// Read `proc`, `sys`, `etc` below this directory (a host mounted into a container).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root: Option<PathBuf>,
    /// Report Docker and Podman containers (default on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collect_containers: Option<bool>,
    /// Engine API sockets to ask; default Podman's and Docker's usual paths.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_sockets: Option<Vec<PathBuf>>,
    /// Report temperatures and fans (default on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collect_sensors: Option<bool>,
    /// Report S.M.A.R.T., software RAID and ZFS pools (default on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collect_disk_health: Option<bool>,
    /// Seconds between two S.M.A.R.T. readings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_health_interval: Option<u64>,
    /// Report GPUs (default on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collect_gpus: Option<bool>,
}

impl Settings {
    /// `self` with every key that `over` sets replaced by `over`'s value.
    pub fn overlay(self, over: Settings) -> Settings {
        Settings {
            hub_url: over.hub_url.or(self.hub_url),
            server_id: over.server_id.or(self.server_id),
            server_guid: over.server_guid.or(self.server_guid),
            api_token: over.api_token.or(self.api_token),
            api_key: over.api_key.or(self.api_key),
            hostname: over.hostname.or(self.hostname),
            // The finer interval only wins within its own source, so an env or flag interval in
            // seconds still beats a file's interval in milliseconds.
            heartbeat_interval: over.heartbeat_interval.or(if over.heartbeat_interval_ms.is_some() {
                None
            } else {
                self.heartbeat_interval
            }),
            heartbeat_interval_ms: over.heartbeat_interval_ms.or(if over.heartbeat_interval.is_some() {
                None
            } else {
                self.heartbeat_interval_ms
            }),
            monitored_services: over.monitored_services.or(self.monitored_services),
            collect_packages: over.collect_packages.or(self.collect_packages),
            state_dir: over.state_dir.or(self.state_dir),
            spool_dir: over.spool_dir.or(self.spool_dir),
            spool_max_mb: over.spool_max_mb.or(self.spool_max_mb),
            spool_max_age_hours: over.spool_max_age_hours.or(self.spool_max_age_hours),
            request_timeout: over.request_timeout.or(self.request_timeout),
            root: over.root.or(self.root),
            collect_containers: over.collect_containers.or(self.collect_containers),
            container_sockets: over.container_sockets.or(self.container_sockets),
            collect_sensors: over.collect_sensors.or(self.collect_sensors),
            collect_disk_health: over.collect_disk_health.or(self.collect_disk_health),
            disk_health_interval: over.disk_health_interval.or(self.disk_health_interval),
            collect_gpus: over.collect_gpus.or(self.collect_gpus),
        }
    }

    /// Parses the TOML file's text.
    pub fn from_toml(text: &str) -> Result<Settings, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Invalid(format!("config file: {}", e.message())))
    }

    /// Renders the settings as a TOML file (used by `register`).
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        toml::to_string(self).map_err(|e| ConfigError::Invalid(format!("cannot encode the configuration: {e}")))
    }

    /// Reads `HOMELAB_AGENT_*` through `var`, which is `std::env::var` outside tests. Empty
    /// values count as unset, as a blank `Environment=` line in a unit file would give.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get =
            |name: &str| var(&format!("HOMELAB_AGENT_{name}")).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let number = |name: &str| -> Result<Option<u64>, ConfigError> {
            get(name)
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| ConfigError::Invalid(format!("HOMELAB_AGENT_{name}: `{v}` is not a whole number")))
                })
                .transpose()
        };
        let boolean = |name: &str| -> Result<Option<bool>, ConfigError> {
            get(name)
                .map(|v| {
                    parse_bool(&v).ok_or_else(|| {
                        ConfigError::Invalid(format!("HOMELAB_AGENT_{name}: `{v}` is not true or false"))
                    })
                })
                .transpose()
        };
        Ok(Settings {
            hub_url: get("HUB_URL"),
            server_id: get("SERVER_ID"),
            server_guid: get("SERVER_GUID"),
            api_token: get("API_TOKEN"),
            api_key: get("API_KEY"),
            hostname: get("HOSTNAME"),
            heartbeat_interval: number("HEARTBEAT_INTERVAL")?,
            heartbeat_interval_ms: number("HEARTBEAT_INTERVAL_MS")?,
            monitored_services: get("MONITORED_SERVICES").map(|v| split_list(&v)),
            collect_packages: boolean("COLLECT_PACKAGES")?,
            state_dir: get("STATE_DIR").map(PathBuf::from),
            spool_dir: get("SPOOL_DIR").map(PathBuf::from),
            spool_max_mb: number("SPOOL_MAX_MB")?,
            spool_max_age_hours: number("SPOOL_MAX_AGE_HOURS")?,
            request_timeout: number("REQUEST_TIMEOUT")?,
            root: get("ROOT").map(PathBuf::from),
            collect_containers: boolean("COLLECT_CONTAINERS")?,
            container_sockets: get("CONTAINER_SOCKETS")
                .map(|v| split_list(&v).into_iter().map(PathBuf::from).collect()),
            collect_sensors: boolean("COLLECT_SENSORS")?,
            collect_disk_health: boolean("COLLECT_DISK_HEALTH")?,
            disk_health_interval: number("DISK_HEALTH_INTERVAL")?,
            collect_gpus: boolean("COLLECT_GPUS")?,
        })
    }
}

/// `a, b ,,c` → `["a", "b", "c"]`: the comma-separated form of a list in variables and flags.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured so that a new field cannot be forgotten here.
        let Settings {
            hub_url,
            server_id,
            server_guid,
            api_token,
            api_key,
            hostname,
            heartbeat_interval,
            heartbeat_interval_ms,
            monitored_services,
            collect_packages,
            state_dir,
            spool_dir,
            spool_max_mb,
            spool_max_age_hours,
            request_timeout,
            root,
            collect_containers,
            container_sockets,
            collect_sensors,
            collect_disk_health,
            disk_health_interval,
            collect_gpus,
        } = self;
        let masked = |secret: &Option<String>| secret.as_ref().map(|_| "***");
        f.debug_struct("Settings")
            .field("hub_url", hub_url)
            .field("server_id", server_id)
            .field("server_guid", server_guid)
            .field("api_token", &masked(api_token))
            .field("api_key", &masked(api_key))
            .field("hostname", hostname)
            .field("heartbeat_interval", heartbeat_interval)
            .field("heartbeat_interval_ms", heartbeat_interval_ms)
            .field("monitored_services", monitored_services)
            .field("collect_packages", collect_packages)
            .field("state_dir", state_dir)
            .field("spool_dir", spool_dir)
            .field("spool_max_mb", spool_max_mb)
            .field("spool_max_age_hours", spool_max_age_hours)
            .field("request_timeout", request_timeout)
            .field("root", root)
            .field("collect_containers", collect_containers)
            .field("container_sockets", container_sockets)
            .field("collect_sensors", collect_sensors)
            .field("collect_disk_health", collect_disk_health)
            .field("disk_health_interval", disk_health_interval)
            .field("collect_gpus", collect_gpus)
            .finish()
    }
}

/// How the agent proves who it is to the hub.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// `X-Agent-Token` + `X-Server-GUID`: the credential from `register`, bound to one server.
    Token(String),
    /// `X-API-Key`: the hub's admin key (v1's legacy mode).
    ApiKey(String),
}

impl std::fmt::Debug for Auth {
    /// Never prints the secret itself, so a config dump in a log is safe.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Token(_) => f.write_str("Token(…)"),
            Auth::ApiKey(_) => f.write_str("ApiKey(…)"),
        }
    }
}

/// The configuration in force after layering and checking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Without a trailing `/`.
    pub hub_url: String,
    pub auth: Auth,
    /// `None`: derive from the host name at start-up.
    pub server_id: Option<String>,
    /// `None`: use (or create) the GUID file in `state_dir`. Always set with [`Auth::Token`].
    pub server_guid: Option<String>,
    pub hostname: Option<String>,
    pub interval: Duration,
    pub services: Vec<String>,
    pub collect_packages: bool,
    pub state_dir: PathBuf,
    pub spool_dir: PathBuf,
    pub spool_max_bytes: u64,
    pub spool_max_age: Duration,
    pub request_timeout: Duration,
    pub root: Option<PathBuf>,
    pub collect_containers: bool,
    /// `None`: the default paths.
    pub container_sockets: Option<Vec<PathBuf>>,
    pub collect_sensors: bool,
    pub collect_disk_health: bool,
    pub disk_health_interval: Duration,
    pub collect_gpus: bool,
}

/// What is wrong with the configuration, worded for the person who has to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    #[error("{0}")]
    Invalid(String),
}

/// Layers `file < env < flags` and checks the result. Pure: no I/O, no clock.
pub fn resolve(file: Settings, env: Settings, flags: Settings) -> Result<Config, ConfigError> {
    let s = file.overlay(env).overlay(flags);
    let invalid = |m: String| Err(ConfigError::Invalid(m));

    let Some(hub_url) = s.hub_url.map(|u| u.trim().trim_end_matches('/').to_owned()) else {
        return invalid(
            "no hub URL: run `homelabcmd-agent register --hub URL --token T`, or set hub_url in the config file, \
             HOMELAB_AGENT_HUB_URL or --hub"
                .into(),
        );
    };
    if !(hub_url.starts_with("http://") || hub_url.starts_with("https://")) || hub_url.len() <= "https://".len() {
        return invalid(format!("hub URL `{hub_url}` must start with http:// or https://"));
    }

    let server_guid = s.server_guid.map(|g| g.trim().to_ascii_lowercase());
    if let Some(guid) = &server_guid
        && !is_guid(guid)
    {
        return invalid(format!("server_guid `{guid}` is not a UUID v4 (xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx)"));
    }
    let auth = match (s.api_token, s.api_key) {
        (Some(token), _) => {
            if server_guid.is_none() {
                return invalid(
                    "api_token needs the server_guid it was issued for (both are written by `register`)".into(),
                );
            }
            Auth::Token(token)
        }
        (None, Some(key)) => Auth::ApiKey(key),
        (None, None) => {
            return invalid("no credentials: set api_token (from `register`) or api_key".into());
        }
    };

    if let Some(id) = &s.server_id
        && !is_slug(id)
    {
        return invalid(format!("server_id `{id}` must be 1–100 characters of a-z, 0-9 and -"));
    }

    let interval = match (s.heartbeat_interval_ms, s.heartbeat_interval) {
        (Some(ms), _) => Duration::from_millis(ms),
        (None, Some(secs)) => Duration::from_secs(secs),
        (None, None) => DEFAULT_INTERVAL,
    };
    if interval.is_zero() {
        return invalid("heartbeat_interval must be greater than 0".into());
    }
    let request_timeout = s.request_timeout.map_or(DEFAULT_REQUEST_TIMEOUT, Duration::from_secs);
    if request_timeout.is_zero() {
        return invalid("request_timeout must be greater than 0".into());
    }

    let disk_health_interval =
        s.disk_health_interval.map_or(crate::background::DEFAULT_DISK_HEALTH_INTERVAL, Duration::from_secs);
    if disk_health_interval < MIN_DISK_HEALTH_INTERVAL {
        return invalid(format!(
            "disk_health_interval must be at least {} seconds: reading every disk more often wears them for nothing",
            MIN_DISK_HEALTH_INTERVAL.as_secs()
        ));
    }

    let state_dir = s.state_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
    let spool_dir = s.spool_dir.unwrap_or_else(|| state_dir.join("spool"));
    Ok(Config {
        hub_url,
        auth,
        server_id: s.server_id,
        server_guid,
        hostname: s.hostname.filter(|h| !h.trim().is_empty()),
        interval,
        services: s.monitored_services.unwrap_or_default(),
        collect_packages: s.collect_packages.unwrap_or(true),
        state_dir,
        spool_dir,
        spool_max_bytes: s.spool_max_mb.map_or(DEFAULT_SPOOL_MAX_BYTES, |mb| mb.saturating_mul(1024 * 1024)),
        spool_max_age: s
            .spool_max_age_hours
            .map_or(DEFAULT_SPOOL_MAX_AGE, |h| Duration::from_secs(h.saturating_mul(3600))),
        request_timeout,
        root: s.root,
        collect_containers: s.collect_containers.unwrap_or(true),
        container_sockets: s.container_sockets,
        collect_sensors: s.collect_sensors.unwrap_or(true),
        collect_disk_health: s.collect_disk_health.unwrap_or(true),
        disk_health_interval,
        collect_gpus: s.collect_gpus.unwrap_or(true),
    })
}

impl Config {
    /// What the collectors gather under this configuration. The quick tools (`zpool`,
    /// `nvidia-smi`) run at the heartbeat's pace, but never more than every 10 s nor less than
    /// every 5 minutes.
    pub fn collector_config(&self) -> crate::CollectorConfig {
        crate::CollectorConfig {
            services: self.services.clone(),
            collect_packages: self.collect_packages,
            collect_containers: self.collect_containers,
            container_sockets: self.container_sockets.clone(),
            collect_sensors: self.collect_sensors,
            collect_disk_health: self.collect_disk_health,
            disk_health_interval: self.disk_health_interval,
            collect_gpus: self.collect_gpus,
            command_interval: self.interval.clamp(Duration::from_secs(10), Duration::from_secs(300)),
            ..crate::CollectorConfig::default()
        }
    }
}

/// Reads the config file. A missing file at the default path is not an error (env and flags may
/// be enough, as in v1); a missing file the user named with `--config` is.
pub fn read_file(path: &Path, required: bool) -> Result<Settings, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Settings::from_toml(&text).map_err(|e| ConfigError::Invalid(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok(Settings::default()),
        Err(e) => Err(ConfigError::Read { path: path.to_owned(), reason: e.to_string() }),
    }
}

/// `^[a-z0-9-]{1,100}$`, the hub's server id rule.
pub fn is_slug(text: &str) -> bool {
    (1..=100).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A lower-case UUID v4, the only form the v1 heartbeat accepts (the hub's own rule).
pub use homelab_core::validate::is_uuid_v4 as is_guid;

#[cfg(test)]
mod tests {
    use super::*;

    const GUID: &str = "0b6c1a3e-7f2d-4c4b-9e1a-5d2f3c4b5a69";

    fn base() -> Settings {
        Settings { hub_url: Some("http://hub:8080/".into()), api_key: Some("key".into()), ..Settings::default() }
    }

    #[test]
    fn defaults() {
        let config = resolve(base(), Settings::default(), Settings::default()).unwrap();
        assert_eq!(config.hub_url, "http://hub:8080");
        assert_eq!(config.auth, Auth::ApiKey("key".into()));
        assert_eq!(config.interval, Duration::from_secs(60));
        assert_eq!(config.state_dir, Path::new(DEFAULT_STATE_DIR));
        assert_eq!(config.spool_dir, Path::new("/var/lib/homelab-agent/spool"));
        assert_eq!(config.spool_max_bytes, 50 * 1024 * 1024);
        assert_eq!(config.spool_max_age, Duration::from_secs(7 * 86400));
        assert!(config.collect_packages);
        assert!(config.services.is_empty());
        assert!(
            config.collect_containers && config.collect_sensors && config.collect_disk_health && config.collect_gpus
        );
        assert_eq!(config.container_sockets, None);
        assert_eq!(config.disk_health_interval, Duration::from_secs(600));
        assert_eq!(config.server_id, None);
        assert_eq!(config.server_guid, None);
    }

    #[test]
    fn file_then_env_then_flags() {
        let file = Settings {
            server_id: Some("from-file".into()),
            heartbeat_interval: Some(30),
            monitored_services: Some(vec!["nginx".into()]),
            state_dir: Some("/srv/state".into()),
            ..base()
        };
        let env = Settings { server_id: Some("from-env".into()), heartbeat_interval: Some(20), ..Settings::default() };
        let flags = Settings { server_id: Some("from-flag".into()), ..Settings::default() };
        let config = resolve(file.clone(), env.clone(), flags).unwrap();
        assert_eq!(config.server_id.as_deref(), Some("from-flag"));
        assert_eq!(config.interval, Duration::from_secs(20));
        assert_eq!(config.services, vec!["nginx".to_owned()]);
        assert_eq!(config.spool_dir, Path::new("/srv/state/spool"), "spool follows the state directory");
        let config = resolve(file, env, Settings::default()).unwrap();
        assert_eq!(config.server_id.as_deref(), Some("from-env"));
    }

    #[test]
    fn interval_in_milliseconds_only_wins_within_its_source() {
        let file = Settings { heartbeat_interval_ms: Some(250), ..base() };
        let config = resolve(file.clone(), Settings::default(), Settings::default()).unwrap();
        assert_eq!(config.interval, Duration::from_millis(250));
        let env = Settings { heartbeat_interval: Some(5), ..Settings::default() };
        assert_eq!(resolve(file, env, Settings::default()).unwrap().interval, Duration::from_secs(5));
        let zero = Settings { heartbeat_interval: Some(0), ..base() };
        assert!(resolve(zero, Settings::default(), Settings::default()).is_err());
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let token = Settings { api_token: Some("tok-S3CRET".into()), server_guid: Some(GUID.into()), ..base() };
        let key = Settings { api_key: Some("key-S3CRET".into()), ..base() };
        for settings in [token, key] {
            let shown = format!("{settings:?} {settings:#?}");
            assert!(!shown.contains("S3CRET") && shown.contains("***"), "{shown}");
            let config = resolve(settings, Settings::default(), Settings::default()).unwrap();
            let shown = format!("{config:?} {config:#?}");
            assert!(!shown.contains("S3CRET") && shown.contains("hub"), "{shown}");
        }
    }

    #[test]
    fn token_needs_its_guid_and_beats_the_key() {
        let with_token = Settings { api_token: Some("hlh_ag_x".into()), ..base() };
        let error = resolve(with_token.clone(), Settings::default(), Settings::default()).unwrap_err();
        assert!(error.to_string().contains("server_guid"), "{error}");
        let env = Settings { server_guid: Some(GUID.to_uppercase()), ..Settings::default() };
        let config = resolve(with_token, env, Settings::default()).unwrap();
        assert_eq!(config.auth, Auth::Token("hlh_ag_x".into()));
        assert_eq!(config.server_guid.as_deref(), Some(GUID), "upper case is normalised");
    }

    #[test]
    fn refusals_name_the_setting() {
        let cases = [
            (Settings { hub_url: None, ..base() }, "hub URL"),
            (Settings { hub_url: Some("hub:8080".into()), ..base() }, "http://"),
            (Settings { api_key: None, ..base() }, "credentials"),
            (Settings { server_id: Some("My.Host".into()), ..base() }, "server_id"),
            (Settings { server_guid: Some("not-a-guid".into()), ..base() }, "server_guid"),
            (Settings { request_timeout: Some(0), ..base() }, "request_timeout"),
            (Settings { disk_health_interval: Some(5), ..base() }, "disk_health_interval"),
        ];
        for (settings, needle) in cases {
            let error = resolve(settings, Settings::default(), Settings::default()).unwrap_err();
            assert!(error.to_string().contains(needle), "{error} should mention {needle}");
        }
    }

    #[test]
    fn environment_variables() {
        let vars = [
            ("HOMELAB_AGENT_HUB_URL", "https://hub.example"),
            ("HOMELAB_AGENT_API_TOKEN", "tok"),
            ("HOMELAB_AGENT_SERVER_GUID", GUID),
            ("HOMELAB_AGENT_HEARTBEAT_INTERVAL", "15"),
            ("HOMELAB_AGENT_MONITORED_SERVICES", "nginx, docker,,"),
            ("HOMELAB_AGENT_COLLECT_PACKAGES", "no"),
            ("HOMELAB_AGENT_SPOOL_DIR", "/tmp/spool"),
            ("HOMELAB_AGENT_SPOOL_MAX_MB", "5"),
            ("HOMELAB_AGENT_SERVER_ID", "  "),
            ("HOMELAB_AGENT_COLLECT_CONTAINERS", "off"),
            ("HOMELAB_AGENT_CONTAINER_SOCKETS", "/run/a.sock, /run/user/1000/podman/podman.sock"),
            ("HOMELAB_AGENT_DISK_HEALTH_INTERVAL", "3600"),
            ("HOMELAB_AGENT_COLLECT_GPUS", "false"),
        ];
        let env = Settings::from_env(|name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())).unwrap();
        let config = resolve(Settings::default(), env, Settings::default()).unwrap();
        assert_eq!(config.hub_url, "https://hub.example");
        assert_eq!(config.auth, Auth::Token("tok".into()));
        assert_eq!(config.interval, Duration::from_secs(15));
        assert_eq!(config.services, vec!["nginx".to_owned(), "docker".to_owned()]);
        assert!(!config.collect_packages);
        assert_eq!(config.spool_dir, Path::new("/tmp/spool"));
        assert_eq!(config.spool_max_bytes, 5 * 1024 * 1024);
        assert_eq!(config.server_id, None, "blank counts as unset");
        assert!(!config.collect_containers && !config.collect_gpus && config.collect_sensors);
        assert_eq!(
            config.container_sockets,
            Some(vec![PathBuf::from("/run/a.sock"), PathBuf::from("/run/user/1000/podman/podman.sock")])
        );
        assert_eq!(config.disk_health_interval, Duration::from_secs(3600));
        let collector = config.collector_config();
        assert_eq!(collector.command_interval, Duration::from_secs(15));
        assert!(!collector.collect_containers && collector.collect_disk_health);

        let bad = Settings::from_env(|name| (name == "HOMELAB_AGENT_HEARTBEAT_INTERVAL").then(|| "1m".to_owned()));
        assert!(bad.unwrap_err().to_string().contains("HOMELAB_AGENT_HEARTBEAT_INTERVAL"));
    }

    #[test]
    fn toml_file_round_trips_and_refuses_typos() {
        let text = format!(
            "hub_url = \"http://hub:8080\"\nserver_id = \"nas\"\nserver_guid = \"{GUID}\"\napi_token = \"t\"\n\
             monitored_services = [\"plex\", \"smbd\"]\ncollect_sensors = false\n\
             container_sockets = [\"/var/run/docker.sock\"]\n"
        );
        let settings = Settings::from_toml(&text).unwrap();
        assert_eq!(settings.monitored_services, Some(vec!["plex".into(), "smbd".into()]));
        assert_eq!(settings.collect_sensors, Some(false));
        assert_eq!(settings.container_sockets, Some(vec![PathBuf::from("/var/run/docker.sock")]));
        assert_eq!(Settings::from_toml(&settings.to_toml().unwrap()).unwrap(), settings);
        let error = Settings::from_toml("hub_ulr = \"x\"").unwrap_err();
        assert!(error.to_string().contains("hub_ulr"), "{error}");
    }

    #[test]
    fn missing_default_file_is_fine_but_a_named_one_is_not() {
        let path = Path::new("/nonexistent/homelab-agent.toml");
        assert_eq!(read_file(path, false), Ok(Settings::default()));
        assert!(matches!(read_file(path, true), Err(ConfigError::Read { .. })));
    }

    #[test]
    fn guid_and_slug_rules() {
        assert!(is_guid(GUID));
        assert!(!is_guid(&GUID.to_uppercase()));
        assert!(!is_guid("0b6c1a3e-7f2d-3c4b-9e1a-5d2f3c4b5a69"), "version 3");
        assert!(!is_guid("0b6c1a3e-7f2d-4c4b-7e1a-5d2f3c4b5a69"), "wrong variant");
        assert!(is_slug("pi-4"));
        assert!(!is_slug(""));
        assert!(!is_slug("Pi"));
        assert!(!is_slug(&"a".repeat(101)));
    }
}
