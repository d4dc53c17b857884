//! `homelabcmd-agent`: for now only `check`, which prints the heartbeat this machine would send.
//!
//! The argument parser is hand-written on purpose: the agent runs on small boards and should stay
//! a small binary with few dependencies.

use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use homelab_agent::collectors::os;
use homelab_agent::{AGENT_VERSION, AgentIdentity, Collector, CollectorConfig, SystemRoot};

const USAGE: &str = "\
homelabcmd-agent: the Homelab Command monitoring agent

Usage:
  homelabcmd-agent check [--service NAME]... [--packages] [--server-id ID] [--root DIR]
  homelabcmd-agent --help | --version

Commands:
  check    Collect twice, one second apart (so CPU % is real), and print the heartbeat as JSON.
           Nothing is sent anywhere.

Options:
  --service NAME   A systemd unit to report (repeatable).
  --packages       Also list pending package updates (slow: runs `apt list --upgradable`).
  --server-id ID   The server id to put in the heartbeat (default: derived from the host name).
  --root DIR       Read proc, sys, etc and var/run below DIR instead of / (for a host mounted
                   into a container, or a fixture tree).
  -h, --help       Show this help.
  -V, --version    Show the version.
";

#[derive(Debug, Default, PartialEq)]
struct CheckArgs {
    services: Vec<String>,
    packages: bool,
    server_id: Option<String>,
    root: Option<String>,
}

#[derive(Debug, PartialEq)]
enum Command {
    Help,
    Version,
    Check(CheckArgs),
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    let mut args = args.iter().map(String::as_str);
    match args.next() {
        None | Some("-h" | "--help" | "help") => return Ok(Command::Help),
        Some("-V" | "--version") => return Ok(Command::Version),
        Some("check") => {}
        Some(other) => return Err(format!("unknown command `{other}`")),
    }
    let mut check = CheckArgs::default();
    while let Some(arg) = args.next() {
        // Both `--service nginx` and `--service=nginx`.
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value)),
            _ => (arg, None),
        };
        let mut value =
            || inline.or_else(|| args.next()).map(str::to_owned).ok_or_else(|| format!("{flag} needs a value"));
        match flag {
            "-h" | "--help" => return Ok(Command::Help),
            "--service" => check.services.push(value()?),
            "--server-id" => check.server_id = Some(value()?),
            "--root" => check.root = Some(value()?),
            "--packages" if inline.is_none() => check.packages = true,
            other => return Err(format!("unknown option `{other}`")),
        }
    }
    Ok(Command::Check(check))
}

fn check(args: CheckArgs) -> ExitCode {
    let root = args.root.map_or_else(SystemRoot::host, SystemRoot::under);
    let hostname = match os::read_hostname(&root) {
        Ok(name) => name,
        Err(e) => {
            eprintln!("warning: host name: {e}");
            "localhost".to_owned()
        }
    };
    let identity = AgentIdentity {
        server_id: args.server_id.unwrap_or_else(|| os::server_id_from_hostname(&hostname)),
        server_guid: None,
        hostname,
    };
    let config =
        CollectorConfig { services: args.services, collect_packages: args.packages, ..CollectorConfig::default() };
    let mut collector = Collector::new(root, config);
    for warning in collector.prime() {
        eprintln!("warning: {warning}");
    }
    thread::sleep(Duration::from_secs(1));
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
        assert_eq!(parse(&[]), Ok(Command::Help));
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
                "--root=/host"
            ]),
            Ok(Command::Check(CheckArgs {
                services: vec!["nginx".into(), "docker".into()],
                packages: true,
                server_id: Some("pi-1".into()),
                root: Some("/host".into()),
            }))
        );
        assert_eq!(parse(&["check", "--service"]), Err("--service needs a value".into()));
        assert_eq!(parse(&["check", "--bogus"]), Err("unknown option `--bogus`".into()));
        assert_eq!(parse(&["check", "--packages=yes"]), Err("unknown option `--packages`".into()));
    }
}
