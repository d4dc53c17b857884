//! Alert thresholds and notification settings: one row each (`alert_thresholds`,
//! `notification_settings`), typed columns, the v1 defaults while no row exists.
//!
//! An update reads, changes and writes in the caller's transaction with the row locked first
//! (PostgreSQL: a no-op `UPDATE` holds the row lock until commit; SQLite has a single writer), so
//! concurrent edits apply one after the other. The row is created with the defaults first when
//! there is none, so that there is always a row to lock; a refused change rolls that back too.

use homelab_core::alerts::{
    Cooldowns, MetricThreshold, NotificationSettings, TemperatureLevels, TemperatureThresholds, Thresholds,
};
use homelab_core::time::{Timestamp, to_millis};

use super::channels;
use crate::backend::{Conn, Row, Value};
use crate::{Change, StoreError, StoreResult};

const THRESHOLDS: &str = "thresholds";
const NOTIFICATIONS: &str = "notification settings";

const THRESHOLD_COLUMNS: &str = "cpu_high_percent, cpu_critical_percent, cpu_sustained_seconds, \
    cpu_sustained_heartbeats, cpu_hysteresis_percent, cpu_clear_seconds, memory_high_percent, \
    memory_critical_percent, memory_sustained_seconds, memory_sustained_heartbeats, memory_hysteresis_percent, \
    memory_clear_seconds, disk_high_percent, disk_critical_percent, disk_sustained_seconds, \
    disk_sustained_heartbeats, disk_hysteresis_percent, disk_clear_seconds, server_offline_seconds, \
    service_grace_seconds, temp_cpu_high, temp_cpu_critical, temp_drive_high, temp_drive_critical, \
    temp_chipset_high, temp_chipset_critical, temp_gpu_high, temp_gpu_critical, temp_ambient_high, \
    temp_ambient_critical, temp_other_high, temp_other_critical, temp_sustained_seconds, temp_clear_seconds, \
    temp_hysteresis_celsius";

/// Columns per metric in [`THRESHOLD_COLUMNS`].
const METRIC_COLUMNS: usize = 6;

const NOTIFICATION_COLUMNS: &str = "slack_webhook_url, cooldown_critical_minutes, cooldown_high_minutes, \
    notify_on_critical, notify_on_high, notify_on_remediation, notify_on_action_failure, \
    notify_on_action_success, notify_on_auto_resolve";

/// `$1, $2, …, $n`.
fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// `a = excluded.a, …` for an upsert of `columns`.
fn excluded(columns: &str) -> String {
    columns.split(',').map(str::trim).map(|c| format!("{c} = excluded.{c}")).collect::<Vec<_>>().join(", ")
}

/// The `INSERT` of the single row of `table` (`id = 1`): an upsert, or (`replace` false) an insert
/// that leaves an existing row alone.
fn insert_sql(table: &str, columns: &str, count: usize, replace: bool) -> String {
    let conflict = if replace {
        format!("DO UPDATE SET {}, updated_at = excluded.updated_at", excluded(columns))
    } else {
        "DO NOTHING".to_owned()
    };
    format!(
        "INSERT INTO {table} (id, {columns}, updated_at) VALUES (1, {}, ${}) ON CONFLICT (id) {conflict}",
        placeholders(count),
        count + 1
    )
}

async fn upsert(conn: &mut dyn Conn, table: &str, columns: &str, mut values: Vec<Value>, now: i64) -> StoreResult<()> {
    let sql = insert_sql(table, columns, values.len(), true);
    values.push(now.into());
    conn.execute(&sql, &values).await?;
    Ok(())
}

/// Locks the single row of `table` until the transaction ends, creating it from `defaults` first
/// when there is none. When two transactions create it at once, the second's insert waits for
/// the first to commit and then does nothing, and its lock reads the first one's result: no
/// change is lost.
async fn lock_row(
    conn: &mut dyn Conn,
    table: &str,
    columns: &str,
    mut defaults: Vec<Value>,
    now: i64,
) -> StoreResult<()> {
    let lock = format!("UPDATE {table} SET updated_at = updated_at WHERE id = 1");
    if conn.execute(&lock, &[]).await? == 1 {
        return Ok(());
    }
    let sql = insert_sql(table, columns, defaults.len(), false);
    defaults.push(now.into());
    conn.execute(&sql, &defaults).await?;
    conn.execute(&lock, &[]).await?;
    Ok(())
}

fn metric_values(metric: &MetricThreshold) -> [Value; METRIC_COLUMNS] {
    [
        metric.high_percent.into(),
        metric.critical_percent.into(),
        metric.sustained_seconds.into(),
        metric.sustained_heartbeats.into(),
        metric.hysteresis_percent.into(),
        metric.clear_seconds.into(),
    ]
}

fn metric_from(row: &Row, at: usize) -> StoreResult<MetricThreshold> {
    Ok(MetricThreshold {
        high_percent: row.i64(at)?,
        critical_percent: row.i64(at + 1)?,
        sustained_seconds: row.i64(at + 2)?,
        sustained_heartbeats: row.opt_i64(at + 3)?,
        hysteresis_percent: row.i64(at + 4)?,
        clear_seconds: row.i64(at + 5)?,
    })
}

/// The stored thresholds, or the v1 defaults when none were saved.
pub(crate) async fn thresholds(conn: &mut dyn Conn) -> StoreResult<Thresholds> {
    let sql = format!("SELECT {THRESHOLD_COLUMNS} FROM alert_thresholds WHERE id = 1");
    let Some(row) = conn.query_opt(&sql, &[]).await? else { return Ok(Thresholds::default()) };
    let read = || -> StoreResult<Thresholds> {
        Ok(Thresholds {
            cpu: metric_from(&row, 0)?,
            memory: metric_from(&row, METRIC_COLUMNS)?,
            disk: metric_from(&row, 2 * METRIC_COLUMNS)?,
            server_offline_seconds: row.i64(3 * METRIC_COLUMNS)?,
            service_grace_seconds: row.i64(3 * METRIC_COLUMNS + 1)?,
            temperature: temperature_from(&row, 3 * METRIC_COLUMNS + 2)?,
        })
    };
    read().map_err(StoreError::unreadable(THRESHOLDS))
}

fn threshold_values(value: &Thresholds) -> Vec<Value> {
    let mut values: Vec<Value> = Vec::with_capacity(3 * METRIC_COLUMNS + 2);
    for metric in [&value.cpu, &value.memory, &value.disk] {
        values.extend(metric_values(metric));
    }
    values.push(value.server_offline_seconds.into());
    values.push(value.service_grace_seconds.into());
    for (_, levels) in value.temperature.kinds() {
        values.extend([levels.high_celsius.into(), levels.critical_celsius.into()]);
    }
    let temperature = &value.temperature;
    values.extend([
        temperature.sustained_seconds.into(),
        temperature.clear_seconds.into(),
        temperature.hysteresis_celsius.into(),
    ]);
    values
}

/// The temperature columns, in [`TemperatureThresholds::kinds`] order, then the timing.
fn temperature_from(row: &Row, at: usize) -> StoreResult<TemperatureThresholds> {
    let levels = |kind: usize| -> StoreResult<TemperatureLevels> {
        Ok(TemperatureLevels { high_celsius: row.i64(at + 2 * kind)?, critical_celsius: row.i64(at + 2 * kind + 1)? })
    };
    Ok(TemperatureThresholds {
        cpu: levels(0)?,
        drive: levels(1)?,
        chipset: levels(2)?,
        gpu: levels(3)?,
        ambient: levels(4)?,
        other: levels(5)?,
        sustained_seconds: row.i64(at + 12)?,
        clear_seconds: row.i64(at + 13)?,
        hysteresis_celsius: row.i64(at + 14)?,
    })
}

pub(crate) async fn put_thresholds(conn: &mut dyn Conn, value: &Thresholds, now: i64) -> StoreResult<()> {
    upsert(conn, "alert_thresholds", THRESHOLD_COLUMNS, threshold_values(value), now).await?;
    conn.announce_settings_changed().await
}

pub(crate) async fn update_thresholds(
    conn: &mut dyn Conn,
    change: Change<Thresholds>,
    now: Timestamp,
) -> StoreResult<Thresholds> {
    let now = to_millis(&now);
    let defaults = threshold_values(&Thresholds::default());
    lock_row(conn, "alert_thresholds", THRESHOLD_COLUMNS, defaults, now).await?;
    let value = change(thresholds(conn).await?)?;
    put_thresholds(conn, &value, now).await?;
    Ok(value)
}

/// The stored notification settings, or the v1 defaults when none were saved.
pub(crate) async fn notifications(conn: &mut dyn Conn) -> StoreResult<NotificationSettings> {
    let sql = format!("SELECT {NOTIFICATION_COLUMNS} FROM notification_settings WHERE id = 1");
    let Some(row) = conn.query_opt(&sql, &[]).await? else { return Ok(NotificationSettings::default()) };
    let read = || -> StoreResult<NotificationSettings> {
        Ok(NotificationSettings {
            slack_webhook_url: row.str(0)?,
            cooldowns: Cooldowns { critical_minutes: row.i64(1)?, high_minutes: row.i64(2)? },
            notify_on_critical: row.bool(3)?,
            notify_on_high: row.bool(4)?,
            notify_on_remediation: row.bool(5)?,
            notify_on_action_failure: row.bool(6)?,
            notify_on_action_success: row.bool(7)?,
            notify_on_auto_resolve: row.bool(8)?,
        })
    };
    read().map_err(StoreError::unreadable(NOTIFICATIONS))
}

fn notification_values(value: &NotificationSettings) -> Vec<Value> {
    vec![
        value.slack_webhook_url.as_str().into(),
        value.cooldowns.critical_minutes.into(),
        value.cooldowns.high_minutes.into(),
        value.notify_on_critical.into(),
        value.notify_on_high.into(),
        value.notify_on_remediation.into(),
        value.notify_on_action_failure.into(),
        value.notify_on_action_success.into(),
        value.notify_on_auto_resolve.into(),
    ]
}

/// Saves the notification settings and keeps the v1 Slack channel row in step with them.
pub(crate) async fn put_notifications(conn: &mut dyn Conn, value: &NotificationSettings, now: i64) -> StoreResult<()> {
    upsert(conn, "notification_settings", NOTIFICATION_COLUMNS, notification_values(value), now).await?;
    channels::sync_v1_slack(conn, &value.slack_webhook_url, now).await?;
    conn.announce_settings_changed().await
}

pub(crate) async fn update_notifications(
    conn: &mut dyn Conn,
    change: Change<NotificationSettings>,
    now: Timestamp,
) -> StoreResult<NotificationSettings> {
    let now = to_millis(&now);
    let defaults = notification_values(&NotificationSettings::default());
    lock_row(conn, "notification_settings", NOTIFICATION_COLUMNS, defaults, now).await?;
    let value = change(notifications(conn).await?)?;
    put_notifications(conn, &value, now).await?;
    Ok(value)
}
