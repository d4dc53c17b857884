//! Hearing, on PostgreSQL, that another hub changed the settings: one connection per store
//! `LISTEN`s on [`SETTINGS_CHANNEL`], which every settings update `NOTIFY`s inside its
//! transaction (PostgreSQL delivers it on commit). Each notification moves a watch value on, and
//! the store's rules cache drops what it holds (`ops::alerts::RulesCache`).
//!
//! A notification sent while nobody listens is lost, so the value is `None` whenever the
//! connection is down, and caching stops until it is back (then the value moves on too, since
//! a change may have been missed meanwhile).

use std::future::poll_fn;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, NoTls};

/// The channel settings updates notify.
pub(crate) const SETTINGS_CHANNEL: &str = "homelab_settings";

/// Longest wait before connecting again after a failure.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The listening task; stopped when dropped (with the backend).
pub(crate) struct SettingsListener {
    changes: watch::Receiver<Option<u64>>,
    task: JoinHandle<()>,
}

impl SettingsListener {
    pub(crate) fn start(config: tokio_postgres::Config) -> Self {
        let (sender, changes) = watch::channel(None);
        SettingsListener { changes, task: tokio::spawn(listen(config, sender)) }
    }

    pub(crate) fn changes(&self) -> watch::Receiver<Option<u64>> {
        self.changes.clone()
    }
}

impl Drop for SettingsListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn listen(config: tokio_postgres::Config, changes: watch::Sender<Option<u64>>) {
    let mut heard = 0u64;
    let mut backoff = Duration::from_millis(200);
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                // The connection hands notifications to whoever polls it; the client's own
                // requests are answered through the same polling.
                let (notified, mut notifications) = tokio::sync::mpsc::unbounded_channel();
                let driver = tokio::spawn(async move {
                    while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
                        match message {
                            Ok(AsyncMessage::Notification(_)) => {
                                if notified.send(()).is_err() {
                                    break;
                                }
                            }
                            Ok(_) => {}
                            Err(error) => {
                                tracing::warn!(%error, "the settings listener's PostgreSQL connection failed");
                                break;
                            }
                        }
                    }
                });
                match client.batch_execute(&format!("LISTEN {SETTINGS_CHANNEL}")).await {
                    Ok(()) => {
                        backoff = Duration::from_millis(200);
                        heard += 1;
                        changes.send_replace(Some(heard));
                        while notifications.recv().await.is_some() {
                            heard += 1;
                            changes.send_replace(Some(heard));
                        }
                    }
                    Err(error) => tracing::warn!(%error, "cannot listen for settings changes"),
                }
                changes.send_replace(None);
                driver.abort();
            }
            Err(error) => {
                changes.send_replace(None);
                tracing::warn!(%error, "cannot connect to listen for settings changes; rules are read per heartbeat meanwhile");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
