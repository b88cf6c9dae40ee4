//! Column conversions shared by the tables: roles, JSON lists and the clock. A value that does not convert
//! is a decoding failure, which `error::to_store_error` reports as `Corrupt`.

use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::types::Type;
use sluice_core::identity::{PersonGroups, Role};
use sluice_core::store::StoreError;

/// A role column (`admin` / `member`).
pub(crate) fn role(index: usize, text: &str) -> rusqlite::Result<Role> {
    Role::parse(text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            Type::Text,
            format!("unknown role {text:?}").into(),
        )
    })
}

/// A list of strings stored as a JSON array in a TEXT column.
pub(crate) fn string_list(index: usize, json: &str) -> rusqlite::Result<Vec<String>> {
    serde_json::from_str(json)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(e)))
}

pub(crate) fn string_list_json(list: &[String]) -> String {
    // A slice of strings always serialises; the fallback only keeps this infallible without a panic.
    serde_json::to_string(list).unwrap_or_else(|_| "[]".to_owned())
}

/// A person's groups stored as a JSON object in a TEXT column (`{}` for none).
pub(crate) fn groups(index: usize, json: &str) -> rusqlite::Result<PersonGroups> {
    serde_json::from_str(json)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(e)))
}

pub(crate) fn groups_json(groups: &PersonGroups) -> String {
    // Two lists of strings always serialise; the fallback only keeps this infallible without a panic.
    serde_json::to_string(groups).unwrap_or_else(|_| "{}".to_owned())
}

/// A version read from an INTEGER column, which SQLite keeps signed.
pub(crate) fn version(index: usize, value: i64) -> rusqlite::Result<u64> {
    u64::try_from(value).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(index, value))
}

/// A version for an INTEGER column; past `i64::MAX` it cannot be stored.
pub(crate) fn version_sql(version: u64) -> Result<i64, StoreError> {
    i64::try_from(version)
        .map_err(|_| StoreError::Corrupt(format!("version {version} is too large to store")))
}

/// Wall-clock Unix milliseconds, for expiry checks. A clock before 1970 reads as 0.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_role_is_a_conversion_failure() {
        assert_eq!(role(2, "admin").expect("known"), Role::Admin);
        assert!(matches!(
            role(2, "root"),
            Err(rusqlite::Error::FromSqlConversionFailure(2, ..))
        ));
    }

    #[test]
    fn groups_round_trip_through_json_and_none_is_an_empty_object() {
        assert_eq!(groups_json(&PersonGroups::default()), "{}");
        let some = PersonGroups {
            idp: vec!["eng".to_owned()],
            scim: vec!["Platform — ünï".to_owned()],
        };
        assert_eq!(groups(0, &groups_json(&some)).expect("decodes"), some);
        assert!(groups(0, r#"{"idp": "eng"}"#).is_err());
    }

    #[test]
    fn negative_versions_do_not_convert() {
        assert_eq!(version(0, 3).expect("converts"), 3);
        assert!(version(0, -1).is_err());
        assert!(version_sql(u64::MAX).is_err());
    }

    #[test]
    fn string_lists_round_trip_through_json() {
        let list = vec!["example.com".to_owned(), "ünï.org".to_owned()];
        assert_eq!(
            string_list(0, &string_list_json(&list)).expect("decodes"),
            list
        );
        assert!(string_list(0, "not json").is_err());
    }
}
