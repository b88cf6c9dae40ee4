//! Runtime settings and the web-search configuration, in CCAG's shapes: `GET /admin/settings` (a flat object,
//! what `ccag config list` prints), `PUT /admin/settings/{key}`, `/admin/websearch-mode` (admin) and the
//! per-person `/admin/search-providers*` (anyone signed in).
//!
//! The gateway searches with these providers (`sluice_inference::search`); the provider test runs one real
//! query. API keys of search providers are kept in the settings and never returned (`has_api_key` says whether
//! one is stored).

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_core::store::Store;

use crate::roles::{Admin, Person};
use crate::telemetry::{
    SETTING_FORWARD_HEADERS as SETTING_TELEMETRY_FORWARD_HEADERS,
    SETTING_FORWARD_URL as SETTING_TELEMETRY_FORWARD_URL, forward_url, headers_to_store,
    masked_headers,
};
use crate::users::caller_user;
use crate::views::{self, Deleted, Object, load_json, rfc3339_secs, save_json};
use crate::{Reply, Shared, now_ms, store_error};
use sluice_core::clock::Ids;
use sluice_core::limits::{
    DEFAULT_MAX_KEYS_PER_PERSON, DEFAULT_PERSON_RATE_LIMIT_RPM, MAX_MAX_KEYS_PER_PERSON,
    MAX_PERSON_RATE_LIMIT_RPM, OrgLimits, SETTING_ALLOWED_BEDROCK_MODELS,
    SETTING_MAX_KEYS_PER_PERSON, SETTING_PERSON_RATE_LIMIT_RPM, key_quota, parse_allowlist,
    parse_limit,
};
use sluice_http::app::{AppState, SETTING_ADMIN_LOGIN_ENABLED, SETTING_SESSION_TTL_HOURS};
use sluice_http::auth::Caller;

pub const SETTING_VIRTUAL_KEYS_ENABLED: &str = "virtual_keys_enabled";
use sluice_core::websearch::SearchQuery;
use sluice_core::websearch::{
    PROVIDER_TYPES, ProviderConfig as Provider,
    SETTING_GLOBAL_PROVIDER as SETTING_WEBSEARCH_GLOBAL_PROVIDER,
    SETTING_MODE as SETTING_WEBSEARCH_MODE, USER_PROVIDERS_PREFIX,
};
const DEFAULT_SESSION_TTL_HOURS: u64 = 24;

async fn setting(store: &dyn Store, key: &str) -> Result<Option<String>, ApiError> {
    store.get_setting(key).await.map_err(|e| store_error(&e))
}

fn ttl_hours(raw: &str) -> Option<u64> {
    raw.trim()
        .parse::<u64>()
        .ok()
        .filter(|h| (1..=8760).contains(h))
}

/// `GET /admin/settings`'s answer: every setting by name, as `ccag config list` prints them.
#[derive(Debug, Serialize)]
struct SettingsList {
    /// Sluice accepts virtual keys always (see `put`).
    virtual_keys_enabled: bool,
    admin_login_enabled: bool,
    session_token_ttl_hours: u64,
    websearch_mode: String,
    person_rate_limit_rpm: u32,
    max_keys_per_person: u32,
    allowed_bedrock_models: Vec<String>,
    /// The OTLP collector telemetry is relayed to; `""` when the relay is off.
    telemetry_forward_url: String,
    /// The headers sent to the collector, their values shown as `*****`.
    telemetry_forward_headers: serde_json::Map<String, Value>,
}

/// `GET /admin/settings`.
pub(super) async fn list(State(state): State<Shared>, _: Admin) -> Reply {
    let store = state.store.as_ref();
    let login = setting(store, SETTING_ADMIN_LOGIN_ENABLED).await?;
    let ttl = setting(store, SETTING_SESSION_TTL_HOURS).await?;
    let mode = setting(store, SETTING_WEBSEARCH_MODE).await?;
    let limits = OrgLimits::from_settings(
        setting(store, SETTING_PERSON_RATE_LIMIT_RPM)
            .await?
            .as_deref(),
        setting(store, SETTING_ALLOWED_BEDROCK_MODELS)
            .await?
            .as_deref(),
    );
    let max_keys = key_quota(
        setting(store, SETTING_MAX_KEYS_PER_PERSON)
            .await?
            .as_deref(),
    );
    let telemetry_url = setting(store, SETTING_TELEMETRY_FORWARD_URL).await?;
    let telemetry_headers = setting(store, SETTING_TELEMETRY_FORWARD_HEADERS).await?;
    Ok(axum::Json(SettingsList {
        virtual_keys_enabled: true,
        admin_login_enabled: state.config.admin_password_force
            || login.is_none_or(|v| !v.trim().eq_ignore_ascii_case("false")),
        session_token_ttl_hours: ttl
            .as_deref()
            .and_then(ttl_hours)
            .unwrap_or(DEFAULT_SESSION_TTL_HOURS),
        websearch_mode: mode.unwrap_or_else(|| "enabled".to_owned()),
        person_rate_limit_rpm: limits.person_rpm,
        max_keys_per_person: max_keys,
        allowed_bedrock_models: limits.allowed_models,
        telemetry_forward_url: telemetry_url
            .as_deref()
            .and_then(|u| forward_url(u).ok().flatten())
            .unwrap_or_default(),
        telemetry_forward_headers: masked_headers(telemetry_headers.as_deref()),
    })
    .into_response())
}

fn boolean(key: &str, value: &str) -> Result<bool, ApiError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::invalid(format!(
            "{key}: value must be \"true\" or \"false\""
        ))),
    }
}

/// `PUT /admin/settings/{key}`: `{"value": "<string>"}`; numbers and booleans are taken as their text, and for
/// `allowed_bedrock_models` a JSON array of ids too. Any JSON is read, so the handler can refuse a wrong shape
/// with the field's own message.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SettingBody {
    value: Value,
}

/// `PUT /admin/settings/{key}`'s answer: the value as stored and, for a setting not applied at once, when it is.
#[derive(Debug, Serialize)]
struct SettingSet {
    updated: bool,
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    applies: Option<&'static str>,
    value: String,
}

/// Read by every gateway instance through its budget cache.
const WITHIN_THE_BUDGET_CACHE: &str =
    "within SLUICE_BUDGET_CACHE_SECS (5 s) on every gateway instance";

/// Read by the telemetry relay through its own cache.
const WITHIN_THE_TELEMETRY_CACHE: &str = "within 5 s on every instance";

/// `PUT /admin/settings/{key}` with `{"value": "<string>"}` (numbers and booleans are taken as their text; for
/// `allowed_bedrock_models` also a JSON array of ids, stored as that array).
pub(super) async fn put(
    State(state): State<Shared>,
    _: Admin,
    Path(key): Path<String>,
    body: Bytes,
) -> Reply {
    let body: SettingBody = views::body(&body)?;
    let value = match body.value {
        Value::String(s) => s.trim().to_owned(),
        v @ Value::Array(_) if key == SETTING_ALLOWED_BEDROCK_MODELS => v.to_string(),
        // Any JSON, so a wrong shape is refused with the setting's own message.
        v @ (Value::Object(_) | Value::Array(_)) if key == SETTING_TELEMETRY_FORWARD_HEADERS => {
            v.to_string()
        }
        v @ (Value::Bool(_) | Value::Number(_)) => v.to_string(),
        _ => return Err(ApiError::invalid("Missing required field: value (a string)").into()),
    };
    let store = state.store.as_ref();
    let (stored, applies) = match key.as_str() {
        SETTING_ADMIN_LOGIN_ENABLED => (boolean(&key, &value)?.to_string(), None),
        SETTING_SESSION_TTL_HOURS => {
            let hours = ttl_hours(&value).ok_or_else(|| {
                ApiError::invalid(format!(
                    "{key}: value must be a whole number of hours from 1 to 8760"
                ))
            })?;
            // Session lifetime is read when an instance starts (`AppState::build`).
            (
                hours.to_string(),
                Some("to sessions issued by instances started after this change"),
            )
        }
        SETTING_VIRTUAL_KEYS_ENABLED => {
            if !boolean(&key, &value)? {
                return Err(ApiError::invalid(
                    "virtual_keys_enabled: Sluice always accepts virtual keys; revoke keys to stop them",
                )
                .into());
            }
            ("true".to_owned(), None)
        }
        SETTING_WEBSEARCH_MODE => {
            let mode = websearch_mode(&value)?;
            if mode == "global"
                && load_json::<Provider>(store, SETTING_WEBSEARCH_GLOBAL_PROVIDER)
                    .await?
                    .is_none()
            {
                return Err(ApiError::invalid(
                    "websearch_mode: global needs a provider; use PUT /admin/websearch-mode with one",
                )
                .into());
            }
            (mode.to_owned(), None)
        }
        SETTING_PERSON_RATE_LIMIT_RPM => {
            let rpm = parse_limit(&value, MAX_PERSON_RATE_LIMIT_RPM).ok_or_else(|| {
                ApiError::invalid(format!(
                    "{key}: value must be a whole number of requests per minute from 1 to {MAX_PERSON_RATE_LIMIT_RPM} (default {DEFAULT_PERSON_RATE_LIMIT_RPM}); every person is limited"
                ))
            })?;
            (rpm.to_string(), Some(WITHIN_THE_BUDGET_CACHE))
        }
        SETTING_MAX_KEYS_PER_PERSON => {
            let keys = parse_limit(&value, MAX_MAX_KEYS_PER_PERSON).ok_or_else(|| {
                ApiError::invalid(format!(
                    "{key}: value must be a whole number of keys from 1 to {MAX_MAX_KEYS_PER_PERSON} (default {DEFAULT_MAX_KEYS_PER_PERSON})"
                ))
            })?;
            (keys.to_string(), None)
        }
        SETTING_ALLOWED_BEDROCK_MODELS => {
            let ids =
                parse_allowlist(&value).map_err(|e| ApiError::invalid(format!("{key}: {e}")))?;
            (
                serde_json::to_string(&ids).unwrap_or_else(|_| "[]".to_owned()),
                Some(WITHIN_THE_BUDGET_CACHE),
            )
        }
        SETTING_TELEMETRY_FORWARD_URL => (
            forward_url(&value)?.unwrap_or_default(),
            Some(WITHIN_THE_TELEMETRY_CACHE),
        ),
        SETTING_TELEMETRY_FORWARD_HEADERS => {
            let stored = setting(store, &key).await?;
            (
                headers_to_store(&value, stored.as_deref())?,
                Some(WITHIN_THE_TELEMETRY_CACHE),
            )
        }
        _ => {
            return Err(ApiError::invalid(format!(
                "Unknown setting: {key} (settable: {SETTING_ADMIN_LOGIN_ENABLED}, {SETTING_SESSION_TTL_HOURS}, {SETTING_VIRTUAL_KEYS_ENABLED}, {SETTING_WEBSEARCH_MODE}, {SETTING_PERSON_RATE_LIMIT_RPM}, {SETTING_MAX_KEYS_PER_PERSON}, {SETTING_ALLOWED_BEDROCK_MODELS}, {SETTING_TELEMETRY_FORWARD_URL}, {SETTING_TELEMETRY_FORWARD_HEADERS})"
            ))
            .into());
        }
    };
    store
        .put_setting(&key, &stored)
        .await
        .map_err(|e| store_error(&e))?;
    // The collector's headers may hold its API key: answered with the values masked, as `list` shows them.
    let value = if key == SETTING_TELEMETRY_FORWARD_HEADERS && !stored.is_empty() {
        Value::Object(masked_headers(Some(&stored))).to_string()
    } else {
        stored
    };
    Ok(axum::Json(SettingSet {
        updated: true,
        key,
        applies,
        value,
    })
    .into_response())
}

fn websearch_mode(raw: &str) -> Result<&'static str, ApiError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "enabled" => Ok("enabled"),
        "disabled" => Ok("disabled"),
        "global" => Ok("global"),
        _ => Err(ApiError::invalid(format!(
            "mode must be enabled, disabled or global, not {raw:?}"
        ))),
    }
}

/// A search provider as the API shows it: whether an API key is stored, never the key.
#[derive(Debug, Serialize)]
struct ProviderView<'a> {
    id: &'a str,
    provider_type: &'a str,
    has_api_key: bool,
    api_url: Option<&'a str>,
    max_results: u32,
    enabled: bool,
    created_at: Option<String>,
    updated_at: Option<String>,
}

/// A stored provider as the API shows it.
trait View {
    fn view(&self) -> ProviderView<'_>;
}

impl View for Provider {
    fn view(&self) -> ProviderView<'_> {
        let at = |ms| chrono::DateTime::from_timestamp_millis(ms).map(rfc3339_secs);
        ProviderView {
            id: &self.id,
            provider_type: &self.provider_type,
            has_api_key: self.api_key.is_some(),
            api_url: self.api_url.as_deref(),
            max_results: self.max_results,
            enabled: self.enabled,
            created_at: at(self.created_at_ms),
            updated_at: at(self.updated_at_ms),
        }
    }
}

/// A text field of a provider body: trimmed, blank read as absent; anything but a string is refused.
#[derive(Clone)]
struct Trimmed(Option<String>);

impl<'de> Deserialize<'de> for Trimmed {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(s) => Ok(Self(Some(s.trim().to_owned()).filter(|s| !s.is_empty()))),
            _ => Err(D::Error::custom("must be a string")),
        }
    }
}

/// The text of an optional [`Trimmed`] field (absent, `null` and blank alike).
fn text(field: Option<Trimmed>) -> Option<String> {
    field.and_then(|t| t.0)
}

/// `max_results`: a whole number, held to 1..=20.
#[derive(Clone, Copy)]
struct MaxResults(u32);

impl<'de> Deserialize<'de> for MaxResults {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let n = Value::deserialize(deserializer)?
            .as_u64()
            .ok_or_else(|| D::Error::custom("must be a whole number"))?;
        Ok(Self(u32::try_from(n.clamp(1, 20)).unwrap_or(20)))
    }
}

/// `enabled`: `true` or `false`.
#[derive(Clone, Copy)]
struct Enabled(bool);

impl<'de> Deserialize<'de> for Enabled {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer)?
            .as_bool()
            .map(Self)
            .ok_or_else(|| D::Error::custom("must be true or false"))
    }
}

/// A search provider as sent (`PUT /admin/search-providers` and its `/test`, the `provider` of
/// `PUT /admin/websearch-mode`); `null` reads as absent. No `Debug`: it may hold an API key.
#[derive(Clone, Default, Deserialize)]
#[serde(default)]
struct ProviderBody {
    provider_type: Option<Trimmed>,
    api_key: Option<Trimmed>,
    api_url: Option<Trimmed>,
    max_results: Option<MaxResults>,
    enabled: Option<Enabled>,
    /// Whether `api_url` may be a private or loopback address (a company's own SearXNG): the org's provider only,
    /// set by an admin through `PUT /admin/websearch-mode`.
    allow_private: Option<Enabled>,
}

impl ProviderBody {
    /// The provider type asked for, lower-cased.
    fn provider_type(&self) -> Option<String> {
        text(self.provider_type.clone()).map(|t| t.to_ascii_lowercase())
    }
}

/// A provider from a request body; `previous` (same type) keeps its id, creation time and stored API key when
/// the body sends none, so saving the form again does not wipe the key.
fn provider_from(
    body: ProviderBody,
    previous: Option<&Provider>,
    ids: &dyn Ids,
) -> Result<Provider, ApiError> {
    let allow_private = body.allow_private.map(|a| a.0);
    let provider_type = body
        .provider_type()
        .ok_or_else(|| ApiError::invalid("Missing required field: provider_type"))?;
    if !PROVIDER_TYPES.contains(&provider_type.as_str()) {
        return Err(ApiError::invalid(format!(
            "provider_type: must be one of {PROVIDER_TYPES:?}, not {provider_type:?}"
        )));
    }
    let previous = previous.filter(|p| p.provider_type == provider_type);
    let api_key = text(body.api_key).or_else(|| previous.and_then(|p| p.api_key.clone()));
    let api_url = text(body.api_url).or_else(|| previous.and_then(|p| p.api_url.clone()));
    if matches!(
        provider_type.as_str(),
        "brave" | "tavily" | "serper" | "exa"
    ) && api_key.is_none()
    {
        return Err(ApiError::invalid(format!(
            "api_key: {provider_type} needs an API key"
        )));
    }
    if matches!(provider_type.as_str(), "searxng" | "custom") {
        match &api_url {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {}
            Some(_) => return Err(ApiError::invalid("api_url: must be an http(s) URL")),
            None => {
                return Err(ApiError::invalid(format!(
                    "api_url: {provider_type} needs the URL of the search service"
                )));
            }
        }
    }
    let max_results = body
        .max_results
        .map_or_else(|| previous.map_or(5, |p| p.max_results), |m| m.0);
    let enabled = body.enabled.is_none_or(|e| e.0);
    let now = now_ms();
    Ok(Provider {
        id: previous.map_or_else(|| ids.new_id("wsp"), |p| p.id.clone()),
        provider_type,
        api_key,
        api_url,
        max_results,
        enabled,
        allow_private: allow_private.unwrap_or_else(|| previous.is_some_and(|p| p.allow_private)),
        created_at_ms: previous.map_or(now, |p| p.created_at_ms),
        updated_at_ms: now,
    })
}

/// `GET /admin/websearch-mode`'s answer, and with `updated` that of `PUT`.
#[derive(Debug, Serialize)]
struct WebsearchMode<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    updated: Option<bool>,
    mode: &'a str,
    provider: Option<ProviderView<'a>>,
}

/// `PUT /admin/websearch-mode`: `{"mode", "provider"?}`.
#[derive(Default, Deserialize)]
#[serde(default)]
struct WebsearchModeBody {
    mode: Option<String>,
    provider: Option<Object<ProviderBody>>,
}

/// `GET /admin/websearch-mode`.
pub(super) async fn get_websearch_mode(State(state): State<Shared>, _: Admin) -> Reply {
    let store = state.store.as_ref();
    let mode = setting(store, SETTING_WEBSEARCH_MODE).await?;
    let provider = load_json::<Provider>(store, SETTING_WEBSEARCH_GLOBAL_PROVIDER).await?;
    Ok(axum::Json(WebsearchMode {
        updated: None,
        mode: mode.as_deref().unwrap_or("enabled"),
        provider: provider.as_ref().map(Provider::view),
    })
    .into_response())
}

/// `PUT /admin/websearch-mode`: `{"mode", "provider"?}`; `global` needs a provider (sent, or stored before).
pub(super) async fn put_websearch_mode(
    State(state): State<Shared>,
    _: Admin,
    body: Bytes,
) -> Reply {
    let body: WebsearchModeBody = views::body(&body)?;
    let mode = match &body.mode {
        Some(m) => websearch_mode(m)?,
        None => return Err(ApiError::invalid("Missing required field: mode").into()),
    };
    let store = state.store.as_ref();
    let previous = load_json::<Provider>(store, SETTING_WEBSEARCH_GLOBAL_PROVIDER).await?;
    let provider = body
        .provider
        .map(|p| provider_from(p.0, previous.as_ref(), state.ids.as_ref()))
        .transpose()?;
    if mode == "global" && provider.is_none() && previous.is_none() {
        return Err(ApiError::invalid("provider: required for mode global").into());
    }
    if let Some(provider) = &provider {
        save_json(store, SETTING_WEBSEARCH_GLOBAL_PROVIDER, provider).await?;
    }
    store
        .put_setting(SETTING_WEBSEARCH_MODE, mode)
        .await
        .map_err(|e| store_error(&e))?;
    let shown = provider.or(previous);
    Ok(axum::Json(WebsearchMode {
        updated: Some(true),
        mode,
        provider: shown.as_ref().map(Provider::view),
    })
    .into_response())
}

/// The caller's user id and stored providers.
async fn own_providers(
    state: &AppState,
    caller: &Caller,
) -> Result<(String, Vec<Provider>), ApiError> {
    let user = caller_user(state, caller).await?;
    let providers = load_json::<Vec<Provider>>(state.store.as_ref(), &providers_key(&user.id))
        .await?
        .unwrap_or_default();
    Ok((user.id, providers))
}

fn providers_key(user_id: &str) -> String {
    format!("{USER_PROVIDERS_PREFIX}{user_id}")
}

/// `GET /admin/search-providers`'s answer.
#[derive(Debug, Serialize)]
struct Providers<'a> {
    providers: Vec<ProviderView<'a>>,
}

/// `{"provider": …}`: the answer of a saved or activated provider.
#[derive(Debug, Serialize)]
struct Saved<T> {
    provider: T,
}

/// `POST /admin/search-providers/activate`'s answer: the provider now enabled.
#[derive(Debug, Serialize)]
struct Activated<'a> {
    id: Option<&'a str>,
    provider_type: &'a str,
    enabled: bool,
}

/// `POST /admin/search-providers/activate`: `{"provider_type"}`.
#[derive(Default, Deserialize)]
#[serde(default)]
struct ActivateBody {
    provider_type: Option<Trimmed>,
}

/// `POST /admin/search-providers/test`'s answer: whether the search worked, how many results, the first one's
/// URL and the time it took; or why not.
#[derive(Debug, Serialize)]
struct TestResult {
    success: bool,
    error: Option<String>,
    results: usize,
    first: Option<String>,
    latency_ms: Option<u64>,
}

impl TestResult {
    fn failed(why: String) -> Self {
        Self {
            success: false,
            error: Some(why),
            results: 0,
            first: None,
            latency_ms: None,
        }
    }
}

/// `DELETE /admin/search-providers/{provider_type}`'s answer when nothing was stored.
#[derive(Debug, Serialize)]
struct NothingDeleted {
    deleted: bool,
    message: &'static str,
}

/// `GET /admin/search-providers`: the caller's own providers.
pub(super) async fn list_providers(State(state): State<Shared>, Person(caller): Person) -> Reply {
    let (_, providers) = own_providers(&state, &caller).await?;
    Ok(axum::Json(Providers {
        providers: providers.iter().map(Provider::view).collect(),
    })
    .into_response())
}

/// `PUT /admin/search-providers`: saves one of the caller's providers (one per type).
pub(super) async fn put_provider(
    State(state): State<Shared>,
    Person(caller): Person,
    body: Bytes,
) -> Reply {
    let (user_id, mut providers) = own_providers(&state, &caller).await?;
    let body: ProviderBody = views::body(&body)?;
    if body.allow_private.is_some_and(|a| a.0) {
        return Err(ApiError::invalid(
            "allow_private: a person's own provider cannot reach private addresses; set the organisation's provider with PUT /admin/websearch-mode",
        )
        .into());
    }
    let requested = body.provider_type();
    let at = providers
        .iter()
        .position(|p| Some(&p.provider_type) == requested.as_ref());
    let provider = provider_from(body, at.map(|i| &providers[i]), state.ids.as_ref())?;
    match at {
        Some(i) => providers[i] = provider.clone(),
        None => providers.push(provider.clone()),
    }
    save_json(state.store.as_ref(), &providers_key(&user_id), &providers).await?;
    Ok(axum::Json(Saved {
        provider: provider.view(),
    })
    .into_response())
}

/// `POST /admin/search-providers/activate`: `{"provider_type"}` becomes the caller's one enabled provider.
pub(super) async fn activate_provider(
    State(state): State<Shared>,
    Person(caller): Person,
    body: Bytes,
) -> Reply {
    let (user_id, mut providers) = own_providers(&state, &caller).await?;
    let body: ActivateBody = views::body(&body)?;
    let wanted = text(body.provider_type)
        .map(|t| t.to_ascii_lowercase())
        .ok_or_else(|| ApiError::invalid("Missing required field: provider_type"))?;
    if !providers.iter().any(|p| p.provider_type == wanted) {
        return Err(ApiError::new(
            ApiErrorKind::NotFound,
            format!("Provider {wanted} not configured. Save it first."),
        )
        .into());
    }
    let now = now_ms();
    for p in &mut providers {
        let enable = p.provider_type == wanted;
        if p.enabled != enable {
            p.enabled = enable;
            p.updated_at_ms = now;
        }
    }
    save_json(state.store.as_ref(), &providers_key(&user_id), &providers).await?;
    let active = providers.iter().find(|p| p.provider_type == wanted);
    Ok(axum::Json(Saved {
        provider: Activated {
            id: active.map(|p| p.id.as_str()),
            provider_type: &wanted,
            enabled: true,
        },
    })
    .into_response())
}

/// A person's own provider may not reach private addresses: only the org's, set by an admin (who may also test
/// such a provider).
fn refuse_private(body: &ProviderBody, caller: &Caller) -> Result<(), ApiError> {
    if body.allow_private.is_some_and(|a| a.0) && caller.role != sluice_core::identity::Role::Admin
    {
        return Err(ApiError::new(
            ApiErrorKind::Permission,
            "allow_private: only an administrator may let the organisation's provider (PUT /admin/websearch-mode) reach private addresses",
        ));
    }
    Ok(())
}

/// The query `POST /admin/search-providers/test` runs.
const TEST_QUERY: &str = "Anthropic Claude";

/// `POST /admin/search-providers/test`: checks the body as `PUT` would, then runs one real search with it
/// (HTTP 200 either way, as CCAG answers a failed test; `error` says why).
pub(super) async fn test_provider(
    State(state): State<Shared>,
    Person(caller): Person,
    body: Bytes,
) -> Reply {
    let (_, providers) = own_providers(&state, &caller).await?;
    let body: ProviderBody = views::body(&body)?;
    refuse_private(&body, &caller)?;
    let requested = body.provider_type();
    let previous = providers
        .iter()
        .find(|p| Some(&p.provider_type) == requested.as_ref());
    let config = provider_from(body, previous, state.ids.as_ref())?;
    let Some(factory) = &state.search_providers else {
        return Ok(axum::Json(TestResult::failed(
            "web search is not available in this process".into(),
        ))
        .into_response());
    };
    let query = SearchQuery {
        query: TEST_QUERY.into(),
        max_results: config.max_results.clamp(1, 5),
        ..SearchQuery::default()
    };
    let started = std::time::Instant::now();
    let outcome = match factory.provider(&config) {
        Ok(provider) => provider.search(&query).await,
        Err(e) => Err(e),
    };
    let answer = match outcome {
        Ok(results) => TestResult {
            success: true,
            error: None,
            results: results.len(),
            first: results.first().map(|r| r.url.clone()),
            latency_ms: Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)),
        },
        Err(e) => TestResult::failed(e.to_string()),
    };
    Ok(axum::Json(answer).into_response())
}

/// `DELETE /admin/search-providers/{provider_type}`.
pub(super) async fn delete_provider(
    State(state): State<Shared>,
    Person(caller): Person,
    Path(provider_type): Path<String>,
) -> Reply {
    let (user_id, mut providers) = own_providers(&state, &caller).await?;
    let wanted = provider_type.trim().to_ascii_lowercase();
    let before = providers.len();
    providers.retain(|p| p.provider_type != wanted);
    if providers.len() == before {
        return Ok(axum::Json(NothingDeleted {
            deleted: false,
            message: "No config to delete",
        })
        .into_response());
    }
    save_json(state.store.as_ref(), &providers_key(&user_id), &providers).await?;
    Ok(axum::Json(Deleted { deleted: true }).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refusal<T: serde::de::DeserializeOwned>(body: &Value) -> String {
        match views::body::<T>(body.to_string().as_bytes()) {
            Ok(_) => panic!("accepted: {body}"),
            Err(e) => e.message,
        }
    }

    #[test]
    fn a_provider_field_of_the_wrong_type_is_refused_by_name() {
        for (body, message) in [
            (json!({"api_key": 3}), "api_key: must be a string"),
            (
                json!({"max_results": "5"}),
                "max_results: must be a whole number",
            ),
            (json!({"enabled": "yes"}), "enabled: must be true or false"),
        ] {
            assert_eq!(refusal::<ProviderBody>(&body), message);
        }
        assert_eq!(
            refusal::<WebsearchModeBody>(
                &json!({"mode": "global", "provider": {"api_url": false}})
            ),
            "provider.api_url: must be a string"
        );
        assert!(
            refusal::<WebsearchModeBody>(&json!({"mode": "global", "provider": ["duckduckgo"]}))
                .starts_with("provider: invalid type")
        );
    }

    #[test]
    fn blank_text_reads_as_absent_and_max_results_is_held_to_1_to_20() {
        let Ok(body) = views::body::<ProviderBody>(
            json!({"provider_type": " Tavily ", "api_url": "  ", "max_results": 99})
                .to_string()
                .as_bytes(),
        ) else {
            panic!("refused");
        };
        assert_eq!(body.provider_type().as_deref(), Some("tavily"));
        assert!(text(body.api_url.clone()).is_none());
        assert_eq!(body.max_results.map(|m| m.0), Some(20));
    }
}
