//! The one shape of a background job (after Garage's `Worker`): a worker does one unit of work
//! and says whether more is ready (`Busy`), whether it must wait (`Idle`) or whether it is
//! finished (`Done`); it knows what to wait for (`wait_for_work`). The runner owns everything
//! else: the error backoff (exponential, capped, logged once per failure streak), stop
//! signalling, and the exit deadline past which unfinished work is aborted.
//!
//! Aborting is safe because a worker's store writes are transactions: work cut short leaves the
//! store as it was before that write (or after it), never half-written; a delivery cut short
//! keeps its lease and is sent again once the lease ends.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// What a worker reports after a unit of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerState {
    /// More work is ready: run again at once.
    Busy,
    /// Nothing to do until [`Worker::wait_for_work`] resolves.
    Idle,
    /// Finished for good: the runner ends this worker.
    Done,
}

pub trait Worker: Send + 'static {
    fn name(&self) -> &'static str;

    /// One unit of work. An error is logged by the runner, which retries after a backoff.
    fn work(&mut self) -> impl Future<Output = Result<WorkerState, String>> + Send;

    /// Resolves when there may be work again: a timer, a wake-up, a finished send. Must be
    /// cancel-safe: the runner drops it when the hub stops.
    fn wait_for_work(&mut self) -> impl Future<Output = ()> + Send;

    /// Called once when the hub stops, within the exit deadline: finish what is in flight.
    fn finish(&mut self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// First retry after a failure; doubled per consecutive failure up to [`BACKOFF_CAP`].
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
pub const BACKOFF_CAP: Duration = Duration::from_secs(120);
/// How long stopping may take before unfinished work is aborted.
pub const EXIT_DEADLINE: Duration = Duration::from_secs(10);

/// The wait before the next attempt after `failures` consecutive failures (`failures >= 1`).
pub fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    BACKOFF_BASE.saturating_mul(1 << doublings).min(BACKOFF_CAP)
}

/// The running workers of one hub and their shared stop signal.
pub struct Workers {
    stop: watch::Sender<bool>,
    running: Vec<(&'static str, JoinHandle<()>)>,
}

impl Default for Workers {
    fn default() -> Self {
        Workers { stop: watch::channel(false).0, running: Vec::new() }
    }
}

impl Workers {
    pub fn spawn<W: Worker>(&mut self, worker: W) {
        let name = worker.name();
        self.running.push((name, tokio::spawn(run(worker, self.stop.subscribe()))));
    }

    /// Signals every worker to stop and waits for them until `deadline` has passed; whatever is
    /// still running then is aborted.
    pub async fn stop(self, deadline: Duration) {
        let _ = self.stop.send(true);
        let until = Instant::now() + deadline;
        for (name, mut task) in self.running {
            if tokio::time::timeout_at(until, &mut task).await.is_err() {
                tracing::warn!(job = name, ?deadline, "background job did not stop in time; aborting it");
                task.abort();
                let _ = task.await;
            }
        }
    }
}

async fn run<W: Worker>(mut worker: W, mut stop: watch::Receiver<bool>) {
    let name = worker.name();
    let mut failures: u32 = 0;
    while !*stop.borrow() {
        // Work in progress is not interrupted by the stop signal: `Workers::stop` gives it until
        // the exit deadline, then aborts it.
        match worker.work().await {
            Ok(state) => {
                if failures > 0 {
                    tracing::info!(job = name, failures, "background job recovered");
                    failures = 0;
                }
                match state {
                    WorkerState::Busy => tokio::task::yield_now().await,
                    WorkerState::Idle => {
                        tokio::select! {
                            _ = stopped(&mut stop) => break,
                            _ = worker.wait_for_work() => {}
                        }
                    }
                    WorkerState::Done => break,
                }
            }
            Err(message) => {
                failures = failures.saturating_add(1);
                let delay = backoff(failures);
                if failures == 1 {
                    tracing::warn!(job = name, %message, retry_in = ?delay, "background job failed; backing off");
                } else {
                    tracing::debug!(job = name, %message, failures, retry_in = ?delay, "background job failed again");
                }
                tokio::select! {
                    _ = stopped(&mut stop) => break,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
    worker.finish().await;
    tracing::debug!(job = name, "stopped");
}

/// Resolves once a stop is requested (or the sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await.map(|_| ());
}

/// A fixed-rate schedule for timer-driven workers: the first run after `first`, then every
/// `every`; a late run does not cause a burst of catch-up runs.
pub struct Every {
    next: Instant,
    every: Duration,
}

impl Every {
    pub fn new(first: Duration, every: Duration) -> Self {
        Every { next: Instant::now() + first, every }
    }

    /// Sleeps until the next run is due (cancel-safe: the schedule moves on only when it fires).
    pub async fn tick(&mut self) {
        tokio::time::sleep_until(self.next).await;
        self.next = (self.next + self.every).max(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[test]
    fn backoff_doubles_then_caps() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(4), Duration::from_secs(8));
        assert_eq!(backoff(8), BACKOFF_CAP);
        assert_eq!(backoff(u32::MAX), BACKOFF_CAP);
    }

    /// Fails twice, then succeeds and reports `Done`; counts its runs.
    struct Flaky(Arc<AtomicU32>);

    impl Worker for Flaky {
        fn name(&self) -> &'static str {
            "flaky"
        }
        async fn work(&mut self) -> Result<WorkerState, String> {
            match self.0.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err("not yet".into()),
                _ => Ok(WorkerState::Done),
            }
        }
        async fn wait_for_work(&mut self) {}
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_then_the_worker_finishes() {
        let runs = Arc::new(AtomicU32::new(0));
        let started = Instant::now();
        run(Flaky(Arc::clone(&runs)), watch::channel(false).1).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        // 1 s after the first failure, 2 s after the second.
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }

    /// Never finishes its one unit of work.
    struct Stuck;

    impl Worker for Stuck {
        fn name(&self) -> &'static str {
            "stuck"
        }
        async fn work(&mut self) -> Result<WorkerState, String> {
            std::future::pending::<()>().await;
            Ok(WorkerState::Idle)
        }
        async fn wait_for_work(&mut self) {}
    }

    /// Idle until woken, which never happens.
    struct Sleeper;

    impl Worker for Sleeper {
        fn name(&self) -> &'static str {
            "sleeper"
        }
        async fn work(&mut self) -> Result<WorkerState, String> {
            Ok(WorkerState::Idle)
        }
        async fn wait_for_work(&mut self) {
            std::future::pending::<()>().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn stopping_ends_idle_workers_at_once_and_aborts_stuck_ones_at_the_deadline() {
        let mut workers = Workers::default();
        workers.spawn(Sleeper);
        workers.spawn(Stuck);
        tokio::task::yield_now().await;
        let started = Instant::now();
        workers.stop(EXIT_DEADLINE).await;
        assert_eq!(started.elapsed(), EXIT_DEADLINE);

        let mut workers = Workers::default();
        workers.spawn(Sleeper);
        tokio::task::yield_now().await;
        let started = Instant::now();
        workers.stop(EXIT_DEADLINE).await;
        assert_eq!(started.elapsed(), Duration::ZERO);
    }
}
