//! `IdentityLinkStore` on DynamoDB: one item per `(issuer, subject)`, created under `attribute_not_exists` so a
//! sign-in is bound once, and listed per person through `gsi1`.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValue;
use sluice_core::identity::IdentityLink;
use sluice_core::store::{IdentityLinkStore, StoreError};

use super::error::{corrupt, unavailable};
use super::layout::{self, LinkItem};
use super::ops::Item;
use super::store::DynamoStore;

fn decode(item: Item) -> Result<IdentityLink, StoreError> {
    let stored: LinkItem =
        serde_dynamo::from_item(item).map_err(|e| corrupt("identity link item", &e))?;
    stored.into_link().map_err(StoreError::from)
}

#[async_trait]
impl IdentityLinkStore for DynamoStore {
    async fn create_link(&self, link: &IdentityLink) -> Result<(), StoreError> {
        let item = serde_dynamo::to_item(LinkItem::from(link))
            .map_err(|e| corrupt("cannot encode identity link", &e))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(layout::IS_NEW)
            .send()
            .await
            .map_err(|e| {
                if matches!(
                    e.as_service_error(),
                    Some(PutItemError::ConditionalCheckFailedException(_))
                ) {
                    StoreError::AlreadyExists(format!(
                        "a binding of {} at {}",
                        link.subject, link.issuer
                    ))
                } else {
                    unavailable("PutItem", e)
                }
            })?;
        Ok(())
    }

    async fn link(&self, issuer: &str, subject: &str) -> Result<Option<IdentityLink>, StoreError> {
        self.get_consistent(layout::link_item_key(issuer, subject))
            .await?
            .map(decode)
            .transpose()
    }

    async fn links_of(&self, user_id: &str) -> Result<Vec<IdentityLink>, StoreError> {
        self.list_family(&layout::links_gsi1pk(user_id))
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }

    async fn delete_link(&self, issuer: &str, subject: &str) -> Result<bool, StoreError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(layout::link_item_key(issuer, subject)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| unavailable("DeleteItem", e))?;
        Ok(output.attributes.is_some_and(|a| !a.is_empty()))
    }
}
