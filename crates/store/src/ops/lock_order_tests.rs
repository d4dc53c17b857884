//! Every transaction that takes several servers' rows takes them in the order heartbeat batches
//! do (their group keys), so that none waits for a batch that waits for it (PostgreSQL's
//! "deadlock detected", which failed the bench's back-fill while retention ran).
//!
//! Each test plays a heartbeat batch by hand: it holds the row of the server that comes first
//! in the batch order, lets the operation under test start and wait for that row, then takes the
//! second server's row as the batch's next unit would. Taken by `pk`, the operation would
//! already hold that one and PostgreSQL would break the circle by failing one side.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Duration as Span;
use homelab_core::heartbeat::HeartbeatRequest;
use homelab_core::history::RetentionPolicy;
use homelab_core::time::{self, Timestamp};
use serde_json::json;
use tokio_postgres::NoTls;

use super::group_key;
use crate::{HeartbeatWrite, Store};

fn beat(server_id: &str, ts: Timestamp) -> HeartbeatWrite {
    let request: HeartbeatRequest = serde_json::from_value(json!({
        "server_id": server_id,
        "hostname": format!("{server_id}.lan"),
        "timestamp": time::format(&ts),
        "metrics": {"cpu_percent": 12.5}
    }))
    .unwrap();
    HeartbeatWrite { request, peer_ip: None, authenticated_guid: None, received_at: ts }
}

/// Two server ids whose group keys run against the order they are created in (and so against
/// their `pk`s): the first created comes second in a batch.
fn against_pk_order() -> (String, String) {
    let ids: Vec<String> = (0..8).map(|n| format!("srv-{n}")).collect();
    for first in &ids {
        for second in &ids {
            if group_key(first) > group_key(second) {
                return (first.clone(), second.clone());
            }
        }
    }
    unreachable!("eight ids with equal keys")
}

/// Registers the two servers (first created first) with a heartbeat each at `t0`, then runs
/// `operation` (given the store and the id created first) while a "batch" holds the second's
/// row and then takes the first's. `setup` runs before, as SQL with the two ids as parameters.
async fn while_a_batch_holds_rows<F, Fut>(t0: Timestamp, setup: &str, operation: F)
where
    F: FnOnce(Arc<dyn Store>, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some((store, url)) = crate::testing::postgres_store().await else { return };
    let (created_first, created_second) = against_pk_order();
    for (n, id) in [&created_first, &created_second].into_iter().enumerate() {
        store.ingest_heartbeat(beat(id, t0 + Span::seconds(n as i64))).await.unwrap();
    }
    let (batch, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(connection);
    let (observer, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(connection);
    if !setup.is_empty() {
        batch.execute(setup, &[&created_first, &created_second]).await.unwrap();
    }
    batch.batch_execute("BEGIN").await.unwrap();
    batch.execute("UPDATE servers SET status = status WHERE id = $1", &[&created_second]).await.unwrap();

    let running = tokio::spawn(operation(Arc::clone(&store), created_first.clone()));
    // Until the operation waits for the row the batch holds (an observable state, not a delay).
    wait_until_blocked_by(&batch, &observer, &running, "the operation").await;

    // The batch's next unit: the server created first, whose key comes later.
    let taken = batch.execute("UPDATE servers SET status = status WHERE id = $1", &[&created_first]).await;
    assert!(taken.is_ok(), "the batch's next row was held by the operation: {taken:?}");
    batch.batch_execute("COMMIT").await.unwrap();
    running.await.unwrap();
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollup_takes_server_rows_in_the_order_heartbeat_batches_do() {
    let t0 = time::parse("2026-05-01T10:00:00Z").unwrap();
    while_a_batch_holds_rows(t0, "", |store, _| async move {
        let report = store.run_retention(&RetentionPolicy::default(), t0 + Span::minutes(10)).await.unwrap();
        assert_eq!(report.five_minute_buckets_written, 2, "both servers rolled up: {report:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_offline_check_takes_server_rows_in_the_order_heartbeat_batches_do() {
    let t0 = time::parse("2026-05-01T10:00:00Z").unwrap();
    while_a_batch_holds_rows(t0, "", |store, _| async move {
        let report = store.check_offline(t0 + Span::hours(1), None).await.unwrap();
        assert_eq!(report.marked_offline.len(), 2, "{report:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_server_takes_its_and_its_dependants_rows_in_that_order() {
    let t0 = time::parse("2026-05-01T10:00:00Z").unwrap();
    // The server created second stands behind the first, so deleting the first changes both.
    let setup = "UPDATE servers SET depends_on = $1 WHERE id = $2";
    while_a_batch_holds_rows(t0, setup, |store, created_first| async move {
        store.delete_server(&created_first).await.unwrap();
    })
    .await;
}

/// A late bucket caught up by retention while a batch queues late buckets of the same server:
/// retention deletes the queued 5-minute bucket and queues its hour; the batch queues the hour,
/// then the 5-minute bucket. Unless retention first waits for the server's row, each waits for
/// the other's row of `rollup_dirty`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catching_up_late_buckets_waits_for_a_batch_holding_the_server() {
    let Some((store, url)) = crate::testing::postgres_store().await else { return };
    let t0 = time::parse("2026-05-01T10:00:00Z").unwrap();
    let now = t0 + Span::hours(2);
    for minute in 0..4 {
        store.ingest_heartbeat(beat("late", t0 + Span::minutes(minute))).await.unwrap();
    }
    store.run_retention(&RetentionPolicy::default(), now).await.unwrap();
    // A spool replay: queues its 5-minute bucket (and hour, removed so the batch can queue it).
    store.ingest_heartbeat(beat("late", t0 + Span::seconds(90))).await.unwrap();
    let (batch, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(connection);
    let (observer, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(connection);
    batch.batch_execute("DELETE FROM rollup_dirty WHERE tier = '1h'").await.unwrap();
    let pk: i64 = batch.query_one("SELECT pk FROM servers WHERE id = 'late'", &[]).await.unwrap().get(0);
    let queue = "INSERT INTO rollup_dirty (server_pk, tier, ts) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
    let (five, hour) = (time::to_millis(&t0), time::to_millis(&t0));
    batch.batch_execute("BEGIN").await.unwrap();
    batch.execute("UPDATE servers SET status = status WHERE pk = $1", &[&pk]).await.unwrap();
    batch.execute(queue, &[&pk, &"1h", &hour]).await.unwrap();

    let running = tokio::spawn({
        let store = Arc::clone(&store);
        async move { store.run_retention(&RetentionPolicy::default(), now).await }
    });
    wait_until_blocked_by(&batch, &observer, &running, "retention").await;
    let queued = batch.execute(queue, &[&pk, &"5m", &five]).await;
    assert!(queued.is_ok(), "the batch waited for retention: {queued:?}");
    batch.batch_execute("COMMIT").await.unwrap();
    let report = running.await.unwrap().unwrap();
    assert_eq!(report.five_minute_buckets_written, 1, "{report:?}");
    store.close().await;
}

/// Returns once some session waits for a lock `batch` holds (an observable state, polled, not a
/// guessed delay); fails if `running` finished without ever waiting.
async fn wait_until_blocked_by<T>(
    batch: &tokio_postgres::Client,
    observer: &tokio_postgres::Client,
    running: &tokio::task::JoinHandle<T>,
    what: &str,
) {
    let batch_pid: i32 = batch.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    for _ in 0..1000 {
        let row = observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND $1 = ANY(pg_blocking_pids(pid))",
                &[&batch_pid],
            )
            .await
            .unwrap();
        if row.get::<_, i64>(0) > 0 {
            return;
        }
        assert!(!running.is_finished(), "{what} did not wait for the batch's row");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what} never waited for the batch's row");
}
