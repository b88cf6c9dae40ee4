//! `KeyStore` on DynamoDB. A key is two items written in one transaction: the key item, addressed by
//! hash (the authentication hot path is one strongly consistent `GetItem`), and a pointer from its id. Deleting
//! removes both in one transaction.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use sluice_core::store::{KeyStore, KeyUpdate, StoreError, VirtualKey};

use super::error::{corrupt, unavailable};
use super::layout::{self, KeyIdItem, KeyItem};
use super::ops::{condition_failed, number, string};
use super::store::DynamoStore;

/// Position of each write in the create transaction, to tell which condition failed.
const KEY_ITEM_WRITE: usize = 0;
const KEY_ID_ITEM_WRITE: usize = 1;

impl DynamoStore {
    /// The hash the id pointer names, read strongly consistent so a key just created can be revoked.
    async fn key_hash_of(&self, id: &str) -> Result<Option<String>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(layout::key_id_item_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", e))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let pointer: KeyIdItem =
            serde_dynamo::from_item(item).map_err(|e| corrupt(&format!("key id item {id}"), &e))?;
        Ok(Some(pointer.key_hash))
    }
}

/// The `UpdateItem` expression of a partial key update: `SET` for given values, `REMOVE` for cleared optional
/// fields (absent, never NULL, as created), with every attribute behind a `#` name (`name` is reserved).
fn update_expression(update: &KeyUpdate) -> (String, Vec<(String, AttributeValue)>) {
    let mut set = Vec::new();
    let mut remove = Vec::new();
    let mut values = Vec::new();
    let mut field = |attr: &str, value: Option<Option<AttributeValue>>| match value {
        None => {}
        Some(None) => remove.push(format!("#{attr}")),
        Some(Some(v)) => {
            set.push(format!("#{attr} = :{attr}"));
            values.push((format!(":{attr}"), v));
        }
    };
    field("name", update.name.as_deref().map(|n| Some(string(n))));
    field(
        "user_id",
        update.user_id.as_ref().map(|u| u.as_deref().map(string)),
    );
    field(
        "team_id",
        update.team_id.as_ref().map(|t| t.as_deref().map(string)),
    );
    field(
        "rate_limit_rpm",
        update.rate_limit_rpm.map(|r| r.map(number)),
    );
    let mut expression = String::new();
    if !set.is_empty() {
        expression = format!("SET {}", set.join(", "));
    }
    if !remove.is_empty() {
        if !expression.is_empty() {
            expression.push(' ');
        }
        expression.push_str(&format!("REMOVE {}", remove.join(", ")));
    }
    (expression, values)
}

const KEY_UPDATE_ATTRIBUTES: [&str; 4] = ["name", "user_id", "team_id", "rate_limit_rpm"];

fn decode_key_map(item: HashMap<String, AttributeValue>) -> Result<VirtualKey, StoreError> {
    let stored: KeyItem = serde_dynamo::from_item(item).map_err(|e| corrupt("key item", &e))?;
    stored.into_key().map_err(StoreError::from)
}

/// Which condition of the create transaction failed, if that is why it was cancelled.
fn create_error<R: std::fmt::Debug + Send + Sync + 'static>(
    err: SdkError<TransactWriteItemsError, R>,
    key: &VirtualKey,
) -> StoreError {
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        err.as_service_error()
    {
        let failed = |index: usize| {
            cancelled
                .cancellation_reasons()
                .get(index)
                .and_then(|reason| reason.code())
                == Some("ConditionalCheckFailed")
        };
        if failed(KEY_ITEM_WRITE) {
            return StoreError::AlreadyExists(format!("a key with hash {}", key.key_hash));
        }
        if failed(KEY_ID_ITEM_WRITE) {
            return StoreError::AlreadyExists(format!("key {}", key.id));
        }
    }
    // Also a cancelled transaction for another reason (TransactionConflict, throttling): retryable.
    unavailable("TransactWriteItems", err)
}

#[async_trait]
impl KeyStore for DynamoStore {
    async fn create_key(&self, key: &VirtualKey) -> Result<(), StoreError> {
        // Both conditions in one transaction: the id and the hash are each unique, and no failed create
        // leaves half a key behind.
        self.client
            .transact_write_items()
            .transact_items(self.put_if_new(KeyItem::from(key), "key")?)
            .transact_items(self.put_if_new(KeyIdItem::from(key), "key id")?)
            .send()
            .await
            .map_err(|e| create_error(e, key))?;
        Ok(())
    }

    async fn key_by_hash(&self, key_hash: &str) -> Result<Option<VirtualKey>, StoreError> {
        // Strongly consistent: a key revoked a moment ago must stop authenticating now, not after
        // replication catches up.
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(layout::key_item_key(key_hash)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", e))?;
        output.item.map(decode_key_map).transpose()
    }

    async fn key_by_id(&self, id: &str) -> Result<Option<VirtualKey>, StoreError> {
        let Some(key_hash) = self.key_hash_of(id).await? else {
            return Ok(None);
        };
        match self.key_by_hash(&key_hash).await? {
            Some(key) => Ok(Some(key)),
            None => Err(StoreError::Corrupt(format!(
                "key id {id} points at a missing key item"
            ))),
        }
    }

    async fn list_keys(&self) -> Result<Vec<VirtualKey>, StoreError> {
        let mut keys = Vec::new();
        let mut start = None;
        loop {
            // Newest first: `gsi1sk` starts with the zero-padded creation time, read backwards.
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(layout::GSI1)
                .key_condition_expression(layout::LIST_KEYS)
                .expression_attribute_values(layout::LIST_KEYS_PK, layout::keys_gsi1pk())
                .scan_index_forward(false)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| unavailable("Query", e))?;
            for item in page.items.unwrap_or_default() {
                keys.push(decode_key_map(item)?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(keys);
            }
        }
    }

    async fn revoke_key(&self, id: &str, at_ms: i64) -> Result<Option<VirtualKey>, StoreError> {
        let Some(key_hash) = self.key_hash_of(id).await? else {
            return Ok(None);
        };
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(layout::key_item_key(&key_hash)))
            .update_expression(layout::REVOKE)
            .condition_expression(layout::EXISTS)
            .expression_attribute_values(layout::REVOKE_AT, AttributeValue::N(at_ms.to_string()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match updated {
            Ok(output) => output
                .attributes
                .map(decode_key_map)
                .transpose()?
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt(format!("revoke of {id} returned no item"))),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Err(StoreError::Corrupt(format!(
                    "key id {id} points at a missing key item"
                )))
            }
            Err(e) => Err(unavailable("UpdateItem", e)),
        }
    }

    async fn update_key(
        &self,
        id: &str,
        update: &KeyUpdate,
    ) -> Result<Option<VirtualKey>, StoreError> {
        if update.is_empty() {
            return self.key_by_id(id).await;
        }
        let Some(key_hash) = self.key_hash_of(id).await? else {
            return Ok(None);
        };
        let (expression, values) = update_expression(update);
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(layout::key_item_key(&key_hash)))
            .update_expression(expression)
            .condition_expression(layout::EXISTS)
            .return_values(ReturnValue::AllNew);
        for attr in KEY_UPDATE_ATTRIBUTES {
            let placeholder = format!("#{attr}");
            if request
                .get_update_expression()
                .as_deref()
                .is_some_and(|e| e.contains(&placeholder))
            {
                request = request.expression_attribute_names(placeholder, attr);
            }
        }
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        match request.send().await {
            Ok(output) => output.attributes.map(decode_key_map).transpose(),
            // Deleted by a concurrent call between reading the pointer and updating.
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(None)
            }
            Err(e) => Err(unavailable("UpdateItem", e)),
        }
    }

    async fn delete_key(&self, id: &str) -> Result<bool, StoreError> {
        let Some(key_hash) = self.key_hash_of(id).await? else {
            return Ok(false);
        };
        let deleted = self
            .client
            .transact_write_items()
            .transact_items(self.delete_where(
                layout::key_item_key(&key_hash),
                layout::EXISTS,
                None,
            )?)
            .transact_items(self.delete_where(layout::key_id_item_key(id), layout::EXISTS, None)?)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(true),
            // Deleted by a concurrent call between our read and our write.
            Err(e)
                if condition_failed(&e, KEY_ITEM_WRITE)
                    || condition_failed(&e, KEY_ID_ITEM_WRITE) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable("TransactWriteItems", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_expression_sets_given_fields_and_removes_cleared_ones() {
        let (expr, values) = update_expression(&KeyUpdate {
            name: Some("n".into()),
            user_id: Some(None),
            team_id: Some(Some("team_1".into())),
            rate_limit_rpm: None,
        });
        assert_eq!(
            expr,
            "SET #name = :name, #team_id = :team_id REMOVE #user_id"
        );
        let names: Vec<&str> = values.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, [":name", ":team_id"]);
    }

    #[test]
    fn update_expression_of_only_cleared_fields_has_no_set() {
        let (expr, values) = update_expression(&KeyUpdate {
            rate_limit_rpm: Some(None),
            ..KeyUpdate::default()
        });
        assert_eq!(expr, "REMOVE #rate_limit_rpm");
        assert!(values.is_empty());
    }
}
