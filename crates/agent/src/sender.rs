//! Delivering heartbeats: backlog first, oldest first, then the fresh one; what cannot be
//! delivered now goes to the spool.
//!
//! Rules (see [`Outcome`]): a 2xx removes a heartbeat for good; a temporary failure keeps it
//! and stops for this round (the order must hold, so nothing newer may overtake it); a
//! per-heartbeat rejection drops just that heartbeat; an agent-level refusal stops the round,
//! keeps the backlog for when a human has fixed things and does not spool new heartbeats, which
//! the hub would refuse just the same. Each distinct error is logged once, not every interval.

use std::collections::HashSet;
use std::time::SystemTime;

use chrono::{DateTime, Utc};

use crate::client::{HEALTH_PATH, HEARTBEAT_PATH, Outcome, Transport, auth_headers, classify};
use crate::config::Auth;
use crate::spool::{DropReason, Dropped, Spool};

/// How a call to [`Sender::deliver`] ended, for callers and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    /// Heartbeats the hub acknowledged (backlog and fresh).
    pub delivered: usize,
    /// Dropped because the hub rejected them.
    pub rejected: usize,
    /// Whether the fresh heartbeat went to the spool.
    pub spooled: bool,
    /// Moved to the dead-letter directory: the hub kept failing on them while answering.
    pub set_aside: usize,
}

/// How many times a heartbeat may fail with a hub error (500) while the hub's health check
/// answers, before it is set aside so that newer heartbeats flow. Tries made while the hub is
/// unavailable do not count: waiting those out is what the spool is for.
pub const MAX_FAILED_TRIES: u32 = 5;

/// Why replaying the backlog ended.
enum Drained {
    /// The spool is empty.
    All,
    /// The hub refuses this agent.
    Refused,
    /// The hub is unavailable, the agent is stopping, or the spool cannot be written.
    Interrupted,
}

/// Once this many distinct errors have been logged, the memory of them is reset, so an endless
/// variety of messages cannot grow it without bound.
const MAX_REMEMBERED_ERRORS: usize = 128;

/// Sends heartbeats through a [`Transport`], keeping the backlog in a [`Spool`].
pub struct Sender<T: Transport> {
    transport: T,
    url: String,
    auth: Auth,
    server_guid: String,
    spool: Spool,
    /// Errors already logged, so each is logged once.
    logged: HashSet<String>,
    /// Since when, and why, the hub has been unavailable.
    outage: Option<(SystemTime, String)>,
    /// The agent-level refusal in force.
    refused: Option<String>,
    health_url: String,
    /// The spool entry at the front that the hub failed on, and how many times it did while
    /// otherwise answering.
    failures: Option<(u64, u32)>,
}

impl<T: Transport> Sender<T> {
    pub fn new(transport: T, hub_url: &str, auth: Auth, server_guid: String, spool: Spool) -> Self {
        Sender {
            transport,
            url: format!("{}{HEARTBEAT_PATH}", hub_url.trim_end_matches('/')),
            health_url: format!("{}{HEALTH_PATH}", hub_url.trim_end_matches('/')),
            failures: None,
            auth,
            server_guid,
            spool,
            logged: HashSet::new(),
            outage: None,
            refused: None,
        }
    }

    pub fn spool(&self) -> &Spool {
        &self.spool
    }

    /// Replays the backlog (oldest first) and then sends `body`, stopping early when `stop`
    /// says so; whatever is left stays in the spool.
    pub fn deliver(&mut self, body: Vec<u8>, now: SystemTime, stop: &dyn Fn() -> bool) -> Report {
        let mut report = Report::default();
        log_dropped(&self.spool.prune(now));
        match self.drain(&mut report, stop) {
            Drained::All => {}
            // Refused: the hub would refuse this one just the same.
            Drained::Refused => return report,
            // Something older is still waiting, so the fresh heartbeat may not overtake it.
            Drained::Interrupted => {
                self.push(&body, now, &mut report);
                return report;
            }
        }
        match self.attempt(&body) {
            Outcome::Delivered => report.delivered += 1,
            Outcome::Rejected(_) => report.rejected += 1,
            Outcome::Refused(_) => {}
            // A hub error on the fresh one: it joins the backlog, where its tries are counted.
            Outcome::Retry(_) | Outcome::Failed(_) => self.push(&body, now, &mut report),
        }
        report
    }

    /// Sends spooled heartbeats until the spool is empty or one cannot be delivered now.
    fn drain(&mut self, report: &mut Report, stop: &dyn Fn() -> bool) -> Drained {
        let backlog = self.spool.len();
        let mut done = 0;
        let complete = loop {
            let Some(entry) = self.spool.front() else { break Drained::All };
            if stop() {
                break Drained::Interrupted;
            }
            let body = match self.spool.read(&entry) {
                Ok(body) => body,
                Err(e) => {
                    warn!("spool: dropping unreadable heartbeat #{}: {e}", entry.seq);
                    if !self.pop() {
                        break Drained::Interrupted;
                    }
                    continue;
                }
            };
            match self.attempt(&body) {
                Outcome::Delivered => report.delivered += 1,
                Outcome::Rejected(_) => report.rejected += 1,
                Outcome::Refused(_) => break Drained::Refused,
                Outcome::Retry(_) => break Drained::Interrupted,
                Outcome::Failed(reason) => {
                    if !self.hub_answers() {
                        break Drained::Interrupted;
                    }
                    let tries = match self.failures {
                        Some((seq, tries)) if seq == entry.seq => tries + 1,
                        _ => 1,
                    };
                    self.failures = Some((entry.seq, tries));
                    if tries < MAX_FAILED_TRIES {
                        break Drained::Interrupted;
                    }
                    match self.spool.set_aside_front() {
                        Ok(place) => {
                            report.set_aside += 1;
                            self.failures = None;
                            let place = place.map_or_else(String::new, |p| p.display().to_string());
                            error!(
                                "hub failed {tries} times on one heartbeat while answering otherwise; it is set \
                                 aside in {place} so that newer ones flow. The hub answered: {reason}"
                            );
                            continue;
                        }
                        Err(e) => {
                            self.log_once(format!("spool: cannot set aside a heartbeat the hub fails on: {e}"));
                            break Drained::Interrupted;
                        }
                    }
                }
            }
            done += 1;
            if !self.pop() {
                break Drained::Interrupted;
            }
        };
        if done > 0 {
            info!("replayed {done} of {backlog} spooled heartbeats; {} left", self.spool.len());
        }
        complete
    }

    /// Removes the spool's front entry; `false` (and a log line) if the spool cannot be written.
    fn pop(&mut self) -> bool {
        match self.spool.pop_front() {
            Ok(_) => true,
            Err(e) => {
                self.log_once(format!("spool: cannot remove a delivered heartbeat: {e}"));
                false
            }
        }
    }

    /// One request, with the state changes and log lines its outcome calls for.
    fn attempt(&mut self, body: &[u8]) -> Outcome {
        let headers = auth_headers(&self.auth, &self.server_guid);
        let outcome = classify(&self.transport.post_json(&self.url, &headers, body));
        match &outcome {
            Outcome::Delivered => {
                if let Some((since, reason)) = self.outage.take() {
                    let seconds = SystemTime::now().duration_since(since).map_or(0, |d| d.as_secs());
                    info!("hub reachable again after {seconds} s (was: {reason})");
                }
                if let Some(reason) = self.refused.take() {
                    info!("hub accepts heartbeats again (was: {reason})");
                    self.logged.clear();
                }
            }
            Outcome::Retry(reason) => {
                if self.outage.is_none() {
                    warn!("hub unavailable, keeping heartbeats in the spool ({} waiting): {reason}", self.spool.len());
                    self.outage = Some((SystemTime::now(), reason.clone()));
                }
            }
            Outcome::Rejected(reason) => {
                self.log_once(format!("hub rejected a heartbeat, which is dropped: {reason}"));
            }
            Outcome::Failed(reason) => {
                self.log_once(format!("hub failed to store a heartbeat, which is kept and retried: {reason}"));
            }
            Outcome::Refused(reason) => {
                self.refused = Some(reason.clone());
                self.log_once(format!(
                    "hub refuses this agent; new heartbeats are dropped until this is fixed \
                     ({} spooled ones are kept): {reason}",
                    self.spool.len()
                ));
            }
        }
        outcome
    }

    /// Whether the hub answers its health check: a hub error on one heartbeat while this
    /// answers is about that heartbeat, not an outage.
    fn hub_answers(&self) -> bool {
        matches!(self.transport.get(&self.health_url), Ok(response) if (200..300).contains(&response.status))
    }

    fn push(&mut self, body: &[u8], now: SystemTime, report: &mut Report) {
        match self.spool.push(body, now) {
            Ok(dropped) => {
                log_dropped(&dropped);
                report.spooled = true;
            }
            Err(e) => self.log_once(format!("cannot spool a heartbeat, so it is lost: {e}")),
        }
    }

    fn log_once(&mut self, message: String) {
        if self.logged.len() >= MAX_REMEMBERED_ERRORS {
            self.logged.clear();
        }
        if self.logged.insert(error_key(&message)) {
            error!("{message}");
        }
    }
}

/// What makes two errors "the same" for logging: the text with the numbers after the first
/// status (`HTTP 422`) blanked out, because a 422 quotes the offending value, which changes
/// every minute, and would otherwise be logged every minute.
fn error_key(message: &str) -> String {
    let split = message.find("HTTP ").map_or(0, |at| at + "HTTP 000".len()).min(message.len());
    let (head, tail) = message.split_at(if message.is_char_boundary(split) { split } else { 0 });
    let mut key = head.to_owned();
    let mut in_number = false;
    for c in tail.chars() {
        if c.is_ascii_digit() || (in_number && c == '.') {
            if !in_number {
                key.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            key.push(c);
        }
    }
    key
}

fn log_dropped(dropped: &[Dropped]) {
    let when = |ms: i64| {
        DateTime::<Utc>::from_timestamp_millis(ms)
            .map_or_else(|| ms.to_string(), |t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
    };
    for d in dropped {
        let why = match d.reason {
            DropReason::Size => "the spool is full",
            DropReason::Age => "they are too old",
            DropReason::Unreadable => "they are unreadable",
        };
        warn!(
            "spool: dropped the {} oldest heartbeat(s) ({} to {}) because {why}",
            d.count,
            when(d.oldest_ms),
            when(d.newest_ms)
        );
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::VecDeque;
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::client::{HttpResponse, TransportError};
    use crate::spool::SpoolLimits;

    /// One request: URL, headers, body.
    type Sent = (String, Vec<(String, String)>, String);

    /// Answers from a script and records what was sent.
    #[derive(Default)]
    struct Script {
        answers: RefCell<VecDeque<Result<u16, ()>>>,
        sent: RefCell<Vec<Sent>>,
        /// Answers to the health check; 200 once the script is used up.
        health: RefCell<VecDeque<Result<u16, ()>>>,
        health_checks: RefCell<usize>,
    }

    impl Transport for &Script {
        fn post_json(&self, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<HttpResponse, TransportError> {
            self.sent.borrow_mut().push((
                url.to_owned(),
                headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                String::from_utf8_lossy(body).into_owned(),
            ));
            match self.answers.borrow_mut().pop_front().unwrap_or(Ok(200)) {
                Ok(status) => Ok(HttpResponse { status, body: format!("{{\"detail\":\"status {status}\"}}") }),
                Err(()) => Err(TransportError("connection refused".into())),
            }
        }

        fn get(&self, url: &str) -> Result<HttpResponse, TransportError> {
            assert_eq!(url, "http://hub:8080/api/v1/system/health");
            *self.health_checks.borrow_mut() += 1;
            match self.health.borrow_mut().pop_front().unwrap_or(Ok(200)) {
                Ok(status) => Ok(HttpResponse { status, body: String::new() }),
                Err(()) => Err(TransportError("connection refused".into())),
            }
        }
    }

    impl Script {
        fn answer(&self, answers: &[Result<u16, ()>]) {
            self.answers.borrow_mut().extend(answers.iter().copied());
        }
        fn take_bodies(&self) -> Vec<String> {
            self.sent.borrow_mut().drain(..).map(|(_, _, body)| body).collect()
        }
    }

    const LIMITS: SpoolLimits = SpoolLimits { max_bytes: 1 << 20, max_age: Duration::from_secs(3600) };

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + seconds)
    }

    fn sender<'a>(script: &'a Script, dir: &std::path::Path) -> Sender<&'a Script> {
        let spool = Spool::open(dir, LIMITS).unwrap();
        Sender::new(script, "http://hub:8080/", Auth::Token("tok".into()), "guid".into(), spool)
    }

    fn never() -> bool {
        false
    }

    #[test]
    fn sends_to_the_heartbeat_endpoint_with_the_agent_headers() {
        let dir = tempfile::tempdir().unwrap();
        let script = Script::default();
        let mut s = sender(&script, dir.path());
        let report = s.deliver(b"hb0".to_vec(), at(0), &never);
        assert_eq!(report, Report { delivered: 1, rejected: 0, spooled: false, set_aside: 0 });
        let sent = script.sent.borrow();
        assert_eq!(sent[0].0, "http://hub:8080/api/v1/agents/heartbeat");
        assert_eq!(sent[0].1, vec![("x-agent-token".into(), "tok".into()), ("x-server-guid".into(), "guid".into())]);
    }

    #[test]
    fn outage_spools_then_replays_in_order_before_the_fresh_one() {
        let dir = tempfile::tempdir().unwrap();
        let script = Script::default();
        let mut s = sender(&script, dir.path());
        script.answer(&[Err(()), Ok(503)]);
        assert!(s.deliver(b"hb0".to_vec(), at(0), &never).spooled);
        // The hub is still down: one attempt (the oldest), and the fresh one joins the queue.
        assert!(s.deliver(b"hb1".to_vec(), at(60), &never).spooled);
        script.answer(&[Ok(429)]);
        assert!(s.deliver(b"hb2".to_vec(), at(120), &never).spooled);
        assert_eq!(script.take_bodies(), vec!["hb0", "hb0", "hb0"]);
        assert_eq!(s.spool().len(), 3);
        let report = s.deliver(b"hb3".to_vec(), at(180), &never);
        assert_eq!(report, Report { delivered: 4, rejected: 0, spooled: false, set_aside: 0 });
        assert_eq!(script.take_bodies(), vec!["hb0", "hb1", "hb2", "hb3"]);
        assert!(s.spool().is_empty());
    }

    #[test]
    fn the_backlog_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let script = Script::default();
        {
            let mut s = sender(&script, dir.path());
            script.answer(&[Err(()), Err(())]);
            s.deliver(b"hb0".to_vec(), at(0), &never);
            s.deliver(b"hb1".to_vec(), at(60), &never);
        }
        script.take_bodies();
        let mut s = sender(&script, dir.path());
        s.deliver(b"hb2".to_vec(), at(120), &never);
        assert_eq!(script.take_bodies(), vec!["hb0", "hb1", "hb2"]);
    }

    #[test]
    fn a_rejected_heartbeat_is_dropped_and_the_rest_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let script = Script::default();
        let mut s = sender(&script, dir.path());
        script.answer(&[Err(()), Err(())]);
        s.deliver(b"hb0".to_vec(), at(0), &never);
        s.deliver(b"hb1".to_vec(), at(1), &never);
        script.take_bodies();
        script.answer(&[Ok(422), Ok(200), Ok(422)]);
        let report = s.deliver(b"hb2".to_vec(), at(2), &never);
        assert_eq!(report, Report { delivered: 1, rejected: 2, spooled: false, set_aside: 0 });
        assert_eq!(script.take_bodies(), vec!["hb0", "hb1", "hb2"]);
        assert!(s.spool().is_empty());
    }

    #[test]
    fn a_refusal_keeps_the_backlog_and_spools_nothing_new() {
        let dir = tempfile::tempdir().unwrap();
        let script = Script::default();
        let mut s = sender(&script, dir.path());
        script.answer(&[Err(())]);
        s.deliver(b"hb0".to_vec(), at(0), &never);
        script.answer(&[Ok(401)]);
        let report = s.deliver(b"hb1".to_vec(), at(1), &never);
        assert_eq!(report, Report::default());
        assert_eq!(s.spool().len(), 1, "hb0 is kept; hb1 is not spooled");
        // One request per interval while refused, not a retry storm.
        script.answer(&[Ok(401)]);
        s.deliver(b"hb2".to_vec(), at(2), &never);
        assert_eq!(script.take_bodies(), vec!["hb0", "hb0", "hb0"]);
        // Fixed: the backlog goes first.
        let report = s.deliver(b"hb3".to_vec(), at(3), &never);
        assert_eq!(report.delivered, 2);
        assert_eq!(script.take_bodies(), vec!["hb0", "hb3"]);
        // With an empty spool a refused heartbeat is not kept either.
        script.answer(&[Ok(409)]);
        assert_eq!(s.deliver(b"hb4".to_vec(), at(4), &never), Report::default());
        assert!(s.spool().is_empty());
    }

    #[test]
    fn a_heartbeat_the_hub_keeps_failing_on_is_set_aside_while_the_hub_answers() {
        let dir = tempfile::tempdir().unwrap();
        let script = Script::default();
        let mut s = sender(&script, dir.path());
        // hb1 cannot be stored (a 500 every time); the hub otherwise answers. Its first failure,
        // as the fresh heartbeat, spools it; the tries from the spool are counted.
        for round in 1..=MAX_FAILED_TRIES {
            script.answer(&[Ok(500)]);
            let report = s.deliver(format!("hb{round}").into_bytes(), at(u64::from(round)), &never);
            assert_eq!(report.set_aside, 0, "round {round}");
        }
        assert!(script.take_bodies().iter().all(|body| body == "hb1"), "nothing overtook it");
        assert_eq!(s.spool().len(), MAX_FAILED_TRIES as usize);
        script.answer(&[Ok(500)]);
        let report = s.deliver(b"fresh".to_vec(), at(100), &never);
        assert_eq!(report.set_aside, 1);
        assert_eq!(report.delivered, MAX_FAILED_TRIES as usize, "the newer backlog and the fresh one flow");
        assert!(s.spool().is_empty());
        assert_eq!(crate::spool::dead_letter_count(dir.path()), 1);
        let aside = std::fs::read_dir(dir.path().join(crate::spool::DEAD_LETTER_DIR)).unwrap().next().unwrap().unwrap();
        assert_eq!(std::fs::read(aside.path()).unwrap(), b"hb1", "kept as sent");
        // It is not replayed after a restart either.
        drop(s);
        let mut s = sender(&script, dir.path());
        script.take_bodies();
        s.deliver(b"later".to_vec(), at(200), &never);
        assert_eq!(script.take_bodies(), vec!["later"]);
    }

    #[test]
    fn an_unavailable_hub_never_sets_anything_aside() {
        let dir = tempfile::tempdir().unwrap();
        let script = Script::default();
        let mut s = sender(&script, dir.path());
        // Unavailable answers are not even a reason to ask the health check.
        for (round, answer) in
            [Err(()), Ok(502), Ok(503), Ok(504), Ok(429), Ok(408)].into_iter().cycle().take(30).enumerate()
        {
            script.answer(&[answer]);
            assert_eq!(s.deliver(format!("hb{round}").into_bytes(), at(round as u64), &never).set_aside, 0);
        }
        assert_eq!(*script.health_checks.borrow(), 0);
        // A 500 while the health check fails too (or says 503) is an outage, not this heartbeat.
        for round in 30..50 {
            script.answer(&[Ok(500)]);
            script.health.borrow_mut().push_back(if round % 2 == 0 { Err(()) } else { Ok(503) });
            assert_eq!(s.deliver(format!("hb{round}").into_bytes(), at(round), &never).set_aside, 0);
        }
        assert_eq!(s.spool().len(), 50);
        assert_eq!(crate::spool::dead_letter_count(dir.path()), 0);
        let report = s.deliver(b"back".to_vec(), at(60), &never);
        assert_eq!((report.delivered, report.set_aside), (51, 0));
        assert_eq!(script.take_bodies()[30..33], ["hb0", "hb0", "hb0"], "the oldest was still first");
    }

    #[test]
    fn errors_are_logged_once() {
        let dir = tempfile::tempdir().unwrap();
        let script = Script::default();
        let mut s = sender(&script, dir.path());
        script.answer(&[Ok(422), Ok(422), Ok(422)]);
        for i in 0..3 {
            s.deliver(format!("hb{i}").into_bytes(), at(i), &never);
        }
        assert_eq!(s.logged.len(), 1);
    }

    #[test]
    fn error_identity_ignores_quoted_values_but_not_the_status() {
        let a = "hub rejected a heartbeat: HTTP 422: services.0.cpu_percent: 123.4 is above 100";
        let b = "hub rejected a heartbeat: HTTP 422: services.0.cpu_percent: 150 is above 100";
        assert_eq!(error_key(a), error_key(b));
        assert_ne!(error_key(a), error_key(&a.replace("HTTP 422", "HTTP 400")));
        assert_ne!(error_key(a), error_key(&a.replace("cpu_percent", "memory_mb")));
        assert_eq!(error_key("no status 12"), "no status #");
    }

    #[test]
    fn stopping_leaves_the_rest_in_the_spool() {
        let dir = tempfile::tempdir().unwrap();
        let script = Script::default();
        let mut s = sender(&script, dir.path());
        script.answer(&[Err(()), Err(())]);
        s.deliver(b"hb0".to_vec(), at(0), &never);
        s.deliver(b"hb1".to_vec(), at(1), &never);
        script.take_bodies();
        let report = s.deliver(b"hb2".to_vec(), at(2), &|| true);
        assert!(report.spooled);
        assert!(script.take_bodies().is_empty());
        assert_eq!(s.spool().len(), 3);
    }
}
