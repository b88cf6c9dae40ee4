//! `ScimStore` on DynamoDB: one item per record, listed per kind and identity provider through `gsi1`.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use sluice_core::store::{ScimKind, ScimRecord, ScimStore, StoreError};

use super::error::{corrupt, unavailable};
use super::layout::{self, ScimItem};
use super::ops::Item;
use super::store::DynamoStore;

fn decode(kind: ScimKind, item: Item) -> Result<ScimRecord, StoreError> {
    let stored: ScimItem = serde_dynamo::from_item(item).map_err(|e| corrupt("scim item", &e))?;
    stored.into_record(kind).map_err(StoreError::from)
}

#[async_trait]
impl ScimStore for DynamoStore {
    async fn put_scim(&self, record: &ScimRecord) -> Result<(), StoreError> {
        let item = serde_dynamo::to_item(ScimItem::new(record))
            .map_err(|e| corrupt("cannot encode scim record", &e))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| unavailable("PutItem", e))?;
        Ok(())
    }

    async fn scim_record(
        &self,
        kind: ScimKind,
        id: &str,
    ) -> Result<Option<ScimRecord>, StoreError> {
        self.get_consistent(layout::scim_item_key(kind.as_str(), id))
            .await?
            .map(|item| decode(kind, item))
            .transpose()
    }

    async fn scim_records(
        &self,
        kind: ScimKind,
        idp_id: &str,
    ) -> Result<Vec<ScimRecord>, StoreError> {
        self.list_family(&layout::scim_gsi1pk(kind.as_str(), idp_id))
            .await?
            .into_iter()
            .map(|item| decode(kind, item))
            .collect()
    }

    async fn delete_scim(&self, kind: ScimKind, id: &str) -> Result<bool, StoreError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(layout::scim_item_key(kind.as_str(), id)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| unavailable("DeleteItem", e))?;
        Ok(output.attributes.is_some_and(|a| !a.is_empty()))
    }
}
