//! `UserStore` on DynamoDB: each user is two items written and updated together in one transaction, one
//! under its id and one under its email, so both request-path lookups are one consistent `GetItem` and the
//! email item's `attribute_not_exists` condition makes emails unique. Deleting removes both copies in one
//! transaction, so a deleted user's email is free again.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use sluice_core::identity::User;
use sluice_core::store::{StoreError, UserStore};

use super::error::{corrupt, invalid_request, unavailable};
use super::layout::{self, UserItem};
use super::ops::{Item, condition_failed, string};
use super::store::DynamoStore;

/// Position of each write in the create and update transactions.
const ID_WRITE: usize = 0;
const EMAIL_WRITE: usize = 1;

fn decode_user(item: Item) -> Result<User, StoreError> {
    let stored: UserItem = serde_dynamo::from_item(item).map_err(|e| corrupt("user item", &e))?;
    stored.into_user().map_err(StoreError::from)
}

impl DynamoStore {
    /// The update of one user copy: role, team, active flag and groups, only if the copy exists.
    fn update_user_copy(&self, key: Item, user: &User) -> Result<TransactWriteItem, StoreError> {
        let groups = serde_dynamo::to_attribute_value(&user.groups)
            .map_err(|e| corrupt("cannot encode user groups", &e))?;
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression(layout::EXISTS)
            .expression_attribute_names("#role", "role")
            .expression_attribute_names("#active", "active")
            .expression_attribute_names("#team_id", "team_id")
            .expression_attribute_names("#groups", "groups")
            .expression_attribute_values(":role", string(user.role.as_str()))
            .expression_attribute_values(":active", AttributeValue::Bool(user.active))
            .expression_attribute_values(":groups", groups);
        update = match &user.team_id {
            Some(team_id) => update
                .update_expression(layout::UPDATE_USER_WITH_TEAM)
                .expression_attribute_values(":team_id", string(team_id)),
            None => update.update_expression(layout::UPDATE_USER_WITHOUT_TEAM),
        };
        let update = update.build().map_err(|e| invalid_request(&e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

#[async_trait]
impl UserStore for DynamoStore {
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        self.client
            .transact_write_items()
            .transact_items(self.put_if_new(UserItem::by_id(user), "user")?)
            .transact_items(self.put_if_new(UserItem::by_email(user), "user email")?)
            .send()
            .await
            .map_err(|e| {
                if condition_failed(&e, ID_WRITE) {
                    StoreError::AlreadyExists(format!("user {}", user.id))
                } else if condition_failed(&e, EMAIL_WRITE) {
                    StoreError::AlreadyExists(format!("a user with email {}", user.email))
                } else {
                    unavailable("TransactWriteItems", e)
                }
            })?;
        Ok(())
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.get_consistent(layout::user_item_key(id))
            .await?
            .map(decode_user)
            .transpose()
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        self.get_consistent(layout::user_email_item_key(email))
            .await?
            .map(decode_user)
            .transpose()
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        self.list_family(layout::USERS_GSI1PK)
            .await?
            .into_iter()
            .map(decode_user)
            .collect()
    }

    async fn update_user(&self, user: &User) -> Result<bool, StoreError> {
        // The stored email, not the caller's, names the second copy: emails never change.
        let Some(stored) = self.user_by_id(&user.id).await? else {
            return Ok(false);
        };
        let updated = self
            .client
            .transact_write_items()
            .transact_items(self.update_user_copy(layout::user_item_key(&stored.id), user)?)
            .transact_items(
                self.update_user_copy(layout::user_email_item_key(&stored.email), user)?,
            )
            .send()
            .await;
        match updated {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e, ID_WRITE) => Ok(false),
            Err(e) if condition_failed(&e, EMAIL_WRITE) => Err(StoreError::Corrupt(format!(
                "user {} has no item for its email {}",
                stored.id, stored.email
            ))),
            Err(e) => Err(unavailable("TransactWriteItems", e)),
        }
    }

    async fn delete_user(&self, id: &str) -> Result<bool, StoreError> {
        let Some(stored) = self.user_by_id(id).await? else {
            return Ok(false);
        };
        // The email copy goes only if it still belongs to this user.
        let deleted = self
            .client
            .transact_write_items()
            .transact_items(self.delete_where(layout::user_item_key(id), layout::EXISTS, None)?)
            .transact_items(self.delete_where(
                layout::user_email_item_key(&stored.email),
                layout::MARKER_OF,
                Some(id),
            )?)
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(true),
            // Deleted by a concurrent call between our read and our write.
            Err(e) if condition_failed(&e, ID_WRITE) => Ok(false),
            Err(e) if condition_failed(&e, EMAIL_WRITE) => Err(StoreError::Corrupt(format!(
                "user {id} has no item for its email {}",
                stored.email
            ))),
            Err(e) => Err(unavailable("TransactWriteItems", e)),
        }
    }
}
