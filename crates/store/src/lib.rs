//! Storage for Homelab Command.
//!
//! The hub talks to one [`Store`] trait shaped by the domain (servers, heartbeats, history,
//! tokens, typed settings, channels, tags). Its implementation, [`SqlStore`], is written once against a small
//! SQL [`Backend`](backend::Backend) abstraction, with two backends:
//!
//! - [`sqlite`]: the embedded default. One writer thread commits many heartbeats per
//!   transaction (group commit) so an fsync is shared; readers use a small pool.
//! - [`postgres`]: for larger fleets or several hubs, with a connection pool.
//!
//! Writing the operations once keeps the two backends from drifting apart; each backend keeps
//! its own migrations because DDL genuinely differs. One test-suite (`tests/suite.rs`) runs
//! against both.

mod backend;
mod codec;
mod delivery;
mod error;
mod model;
mod ops;
pub mod postgres;
mod settings;
mod settings_listener;
pub mod sqlite;
#[cfg(feature = "test-support")]
pub mod testing;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use homelab_core::alerts::{NotificationSettings, Thresholds};
use homelab_core::history::{Aggregate, MetricKind, RetentionPolicy};
use homelab_core::inventory::MachineInventory;
use homelab_core::notify::Grouping;
use homelab_core::power::CostSettings;
use homelab_core::preferences::DashboardPreferences;
use homelab_core::server::{NewServer, Package, Server, ServerUpdate};
use homelab_core::time::Timestamp;

pub use backend::SettingsWatch;
pub use delivery::*;
pub use error::{StoreError, StoreResult};
pub use model::*;
pub use ops::SqlStore;
pub use settings::*;

/// Everything the hub persists. Implementations must be safe to share between tasks.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and the health endpoint.
    fn backend_name(&self) -> &'static str;

    /// Cheap liveness probe: `SELECT 1`, and whether writes can happen (SQLite's writer thread).
    async fn ping(&self) -> StoreResult<()>;

    /// Waits for queued writes to commit, then refuses new ones. Called on shutdown.
    async fn close(&self);

    /// How this store hears that other hubs changed the settings it caches (the alert rules).
    fn settings_watch(&self) -> SettingsWatch;

    async fn list_servers(&self) -> StoreResult<Vec<Server>>;
    /// One page of the fleet list, in its order (`offset` servers skipped, at most `limit`),
    /// and how many servers there are in all, read together.
    async fn list_servers_page(&self, limit: i64, offset: i64) -> StoreResult<(Vec<Server>, i64)>;
    async fn get_server(&self, id: &str) -> StoreResult<Server>;
    /// [`StoreError::Conflict`] when the id is taken.
    async fn create_server(&self, new: &NewServer, now: Timestamp) -> StoreResult<Server>;
    async fn update_server(&self, id: &str, update: &ServerUpdate, now: Timestamp) -> StoreResult<Server>;
    /// Removes the server and, through foreign keys, all its history and credentials.
    async fn delete_server(&self, id: &str) -> StoreResult<()>;
    /// Maintenance mode on or off.
    async fn set_paused(&self, id: &str, paused: bool, now: Timestamp) -> StoreResult<Server>;
    async fn list_packages(&self, id: &str) -> StoreResult<Vec<Package>>;

    /// Stores one heartbeat atomically; returns only after it is committed.
    async fn ingest_heartbeat(&self, heartbeat: HeartbeatWrite) -> StoreResult<HeartbeatOutcome>;

    /// Reads history of one server, merging tiers so that no part of the range has holes.
    async fn history(&self, server_id: &str, query: &HistoryQuery) -> StoreResult<Vec<SeriesData>>;
    /// Every server's raw samples of one whole-machine metric (CPU, memory, …) in `[from, to)`,
    /// by server id, in one read: the fleet page's sparklines, which would otherwise cost a
    /// history read per machine.
    async fn fleet_samples(
        &self,
        metric: MetricKind,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<HashMap<String, Vec<Aggregate>>>;
    /// Rolls raw samples up into 5-minute and hourly tiers, then prunes each tier by `policy`.
    /// Idempotent: running it twice changes nothing the second time.
    async fn run_retention(&self, policy: &RetentionPolicy, now: Timestamp) -> StoreResult<RetentionReport>;
    /// Creates the history partitions missing between `policy`'s cutoffs (or the oldest row
    /// that has none) and a margin ahead of `now`, as each retention run does first. PostgreSQL
    /// only; nothing to do where history is not partitioned (SQLite). Returns how many.
    async fn maintain_history_partitions(&self, policy: &RetentionPolicy, now: Timestamp) -> StoreResult<u64>;
    /// The time partitions of every history tier, oldest first (the default partitions, which
    /// take whatever no partition covers, are not listed); empty where there are none (SQLite).
    async fn history_partitions(&self) -> StoreResult<Vec<HistoryPartition>>;

    async fn create_registration_token(&self, token: &NewRegistrationToken) -> StoreResult<RegistrationToken>;
    /// Unclaimed and unexpired tokens, newest first.
    async fn list_registration_tokens(&self, now: Timestamp) -> StoreResult<Vec<RegistrationToken>>;
    /// [`StoreError::NotFound`] or, for a claimed token, [`StoreError::Conflict`].
    async fn delete_registration_token(&self, id: i64) -> StoreResult<()>;
    /// Exchanges a registration token (by hash) for a server and an agent credential.
    async fn claim_registration_token(&self, claim: &TokenClaim) -> StoreResult<ClaimedAgent>;
    /// The active (not revoked) credential of an agent.
    async fn active_credential(&self, server_guid: &str) -> StoreResult<Option<AgentCredential>>;
    async fn credential_info(&self, server_guid: &str) -> StoreResult<AgentCredential>;
    /// Revokes the active credential and installs a new one in the same transaction.
    async fn rotate_credential(&self, server_guid: &str, new: &NewCredential, now: Timestamp) -> StoreResult<()>;
    async fn revoke_credential(&self, server_guid: &str, now: Timestamp) -> StoreResult<()>;

    /// The alert thresholds; the v1 defaults while none were saved. Stored settings that cannot
    /// be read are [`StoreError::Unreadable`] here and everywhere.
    async fn thresholds(&self) -> StoreResult<Thresholds>;
    /// Changes the thresholds in one transaction: `change` gets the stored value (the defaults
    /// when none was saved) and returns the new one, which is saved and returned. Concurrent
    /// changes (two people, or two hubs) apply one after the other; a refusal (any error from
    /// `change`, returned as is) saves nothing.
    async fn update_thresholds(&self, change: Change<Thresholds>, now: Timestamp) -> StoreResult<Thresholds>;
    /// The notification settings; the v1 defaults while none were saved.
    async fn notification_settings(&self) -> StoreResult<NotificationSettings>;
    /// Changes the notification settings in one transaction, as [`Store::update_thresholds`].
    async fn update_notification_settings(
        &self,
        change: Change<NotificationSettings>,
        now: Timestamp,
    ) -> StoreResult<NotificationSettings>;

    /// The electricity tariff; the v1 defaults (and no `updated_at`) while none was saved.
    async fn cost_settings(&self) -> StoreResult<Stamped<CostSettings>>;
    /// Changes the tariff in one transaction, as [`Store::update_thresholds`].
    async fn update_cost_settings(
        &self,
        change: Change<CostSettings>,
        now: Timestamp,
    ) -> StoreResult<Stamped<CostSettings>>;
    /// The original web UI's dashboard layout; its defaults while none was saved.
    async fn dashboard_preferences(&self) -> StoreResult<Stamped<DashboardPreferences>>;
    /// Replaces the dashboard layout whole.
    async fn set_dashboard_preferences(
        &self,
        value: &DashboardPreferences,
        now: Timestamp,
    ) -> StoreResult<Stamped<DashboardPreferences>>;

    /// Configured channels, by id (not the one v1's Slack URL stands for: see
    /// [`V1_SLACK_CHANNEL`]).
    async fn list_channels(&self) -> StoreResult<Vec<Channel>>;
    /// [`StoreError::NotFound`] when there is no such channel.
    async fn get_channel(&self, id: &str) -> StoreResult<Channel>;
    /// [`StoreError::Conflict`] when the id is taken.
    async fn create_channel(&self, channel: &Channel, now: Timestamp) -> StoreResult<Channel>;
    /// Changes one channel in one transaction: `change` gets the stored channel and returns the
    /// new one (same id), or refuses and nothing is saved. [`StoreError::NotFound`] when there is
    /// no such channel.
    async fn update_channel(&self, id: &str, change: Change<Channel>, now: Timestamp) -> StoreResult<Channel>;
    /// Removes a channel and its secrets. Its pending deliveries are dead-lettered at once; its
    /// past deliveries stay in the log under its id. [`StoreError::NotFound`] when there is no
    /// such channel.
    async fn delete_channel(&self, id: &str, now: Timestamp) -> StoreResult<()>;

    /// Every server's tags, in one query (servers without tags are absent).
    async fn all_server_tags(&self) -> StoreResult<TagMap>;
    /// One server's tags, sorted; [`StoreError::NotFound`] when there is no such server.
    async fn server_tags(&self, server_id: &str) -> StoreResult<Vec<String>>;
    /// Replaces one server's tags (an empty list removes them all); returns them sorted without
    /// duplicates. Tags go with their server when it is deleted.
    async fn set_server_tags(&self, server_id: &str, tags: &[String]) -> StoreResult<Vec<String>>;

    /// Outbox events not yet handed to channels, oldest first.
    async fn unrouted_events(&self, limit: i64) -> StoreResult<Vec<UnroutedEvent>>;
    /// Records which channels each event goes to (idempotent) and marks the events routed.
    async fn route_events(&self, routes: &[EventRoute], now: Timestamp) -> StoreResult<()>;
    /// Frames every channel's routed deliveries into messages by
    /// [`homelab_core::notify::frame`], with the storms every hub on the database shares.
    /// Returns when deliveries held now become due.
    async fn frame_messages(&self, grouping: &Grouping, now: Timestamp) -> StoreResult<Option<Timestamp>>;
    /// Channels whose next message is due at `now`.
    async fn due_channels(&self, now: Timestamp) -> StoreResult<Vec<String>>;
    /// The earliest `next_attempt_at` of a pending message after `now` (a scheduled retry or an
    /// expiring lease), so that an idle dispatcher sleeps until then instead of polling.
    async fn next_delivery_due_after(&self, now: Timestamp) -> StoreResult<Option<Timestamp>>;
    /// Leases the channel's oldest unfinished message, if it is due (no other hub gets it, and
    /// the channel's later messages wait for it).
    async fn claim_message(
        &self,
        channel_id: &str,
        lease: &Lease,
        now: Timestamp,
    ) -> StoreResult<Option<ClaimedMessage>>;
    /// Records the outcome of an attempt; `false` (nothing recorded) when `lease_token` no longer
    /// holds the message's lease.
    async fn finish_message(
        &self,
        message_id: i64,
        lease_token: &str,
        outcome: &DeliveryOutcome,
        now: Timestamp,
    ) -> StoreResult<bool>;
    /// Ends the leases earlier processes of hub `instance` left, so their messages go out now.
    async fn release_leases(&self, instance: &str, now: Timestamp) -> StoreResult<u64>;
    /// Deliveries, newest first, optionally by status; and the total.
    async fn list_deliveries(
        &self,
        status: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<DeliveryRecord>, i64)>;
    /// Makes a dead delivery pending again, due now.
    async fn retry_delivery(&self, id: i64, now: Timestamp) -> StoreResult<()>;
    /// Gives up on a pending or dead delivery.
    async fn discard_delivery(&self, id: i64, now: Timestamp) -> StoreResult<()>;

    /// Alert history, newest first, filtered and paged.
    async fn list_alerts(&self, filter: &AlertFilter) -> StoreResult<AlertPage>;
    async fn get_alert(&self, id: i64) -> StoreResult<AlertRecord>;
    /// Acknowledges through the engine (reminders stop; escalation and resolution still apply).
    /// Idempotent; [`StoreError::Rejected`] for a resolved alert.
    async fn acknowledge_alert(&self, id: i64, now: Timestamp) -> StoreResult<AlertRecord>;
    /// Resolves by hand through the engine, resetting the key so that a continuing problem opens
    /// a new alert. Idempotent.
    async fn resolve_alert(&self, id: i64, now: Timestamp) -> StoreResult<AlertRecord>;
    /// Metric breaches still inside their sustained window.
    async fn pending_breaches(&self, now: Timestamp) -> StoreResult<Vec<PendingAlert>>;
    /// Marks servers silent for `server_offline_seconds` offline (not before the grace of a hub
    /// back from downtime, `watching_since`: [`homelab_core::status::Silence`]) and runs the
    /// engine's clock tick (offline alerts and their reminders), in one transaction.
    async fn check_offline(&self, now: Timestamp, watching_since: Option<Timestamp>) -> StoreResult<OfflineReport>;
    /// The oldest `last_seen` of a machine that is online and judged by silence (the next offline
    /// deadline counts from it) and the newest `last_seen` of all (when the hub last heard
    /// anything, to tell whether it was down).
    async fn last_seen_bounds(&self) -> StoreResult<(Option<Timestamp>, Option<Timestamp>)>;
    /// Open alerts by severity and the acknowledged count (servers are counted by the hub).
    async fn fleet_summary(&self) -> StoreResult<FleetSummary>;
    /// The newest `limit` entries of the notification outbox, newest first. Only tests look at the
    /// raw outbox, so only builds with `test-support` have it.
    #[cfg(feature = "test-support")]
    async fn outbox(&self, limit: i64) -> StoreResult<Vec<OutboxEvent>>;
    /// One alert's outbox events and their deliveries, oldest first, read together: the
    /// dashboard's alert timeline ("escalated, notified Slack, failed twice, delivered").
    async fn alert_notifications(&self, alert_id: i64) -> StoreResult<(Vec<OutboxEvent>, Vec<DeliveryRecord>)>;

    /// Expected services of a server, with the newest reported status of each.
    async fn list_expected_services(&self, server_id: &str) -> StoreResult<Vec<ExpectedServiceRecord>>;
    /// Every service the server's agent has reported, with its newest state and whether it is
    /// expected, by name: what a user picks the services to watch from.
    async fn list_reported_services(&self, server_id: &str) -> StoreResult<Vec<ReportedService>>;
    /// [`StoreError::Conflict`] when the server already expects that service.
    async fn create_expected_service(
        &self,
        server_id: &str,
        new: &NewExpectedService,
        now: Timestamp,
    ) -> StoreResult<ExpectedServiceRecord>;
    /// Disabling a service closes its open alert (as a manual resolution), so that it cannot stay
    /// open for ever once nobody watches the service (a v1 defect).
    async fn update_expected_service(
        &self,
        server_id: &str,
        service_name: &str,
        update: &ExpectedServiceUpdate,
        now: Timestamp,
    ) -> StoreResult<ExpectedServiceRecord>;
    /// Stops watching a service and closes its open alert, as disabling does.
    async fn delete_expected_service(&self, server_id: &str, service_name: &str, now: Timestamp) -> StoreResult<()>;

    /// A machine's containers, sensors, disk health and GPUs as last reported, and which of its
    /// containers are watched.
    async fn inventory(&self, server_id: &str) -> StoreResult<MachineInventory>;
    /// [`Store::inventory`] of every server, by server id.
    async fn all_inventories(&self) -> StoreResult<Vec<(String, MachineInventory)>>;
    /// Watches a container by name (alerts when it stops, goes missing or turns unhealthy), or
    /// stops; an alert of an unwatched container closes with the next container report.
    async fn set_container_watched(
        &self,
        server_id: &str,
        name: &str,
        watched: bool,
        now: Timestamp,
    ) -> StoreResult<MachineInventory>;
    /// "Watch all running containers": on, every container seen running joins the list.
    async fn set_watch_all_containers(
        &self,
        server_id: &str,
        on: bool,
        now: Timestamp,
    ) -> StoreResult<MachineInventory>;
}

/// Opens the store a database URL names: `sqlite://path`, `sqlite::memory:` is not supported
/// (history must survive restarts), or `postgres://…`. Migrations are applied before returning.
pub async fn open(url: &str, options: &OpenOptions) -> StoreResult<Arc<dyn Store>> {
    if let Some(path) = sqlite::path_from_url(url) {
        let backend = sqlite::SqliteBackend::open(&path, options).await?;
        Ok(Arc::new(SqlStore::open(backend).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let backend = postgres::PostgresBackend::open(url, options).await?;
        Ok(Arc::new(SqlStore::open(backend).await?))
    } else {
        Err(StoreError::Config(format!(
            "unsupported database URL '{}': use sqlite://PATH or postgres://USER@HOST/DB",
            redact_url(url)
        )))
    }
}

/// Tuning that does not belong in the URL.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Most heartbeats committed in one SQLite transaction.
    pub max_batch: usize,
    /// Most writes waiting for SQLite's writer; past it writes are shed (`Overloaded`).
    pub max_queue: usize,
    /// PostgreSQL pool size.
    pub pool_size: usize,
    /// Longest wait for a PostgreSQL connection before a unit is shed (`Overloaded`).
    pub pool_wait: std::time::Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        // 4 096 queued heartbeats are about half a second of SQLite's group-committed ingest.
        OpenOptions { max_batch: 512, max_queue: 4096, pool_size: 16, pool_wait: std::time::Duration::from_secs(5) }
    }
}

/// Writes shed since the process started (both backends), for the health check and logs.
static WRITES_SHED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many writes were shed because the store was saturated.
pub fn writes_shed() -> u64 {
    WRITES_SHED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Counts one shed write and logs it: the first of a streak at once, then every thousandth,
/// so that shedding is never silent and never floods the log.
pub(crate) fn shed(why: &str) -> StoreError {
    let total = WRITES_SHED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    if total % 1000 == 1 {
        tracing::warn!(total, "store saturated, shedding writes (answered 503 with Retry-After): {why}");
    }
    StoreError::Overloaded(format!("the hub is saturated ({why}); retry shortly"))
}

/// Hides the password of a database URL for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme_end + 3], &credentials[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(super::redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(super::redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact_url("sqlite://./data/x.db"), "sqlite://./data/x.db");
    }
}
