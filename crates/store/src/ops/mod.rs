//! The store operations, written once over [`Backend`] and shared by SQLite and PostgreSQL.

mod alerts;
mod channels;
mod deliveries;
mod history;
mod ingest;
mod inventory;
#[cfg(test)]
#[cfg(feature = "test-support")]
mod lock_order_tests;
mod partitions;
mod preferences;
mod servers;
mod service_states;
mod services;
mod settings;
mod tags;
mod tokens;
mod upgrade;

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
use homelab_core::time::{Timestamp, to_millis};

use crate::backend::{Backend, SettingsWatch, Work, work};
use crate::{
    AgentCredential, AlertFilter, AlertPage, AlertRecord, Change, Channel, ClaimedAgent, ClaimedMessage,
    DeliveryOutcome, EventRoute, ExpectedServiceRecord, ExpectedServiceUpdate, FleetSummary, HeartbeatOutcome,
    HeartbeatWrite, HistoryPartition, HistoryQuery, Lease, NewCredential, NewExpectedService, NewRegistrationToken,
    OfflineReport, OutboxEvent, PendingAlert, RegistrationToken, ReportedService, RetentionReport, SeriesData, Stamped,
    Store, StoreResult, TagMap, TokenClaim,
};

/// Which group-commit writer takes a server's heartbeats (see [`Backend::write_grouped`]), and
/// the one order in which every transaction takes the rows of several servers: a batch runs its
/// units in key order, and the retention job, the offline check and a server's deletion lock
/// theirs in the same order ([`alerts::lock_servers`]), so that no two wait for each other in a
/// circle (PostgreSQL's "deadlock detected"). FNV-1a rather than the standard library's hasher,
/// whose output may change between Rust releases: hubs of different builds sharing one database
/// must agree on it.
pub(crate) fn group_key(server_id: &str) -> u64 {
    server_id.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

/// The [`Store`] implementation for any SQL [`Backend`].
pub struct SqlStore<B: Backend> {
    backend: B,
    series: Arc<ingest::SeriesCache>,
    rules: Arc<alerts::RulesCache>,
    /// Group keys of the servers whose heartbeats commit in groups (one stored since start):
    /// 8 bytes a server.
    grouped: std::sync::Mutex<std::collections::HashSet<u64>>,
}

impl<B: Backend> SqlStore<B> {
    /// Wraps a migrated backend and runs the upgrade steps its migrations queued, so that
    /// nothing reads data still in an old layout.
    pub async fn open(backend: B) -> StoreResult<Self> {
        let rules = Arc::new(alerts::RulesCache::new(backend.settings_watch()));
        let store = SqlStore { backend, series: Arc::default(), rules, grouped: std::sync::Mutex::default() };
        store.run_pending_upgrades().await?;
        // Today's and the next days' partitions before the first heartbeat: after a long stop
        // they would otherwise all go to the default partitions until the first retention run.
        // The store has no clock of its own; the retention runs that follow use the hub's.
        let now = chrono::Utc::now();
        store.create_partitions(partitions::KeepFrom::now(now), now).await?;
        Ok(store)
    }

    /// Runs a change of the alert rules. The cached rules are cleared within its unit, so that
    /// the next unit reads the new rows, and again after it, as after any failed write.
    async fn write_rules<T: Send + 'static>(&self, change: Work<T>) -> StoreResult<T> {
        let rules = Arc::clone(&self.rules);
        let result = self
            .backend
            .write(work(move |conn| {
                Box::pin(async move {
                    let saved = change(conn).await;
                    rules.clear();
                    saved
                })
            }))
            .await;
        self.rules.clear();
        result
    }

    /// Creates the history partitions missing from `keep` to ahead of `now`, one write unit
    /// each (PostgreSQL; nothing on SQLite). Returns how many it created.
    async fn create_partitions(&self, keep: partitions::KeepFrom, now: Timestamp) -> StoreResult<u64> {
        let mut created = 0;
        loop {
            let (count, more) = self
                .backend
                .write(work(move |conn| Box::pin(async move { history::partitions_step(conn, now, keep).await })))
                .await?;
            created += count;
            if !more {
                return Ok(created);
            }
        }
    }

    async fn run_pending_upgrades(&self) -> StoreResult<()> {
        self.compact_history().await?;
        if self.backend.read(work(|conn| Box::pin(upgrade::is_pending(conn, upgrade::TYPED_SETTINGS)))).await? {
            self.backend.write(work(|conn| Box::pin(upgrade::typed_settings(conn)))).await?;
        }
        Ok(())
    }

    async fn compact_history(&self) -> StoreResult<()> {
        if !self.backend.read(work(|conn| Box::pin(upgrade::is_pending(conn, upgrade::COMPACT_HISTORY)))).await? {
            return Ok(());
        }
        let servers = self.backend.read(work(|conn| Box::pin(upgrade::servers_to_convert(conn)))).await?;
        if !servers.is_empty() {
            tracing::info!(servers = servers.len(), "converting stored history to the compact layout");
        }
        let mut rows = 0;
        for (done, pk) in servers.iter().copied().enumerate() {
            rows += self.backend.write(work(move |conn| Box::pin(upgrade::convert_server(conn, pk)))).await?;
            if (done + 1) % 10 == 0 || done + 1 == servers.len() {
                tracing::info!(servers_done = done + 1, of = servers.len(), rows, "converting history");
            }
        }
        self.backend.write(work(|conn| Box::pin(upgrade::finish_compact_history(conn)))).await
    }
}

#[async_trait]
impl<B: Backend> Store for SqlStore<B> {
    fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    async fn ping(&self) -> StoreResult<()> {
        self.backend.writable()?;
        self.backend.read(work(|conn| Box::pin(async move { conn.query_one("SELECT 1", &[]).await.map(|_| ()) }))).await
    }

    async fn close(&self) {
        self.backend.close().await;
    }

    fn settings_watch(&self) -> SettingsWatch {
        self.backend.settings_watch()
    }

    async fn list_servers(&self) -> StoreResult<Vec<Server>> {
        self.backend.read(work(|conn| Box::pin(servers::list(conn)))).await
    }

    async fn list_servers_page(&self, limit: i64, offset: i64) -> StoreResult<(Vec<Server>, i64)> {
        self.backend.read(work(move |conn| Box::pin(servers::list_page(conn, limit, offset)))).await
    }

    async fn get_server(&self, id: &str) -> StoreResult<Server> {
        let id = id.to_owned();
        self.backend.read(work(move |conn| Box::pin(async move { servers::get(conn, &id).await }))).await
    }

    async fn create_server(&self, new: &NewServer, now: Timestamp) -> StoreResult<Server> {
        let new = new.clone();
        self.backend.write(work(move |conn| Box::pin(async move { servers::create(conn, &new, now).await }))).await
    }

    async fn update_server(&self, id: &str, update: &ServerUpdate, now: Timestamp) -> StoreResult<Server> {
        let (id, update) = (id.to_owned(), update.clone());
        self.backend
            .write(work(move |conn| Box::pin(async move { servers::update(conn, &id, &update, now).await })))
            .await
    }

    async fn delete_server(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.backend.write(work(move |conn| Box::pin(async move { servers::delete(conn, &id).await }))).await
    }

    async fn set_paused(&self, id: &str, paused: bool, now: Timestamp) -> StoreResult<Server> {
        let id = id.to_owned();
        self.backend
            .write(work(move |conn| Box::pin(async move { servers::set_paused(conn, &id, paused, now).await })))
            .await
    }

    async fn list_packages(&self, id: &str) -> StoreResult<Vec<Package>> {
        let id = id.to_owned();
        self.backend.read(work(move |conn| Box::pin(async move { servers::packages(conn, &id).await }))).await
    }

    async fn ingest_heartbeat(&self, heartbeat: HeartbeatWrite) -> StoreResult<HeartbeatOutcome> {
        let (cache, rules) = (Arc::clone(&self.series), Arc::clone(&self.rules));
        let prepared = ingest::Prepared::of(&heartbeat)?;
        let key = group_key(&heartbeat.request.server_id);
        // A server's first heartbeat since start registers it or fills the series cache: many
        // statements, which would hold up the others in a group (all of them at once after a
        // restart or in a registration storm), so it commits on its own.
        let seen = self.grouped.lock().is_ok_and(|seen| seen.contains(&key));
        let unit =
            work(move |conn| Box::pin(async move { ingest::ingest(conn, &cache, &rules, &heartbeat, prepared).await }));
        let result = if seen { self.backend.write_grouped(key, unit).await } else { self.backend.write(unit).await };
        if result.is_ok()
            && !seen
            && let Ok(mut grouped) = self.grouped.lock()
        {
            grouped.insert(key);
        }
        if result.is_err() {
            // The transaction may have rolled back series (or rules) the caches learnt of;
            // start afresh.
            self.series.clear();
            self.rules.clear();
        }
        result
    }

    async fn history(&self, server_id: &str, query: &HistoryQuery) -> StoreResult<Vec<SeriesData>> {
        let (id, query) = (server_id.to_owned(), query.clone());
        self.backend.read(work(move |conn| Box::pin(async move { history::history(conn, &id, &query).await }))).await
    }

    async fn fleet_samples(
        &self,
        metric: MetricKind,
        from: Timestamp,
        to: Timestamp,
    ) -> StoreResult<HashMap<String, Vec<Aggregate>>> {
        let (from, to) = (to_millis(&from), to_millis(&to));
        self.backend
            .read(work(move |conn| Box::pin(async move { history::fleet_samples(conn, metric, from, to).await })))
            .await
    }

    async fn run_retention(&self, policy: &RetentionPolicy, now: Timestamp) -> StoreResult<RetentionReport> {
        let policy = *policy;
        let size = history::UnitSize::default();
        let created = self.create_partitions(partitions::KeepFrom::policy(&policy, now), now).await?;
        let mut total = RetentionReport { partitions_created: created, ..RetentionReport::default() };
        loop {
            let (part, more) = self
                .backend
                .write(work(move |conn| {
                    Box::pin(async move { history::retention_step(conn, &policy, now, size).await })
                }))
                .await?;
            total.add(&part);
            if !more {
                return Ok(total);
            }
        }
    }

    async fn maintain_history_partitions(&self, policy: &RetentionPolicy, now: Timestamp) -> StoreResult<u64> {
        self.create_partitions(partitions::KeepFrom::policy(policy, now), now).await
    }

    async fn history_partitions(&self) -> StoreResult<Vec<HistoryPartition>> {
        self.backend.read(work(|conn| Box::pin(partitions::all(conn)))).await
    }

    async fn create_registration_token(&self, token: &NewRegistrationToken) -> StoreResult<RegistrationToken> {
        let token = token.clone();
        self.backend.write(work(move |conn| Box::pin(async move { tokens::create_token(conn, &token).await }))).await
    }

    async fn list_registration_tokens(&self, now: Timestamp) -> StoreResult<Vec<RegistrationToken>> {
        self.backend.read(work(move |conn| Box::pin(async move { tokens::list_tokens(conn, now).await }))).await
    }

    async fn delete_registration_token(&self, id: i64) -> StoreResult<()> {
        self.backend.write(work(move |conn| Box::pin(async move { tokens::delete_token(conn, id).await }))).await
    }

    async fn claim_registration_token(&self, claim: &TokenClaim) -> StoreResult<ClaimedAgent> {
        let claim = claim.clone();
        self.backend.write(work(move |conn| Box::pin(async move { tokens::claim(conn, &claim).await }))).await
    }

    async fn active_credential(&self, server_guid: &str) -> StoreResult<Option<AgentCredential>> {
        let guid = server_guid.to_owned();
        self.backend.read(work(move |conn| Box::pin(async move { tokens::active_credential(conn, &guid).await }))).await
    }

    async fn credential_info(&self, server_guid: &str) -> StoreResult<AgentCredential> {
        let guid = server_guid.to_owned();
        self.backend.read(work(move |conn| Box::pin(async move { tokens::credential_info(conn, &guid).await }))).await
    }

    async fn rotate_credential(&self, server_guid: &str, new: &NewCredential, now: Timestamp) -> StoreResult<()> {
        let (guid, new) = (server_guid.to_owned(), new.clone());
        self.backend
            .write(work(move |conn| Box::pin(async move { tokens::rotate(conn, &guid, &new, now).await })))
            .await
    }

    async fn revoke_credential(&self, server_guid: &str, now: Timestamp) -> StoreResult<()> {
        let guid = server_guid.to_owned();
        self.backend.write(work(move |conn| Box::pin(async move { tokens::revoke(conn, &guid, now).await }))).await
    }

    async fn thresholds(&self) -> StoreResult<Thresholds> {
        self.backend.read(work(|conn| Box::pin(settings::thresholds(conn)))).await
    }

    async fn update_thresholds(&self, change: Change<Thresholds>, now: Timestamp) -> StoreResult<Thresholds> {
        self.write_rules(work(move |conn| Box::pin(settings::update_thresholds(conn, change, now)))).await
    }

    async fn cost_settings(&self) -> StoreResult<Stamped<CostSettings>> {
        self.backend.read(work(|conn| Box::pin(preferences::cost(conn)))).await
    }

    async fn update_cost_settings(
        &self,
        change: Change<CostSettings>,
        now: Timestamp,
    ) -> StoreResult<Stamped<CostSettings>> {
        self.backend.write(work(move |conn| Box::pin(preferences::update_cost(conn, change, now)))).await
    }

    async fn dashboard_preferences(&self) -> StoreResult<Stamped<DashboardPreferences>> {
        self.backend.read(work(|conn| Box::pin(preferences::dashboard(conn)))).await
    }

    async fn set_dashboard_preferences(
        &self,
        value: &DashboardPreferences,
        now: Timestamp,
    ) -> StoreResult<Stamped<DashboardPreferences>> {
        let value = value.clone();
        self.backend
            .write(work(move |conn| Box::pin(async move { preferences::put_dashboard(conn, &value, now).await })))
            .await
    }

    async fn notification_settings(&self) -> StoreResult<NotificationSettings> {
        self.backend.read(work(|conn| Box::pin(settings::notifications(conn)))).await
    }

    async fn update_notification_settings(
        &self,
        change: Change<NotificationSettings>,
        now: Timestamp,
    ) -> StoreResult<NotificationSettings> {
        self.write_rules(work(move |conn| Box::pin(settings::update_notifications(conn, change, now)))).await
    }

    async fn list_channels(&self) -> StoreResult<Vec<Channel>> {
        self.backend.read(work(|conn| Box::pin(channels::list(conn)))).await
    }

    async fn get_channel(&self, id: &str) -> StoreResult<Channel> {
        let id = id.to_owned();
        self.backend.read(work(move |conn| Box::pin(async move { channels::get(conn, &id).await }))).await
    }

    async fn create_channel(&self, channel: &Channel, now: Timestamp) -> StoreResult<Channel> {
        let channel = channel.clone();
        self.backend.write(work(move |conn| Box::pin(async move { channels::create(conn, &channel, now).await }))).await
    }

    async fn update_channel(&self, id: &str, change: Change<Channel>, now: Timestamp) -> StoreResult<Channel> {
        let id = id.to_owned();
        self.backend
            .write(work(move |conn| Box::pin(async move { channels::update(conn, &id, change, now).await })))
            .await
    }

    async fn delete_channel(&self, id: &str, now: Timestamp) -> StoreResult<()> {
        let id = id.to_owned();
        self.backend.write(work(move |conn| Box::pin(async move { channels::delete(conn, &id, now).await }))).await
    }

    async fn all_server_tags(&self) -> StoreResult<TagMap> {
        self.backend.read(work(|conn| Box::pin(tags::all(conn)))).await
    }

    async fn server_tags(&self, server_id: &str) -> StoreResult<Vec<String>> {
        let id = server_id.to_owned();
        self.backend.read(work(move |conn| Box::pin(async move { tags::of_server(conn, &id).await }))).await
    }

    async fn set_server_tags(&self, server_id: &str, tags: &[String]) -> StoreResult<Vec<String>> {
        let (id, new) = (server_id.to_owned(), tags.to_vec());
        self.backend.write(work(move |conn| Box::pin(async move { tags::replace(conn, &id, &new).await }))).await
    }

    async fn unrouted_events(&self, limit: i64) -> StoreResult<Vec<crate::UnroutedEvent>> {
        self.backend.read(work(move |conn| Box::pin(async move { deliveries::unrouted(conn, limit).await }))).await
    }

    async fn route_events(&self, routes: &[EventRoute], now: Timestamp) -> StoreResult<()> {
        let routes = routes.to_vec();
        self.backend.write(work(move |conn| Box::pin(async move { deliveries::route(conn, &routes, now).await }))).await
    }

    async fn frame_messages(&self, grouping: &Grouping, now: Timestamp) -> StoreResult<Option<Timestamp>> {
        let grouping = *grouping;
        self.backend
            .write(work(move |conn| Box::pin(async move { deliveries::frame_messages(conn, &grouping, now).await })))
            .await
    }

    async fn due_channels(&self, now: Timestamp) -> StoreResult<Vec<String>> {
        self.backend.read(work(move |conn| Box::pin(async move { deliveries::due_channels(conn, now).await }))).await
    }

    async fn next_delivery_due_after(&self, now: Timestamp) -> StoreResult<Option<Timestamp>> {
        self.backend.read(work(move |conn| Box::pin(async move { deliveries::next_due_after(conn, now).await }))).await
    }

    async fn claim_message(
        &self,
        channel_id: &str,
        lease: &Lease,
        now: Timestamp,
    ) -> StoreResult<Option<ClaimedMessage>> {
        let (channel, lease) = (channel_id.to_owned(), lease.clone());
        self.backend
            .write(work(move |conn| Box::pin(async move { deliveries::claim(conn, &channel, &lease, now).await })))
            .await
    }

    async fn finish_message(
        &self,
        message_id: i64,
        lease_token: &str,
        outcome: &DeliveryOutcome,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let (token, outcome) = (lease_token.to_owned(), outcome.clone());
        self.backend
            .write(work(move |conn| {
                Box::pin(async move { deliveries::finish(conn, message_id, &token, &outcome, now).await })
            }))
            .await
    }

    async fn release_leases(&self, instance: &str, now: Timestamp) -> StoreResult<u64> {
        let instance = instance.to_owned();
        self.backend
            .write(work(move |conn| Box::pin(async move { deliveries::release_leases(conn, &instance, now).await })))
            .await
    }

    async fn list_deliveries(
        &self,
        status: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<crate::DeliveryRecord>, i64)> {
        let status = status.map(str::to_owned);
        self.backend
            .read(work(move |conn| {
                Box::pin(async move { deliveries::list(conn, status.as_deref(), limit, offset).await })
            }))
            .await
    }

    async fn retry_delivery(&self, id: i64, now: Timestamp) -> StoreResult<()> {
        self.backend.write(work(move |conn| Box::pin(async move { deliveries::retry(conn, id, now).await }))).await
    }

    async fn discard_delivery(&self, id: i64, now: Timestamp) -> StoreResult<()> {
        self.backend.write(work(move |conn| Box::pin(async move { deliveries::discard(conn, id, now).await }))).await
    }

    async fn list_alerts(&self, filter: &AlertFilter) -> StoreResult<AlertPage> {
        let filter = filter.clone();
        self.backend.read(work(move |conn| Box::pin(async move { alerts::list(conn, &filter).await }))).await
    }

    async fn get_alert(&self, id: i64) -> StoreResult<AlertRecord> {
        self.backend.read(work(move |conn| Box::pin(async move { alerts::get(conn, id).await }))).await
    }

    async fn acknowledge_alert(&self, id: i64, now: Timestamp) -> StoreResult<AlertRecord> {
        self.backend
            .write(work(move |conn| Box::pin(async move { alerts::act_on_alert(conn, id, false, now).await })))
            .await
    }

    async fn resolve_alert(&self, id: i64, now: Timestamp) -> StoreResult<AlertRecord> {
        self.backend
            .write(work(move |conn| Box::pin(async move { alerts::act_on_alert(conn, id, true, now).await })))
            .await
    }

    async fn pending_breaches(&self, now: Timestamp) -> StoreResult<Vec<PendingAlert>> {
        self.backend.read(work(move |conn| Box::pin(async move { alerts::pending(conn, now).await }))).await
    }

    async fn check_offline(&self, now: Timestamp, watching_since: Option<Timestamp>) -> StoreResult<OfflineReport> {
        self.backend
            .write(work(move |conn| Box::pin(async move { alerts::check_offline(conn, now, watching_since).await })))
            .await
    }

    async fn last_seen_bounds(&self) -> StoreResult<(Option<Timestamp>, Option<Timestamp>)> {
        self.backend.read(work(|conn| Box::pin(alerts::last_seen_bounds(conn)))).await
    }

    async fn fleet_summary(&self) -> StoreResult<FleetSummary> {
        self.backend.read(work(|conn| Box::pin(alerts::fleet_summary(conn)))).await
    }

    #[cfg(feature = "test-support")]
    async fn outbox(&self, limit: i64) -> StoreResult<Vec<OutboxEvent>> {
        self.backend.read(work(move |conn| Box::pin(async move { alerts::outbox(conn, limit).await }))).await
    }

    async fn alert_notifications(&self, alert_id: i64) -> StoreResult<(Vec<OutboxEvent>, Vec<crate::DeliveryRecord>)> {
        self.backend
            .read(work(move |conn| {
                Box::pin(async move {
                    let events = alerts::outbox_of_alert(conn, alert_id).await?;
                    let deliveries = deliveries::of_alert(conn, alert_id).await?;
                    Ok((events, deliveries))
                })
            }))
            .await
    }

    async fn list_expected_services(&self, server_id: &str) -> StoreResult<Vec<ExpectedServiceRecord>> {
        let id = server_id.to_owned();
        self.backend.read(work(move |conn| Box::pin(async move { services::list(conn, &id).await }))).await
    }

    async fn list_reported_services(&self, server_id: &str) -> StoreResult<Vec<ReportedService>> {
        let id = server_id.to_owned();
        self.backend.read(work(move |conn| Box::pin(async move { services::reported(conn, &id).await }))).await
    }

    async fn create_expected_service(
        &self,
        server_id: &str,
        new: &NewExpectedService,
        now: Timestamp,
    ) -> StoreResult<ExpectedServiceRecord> {
        let (id, new) = (server_id.to_owned(), new.clone());
        self.backend
            .write(work(move |conn| Box::pin(async move { services::create(conn, &id, &new, now).await })))
            .await
    }

    async fn update_expected_service(
        &self,
        server_id: &str,
        service_name: &str,
        update: &ExpectedServiceUpdate,
        now: Timestamp,
    ) -> StoreResult<ExpectedServiceRecord> {
        let (id, name, update) = (server_id.to_owned(), service_name.to_owned(), update.clone());
        self.backend
            .write(work(move |conn| Box::pin(async move { services::update(conn, &id, &name, &update, now).await })))
            .await
    }

    async fn delete_expected_service(&self, server_id: &str, service_name: &str, now: Timestamp) -> StoreResult<()> {
        let (id, name) = (server_id.to_owned(), service_name.to_owned());
        self.backend
            .write(work(move |conn| Box::pin(async move { services::delete(conn, &id, &name, now).await })))
            .await
    }

    async fn inventory(&self, server_id: &str) -> StoreResult<MachineInventory> {
        let id = server_id.to_owned();
        self.backend.read(work(move |conn| Box::pin(async move { inventory::get(conn, &id).await }))).await
    }

    async fn all_inventories(&self) -> StoreResult<Vec<(String, MachineInventory)>> {
        self.backend.read(work(|conn| Box::pin(inventory::all(conn)))).await
    }

    async fn set_container_watched(
        &self,
        server_id: &str,
        name: &str,
        watched: bool,
        now: Timestamp,
    ) -> StoreResult<MachineInventory> {
        let (id, name) = (server_id.to_owned(), name.to_owned());
        self.backend
            .write(work(move |conn| {
                Box::pin(async move { inventory::set_watched(conn, &id, &name, watched, now).await })
            }))
            .await
    }

    async fn set_watch_all_containers(
        &self,
        server_id: &str,
        on: bool,
        now: Timestamp,
    ) -> StoreResult<MachineInventory> {
        let id = server_id.to_owned();
        self.backend
            .write(work(move |conn| Box::pin(async move { inventory::set_watch_all(conn, &id, on, now).await })))
            .await
    }
}
