//! Typed settings: what the hub configures rather than observes. Thresholds and notification
//! settings are [`homelab_core::alerts`] types; channels and tags are defined here.

use std::collections::BTreeMap;

use homelab_core::alerts::Severity;

use crate::StoreResult;

/// A change to one settings value, applied in the transaction that reads and saves it: it gets
/// the stored value (the defaults when none was saved) and returns the new one, or refuses with
/// an error, which is returned as is and saves nothing. Called exactly once.
pub type Change<T> = Box<dyn FnOnce(T) -> StoreResult<T> + Send>;

/// Id of the channel standing for v1's `slack_webhook_url` (notification settings). The store
/// keeps a hidden row for it, so its deliveries satisfy their foreign key; it is never listed.
pub const V1_SLACK_CHANNEL: &str = "slack";

/// A notification channel: where to send (its kind and kind-specific settings) and what.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    /// Slug naming the channel (`slack`, `family-ntfy`); never changes.
    pub id: String,
    /// `slack`, `discord`, `ntfy`, `webhook`, `email`: the hub knows what each means.
    pub kind: String,
    pub enabled: bool,
    /// Least severe alert this channel hears about.
    pub min_severity: Severity,
    pub events: ChannelEvents,
    /// The kind-specific fields (URLs, tokens, SMTP settings), secrets included, stored as given.
    pub settings: serde_json::Map<String, serde_json::Value>,
}

/// Which events a channel wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelEvents {
    /// New alerts, escalations and de-escalations.
    pub firing: bool,
    pub reminders: bool,
    pub resolutions: bool,
}

impl Default for ChannelEvents {
    fn default() -> Self {
        ChannelEvents { firing: true, reminders: true, resolutions: true }
    }
}

/// Server id → its tags (sorted), for every server that has any.
pub type TagMap = BTreeMap<String, Vec<String>>;

/// A single-row setting and when it was last saved (`None`: never, the defaults apply).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stamped<T> {
    pub value: T,
    pub updated_at: Option<homelab_core::time::Timestamp>,
}
