//! Items of Claude Code's device sign-in: the device authorization, the marker that makes its user code unique
//! and finds it, token families and refresh tokens. All of them expire: `expires_at_ms` is what callers check,
//! `expires_at` the same moment in whole seconds (rounded up) for TTL.
//!
//! The once-only steps are conditional `UpdateItem`s on these attributes, so their names are fixed here: the
//! state (`state` is a DynamoDB reserved word, hence `#state`), `last_poll_ms`, `used_at_ms`, `revoked_at_ms`.

use serde::{Deserialize, Serialize};
use sluice_core::store::{DeviceAuthorization, DeviceState, RefreshToken, TokenFamily};

use super::runtime::ttl_seconds;
use super::{
    DEVICE_PK_PREFIX, DEVICE_SK, DEVICE_USER_PK_PREFIX, DEVICE_USER_SK, ItemError,
    REFRESH_PK_PREFIX, REFRESH_SK, TOKEN_FAMILY_PK_PREFIX, TOKEN_FAMILY_SK, check_type, item_type,
};

/// The user code marker may replace one whose authorization expired, before TTL got round to deleting it.
pub(crate) const USER_CODE_IS_FREE: &str = "attribute_not_exists(pk) OR expires_at_ms <= :now";
/// `#state` stands for `state`, a reserved word.
pub(crate) const STATE_NAME: &str = "#state";
pub(crate) const STATE_ATTR: &str = "state";
/// Decides a pending authorization: approved with its approver, or denied.
pub(crate) const APPROVE_DEVICE: &str = "SET #state = :to, user_id = :user_id";
pub(crate) const DENY_DEVICE: &str = "SET #state = :to";
/// The decide and redeem conditions: the item exists and is in state `:from`.
pub(crate) const DEVICE_IS_IN: &str = "attribute_exists(pk) AND #state = :from";
pub(crate) const REDEEM_DEVICE: &str = "SET #state = :to";
pub(crate) const FROM_STATE: &str = ":from";
pub(crate) const TO_STATE: &str = ":to";
pub(crate) const APPROVER: &str = ":user_id";
/// A poll is recorded only if the previous one was at or before `:threshold` (now minus the interval).
pub(crate) const POLL_DEVICE: &str = "SET last_poll_ms = :now";
pub(crate) const POLL_IS_DUE: &str =
    "attribute_exists(pk) AND (attribute_not_exists(last_poll_ms) OR last_poll_ms <= :threshold)";
pub(crate) const POLL_NOW: &str = ":now";
pub(crate) const POLL_THRESHOLD: &str = ":threshold";
/// Moves a family's expiry (and TTL) later, never earlier; a failed condition (absent, or already later) is
/// not an error.
pub(crate) const EXTEND_FAMILY: &str =
    "SET expires_at_ms = :expires_at_ms, expires_at = :expires_at";
pub(crate) const FAMILY_EXPIRES_BEFORE: &str =
    "attribute_exists(pk) AND expires_at_ms < :expires_at_ms";
pub(crate) const NEW_EXPIRES_AT_MS: &str = ":expires_at_ms";
pub(crate) const NEW_EXPIRES_AT: &str = ":expires_at";
/// Marks a refresh token used, once.
pub(crate) const USE_REFRESH: &str = "SET used_at_ms = :at";
pub(crate) const REFRESH_IS_UNUSED: &str =
    "attribute_exists(pk) AND attribute_not_exists(used_at_ms)";
pub(crate) const USED_AT: &str = ":at";

/// The `state` attribute's value for each state (serde's snake_case name, which the items carry).
pub(crate) fn state_value(state: DeviceState) -> &'static str {
    match state {
        DeviceState::Pending => "pending",
        DeviceState::Approved => "approved",
        DeviceState::Denied => "denied",
        DeviceState::Redeemed => "redeemed",
    }
}

/// A device authorization. Optional attributes are omitted rather than NULL, so `attribute_not_exists`
/// conditions see them as unset.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct DeviceItem {
    pk: String,
    sk: String,
    item_type: String,
    id: String,
    user_code: String,
    created_at_ms: i64,
    expires_at_ms: i64,
    expires_at: i64,
    state: DeviceState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_poll_ms: Option<i64>,
}

impl From<&DeviceAuthorization> for DeviceItem {
    fn from(device: &DeviceAuthorization) -> Self {
        Self {
            pk: format!("{DEVICE_PK_PREFIX}{}", device.id),
            sk: DEVICE_SK.to_owned(),
            item_type: item_type::DEVICE.to_owned(),
            id: device.id.clone(),
            user_code: device.user_code.clone(),
            created_at_ms: device.created_at_ms,
            expires_at_ms: device.expires_at_ms,
            expires_at: ttl_seconds(device.expires_at_ms),
            state: device.state,
            user_id: device.user_id.clone(),
            last_poll_ms: device.last_poll_ms,
        }
    }
}

impl DeviceItem {
    pub(crate) fn into_device(self) -> Result<DeviceAuthorization, ItemError> {
        check_type(&self.pk, &self.item_type, item_type::DEVICE)?;
        Ok(DeviceAuthorization {
            id: self.id,
            user_code: self.user_code,
            created_at_ms: self.created_at_ms,
            expires_at_ms: self.expires_at_ms,
            state: self.state,
            user_id: self.user_id,
            last_poll_ms: self.last_poll_ms,
        })
    }
}

/// Holds the user code (unique by its key) and points to the authorization's `id`; expires with it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct DeviceUserCodeItem {
    pk: String,
    sk: String,
    item_type: String,
    pub(crate) id: String,
    expires_at_ms: i64,
    expires_at: i64,
}

impl From<&DeviceAuthorization> for DeviceUserCodeItem {
    fn from(device: &DeviceAuthorization) -> Self {
        Self {
            pk: format!("{DEVICE_USER_PK_PREFIX}{}", device.user_code),
            sk: DEVICE_USER_SK.to_owned(),
            item_type: item_type::DEVICE_USER_CODE.to_owned(),
            id: device.id.clone(),
            expires_at_ms: device.expires_at_ms,
            expires_at: ttl_seconds(device.expires_at_ms),
        }
    }
}

impl DeviceUserCodeItem {
    /// The authorization's id, or why this item is not a user code marker.
    pub(crate) fn into_id(self) -> Result<String, ItemError> {
        check_type(&self.pk, &self.item_type, item_type::DEVICE_USER_CODE)?;
        Ok(self.id)
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct TokenFamilyItem {
    pk: String,
    sk: String,
    item_type: String,
    id: String,
    user_id: String,
    created_at_ms: i64,
    expires_at_ms: i64,
    expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked_at_ms: Option<i64>,
}

impl From<&TokenFamily> for TokenFamilyItem {
    fn from(family: &TokenFamily) -> Self {
        Self {
            pk: format!("{TOKEN_FAMILY_PK_PREFIX}{}", family.id),
            sk: TOKEN_FAMILY_SK.to_owned(),
            item_type: item_type::TOKEN_FAMILY.to_owned(),
            id: family.id.clone(),
            user_id: family.user_id.clone(),
            created_at_ms: family.created_at_ms,
            expires_at_ms: family.expires_at_ms,
            expires_at: ttl_seconds(family.expires_at_ms),
            revoked_at_ms: family.revoked_at_ms,
        }
    }
}

impl TokenFamilyItem {
    pub(crate) fn into_family(self) -> Result<TokenFamily, ItemError> {
        check_type(&self.pk, &self.item_type, item_type::TOKEN_FAMILY)?;
        Ok(TokenFamily {
            id: self.id,
            user_id: self.user_id,
            created_at_ms: self.created_at_ms,
            expires_at_ms: self.expires_at_ms,
            revoked_at_ms: self.revoked_at_ms,
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RefreshTokenItem {
    pk: String,
    sk: String,
    item_type: String,
    id: String,
    family_id: String,
    user_id: String,
    created_at_ms: i64,
    expires_at_ms: i64,
    expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    used_at_ms: Option<i64>,
}

impl From<&RefreshToken> for RefreshTokenItem {
    fn from(token: &RefreshToken) -> Self {
        Self {
            pk: format!("{REFRESH_PK_PREFIX}{}", token.id),
            sk: REFRESH_SK.to_owned(),
            item_type: item_type::REFRESH_TOKEN.to_owned(),
            id: token.id.clone(),
            family_id: token.family_id.clone(),
            user_id: token.user_id.clone(),
            created_at_ms: token.created_at_ms,
            expires_at_ms: token.expires_at_ms,
            expires_at: ttl_seconds(token.expires_at_ms),
            used_at_ms: token.used_at_ms,
        }
    }
}

impl RefreshTokenItem {
    pub(crate) fn into_token(self) -> Result<RefreshToken, ItemError> {
        check_type(&self.pk, &self.item_type, item_type::REFRESH_TOKEN)?;
        Ok(RefreshToken {
            id: self.id,
            family_id: self.family_id,
            user_id: self.user_id,
            created_at_ms: self.created_at_ms,
            expires_at_ms: self.expires_at_ms,
            used_at_ms: self.used_at_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::types::AttributeValue;

    use super::super::{EXPIRES_AT, device_item_key, device_user_code_item_key};
    use super::*;

    fn device() -> DeviceAuthorization {
        DeviceAuthorization {
            id: "ab".repeat(32),
            user_code: "WDJB-MJHT".into(),
            created_at_ms: 1_000,
            expires_at_ms: 10_001,
            state: DeviceState::Pending,
            user_id: None,
            last_poll_ms: None,
        }
    }

    #[test]
    fn state_values_are_the_items_encoding() {
        for state in [
            DeviceState::Pending,
            DeviceState::Approved,
            DeviceState::Denied,
            DeviceState::Redeemed,
        ] {
            let item: HashMap<String, AttributeValue> =
                serde_dynamo::to_item(DeviceItem::from(&DeviceAuthorization { state, ..device() }))
                    .expect("serialises");
            assert_eq!(
                item.get(STATE_ATTR),
                Some(&AttributeValue::S(state_value(state).into()))
            );
        }
    }

    #[test]
    fn device_and_marker_have_their_keys_a_ttl_and_no_unset_attributes() {
        let device = device();
        let item: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(DeviceItem::from(&device)).expect("serialises");
        for (name, value) in device_item_key(&device.id) {
            assert_eq!(item.get(&name), Some(&value), "{name}");
        }
        assert_eq!(item.get(EXPIRES_AT), Some(&AttributeValue::N("11".into())));
        for absent in ["user_id", "last_poll_ms"] {
            assert!(!item.contains_key(absent), "{absent} present: {item:?}");
        }
        let back: DeviceItem = serde_dynamo::from_item(item).expect("decodes");
        assert_eq!(back.into_device().expect("device"), device);

        let marker: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(DeviceUserCodeItem::from(&device)).expect("serialises");
        for (name, value) in device_user_code_item_key(&device.user_code) {
            assert_eq!(marker.get(&name), Some(&value), "{name}");
        }
        assert_eq!(
            marker.get(EXPIRES_AT),
            Some(&AttributeValue::N("11".into()))
        );
        let marker: DeviceUserCodeItem = serde_dynamo::from_item(marker).expect("decodes");
        assert_eq!(marker.into_id().expect("marker"), device.id);
    }

    #[test]
    fn family_and_refresh_token_round_trip_without_unset_attributes() {
        let family = TokenFamily {
            id: "fam_a".into(),
            user_id: "user_a".into(),
            created_at_ms: 1,
            expires_at_ms: 2_000,
            revoked_at_ms: None,
        };
        let item: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(TokenFamilyItem::from(&family)).expect("serialises");
        assert!(!item.contains_key("revoked_at_ms"), "{item:?}");
        assert_eq!(item.get(EXPIRES_AT), Some(&AttributeValue::N("2".into())));
        let back: TokenFamilyItem = serde_dynamo::from_item(item).expect("decodes");
        assert_eq!(back.into_family().expect("family"), family);

        let token = RefreshToken {
            id: "cd".repeat(32),
            family_id: "fam_a".into(),
            user_id: "user_a".into(),
            created_at_ms: 1,
            expires_at_ms: 2_000,
            used_at_ms: None,
        };
        let item: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(RefreshTokenItem::from(&token)).expect("serialises");
        assert!(!item.contains_key("used_at_ms"), "{item:?}");
        let back: RefreshTokenItem = serde_dynamo::from_item(item).expect("decodes");
        assert_eq!(back.into_token().expect("token"), token);
    }

    #[test]
    fn an_item_of_another_family_is_refused() {
        let mut item = DeviceItem::from(&device());
        item.item_type = item_type::REFRESH_TOKEN.into();
        assert!(item.into_device().is_err());
    }
}
