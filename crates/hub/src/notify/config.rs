//! Channel configuration: where to send, what to send (minimum severity, which events), and
//! how to show it without leaking secrets.

use homelab_core::alerts::{AlertEvent, EventKind, Severity};
use homelab_core::validate::{ValidationErrors, Validator, is_slug};
use homelab_store::{Channel, ChannelEvents, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::email::EmailSettings;

/// `Debug` is written by hand (below): it shows what `redacted` shows, never a secret.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ChannelTarget {
    Slack {
        webhook_url: String,
    },
    Discord {
        webhook_url: String,
    },
    Ntfy {
        topic_url: String,
        #[serde(default)]
        access_token: Option<String>,
    },
    Webhook {
        url: String,
        #[serde(default)]
        secret: Option<String>,
    },
    Email(EmailSettings),
}

impl std::fmt::Debug for ChannelTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let masked = |secret: &Option<String>| secret.as_ref().map(|_| MASK);
        match self {
            ChannelTarget::Slack { webhook_url } => {
                f.debug_struct("Slack").field("webhook_url", &redact_url(webhook_url)).finish()
            }
            ChannelTarget::Discord { webhook_url } => {
                f.debug_struct("Discord").field("webhook_url", &redact_url(webhook_url)).finish()
            }
            ChannelTarget::Ntfy { topic_url, access_token } => f
                .debug_struct("Ntfy")
                .field("topic_url", &redact_url(topic_url))
                .field("access_token", &masked(access_token))
                .finish(),
            ChannelTarget::Webhook { url, secret } => {
                f.debug_struct("Webhook").field("url", &redact_url(url)).field("secret", &masked(secret)).finish()
            }
            // `EmailSettings`' own `Debug` masks the password.
            ChannelTarget::Email(email) => f.debug_tuple("Email").field(email).finish(),
        }
    }
}

/// Which events a channel wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventFilter {
    /// New alerts, escalations and de-escalations.
    #[serde(default = "yes")]
    pub firing: bool,
    #[serde(default = "yes")]
    pub reminders: bool,
    #[serde(default = "yes")]
    pub resolutions: bool,
}

fn yes() -> bool {
    true
}

impl Default for EventFilter {
    fn default() -> Self {
        EventFilter { firing: true, reminders: true, resolutions: true }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChannelConfig {
    /// Slug naming the channel (`slack`, `family-ntfy`).
    pub id: String,
    #[serde(flatten)]
    pub target: ChannelTarget,
    /// Least severe alert this channel hears about.
    #[serde(default = "default_min_severity")]
    pub min_severity: Severity,
    #[serde(default)]
    pub events: EventFilter,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn default_min_severity() -> Severity {
    Severity::Low
}

/// Store rows and channel configurations: the store keeps the kind and the kind-specific fields
/// as they come (`settings`), the hub knows what they mean.
impl ChannelConfig {
    pub fn to_stored(&self) -> Result<Channel, StoreError> {
        let unwritable = |reason: String| StoreError::Database(format!("channel '{}': {reason}", self.id));
        let serde_json::Value::Object(mut settings) =
            serde_json::to_value(&self.target).map_err(|e| unwritable(e.to_string()))?
        else {
            return Err(unwritable("its settings are not an object".into()));
        };
        let kind = match settings.remove("kind") {
            Some(serde_json::Value::String(kind)) => kind,
            _ => return Err(unwritable("it has no kind".into())),
        };
        Ok(Channel {
            id: self.id.clone(),
            kind,
            enabled: self.enabled,
            min_severity: self.min_severity,
            events: ChannelEvents {
                firing: self.events.firing,
                reminders: self.events.reminders,
                resolutions: self.events.resolutions,
            },
            settings,
        })
    }

    /// The configuration of a stored channel; settings the hub cannot read are
    /// [`StoreError::Unreadable`], as for every stored setting.
    pub fn from_stored(channel: Channel) -> Result<ChannelConfig, StoreError> {
        let mut settings = channel.settings;
        settings.insert("kind".into(), serde_json::Value::String(channel.kind));
        let target = serde_json::from_value(serde_json::Value::Object(settings))
            .map_err(|e| StoreError::Unreadable { what: format!("channel '{}'", channel.id), reason: e.to_string() })?;
        Ok(ChannelConfig {
            id: channel.id,
            target,
            min_severity: channel.min_severity,
            events: EventFilter {
                firing: channel.events.firing,
                reminders: channel.events.reminders,
                resolutions: channel.events.resolutions,
            },
            enabled: channel.enabled,
        })
    }
}

impl ChannelConfig {
    /// Whether this channel should carry `event`.
    pub fn wants(&self, event: &AlertEvent) -> bool {
        if !self.enabled || !event.notify || event.severity < self.min_severity {
            return false;
        }
        match event.kind {
            EventKind::Opened | EventKind::Escalated | EventKind::DeEscalated => self.events.firing,
            EventKind::Reminder => self.events.reminders,
            EventKind::Resolved { .. } => self.events.resolutions,
            EventKind::Acknowledged | EventKind::Updated => false,
        }
    }

    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = Validator::new("body");
        if !is_slug(&self.id) {
            v.custom("id", "string_pattern_mismatch", "should match ^[a-z0-9-]+$", self.id.as_str().into());
        }
        let url = |v: &mut Validator, field: &str, value: &str| {
            if !(value.starts_with("http://") || value.starts_with("https://")) {
                v.custom(field, "url_parsing", "should be an http:// or https:// URL", serde_json::Value::Null);
            }
        };
        match &self.target {
            ChannelTarget::Slack { webhook_url } | ChannelTarget::Discord { webhook_url } => {
                url(&mut v, "webhook_url", webhook_url)
            }
            ChannelTarget::Ntfy { topic_url, .. } => url(&mut v, "topic_url", topic_url),
            ChannelTarget::Webhook { url: target, .. } => url(&mut v, "url", target),
            ChannelTarget::Email(email) => {
                v.str_len("smtp_host", &email.smtp_host, 1, 255);
                v.str_len("from", &email.from, 3, 255);
                if email.to.is_empty() {
                    v.custom("to", "too_short", "needs at least one recipient", serde_json::Value::Null);
                }
            }
        }
        v.finish()
    }

    /// A copy safe to show: webhook URLs keep only scheme and host, secrets are masked.
    pub fn redacted(&self) -> ChannelConfig {
        let mut copy = self.clone();
        match &mut copy.target {
            ChannelTarget::Slack { webhook_url } | ChannelTarget::Discord { webhook_url } => {
                *webhook_url = redact_url(webhook_url)
            }
            ChannelTarget::Ntfy { topic_url, access_token } => {
                *topic_url = redact_url(topic_url);
                *access_token = access_token.as_ref().map(|_| MASK.into());
            }
            ChannelTarget::Webhook { url, secret } => {
                *url = redact_url(url);
                *secret = secret.as_ref().map(|_| MASK.into());
            }
            ChannelTarget::Email(email) => email.password = email.password.as_ref().map(|_| MASK.into()),
        }
        copy
    }
}

pub const MASK: &str = "********";

/// `https://hooks.slack.com/services/T0/B0/secret` → `https://hooks.slack.com/…`: the path of
/// a webhook URL is the secret.
pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split('/').next().unwrap_or_default();
            let host = host.rsplit('@').next().unwrap_or(host);
            format!("{scheme}://{host}/…")
        }
        None if url.is_empty() => String::new(),
        None => MASK.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn channels_parse_with_defaults_and_redact_secrets() {
        let config: ChannelConfig = serde_json::from_value(json!({
            "id": "team", "kind": "slack", "webhook_url": "https://hooks.slack.com/services/T0/B0/XYZ"
        }))
        .unwrap();
        config.validate().unwrap();
        assert_eq!((config.min_severity, config.enabled), (Severity::Low, true));
        let shown = serde_json::to_value(config.redacted()).unwrap();
        assert_eq!(shown["webhook_url"], "https://hooks.slack.com/…");
        assert!(!shown.to_string().contains("XYZ"));

        let hook: ChannelConfig = serde_json::from_value(json!({
            "id": "hook", "kind": "webhook", "url": "https://user:pw@example.org/in", "secret": "s3cret"
        }))
        .unwrap();
        let shown = serde_json::to_string(&hook.redacted()).unwrap();
        assert!(!shown.contains("s3cret") && !shown.contains("pw"), "{shown}");
        let shown = format!("{hook:?}");
        assert!(!shown.contains("s3cret") && !shown.contains("pw"), "{shown}");
    }

    #[test]
    fn invalid_channels_name_the_field() {
        let config: ChannelConfig =
            serde_json::from_value(json!({"id": "Bad Id", "kind": "ntfy", "topic_url": "ntfy.lan/x"})).unwrap();
        let fields: Vec<_> = config
            .validate()
            .unwrap_err()
            .0
            .iter()
            .map(|e| homelab_core::validate::FieldError::field_name(&e.loc))
            .collect();
        assert_eq!(fields, ["id", "topic_url"]);
    }
}
