//! Injected time. The engine itself only takes `now` as an argument; this trait is how the hub's
//! jobs and handlers obtain that `now`, so that tests can drive them with a [`ManualClock`].
//!
//! Core never reads the system clock: the hub provides the real implementation.

use std::sync::{Mutex, PoisonError};

use chrono::Duration;

use crate::time::Timestamp;

/// A source of the current instant.
pub trait Clock: Send + Sync {
    /// The current instant, in UTC.
    fn now(&self) -> Timestamp;
}

/// A clock that only moves when told to, for exact tests of timing rules (no real waits).
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        ManualClock { now: Mutex::new(start) }
    }

    /// Jumps to `instant` (backwards too, to test clock steps).
    pub fn set(&self, instant: Timestamp) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = instant;
    }

    /// Moves the clock by `step` and returns the new instant; a step past the representable range
    /// leaves the clock where it was.
    pub fn advance(&self, step: Duration) -> Timestamp {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(next) = now.checked_add_signed(step) {
            *now = next;
        }
        *now
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
