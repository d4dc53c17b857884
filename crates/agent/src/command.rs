//! Running external tools (`systemctl`, `apt`) with a deadline.
//!
//! `std::process::Command` has no timeout, and a hung `systemctl` or an `apt` waiting for a lock
//! must not stall the heartbeat, so every call goes through [`CommandRunner`]. It is a trait so
//! tests can replay captured output without the tools being installed.

use std::io::{self, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Output beyond this is dropped: the tools we run print a few kilobytes at most, and a runaway
/// one must not exhaust the agent's memory.
const MAX_OUTPUT_BYTES: u64 = 4 * 1024 * 1024;

/// How often we check whether the child has exited; short enough that `systemctl show`
/// (a few milliseconds) does not wait long.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// What a finished command printed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandOutput {
    /// `true` when it exited with status 0.
    pub success: bool,
    /// The exit code, absent when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Why a command produced no output; collectors map each case to a different status reason.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The program is not installed, which is normal (no systemd, no apt) and not an error.
    #[error("`{program}` is not installed")]
    NotFound { program: String },
    #[error("`{program}` did not finish within {} s", timeout.as_secs_f64())]
    Timeout { program: String, timeout: Duration },
    #[error("`{program}` could not be run: {source}")]
    Io {
        program: String,
        #[source]
        source: io::Error,
    },
}

/// Runs a program to completion or until `timeout`, whichever comes first.
pub trait CommandRunner: Send + Sync {
    fn run(&self, program: &str, args: &[&str], timeout: Duration) -> Result<CommandOutput, CommandError>;
}

/// Spawns real processes with the C locale, so that output we parse (`[upgradable from: …]`)
/// is never translated.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemCommandRunner;

impl CommandRunner for SystemCommandRunner {
    fn run(&self, program: &str, args: &[&str], timeout: Duration) -> Result<CommandOutput, CommandError> {
        let io_error = |source: io::Error| CommandError::Io { program: program.to_owned(), source };
        let mut child = Command::new(program)
            .args(args)
            .env("LC_ALL", "C")
            .env("LANG", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| {
                if source.kind() == io::ErrorKind::NotFound {
                    CommandError::NotFound { program: program.to_owned() }
                } else {
                    io_error(source)
                }
            })?;
        let deadline = Instant::now() + timeout;
        // The pipes are drained on their own threads: a child that fills the pipe buffer would
        // otherwise block forever while we wait for it to exit.
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        let status = loop {
            match child.try_wait().map_err(io_error)? {
                Some(status) => break status,
                None if Instant::now() >= deadline => {
                    kill(&mut child);
                    return Err(CommandError::Timeout { program: program.to_owned(), timeout });
                }
                None => thread::sleep(POLL_INTERVAL),
            }
        };
        // A grandchild may keep a pipe open after the child exits; never wait past the deadline.
        let remaining = || deadline.saturating_duration_since(Instant::now()).max(POLL_INTERVAL);
        let stdout = stdout.recv_timeout(remaining()).unwrap_or_default();
        let stderr = stderr.recv_timeout(remaining()).unwrap_or_default();
        Ok(CommandOutput { success: status.success(), code: status.code(), stdout, stderr })
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    if let Some(pipe) = pipe {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            // A read error just truncates the output; the exit status still tells the story.
            let _ = pipe.take(MAX_OUTPUT_BYTES).read_to_end(&mut bytes);
            let _ = sender.send(String::from_utf8_lossy(&bytes).into_owned());
        });
    } else {
        let _ = sender.send(String::new());
    }
    receiver
}

fn kill(child: &mut Child) {
    // Either call may fail because the child has just exited by itself, which is what we want.
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_and_status_are_captured() {
        let out = SystemCommandRunner
            .run("sh", &["-c", "echo hello; echo oops >&2; exit 3"], Duration::from_secs(5))
            .unwrap();
        assert!(!out.success);
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout, "hello\n");
        assert_eq!(out.stderr, "oops\n");
    }

    #[test]
    fn large_output_does_not_deadlock() {
        let out = SystemCommandRunner
            .run("sh", &["-c", "head -c 300000 /dev/zero | tr '\\0' x"], Duration::from_secs(10))
            .unwrap();
        assert!(out.success);
        assert_eq!(out.stdout.len(), 300_000);
    }

    #[test]
    fn a_slow_command_times_out() {
        let started = Instant::now();
        let err = SystemCommandRunner.run("sleep", &["10"], Duration::from_millis(200)).unwrap_err();
        assert!(matches!(err, CommandError::Timeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_missing_program_is_reported_as_not_found() {
        let err = SystemCommandRunner.run("homelabcmd-no-such-program", &[], Duration::from_secs(1)).unwrap_err();
        assert!(matches!(err, CommandError::NotFound { .. }), "{err}");
    }
}
