//! A progress bar on stderr for the long phases (timed runs and back-fills): redrawn in place on
//! a terminal, one line every few seconds when stderr is a log file, so that CI logs stay short.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// What "done" means for a phase.
#[derive(Debug, Clone, Copy)]
pub enum Goal {
    /// A fixed number of requests (a back-fill).
    Count(u64),
    /// A fixed length of time (a measured run).
    Time(Duration),
}

/// Counters the workers bump, shared with the drawing task.
#[derive(Default)]
pub struct Counters {
    pub ok: AtomicU64,
    pub failed: AtomicU64,
}

impl Counters {
    pub fn record(&self, success: bool) {
        let counter = if success { &self.ok } else { &self.failed };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

pub struct Progress {
    counters: Arc<Counters>,
    stop: oneshot::Sender<()>,
    drawer: JoinHandle<()>,
}

impl Progress {
    pub fn start(label: &str, goal: Goal) -> Progress {
        let counters = Arc::new(Counters::default());
        let (stop, mut stopped) = oneshot::channel();
        let (label, shared) = (label.to_owned(), Arc::clone(&counters));
        let terminal = std::io::stderr().is_terminal();
        let drawer = tokio::spawn(async move {
            let started = Instant::now();
            let every = if terminal { Duration::from_millis(200) } else { Duration::from_secs(5) };
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    () = tokio::time::sleep(every) => {}
                }
                let line = render(&label, goal, &shared, started.elapsed());
                let mut stderr = std::io::stderr().lock();
                let _ = if terminal { write!(stderr, "\r{line}\x1b[K") } else { writeln!(stderr, "{line}") };
                let _ = stderr.flush();
            }
            if terminal {
                let _ = write!(std::io::stderr(), "\r\x1b[K");
            }
        });
        Progress { counters, stop, drawer }
    }

    pub fn counters(&self) -> Arc<Counters> {
        Arc::clone(&self.counters)
    }

    /// Stops drawing and clears the bar.
    pub async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.drawer.await;
    }
}

const WIDTH: usize = 30;

fn render(label: &str, goal: Goal, counters: &Counters, elapsed: Duration) -> String {
    let ok = counters.ok.load(Ordering::Relaxed);
    let failed = counters.failed.load(Ordering::Relaxed);
    let seconds = elapsed.as_secs_f64().max(1e-3);
    let rate = (ok + failed) as f64 / seconds;
    let (fraction, remaining) = match goal {
        Goal::Count(total) => {
            let done = (ok + failed) as f64 / total.max(1) as f64;
            let left = total.saturating_sub(ok + failed) as f64 / rate.max(1e-3);
            (done, left)
        }
        Goal::Time(length) => (seconds / length.as_secs_f64().max(1e-3), length.as_secs_f64() - seconds),
    };
    let fraction = fraction.clamp(0.0, 1.0);
    let filled = (fraction * WIDTH as f64).round() as usize;
    format!(
        "{label:<10} [{}{}] {:>3.0}%  {ok} ok  {failed} failed  {rate:.0}/s  {:.0} s left",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled),
        fraction * 100.0,
        remaining.max(0.0)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_half_done_back_fill_shows_half_a_bar_and_the_time_left() {
        let counters = Counters::default();
        for _ in 0..50 {
            counters.record(true);
        }
        counters.record(false);
        let line = render("back-fill", Goal::Count(102), &counters, Duration::from_secs(10));
        assert!(line.starts_with("back-fill  [###############---------------]  50%"), "{line}");
        assert!(line.contains("50 ok  1 failed  5/s  10 s left"), "{line}");
    }

    #[test]
    fn a_timed_run_is_measured_by_the_clock() {
        let line = render("ingest", Goal::Time(Duration::from_secs(4)), &Counters::default(), Duration::from_secs(1));
        assert!(line.contains("]  25%") && line.contains("3 s left"), "{line}");
    }
}
