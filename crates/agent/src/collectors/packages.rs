//! Pending package updates (`apt list --upgradable`) and whether a reboot is pending.
//!
//! Listing updates takes seconds and reads the whole package database, so it is exposed on its
//! own: the [`Collector`](crate::Collector) runs it on a slower schedule (hourly by default).
//! Unlike v1, an empty list is sent too: that is how the hub learns that everything was
//! upgraded and clears the packages it still lists. v1's `apt-get -s upgrade` fallback is gone;
//! an empty list from `apt list` means no updates, not a failure.

use std::time::Duration;

use homelab_core::heartbeat::PackageReport;

use super::truncate_chars;
use crate::command::{CommandError, CommandRunner};
use crate::error::CollectError;
use crate::root::SystemRoot;

/// v1's limit for `apt list`; it can wait for the dpkg lock while an upgrade runs.
pub const APT_TIMEOUT: Duration = Duration::from_secs(30);

/// The hub's length limits.
const MAX_NAME: usize = 255;
const MAX_VERSION: usize = 100;
const MAX_REPOSITORY: usize = 255;

/// The pending updates of a machine, with the counts the heartbeat carries alongside.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageUpdates {
    pub packages: Vec<PackageReport>,
}

impl PackageUpdates {
    /// `updates_available`.
    pub fn total(&self) -> i64 {
        i64::try_from(self.packages.len()).unwrap_or(i64::MAX)
    }

    /// `security_updates`.
    pub fn security(&self) -> i64 {
        i64::try_from(self.packages.iter().filter(|p| p.is_security).count()).unwrap_or(i64::MAX)
    }
}

/// Parses `apt list --upgradable` lines of the form
/// `name/repo[,repo…] newver arch [upgradable from: oldver]`; the `Listing...` banner, warnings
/// and anything else are skipped. A package is a security update when a repository name says so
/// (`bookworm-security`, `jammy-security`), v1's rule.
pub fn parse_apt_upgradable(text: &str) -> Vec<PackageReport> {
    text.lines().filter_map(parse_apt_line).collect()
}

fn parse_apt_line(line: &str) -> Option<PackageReport> {
    let (head, old) = line.trim().split_once(" [upgradable from: ")?;
    let current_version = old.strip_suffix(']')?.trim();
    let mut fields = head.split_ascii_whitespace();
    let (name, repository) = fields.next()?.split_once('/')?;
    let new_version = fields.next()?;
    let _arch = fields.next()?;
    if fields.next().is_some() || [name, repository, new_version, current_version].iter().any(|f| f.is_empty()) {
        return None;
    }
    Some(PackageReport {
        name: truncate_chars(name, MAX_NAME),
        current_version: truncate_chars(current_version, MAX_VERSION),
        new_version: truncate_chars(new_version, MAX_VERSION),
        repository: truncate_chars(repository, MAX_REPOSITORY),
        is_security: repository.contains("security"),
    })
}

/// Lists pending updates with apt. `Ok(None)` when apt is not installed (not a Debian family
/// system): there is nothing to report, which is not an error.
pub fn read_package_updates(runner: &dyn CommandRunner) -> Result<Option<PackageUpdates>, CollectError> {
    match runner.run("apt", &["list", "--upgradable"], APT_TIMEOUT) {
        Ok(out) if out.success => Ok(Some(PackageUpdates { packages: parse_apt_upgradable(&out.stdout) })),
        Ok(out) => Err(CollectError::CommandFailed {
            command: "apt list --upgradable".to_owned(),
            reason: format!(
                "exit status {}: {}",
                out.code.map_or_else(|| "signal".to_owned(), |c| c.to_string()),
                out.stderr.lines().find(|l| !l.trim().is_empty() && !l.starts_with("WARNING")).unwrap_or("")
            ),
        }),
        Err(CommandError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Whether Debian's update tooling asks for a reboot (`/var/run/reboot-required`). The v1
/// heartbeat has no field for it; callers may show it elsewhere.
pub fn reboot_required(root: &SystemRoot) -> bool {
    root.run.join("reboot-required").exists()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::CommandOutput;

    const APT_OUTPUT: &str = "Listing...\n\
        base-files/oldstable 12.4+deb12u14 amd64 [upgradable from: 12.4+deb12u11]\n\
        libssl3/oldstable-security,oldstable 3.0.17-1~deb12u3 amd64 [upgradable from: 3.0.16-1~deb12u1]\n\
        tzdata/stable-updates 2025b-0+deb12u2 all [upgradable from: 2025b-0+deb12u1]\n\
        N: There is 1 additional version. Please use the '-a' switch to see it\n\
        broken/line\n";

    #[test]
    fn apt_list_lines() {
        let packages = parse_apt_upgradable(APT_OUTPUT);
        assert_eq!(
            packages,
            [
                PackageReport {
                    name: "base-files".into(),
                    current_version: "12.4+deb12u11".into(),
                    new_version: "12.4+deb12u14".into(),
                    repository: "oldstable".into(),
                    is_security: false,
                },
                PackageReport {
                    name: "libssl3".into(),
                    current_version: "3.0.16-1~deb12u1".into(),
                    new_version: "3.0.17-1~deb12u3".into(),
                    repository: "oldstable-security,oldstable".into(),
                    is_security: true,
                },
                PackageReport {
                    name: "tzdata".into(),
                    current_version: "2025b-0+deb12u1".into(),
                    new_version: "2025b-0+deb12u2".into(),
                    repository: "stable-updates".into(),
                    is_security: false,
                },
            ]
        );
        let updates = PackageUpdates { packages };
        assert_eq!((updates.total(), updates.security()), (3, 1));
    }

    #[test]
    fn nothing_to_upgrade() {
        assert!(parse_apt_upgradable("Listing...\n").is_empty());
        assert!(parse_apt_upgradable("").is_empty());
    }

    struct Apt(Result<CommandOutput, fn() -> CommandError>);

    impl CommandRunner for Apt {
        fn run(&self, program: &str, args: &[&str], _timeout: Duration) -> Result<CommandOutput, CommandError> {
            assert_eq!((program, args), ("apt", &["list", "--upgradable"][..]));
            self.0.clone().map_err(|make| make())
        }
    }

    #[test]
    fn apt_missing_failing_or_working() {
        let missing = Apt(Err(|| CommandError::NotFound { program: "apt".into() }));
        assert_eq!(read_package_updates(&missing).unwrap(), None);

        let failing = Apt(Ok(CommandOutput {
            success: false,
            code: Some(100),
            stdout: String::new(),
            stderr: "\nWARNING: apt does not have a stable CLI interface.\n\nE: Could not open lock file\n".into(),
        }));
        let err = read_package_updates(&failing).unwrap_err().to_string();
        assert_eq!(err, "`apt list --upgradable` failed: exit status 100: E: Could not open lock file");

        let working =
            Apt(Ok(CommandOutput { success: true, code: Some(0), stdout: APT_OUTPUT.into(), stderr: String::new() }));
        let updates = read_package_updates(&working).unwrap().unwrap();
        assert_eq!(updates.packages.len(), 3);
    }

    #[test]
    fn reboot_flag() {
        let dir = tempfile::tempdir().unwrap();
        let root = SystemRoot::under(dir.path());
        assert!(!reboot_required(&root));
        std::fs::create_dir_all(&root.run).unwrap();
        std::fs::write(root.run.join("reboot-required"), "*** System restart required ***\n").unwrap();
        assert!(reboot_required(&root));
    }
}
