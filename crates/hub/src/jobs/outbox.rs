//! The dispatcher's doorbell: whoever commits work for it (events in the `alert_events` outbox,
//! a delivery retried by hand, a changed channel) rings it after the commit, and the idle
//! dispatcher wakes at once instead of polling the store.

use std::sync::Arc;

use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct OutboxSignal(Arc<Notify>);

impl OutboxSignal {
    /// After a commit that wrote `events` outbox events: wakes the dispatcher if there are any.
    pub fn events_committed(&self, events: usize) {
        if events > 0 {
            self.wake();
        }
    }

    /// After a commit that gives the dispatcher work (deliveries due, channels changed).
    pub fn wake(&self) {
        // A permit is kept when the dispatcher is busy, so a wake during a pass is not lost.
        self.0.notify_one();
    }

    /// Resolves at the next wake (or at once if one came while nobody waited). Cancel-safe.
    pub async fn woken(&self) {
        self.0.notified().await;
    }
}
