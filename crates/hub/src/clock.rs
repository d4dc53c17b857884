//! The hub's notion of time. The trait and the manual clock come from core (the engine's tests
//! use them too); the real clock lives here because core never reads the system time.

use chrono::Utc;
pub use homelab_core::alerts::{Clock, ManualClock};
use homelab_core::time::Timestamp;

/// Wall-clock time.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Utc::now()
    }
}
