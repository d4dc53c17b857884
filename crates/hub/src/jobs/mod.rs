//! Background jobs. Each runs on its own interval until shutdown; a failing run is logged and
//! retried on the next tick, never allowed to take the hub down.

pub mod dispatcher;
pub mod local_agent;
pub mod offline;
pub mod retention;

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// Runs `work` every `every` (first run after `first_delay`) until `shutdown` turns true.
pub fn spawn_periodic<F, Fut>(
    name: &'static str,
    first_delay: Duration,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
    mut work: F,
) -> JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + first_delay, every);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {
                    if let Err(message) = work().await {
                        tracing::warn!(job = name, %message, "background job failed; retrying on the next run");
                    }
                }
                _ = stopped(&mut shutdown) => break,
            }
        }
        tracing::debug!(job = name, "stopped");
    })
}

/// Resolves once shutdown is requested (or the sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await.map(|_| ());
}
