//! `CliSessionStore` on DynamoDB: one item per session with a TTL. TTL deletes late (up to days), so reads
//! and the completion check `expires_at_ms` themselves.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use sluice_core::identity::CliSession;
use sluice_core::store::{CliSessionStore, StoreError};

use super::error::{corrupt, unavailable};
use super::layout::{self, CliSessionItem};
use super::ops::{now_ms, number, string};
use super::store::DynamoStore;

#[async_trait]
impl CliSessionStore for DynamoStore {
    async fn create_cli_session(
        &self,
        session: &CliSession,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        let item = serde_dynamo::to_item(CliSessionItem::new(session, expires_at_ms))
            .map_err(|e| corrupt("cannot encode cli session", &e))?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(layout::CLI_SESSION_IS_NEW)
            .expression_attribute_values(":now", number(now_ms()))
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                Err(StoreError::AlreadyExists(format!(
                    "cli session {}",
                    session.id
                )))
            }
            Err(e) => Err(unavailable("PutItem", e)),
        }
    }

    async fn cli_session(&self, id: &str) -> Result<Option<CliSession>, StoreError> {
        let Some(item) = self
            .get_consistent(layout::cli_session_item_key(id))
            .await?
        else {
            return Ok(None);
        };
        let stored: CliSessionItem =
            serde_dynamo::from_item(item).map_err(|e| corrupt(&format!("cli session {id}"), &e))?;
        if stored.expires_at_ms <= now_ms() {
            return Ok(None);
        }
        stored.into_session().map(Some).map_err(StoreError::from)
    }

    async fn complete_cli_session(
        &self,
        id: &str,
        token: &str,
        code_hash: &str,
    ) -> Result<bool, StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(layout::cli_session_item_key(id)))
            .update_expression(layout::COMPLETE_CLI_SESSION)
            .condition_expression(layout::CLI_SESSION_IS_LIVE)
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":token", string(token))
            .expression_attribute_values(":code_hash", string(code_hash))
            .expression_attribute_values(":now", number(now_ms()))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable("UpdateItem", e)),
        }
    }

    async fn delete_cli_session(&self, id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(layout::cli_session_item_key(id)))
            .send()
            .await
            .map_err(|e| unavailable("DeleteItem", e))?;
        Ok(())
    }
}
