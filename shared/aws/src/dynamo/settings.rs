//! `SettingsStore` on DynamoDB: one item per setting, read with one consistent `GetItem`.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use sluice_core::store::{SettingsStore, StoreError};

use super::error::{corrupt, unavailable};
use super::layout::{self, SettingItem};
use super::store::DynamoStore;

fn encode(key: &str, value: &str) -> Result<super::ops::Item, StoreError> {
    serde_dynamo::to_item(SettingItem::new(key, value))
        .map_err(|e| corrupt("cannot encode setting", &e))
}

#[async_trait]
impl SettingsStore for DynamoStore {
    async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let Some(item) = self.get_consistent(layout::setting_item_key(key)).await? else {
            return Ok(None);
        };
        let stored: SettingItem =
            serde_dynamo::from_item(item).map_err(|e| corrupt(&format!("setting {key}"), &e))?;
        stored.into_value().map(Some).map_err(StoreError::from)
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(key, value)?))
            .send()
            .await
            .map_err(|e| unavailable("PutItem", e))?;
        Ok(())
    }

    async fn put_setting_if_absent(&self, key: &str, value: &str) -> Result<String, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(key, value)?))
            .condition_expression(layout::IS_NEW)
            .send()
            .await;
        match put {
            Ok(_) => Ok(value.to_owned()),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                // Someone stored it first; settings are never deleted, so the consistent read finds it.
                self.get_setting(key).await?.ok_or_else(|| {
                    StoreError::Corrupt(format!("setting {key} exists and is missing"))
                })
            }
            Err(e) => Err(unavailable("PutItem", e)),
        }
    }
}
