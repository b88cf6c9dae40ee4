//! `IdpStore` on DynamoDB: the provider item and an issuer marker, created and deleted together in one
//! transaction, so a deleted provider frees its issuer.

use async_trait::async_trait;
use sluice_core::identity::IdentityProvider;
use sluice_core::store::{IdpStore, StoreError};

use super::error::{corrupt, unavailable};
use super::layout::{self, IdpItem, MarkerItem};
use super::ops::{Item, condition_failed};
use super::store::DynamoStore;

const IDP_WRITE: usize = 0;
const ISSUER_WRITE: usize = 1;
const OLD_ISSUER_WRITE: usize = 2;

fn decode_idp(item: Item) -> Result<IdentityProvider, StoreError> {
    let stored: IdpItem = serde_dynamo::from_item(item).map_err(|e| corrupt("idp item", &e))?;
    stored.into_idp().map_err(StoreError::from)
}

#[async_trait]
impl IdpStore for DynamoStore {
    async fn create_idp(&self, idp: &IdentityProvider) -> Result<(), StoreError> {
        self.client
            .transact_write_items()
            .transact_items(self.put_if_new(IdpItem::from(idp), "idp")?)
            .transact_items(self.put_if_new(MarkerItem::idp_issuer(idp), "idp issuer")?)
            .send()
            .await
            .map_err(|e| {
                if condition_failed(&e, IDP_WRITE) {
                    StoreError::AlreadyExists(format!("identity provider {}", idp.id))
                } else if condition_failed(&e, ISSUER_WRITE) {
                    StoreError::AlreadyExists(format!(
                        "an identity provider with issuer {}",
                        idp.issuer
                    ))
                } else {
                    unavailable("TransactWriteItems", e)
                }
            })?;
        Ok(())
    }

    async fn list_idps(&self) -> Result<Vec<IdentityProvider>, StoreError> {
        self.list_family(layout::IDPS_GSI1PK)
            .await?
            .into_iter()
            .map(decode_idp)
            .collect()
    }

    async fn update_idp(&self, idp: &IdentityProvider) -> Result<bool, StoreError> {
        let Some(item) = self.get_consistent(layout::idp_item_key(&idp.id)).await? else {
            return Ok(false);
        };
        let old_issuer = decode_idp(item)?.issuer;
        let mut write = self
            .client
            .transact_write_items()
            .transact_items(self.put_over(IdpItem::from(idp), "idp")?);
        if old_issuer != idp.issuer {
            // The new issuer is claimed and the old one freed in the same transaction.
            write = write
                .transact_items(self.put_if_new(MarkerItem::idp_issuer(idp), "idp issuer")?)
                .transact_items(self.delete_where(
                    layout::idp_issuer_item_key(&old_issuer),
                    layout::MARKER_OF,
                    Some(&idp.id),
                )?);
        }
        match write.send().await {
            Ok(_) => Ok(true),
            // Deleted by a concurrent call between our read and our write.
            Err(e) if condition_failed(&e, IDP_WRITE) => Ok(false),
            Err(e) if condition_failed(&e, ISSUER_WRITE) => Err(StoreError::AlreadyExists(
                format!("an identity provider with issuer {}", idp.issuer),
            )),
            Err(e) if condition_failed(&e, OLD_ISSUER_WRITE) => Err(StoreError::Corrupt(format!(
                "identity provider {} does not own the marker of its issuer {old_issuer}",
                idp.id
            ))),
            Err(e) => Err(unavailable("TransactWriteItems", e)),
        }
    }

    async fn delete_idp(&self, id: &str) -> Result<bool, StoreError> {
        let Some(item) = self.get_consistent(layout::idp_item_key(id)).await? else {
            return Ok(false);
        };
        let issuer = decode_idp(item)?.issuer;
        // The marker goes only if it still names this provider.
        let deleted = self
            .client
            .transact_write_items()
            .transact_items(self.delete_where(layout::idp_item_key(id), layout::EXISTS, None)?)
            .transact_items(self.delete_where(
                layout::idp_issuer_item_key(&issuer),
                layout::MARKER_OF,
                Some(id),
            )?)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(true),
            // Deleted by a concurrent call between our read and our write.
            Err(e) if condition_failed(&e, IDP_WRITE) => Ok(false),
            Err(e) if condition_failed(&e, ISSUER_WRITE) => Err(StoreError::Corrupt(format!(
                "identity provider {id} does not own the marker of its issuer {issuer}"
            ))),
            Err(e) => Err(unavailable("TransactWriteItems", e)),
        }
    }
}
