//! Throttling failed authentication per client address: after [`MAX_FAILURES`] wrong keys or
//! tokens within [`WINDOW`], the address is answered 429 with `Retry-After` for [`BLOCK`],
//! whatever it sends, so that guessing the admin key costs minutes per few dozen tries instead
//! of a millisecond each. Only failures count and a success clears the address's record, so an
//! agent or admin with a valid credential is never slowed (unless it shares its address with
//! the one guessing). Time is the hub's clock, so tests drive it exactly.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use chrono::Duration;
use homelab_core::time::Timestamp;

pub const MAX_FAILURES: u32 = 20;
pub const WINDOW: Duration = Duration::minutes(1);
pub const BLOCK: Duration = Duration::minutes(5);
/// Addresses remembered at most; beyond it the stale ones are forgotten first.
const MAX_ADDRESSES: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    since: Timestamp,
    blocked_until: Option<Timestamp>,
}

#[derive(Default)]
pub struct AuthThrottle {
    records: Mutex<HashMap<IpAddr, Record>>,
}

impl AuthThrottle {
    /// `Err(seconds to wait)` while `address` is blocked.
    pub fn check(&self, address: IpAddr, now: Timestamp) -> Result<(), u64> {
        let records = self.records.lock().map_err(|_| 1u64)?;
        match records.get(&address).and_then(|r| r.blocked_until) {
            Some(until) if until > now => Err(u64::try_from((until - now).num_seconds()).unwrap_or(0).max(1)),
            _ => Ok(()),
        }
    }

    /// Records a failed attempt; `Err(seconds)` when this one blocks the address.
    pub fn failed(&self, address: IpAddr, now: Timestamp) -> Result<(), u64> {
        let Ok(mut records) = self.records.lock() else { return Ok(()) };
        if records.len() >= MAX_ADDRESSES {
            records.retain(|_, r| r.since + WINDOW > now || r.blocked_until.is_some_and(|until| until > now));
            if records.len() >= MAX_ADDRESSES {
                records.clear();
            }
        }
        let record = records.entry(address).or_insert(Record { failures: 0, since: now, blocked_until: None });
        if record.since + WINDOW <= now && record.blocked_until.is_none_or(|until| until <= now) {
            *record = Record { failures: 0, since: now, blocked_until: None };
        }
        record.failures += 1;
        if record.failures >= MAX_FAILURES {
            record.blocked_until = Some(now + BLOCK);
            tracing::warn!(%address, failures = record.failures, "failed authentication from this address; blocked for {} s", BLOCK.num_seconds());
            return Err(u64::try_from(BLOCK.num_seconds()).unwrap_or(0));
        }
        Ok(())
    }

    pub fn succeeded(&self, address: IpAddr) {
        if let Ok(mut records) = self.records.lock() {
            records.remove(&address);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_the_failures_and_freed_after_the_block() {
        let throttle = AuthThrottle::default();
        let now = homelab_core::time::parse("2026-01-19T12:00:00Z").unwrap();
        let (guesser, agent): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        for _ in 1..MAX_FAILURES {
            assert_eq!(throttle.failed(guesser, now), Ok(()));
        }
        assert_eq!(throttle.failed(guesser, now), Err(300));
        assert_eq!(throttle.check(guesser, now + Duration::seconds(60)), Err(240));
        assert_eq!(throttle.check(agent, now), Ok(()), "other addresses are not affected");
        assert_eq!(throttle.check(guesser, now + BLOCK), Ok(()));
        // Failures spread thinner than the window never block.
        for minute in 0..100 {
            let at = now + Duration::minutes(10 + minute);
            for _ in 0..MAX_FAILURES - 1 {
                assert_eq!(throttle.failed(agent, at), Ok(()));
            }
        }
    }
}
