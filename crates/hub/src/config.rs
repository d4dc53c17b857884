//! Hub configuration: built-in defaults, then an optional TOML file, then `HOMELAB_CMD_*`
//! environment variables, then command-line flags (later wins). Resolution is a pure function
//! of its inputs so that precedence is unit-tested.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use homelab_core::history::RetentionPolicy;
use serde::Deserialize;

use crate::notify::ChannelConfig;
use crate::notify::config::MASK;

/// The v1 default key. Running with it is allowed (zero set-up) but loudly warned about.
pub const DEFAULT_API_KEY: &str = "dev-key-change-me";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/homelab.db";

/// `Debug` is written by hand (below) so that logging a configuration never shows the API key or
/// a database password; channel secrets are masked by `ChannelTarget`'s own `Debug`.
#[derive(Clone, PartialEq)]
pub struct Config {
    pub api_key: String,
    pub host: IpAddr,
    pub port: u16,
    pub database_url: String,
    /// Public URL of the hub, used in agent install commands.
    pub external_url: Option<String>,
    pub local_agent: LocalAgentConfig,
    /// Notification channels declared in the file; on start they replace stored channels with
    /// the same id (the rest stay as configured through the API).
    pub channels: Vec<ChannelConfig>,
    pub retention: RetentionPolicy,
    /// Seconds between retention runs (rollup, then prune).
    pub retention_interval_seconds: u64,
    /// How long an event waits for company (the rest of its heartbeat, a burst) before it goes.
    pub notification_group_wait_seconds: i64,
    /// During a storm, follow-ups go at most this often (and nothing is held longer).
    pub notification_group_interval_seconds: i64,
    /// Machines with events of one kind within a group interval that make a storm.
    pub notification_storm_servers: i64,
    /// A notification that keeps failing is dead-lettered after this many hours.
    pub notification_retry_horizon_hours: i64,
    /// Directory of agent binaries named `homelabcmd-agent-<arch>` (`uname -m`: `x86_64`,
    /// `aarch64`, …), which the install script downloads; without it the script says where to
    /// get one.
    pub agent_binaries_dir: Option<PathBuf>,
    /// Origins a browser may call the API from (`*`: any, as v1).
    pub cors_allowed_origins: Vec<String>,
    /// Requests handled at once; past it a request is answered 503 with `Retry-After` at once
    /// rather than queued (the dashboard's live-update streams do not count).
    pub max_concurrent_requests: usize,
    /// A request still running after this many seconds is abandoned and answered 503.
    pub request_timeout_seconds: u64,
}

/// The agent built into the hub, so the machine running it is monitored with zero set-up.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalAgentConfig {
    pub enabled: bool,
    /// Server id to report as; defaults to the host name made into a slug.
    pub server_id: Option<String>,
    /// systemd units to watch.
    pub services: Vec<String>,
    pub interval_seconds: u64,
}

impl Default for LocalAgentConfig {
    fn default() -> Self {
        LocalAgentConfig { enabled: true, server_id: None, services: Vec::new(), interval_seconds: 60 }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            api_key: DEFAULT_API_KEY.into(),
            host: IpAddr::from([0, 0, 0, 0]),
            port: 8080,
            database_url: DEFAULT_DATABASE_URL.into(),
            external_url: None,
            local_agent: LocalAgentConfig::default(),
            channels: Vec::new(),
            retention: RetentionPolicy::default(),
            retention_interval_seconds: 300,
            notification_group_wait_seconds: 1,
            notification_group_interval_seconds: 60,
            notification_storm_servers: 3,
            notification_retry_horizon_hours: 24,
            agent_binaries_dir: None,
            cors_allowed_origins: vec!["*".into()],
            // At 10 000 heartbeats/s about 50 are in flight: ten times that is room for bursts
            // while bounding what a storm holds (each request at most one 1 MB body).
            max_concurrent_requests: 512,
            // The slowest honest request (an export, a page at 1 000 machines) takes well under
            // a second; 30 s is a stalled database or a client trickling its body.
            request_timeout_seconds: 30,
        }
    }
}

/// The TOML file; every key optional, unknown keys are errors (a typo should not be ignored).
/// No `Debug`: it holds the API key; the resolved `Config` is what gets shown.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub api_key: Option<String>,
    pub host: Option<IpAddr>,
    pub port: Option<u16>,
    pub database_url: Option<String>,
    pub external_url: Option<String>,
    pub local_agent: Option<LocalAgentConfig>,
    pub channels: Option<Vec<ChannelConfig>>,
    pub retention: Option<RetentionPolicy>,
    pub retention_interval_seconds: Option<u64>,
    pub notification_group_wait_seconds: Option<i64>,
    /// `notification_group_window_seconds` was its name before storms and waits were separate.
    #[serde(alias = "notification_group_window_seconds")]
    pub notification_group_interval_seconds: Option<i64>,
    pub notification_storm_servers: Option<i64>,
    pub notification_retry_horizon_hours: Option<i64>,
    pub agent_binaries_dir: Option<PathBuf>,
    pub cors_allowed_origins: Option<Vec<String>>,
    pub max_concurrent_requests: Option<usize>,
    pub request_timeout_seconds: Option<u64>,
}

/// Values given on the command line. No `Debug`: it may hold the API key.
#[derive(Default, Clone, clap::Args)]
pub struct ConfigFlags {
    /// TOML configuration file (also HOMELAB_CMD_CONFIG).
    #[arg(long, short = 'c', global = true)]
    pub config: Option<PathBuf>,
    /// Admin API key (HOMELAB_CMD_API_KEY).
    #[arg(long, global = true)]
    pub api_key: Option<String>,
    /// Address to listen on (HOMELAB_CMD_HOST).
    #[arg(long, global = true)]
    pub host: Option<IpAddr>,
    /// Port to listen on (HOMELAB_CMD_PORT).
    #[arg(long, global = true)]
    pub port: Option<u16>,
    /// sqlite://PATH or postgres://USER:PASSWORD@HOST/DB (HOMELAB_CMD_DATABASE_URL).
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Do not monitor the machine the hub runs on (HOMELAB_CMD_LOCAL_AGENT=false).
    #[arg(long, global = true)]
    pub no_local_agent: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured so that a new field cannot be forgotten here.
        let Config {
            api_key: _,
            host,
            port,
            database_url,
            external_url,
            local_agent,
            channels,
            retention,
            retention_interval_seconds,
            notification_group_wait_seconds,
            notification_group_interval_seconds,
            notification_storm_servers,
            notification_retry_horizon_hours,
            agent_binaries_dir,
            cors_allowed_origins,
            max_concurrent_requests,
            request_timeout_seconds,
        } = self;
        f.debug_struct("Config")
            .field("api_key", &MASK)
            .field("host", host)
            .field("port", port)
            .field("database_url", &without_password(database_url))
            .field("external_url", external_url)
            .field("local_agent", local_agent)
            .field("channels", channels)
            .field("retention", retention)
            .field("retention_interval_seconds", retention_interval_seconds)
            .field("notification_group_wait_seconds", notification_group_wait_seconds)
            .field("notification_group_interval_seconds", notification_group_interval_seconds)
            .field("notification_storm_servers", notification_storm_servers)
            .field("notification_retry_horizon_hours", notification_retry_horizon_hours)
            .field("agent_binaries_dir", agent_binaries_dir)
            .field("cors_allowed_origins", cors_allowed_origins)
            .field("max_concurrent_requests", max_concurrent_requests)
            .field("request_timeout_seconds", request_timeout_seconds)
            .finish()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`; URLs without a password are
/// returned as they are.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            if userinfo.contains(':') { format!("{scheme}://{user}:{MASK}@{host}{path}") } else { url.to_owned() }
        }
        None => url.to_owned(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid configuration file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid {name}: {message}")]
    Env { name: &'static str, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

pub fn read_file(path: &Path) -> Result<ConfigFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.into(), message: e.to_string() })
}

fn parse_env<T: std::str::FromStr>(
    env: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<Option<T>, ConfigError>
where
    T::Err: std::fmt::Display,
{
    env(name)
        .filter(|value| !value.trim().is_empty())
        .map(|value| {
            value.trim().parse::<T>().map_err(|e| ConfigError::Env { name, message: format!("'{value}': {e}") })
        })
        .transpose()
}

impl Config {
    /// Applies `file`, then the environment (through `env`), then `flags` over the defaults.
    pub fn resolve(
        file: Option<ConfigFile>,
        env: &dyn Fn(&str) -> Option<String>,
        flags: &ConfigFlags,
    ) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        if let Some(file) = file {
            config.api_key = file.api_key.unwrap_or(config.api_key);
            config.host = file.host.unwrap_or(config.host);
            config.port = file.port.unwrap_or(config.port);
            config.database_url = file.database_url.unwrap_or(config.database_url);
            config.external_url = file.external_url.or(config.external_url);
            config.local_agent = file.local_agent.unwrap_or(config.local_agent);
            config.channels = file.channels.unwrap_or_default();
            config.retention = file.retention.unwrap_or(config.retention);
            config.retention_interval_seconds =
                file.retention_interval_seconds.unwrap_or(config.retention_interval_seconds);
            config.notification_group_wait_seconds =
                file.notification_group_wait_seconds.unwrap_or(config.notification_group_wait_seconds);
            config.notification_group_interval_seconds =
                file.notification_group_interval_seconds.unwrap_or(config.notification_group_interval_seconds);
            config.notification_storm_servers =
                file.notification_storm_servers.unwrap_or(config.notification_storm_servers);
            config.notification_retry_horizon_hours =
                file.notification_retry_horizon_hours.unwrap_or(config.notification_retry_horizon_hours);
            config.agent_binaries_dir = file.agent_binaries_dir.or(config.agent_binaries_dir);
            config.cors_allowed_origins = file.cors_allowed_origins.unwrap_or(config.cors_allowed_origins);
            config.max_concurrent_requests = file.max_concurrent_requests.unwrap_or(config.max_concurrent_requests);
            config.request_timeout_seconds = file.request_timeout_seconds.unwrap_or(config.request_timeout_seconds);
        }
        if let Some(key) = parse_env::<String>(env, "HOMELAB_CMD_API_KEY")? {
            config.api_key = key;
        }
        config.host = parse_env(env, "HOMELAB_CMD_HOST")?.unwrap_or(config.host);
        config.port = parse_env(env, "HOMELAB_CMD_PORT")?.unwrap_or(config.port);
        config.database_url = parse_env(env, "HOMELAB_CMD_DATABASE_URL")?.unwrap_or(config.database_url);
        config.external_url = parse_env(env, "HOMELAB_CMD_EXTERNAL_URL")?.or(config.external_url);
        config.local_agent.enabled = parse_env(env, "HOMELAB_CMD_LOCAL_AGENT")?.unwrap_or(config.local_agent.enabled);
        config.agent_binaries_dir = parse_env(env, "HOMELAB_CMD_AGENT_BINARIES_DIR")?.or(config.agent_binaries_dir);
        config.max_concurrent_requests =
            parse_env(env, "HOMELAB_CMD_MAX_CONCURRENT_REQUESTS")?.unwrap_or(config.max_concurrent_requests);
        config.request_timeout_seconds =
            parse_env(env, "HOMELAB_CMD_REQUEST_TIMEOUT_SECONDS")?.unwrap_or(config.request_timeout_seconds);
        if let Some(origins) = parse_env::<String>(env, "HOMELAB_CMD_CORS_ORIGINS")? {
            config.cors_allowed_origins =
                origins.split(',').map(str::trim).filter(|o| !o.is_empty()).map(str::to_owned).collect();
        }

        config.api_key = flags.api_key.clone().unwrap_or(config.api_key);
        config.host = flags.host.unwrap_or(config.host);
        config.port = flags.port.unwrap_or(config.port);
        config.database_url = flags.database_url.clone().unwrap_or(config.database_url);
        if flags.no_local_agent {
            config.local_agent.enabled = false;
        }
        config.check()?;
        Ok(config)
    }

    /// Loads from the real environment and the file named by `--config` or `HOMELAB_CMD_CONFIG`.
    pub fn load(flags: &ConfigFlags) -> Result<Config, ConfigError> {
        let env = |name: &str| std::env::var(name).ok();
        let path = flags.config.clone().or_else(|| env("HOMELAB_CMD_CONFIG").map(PathBuf::from));
        let file = path.as_deref().map(read_file).transpose()?;
        Config::resolve(file, &env, flags)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.api_key.trim().is_empty() {
            return Err(ConfigError::Invalid("api_key must not be empty".into()));
        }
        self.retention.check().map_err(ConfigError::Invalid)?;
        for (index, channel) in self.channels.iter().enumerate() {
            channel.validate().map_err(|e| ConfigError::Invalid(format!("channels[{index}] ({}): {e}", channel.id)))?;
        }
        for origin in &self.cors_allowed_origins {
            if origin != "*" && (origin.parse::<axum::http::HeaderValue>().is_err() || !origin.contains("://")) {
                return Err(ConfigError::Invalid(format!(
                    "cors_allowed_origins: '{origin}' is not an origin (scheme://host[:port]) or *"
                )));
            }
        }
        if self.retention_interval_seconds == 0 {
            return Err(ConfigError::Invalid("retention_interval_seconds must be at least 1".into()));
        }
        if !(0..=60).contains(&self.notification_group_wait_seconds) {
            return Err(ConfigError::Invalid("notification_group_wait_seconds must be between 0 and 60".into()));
        }
        if !(1..=3600).contains(&self.notification_group_interval_seconds) {
            return Err(ConfigError::Invalid("notification_group_interval_seconds must be between 1 and 3600".into()));
        }
        if !(2..=10_000).contains(&self.notification_storm_servers) {
            return Err(ConfigError::Invalid("notification_storm_servers must be between 2 and 10000".into()));
        }
        if !(1..=24 * 30).contains(&self.notification_retry_horizon_hours) {
            return Err(ConfigError::Invalid("notification_retry_horizon_hours must be between 1 and 720".into()));
        }
        if self.max_concurrent_requests == 0 {
            return Err(ConfigError::Invalid("max_concurrent_requests must be at least 1".into()));
        }
        if !(1..=3600).contains(&self.request_timeout_seconds) {
            return Err(ConfigError::Invalid("request_timeout_seconds must be between 1 and 3600".into()));
        }
        if self.local_agent.interval_seconds == 0 {
            return Err(ConfigError::Invalid("local_agent.interval_seconds must be at least 1".into()));
        }
        Ok(())
    }

    pub fn listen_address(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    /// The router's bounds ([`crate::backpressure`]).
    pub fn request_limits(&self) -> crate::backpressure::RequestLimits {
        crate::backpressure::RequestLimits {
            max_concurrent: self.max_concurrent_requests,
            timeout: std::time::Duration::from_secs(self.request_timeout_seconds),
        }
    }

    pub fn uses_default_api_key(&self) -> bool {
        self.api_key == DEFAULT_API_KEY
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn debug_output_shows_no_secret() {
        let file: ConfigFile = toml::from_str(concat!(
            "api_key = \"key-S3CRET\"\n",
            "database_url = \"postgres://hub:pw-S3CRET@db.lan:5432/homelab\"\n",
            "[[channels]]\nid = \"a\"\nkind = \"slack\"\nwebhook_url = \"https://hooks.slack.com/services/T0/B0/S3CRET\"\n",
            "[[channels]]\nid = \"b\"\nkind = \"discord\"\nwebhook_url = \"https://discord.com/api/webhooks/1/S3CRET\"\n",
            "[[channels]]\nid = \"c\"\nkind = \"ntfy\"\ntopic_url = \"https://ntfy.sh/topic-S3CRET\"\naccess_token = \"tk-S3CRET\"\n",
            "[[channels]]\nid = \"d\"\nkind = \"webhook\"\nurl = \"https://u:pw-S3CRET@example.org/in/S3CRET\"\nsecret = \"hmac-S3CRET\"\n",
            "[[channels]]\nid = \"e\"\nkind = \"email\"\nsmtp_host = \"smtp.lan\"\nusername = \"hub\"\npassword = \"smtp-S3CRET\"\nfrom = \"hub@lan\"\nto = [\"me@lan\"]\n",
        ))
        .unwrap();
        let config = Config::resolve(Some(file), &env_of(&[]), &ConfigFlags::default()).unwrap();
        assert_eq!(config.channels.len(), 5);
        let shown = format!("{config:?} {config:#?}");
        assert!(!shown.contains("S3CRET"), "{shown}");
        // The rest is still there to help debugging.
        assert!(shown.contains("postgres://hub:********@db.lan:5432/homelab"), "{shown}");
        assert!(shown.contains("smtp.lan") && shown.contains("hooks.slack.com"), "{shown}");
    }

    #[test]
    fn passwords_are_cut_from_database_urls_only_when_present() {
        assert_eq!(without_password("sqlite://./data/homelab.db"), "sqlite://./data/homelab.db");
        assert_eq!(without_password("postgres://hub@db/x"), "postgres://hub@db/x");
        assert_eq!(
            without_password("postgres://hub:p@ss@db/x?sslmode=require"),
            "postgres://hub:********@db/x?sslmode=require"
        );
        assert_eq!(without_password("not a url"), "not a url");
    }

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn defaults_need_no_setup() {
        let config = Config::resolve(None, &env_of(&[]), &ConfigFlags::default()).unwrap();
        assert_eq!(config.port, 8080);
        assert_eq!(config.database_url, "sqlite://./data/homelab.db");
        assert!(config.uses_default_api_key());
        assert!(config.local_agent.enabled);
    }

    #[test]
    fn flags_beat_env_beat_file() {
        let file: ConfigFile = toml::from_str("port = 9000\napi_key = \"from-file\"\nhost = \"127.0.0.1\"").unwrap();
        let env = env_of(&[("HOMELAB_CMD_PORT", "9100"), ("HOMELAB_CMD_API_KEY", "from-env")]);
        let flags = ConfigFlags { port: Some(9200), ..Default::default() };
        let config = Config::resolve(Some(file), &env, &flags).unwrap();
        assert_eq!(config.port, 9200);
        assert_eq!(config.api_key, "from-env");
        assert_eq!(config.host, IpAddr::from([127, 0, 0, 1]));
    }

    #[test]
    fn bad_values_name_their_source() {
        let error =
            Config::resolve(None, &env_of(&[("HOMELAB_CMD_PORT", "eighty")]), &ConfigFlags::default()).unwrap_err();
        assert!(error.to_string().contains("HOMELAB_CMD_PORT"), "{error}");
        let Err(error) = toml::from_str::<ConfigFile>("prot = 1") else { panic!("a typo must be refused") };
        assert!(error.to_string().contains("prot"), "{error}");
        let file: ConfigFile = toml::from_str("[retention]\nraw_days = 100").unwrap();
        let error = Config::resolve(Some(file), &env_of(&[]), &ConfigFlags::default()).unwrap_err();
        assert!(error.to_string().contains("five_minute_days"), "{error}");
    }

    #[test]
    fn channels_come_from_the_file_and_are_validated() {
        let file: ConfigFile = toml::from_str(
            "[[channels]]\nid = \"phone\"\nkind = \"ntfy\"\ntopic_url = \"https://ntfy.lan/homelab\"\nmin_severity = \"high\"",
        )
        .unwrap();
        let config = Config::resolve(Some(file), &env_of(&[]), &ConfigFlags::default()).unwrap();
        assert_eq!(config.channels[0].id, "phone");
        let file: ConfigFile =
            toml::from_str("notification_group_window_seconds = 5\nnotification_retry_horizon_hours = 2").unwrap();
        let config = Config::resolve(Some(file), &env_of(&[]), &ConfigFlags::default()).unwrap();
        assert_eq!((config.notification_group_interval_seconds, config.notification_retry_horizon_hours), (5, 2));
        let file: ConfigFile =
            toml::from_str("[[channels]]\nid = \"x\"\nkind = \"slack\"\nwebhook_url = \"nope\"").unwrap();
        let error = Config::resolve(Some(file), &env_of(&[]), &ConfigFlags::default()).unwrap_err();
        assert!(error.to_string().contains("channels[0] (x): webhook_url"), "{error}");
    }

    #[test]
    fn request_limits_come_from_the_file_or_the_environment_and_are_checked() {
        let defaults = Config::resolve(None, &env_of(&[]), &ConfigFlags::default()).unwrap().request_limits();
        assert_eq!((defaults.max_concurrent, defaults.timeout.as_secs()), (512, 30));
        let file: ConfigFile = toml::from_str("max_concurrent_requests = 64\nrequest_timeout_seconds = 5").unwrap();
        let env = env_of(&[("HOMELAB_CMD_REQUEST_TIMEOUT_SECONDS", "7")]);
        let limits = Config::resolve(Some(file), &env, &ConfigFlags::default()).unwrap().request_limits();
        assert_eq!((limits.max_concurrent, limits.timeout.as_secs()), (64, 7));
        for bad in ["max_concurrent_requests = 0", "request_timeout_seconds = 0"] {
            let file: ConfigFile = toml::from_str(bad).unwrap();
            let error = Config::resolve(Some(file), &env_of(&[]), &ConfigFlags::default()).unwrap_err();
            assert!(error.to_string().contains(bad.split(' ').next().unwrap()), "{error}");
        }
    }

    #[test]
    fn the_local_agent_can_be_switched_off() {
        let config =
            Config::resolve(None, &env_of(&[("HOMELAB_CMD_LOCAL_AGENT", "false")]), &ConfigFlags::default()).unwrap();
        assert!(!config.local_agent.enabled);
        let flags = ConfigFlags { no_local_agent: true, ..Default::default() };
        assert!(!Config::resolve(None, &env_of(&[]), &flags).unwrap().local_agent.enabled);
    }
}
