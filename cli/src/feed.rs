//! The spend and notify consumers inside `sluice serve`, fed by the SQLite change feed: the same code the
//! `spend` and `notify` Lambda functions run on the DynamoDB stream. Each consumer keeps its cursor in the
//! settings table, so a restart resumes where it stopped (a change may be consumed twice, which both
//! consumers tolerate: counters are applied once per request id, events are deduplicated by id).

use std::sync::Arc;
use std::time::Duration;

use sluice_adapters::{OsIds, SystemClock};
use sluice_core::notify::{Delivery, NotifierFactory, RetryPolicy, deliver_event};
use sluice_core::spend::consumer::consume_usage;
use sluice_core::store::{SettingsStore, StoreError};
use sluice_sqlite::{Change, FeedKind, SqliteStore};

const BATCH: usize = 100;

/// Starts both consumers; they run until the process ends.
#[expect(
    clippy::disallowed_methods,
    reason = "`sluice serve` is the host: the spend and notify consumers run beside the server for the life of the process"
)]
pub fn spawn(store: Arc<SqliteStore>, notifiers: Arc<dyn NotifierFactory>, poll: Duration) {
    tokio::spawn(run(Arc::clone(&store), FeedKind::Usage, poll, None));
    tokio::spawn(run(store, FeedKind::Event, poll, Some(notifiers)));
}

fn cursor_key(kind: FeedKind) -> &'static str {
    match kind {
        FeedKind::Usage => "feed.cursor.usage",
        FeedKind::Event => "feed.cursor.event",
    }
}

async fn run(
    store: Arc<SqliteStore>,
    kind: FeedKind,
    poll: Duration,
    notifiers: Option<Arc<dyn NotifierFactory>>,
) {
    loop {
        match step(&store, kind, notifiers.as_deref()).await {
            Ok(0) => tokio::time::sleep(poll).await,
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, feed = cursor_key(kind), "change feed step failed; retrying");
                tokio::time::sleep(poll.max(Duration::from_secs(1))).await;
            }
        }
    }
}

/// Consumes one batch; returns how many changes it moved past.
async fn step(
    store: &SqliteStore,
    kind: FeedKind,
    notifiers: Option<&dyn NotifierFactory>,
) -> Result<usize, StoreError> {
    let cursor = store
        .get_setting(cursor_key(kind))
        .await?
        .and_then(|c| c.parse::<i64>().ok())
        .unwrap_or(0);
    let changes = store.changes_after(kind, cursor, BATCH).await?;
    for (seq, change) in &changes {
        consume(store, change, notifiers).await?;
        store
            .put_setting(cursor_key(kind), &seq.to_string())
            .await?;
    }
    Ok(changes.len())
}

async fn consume(
    store: &SqliteStore,
    change: &Change,
    notifiers: Option<&dyn NotifierFactory>,
) -> Result<(), StoreError> {
    match (change, notifiers) {
        (Change::Usage(record), _) => {
            let consumed = consume_usage(store, record, chrono::Utc::now()).await?;
            tracing::debug!(request_id = %record.request_id, applied = consumed.applied, events = consumed.new_events.len(), "usage consumed");
        }
        (Change::Event(event), Some(notifiers)) => {
            match deliver_event(
                store,
                notifiers,
                event,
                RetryPolicy::default(),
                &SystemClock,
                &OsIds,
            )
            .await?
            {
                Delivery::Delivered(record) => {
                    tracing::info!(event_id = %event.id, attempts = record.attempts, "notification delivered");
                }
                Delivery::Failed { record, .. } => {
                    tracing::warn!(event_id = %event.id, attempts = record.attempts, error = ?record.error, "notification not delivered");
                }
                Delivery::Skipped(why) => {
                    tracing::debug!(event_id = %event.id, why, "notification skipped");
                }
            }
        }
        (Change::Event(_), None) => {}
        (
            Change::Unreadable {
                kind,
                reference,
                error,
            },
            _,
        ) => {
            tracing::error!(%kind, %reference, %error, "change feed entry cannot be read; skipped");
        }
    }
    Ok(())
}
