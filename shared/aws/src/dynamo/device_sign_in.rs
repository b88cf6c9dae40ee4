//! `DeviceSignInStore` on DynamoDB. An authorization and its user code marker are put in one transaction, each
//! only if new (the marker also over an expired one), so neither the id nor the user code can be taken twice.
//! Every once-only step (decide, poll, redeem, use) is one conditional `UpdateItem`: DynamoDB applies it to
//! at most one of racing callers, and a failed condition is the contract's `false` / `None` / `Replayed`. All
//! items carry a TTL; TTL deletes late, so reads return expired items and callers check `expires_at_ms`.
//!
//! `put_refresh` is two writes, in this order: a conditional `UpdateItem` that moves the family's expiry (and
//! TTL) later, whose failed condition (absent, or already as late) is not an error, then the token's
//! conditional put. A family never expires before a stored token of it; a retry after a failure in between
//! repeats a harmless update; a token refused as taken may have made its family live longer, nothing worse.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::{Put, ReturnValue, TransactWriteItem};
use serde::Serialize;
use sluice_core::store::{
    DeviceAuthorization, DeviceSignInStore, DeviceState, RefreshToken, RefreshUse, StoreError,
    TokenFamily,
};

use super::error::{corrupt, invalid_request, unavailable};
use super::layout::{
    self, DeviceItem, DeviceUserCodeItem, RefreshTokenItem, TokenFamilyItem, state_value,
};
use super::ops::{Item, condition_failed, now_ms, number, string};
use super::store::DynamoStore;

/// Position of each write in the create transaction.
const DEVICE_WRITE: usize = 0;
const USER_CODE_WRITE: usize = 1;

/// An `UpdateItem` result with a failed condition as `None`.
fn conditional<R>(
    result: Result<UpdateItemOutput, SdkError<UpdateItemError, R>>,
) -> Result<Option<UpdateItemOutput>, StoreError>
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(output) => Ok(Some(output)),
        Err(SdkError::ServiceError(e))
            if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
        {
            Ok(None)
        }
        Err(e) => Err(unavailable("UpdateItem", e)),
    }
}

fn device_from(item: Item) -> Result<DeviceAuthorization, StoreError> {
    let stored: DeviceItem =
        serde_dynamo::from_item(item).map_err(|e| corrupt("device authorization item", &e))?;
    stored.into_device().map_err(StoreError::from)
}

fn refresh_from(item: Item) -> Result<RefreshToken, StoreError> {
    let stored: RefreshTokenItem =
        serde_dynamo::from_item(item).map_err(|e| corrupt("refresh token item", &e))?;
    stored.into_token().map_err(StoreError::from)
}

impl DynamoStore {
    fn update_of(&self, key: Item) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
    }

    /// One `PutItem` of `item` only if its key is free; a taken key is `AlreadyExists(what)`.
    async fn put_new(&self, item: impl Serialize, what: String) -> Result<(), StoreError> {
        let item = serde_dynamo::to_item(item)
            .map_err(|e| corrupt(&format!("cannot encode {what}"), &e))?;
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
                Err(StoreError::AlreadyExists(what))
            }
            Err(e) => Err(unavailable("PutItem", e)),
        }
    }

    /// The put of a user code marker, over none or over one whose authorization has expired.
    fn put_user_code(&self, device: &DeviceAuthorization) -> Result<TransactWriteItem, StoreError> {
        let item = serde_dynamo::to_item(DeviceUserCodeItem::from(device))
            .map_err(|e| corrupt("cannot encode the user code marker", &e))?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(layout::USER_CODE_IS_FREE)
            .expression_attribute_values(":now", number(now_ms()))
            .build()
            .map_err(|e| invalid_request(&e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

#[async_trait]
impl DeviceSignInStore for DynamoStore {
    async fn create_device(&self, device: &DeviceAuthorization) -> Result<(), StoreError> {
        let written = self
            .client
            .transact_write_items()
            .transact_items(self.put_if_new(DeviceItem::from(device), "device authorization")?)
            .transact_items(self.put_user_code(device)?)
            .send()
            .await;
        match written {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e, DEVICE_WRITE) => Err(StoreError::AlreadyExists(
                format!("device authorization {}", device.id),
            )),
            Err(e) if condition_failed(&e, USER_CODE_WRITE) => Err(StoreError::AlreadyExists(
                format!("user code {}", device.user_code),
            )),
            Err(e) => Err(unavailable("TransactWriteItems", e)),
        }
    }

    async fn device(&self, id: &str) -> Result<Option<DeviceAuthorization>, StoreError> {
        self.get_consistent(layout::device_item_key(id))
            .await?
            .map(device_from)
            .transpose()
    }

    async fn device_by_user_code(
        &self,
        user_code: &str,
    ) -> Result<Option<DeviceAuthorization>, StoreError> {
        let Some(item) = self
            .get_consistent(layout::device_user_code_item_key(user_code))
            .await?
        else {
            return Ok(None);
        };
        let marker: DeviceUserCodeItem =
            serde_dynamo::from_item(item).map_err(|e| corrupt("user code marker", &e))?;
        let id = marker.into_id().map_err(StoreError::from)?;
        // TTL deletes the two items independently: a marker may outlive its authorization for a while.
        Ok(self
            .device(&id)
            .await?
            .filter(|device| device.user_code == user_code))
    }

    async fn decide_device(&self, id: &str, approved_by: Option<&str>) -> Result<bool, StoreError> {
        let mut update = self
            .update_of(layout::device_item_key(id))
            .condition_expression(layout::DEVICE_IS_IN)
            .expression_attribute_names(layout::STATE_NAME, layout::STATE_ATTR)
            .expression_attribute_values(
                layout::FROM_STATE,
                string(state_value(DeviceState::Pending)),
            );
        update = match approved_by {
            Some(user_id) => update
                .update_expression(layout::APPROVE_DEVICE)
                .expression_attribute_values(
                    layout::TO_STATE,
                    string(state_value(DeviceState::Approved)),
                )
                .expression_attribute_values(layout::APPROVER, string(user_id)),
            None => update
                .update_expression(layout::DENY_DEVICE)
                .expression_attribute_values(
                    layout::TO_STATE,
                    string(state_value(DeviceState::Denied)),
                ),
        };
        Ok(conditional(update.send().await)?.is_some())
    }

    async fn poll_device(
        &self,
        id: &str,
        now_ms: i64,
        interval_ms: i64,
    ) -> Result<bool, StoreError> {
        let polled = self
            .update_of(layout::device_item_key(id))
            .update_expression(layout::POLL_DEVICE)
            .condition_expression(layout::POLL_IS_DUE)
            .expression_attribute_values(layout::POLL_NOW, number(now_ms))
            .expression_attribute_values(
                layout::POLL_THRESHOLD,
                number(now_ms.saturating_sub(interval_ms)),
            )
            .send()
            .await;
        Ok(conditional(polled)?.is_some())
    }

    async fn redeem_device(&self, id: &str) -> Result<Option<DeviceAuthorization>, StoreError> {
        let redeemed = self
            .update_of(layout::device_item_key(id))
            .update_expression(layout::REDEEM_DEVICE)
            .condition_expression(layout::DEVICE_IS_IN)
            .expression_attribute_names(layout::STATE_NAME, layout::STATE_ATTR)
            .expression_attribute_values(
                layout::FROM_STATE,
                string(state_value(DeviceState::Approved)),
            )
            .expression_attribute_values(
                layout::TO_STATE,
                string(state_value(DeviceState::Redeemed)),
            )
            // The item as it was: approved, as the contract hands it back.
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        conditional(redeemed)?
            .and_then(|output| output.attributes)
            .map(device_from)
            .transpose()
    }

    async fn create_family(&self, family: &TokenFamily) -> Result<(), StoreError> {
        self.put_new(
            TokenFamilyItem::from(family),
            format!("token family {}", family.id),
        )
        .await
    }

    async fn family(&self, id: &str) -> Result<Option<TokenFamily>, StoreError> {
        let Some(item) = self
            .get_consistent(layout::token_family_item_key(id))
            .await?
        else {
            return Ok(None);
        };
        let stored: TokenFamilyItem =
            serde_dynamo::from_item(item).map_err(|e| corrupt("token family item", &e))?;
        stored.into_family().map(Some).map_err(StoreError::from)
    }

    async fn revoke_family(&self, id: &str, at_ms: i64) -> Result<bool, StoreError> {
        // `if_not_exists` keeps the first revocation time; the condition only refuses an absent family.
        let revoked = self
            .update_of(layout::token_family_item_key(id))
            .update_expression(layout::REVOKE)
            .condition_expression(layout::EXISTS)
            .expression_attribute_values(layout::REVOKE_AT, number(at_ms))
            .send()
            .await;
        Ok(conditional(revoked)?.is_some())
    }

    async fn put_refresh(&self, token: &RefreshToken) -> Result<(), StoreError> {
        // First the family (see the module comment for why this order); a failed condition changes nothing.
        let extended = self
            .update_of(layout::token_family_item_key(&token.family_id))
            .update_expression(layout::EXTEND_FAMILY)
            .condition_expression(layout::FAMILY_EXPIRES_BEFORE)
            .expression_attribute_values(layout::NEW_EXPIRES_AT_MS, number(token.expires_at_ms))
            .expression_attribute_values(
                layout::NEW_EXPIRES_AT,
                number(layout::ttl_seconds(token.expires_at_ms)),
            )
            .send()
            .await;
        conditional(extended)?;
        self.put_new(
            RefreshTokenItem::from(token),
            format!("refresh token of family {}", token.family_id),
        )
        .await
    }

    async fn refresh_token(&self, id: &str) -> Result<Option<RefreshToken>, StoreError> {
        self.get_consistent(layout::refresh_item_key(id))
            .await?
            .map(refresh_from)
            .transpose()
    }

    async fn use_refresh(&self, id: &str, at_ms: i64) -> Result<Option<RefreshUse>, StoreError> {
        let used = self
            .update_of(layout::refresh_item_key(id))
            .update_expression(layout::USE_REFRESH)
            .condition_expression(layout::REFRESH_IS_UNUSED)
            .expression_attribute_values(layout::USED_AT, number(at_ms))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        if let Some(output) = conditional(used)? {
            let item = output.attributes.ok_or_else(|| {
                StoreError::unavailable(format!("UpdateItem returned no refresh token {id}"))
            })?;
            return refresh_from(item).map(|token| Some(RefreshUse::First(token)));
        }
        // The condition failed: absent, or used before. A use is never undone, so a token read unused here
        // would mean the table changed under us; that is reported, not guessed at.
        match self.refresh_token(id).await? {
            None => Ok(None),
            Some(token) if token.used_at_ms.is_some() => Ok(Some(RefreshUse::Replayed(token))),
            Some(_) => Err(StoreError::unavailable(format!(
                "refresh token {id} refused a first use but reads unused"
            ))),
        }
    }
}
