//! The single-table layout: every item family's key attributes, `item_type`, and the expressions that
//! depend on attribute names. `docs/store-layout.md` explains the choices; keep the two in step.
//!
//! | family      | pk                     | sk            | gsi1pk  | gsi1sk                  | item_type     | TTL |
//! |-------------|------------------------|---------------|---------|-------------------------|---------------|-----|
//! | key         | `KEY#<hash>`           | `KEY`         | `KEYS`  | `<created_ms:020>#<id>` | `key`         |     |
//! | key id      | `KEYID#<id>`           | `KEYID`       | —       | —                       | `key_id`      |     |
//! | user        | `USER#<id>`            | `USER`        | `USERS` | `<created_ms:020>#<id>` | `user`        |     |
//! | user email  | `USEREMAIL#<email>`    | `USEREMAIL`   | —       | —                       | `user_email`  |     |
//! | team        | `TEAM#<id>`            | `TEAM`        | `TEAMS` | `<created_ms:020>#<id>` | `team`        |     |
//! | team name   | `TEAMNAME#<name>`      | `TEAMNAME`    | —       | —                       | `team_name`   |     |
//! | idp         | `IDP#<id>`             | `IDP`         | `IDPS`  | `<created_ms:020>#<id>` | `idp`         |     |
//! | idp issuer  | `IDPISSUER#<issuer>`   | `IDPISSUER`   | —       | —                       | `idp_issuer`  |     |
//! | identity link | `LINK#<issuer>`      | `<subject>`   | `LINKS#<user id>` | `<created_ms:020>#<issuer>#<subject>` | `identity_link` | |
//! | setting     | `SETTING#<key>`        | `SETTING`     | —       | —                       | `setting`     |     |
//! | policy change | `POLICYCHANGE`       | `<at_ms:020>#<id>` | —  | —                       | `policy_change` |   |
//! | cli session | `CLISESSION#<id>`      | `CLISESSION`  | —       | —                       | `cli_session` | yes |
//! | setup token | `SETUPTOKEN#<sha256>`  | `SETUPTOKEN`  | —       | —                       | `setup_token` | yes |
//! | device authorization | `DEVICE#<sha256>` | `DEVICE`  | —       | —                       | `device`      | yes |
//! | device user code | `DEVICEUSER#<user code>` | `DEVICEUSER` | — | —                     | `device_user_code` | yes |
//! | token family | `TOKENFAMILY#<id>`    | `TOKENFAMILY` | —       | —                       | `token_family` | yes |
//! | refresh token | `REFRESH#<sha256>`   | `REFRESH`     | —       | —                       | `refresh_token` | yes |
//! | scim record | `SCIM#<kind>#<id>`     | `SCIM`        | `SCIM#<kind>#<idp id>` | `<id>`           | `scim`        |     |
//! | counter     | `RL#<scope>`           | `W#<start_s>` | —       | —                       | `counter`     | yes |
//! | usage       | `USAGE#<request_id>`   | `USAGE`       | `USAGEDAY#<yyyy-mm-dd>` | `<time_ms:020>#<request_id>` | `usage` | yes |
//! | spend counter | `SPEND#<counter key>` | `SPEND`     | `<family>` | `<counter key>`        | `spend_counter` |   |
//! | spend applied | `APPLIED#<request_id>` | `APPLIED`  | —       | —                       | `spend_applied` | yes |
//! | event       | `EVENT#<event id>`     | `EVENT`       | `EVENTS` | `<created_ms:020>#<id>` | `notify_event` |    |
//! | delivery    | `DELIVERY#<id>`        | `DELIVERY`    | `DELIVERIES` | `<id>`              | `notify_delivery` | yes |
//!
//! The user email item is a full copy of the user (so a lookup by email is one `GetItem`) and doubles as
//! the uniqueness marker for the email; team name and IdP issuer items are markers holding the owner's `id`.
//! Item structs of the newer families live in `layout::identity` and `layout::runtime`; usage items (the
//! record's fields as flat attributes, listed per UTC day) in `layout::ledger`; counters, markers, events and
//! deliveries in `layout::spend`. The policy document is the `policies` setting item with a `policy_version`
//! Number beside its value; it and its changes are in `layout::policy`. Device sign-in items (the authorization,
//! its user code marker holding the authorization's `id`, token families, refresh tokens) are in
//! `layout::device`.

mod device;
mod identity;
mod ledger;
mod policy;
mod runtime;
pub(crate) mod spend;

pub(crate) use device::{
    APPROVE_DEVICE, APPROVER, DENY_DEVICE, DEVICE_IS_IN, DeviceItem, DeviceUserCodeItem,
    EXTEND_FAMILY, FAMILY_EXPIRES_BEFORE, FROM_STATE, NEW_EXPIRES_AT, NEW_EXPIRES_AT_MS,
    POLL_DEVICE, POLL_IS_DUE, POLL_NOW, POLL_THRESHOLD, REDEEM_DEVICE, REFRESH_IS_UNUSED,
    RefreshTokenItem, STATE_ATTR, STATE_NAME, TO_STATE, TokenFamilyItem, USE_REFRESH, USED_AT,
    USER_CODE_IS_FREE, state_value,
};
pub(crate) use identity::{IdpItem, MarkerItem, TeamItem, UserItem};
pub(crate) use ledger::{
    USAGE_DAY, USAGE_FROM, USAGE_OF_DAY, USAGE_TO, day_of, into_usage, usage_day_gsi1pk,
    usage_item, usage_item_key, usage_sk_bound,
};
pub(crate) use policy::{
    EXPECTED_VERSION, LIST_POLICY_CHANGES, LIST_POLICY_CHANGES_PK, POLICY_VERSION_IS,
    POLICY_VERSION_IS_ZERO_OR_ABSENT, PolicyChangeItem, PolicyDocumentItem,
};
pub(crate) use runtime::{
    CliSessionItem, CounterItem, LinkItem, ScimItem, SettingItem, SetupTokenItem, ttl_seconds,
};

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use sluice_core::store::{StoreError, VirtualKey};

/// Table key, index and TTL attribute names, as in the SAM template.
pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const GSI1: &str = "gsi1";
pub const GSI1PK: &str = "gsi1pk";
pub const GSI1SK: &str = "gsi1sk";
/// Epoch seconds (Number); DynamoDB deletes the item some time after it.
pub const EXPIRES_AT: &str = "expires_at";
/// On every item, so stream consumers can filter by family.
pub const ITEM_TYPE: &str = "item_type";

/// `item_type` values.
pub mod item_type {
    pub const KEY: &str = "key";
    pub const KEY_ID: &str = "key_id";
    pub const USER: &str = "user";
    pub const USER_EMAIL: &str = "user_email";
    pub const TEAM: &str = "team";
    pub const TEAM_NAME: &str = "team_name";
    pub const IDP: &str = "idp";
    pub const IDP_ISSUER: &str = "idp_issuer";
    pub const IDENTITY_LINK: &str = "identity_link";
    pub const SETTING: &str = "setting";
    pub const CLI_SESSION: &str = "cli_session";
    pub const SETUP_TOKEN: &str = "setup_token";
    pub const SCIM: &str = "scim";
    pub const COUNTER: &str = "counter";
    pub const USAGE: &str = "usage";
    /// The spend function's stream filter matches exactly this value.
    pub const SPEND_COUNTER: &str = "spend_counter";
    pub const SPEND_APPLIED: &str = "spend_applied";
    /// The notify function's stream filter matches exactly this value.
    pub const NOTIFY_EVENT: &str = "notify_event";
    pub const NOTIFY_DELIVERY: &str = "notify_delivery";
    pub const POLICY_CHANGE: &str = "policy_change";
    pub const DEVICE: &str = "device";
    pub const DEVICE_USER_CODE: &str = "device_user_code";
    pub const TOKEN_FAMILY: &str = "token_family";
    pub const REFRESH_TOKEN: &str = "refresh_token";
}

const KEY_PK_PREFIX: &str = "KEY#";
const KEY_SK: &str = "KEY";
const KEY_ID_PK_PREFIX: &str = "KEYID#";
const KEY_ID_SK: &str = "KEYID";
const KEYS_GSI1PK: &str = "KEYS";
const USER_PK_PREFIX: &str = "USER#";
const USER_SK: &str = "USER";
const USER_EMAIL_PK_PREFIX: &str = "USEREMAIL#";
const USER_EMAIL_SK: &str = "USEREMAIL";
pub(crate) const USERS_GSI1PK: &str = "USERS";
const TEAM_PK_PREFIX: &str = "TEAM#";
const TEAM_SK: &str = "TEAM";
const TEAM_NAME_PK_PREFIX: &str = "TEAMNAME#";
const TEAM_NAME_SK: &str = "TEAMNAME";
pub(crate) const TEAMS_GSI1PK: &str = "TEAMS";
const IDP_PK_PREFIX: &str = "IDP#";
const IDP_SK: &str = "IDP";
const IDP_ISSUER_PK_PREFIX: &str = "IDPISSUER#";
const IDP_ISSUER_SK: &str = "IDPISSUER";
pub(crate) const IDPS_GSI1PK: &str = "IDPS";
const LINK_PK_PREFIX: &str = "LINK#";
const LINKS_GSI1PK_PREFIX: &str = "LINKS#";
const SETTING_PK_PREFIX: &str = "SETTING#";
const SETTING_SK: &str = "SETTING";
/// All policy changes share one partition: they are few, and read newest first in one Query.
pub(crate) const POLICY_CHANGE_PK: &str = "POLICYCHANGE";
const CLI_SESSION_PK_PREFIX: &str = "CLISESSION#";
const CLI_SESSION_SK: &str = "CLISESSION";
const SETUP_TOKEN_PK_PREFIX: &str = "SETUPTOKEN#";
const SETUP_TOKEN_SK: &str = "SETUPTOKEN";
const DEVICE_PK_PREFIX: &str = "DEVICE#";
const DEVICE_SK: &str = "DEVICE";
const DEVICE_USER_PK_PREFIX: &str = "DEVICEUSER#";
const DEVICE_USER_SK: &str = "DEVICEUSER";
const TOKEN_FAMILY_PK_PREFIX: &str = "TOKENFAMILY#";
const TOKEN_FAMILY_SK: &str = "TOKENFAMILY";
const REFRESH_PK_PREFIX: &str = "REFRESH#";
const REFRESH_SK: &str = "REFRESH";
const SCIM_PK_PREFIX: &str = "SCIM#";
const SCIM_SK: &str = "SCIM";
const COUNTER_PK_PREFIX: &str = "RL#";
const COUNTER_SK_PREFIX: &str = "W#";

/// Guards every create: the item must not exist yet.
pub(crate) const IS_NEW: &str = "attribute_not_exists(pk)";
/// Guards updates: never create an item by updating it.
pub(crate) const EXISTS: &str = "attribute_exists(pk)";
/// Guards the deletion of a uniqueness marker: only by the item that owns it (`:id`).
pub(crate) const MARKER_OF: &str = "attribute_exists(pk) AND id = :id";
/// `if_not_exists` keeps the first revocation time when a key is revoked again.
pub(crate) const REVOKE: &str = "SET revoked_at_ms = if_not_exists(revoked_at_ms, :at)";
pub(crate) const REVOKE_AT: &str = ":at";
pub(crate) const LIST_KEYS: &str = "gsi1pk = :keys";
pub(crate) const LIST_KEYS_PK: &str = ":keys";
/// Oldest-first listings of users, teams and IdPs: one `gsi1` partition per family.
pub(crate) const LIST_FAMILY: &str = "gsi1pk = :family";
pub(crate) const LIST_FAMILY_PK: &str = ":family";

/// `update_user` on both user items. Attribute names go through `#` placeholders because `role` is a
/// DynamoDB reserved word; a user without a team has no `team_id` attribute at all.
pub(crate) const UPDATE_USER_WITH_TEAM: &str =
    "SET #role = :role, #active = :active, #groups = :groups, #team_id = :team_id";
pub(crate) const UPDATE_USER_WITHOUT_TEAM: &str =
    "SET #role = :role, #active = :active, #groups = :groups REMOVE #team_id";

/// A session id may be reused once the old session expired, before TTL got round to deleting it.
pub(crate) const CLI_SESSION_IS_NEW: &str = "attribute_not_exists(pk) OR expires_at_ms <= :now";
/// Only a live session can be completed; an update never creates one.
pub(crate) const COMPLETE_CLI_SESSION: &str = "SET #token = :token, code_hash = :code_hash";
pub(crate) const CLI_SESSION_IS_LIVE: &str = "attribute_exists(pk) AND expires_at_ms > :now";

/// The conditional increment: creates the window at 1 or adds 1 below the bound, in one `UpdateItem`.
pub(crate) const INCREMENT: &str = "ADD cnt :one SET expires_at = :exp, item_type = :t";
pub(crate) const BELOW_BOUND: &str = "attribute_not_exists(cnt) OR cnt < :bound";
/// The counter attribute (Number).
pub(crate) const COUNT: &str = "cnt";

fn primary_key(pk: String, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(pk)),
        (SK.to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

/// Primary key of the key item whose secret hashes to `key_hash`.
pub(crate) fn key_item_key(key_hash: &str) -> HashMap<String, AttributeValue> {
    primary_key(format!("{KEY_PK_PREFIX}{key_hash}"), KEY_SK)
}

/// Primary key of the pointer from a key id to its hash.
pub(crate) fn key_id_item_key(id: &str) -> HashMap<String, AttributeValue> {
    primary_key(format!("{KEY_ID_PK_PREFIX}{id}"), KEY_ID_SK)
}

pub(crate) fn user_item_key(id: &str) -> HashMap<String, AttributeValue> {
    primary_key(format!("{USER_PK_PREFIX}{id}"), USER_SK)
}

pub(crate) fn user_email_item_key(email: &str) -> HashMap<String, AttributeValue> {
    primary_key(format!("{USER_EMAIL_PK_PREFIX}{email}"), USER_EMAIL_SK)
}

pub(crate) fn team_item_key(id: &str) -> HashMap<String, AttributeValue> {
    primary_key(format!("{TEAM_PK_PREFIX}{id}"), TEAM_SK)
}

pub(crate) fn team_name_item_key(name: &str) -> HashMap<String, AttributeValue> {
    primary_key(format!("{TEAM_NAME_PK_PREFIX}{name}"), TEAM_NAME_SK)
}

pub(crate) fn idp_item_key(id: &str) -> HashMap<String, AttributeValue> {
    primary_key(format!("{IDP_PK_PREFIX}{id}"), IDP_SK)
}

pub(crate) fn idp_issuer_item_key(issuer: &str) -> HashMap<String, AttributeValue> {
    primary_key(format!("{IDP_ISSUER_PK_PREFIX}{issuer}"), IDP_ISSUER_SK)
}

pub(crate) fn setting_item_key(key: &str) -> HashMap<String, AttributeValue> {
    primary_key(format!("{SETTING_PK_PREFIX}{key}"), SETTING_SK)
}

pub(crate) fn cli_session_item_key(id: &str) -> HashMap<String, AttributeValue> {
    primary_key(format!("{CLI_SESSION_PK_PREFIX}{id}"), CLI_SESSION_SK)
}

pub(crate) fn setup_token_item_key(id: &str) -> HashMap<String, AttributeValue> {
    primary_key(format!("{SETUP_TOKEN_PK_PREFIX}{id}"), SETUP_TOKEN_SK)
}

/// A device authorization, by the SHA-256 of its device code.
pub(crate) fn device_item_key(id: &str) -> HashMap<String, AttributeValue> {
    primary_key(format!("{DEVICE_PK_PREFIX}{id}"), DEVICE_SK)
}

/// The marker of a user code, pointing to its device authorization.
pub(crate) fn device_user_code_item_key(user_code: &str) -> HashMap<String, AttributeValue> {
    primary_key(
        format!("{DEVICE_USER_PK_PREFIX}{user_code}"),
        DEVICE_USER_SK,
    )
}

pub(crate) fn token_family_item_key(id: &str) -> HashMap<String, AttributeValue> {
    primary_key(format!("{TOKEN_FAMILY_PK_PREFIX}{id}"), TOKEN_FAMILY_SK)
}

/// A refresh token, by the SHA-256 of the token.
pub(crate) fn refresh_item_key(id: &str) -> HashMap<String, AttributeValue> {
    primary_key(format!("{REFRESH_PK_PREFIX}{id}"), REFRESH_SK)
}

/// One sign-in binding: the issuer is the partition and the subject the sort key, so neither needs escaping.
pub(crate) fn link_item_key(issuer: &str, subject: &str) -> HashMap<String, AttributeValue> {
    primary_key(format!("{LINK_PK_PREFIX}{issuer}"), subject)
}

/// The `gsi1` partition listing one person's sign-in bindings.
pub(crate) fn links_gsi1pk(user_id: &str) -> String {
    format!("{LINKS_GSI1PK_PREFIX}{user_id}")
}

pub(crate) fn scim_item_key(kind: &str, id: &str) -> HashMap<String, AttributeValue> {
    primary_key(format!("{SCIM_PK_PREFIX}{kind}#{id}"), SCIM_SK)
}

/// The `gsi1` partition listing one kind of SCIM record of one identity provider.
pub(crate) fn scim_gsi1pk(kind: &str, idp_id: &str) -> String {
    format!("{SCIM_PK_PREFIX}{kind}#{idp_id}")
}

/// One window of one counter: all windows of a scope share a partition, one item per window.
pub(crate) fn counter_item_key(
    scope: &str,
    window_start_s: i64,
) -> HashMap<String, AttributeValue> {
    primary_key(
        format!("{COUNTER_PK_PREFIX}{scope}"),
        &format!("{COUNTER_SK_PREFIX}{window_start_s}"),
    )
}

/// Zero-padded time, then the id: string order is time order, ties broken by id.
fn policy_change_sk(at_ms: i64, id: &str) -> String {
    created_gsi1sk(at_ms, id)
}

/// The `gsi1pk` value under which all key items are listed.
pub(crate) fn keys_gsi1pk() -> AttributeValue {
    AttributeValue::S(KEYS_GSI1PK.to_owned())
}

/// Zero-padded so string order is time order; the id breaks ties deterministically. Times before 1970
/// do not occur (keys are minted now) and are clamped so the padding holds.
fn key_gsi1sk(created_at_ms: i64, id: &str) -> String {
    created_gsi1sk(created_at_ms, id)
}

/// Why an item does not decode as the family asked for: a `StoreError::Corrupt` at the store's edge, a poison
/// record in a stream consumer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemError {
    #[error("{pk} has item_type {found:?}, expected {expected}")]
    WrongType {
        pk: String,
        found: String,
        expected: &'static str,
    },
    #[error("not an event item (item_type {0})")]
    NotAnEvent(String),
    #[error("{item} item without {attr}")]
    Missing {
        item: &'static str,
        attr: &'static str,
    },
    #[error("usage item without a string pk: {0}")]
    UsagePk(String),
    #[error("counter field {0} is not a number")]
    NotANumber(String),
    #[error("counter field {field} = {value}: {error}")]
    Number {
        field: String,
        value: String,
        error: std::num::ParseIntError,
    },
    #[error("cannot encode {what}: {error}")]
    Encode { what: &'static str, error: String },
    #[error("{what} does not decode: {error}")]
    Decode { what: &'static str, error: String },
    #[error("{pk}: {error}")]
    Usage { pk: String, error: String },
}

impl From<ItemError> for StoreError {
    fn from(e: ItemError) -> Self {
        Self::Corrupt(e.to_string())
    }
}

/// Items are decoded by shape; this rejects an item of another family that happens to have that shape.
fn check_type(pk: &str, found: &str, expected: &'static str) -> Result<(), ItemError> {
    if found == expected {
        Ok(())
    } else {
        Err(ItemError::WrongType {
            pk: pk.to_owned(),
            found: found.to_owned(),
            expected,
        })
    }
}

/// The `gsi1sk` of every listed family: creation time, zero-padded, then the id.
pub(crate) fn created_gsi1sk(created_at_ms: i64, id: &str) -> String {
    format!("{:020}#{id}", created_at_ms.max(0))
}

/// A virtual key as stored. Optional attributes are omitted rather than stored as NULL, so that
/// `if_not_exists(revoked_at_ms, ...)` sees an unrevoked key as having no revocation time.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct KeyItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    item_type: String,
    id: String,
    name: String,
    key_hash: String,
    prefix: String,
    created_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    team_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rate_limit_rpm: Option<u32>,
}

impl From<&VirtualKey> for KeyItem {
    fn from(key: &VirtualKey) -> Self {
        Self {
            pk: format!("{KEY_PK_PREFIX}{}", key.key_hash),
            sk: KEY_SK.to_owned(),
            gsi1pk: KEYS_GSI1PK.to_owned(),
            gsi1sk: key_gsi1sk(key.created_at_ms, &key.id),
            item_type: item_type::KEY.to_owned(),
            id: key.id.clone(),
            name: key.name.clone(),
            key_hash: key.key_hash.clone(),
            prefix: key.prefix.clone(),
            created_at_ms: key.created_at_ms,
            revoked_at_ms: key.revoked_at_ms,
            user_id: key.user_id.clone(),
            team_id: key.team_id.clone(),
            rate_limit_rpm: key.rate_limit_rpm,
        }
    }
}

impl KeyItem {
    /// The domain key, or why this item is not a key item.
    pub(crate) fn into_key(self) -> Result<VirtualKey, ItemError> {
        check_type(&self.pk, &self.item_type, item_type::KEY)?;
        Ok(VirtualKey {
            id: self.id,
            name: self.name,
            key_hash: self.key_hash,
            prefix: self.prefix,
            created_at_ms: self.created_at_ms,
            revoked_at_ms: self.revoked_at_ms,
            user_id: self.user_id,
            team_id: self.team_id,
            rate_limit_rpm: self.rate_limit_rpm,
        })
    }
}

/// Points from a key id to the key item, for commands that name keys by id (revoke, show).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct KeyIdItem {
    pk: String,
    sk: String,
    item_type: String,
    pub(crate) key_hash: String,
}

impl From<&VirtualKey> for KeyIdItem {
    fn from(key: &VirtualKey) -> Self {
        Self {
            pk: format!("{KEY_ID_PK_PREFIX}{}", key.id),
            sk: KEY_ID_SK.to_owned(),
            item_type: item_type::KEY_ID.to_owned(),
            key_hash: key.key_hash.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(created_at_ms: i64, id: &str) -> VirtualKey {
        VirtualKey {
            id: id.into(),
            name: "n".into(),
            key_hash: "ab".repeat(32),
            prefix: "sk-sluice-AbCd".into(),
            created_at_ms,
            revoked_at_ms: None,
            user_id: None,
            team_id: None,
            rate_limit_rpm: None,
        }
    }

    #[test]
    fn gsi1sk_sorts_like_creation_time() {
        let earlier = KeyItem::from(&key(999, "key_b"));
        let later = KeyItem::from(&key(1_000, "key_a"));
        assert!(
            earlier.gsi1sk < later.gsi1sk,
            "{} vs {}",
            earlier.gsi1sk,
            later.gsi1sk
        );
    }

    #[test]
    fn unset_optional_fields_are_absent_not_null() {
        let item: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(KeyItem::from(&key(1, "key_a"))).expect("serialises");
        for absent in ["revoked_at_ms", "user_id", "team_id", "rate_limit_rpm"] {
            assert!(!item.contains_key(absent), "{absent} present: {item:?}");
        }
        assert_eq!(item.get(ITEM_TYPE), Some(&AttributeValue::S("key".into())));
        assert_eq!(
            item.get(PK),
            Some(&AttributeValue::S(format!("KEY#{}", "ab".repeat(32))))
        );
    }

    #[test]
    fn item_of_another_family_is_not_a_key() {
        let mut item = KeyItem::from(&key(1, "key_a"));
        item.item_type = "usage".into();
        assert!(item.into_key().is_err());
    }
}
