//! Request shapes every port uses: conditional puts inside transactions, consistent reads, `gsi1`
//! listings, and the clock for expiry checks.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use serde::Serialize;
use sluice_core::store::StoreError;

use super::error::{corrupt, invalid_request, unavailable};
use super::layout;
use super::store::DynamoStore;

pub(crate) type Item = HashMap<String, AttributeValue>;

impl DynamoStore {
    /// A transaction write that puts `item` only if no item has its key yet.
    pub(crate) fn put_if_new(
        &self,
        item: impl Serialize,
        what: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        self.put_where(item, layout::IS_NEW, what)
    }

    /// A transaction write that puts `item` over an item that exists (a whole replacement).
    pub(crate) fn put_over(
        &self,
        item: impl Serialize,
        what: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        self.put_where(item, layout::EXISTS, what)
    }

    fn put_where(
        &self,
        item: impl Serialize,
        condition: &str,
        what: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let item = serde_dynamo::to_item(item)
            .map_err(|e| corrupt(&format!("cannot encode {what}"), &e))?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .build()
            .map_err(|e| invalid_request(&e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A transaction write that deletes the item at `key` if `condition` holds (`:id` bound to `id` when given,
    /// for `MARKER_OF`).
    pub(crate) fn delete_where(
        &self,
        key: Item,
        condition: &str,
        id: Option<&str>,
    ) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression(condition)
            .set_expression_attribute_values(
                id.map(|id| [(":id".to_owned(), string(id))].into_iter().collect()),
            )
            .build()
            .map_err(|e| invalid_request(&e))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// One strongly consistent `GetItem`: what was written a moment ago is seen.
    pub(crate) async fn get_consistent(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", e))?;
        Ok(output.item)
    }

    /// Every item of one `gsi1` partition, oldest first (`gsi1sk` starts with the creation time).
    pub(crate) async fn list_family(&self, gsi1pk: &str) -> Result<Vec<Item>, StoreError> {
        self.query_gsi1(
            layout::LIST_FAMILY,
            &[(layout::LIST_FAMILY_PK, AttributeValue::S(gsi1pk.to_owned()))],
        )
        .await
    }

    /// Every item a `gsi1` Query with `key_condition` finds, following pages.
    pub(crate) async fn query_gsi1(
        &self,
        key_condition: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(layout::GSI1)
                .key_condition_expression(key_condition)
                .set_exclusive_start_key(start);
            for (name, value) in values {
                query = query.expression_attribute_values(*name, value.clone());
            }
            let page = query.send().await.map_err(|e| unavailable("Query", e))?;
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

/// Whether write `index` of a cancelled transaction failed its condition.
pub(crate) fn condition_failed<R>(
    err: &SdkError<TransactWriteItemsError, R>,
    index: usize,
) -> bool {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            cancelled
                .cancellation_reasons()
                .get(index)
                .and_then(|reason| reason.code())
                == Some("ConditionalCheckFailed")
        }
        _ => false,
    }
}

/// Wall-clock Unix milliseconds, for expiry checks. A clock before 1970 reads as 0.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub(crate) fn number(n: impl std::fmt::Display + Copy) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

pub(crate) fn string(s: &str) -> AttributeValue {
    AttributeValue::S(s.to_owned())
}
