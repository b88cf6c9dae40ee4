//! What the CCAG-compatible admin routes answer for keys, users and teams, and the reading of their partial JSON
//! bodies (absent field = keep, `null` = clear).
//!
//! Views keep CCAG's field names (`is_active`, `created_at` as RFC 3339) so `ccag` prints them, and Sluice's own
//! (`created_at_ms`, `revoked_at`) beside them. A key's hash is never shown.

use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
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

/// `{"deleted": …}`: the answer of a removal.
#[derive(Debug, Serialize)]
pub(super) struct Deleted {
    pub deleted: bool,
}

/// `{"deleted": true, "id"}`: the answer of a removal that names what went.
#[derive(Debug, Serialize)]
pub(super) struct DeletedId<'a> {
    pub deleted: bool,
    pub id: &'a str,
}

/// A field of a request body: absent (keep the value), `null` (clear it) or set — CCAG's partial updates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) enum Field<T> {
    #[default]
    Absent,
    Null,
    Set(T),
}

impl<T> Field<T> {
    /// `None` when absent, `Some(None)` when `null`.
    pub(super) fn patch(self) -> Option<Option<T>> {
        match self {
            Self::Absent => None,
            Self::Null => Some(None),
            Self::Set(v) => Some(Some(v)),
        }
    }

    /// The value; absent and `null` both read as none.
    pub(super) fn value(self) -> Option<T> {
        self.patch().flatten()
    }

    /// The value or none when absent; `null` refused (a field that cannot be cleared).
    pub(super) fn not_null(self, field: &str) -> Result<Option<T>, ApiError> {
        match self {
            Self::Null => Err(ApiError::invalid(format!("{field}: must not be null"))),
            other => Ok(other.value()),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(deserializer).map(|v| v.map_or(Self::Null, Self::Set))
    }
}

/// A string sent trimmed and not empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(serde::de::Error::custom("must be a non-empty string"));
        }
        Ok(Self(trimmed.to_owned()))
    }
}

/// A nested object of a request body read into `T`, refusal paths kept (`provider.api_key: …`). Anything but an
/// object is refused, an array too (serde would read a struct from one by position).
#[derive(Debug)]
pub(super) struct Object<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for Fields<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }

        deserializer.deserialize_any(Fields(PhantomData)).map(Self)
    }
}

/// Requests per minute; 0 is no limit of its own, as `null` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Rpm(pub Option<u32>);

impl<'de> Deserialize<'de> for Rpm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)?
            .as_u64()
            .map(u32::try_from)
        {
            Some(Ok(0)) => Ok(Self(None)),
            Some(Ok(n)) => Ok(Self(Some(n))),
            _ => Err(serde::de::Error::custom(
                "must be a whole number of requests per minute, 0 or null for unlimited",
            )),
        }
    }
}

impl Field<Rpm> {
    /// As `KeyUpdate` takes it: absent keeps, `null` and 0 clear.
    pub(super) fn rpm_patch(self) -> Option<Option<u32>> {
        self.patch().map(|rpm| rpm.and_then(|r| r.0))
    }
}

/// A request body read into its typed form; an empty body reads as `{}` (CCAG's CLI posts `{}` or nothing). A
/// refusal names the field: `rate_limit_rpm: must be a whole number …`.
pub(super) fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::invalid("the body must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        ApiError::invalid(format!("{path}: {}", e.into_inner()))
    })
}

pub(super) fn not_found(what: &str) -> ApiError {
    ApiError::new(ApiErrorKind::NotFound, format!("{what} not found"))
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

    #[test]
    fn times_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_777_636_800_123), "2026-05-01T12:00:00.123Z");
    }

    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct Limits {
        rate_limit_rpm: Field<Rpm>,
        name: Field<Text>,
    }

    fn limits(v: &Value) -> Result<Limits, ApiError> {
        super::body(v.to_string().as_bytes())
    }

    #[test]
    fn zero_and_null_rate_limits_mean_unlimited() {
        for v in [
            json!({"rate_limit_rpm": 0}),
            json!({"rate_limit_rpm": null}),
        ] {
            assert_eq!(
                limits(&v).expect("ok").rate_limit_rpm.rpm_patch(),
                Some(None)
            );
        }
        assert_eq!(
            limits(&json!({"rate_limit_rpm": 60}))
                .expect("ok")
                .rate_limit_rpm
                .rpm_patch(),
            Some(Some(60))
        );
        assert_eq!(
            limits(&json!({})).expect("ok").rate_limit_rpm.rpm_patch(),
            None
        );
        for bad in [json!(-1), json!(1.5), json!("60"), json!(5_000_000_000_u64)] {
            let error = limits(&json!({"rate_limit_rpm": bad})).expect_err("refused");
            assert!(
                error
                    .message
                    .starts_with("rate_limit_rpm: must be a whole number"),
                "{}",
                error.message
            );
        }
    }

    #[test]
    fn typed_bodies_trim_text_name_the_bad_field_and_read_an_empty_body_as_empty() {
        let named = limits(&json!({"name": "  ops  "})).expect("ok");
        assert_eq!(named.name, Field::Set(Text("ops".into())));
        let error = limits(&json!({"name": "   "})).expect_err("blank");
        assert!(
            error
                .message
                .starts_with("name: must be a non-empty string"),
            "{}",
            error.message
        );
        let error = limits(&json!({"name": 3})).expect_err("number");
        assert!(
            error.message.starts_with("name: invalid type"),
            "{}",
            error.message
        );
        assert_eq!(
            limits(&json!({"name": null})).expect("ok").name,
            Field::Null
        );
        assert!(matches!(
            super::body::<Limits>(b" ").expect("empty").name,
            Field::Absent
        ));
        assert!(super::body::<Limits>(b"[1]").is_err());
        assert!(super::body::<Limits>(b"{").is_err());
    }

    #[test]
    fn a_nested_object_keeps_its_path_and_refuses_other_shapes() {
        #[derive(Debug, Deserialize)]
        struct Outer {
            inner: Option<Object<Limits>>,
        }
        let read = |v: Value| super::body::<Outer>(v.to_string().as_bytes());
        let inner = read(json!({"inner": {"name": " x "}})).expect("object");
        assert_eq!(
            inner.inner.map(|o| o.0.name),
            Some(Field::Set(Text("x".into())))
        );
        assert!(read(json!({"inner": null})).expect("null").inner.is_none());
        let error = read(json!({"inner": {"name": ""}})).expect_err("blank");
        assert!(
            error.message.starts_with("inner.name: must be a non-empty"),
            "{}",
            error.message
        );
        for shape in [json!(["x"]), json!("x"), json!(1)] {
            let error = read(json!({ "inner": shape })).expect_err("not an object");
            assert!(
                error.message.starts_with("inner: invalid type")
                    && error.message.ends_with("expected an object"),
                "{}",
                error.message
            );
        }
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
