//! `SetupTokenStore` on DynamoDB: one item per token with a TTL. Taking is one conditional `DeleteItem` that
//! returns the old item, so of two callers only the one whose delete found the item gets it; TTL deletes late,
//! so the expiry is checked on take.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValue;
use sluice_core::store::{SetupToken, SetupTokenStore, StoreError};

use super::error::{corrupt, unavailable};
use super::layout::{self, SetupTokenItem};
use super::ops::now_ms;
use super::store::DynamoStore;

#[async_trait]
impl SetupTokenStore for DynamoStore {
    async fn put_setup_token(&self, token: &SetupToken) -> Result<(), StoreError> {
        let item = serde_dynamo::to_item(SetupTokenItem::new(token))
            .map_err(|e| corrupt("cannot encode setup token", &e))?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(layout::IS_NEW)
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                Err(StoreError::AlreadyExists("setup token".into()))
            }
            Err(e) => Err(unavailable("PutItem", e)),
        }
    }

    async fn take_setup_token(&self, id: &str) -> Result<Option<SetupToken>, StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(layout::setup_token_item_key(id)))
            .condition_expression(layout::EXISTS)
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let item = match deleted {
            Ok(output) => output.attributes,
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), DeleteItemError::ConditionalCheckFailedException(_)) =>
            {
                None
            }
            Err(e) => return Err(unavailable("DeleteItem", e)),
        };
        let Some(item) = item else {
            return Ok(None);
        };
        let stored: SetupTokenItem =
            serde_dynamo::from_item(item).map_err(|e| corrupt("setup token item", &e))?;
        let token = stored.into_token().map_err(StoreError::from)?;
        Ok((token.expires_at_ms > now_ms()).then_some(token))
    }
}
