//! The notify function's handler: a DynamoDB Streams batch of budget and rate-limit events in, deliveries to
//! the active destination (webhook, SNS topic, EventBridge bus) out. The work per event is
//! `sluice_core::notify::deliver_event`, the same code `sluice serve` runs on its SQLite change feed; this crate
//! unpacks stream records, avoids sending an event twice and reports failures.
//!
//! - [`handle`]: one batch → `DynamoDbEventResponse` with the sequence numbers of the records to hand back
//!   (the event source mapping has `ReportBatchItemFailures`).
//! - [`process`]: the same, returning what happened (tests and the batch log line), with the wait between
//!   attempts handed in.
//!
//! Dependency rule: the store is any backend implementing `SettingsStore + EventStore`; classifying and decoding
//! a stream image is `sluice_aws::dynamo`'s job (`stream::classify`; it owns the item layout), so no attribute
//! name is spelt here.

use std::collections::HashSet;

use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use futures::StreamExt;
use sluice_adapters::{OsIds, SystemClock};
use sluice_aws::dynamo::layout::item_type::NOTIFY_EVENT;
use sluice_aws::dynamo::notify_event_from_item;
use sluice_aws::dynamo::stream::{StreamItem, classify};
use sluice_core::clock::{Clock, Ids};
use sluice_core::notify::{Delivery, NotifierFactory, RetryPolicy, deliver_event};
use sluice_core::store::{EventStore, SettingsStore};

/// Events delivered at once. Each may spend tens of seconds on a slow receiver (retries, 10 s timeouts); doing
/// a few together keeps a batch within the function's time limit without flooding one receiver.
const CONCURRENCY: usize = 4;

/// How far back the delivery log is read to recognise events already delivered. A partial batch failure makes
/// Lambda send the records after the failed one again; they were delivered minutes ago, well within this window.
const RECENT_DELIVERIES: usize = 200;

/// The ports `deliver_event` needs.
pub trait NotifyBackend: SettingsStore + EventStore {}

impl<T> NotifyBackend for T where T: SettingsStore + EventStore + ?Sized {}

/// A record the batch reports as failed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `dynamodb.SequenceNumber`; `None` only for a malformed record, which fails the whole batch.
    pub sequence_number: Option<String>,
    /// The event's id when the image decoded.
    pub event_id: Option<String>,
    pub reason: String,
    /// The record can never succeed (it does not decode): retries end in the failure destination.
    pub poison: bool,
}

/// What one batch did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchReport {
    pub records: usize,
    pub delivered: usize,
    /// Delivered before (the delivery log has a success for the event id): not sent again.
    pub already_delivered: usize,
    /// No active destination, or the event's category is off.
    pub skipped: usize,
    /// Every attempt failed and retrying cannot help (e.g. unknown topic, HTTP 404): logged, not handed back.
    pub refused: usize,
    /// Records that are not the insert of an event item (the stream filter should have left them out).
    pub skipped_not_insert: usize,
    pub skipped_not_event: usize,
    pub failures: Vec<Failure>,
}

impl BatchReport {
    /// The Lambda answer: each failed record by sequence number.
    #[must_use]
    pub fn response(&self) -> DynamoDbEventResponse {
        let mut response = DynamoDbEventResponse::default();
        response.batch_item_failures = self
            .failures
            .iter()
            .map(|failure| {
                let mut item = DynamoDbBatchItemFailure::default();
                item.item_identifier.clone_from(&failure.sequence_number);
                item
            })
            .collect();
        response
    }
}

/// Delivers a stream batch with `retry`, the system clock's real waits and random jitter, and answers which records to hand back.
pub async fn handle<S>(
    store: &S,
    factory: &dyn NotifierFactory,
    event: Event,
    retry: RetryPolicy,
) -> DynamoDbEventResponse
where
    S: NotifyBackend + ?Sized,
{
    process(store, factory, event, retry, &SystemClock, &OsIds)
        .await
        .response()
}

/// What happened to one record.
enum Outcome {
    NotInsert,
    NotEvent,
    AlreadyDelivered,
    Delivery(Delivery),
    Failed(Failure),
}

/// Delivers every event of a batch (a few at a time) and reports each record's fate.
///
/// A record is handed back (a batch item failure) when it does not decode, when the store fails, or when every
/// attempt failed in a way a later try may fix. Lambda then resends the batch from the lowest failed sequence
/// number, so events after it come again: those the delivery log shows as delivered are not sent twice.
pub async fn process<S>(
    store: &S,
    factory: &dyn NotifierFactory,
    event: Event,
    retry: RetryPolicy,
    clock: &dyn Clock,
    ids: &dyn Ids,
) -> BatchReport
where
    S: NotifyBackend + ?Sized,
{
    let mut report = BatchReport {
        records: event.records.len(),
        ..BatchReport::default()
    };
    let delivered_before = delivered_event_ids(store).await;
    let delivered_before = &delivered_before;
    let outcomes: Vec<Outcome> = futures::stream::iter(event.records)
        .map(|record| async move {
            let sequence_number = record.change.sequence_number.clone();
            let image = record.change.new_image;
            let decode = |item: serde_dynamo::Item| notify_event_from_item(&item.into());
            let event = match classify(&record.event_name, image, NOTIFY_EVENT, decode) {
                StreamItem::NotInsert(name) => {
                    tracing::debug!(?sequence_number, event_name = %name, "skipped: not an INSERT");
                    return Outcome::NotInsert;
                }
                StreamItem::OtherType(item_type) => {
                    tracing::debug!(?sequence_number, ?item_type, "skipped: not an event item");
                    return Outcome::NotEvent;
                }
                StreamItem::Poison { pk, reason } => {
                    tracing::error!(?sequence_number, ?pk, %reason, "event image does not decode");
                    return Outcome::Failed(Failure {
                        sequence_number,
                        event_id: None,
                        reason,
                        poison: true,
                    });
                }
                StreamItem::Wanted(event) => event,
            };
            if delivered_before.contains(&event.id) {
                tracing::info!(event_id = %event.id, "already delivered; not sent again");
                return Outcome::AlreadyDelivered;
            }
            match deliver_event(store, factory, &event, retry, clock, ids).await {
                Ok(Delivery::Failed {
                    record,
                    retry_later: true,
                }) => {
                    tracing::warn!(event_id = %event.id, attempts = record.attempts, error = ?record.error,
                        "notification not delivered; the stream retries it");
                    Outcome::Failed(Failure {
                        sequence_number,
                        event_id: Some(event.id.clone()),
                        reason: record.error.unwrap_or_default(),
                        poison: false,
                    })
                }
                Ok(delivery) => Outcome::Delivery(delivery),
                Err(e) => {
                    tracing::warn!(event_id = %event.id, error = %e, "store failed; the stream retries the event");
                    Outcome::Failed(Failure {
                        sequence_number,
                        event_id: Some(event.id.clone()),
                        reason: e.to_string(),
                        poison: false,
                    })
                }
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    for outcome in outcomes {
        match outcome {
            Outcome::NotInsert => report.skipped_not_insert += 1,
            Outcome::NotEvent => report.skipped_not_event += 1,
            Outcome::AlreadyDelivered => report.already_delivered += 1,
            Outcome::Delivery(Delivery::Delivered(record)) => {
                tracing::info!(event_id = %record.event_id, attempts = record.attempts,
                    reference = ?record.reference, "notification delivered");
                report.delivered += 1;
            }
            Outcome::Delivery(Delivery::Failed { record, .. }) => {
                tracing::error!(event_id = %record.event_id, attempts = record.attempts, error = ?record.error,
                    "notification refused by the destination; not retried (see the delivery log)");
                report.refused += 1;
            }
            Outcome::Delivery(Delivery::Skipped(why)) => {
                tracing::info!(why, "notification not sent");
                report.skipped += 1;
            }
            Outcome::Failed(failure) => report.failures.push(failure),
        }
    }
    for failure in &report.failures {
        if failure.sequence_number.is_none() {
            tracing::error!(reason = %failure.reason,
                "a failed record has no sequence number: the whole batch is reported failed");
        }
    }
    tracing::info!(
        records = report.records,
        delivered = report.delivered,
        already_delivered = report.already_delivered,
        skipped = report.skipped,
        refused = report.refused,
        skipped_not_insert = report.skipped_not_insert,
        skipped_not_event = report.skipped_not_event,
        failed = report.failures.len(),
        "notify batch"
    );
    report
}

/// Event ids with a successful delivery in the recent log. A failed read only costs the protection against
/// duplicates, so it is logged and the batch goes on.
async fn delivered_event_ids<S: NotifyBackend + ?Sized>(store: &S) -> HashSet<String> {
    match store.recent_deliveries(RECENT_DELIVERIES).await {
        Ok(records) => records
            .into_iter()
            .filter(|r| r.success)
            .map(|r| r.event_id)
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "delivery log unreadable; events resent after a partial failure may arrive twice");
            HashSet::new()
        }
    }
}
