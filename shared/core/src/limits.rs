//! Org-wide limits that cover every credential, as settings: the per-person rate limit (people signed in with a
//! session or an OIDC token, and every key a person owns, share one counter per person), the allowlist of raw
//! Bedrock ids, and the per-person key quota. What a stored value means and what the admin API accepts are
//! decided here once; the gateway reads them in its admission step, the admin API and the CLI where they write.

use crate::store::{SettingsStore, StoreError};

/// Requests per minute one person may make through all their credentials together.
pub const SETTING_PERSON_RATE_LIMIT_RPM: &str = "person_rate_limit_rpm";
/// Without the setting: two requests a second, far above what one person's Claude Code sends, low enough that a
/// leaked session token or a runaway script cannot drain a budget or the account's Bedrock quota in minutes.
pub const DEFAULT_PERSON_RATE_LIMIT_RPM: u32 = 120;
/// The most the setting may say.
pub const MAX_PERSON_RATE_LIMIT_RPM: u32 = 100_000;
/// Raw Bedrock ids and ARNs allowed besides the residency rules (`crate::model_access`).
pub const SETTING_ALLOWED_BEDROCK_MODELS: &str = crate::model_access::ALLOWLIST_SETTING;
/// Active (unrevoked) keys one person may own.
pub const SETTING_MAX_KEYS_PER_PERSON: &str = "max_keys_per_person";
pub const DEFAULT_MAX_KEYS_PER_PERSON: u32 = 20;
pub const MAX_MAX_KEYS_PER_PERSON: u32 = 10_000;

/// The rate-limit counter of a person, shared by their session, OIDC tokens and keys.
#[must_use]
pub fn person_rate_scope(user_id: &str) -> String {
    format!("user:{user_id}")
}

/// A whole number in `1..=max`; 0 is refused, so no setting can switch a limit off by accident.
#[must_use]
pub fn parse_limit(raw: &str, max: u32) -> Option<u32> {
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=max).contains(n))
}

/// Why an allowlist value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AllowlistError {
    #[error("not a JSON array of strings: {0}")]
    NotAnArray(String),
    #[error("{0:?} is not a Bedrock model id or ARN")]
    NotAnId(String),
}

/// The allowlist as stored: a JSON array of ids, or ids separated by commas or whitespace.
///
/// # Errors
/// A JSON value that is not an array of strings, or an entry that is not one id.
pub fn parse_allowlist(raw: &str) -> Result<Vec<String>, AllowlistError> {
    let trimmed = raw.trim();
    let ids: Vec<String> = if trimmed.starts_with('[') {
        serde_json::from_str::<Vec<String>>(trimmed)
            .map_err(|e| AllowlistError::NotAnArray(e.to_string()))?
    } else {
        trimmed
            .split(|c: char| c == ',' || c.is_whitespace())
            .map(str::to_owned)
            .collect()
    };
    let ids: Vec<String> = ids
        .into_iter()
        .map(|id| id.trim().to_owned())
        .filter(|id| !id.is_empty())
        .collect();
    if let Some(bad) = ids.iter().find(|id| {
        id.len() > 512
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_:/".contains(c))
    }) {
        return Err(AllowlistError::NotAnId(bad.clone()));
    }
    Ok(ids)
}

/// What the admission step needs from the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgLimits {
    pub person_rpm: u32,
    pub allowed_models: Vec<String>,
}

impl OrgLimits {
    /// From the stored values; one that does not parse is logged and its default used.
    #[must_use]
    pub fn from_settings(person_rpm: Option<&str>, allowed: Option<&str>) -> Self {
        let person_rpm = match person_rpm {
            None => DEFAULT_PERSON_RATE_LIMIT_RPM,
            Some(raw) => parse_limit(raw, MAX_PERSON_RATE_LIMIT_RPM).unwrap_or_else(|| {
                tracing::warn!(
                    key = SETTING_PERSON_RATE_LIMIT_RPM,
                    value = raw,
                    "setting ignored; using the default"
                );
                DEFAULT_PERSON_RATE_LIMIT_RPM
            }),
        };
        let allowed_models = match allowed.map(parse_allowlist) {
            None => Vec::new(),
            Some(Ok(ids)) => ids,
            Some(Err(e)) => {
                tracing::warn!(key = SETTING_ALLOWED_BEDROCK_MODELS, error = %e, "setting ignored; nothing allowlisted");
                Vec::new()
            }
        };
        Self {
            person_rpm,
            allowed_models,
        }
    }
}

/// The key quota as stored: the setting when it is a valid limit, else the default.
#[must_use]
pub fn key_quota(raw: Option<&str>) -> u32 {
    raw.and_then(|raw| parse_limit(raw, MAX_MAX_KEYS_PER_PERSON))
        .unwrap_or(DEFAULT_MAX_KEYS_PER_PERSON)
}

/// The key quota in force for a store: the setting, else the default.
///
/// # Errors
/// The store could not be read.
pub async fn max_keys_per_person<S: SettingsStore + ?Sized>(store: &S) -> Result<u32, StoreError> {
    Ok(key_quota(
        store
            .get_setting(SETTING_MAX_KEYS_PER_PERSON)
            .await?
            .as_deref(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_default_when_absent_or_unreadable_and_zero_is_never_accepted() {
        let l = OrgLimits::from_settings(None, None);
        assert_eq!((l.person_rpm, l.allowed_models.len()), (120, 0));
        assert_eq!(OrgLimits::from_settings(Some("0"), None).person_rpm, 120);
        assert_eq!(OrgLimits::from_settings(Some("lots"), None).person_rpm, 120);
        assert_eq!(OrgLimits::from_settings(Some(" 30 "), None).person_rpm, 30);
        assert_eq!(parse_limit("100001", MAX_PERSON_RATE_LIMIT_RPM), None);
        assert_eq!(
            (key_quota(None), key_quota(Some("0")), key_quota(Some("3"))),
            (20, 20, 3)
        );
    }

    #[test]
    fn the_allowlist_reads_json_or_a_list_and_refuses_odd_entries() {
        assert_eq!(
            parse_allowlist(r#"["a.b", " arn:aws:bedrock:x "]"#).expect("json"),
            ["a.b", "arn:aws:bedrock:x"]
        );
        assert_eq!(
            parse_allowlist("a.b, c.d\ne.f").expect("list"),
            ["a.b", "c.d", "e.f"]
        );
        assert!(parse_allowlist("").expect("empty").is_empty());
        assert_eq!(
            parse_allowlist(r#"["a b"]"#),
            Err(AllowlistError::NotAnId("a b".into()))
        );
        assert!(matches!(
            parse_allowlist(r#"{"a":1}"#),
            Err(AllowlistError::NotAnId(_))
        ));
        assert!(matches!(
            parse_allowlist("[1]"),
            Err(AllowlistError::NotAnArray(_))
        ));
    }
}
