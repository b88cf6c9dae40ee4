//! What the CCAG-compatible admin routes answer for keys, users and teams, and the reading of their partial JSON
//! bodies (absent field = keep, `null` = clear).
//!
//! Views keep CCAG's field names (`is_active`, `created_at` as RFC 3339) so `ccag` prints them, and Sluice's own
//! (`created_at_ms`, `revoked_at`) beside them. A key's hash is never shown.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_core::identity::{Team, User};
use sluice_core::settings_json;
use sluice_core::store::{Store, VirtualKey};

/// Unix milliseconds as RFC 3339 UTC (`2026-05-01T12:00:00.000Z`).
pub(super) fn rfc3339(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A key as the admin API shows it (never its hash).
#[derive(Debug, Serialize)]
pub(super) struct KeyView<'a> {
    id: &'a str,
    name: &'a str,
    prefix: &'a str,
    user_id: Option<&'a str>,
    team_id: Option<&'a str>,
    is_active: bool,
    /// Unlimited is `null`, however it was asked for (`0` or absent).
    rate_limit_rpm: Option<u32>,
    created_at: String,
    created_at_ms: i64,
    revoked_at: Option<String>,
    /// CCAG's field; Sluice keys do not expire.
    expires_at: Option<()>,
}

pub(super) fn key_view(k: &VirtualKey) -> KeyView<'_> {
    KeyView {
        id: &k.id,
        name: &k.name,
        prefix: &k.prefix,
        user_id: k.user_id.as_deref(),
        team_id: k.team_id.as_deref(),
        is_active: k.is_active(),
        rate_limit_rpm: k.rate_limit_rpm.filter(|r| *r > 0),
        created_at: rfc3339(k.created_at_ms),
        created_at_ms: k.created_at_ms,
        revoked_at: k.revoked_at_ms.map(rfc3339),
        expires_at: None,
    }
}

/// A person as the admin API shows them.
#[derive(Debug, Serialize)]
pub(super) struct UserView<'a> {
    id: &'a str,
    email: &'a str,
    role: &'static str,
    team_id: Option<&'a str>,
    active: bool,
    idp: &'a str,
    created_at: String,
    created_at_ms: i64,
}

pub(super) fn user_view(u: &User) -> UserView<'_> {
    UserView {
        id: &u.id,
        email: &u.email,
        role: u.role.as_str(),
        team_id: u.team_id.as_deref(),
        active: u.active,
        idp: &u.idp,
        created_at: rfc3339(u.created_at_ms),
        created_at_ms: u.created_at_ms,
    }
}

/// A team as the admin API shows it.
#[derive(Debug, Serialize)]
pub(super) struct TeamView<'a> {
    id: &'a str,
    name: &'a str,
    created_at: String,
    created_at_ms: i64,
}

pub(super) fn team_view(t: &Team) -> TeamView<'_> {
    TeamView {
        id: &t.id,
        name: &t.name,
        created_at: rfc3339(t.created_at_ms),
        created_at_ms: t.created_at_ms,
    }
}

/// `{"keys": [...]}`, `{"users": [...]}`, `{"teams": [...]}`, `{"members": [...]}`: the list answers.
#[derive(Debug, Serialize)]
pub(super) struct Keys<'a> {
    pub keys: Vec<KeyView<'a>>,
}

#[derive(Debug, Serialize)]
pub(super) struct Users<'a> {
    pub users: Vec<UserView<'a>>,
}

#[derive(Debug, Serialize)]
pub(super) struct Members<'a> {
    pub members: Vec<UserView<'a>>,
}

#[derive(Debug, Serialize)]
pub(super) struct Teams<'a> {
    pub teams: Vec<TeamView<'a>>,
}

pub(super) fn not_found(what: &str) -> ApiError {
    ApiError::new(ApiErrorKind::NotFound, format!("{what} not found"))
}

/// The body as a JSON object; an empty body reads as `{}` (CCAG's CLI posts `{}` or nothing).
pub(super) fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::invalid("the body must be a JSON object")),
        Err(e) => Err(ApiError::invalid(format!("invalid JSON body: {e}"))),
    }
}

/// A string field that may be absent (`None`), `null` (`Some(None)`) or a non-empty string.
pub(super) fn nullable_string(
    body: &Map<String, Value>,
    field: &str,
) -> Result<Option<Option<String>>, ApiError> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(Some(s.trim().to_owned()))),
        Some(_) => Err(ApiError::invalid(format!(
            "{field}: must be a non-empty string or null"
        ))),
    }
}

/// A string field that may be absent or a non-empty string (`null` is refused).
pub(super) fn string(body: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    match nullable_string(body, field)? {
        Some(None) => Err(ApiError::invalid(format!(
            "{field}: must be a non-empty string"
        ))),
        other => Ok(other.flatten()),
    }
}

/// `rate_limit_rpm`: absent (`None`), or a whole number of requests per minute where `0` and `null` mean
/// unlimited (`Some(None)`).
pub(super) fn rate_limit(body: &Map<String, Value>) -> Result<Option<Option<u32>>, ApiError> {
    match body.get("rate_limit_rpm") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(v) => match v.as_u64().map(u32::try_from) {
            Some(Ok(0)) => Ok(Some(None)),
            Some(Ok(n)) => Ok(Some(Some(n))),
            _ => Err(ApiError::invalid(
                "rate_limit_rpm: must be a whole number of requests per minute, 0 or null for unlimited",
            )),
        },
    }
}

/// The body as a JSON object.
pub(super) fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match crate::parse_json::<Value>(body)? {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::invalid("the body must be a JSON object")),
    }
}

/// A JSON setting (`sluice_core::settings_json::load_lenient`) in the admin API's error envelope.
pub(super) async fn load_json<T: DeserializeOwned>(
    store: &dyn Store,
    key: &str,
) -> Result<Option<T>, ApiError> {
    settings_json::load_lenient(store, key)
        .await
        .map_err(|e| crate::store_error(&e))
}

/// Stores a JSON setting (`sluice_core::settings_json::save`) in the admin API's error envelope.
pub(super) async fn save_json<T: Serialize>(
    store: &dyn Store,
    key: &str,
    value: &T,
) -> Result<(), ApiError> {
    settings_json::save(store, key, value)
        .await
        .map_err(|e| crate::store_error(&e))
}

/// A time as RFC 3339 UTC in whole seconds (`2026-05-01T12:00:00Z`), as CCAG's budget and pricing answers show it.
pub(super) fn rfc3339_secs(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: &Value) -> Map<String, Value> {
        v.as_object().expect("object").clone()
    }

    #[test]
    fn times_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_777_636_800_123), "2026-05-01T12:00:00.123Z");
    }

    #[test]
    fn absent_null_and_value_are_told_apart() {
        let b = body(&json!({"team_id": null, "user_id": "usr_1"}));
        assert_eq!(nullable_string(&b, "name").expect("ok"), None);
        assert_eq!(nullable_string(&b, "team_id").expect("ok"), Some(None));
        assert_eq!(
            nullable_string(&b, "user_id").expect("ok"),
            Some(Some("usr_1".into()))
        );
        assert!(nullable_string(&body(&json!({"x": 3})), "x").is_err());
        assert!(string(&b, "team_id").is_err());
    }

    #[test]
    fn zero_and_null_rate_limits_mean_unlimited() {
        for v in [
            json!({"rate_limit_rpm": 0}),
            json!({"rate_limit_rpm": null}),
        ] {
            assert_eq!(rate_limit(&body(&v)).expect("ok"), Some(None));
        }
        assert_eq!(
            rate_limit(&body(&json!({"rate_limit_rpm": 60}))).expect("ok"),
            Some(Some(60))
        );
        assert_eq!(rate_limit(&body(&json!({}))).expect("ok"), None);
        for bad in [json!(-1), json!(1.5), json!("60"), json!(5_000_000_000_u64)] {
            assert!(rate_limit(&body(&json!({"rate_limit_rpm": bad}))).is_err());
        }
    }

    #[test]
    fn empty_body_is_an_empty_object_and_arrays_are_refused() {
        assert!(object(b"").expect("empty").is_empty());
        assert!(object(b"[1]").is_err());
        assert!(object(b"{").is_err());
    }

    #[test]
    fn key_view_hides_the_hash_and_shows_unlimited_as_null() {
        let key = VirtualKey {
            id: "key_1".into(),
            name: "n".into(),
            key_hash: "secret-hash".into(),
            prefix: "sk-sluice-AbCd".into(),
            created_at_ms: 0,
            revoked_at_ms: None,
            user_id: None,
            team_id: None,
            rate_limit_rpm: Some(0),
        };
        let v = serde_json::to_value(key_view(&key)).expect("json");
        assert!(!v.to_string().contains("secret-hash"));
        assert_eq!(v["rate_limit_rpm"], Value::Null);
        assert_eq!(v["is_active"], true);
        assert_eq!(v["expires_at"], Value::Null);
    }
}
