//! The single-table layout: every item family's key attributes, `item_type`, and the expressions that
//! depend on attribute names. `docs/store-layout.md` explains the choices; keep the two in step.
//!
//! | family  | pk              | sk      | gsi1pk | gsi1sk                   | item_type |
//! |---------|-----------------|---------|--------|--------------------------|-----------|
//! | key     | `KEY#<hash>`    | `KEY`   | `KEYS` | `<created_ms:020>#<id>`  | `key`     |
//! | key id  | `KEYID#<id>`    | `KEYID` | —      | —                        | `key_id`  |

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use sluice_core::store::VirtualKey;

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
}

const KEY_PK_PREFIX: &str = "KEY#";
const KEY_SK: &str = "KEY";
const KEY_ID_PK_PREFIX: &str = "KEYID#";
const KEY_ID_SK: &str = "KEYID";
const KEYS_GSI1PK: &str = "KEYS";

/// Guards every create: the item must not exist yet.
pub(crate) const IS_NEW: &str = "attribute_not_exists(pk)";
/// Guards updates: never create an item by updating it.
pub(crate) const EXISTS: &str = "attribute_exists(pk)";
/// `if_not_exists` keeps the first revocation time when a key is revoked again.
pub(crate) const REVOKE: &str = "SET revoked_at_ms = if_not_exists(revoked_at_ms, :at)";
pub(crate) const REVOKE_AT: &str = ":at";
pub(crate) const LIST_KEYS: &str = "gsi1pk = :keys";
pub(crate) const LIST_KEYS_PK: &str = ":keys";

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

/// The `gsi1pk` value under which all key items are listed.
pub(crate) fn keys_gsi1pk() -> AttributeValue {
    AttributeValue::S(KEYS_GSI1PK.to_owned())
}

/// Zero-padded so string order is time order; the id breaks ties deterministically. Times before 1970
/// do not occur (keys are minted now) and are clamped so the padding holds.
fn key_gsi1sk(created_at_ms: i64, id: &str) -> String {
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
    pub(crate) fn into_key(self) -> Result<VirtualKey, String> {
        if self.item_type != item_type::KEY {
            return Err(format!(
                "{} has item_type {:?}, expected key",
                self.pk, self.item_type
            ));
        }
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
