//! Items of the policy document and its audit trail.
//!
//! The document is the setting item of `POLICIES_SETTING` (same key, `item_type` and `value`, so `get_setting`
//! and `budget_inputs` read it like any setting) plus `policy_version`, a Number the conditional replace
//! compares. Changes share one partition, sorted by time, so the newest are one Query read backwards.

use serde::{Deserialize, Serialize};
use sluice_core::store::{POLICIES_SETTING, PolicyChange};

use super::{
    ItemError, POLICY_CHANGE_PK, SETTING_PK_PREFIX, SETTING_SK, check_type, item_type,
    policy_change_sk,
};

/// Replaces the document held at `:expected`; with `:expected` = 0 also when none (or an unversioned one) is
/// stored.
pub(crate) const POLICY_VERSION_IS: &str = "policy_version = :expected";
pub(crate) const POLICY_VERSION_IS_ZERO_OR_ABSENT: &str = "attribute_not_exists(pk) OR attribute_not_exists(policy_version) OR policy_version = :expected";
pub(crate) const EXPECTED_VERSION: &str = ":expected";
/// The newest changes: one partition, read backwards.
pub(crate) const LIST_POLICY_CHANGES: &str = "pk = :pk";
pub(crate) const LIST_POLICY_CHANGES_PK: &str = ":pk";

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct PolicyDocumentItem {
    pk: String,
    sk: String,
    item_type: String,
    value: String,
    /// The document's version (Number), which the conditions compare; absent on a document stored as a plain
    /// setting, which reads as version 0.
    #[serde(default)]
    policy_version: u64,
}

impl PolicyDocumentItem {
    pub(crate) fn new(version: u64, document: &str) -> Self {
        Self {
            pk: format!("{SETTING_PK_PREFIX}{POLICIES_SETTING}"),
            sk: SETTING_SK.to_owned(),
            item_type: item_type::SETTING.to_owned(),
            value: document.to_owned(),
            policy_version: version,
        }
    }

    /// The version and the document, or why this item is not the document.
    pub(crate) fn into_document(self) -> Result<(u64, String), ItemError> {
        check_type(&self.pk, &self.item_type, item_type::SETTING)?;
        Ok((self.policy_version, self.value))
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct PolicyChangeItem {
    pk: String,
    sk: String,
    item_type: String,
    id: String,
    at_ms: i64,
    actor: String,
    from_version: u64,
    to_version: u64,
    diff: String,
}

impl From<&PolicyChange> for PolicyChangeItem {
    fn from(change: &PolicyChange) -> Self {
        Self {
            pk: POLICY_CHANGE_PK.to_owned(),
            sk: policy_change_sk(change.at_ms, &change.id),
            item_type: item_type::POLICY_CHANGE.to_owned(),
            id: change.id.clone(),
            at_ms: change.at_ms,
            actor: change.actor.clone(),
            from_version: change.from_version,
            to_version: change.to_version,
            diff: change.diff.clone(),
        }
    }
}

impl PolicyChangeItem {
    pub(crate) fn into_change(self) -> Result<PolicyChange, ItemError> {
        check_type(&self.pk, &self.item_type, item_type::POLICY_CHANGE)?;
        Ok(PolicyChange {
            id: self.id,
            at_ms: self.at_ms,
            actor: self.actor,
            from_version: self.from_version,
            to_version: self.to_version,
            diff: self.diff,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::types::AttributeValue;

    use super::super::{SettingItem, setting_item_key};
    use super::*;

    #[test]
    fn the_document_is_the_policies_setting_item_with_a_numeric_version() {
        let item: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(PolicyDocumentItem::new(7, r#"{"version":7}"#))
                .expect("serialises");
        for (name, value) in setting_item_key(POLICIES_SETTING) {
            assert_eq!(item.get(&name), Some(&value), "{name}");
        }
        assert_eq!(
            item.get("policy_version"),
            Some(&AttributeValue::N("7".into()))
        );
        let setting: SettingItem = serde_dynamo::from_item(item).expect("reads as a setting");
        assert_eq!(setting.key(), POLICIES_SETTING);
        assert_eq!(setting.into_value().expect("setting"), r#"{"version":7}"#);
    }

    #[test]
    fn a_plain_setting_reads_as_version_zero() {
        let item: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(SettingItem::new(POLICIES_SETTING, "{}")).expect("serialises");
        let stored: PolicyDocumentItem = serde_dynamo::from_item(item).expect("decodes");
        assert_eq!(
            stored.into_document().expect("document"),
            (0, "{}".to_owned())
        );
    }

    #[test]
    fn change_sort_keys_sort_by_time_then_id() {
        let change = |at_ms, id: &str| PolicyChange {
            id: id.to_owned(),
            at_ms,
            actor: "cli:local".to_owned(),
            from_version: 0,
            to_version: 1,
            diff: "{}".to_owned(),
        };
        let earlier = PolicyChangeItem::from(&change(999, "pch_b"));
        let later = PolicyChangeItem::from(&change(1_000, "pch_a"));
        assert!(earlier.sk < later.sk, "{} vs {}", earlier.sk, later.sk);
        let back = later.into_change().expect("change");
        assert_eq!(back, change(1_000, "pch_a"));
    }
}
