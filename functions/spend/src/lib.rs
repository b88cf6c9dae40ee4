//! The spend function's handler: a DynamoDB Streams batch of usage items in, period spend counters, rollups
//! and budget events out. The work per record is `sluice_core::spend::consumer::consume_usage`, the same code
//! `sluice serve` runs on its SQLite change feed; this crate only unpacks stream records and reports failures.
//!
//! - [`handle`]: one batch → `DynamoDbEventResponse` with the sequence numbers of the records that failed
//!   (the event source mapping has `ReportBatchItemFailures`).
//! - [`process`]: the same, returning what happened to each kind of record (tests and the batch log line).
//!
//! Dependency rule: the store is any backend implementing the spend ports; classifying and decoding a stream
//! image is `sluice_aws::dynamo`'s job (`stream::classify`; it owns the item layout), so no attribute name is
//! spelt here.

use aws_lambda_events::dynamodb::Event;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use chrono::{DateTime, Utc};
use sluice_aws::dynamo::layout::item_type::USAGE;
use sluice_aws::dynamo::stream::{StreamItem, classify};
use sluice_aws::dynamo::usage_record_from_item;
use sluice_core::spend::consumer::consume_usage;
use sluice_core::store::{EventStore, SettingsStore, SpendStore, TeamStore, UserStore};

/// The spend ports `consume_usage` needs.
pub trait SpendBackend: SpendStore + EventStore + SettingsStore + UserStore + TeamStore {}

impl<T> SpendBackend for T where
    T: SpendStore + EventStore + SettingsStore + UserStore + TeamStore + ?Sized
{
}

/// A record the batch reports as failed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `dynamodb.SequenceNumber`; `None` only for a malformed record, which fails the whole batch.
    pub sequence_number: Option<String>,
    /// The usage item's key when the image had one.
    pub pk: Option<String>,
    pub reason: String,
    /// The record can never succeed (it does not decode): retries end in the failure queue.
    pub poison: bool,
}

/// What one batch did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchReport {
    pub records: usize,
    /// Usage records whose counter additions this batch applied.
    pub applied: usize,
    /// Usage records applied before (replays, duplicate stream records): no change.
    pub replayed: usize,
    /// Records that are not the insert of a usage item (the stream filter should have left them out).
    pub skipped_not_insert: usize,
    pub skipped_not_usage: usize,
    /// Budget events stored by this batch.
    pub new_events: usize,
    pub failures: Vec<Failure>,
}

impl BatchReport {
    /// The Lambda answer: each failed record alone, by sequence number. Lambda restarts the shard from the
    /// lowest failed sequence number, so the records after it come again; applying them again changes nothing
    /// (the applied marker), which is why the rest of the batch is still processed now rather than left.
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

/// Consumes a stream batch and answers which records failed.
pub async fn handle<S>(store: &S, event: Event) -> DynamoDbEventResponse
where
    S: SpendBackend + ?Sized,
{
    process(store, event, Utc::now()).await.response()
}

/// Consumes every record of a batch in stream order. A record that does not decode (poison) or whose store
/// writes fail is recorded as a failure on its own; the others are processed regardless.
///
/// Records are consumed one after another, not concurrently: every record adds to the same org counters, and
/// concurrent transactions on one item cancel each other on DynamoDB.
pub async fn process<S>(store: &S, event: Event, now: DateTime<Utc>) -> BatchReport
where
    S: SpendBackend + ?Sized,
{
    let mut report = BatchReport {
        records: event.records.len(),
        ..BatchReport::default()
    };
    for record in event.records {
        let sequence_number = record.change.sequence_number.clone();
        let image = record.change.new_image;
        let decode = |item: serde_dynamo::Item| usage_record_from_item(item.into());
        let usage = match classify(&record.event_name, image, USAGE, decode) {
            StreamItem::NotInsert(name) => {
                tracing::debug!(?sequence_number, event_name = %name, "skipped: not an INSERT");
                report.skipped_not_insert += 1;
                continue;
            }
            StreamItem::OtherType(item_type) => {
                tracing::debug!(?sequence_number, ?item_type, "skipped: not a usage item");
                report.skipped_not_usage += 1;
                continue;
            }
            StreamItem::Poison { pk, reason } => {
                tracing::error!(?sequence_number, ?pk, %reason, "usage image does not decode");
                report.failures.push(Failure {
                    sequence_number,
                    pk,
                    reason,
                    poison: true,
                });
                continue;
            }
            StreamItem::Wanted(usage) => usage,
        };
        match consume_usage(store, &usage, now).await {
            Ok(consumed) => {
                if consumed.applied {
                    report.applied += 1;
                } else {
                    report.replayed += 1;
                }
                report.new_events += consumed.new_events.len();
            }
            Err(e) => {
                tracing::warn!(?sequence_number, request_id = %usage.request_id, error = %e,
                    "usage record not consumed; the stream retries it");
                report.failures.push(Failure {
                    sequence_number,
                    pk: Some(format!("USAGE#{}", usage.request_id)),
                    reason: e.to_string(),
                    poison: false,
                });
            }
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
        applied = report.applied,
        replayed = report.replayed,
        skipped_not_insert = report.skipped_not_insert,
        skipped_not_usage = report.skipped_not_usage,
        new_events = report.new_events,
        failed = report.failures.len(),
        "spend batch"
    );
    report
}
