//! The durable fallback of the usage ledger on AWS: records the table keeps refusing go to an SQS queue (one JSON
//! message each, kept 14 days), and `replay_sqs` puts them into the table later. `put_usage` is idempotent by request
//! id, so a replay after a partial one, or a record that reached both the table and the queue, is counted once.

use async_trait::async_trait;
use aws_config::SdkConfig;
use sluice_core::spend::UsageRecord;
use sluice_core::store::{StoreError, UsageFallback, UsageStore};

#[derive(Debug, Clone)]
pub struct SqsUsageFallback {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsUsageFallback {
    #[must_use]
    pub fn new(config: &SdkConfig, queue_url: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_sqs::Client::new(config),
            queue_url: queue_url.into(),
        }
    }
}

fn describe<E: std::error::Error + 'static>(e: E) -> String {
    aws_smithy_types::error::display::DisplayErrorContext(e).to_string()
}

/// Why a replay stopped (what was replayed before stays replayed).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// SQS refused or could not be reached (its message, with the SDK's context).
    #[error("{0}")]
    Sqs(String),
    /// The store refused a record.
    #[error("{0}")]
    Store(#[from] StoreError),
}

#[async_trait]
impl UsageFallback for SqsUsageFallback {
    async fn stash(&self, record: &UsageRecord) -> Result<(), StoreError> {
        let body = serde_json::to_string(record)
            .map_err(|e| StoreError::Unavailable(format!("usage record as JSON: {e}"), None))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| {
                let message = format!(
                    "SQS SendMessage: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                );
                StoreError::Unavailable(message, Some(Box::new(e)))
            })?;
        Ok(())
    }
}

/// What a replay did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplayReport {
    /// Records stored by this replay.
    pub stored: usize,
    /// Records the store already had (idempotent by request id).
    pub already_stored: usize,
    /// Messages that are not usage records; left in the queue for a person to look at.
    pub unreadable: usize,
}

/// Moves every record from the queue into `store`, deleting each message once its record is stored. Stops when
/// the queue answers empty.
///
/// # Errors
/// When SQS or the store fails; what was replayed before stays replayed.
pub async fn replay_sqs(
    config: &SdkConfig,
    queue_url: &str,
    store: &dyn UsageStore,
) -> Result<ReplayReport, ReplayError> {
    let client = aws_sdk_sqs::Client::new(config);
    let mut report = ReplayReport::default();
    loop {
        let batch = client
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .visibility_timeout(60)
            .send()
            .await
            .map_err(|e| ReplayError::Sqs(describe(e)))?;
        let messages = batch.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(report);
        }
        let mut progress = false;
        for message in messages {
            let record: UsageRecord = match message.body().map(serde_json::from_str) {
                Some(Ok(r)) => r,
                _ => {
                    report.unreadable += 1;
                    tracing::warn!(message_id = ?message.message_id(), "usage fallback message is not a usage record");
                    continue;
                }
            };
            progress = true;
            if store.put_usage(&record).await? {
                report.stored += 1;
            } else {
                report.already_stored += 1;
            }
            if let Some(handle) = message.receipt_handle() {
                client
                    .delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| ReplayError::Sqs(describe(e)))?;
            }
        }
        if !progress {
            // Only unreadable messages are left (they stay hidden for the visibility timeout): done.
            return Ok(report);
        }
    }
}
