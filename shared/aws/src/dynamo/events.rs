//! `EventStore` on DynamoDB: events by id with a conditional put (the deduplication of thresholds), listed
//! newest first on `gsi1`; the delivery log likewise, expiring after 90 days.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use sluice_core::notify::{DeliveryRecord, NotifyEvent};
use sluice_core::store::{EventStore, StoreError};

use super::error::unavailable;
use super::layout::spend::{
    DELIVERIES_GSI1PK, EVENTS_GSI1PK, delivery_item, event_item, event_item_key, into_delivery,
    into_event,
};
use super::layout::{self, ItemError};
use super::ops::Item;
use super::store::DynamoStore;

impl DynamoStore {
    /// The newest `limit` items of a `gsi1` partition (its `gsi1sk` sorts by time).
    async fn newest(&self, gsi1pk: &str, limit: usize) -> Result<Vec<Item>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(layout::GSI1)
            .key_condition_expression(layout::LIST_FAMILY)
            .expression_attribute_values(
                layout::LIST_FAMILY_PK,
                AttributeValue::S(gsi1pk.to_owned()),
            )
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| unavailable("Query", e))?;
        Ok(output.items.unwrap_or_default())
    }
}

#[async_trait]
impl EventStore for DynamoStore {
    async fn put_event_if_new(&self, event: &NotifyEvent) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(event_item(event).map_err(StoreError::from)?))
            .condition_expression(layout::IS_NEW)
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable("PutItem", e)),
        }
    }

    async fn event_by_id(&self, id: &str) -> Result<Option<NotifyEvent>, StoreError> {
        self.get_consistent(event_item_key(id))
            .await?
            .map(|item| into_event(&item).map_err(StoreError::from))
            .transpose()
    }

    async fn recent_events(&self, limit: usize) -> Result<Vec<NotifyEvent>, StoreError> {
        self.newest(EVENTS_GSI1PK, limit)
            .await?
            .iter()
            .map(|item| into_event(item).map_err(StoreError::from))
            .collect()
    }

    async fn put_delivery(&self, record: &DeliveryRecord) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(delivery_item(record).map_err(StoreError::from)?))
            .send()
            .await
            .map_err(|e| unavailable("PutItem", e))?;
        Ok(())
    }

    async fn recent_deliveries(&self, limit: usize) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.newest(DELIVERIES_GSI1PK, limit)
            .await?
            .iter()
            .map(|item| into_delivery(item).map_err(StoreError::from))
            .collect()
    }
}

/// Decodes a stream image of an event item (`item_type` `notify_event`), for the notify function.
///
/// Takes the SDK's attribute map, the type every read of the adapter decodes, so a stream image and a
/// `GetItem` answer go through the same code. A `NewImage` from `aws_lambda_events` (1.2.1: a
/// `serde_dynamo::Item`) converts with `.into()` (serde_dynamo's `aws-sdk-dynamodb+1` feature). The consumers
/// report a record that does not decode as poison, never retried, whatever the cause.
///
/// # Errors
/// The image is not an event item or does not decode.
pub fn notify_event_from_item(item: &Item) -> Result<NotifyEvent, ItemError> {
    into_event(item)
}

/// Decodes a stream image of a usage item (`item_type` `usage`), for the spend function. Input and error
/// as for [`notify_event_from_item`] (the map by value: the usage decoder consumes it).
///
/// # Errors
/// The image is not a usage item or does not decode.
pub fn usage_record_from_item(item: Item) -> Result<sluice_core::spend::UsageRecord, ItemError> {
    layout::into_usage(item)
}
