//! `PolicyStore` on DynamoDB: the document is the `policies` setting item, replaced in one transaction with the
//! put of its change item, on the condition that its `policy_version` is the one the caller read; changes are
//! listed newest first by one Query of their partition.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use sluice_core::store::{POLICIES_SETTING, PolicyChange, PolicyStore, StoreError};

use super::error::{corrupt, invalid_request, unavailable};
use super::layout::{self, PolicyChangeItem, PolicyDocumentItem};
use super::ops::{condition_failed, number, string};
use super::store::DynamoStore;

/// Position of each write in the replace transaction.
const DOCUMENT_WRITE: usize = 0;
const CHANGE_WRITE: usize = 1;

impl DynamoStore {
    /// The put of the new document, only over the version `expected` (or, for 0, over none).
    fn put_policies(&self, expected: u64, document: &str) -> Result<TransactWriteItem, StoreError> {
        let item = serde_dynamo::to_item(PolicyDocumentItem::new(expected + 1, document))
            .map_err(|e| corrupt("cannot encode the policy document", &e))?;
        let condition = if expected == 0 {
            layout::POLICY_VERSION_IS_ZERO_OR_ABSENT
        } else {
            layout::POLICY_VERSION_IS
        };
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .expression_attribute_values(layout::EXPECTED_VERSION, number(expected))
            .build()
            .map_err(|e| invalid_request(&e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

#[async_trait]
impl PolicyStore for DynamoStore {
    async fn policies(&self) -> Result<Option<(u64, String)>, StoreError> {
        let Some(item) = self
            .get_consistent(layout::setting_item_key(POLICIES_SETTING))
            .await?
        else {
            return Ok(None);
        };
        let stored: PolicyDocumentItem =
            serde_dynamo::from_item(item).map_err(|e| corrupt("policy document", &e))?;
        stored.into_document().map(Some).map_err(StoreError::from)
    }

    async fn replace_policies(
        &self,
        expected: u64,
        document: &str,
        change: &PolicyChange,
    ) -> Result<bool, StoreError> {
        let written = self
            .client
            .transact_write_items()
            .transact_items(self.put_policies(expected, document)?)
            .transact_items(self.put_if_new(PolicyChangeItem::from(change), "policy change")?)
            .send()
            .await;
        match written {
            Ok(_) => Ok(true),
            // Another replace got there first: the caller reads the new version and decides again.
            Err(e) if condition_failed(&e, DOCUMENT_WRITE) => Ok(false),
            Err(e) if condition_failed(&e, CHANGE_WRITE) => Err(StoreError::AlreadyExists(
                format!("policy change {}", change.id),
            )),
            Err(e) => Err(unavailable("TransactWriteItems", e)),
        }
    }

    async fn policy_changes(&self, limit: usize) -> Result<Vec<PolicyChange>, StoreError> {
        // DynamoDB refuses a Limit of 0.
        if limit == 0 {
            return Ok(Vec::new());
        }
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(layout::LIST_POLICY_CHANGES)
            .expression_attribute_values(
                layout::LIST_POLICY_CHANGES_PK,
                string(layout::POLICY_CHANGE_PK),
            )
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("Query", e))?;
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| {
                let stored: PolicyChangeItem =
                    serde_dynamo::from_item(item).map_err(|e| corrupt("policy change item", &e))?;
                stored.into_change().map_err(StoreError::from)
            })
            .collect()
    }
}
