//! Test doubles that replay what a fixture machine would answer.

#![allow(dead_code)]

pub mod engine;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use homelab_agent::collectors::disks::{FsStats, FsUsage, MountEntry};
use homelab_agent::command::{CommandError, CommandOutput, CommandRunner};

pub fn fixture(machine: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(machine)
}

/// Copies a fixture tree so a test can change counters between two collections.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), target).unwrap();
        } else if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// File-system sizes from the fixture's `fs-usage.tsv`; a mount without a line behaves like a
/// network share that never answers.
pub struct FixtureFs(HashMap<String, FsUsage>);

impl FixtureFs {
    pub fn load(machine_dir: &Path) -> Self {
        let text = std::fs::read_to_string(machine_dir.join("fs-usage.tsv")).unwrap_or_default();
        FixtureFs(
            text.lines()
                .map(|line| {
                    let f: Vec<&str> = line.split('\t').collect();
                    let usage = FsUsage {
                        total_bytes: f[1].parse().unwrap(),
                        used_bytes: f[2].parse().unwrap(),
                        available_bytes: f[3].parse().unwrap(),
                    };
                    (f[0].to_owned(), usage)
                })
                .collect(),
        )
    }
}

impl FsStats for FixtureFs {
    fn usage(&self, mount: &MountEntry, _path: &Path) -> io::Result<FsUsage> {
        self.0
            .get(&mount.mount_point)
            .copied()
            .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "no answer within 2 s"))
    }
}

/// Replays `commands/systemctl/<unit>.txt`, `commands/systemctl-list-units.txt`,
/// `commands/apt-list-upgradable.txt`, `commands/smartctl/scan.json` and `<disk>.json`,
/// `commands/zpool-list.txt` and `commands/nvidia-smi.csv`; a tool without its file is not
/// installed.
pub struct Replay(pub PathBuf);

impl CommandRunner for Replay {
    fn run(&self, program: &str, args: &[&str], _timeout: Duration) -> Result<CommandOutput, CommandError> {
        let file = match program {
            "systemctl" if args.first() == Some(&"list-units") => self.0.join("commands/systemctl-list-units.txt"),
            "systemctl" => self.0.join("commands/systemctl").join(format!("{}.txt", args.last().unwrap())),
            "apt" => {
                assert_eq!(args, ["list", "--upgradable"]);
                self.0.join("commands/apt-list-upgradable.txt")
            }
            "smartctl" if args.contains(&"--scan-open") => self.0.join("commands/smartctl/scan.json"),
            "smartctl" => {
                let device = Path::new(args.last().unwrap()).file_name().unwrap().to_str().unwrap();
                self.0.join("commands/smartctl").join(format!("{device}.json"))
            }
            "zpool" => self.0.join("commands/zpool-list.txt"),
            "nvidia-smi" => self.0.join("commands/nvidia-smi.csv"),
            other => panic!("unexpected command {other}"),
        };
        match std::fs::read_to_string(file) {
            Ok(stdout) => Ok(CommandOutput { success: true, code: Some(0), stdout, stderr: String::new() }),
            Err(_) => Err(CommandError::NotFound { program: program.to_owned() }),
        }
    }
}
