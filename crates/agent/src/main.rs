//! `homelabcmd-agent`: `run` (the default) sends heartbeats, `register` claims a registration
//! token, `check` prints what would be sent.
//!
//! The argument parser is hand-written on purpose: the agent runs on small boards and should stay
//! a small binary with few dependencies.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use homelab_agent::client::HttpClient;
use homelab_agent::collectors::os;
use homelab_agent::config::{self, Config, DEFAULT_CONFIG_PATH, Settings};
use homelab_agent::register::{Registration, register};
use homelab_agent::runner::{self, Shutdown};
use homelab_agent::{AGENT_VERSION, AgentIdentity, Collector, CollectorConfig, SystemRoot};

const USAGE: &str = "\
homelabcmd-agent: the Homelab Command monitoring agent

Usage:
  homelabcmd-agent [run] [OPTIONS]
  homelabcmd-agent register --hub URL --token TOKEN [--server-id ID] [--config PATH]
  homelabcmd-agent check [--config PATH] [--service NAME]... [--packages] [--server-id ID]
                         [--root DIR]
  homelabcmd-agent --help | --version

Commands:
  run       Send a heartbeat every interval (the default). Heartbeats the hub cannot take now
            (unreachable, 429, 5xx) are kept in an on-disk spool and replayed in order later;
            one the hub answers 500 to 5 times while its health check answers is set aside in
            <spool>/dead-letter so that newer ones flow.
  register  Claim a registration token from the hub's dashboard and write the config file
            (hub_url, server_id, server_guid, api_token; mode 0600).
  check     Collect twice, one second apart (so CPU % is real), and print the heartbeat as JSON,
            containers, temperatures, disk health and GPUs included (smartctl, zpool and
            nvidia-smi run once in the foreground). Nothing is sent anywhere. Warns about
            heartbeats set aside in the dead-letter directory.

Options for run (each overrides HOMELAB_AGENT_<NAME>, which overrides the config file):
  --config PATH      TOML config file [default: /etc/homelab-agent/config.toml]
  --hub URL          Hub address, e.g. http://hub.lan:8080            (HUB_URL, hub_url)
  --api-token T      Per-agent token from `register`                  (API_TOKEN, api_token)
                     (secrets on the command line are visible in `ps`; prefer the file)
  --server-guid G    The GUID the token belongs to                    (SERVER_GUID, server_guid)
  --api-key K        The hub's admin key, instead of a token          (API_KEY, api_key)
  --server-id ID     Server slug [default: from the host name]        (SERVER_ID, server_id)
  --hostname NAME    Host name to report [default: the kernel's]      (HOSTNAME, hostname)
  --interval SECS    Seconds between heartbeats [default: 60]         (HEARTBEAT_INTERVAL,
                                                                       heartbeat_interval)
  --service NAME     systemd unit to report; repeatable               (MONITORED_SERVICES,
                                                                       comma-separated;
                                                                       monitored_services)
  --no-packages      Do not list pending updates (hourly otherwise)   (COLLECT_PACKAGES,
                                                                       collect_packages)
  --state-dir DIR    GUID file and spool [default: /var/lib/homelab-agent] (STATE_DIR, state_dir)
  --spool-dir DIR    [default: <state-dir>/spool]                     (SPOOL_DIR, spool_dir)
  --spool-max-mb N   Spool size bound [default: 50]                   (SPOOL_MAX_MB, spool_max_mb)
  --spool-max-age-hours N  Spool age bound [default: 168]             (SPOOL_MAX_AGE_HOURS, …)
  --root DIR         Read proc, sys, etc below DIR (host mounted into a container) (ROOT, root)

Collectors beyond v1 (config file keys; HOMELAB_AGENT_<KEY in capitals> in the environment):
  collect_containers = true      Docker and Podman containers through their API sockets
  container_sockets = [PATH,…]   [default: /var/run/podman/podman.sock,
                                  $XDG_RUNTIME_DIR/podman/podman.sock, /var/run/docker.sock]
  collect_sensors = true         temperatures and fans (hwmon, thermal zones)
  collect_disk_health = true     S.M.A.R.T. (smartctl, as root), /proc/mdstat, ZFS (zpool)
  disk_health_interval = 600     seconds between S.M.A.R.T. readings (at least 60)
  collect_gpus = true            NVIDIA (nvidia-smi) and AMD (sysfs) GPUs

Options for check (services, server id, host name and root default to run's settings):
  --config PATH    The config file to take them from [default: /etc/homelab-agent/config.toml]
  --service NAME   A systemd unit to report (repeatable).
  --packages       Also list pending package updates (slow: runs `apt list --upgradable`).
  --server-id ID   The server id to put in the heartbeat (default: derived from the host name).
  --root DIR       Read proc, sys, etc and var/run below DIR instead of /.

  -h, --help       Show this help.
  -V, --version    Show the version.
";

#[derive(Debug, Default, PartialEq)]
struct CheckArgs {
    services: Vec<String>,
    packages: bool,
    server_id: Option<String>,
    root: Option<String>,
    /// Hidden: time this many collections and print the cost of one.
    bench: Option<u32>,
    config: Option<PathBuf>,
}

#[derive(Debug, Default, PartialEq)]
struct RunArgs {
    config: Option<PathBuf>,
    flags: Settings,
}

#[derive(Debug, Default, PartialEq)]
struct RegisterArgs {
    hub: Option<String>,
    token: Option<String>,
    server_id: Option<String>,
    hostname: Option<String>,
    config: Option<PathBuf>,
}

#[derive(Debug, PartialEq)]
enum Command {
    Help,
    Version,
    Check(CheckArgs),
    Run(Box<RunArgs>),
    Register(RegisterArgs),
}

/// Walks `--flag value`, `--flag=value` and bare `--switch` arguments.
struct Flags<'a> {
    args: std::slice::Iter<'a, String>,
}

impl<'a> Flags<'a> {
    /// The next flag, with its inline value if written as `--flag=value`.
    fn next_flag(&mut self) -> Option<(&'a str, Option<&'a str>)> {
        let arg = self.args.next()?.as_str();
        Some(match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value)),
            _ => (arg, None),
        })
    }

    fn value(&mut self, flag: &str, inline: Option<&str>) -> Result<String, String> {
        inline.map(str::to_owned).or_else(|| self.args.next().cloned()).ok_or_else(|| format!("{flag} needs a value"))
    }

    fn number(&mut self, flag: &str, inline: Option<&str>) -> Result<u64, String> {
        let value = self.value(flag, inline)?;
        value.parse().map_err(|_| format!("{flag}: `{value}` is not a whole number"))
    }
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    let (command, rest) = match args.first().map(String::as_str) {
        Some("-h" | "--help" | "help") => return Ok(Command::Help),
        Some("-V" | "--version" | "version") => return Ok(Command::Version),
        Some("check") => ("check", &args[1..]),
        Some("run") => ("run", &args[1..]),
        Some("register") => ("register", &args[1..]),
        Some(other) if !other.starts_with('-') => return Err(format!("unknown command `{other}`")),
        _ => ("run", args),
    };
    let mut flags = Flags { args: rest.iter() };
    match command {
        "check" => {
            let mut check = CheckArgs::default();
            while let Some((flag, inline)) = flags.next_flag() {
                match flag {
                    "-h" | "--help" => return Ok(Command::Help),
                    "--service" => check.services.push(flags.value(flag, inline)?),
                    "--server-id" => check.server_id = Some(flags.value(flag, inline)?),
                    "--root" => check.root = Some(flags.value(flag, inline)?),
                    "--packages" if inline.is_none() => check.packages = true,
                    "--config" => check.config = Some(flags.value(flag, inline)?.into()),
                    "--bench-collect" => {
                        let n = flags.number(flag, inline)?;
                        check.bench = Some(u32::try_from(n.max(1)).map_err(|_| format!("{flag}: too many"))?);
                    }
                    other => return Err(format!("unknown option `{other}`")),
                }
            }
            Ok(Command::Check(check))
        }
        "register" => {
            let mut reg = RegisterArgs::default();
            while let Some((flag, inline)) = flags.next_flag() {
                match flag {
                    "-h" | "--help" => return Ok(Command::Help),
                    "--hub" => reg.hub = Some(flags.value(flag, inline)?),
                    "--token" => reg.token = Some(flags.value(flag, inline)?),
                    "--server-id" => reg.server_id = Some(flags.value(flag, inline)?),
                    "--hostname" => reg.hostname = Some(flags.value(flag, inline)?),
                    "--config" => reg.config = Some(flags.value(flag, inline)?.into()),
                    other => return Err(format!("unknown option `{other}`")),
                }
            }
            Ok(Command::Register(reg))
        }
        _ => {
            let mut run = RunArgs::default();
            let s = &mut run.flags;
            while let Some((flag, inline)) = flags.next_flag() {
                match flag {
                    "-h" | "--help" => return Ok(Command::Help),
                    "--config" => run.config = Some(flags.value(flag, inline)?.into()),
                    "--hub" => s.hub_url = Some(flags.value(flag, inline)?),
                    "--api-token" => s.api_token = Some(flags.value(flag, inline)?),
                    "--server-guid" => s.server_guid = Some(flags.value(flag, inline)?),
                    "--api-key" => s.api_key = Some(flags.value(flag, inline)?),
                    "--server-id" => s.server_id = Some(flags.value(flag, inline)?),
                    "--hostname" => s.hostname = Some(flags.value(flag, inline)?),
                    "--interval" => s.heartbeat_interval = Some(flags.number(flag, inline)?),
                    // Undocumented: for tests that need many heartbeats quickly.
                    "--interval-ms" => s.heartbeat_interval_ms = Some(flags.number(flag, inline)?),
                    "--service" => {
                        let value = flags.value(flag, inline)?;
                        s.monitored_services.get_or_insert_with(Vec::new).extend(config::split_list(&value));
                    }
                    "--no-packages" if inline.is_none() => s.collect_packages = Some(false),
                    "--state-dir" => s.state_dir = Some(flags.value(flag, inline)?.into()),
                    "--spool-dir" => s.spool_dir = Some(flags.value(flag, inline)?.into()),
                    "--spool-max-mb" => s.spool_max_mb = Some(flags.number(flag, inline)?),
                    "--spool-max-age-hours" => s.spool_max_age_hours = Some(flags.number(flag, inline)?),
                    "--root" => s.root = Some(flags.value(flag, inline)?.into()),
                    other => return Err(format!("unknown option `{other}`")),
                }
            }
            Ok(Command::Run(Box::new(run)))
        }
    }
}

fn hostname_of(root: &SystemRoot) -> String {
    os::read_hostname(root).unwrap_or_else(|e| {
        eprintln!("warning: host name: {e}");
        "localhost".to_owned()
    })
}

fn check(args: CheckArgs) -> ExitCode {
    // What `run` would use, without demanding a hub or credentials: check works before register.
    let (path, required) = config_path(args.config);
    let settings = match config::read_file(&path, required)
        .and_then(|file| Ok(file.overlay(Settings::from_env(|name| std::env::var(name).ok())?)))
    {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let root = args.root.map(PathBuf::from).or(settings.root).map_or_else(SystemRoot::host, SystemRoot::under);
    let hostname = settings.hostname.unwrap_or_else(|| hostname_of(&root));
    let state_dir = settings.state_dir.unwrap_or_else(|| PathBuf::from(config::DEFAULT_STATE_DIR));
    let spool_dir = settings.spool_dir.clone().unwrap_or_else(|| state_dir.join("spool"));
    let set_aside = homelab_agent::spool::dead_letter_count(&spool_dir);
    if set_aside > 0 {
        eprintln!(
            "warning: {set_aside} heartbeat(s) the hub kept failing on are set aside in {}",
            spool_dir.join(homelab_agent::spool::DEAD_LETTER_DIR).display()
        );
    }
    // Read, never created: check must not leave state behind.
    let stored_guid = std::fs::read_to_string(state_dir.join(homelab_agent::state::GUID_FILE))
        .ok()
        .map(|g| g.trim().to_owned())
        .filter(|g| config::is_guid(g));
    let identity = AgentIdentity {
        server_id: args.server_id.or(settings.server_id).unwrap_or_else(|| os::server_id_from_hostname(&hostname)),
        server_guid: settings.server_guid.or(stored_guid),
        hostname,
    };
    let services =
        if args.services.is_empty() { settings.monitored_services.unwrap_or_default() } else { args.services };
    let defaults = CollectorConfig::default();
    let config = CollectorConfig {
        services,
        collect_packages: args.packages,
        collect_containers: settings.collect_containers.unwrap_or(defaults.collect_containers),
        container_sockets: settings.container_sockets,
        collect_sensors: settings.collect_sensors.unwrap_or(defaults.collect_sensors),
        collect_disk_health: settings.collect_disk_health.unwrap_or(defaults.collect_disk_health),
        collect_gpus: settings.collect_gpus.unwrap_or(defaults.collect_gpus),
        ..defaults
    };
    let mut collector = Collector::new(root, config);
    for warning in collector.prime() {
        eprintln!("warning: {warning}");
    }
    if let Some(n) = args.bench {
        return bench(&mut collector, &identity, n);
    }
    // S.M.A.R.T., ZFS and nvidia-smi run on a thread of their own when the agent runs; here
    // they run once, in the foreground, so that the output shows them.
    let started = Instant::now();
    collector.run_command_probes_now();
    thread::sleep(Duration::from_secs(1).saturating_sub(started.elapsed()));
    let collection = collector.collect(&identity, chrono::Utc::now());
    for warning in &collection.warnings {
        eprintln!("warning: {warning}");
    }
    if collector.reboot_required() {
        eprintln!("note: a reboot is required to finish installing updates");
    }
    match serde_json::to_string_pretty(&collection.heartbeat) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot encode the heartbeat: {e}");
            ExitCode::FAILURE
        }
    }
}

/// User + system CPU time so far of this process (`RUSAGE_SELF`) or of its waited-for children
/// (`RUSAGE_CHILDREN`: `systemctl`, `apt`).
fn cpu_time(who: libc::c_int) -> Duration {
    // SAFETY: an all-zero rusage is a valid value; getrusage only writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid `who` and a pointer to a live rusage.
    if unsafe { libc::getrusage(who, &mut usage) } != 0 {
        return Duration::ZERO;
    }
    let micros =
        |t: libc::timeval| u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000 + u64::try_from(t.tv_usec).unwrap_or(0);
    Duration::from_micros(micros(usage.ru_utime) + micros(usage.ru_stime))
}

/// Measures what one collection plus JSON encoding costs, in CPU and wall time.
fn bench(collector: &mut Collector, identity: &AgentIdentity, n: u32) -> ExitCode {
    let (cpu0, children0, wall0) = (cpu_time(libc::RUSAGE_SELF), cpu_time(libc::RUSAGE_CHILDREN), Instant::now());
    let mut bytes = 0;
    for _ in 0..n {
        let collection = collector.collect(identity, chrono::Utc::now());
        bytes = serde_json::to_vec(&collection.heartbeat).map_or(0, |b| b.len());
    }
    let cpu = cpu_time(libc::RUSAGE_SELF).saturating_sub(cpu0);
    let children = cpu_time(libc::RUSAGE_CHILDREN).saturating_sub(children0);
    let per = |d: Duration| d.as_secs_f64() * 1e6 / f64::from(n);
    println!(
        "{n} collections: {:.1} µs CPU in the agent, {:.1} µs in child processes, {:.1} µs wall per \
         collection; heartbeat {bytes} bytes",
        per(cpu),
        per(children),
        per(wall0.elapsed())
    );
    ExitCode::SUCCESS
}

fn config_path(explicit: Option<PathBuf>) -> (PathBuf, bool) {
    match explicit {
        Some(path) => (path, true),
        None => (PathBuf::from(DEFAULT_CONFIG_PATH), false),
    }
}

fn load_config(args: RunArgs) -> Result<Config, String> {
    let (path, required) = config_path(args.config);
    let file = config::read_file(&path, required).map_err(|e| e.to_string())?;
    let env = Settings::from_env(|name| std::env::var(name).ok()).map_err(|e| e.to_string())?;
    config::resolve(file, env, args.flags).map_err(|e| e.to_string())
}

fn run(args: RunArgs) -> ExitCode {
    let config = match load_config(args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    match runner::run(&config, &Shutdown::new()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn register_command(args: RegisterArgs) -> ExitCode {
    let (Some(hub), Some(token)) = (args.hub, args.token) else {
        eprintln!("error: register needs --hub URL and --token TOKEN\n\n{USAGE}");
        return ExitCode::from(2);
    };
    let hostname = args.hostname.unwrap_or_else(|| hostname_of(&SystemRoot::host()));
    let server_id = args.server_id.unwrap_or_else(|| os::server_id_from_hostname(&hostname));
    if !config::is_slug(&server_id) {
        eprintln!("error: server id `{server_id}` must be a-z, 0-9 and -; pass --server-id");
        return ExitCode::from(2);
    }
    let (path, _) = config_path(args.config);
    let request = Registration { hub_url: hub, token, server_id, hostname };
    match register(&request, &path, &HttpClient::new(Duration::from_secs(30))) {
        Ok(registered) => {
            print_next_steps(&path, &registered.server_id, &registered.server_guid, &registered.monitored_services);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print_next_steps(path: &Path, server_id: &str, guid: &str, services: &[String]) {
    println!("Registered as `{server_id}` (GUID {guid}).");
    println!("Configuration written to {} (readable by root only).", path.display());
    if !services.is_empty() {
        println!("Monitored services: {}", services.join(", "));
    }
    println!();
    println!("Next steps:");
    println!("  homelabcmd-agent check                           # see what will be sent");
    println!("  systemctl enable --now homelabcmd-agent.service  # start reporting");
    println!("  journalctl -u homelabcmd-agent -f                # follow its log");
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse_args(&args) {
        Ok(Command::Help) => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            println!("homelabcmd-agent {AGENT_VERSION}");
            ExitCode::SUCCESS
        }
        Ok(Command::Check(args)) => check(args),
        Ok(Command::Run(args)) => run(*args),
        Ok(Command::Register(args)) => register_command(args),
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        parse_args(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn commands() {
        assert_eq!(parse(&[]), Ok(Command::Run(Box::default())));
        assert_eq!(parse(&["run"]), Ok(Command::Run(Box::default())));
        assert_eq!(parse(&["--help"]), Ok(Command::Help));
        assert_eq!(parse(&["--version"]), Ok(Command::Version));
        assert_eq!(parse(&["check", "-h"]), Ok(Command::Help));
        assert_eq!(parse(&["check"]), Ok(Command::Check(CheckArgs::default())));
        assert!(parse(&["send"]).is_err());
    }

    #[test]
    fn check_options() {
        assert_eq!(
            parse(&[
                "check",
                "--service",
                "nginx",
                "--service=docker",
                "--packages",
                "--server-id",
                "pi-1",
                "--root=/host",
                "--bench-collect=100"
            ]),
            Ok(Command::Check(CheckArgs {
                services: vec!["nginx".into(), "docker".into()],
                packages: true,
                server_id: Some("pi-1".into()),
                root: Some("/host".into()),
                bench: Some(100),
                config: None,
            }))
        );
        assert_eq!(parse(&["check", "--service"]), Err("--service needs a value".into()));
        assert_eq!(parse(&["check", "--bogus"]), Err("unknown option `--bogus`".into()));
        assert_eq!(parse(&["check", "--packages=yes"]), Err("unknown option `--packages`".into()));
    }

    #[test]
    fn run_options_become_the_flag_layer() {
        let Ok(Command::Run(run)) = parse(&[
            "--config=/tmp/a.toml",
            "--hub",
            "http://hub:8080",
            "--api-key",
            "k",
            "--interval",
            "30",
            "--service",
            "nginx,docker",
            "--service=plex",
            "--no-packages",
            "--spool-dir",
            "/tmp/spool",
        ]) else {
            panic!("not a run command")
        };
        assert_eq!(run.config.as_deref(), Some(Path::new("/tmp/a.toml")));
        assert_eq!(
            run.flags,
            Settings {
                hub_url: Some("http://hub:8080".into()),
                api_key: Some("k".into()),
                heartbeat_interval: Some(30),
                monitored_services: Some(vec!["nginx".into(), "docker".into(), "plex".into()]),
                collect_packages: Some(false),
                spool_dir: Some("/tmp/spool".into()),
                ..Settings::default()
            }
        );
        assert_eq!(parse(&["run", "--interval", "soon"]), Err("--interval: `soon` is not a whole number".into()));
    }

    #[test]
    fn register_options() {
        assert_eq!(
            parse(&["register", "--hub", "http://hub", "--token=hlh_rt_x", "--server-id", "nas"]),
            Ok(Command::Register(RegisterArgs {
                hub: Some("http://hub".into()),
                token: Some("hlh_rt_x".into()),
                server_id: Some("nas".into()),
                ..RegisterArgs::default()
            }))
        );
    }
}
