//! `CounterStore` on DynamoDB: the conditional increment is ONE `UpdateItem` (`ADD` under a condition on
//! the current count), so concurrent admissions from any number of Lambda instances never pass the bound.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use sluice_core::store::{CounterStore, StoreError};

use super::error::{corrupt, unavailable};
use super::layout::{self, CounterItem, item_type};
use super::ops::{number, string};
use super::store::DynamoStore;

fn count_of(value: Option<&AttributeValue>, scope: &str) -> Result<u64, StoreError> {
    value
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            StoreError::Corrupt(format!("counter {scope} has no numeric cnt: {value:?}"))
        })
}

#[async_trait]
impl CounterStore for DynamoStore {
    async fn increment_below(
        &self,
        scope: &str,
        window_start_s: i64,
        bound: u64,
        expires_at_s: i64,
    ) -> Result<Option<u64>, StoreError> {
        if bound == 0 {
            // Nothing can be admitted; not worth a write unit.
            return Ok(None);
        }
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(layout::counter_item_key(scope, window_start_s)))
            .update_expression(layout::INCREMENT)
            .condition_expression(layout::BELOW_BOUND)
            .expression_attribute_values(":one", number(1))
            .expression_attribute_values(":exp", number(expires_at_s))
            .expression_attribute_values(":t", string(item_type::COUNTER))
            .expression_attribute_values(":bound", number(bound))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match updated {
            Ok(output) => {
                let attributes = output.attributes.unwrap_or_default();
                count_of(attributes.get(layout::COUNT), scope).map(Some)
            }
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(None)
            }
            Err(e) => Err(unavailable("UpdateItem", e)),
        }
    }

    async fn window_count(&self, scope: &str, window_start_s: i64) -> Result<u64, StoreError> {
        let Some(item) = self
            .get_consistent(layout::counter_item_key(scope, window_start_s))
            .await?
        else {
            return Ok(0);
        };
        let stored: CounterItem = serde_dynamo::from_item(item)
            .map_err(|e| corrupt(&format!("counter {scope} window {window_start_s}"), &e))?;
        stored.into_count().map_err(StoreError::from)
    }
}
