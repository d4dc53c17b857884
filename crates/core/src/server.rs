//! Servers (machines) as the v1 API shows them, and the requests that create and edit them.

use serde::{Deserialize, Deserializer, Serialize};

use crate::heartbeat::{FilesystemReport, InterfaceReport, Metrics};
use crate::snapshot::Snapshot;
use crate::status::{MachineType, ServerStatus};
use crate::time::{self, Timestamp};
use crate::validate::{ValidationErrors, Validator};

/// What `machine_type` accepts in requests (validated into v1's 422 rather than parsed by serde).
pub const MACHINE_TYPES: [&str; 2] = [MachineType::Server.as_str(), MachineType::Workstation.as_str()];
pub const SUDO_MODES: [&str; 2] = ["passwordless", "password"];

/// `ServerResponse` of v1, field for field and in the same order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Server {
    pub id: String,
    pub guid: Option<String>,
    pub hostname: String,
    pub display_name: Option<String>,
    pub ip_address: Option<String>,
    /// `online`, `offline` or `unknown` (never heard from). As read from the store this is the
    /// stored column; what the API and dashboard show is [`crate::status::status`].
    pub status: ServerStatus,
    pub tdp_watts: Option<i64>,
    pub cpu_model: Option<String>,
    pub cpu_cores: Option<i64>,
    pub machine_category: Option<String>,
    pub machine_category_source: Option<String>,
    pub idle_watts: Option<i64>,
    pub os_distribution: Option<String>,
    pub os_version: Option<String>,
    pub kernel_version: Option<String>,
    pub architecture: Option<String>,
    pub updates_available: Option<i64>,
    pub security_updates: Option<i64>,
    /// Maintenance mode.
    pub is_paused: bool,
    #[serde(with = "time::rfc3339_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub paused_at: Option<Timestamp>,
    pub agent_version: Option<String>,
    pub agent_mode: Option<String>,
    pub is_inactive: bool,
    #[serde(with = "time::rfc3339_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub inactive_since: Option<Timestamp>,
    /// Hub receive time of the last heartbeat.
    #[serde(with = "time::rfc3339_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_seen: Option<Timestamp>,
    pub tailscale_hostname: Option<String>,
    /// `server` or `workstation` (workstations are expected to be off at times).
    pub machine_type: MachineType,
    pub ssh_username: Option<String>,
    pub sudo_mode: String,
    pub config_user: Option<String>,
    #[serde(with = "time::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[serde(with = "time::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
    /// The latest reports, passed through as stored (see [`Snapshot`]).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Metrics>))]
    pub latest_metrics: Option<Snapshot<Metrics>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<FilesystemReport>>))]
    pub filesystems: Option<Snapshot<Vec<FilesystemReport>>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<InterfaceReport>>))]
    pub network_interfaces: Option<Snapshot<Vec<InterfaceReport>>>,
    /// Open (not acknowledged) alerts.
    pub active_alert_count: i64,
    /// Up to three titles of open alerts, newest first.
    pub active_alert_summaries: Vec<String>,
    pub assigned_packs: Option<Vec<String>>,
    pub drift_detection_enabled: bool,
    /// Not in v1: the server id of the machine this one depends on (its switch, router or
    /// hypervisor). While that machine is offline, this one's silence is folded into its alert.
    /// Absent when unset, so v1 clients see v1's exact shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depends_on: Option<String>,
}

impl Server {
    /// The name people know the machine by.
    pub fn name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.hostname)
    }

    /// The latest metrics, read out of their snapshot; none when none were reported (or the
    /// stored text no longer reads as metrics, which a display shows as "no data").
    pub fn metrics(&self) -> Option<Metrics> {
        self.latest_metrics.as_ref()?.parse().ok()
    }

    /// The latest filesystems reported, read out of their snapshot (empty when none).
    pub fn filesystem_reports(&self) -> Vec<FilesystemReport> {
        self.filesystems.as_ref().and_then(|s| s.parse().ok()).unwrap_or_default()
    }

    /// The latest network interfaces reported, read out of their snapshot (empty when none).
    pub fn interface_reports(&self) -> Vec<InterfaceReport> {
        self.network_interfaces.as_ref().and_then(|s| s.parse().ok()).unwrap_or_default()
    }
}

/// `POST /api/v1/servers` body.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewServer {
    /// Server slug: 1–100 of `a-z 0-9 -`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[a-z0-9-]+$", min_length = 1, max_length = 100))]
    pub id: String,
    /// Host name, 1–255 characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 255))]
    pub hostname: String,
    /// Name to show instead of the host name, at most 255 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 255))]
    pub display_name: Option<String>,
    /// At most 45 characters (an IPv6 address).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 45))]
    pub ip_address: Option<String>,
    /// Full-load draw in watts, 0–10000.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 10000))]
    pub tdp_watts: Option<i64>,
    /// `server` (default) or `workstation`.
    #[serde(default = "default_machine_type")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(server|workstation)$"))]
    pub machine_type: String,
}

fn default_machine_type() -> String {
    MachineType::default().as_str().into()
}

impl NewServer {
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = Validator::new("body");
        v.slug("id", &self.id);
        v.str_len("hostname", &self.hostname, 1, 255);
        v.opt_str_len("display_name", self.display_name.as_deref(), 0, 255);
        v.opt_str_len("ip_address", self.ip_address.as_deref(), 0, 45);
        v.range_i64("tdp_watts", self.tdp_watts, 0, Some(10_000));
        v.one_of("machine_type", &self.machine_type, &MACHINE_TYPES);
        v.finish()
    }

    /// The config packs v1 assigns on creation.
    pub fn assigned_packs(&self) -> Vec<String> {
        let mut packs = vec!["base".to_owned()];
        if MachineType::parse(&self.machine_type) == Some(MachineType::Workstation) {
            packs.push("developer-lite".to_owned());
        }
        packs
    }
}

/// A field of a partial update: absent (`None`), explicit `null` (`Some(None)`) or a value.
pub type Patch<T> = Option<Option<T>>;

/// Distinguishes an explicit `null` from an absent key (use with `#[serde(default)]`).
pub fn patch<'de, D, T>(deserializer: D) -> Result<Patch<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `PUT /api/v1/servers/{id}` body: only the keys sent are applied.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerUpdate {
    /// Host name, 1–255 characters; may not be null.
    #[serde(default, deserialize_with = "patch")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, min_length = 1, max_length = 255))]
    pub hostname: Patch<String>,
    /// Name to show; `null` shows the host name.
    #[serde(default, deserialize_with = "patch")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 255))]
    pub display_name: Patch<String>,
    /// At most 45 characters.
    #[serde(default, deserialize_with = "patch")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 45))]
    pub ip_address: Patch<String>,
    /// Full-load draw in watts, 0–10000; `null` uses the category default.
    #[serde(default, deserialize_with = "patch")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>, minimum = 0, maximum = 10000))]
    pub tdp_watts: Patch<i64>,
    /// Power category; setting it marks it chosen (`user`), `null` hands it back to the heartbeats.
    #[serde(default, deserialize_with = "patch")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, pattern = "^(sbc|mini_pc|nas|office_desktop|gaming_desktop|workstation|office_laptop|gaming_laptop|rack_server)$"))]
    pub machine_category: Patch<String>,
    /// `auto` or `user`; set with the category when not sent.
    #[serde(default, deserialize_with = "patch")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, pattern = "^(auto|user)$"))]
    pub machine_category_source: Patch<String>,
    /// Idle draw in watts, 0–10000; `null` uses the category default.
    #[serde(default, deserialize_with = "patch")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>, minimum = 0, maximum = 10000))]
    pub idle_watts: Patch<i64>,
    /// At most 255 characters.
    #[serde(default, deserialize_with = "patch")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 255))]
    pub ssh_username: Patch<String>,
    /// `passwordless` or `password`; may not be null.
    #[serde(default, deserialize_with = "patch")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^(passwordless|password)$"))]
    pub sudo_mode: Patch<String>,
    /// At most 255 characters.
    #[serde(default, deserialize_with = "patch")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 255))]
    pub config_user: Patch<String>,
    /// `server` or `workstation`; may not be null.
    #[serde(default, deserialize_with = "patch")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^(server|workstation)$"))]
    pub machine_type: Patch<String>,
    /// Not in v1: the server id of another existing machine this one depends on, without
    /// circles (checked against the stored fleet: 422 otherwise); `null` removes it.
    #[serde(default, deserialize_with = "patch")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, min_length = 1, max_length = 100))]
    pub depends_on: Patch<String>,
}

fn patched_text(patch: &Patch<String>) -> Option<&str> {
    patch.as_ref().and_then(|value| value.as_deref())
}

impl ServerUpdate {
    /// v1 answered an explicit `null` for a required column with a 500; here it is a 422.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = Validator::new("body");
        match &self.hostname {
            Some(None) => v.not_null("hostname"),
            Some(Some(h)) => v.str_len("hostname", h, 1, 255),
            None => {}
        }
        match &self.sudo_mode {
            Some(None) => v.not_null("sudo_mode"),
            Some(Some(m)) => v.one_of("sudo_mode", m, &SUDO_MODES),
            None => {}
        }
        match &self.machine_type {
            Some(None) => v.not_null("machine_type"),
            Some(Some(t)) => v.one_of("machine_type", t, &MACHINE_TYPES),
            None => {}
        }
        v.opt_str_len("display_name", patched_text(&self.display_name), 0, 255);
        v.opt_str_len("depends_on", patched_text(&self.depends_on), 1, 100);
        v.opt_str_len("ip_address", patched_text(&self.ip_address), 0, 45);
        v.opt_one_of("machine_category", patched_text(&self.machine_category), &crate::power::category_names());
        let sources = [crate::power::SOURCE_AUTO, crate::power::SOURCE_USER];
        v.opt_one_of("machine_category_source", patched_text(&self.machine_category_source), &sources);
        v.opt_str_len("ssh_username", patched_text(&self.ssh_username), 0, 255);
        v.opt_str_len("config_user", patched_text(&self.config_user), 0, 255);
        v.range_i64("tdp_watts", self.tdp_watts.flatten(), 0, Some(10_000));
        v.range_i64("idle_watts", self.idle_watts.flatten(), 0, Some(10_000));
        v.finish()
    }
}

impl ServerUpdate {
    /// A category chosen by a person is theirs (`source: user`), so heartbeats stop inferring it;
    /// clearing it hands the choice back to the next heartbeat. An explicit source is kept.
    pub fn with_category_source(mut self) -> Self {
        if self.machine_category_source.is_none()
            && let Some(category) = &self.machine_category
        {
            self.machine_category_source = Some(category.as_ref().map(|_| crate::power::SOURCE_USER.to_owned()));
        }
        self
    }
}

/// A pending package update, as `GET /servers/{id}/packages` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Package {
    pub name: String,
    pub current_version: String,
    pub new_version: String,
    pub repository: String,
    pub is_security: bool,
    #[serde(with = "time::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub detected_at: Timestamp,
    #[serde(with = "time::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_null_differs_from_absent() {
        let update: ServerUpdate = serde_json::from_str(r#"{"display_name":null}"#).unwrap();
        assert_eq!(update.display_name, Some(None));
        assert_eq!(update.hostname, None);
        update.validate().unwrap();
    }

    #[test]
    fn null_for_a_required_column_is_a_validation_error() {
        let update: ServerUpdate = serde_json::from_str(r#"{"hostname":null,"machine_type":"laptop"}"#).unwrap();
        let errors = update.validate().unwrap_err().0;
        assert_eq!(errors[0].kind, "null_not_allowed");
        assert!(errors[0].msg.starts_with("hostname"));
        assert_eq!(errors[1].kind, "literal_error");
    }

    #[test]
    fn workstations_get_the_developer_pack() {
        let new: NewServer =
            serde_json::from_str(r#"{"id":"ws","hostname":"ws","machine_type":"workstation"}"#).unwrap();
        new.validate().unwrap();
        assert_eq!(new.assigned_packs(), ["base", "developer-lite"]);
    }
}
