//! `UsageStore` on DynamoDB: one conditional `PutItem` per record (a retry finds the item and stores
//! nothing), consistent `GetItem` by request id, and one `gsi1` Query per UTC day for a time range.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use sluice_core::spend::UsageRecord;
use sluice_core::store::{StoreError, UsageStore};

use super::error::{corrupt, unavailable};
use super::layout;
use super::ops::{Item, string};
use super::store::DynamoStore;

impl DynamoStore {
    /// Every usage item of one UTC day with `from_ms <= time < to_ms`, following pages.
    async fn usage_of_day(
        &self,
        day: i64,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<Item>, StoreError> {
        self.query_gsi1(
            layout::USAGE_OF_DAY,
            &[
                (layout::USAGE_DAY, string(&layout::usage_day_gsi1pk(day))),
                (layout::USAGE_FROM, string(&layout::usage_sk_bound(from_ms))),
                (layout::USAGE_TO, string(&layout::usage_sk_bound(to_ms))),
            ],
        )
        .await
    }
}

#[async_trait]
impl UsageStore for DynamoStore {
    async fn put_usage(&self, record: &UsageRecord) -> Result<bool, StoreError> {
        let item = layout::usage_item(record)
            .map_err(|e| corrupt(&format!("cannot encode usage {}", record.request_id), &e))?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(layout::IS_NEW)
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                tracing::debug!(request_id = %record.request_id, "usage already stored");
                Ok(false)
            }
            Err(e) => Err(unavailable("PutItem", e)),
        }
    }

    async fn usage_by_request(&self, request_id: &str) -> Result<Option<UsageRecord>, StoreError> {
        let Some(item) = self
            .get_consistent(layout::usage_item_key(request_id))
            .await?
        else {
            return Ok(None);
        };
        layout::into_usage(item).map(Some).map_err(StoreError::from)
    }

    async fn usage_between(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<UsageRecord>, StoreError> {
        if from_ms >= to_ms {
            return Ok(Vec::new());
        }
        let mut records = Vec::new();
        // `to_ms` is exclusive, so the last day is the one of the millisecond before it.
        for day in layout::day_of(from_ms)..=layout::day_of(to_ms - 1) {
            for item in self.usage_of_day(day, from_ms, to_ms).await? {
                let record = layout::into_usage(item).map_err(StoreError::from)?;
                // The index is eventually consistent and keyed by clamped times; the range is the contract.
                if (from_ms..to_ms).contains(&record.time_ms) {
                    records.push(record);
                }
            }
        }
        records.sort_by(|a, b| (a.time_ms, &a.request_id).cmp(&(b.time_ms, &b.request_id)));
        Ok(records)
    }
}
