//! What notifications say: the message bodies of every channel, built from alert events.
//!
//! Pure functions (the send time is a parameter), so every layout is pinned by tests; the hub
//! only moves the bytes. Slack follows the v1 layouts exactly (contract §4); a group of events
//! (a storm: a switch dies and ten servers go offline) becomes one message listing them.

use serde::Serialize;
use serde_json::{Value, json};

use crate::alerts::text::metric_label;
use crate::alerts::{AlertEvent, AlertKind, EventKind, Severity};
use crate::time::Timestamp;

/// Version of the generic webhook payload; bumped on any incompatible change.
pub const WEBHOOK_PAYLOAD_VERSION: &str = "1";

const RESOLVED_COLOUR: &str = "#22C55E";
const TEST_COLOUR: &str = "#3B82F6";

fn colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "#F87171",
        Severity::High => "#FBBF24",
        Severity::Medium => "#60A5FA",
        Severity::Low => "#94A3B8",
    }
}

fn suggestion(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::Cpu => "Identify and throttle CPU-intensive processes",
        AlertKind::Memory => "Check for memory leaks or restart high-usage services",
        AlertKind::Disk => "Check for large log files or run disk cleanup",
        AlertKind::Offline => "Check network connectivity and server power",
        AlertKind::Service => "Check service logs and consider restarting the service",
        AlertKind::Container => "Check the container's logs (docker logs) and its restart policy",
        AlertKind::Temperature => "Check cooling: fans, dust, airflow and the room's temperature",
        AlertKind::DiskHealth => "Back up the data on it and plan to replace or repair the disk",
    }
}

/// `YYYY-MM-DD HH:MM UTC`, the v1 time field.
pub fn slack_time(at: &Timestamp) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn is_resolution(event: &AlertEvent) -> bool {
    matches!(event.kind, EventKind::Resolved { .. })
}

fn service_state(event: &AlertEvent) -> &'static str {
    if event.title.contains(" is failed ") { "Failed" } else { "Stopped" }
}

fn duration_text(event: &AlertEvent) -> String {
    match event.duration_minutes() {
        Some(minutes) if minutes > 0 => format!("{minutes} minutes"),
        _ => "Unknown".into(),
    }
}

fn field(label: &str, value: &str) -> Value {
    json!({"type": "mrkdwn", "text": format!("*{label}:*\n{value}")})
}

/// The v1 header line of one event: `[Reminder] Critical: CPU Usage Alert`, `Resolved: Server Back Online`.
pub fn headline(event: &AlertEvent) -> String {
    if is_resolution(event) {
        return match event.alert_type {
            AlertKind::Offline => "Resolved: Server Back Online".into(),
            AlertKind::Service => format!("Resolved: Service {} Running", event.key.subject),
            AlertKind::Container | AlertKind::DiskHealth | AlertKind::Temperature => {
                format!("Resolved: {} Alert", title_words(metric_label(event.alert_type)))
            }
            kind => format!("Resolved: {} Usage Alert", metric_label(kind)),
        };
    }
    let prefix = if event.kind == EventKind::Reminder { "[Reminder] " } else { "" };
    let what = match event.alert_type {
        AlertKind::Offline => "Server Offline".to_owned(),
        AlertKind::Service => "Service Alert".to_owned(),
        AlertKind::Container | AlertKind::DiskHealth | AlertKind::Temperature => {
            format!("{} Alert", title_words(metric_label(event.alert_type)))
        }
        kind => format!("{} Usage Alert", metric_label(kind)),
    };
    format!("{prefix}{}: {what}", event.severity.title_case())
}

/// `DISK HEALTH` → `Disk Health`, for the headlines of the kinds v1 did not have.
fn title_words(label: &str) -> String {
    label
        .split(' ')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| first.to_string() + &chars.as_str().to_lowercase())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn slack_fields(event: &AlertEvent, sent_at: &Timestamp) -> Vec<Value> {
    let mut fields = vec![field("Server", &event.server_name)];
    if matches!(event.alert_type, AlertKind::Container | AlertKind::DiskHealth | AlertKind::Temperature) {
        fields.push(field(title_words(metric_label(event.alert_type)).as_str(), &event.key.subject));
        if event.alert_type == AlertKind::Temperature {
            fields.push(field("Current Value", &format!("{:.0} °C", event.actual_value)));
        }
        if is_resolution(event) {
            fields.push(field("Duration", &duration_text(event)));
        } else {
            fields.push(field("Details", &event.message));
            fields.push(field("Time", &slack_time(sent_at)));
        }
        return fields;
    }
    let mount = (event.alert_type == AlertKind::Disk && !event.key.subject.is_empty() && event.key.subject != "/")
        .then_some(event.key.subject.as_str());
    if is_resolution(event) {
        match event.alert_type {
            AlertKind::Offline => {}
            AlertKind::Service => fields.push(field("Service", &event.key.subject)),
            _ => {
                fields.extend(mount.map(|m| field("Mount", m)));
                fields.push(field("Current Value", &format!("{:.0}%", event.actual_value)));
            }
        }
        fields.push(field("Duration", &duration_text(event)));
        return fields;
    }
    match event.alert_type {
        AlertKind::Offline => fields.push(field("Status", "Offline")),
        AlertKind::Service => {
            fields.push(field("Service", &event.key.subject));
            fields.push(field("Status", service_state(event)));
        }
        _ => {
            fields.extend(mount.map(|m| field("Mount", m)));
            fields.push(field("Current Value", &format!("{:.0}%", event.actual_value)));
            fields.push(field("Threshold", &format!("{:.0}% ({})", event.threshold_value, event.severity.as_str())));
        }
    }
    fields.push(field("Time", &slack_time(sent_at)));
    fields
}

fn slack_attachment(event: &AlertEvent, sent_at: &Timestamp) -> Value {
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": headline(event)}}),
        json!({"type": "section", "fields": slack_fields(event, sent_at)}),
    ];
    let colour = if is_resolution(event) {
        RESOLVED_COLOUR
    } else {
        blocks.push(json!({"type": "context", "elements": [
            {"type": "mrkdwn", "text": format!("*Suggestion:* {}", suggestion(event.alert_type))}
        ]}));
        colour(event.severity)
    };
    json!({"color": colour, "blocks": blocks})
}

/// The Slack incoming-webhook body for one event (the v1 layout) or for a group of events
/// (one attachment each, under a header that counts them).
pub fn slack_payload(events: &[AlertEvent], sent_at: &Timestamp) -> Value {
    let attachments: Vec<Value> = events.iter().map(|event| slack_attachment(event, sent_at)).collect();
    if events.len() <= 1 {
        return json!({"attachments": attachments});
    }
    json!({"text": group_summary(events), "attachments": attachments})
}

/// The v1 test message of `POST /config/test-webhook`.
pub fn slack_test_payload(sent_at: &Timestamp) -> Value {
    json!({"attachments": [{"color": TEST_COLOUR, "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "HomelabCmd Test"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "Webhook configured successfully!"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Sent at {}", slack_time(sent_at))}]}
    ]}]})
}

/// One line naming how many alerts fired and resolved in a group.
pub fn group_summary(events: &[AlertEvent]) -> String {
    let resolved = events.iter().filter(|e| is_resolution(e)).count();
    let firing = events.len() - resolved;
    match (firing, resolved) {
        (f, 0) => format!("{f} alerts"),
        (0, r) => format!("{r} alerts resolved"),
        (f, r) => format!("{f} alerts, {r} resolved"),
    }
}

/// A plain-text line per event, for the text channels (ntfy, email) and group listings.
pub fn plain_line(event: &AlertEvent) -> String {
    if is_resolution(event) {
        format!("{} on {} (after {})", headline(event), event.server_name, duration_text(event))
    } else {
        format!("{}: {}", headline(event), event.title)
    }
}

/// Discord webhook body: one embed per event (Discord allows ten per message).
pub fn discord_payload(events: &[AlertEvent], sent_at: &Timestamp) -> Value {
    let embeds: Vec<Value> = events
        .iter()
        .take(10)
        .map(|event| {
            let colour = if is_resolution(event) { RESOLVED_COLOUR } else { colour(event.severity) };
            json!({
                "title": headline(event),
                "description": if is_resolution(event) { plain_line(event) } else { event.message.clone() },
                "color": u32::from_str_radix(colour.trim_start_matches('#'), 16).unwrap_or(0),
                "fields": [{"name": "Server", "value": event.server_name, "inline": true}],
                "timestamp": crate::time::format(sent_at),
            })
        })
        .collect();
    let content = if events.len() > 10 {
        format!("{} (showing the first 10)", group_summary(events))
    } else if events.len() > 1 {
        group_summary(events)
    } else {
        String::new()
    };
    json!({"content": content, "embeds": embeds})
}

/// An ntfy message: title, body and priority (5 = urgent for critical, 2 = low for resolutions).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NtfyMessage {
    pub title: String,
    pub body: String,
    pub priority: u8,
    pub tags: String,
}

pub fn ntfy_message(events: &[AlertEvent]) -> NtfyMessage {
    let priority = |event: &AlertEvent| -> u8 {
        if is_resolution(event) {
            return 2;
        }
        match event.severity {
            Severity::Critical => 5,
            Severity::High => 4,
            Severity::Medium => 3,
            Severity::Low => 2,
        }
    };
    let all_resolved = events.iter().all(is_resolution);
    let title = match events {
        [single] => headline(single),
        _ => format!("Homelab: {}", group_summary(events)),
    };
    NtfyMessage {
        title,
        body: events.iter().map(plain_line).collect::<Vec<_>>().join("\n"),
        priority: events.iter().map(priority).max().unwrap_or(3),
        tags: if all_resolved { "white_check_mark".into() } else { "warning".into() },
    }
}

/// One event as the generic webhook shows it: flat, with plain strings, so that receivers do
/// not depend on how the engine's types serialise.
fn webhook_event(event: &AlertEvent) -> Value {
    json!({
        "kind": event.kind.as_str(),
        "auto_resolved": match event.kind { EventKind::Resolved { auto } => Some(auto), _ => None },
        "alert_id": event.alert_id,
        "alert_type": event.alert_type.as_str(),
        "key": event.key.key_string(),
        "subject": event.key.subject,
        "server_id": event.server_id,
        "server_name": event.server_name,
        "severity": event.severity.as_str(),
        "previous_severity": event.previous_severity.map(Severity::as_str),
        "title": event.title,
        "message": event.message,
        "threshold_value": event.threshold_value,
        "actual_value": event.actual_value,
        "duration_seconds": event.duration_seconds,
        "at": crate::time::format(&event.at),
    })
}

/// The generic JSON webhook body (documented in the README; `version` changes on breaking edits).
pub fn webhook_payload(events: &[AlertEvent], delivery_id: &str, sent_at: &Timestamp) -> Value {
    json!({
        "version": WEBHOOK_PAYLOAD_VERSION,
        "delivery_id": delivery_id,
        "sent_at": crate::time::format(sent_at),
        "summary": group_summary(events),
        "events": events.iter().map(webhook_event).collect::<Vec<_>>(),
    })
}

/// Subject and plain-text body of an e-mail.
pub fn email_message(events: &[AlertEvent], sent_at: &Timestamp) -> (String, String) {
    let subject = match events {
        [single] => format!("[Homelab] {}: {}", headline(single), single.server_name),
        _ => format!("[Homelab] {}", group_summary(events)),
    };
    let mut body = String::new();
    for event in events {
        body.push_str(&plain_line(event));
        body.push('\n');
        if !is_resolution(event) {
            body.push_str(&format!("  {}\n  Suggestion: {}\n", event.message, suggestion(event.alert_type)));
        }
        body.push('\n');
    }
    body.push_str(&format!("Sent by Homelab Command at {}\n", slack_time(sent_at)));
    (subject, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::AlertKey;
    use crate::time;

    fn event(kind: EventKind, key: AlertKey, severity: Severity, actual: f64, threshold: f64) -> AlertEvent {
        AlertEvent {
            kind,
            alert_type: key.kind,
            key,
            alert_id: Some(7),
            server_id: "nas".into(),
            server_name: "nas.local".into(),
            severity,
            previous_severity: None,
            title: "High CPU usage on nas.local (91%)".into(),
            message: "CPU usage on nas.local reached 91.2%, exceeding the high threshold of 85%.".into(),
            threshold_value: threshold,
            actual_value: actual,
            duration_seconds: Some(754),
            at: time::parse("2026-01-19T12:00:00Z").unwrap(),
            notify: true,
        }
    }

    fn sent() -> Timestamp {
        time::parse("2026-01-19T12:00:31Z").unwrap()
    }

    #[test]
    fn a_metric_alert_uses_the_v1_slack_layout() {
        let payload = slack_payload(&[event(EventKind::Opened, AlertKey::cpu(), Severity::High, 91.2, 85.0)], &sent());
        assert_eq!(
            payload,
            json!({"attachments": [{"color": "#FBBF24", "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "High: CPU Usage Alert"}},
                {"type": "section", "fields": [
                    {"type": "mrkdwn", "text": "*Server:*\nnas.local"},
                    {"type": "mrkdwn", "text": "*Current Value:*\n91%"},
                    {"type": "mrkdwn", "text": "*Threshold:*\n85% (high)"},
                    {"type": "mrkdwn", "text": "*Time:*\n2026-01-19 12:00 UTC"}
                ]},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": "*Suggestion:* Identify and throttle CPU-intensive processes"}]}
            ]}]})
        );
    }

    #[test]
    fn reminders_and_resolutions_follow_v1() {
        let reminder = event(EventKind::Reminder, AlertKey::disk("/srv"), Severity::Critical, 96.0, 95.0);
        assert_eq!(headline(&reminder), "[Reminder] Critical: DISK Usage Alert");
        let payload = slack_payload(&[reminder], &sent());
        assert_eq!(payload["attachments"][0]["color"], "#F87171");
        assert_eq!(payload["attachments"][0]["blocks"][1]["fields"][1]["text"], "*Mount:*\n/srv");

        let resolved = event(EventKind::Resolved { auto: true }, AlertKey::offline(), Severity::Critical, 0.0, 0.0);
        let payload = slack_payload(&[resolved], &sent());
        let attachment = &payload["attachments"][0];
        assert_eq!(attachment["color"], "#22C55E");
        assert_eq!(attachment["blocks"][0]["text"]["text"], "Resolved: Server Back Online");
        assert_eq!(
            attachment["blocks"][1]["fields"],
            json!([
                {"type": "mrkdwn", "text": "*Server:*\nnas.local"},
                {"type": "mrkdwn", "text": "*Duration:*\n12 minutes"}
            ])
        );
        assert_eq!(attachment["blocks"].as_array().unwrap().len(), 2, "no suggestion on resolutions");
    }

    #[test]
    fn service_alerts_name_the_service_and_state() {
        let mut down = event(EventKind::Opened, AlertKey::service("plex"), Severity::High, 0.0, 0.0);
        down.title = "Service plex is failed on nas.local".into();
        let fields = &slack_payload(&[down.clone()], &sent())["attachments"][0]["blocks"][1]["fields"];
        assert_eq!(fields[1]["text"], "*Service:*\nplex");
        assert_eq!(fields[2]["text"], "*Status:*\nFailed");
        down.kind = EventKind::Resolved { auto: true };
        assert_eq!(headline(&down), "Resolved: Service plex Running");
    }

    #[test]
    fn a_storm_becomes_one_message() {
        let events: Vec<_> = (0..12)
            .map(|i| {
                let mut e = event(EventKind::Opened, AlertKey::offline(), Severity::Critical, 0.0, 0.0);
                e.server_name = format!("pi-{i}");
                e
            })
            .collect();
        let slack = slack_payload(&events, &sent());
        assert_eq!(slack["text"], "12 alerts");
        assert_eq!(slack["attachments"].as_array().unwrap().len(), 12);
        let discord = discord_payload(&events, &sent());
        assert_eq!(discord["embeds"].as_array().unwrap().len(), 10);
        assert_eq!(discord["content"], "12 alerts (showing the first 10)");
        let ntfy = ntfy_message(&events);
        assert_eq!((ntfy.title.as_str(), ntfy.priority), ("Homelab: 12 alerts", 5));
        assert_eq!(ntfy.body.lines().count(), 12);
    }

    #[test]
    fn the_test_message_matches_v1() {
        let payload = slack_test_payload(&sent());
        assert_eq!(payload["attachments"][0]["color"], "#3B82F6");
        assert_eq!(payload["attachments"][0]["blocks"][2]["elements"][0]["text"], "Sent at 2026-01-19 12:00 UTC");
    }

    #[test]
    fn webhook_and_email_carry_every_event() {
        let events = [
            event(EventKind::Opened, AlertKey::memory(), Severity::Critical, 97.0, 95.0),
            event(EventKind::Resolved { auto: true }, AlertKey::cpu(), Severity::High, 40.0, 0.0),
        ];
        let body = webhook_payload(&events, "d-1", &sent());
        assert_eq!(body["version"], "1");
        assert_eq!(body["summary"], "1 alerts, 1 resolved");
        assert_eq!(body["events"][0]["key"], "memory");
        assert_eq!(body["events"][1]["kind"], "resolved");
        assert_eq!(body["events"][1]["auto_resolved"], true);
        let (subject, text) = email_message(&events, &sent());
        assert_eq!(subject, "[Homelab] 1 alerts, 1 resolved");
        assert!(text.contains("Critical: MEMORY Usage Alert"), "{text}");
        assert!(text.contains("Resolved: CPU Usage Alert on nas.local (after 12 minutes)"), "{text}");
        let ntfy = ntfy_message(&events[1..]);
        assert_eq!((ntfy.priority, ntfy.tags.as_str()), (2, "white_check_mark"));
    }
}

/// When to try a failed delivery again: exponential backoff from `base` (doubling per attempt,
/// capped at `cap`), with ±`jitter` spread so that a recovering receiver is not hit by every
/// retry at once. `unit_random` is a number in `[0, 1)` supplied by the caller (core reads no
/// randomness). A receiver's `Retry-After` wins when it asks for longer.
pub fn retry_delay(
    attempt: u32,
    base: std::time::Duration,
    cap: std::time::Duration,
    jitter: f64,
    unit_random: f64,
    retry_after: Option<std::time::Duration>,
) -> std::time::Duration {
    let exponential =
        base.saturating_mul(1u32.checked_shl(attempt.saturating_sub(1).min(30)).unwrap_or(u32::MAX)).min(cap);
    let spread = 1.0 + jitter * (2.0 * unit_random.clamp(0.0, 1.0) - 1.0);
    let delay = exponential.mul_f64(spread.max(0.0));
    match retry_after {
        Some(asked) if asked > delay => asked,
        _ => delay,
    }
}

/// How a channel's deliveries are framed into messages (the timeline is in ARCHITECTURE.md).
///
/// Modelled on Alertmanager's `group_wait` / `group_interval`, scaled for 60 s heartbeats: an
/// event waits `wait` for company (the other events of its heartbeat, the rest of a burst), then
/// goes out. When one kind of event arrives from `storm_servers` or more machines within
/// `interval`, that is a storm: it goes out as one message, and for the rest of the storm the
/// kind's new events are held and folded into one follow-up per `interval`. Other kinds are not
/// held, so an unrelated escalation still goes out within `wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grouping {
    pub wait: chrono::Duration,
    pub interval: chrono::Duration,
    /// Machines of one kind of event within `interval` that make a storm.
    pub storm_servers: usize,
    /// Most events in one message; a larger batch goes as several, in order.
    pub max_events: usize,
}

impl Default for Grouping {
    /// 1 s of company, follow-ups at most once per heartbeat interval, storms from 3 machines.
    fn default() -> Self {
        Grouping {
            wait: chrono::Duration::seconds(1),
            interval: chrono::Duration::seconds(60),
            storm_servers: 3,
            max_events: 50,
        }
    }
}

/// A delivery of a channel not yet framed into a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unframed {
    pub id: i64,
    /// When it was routed (about when its event committed).
    pub created_at: Timestamp,
    /// The kind of event (storms are per kind).
    pub group: String,
}

/// What the framing knows about one group of a channel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupHistory {
    /// The end of the storm in progress or last held, if any.
    pub storm_until: Option<Timestamp>,
    /// Distinct machines with deliveries of this group routed within the last `interval`
    /// (framed or not).
    pub recent_servers: usize,
}

/// The framing decided for one channel at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Framing {
    /// Messages to create now, each a list of delivery ids in order, oldest message first.
    pub messages: Vec<Vec<i64>>,
    /// Storms to record: group and its new `storm_until`.
    pub storms: Vec<(String, Timestamp)>,
    /// When deliveries held now become due (the earliest), if any are held.
    pub next_due: Option<Timestamp>,
}

/// Frames one channel's unframed deliveries at `now`. `one_event_per_message` keeps v1 Slack's
/// shape for everything but storms. Pure: the store runs it inside the transaction that writes
/// its result, so every hub on a shared database frames alike.
pub fn frame(
    unframed: &[Unframed],
    history: &std::collections::BTreeMap<String, GroupHistory>,
    grouping: &Grouping,
    one_event_per_message: bool,
    now: Timestamp,
) -> Framing {
    let mut by_group: std::collections::BTreeMap<&str, Vec<&Unframed>> = std::collections::BTreeMap::new();
    for delivery in unframed {
        by_group.entry(delivery.group.as_str()).or_default().push(delivery);
    }
    let mut framing = Framing::default();
    let mut ordinary: Vec<i64> = Vec::new();
    let hold = |framing: &mut Framing, until: Timestamp| {
        framing.next_due = Some(framing.next_due.map_or(until, |due| due.min(until)));
    };
    for (group, deliveries) in by_group {
        let Some(first) = deliveries.iter().map(|d| d.created_at).min() else { continue };
        let past = history.get(group).cloned().unwrap_or_default();
        let ids = || deliveries.iter().map(|d| d.id).collect::<Vec<_>>();
        match past.storm_until {
            Some(until) if now < until => hold(&mut framing, until),
            // Held during a storm that has now run its interval: the follow-up.
            Some(until) if first < until => {
                framing.messages.push(ids());
                framing.storms.push((group.to_owned(), now + grouping.interval));
            }
            _ if now < first + grouping.wait => hold(&mut framing, first + grouping.wait),
            _ if past.recent_servers >= grouping.storm_servers.max(1) => {
                framing.messages.push(ids());
                framing.storms.push((group.to_owned(), now + grouping.interval));
            }
            _ => ordinary.extend(ids()),
        }
    }
    ordinary.sort_unstable();
    if one_event_per_message {
        framing.messages.extend(ordinary.into_iter().map(|id| vec![id]));
    } else if !ordinary.is_empty() {
        framing.messages.push(ordinary);
    }
    framing.messages.sort_by_key(|ids| ids.first().copied());
    let max = grouping.max_events.max(1);
    framing.messages =
        framing.messages.into_iter().flat_map(|ids| ids.chunks(max).map(<[i64]>::to_vec).collect::<Vec<_>>()).collect();
    framing
}

#[cfg(test)]
mod timing_tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitters_both_ways() {
        let base = Duration::from_secs(5);
        let cap = Duration::from_secs(3600);
        let delays: Vec<u64> = (1..=12).map(|a| retry_delay(a, base, cap, 0.0, 0.5, None).as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600]);
        assert_eq!(retry_delay(2, base, cap, 0.2, 0.0, None), Duration::from_secs(8));
        assert_eq!(retry_delay(2, base, cap, 0.2, 1.0, None), Duration::from_secs(12));
        assert_eq!(retry_delay(40, base, cap, 0.0, 0.5, None), cap, "no overflow");
    }

    #[test]
    fn retry_after_is_honoured_when_longer() {
        let base = Duration::from_secs(5);
        let cap = Duration::from_secs(60);
        assert_eq!(retry_delay(1, base, cap, 0.0, 0.5, Some(Duration::from_secs(30))), Duration::from_secs(30));
        assert_eq!(retry_delay(4, base, cap, 0.0, 0.5, Some(Duration::from_secs(1))), Duration::from_secs(40));
    }

    fn at(seconds: i64) -> Timestamp {
        crate::time::parse("2026-01-19T12:00:00Z").unwrap() + chrono::Duration::seconds(seconds)
    }

    fn unframed(id: i64, seconds: i64, group: &str) -> Unframed {
        Unframed { id, created_at: at(seconds), group: group.to_owned() }
    }

    fn history(group: &str, storm_until: Option<i64>, recent_servers: usize) -> BTreeMap<String, GroupHistory> {
        BTreeMap::from([(group.to_owned(), GroupHistory { storm_until: storm_until.map(at), recent_servers })])
    }

    #[test]
    fn an_event_waits_for_company_then_goes_whatever_was_sent_before() {
        let grouping = Grouping::default();
        let pending = [unframed(7, 0, "cpu"), unframed(8, 0, "disk")];
        let early = frame(&pending, &BTreeMap::new(), &grouping, false, at(0));
        assert_eq!(early, Framing { next_due: Some(at(1)), ..Framing::default() });
        // The two events of one heartbeat go together; a message sent just before changes nothing.
        let due = frame(&pending, &history("cpu", None, 1), &grouping, false, at(1));
        assert_eq!(due, Framing { messages: vec![vec![7, 8]], ..Framing::default() });
        // v1 Slack: one event per message.
        let slack = frame(&pending, &BTreeMap::new(), &grouping, true, at(1));
        assert_eq!(slack.messages, vec![vec![7], vec![8]]);
        // A batch larger than a message holds goes as several, in order.
        let small = Grouping { max_events: 1, ..grouping };
        assert_eq!(frame(&pending, &BTreeMap::new(), &small, false, at(1)).messages, vec![vec![7], vec![8]]);
    }

    #[test]
    fn a_storm_is_one_message_and_what_joins_it_waits_for_one_follow_up() {
        let grouping = Grouping::default();
        let burst: Vec<Unframed> = (1..=10).map(|id| unframed(id, 0, "offline")).collect();
        let storm = frame(&burst, &history("offline", None, 10), &grouping, true, at(1));
        assert_eq!(storm.messages, vec![(1..=10).collect::<Vec<_>>()], "one message, even on v1 Slack");
        assert_eq!(storm.storms, vec![("offline".to_owned(), at(61))]);
        // A latecomer of the same kind is held until the storm's interval ends…
        let late = [unframed(11, 20, "offline")];
        let held = frame(&late, &history("offline", Some(61), 11), &grouping, true, at(21));
        assert_eq!(held, Framing { next_due: Some(at(61)), ..Framing::default() });
        // …then goes as the follow-up, which extends the storm.
        let follow_up = frame(&late, &history("offline", Some(61), 11), &grouping, true, at(61));
        assert_eq!(follow_up.messages, vec![vec![11]]);
        assert_eq!(follow_up.storms, vec![("offline".to_owned(), at(121))]);
        // Another kind is not part of the storm: it goes after the wait.
        let other = [unframed(12, 30, "cpu")];
        let mut both = history("offline", Some(61), 11);
        both.insert("cpu".into(), GroupHistory { storm_until: None, recent_servers: 1 });
        assert_eq!(frame(&other, &both, &grouping, true, at(31)).messages, vec![vec![12]]);
        // After a quiet interval the storm is over: a new event is ordinary again.
        let quiet = [unframed(13, 200, "offline")];
        let after = frame(&quiet, &history("offline", Some(121), 1), &grouping, true, at(201));
        assert_eq!(after, Framing { messages: vec![vec![13]], ..Framing::default() });
    }
}
