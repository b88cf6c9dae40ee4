//! The notify consumer: delivers one stored event to the active destination, with retries, and logs the
//! delivery. The same code runs in `functions/notify` (DynamoDB Streams) and in `sluice serve`.

use std::sync::Arc;

use super::destination::{Destination, DestinationError};
use super::event::{
    ACTIVE_CONFIG_KEY, DeliveryRecord, NotificationConfig, NotifyEvent, destination_value,
};
use super::payload::NotificationPayload;
use super::port::Notifier;
use super::retry::{Backoff, DeliveryLog, deliver_with_retries};
#[cfg(doc)]
use super::webhook_target::WebhookPolicy;
use crate::clock::{Clock, Ids};
use crate::store::{EventStore, SettingsStore, StoreError};

/// Builds the adapter for a destination (webhook in `sluice-adapters`, SNS and EventBridge in `sluice-aws`).
pub trait NotifierFactory: Send + Sync {
    fn notifier(&self, destination: &Destination) -> Arc<dyn Notifier>;

    /// Checks a destination before it is saved: its URL or ARN, a webhook against the [`WebhookPolicy`] the
    /// factory delivers under (`PublicHttps` unless the factory says otherwise), so a saved destination is one
    /// this factory will deliver to.
    ///
    /// # Errors
    /// The first problem found.
    fn validate(&self, destination: &Destination) -> Result<(), DestinationError> {
        destination.validate()
    }
}

/// How many attempts one delivery makes, and how long it waits between them.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub backoff: Backoff,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            backoff: Backoff::default(),
        }
    }
}

/// What happened to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Delivered(DeliveryRecord),
    /// Every attempt failed. `retry_later` says whether the stream should hand the event back (the failure
    /// was transient); a permanent refusal is only logged.
    Failed {
        record: DeliveryRecord,
        retry_later: bool,
    },
    /// Not sent: no active destination, or its categories exclude the event.
    Skipped(&'static str),
}

/// The active destination, if one is configured and readable.
///
/// # Errors
/// The store failed.
pub async fn active_config<S: SettingsStore + ?Sized>(
    store: &S,
) -> Result<Option<NotificationConfig>, StoreError> {
    config_at(store, ACTIVE_CONFIG_KEY).await
}

/// The configuration stored under `key` (`ACTIVE_CONFIG_KEY` or `DRAFT_CONFIG_KEY`). Settings cannot be
/// deleted, so a removed configuration is stored as JSON `null` and read back as `None`.
///
/// # Errors
/// The store failed, or the value is not a configuration.
pub async fn config_at<S: SettingsStore + ?Sized>(
    store: &S,
    key: &str,
) -> Result<Option<NotificationConfig>, StoreError> {
    crate::settings_json::load_strict(store, key).await
}

/// Delivers `event` to the active destination and logs the delivery.
///
/// # Errors
/// The store failed (reading the configuration or writing the log).
pub async fn deliver_event<S>(
    store: &S,
    factory: &dyn NotifierFactory,
    event: &NotifyEvent,
    retry: RetryPolicy,
    clock: &dyn Clock,
    ids: &dyn Ids,
) -> Result<Delivery, StoreError>
where
    S: SettingsStore + EventStore + ?Sized,
{
    let Some(config) = active_config(store).await? else {
        tracing::info!(event_id = %event.id, "no active notification destination; event not sent");
        return Ok(Delivery::Skipped("no active destination"));
    };
    if !config.categories.enabled(event.payload.category) {
        return Ok(Delivery::Skipped("category disabled"));
    }
    let record = send(
        factory,
        &config.destination,
        &event.id,
        &event.payload,
        retry,
        clock,
        ids,
    )
    .await;
    store.put_delivery(&record.0).await?;
    Ok(match record {
        (record, None) => Delivery::Delivered(record),
        (record, Some(retry_later)) => Delivery::Failed {
            record,
            retry_later,
        },
    })
}

/// One delivery with retries, as a log record; the second value is `Some(retryable)` on failure.
pub async fn send(
    factory: &dyn NotifierFactory,
    destination: &Destination,
    event_id: &str,
    payload: &NotificationPayload,
    retry: RetryPolicy,
    clock: &dyn Clock,
    ids: &dyn Ids,
) -> (DeliveryRecord, Option<bool>) {
    let notifier = factory.notifier(destination);
    let started = clock.monotonic();
    let at = clock.now();
    let log: DeliveryLog = deliver_with_retries(
        notifier.as_ref(),
        payload,
        retry.attempts,
        &retry.backoff,
        clock,
        ids,
    )
    .await;
    let failure = log
        .result
        .as_ref()
        .err()
        .map(super::port::NotifyError::is_retryable);
    let record = DeliveryRecord {
        id: format!("{:015}#{:08x}", at.timestamp_millis(), ids.next_u32()),
        event_id: event_id.to_owned(),
        event_type: payload.event_type.as_str().to_owned(),
        destination_type: destination.kind().to_owned(),
        destination_value: destination_value(destination).to_owned(),
        at_ms: at.timestamp_millis(),
        attempts: u32::try_from(log.attempts.len()).unwrap_or(u32::MAX),
        success: log.result.is_ok(),
        reference: log.result.as_ref().ok().map(|r| r.reference.clone()),
        error: log.result.as_ref().err().map(ToString::to_string),
        duration_ms: u64::try_from(clock.monotonic().saturating_sub(started).as_millis())
            .unwrap_or(u64::MAX),
    };
    (record, failure)
}
