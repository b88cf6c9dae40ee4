//! Runtime settings and the web-search configuration, in CCAG's shapes: `GET /admin/settings` (a flat object,
//! what `ccag config list` prints), `PUT /admin/settings/{key}`, `/admin/websearch-mode` (admin) and the
//! per-person `/admin/search-providers*` (anyone signed in).
//!
//! Web search is stored only for now: the gateway does not search yet, so the provider test answers
//! `{"success":false}` with that reason. API keys of search providers are kept in the settings and never
//! returned (`has_api_key` says whether one is stored).

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_core::store::Store;

use crate::roles::{Admin, Person};
use crate::users::caller_user;
use crate::views::{load_json, parse_object, rfc3339_secs, save_json};
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
pub const SETTING_WEBSEARCH_MODE: &str = "websearch_mode";
pub const SETTING_WEBSEARCH_GLOBAL_PROVIDER: &str = "websearch_global_provider";
/// Per person: `websearch.providers.<user id>`, a JSON array of [`Provider`].
const USER_PROVIDERS_PREFIX: &str = "websearch.providers.";
const DEFAULT_SESSION_TTL_HOURS: u64 = 24;
const PROVIDER_TYPES: [&str; 5] = ["duckduckgo", "tavily", "serper", "searxng", "custom"];
const NOT_YET: &str = "web search is not implemented yet";

async fn setting(store: &dyn Store, key: &str) -> Result<Option<String>, ApiError> {
    store.get_setting(key).await.map_err(|e| store_error(&e))
}

fn ttl_hours(raw: &str) -> Option<u64> {
    raw.trim()
        .parse::<u64>()
        .ok()
        .filter(|h| (1..=8760).contains(h))
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
    Ok(axum::Json(json!({
        // Sluice accepts virtual keys always (see `put`).
        "virtual_keys_enabled": true,
        "admin_login_enabled": state.config.admin_password_force
            || login.is_none_or(|v| !v.trim().eq_ignore_ascii_case("false")),
        "session_token_ttl_hours": ttl.as_deref().and_then(ttl_hours).unwrap_or(DEFAULT_SESSION_TTL_HOURS),
        "websearch_mode": mode.unwrap_or_else(|| "enabled".to_owned()),
        "person_rate_limit_rpm": limits.person_rpm,
        "max_keys_per_person": max_keys,
        "allowed_bedrock_models": limits.allowed_models,
    }))
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

/// `PUT /admin/settings/{key}` with `{"value": "<string>"}` (numbers and booleans are taken as their text; for
/// `allowed_bedrock_models` also a JSON array of ids, stored as that array).
pub(super) async fn put(
    State(state): State<Shared>,
    _: Admin,
    Path(key): Path<String>,
    body: Bytes,
) -> Reply {
    let body = parse_object(&body)?;
    let value = match body.get("value") {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(v @ Value::Array(_)) if key == SETTING_ALLOWED_BEDROCK_MODELS => v.to_string(),
        Some(v @ (Value::Bool(_) | Value::Number(_))) => v.to_string(),
        _ => return Err(ApiError::invalid("Missing required field: value (a string)").into()),
    };
    let store = state.store.as_ref();
    let mut answer = json!({"updated": true, "key": key});
    let stored = match key.as_str() {
        SETTING_ADMIN_LOGIN_ENABLED => boolean(&key, &value)?.to_string(),
        SETTING_SESSION_TTL_HOURS => {
            let hours = ttl_hours(&value).ok_or_else(|| {
                ApiError::invalid(format!(
                    "{key}: value must be a whole number of hours from 1 to 8760"
                ))
            })?;
            // Session lifetime is read when an instance starts (`AppState::build`).
            answer["applies"] = json!("to sessions issued by instances started after this change");
            hours.to_string()
        }
        SETTING_VIRTUAL_KEYS_ENABLED => {
            if !boolean(&key, &value)? {
                return Err(ApiError::invalid(
                    "virtual_keys_enabled: Sluice always accepts virtual keys; revoke keys to stop them",
                )
                .into());
            }
            "true".to_owned()
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
            mode.to_owned()
        }
        SETTING_PERSON_RATE_LIMIT_RPM => {
            let rpm = parse_limit(&value, MAX_PERSON_RATE_LIMIT_RPM).ok_or_else(|| {
                ApiError::invalid(format!(
                    "{key}: value must be a whole number of requests per minute from 1 to {MAX_PERSON_RATE_LIMIT_RPM} (default {DEFAULT_PERSON_RATE_LIMIT_RPM}); every person is limited"
                ))
            })?;
            answer["applies"] = json!("within SLUICE_BUDGET_CACHE_SECS (5 s) on every gateway instance");
            rpm.to_string()
        }
        SETTING_MAX_KEYS_PER_PERSON => parse_limit(&value, MAX_MAX_KEYS_PER_PERSON)
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "{key}: value must be a whole number of keys from 1 to {MAX_MAX_KEYS_PER_PERSON} (default {DEFAULT_MAX_KEYS_PER_PERSON})"
                ))
            })?
            .to_string(),
        SETTING_ALLOWED_BEDROCK_MODELS => {
            let ids = parse_allowlist(&value).map_err(|e| ApiError::invalid(format!("{key}: {e}")))?;
            answer["applies"] = json!("within SLUICE_BUDGET_CACHE_SECS (5 s) on every gateway instance");
            serde_json::to_string(&ids).unwrap_or_else(|_| "[]".to_owned())
        }
        _ => {
            return Err(ApiError::invalid(format!(
                "Unknown setting: {key} (settable: {SETTING_ADMIN_LOGIN_ENABLED}, {SETTING_SESSION_TTL_HOURS}, {SETTING_VIRTUAL_KEYS_ENABLED}, {SETTING_WEBSEARCH_MODE}, {SETTING_PERSON_RATE_LIMIT_RPM}, {SETTING_MAX_KEYS_PER_PERSON}, {SETTING_ALLOWED_BEDROCK_MODELS})"
            ))
            .into());
        }
    };
    store
        .put_setting(&key, &stored)
        .await
        .map_err(|e| store_error(&e))?;
    answer["value"] = json!(stored);
    Ok(axum::Json(answer).into_response())
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

/// A search provider as stored (the org's global one, or one of a person's). No `Debug`: it holds the key.
#[derive(Clone, Serialize, Deserialize)]
struct Provider {
    id: String,
    provider_type: String,
    #[serde(default)]
    api_key: Option<String>,
    #[serde(default)]
    api_url: Option<String>,
    max_results: u32,
    enabled: bool,
    created_at_ms: i64,
    updated_at_ms: i64,
}

impl Provider {
    fn view(&self) -> Value {
        json!({
            "id": self.id,
            "provider_type": self.provider_type,
            "has_api_key": self.api_key.is_some(),
            "api_url": self.api_url,
            "max_results": self.max_results,
            "enabled": self.enabled,
            "created_at": chrono::DateTime::from_timestamp_millis(self.created_at_ms).map(rfc3339_secs),
            "updated_at": chrono::DateTime::from_timestamp_millis(self.updated_at_ms).map(rfc3339_secs),
        })
    }
}

fn text(body: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        Some(_) => Err(ApiError::invalid(format!("{field}: must be a string"))),
    }
}

/// A provider from a request body; `previous` (same type) keeps its id, creation time and stored API key when
/// the body sends none, so saving the form again does not wipe the key.
fn provider_from(
    body: &Map<String, Value>,
    previous: Option<&Provider>,
    ids: &dyn Ids,
) -> Result<Provider, ApiError> {
    let provider_type = text(body, "provider_type")?
        .map(|t| t.to_ascii_lowercase())
        .ok_or_else(|| ApiError::invalid("Missing required field: provider_type"))?;
    if !PROVIDER_TYPES.contains(&provider_type.as_str()) {
        return Err(ApiError::invalid(format!(
            "provider_type: must be one of {PROVIDER_TYPES:?}, not {provider_type:?}"
        )));
    }
    let previous = previous.filter(|p| p.provider_type == provider_type);
    let api_key = text(body, "api_key")?.or_else(|| previous.and_then(|p| p.api_key.clone()));
    let api_url = text(body, "api_url")?.or_else(|| previous.and_then(|p| p.api_url.clone()));
    if matches!(provider_type.as_str(), "tavily" | "serper") && api_key.is_none() {
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
    let max_results = match body.get("max_results") {
        None | Some(Value::Null) => previous.map_or(5, |p| p.max_results),
        Some(v) => {
            let n = v
                .as_u64()
                .ok_or_else(|| ApiError::invalid("max_results: must be a whole number"))?;
            u32::try_from(n.clamp(1, 20)).unwrap_or(20)
        }
    };
    let enabled = match body.get("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::invalid("enabled: must be true or false")),
    };
    let now = now_ms();
    Ok(Provider {
        id: previous.map_or_else(|| ids.new_id("wsp"), |p| p.id.clone()),
        provider_type,
        api_key,
        api_url,
        max_results,
        enabled,
        created_at_ms: previous.map_or(now, |p| p.created_at_ms),
        updated_at_ms: now,
    })
}

/// `GET /admin/websearch-mode`.
pub(super) async fn get_websearch_mode(State(state): State<Shared>, _: Admin) -> Reply {
    let store = state.store.as_ref();
    let mode = setting(store, SETTING_WEBSEARCH_MODE).await?;
    let provider = load_json::<Provider>(store, SETTING_WEBSEARCH_GLOBAL_PROVIDER).await?;
    Ok(axum::Json(json!({
        "mode": mode.unwrap_or_else(|| "enabled".to_owned()),
        "provider": provider.as_ref().map(Provider::view),
    }))
    .into_response())
}

/// `PUT /admin/websearch-mode`: `{"mode", "provider"?}`; `global` needs a provider (sent, or stored before).
pub(super) async fn put_websearch_mode(
    State(state): State<Shared>,
    _: Admin,
    body: Bytes,
) -> Reply {
    let body = parse_object(&body)?;
    let mode = match body.get("mode") {
        Some(Value::String(m)) => websearch_mode(m)?,
        _ => return Err(ApiError::invalid("Missing required field: mode").into()),
    };
    let store = state.store.as_ref();
    let previous = load_json::<Provider>(store, SETTING_WEBSEARCH_GLOBAL_PROVIDER).await?;
    let provider = match body.get("provider") {
        Some(Value::Object(p)) => Some(provider_from(p, previous.as_ref(), state.ids.as_ref())?),
        None | Some(Value::Null) => None,
        Some(_) => return Err(ApiError::invalid("provider: must be an object").into()),
    };
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
    Ok(axum::Json(json!({
        "updated": true,
        "mode": mode,
        "provider": shown.as_ref().map(Provider::view),
    }))
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

fn views(providers: &[Provider]) -> Vec<Value> {
    providers.iter().map(Provider::view).collect()
}

/// `GET /admin/search-providers`: the caller's own providers.
pub(super) async fn list_providers(State(state): State<Shared>, Person(caller): Person) -> Reply {
    let (_, providers) = own_providers(&state, &caller).await?;
    Ok(axum::Json(json!({"providers": views(&providers)})).into_response())
}

/// `PUT /admin/search-providers`: saves one of the caller's providers (one per type).
pub(super) async fn put_provider(
    State(state): State<Shared>,
    Person(caller): Person,
    body: Bytes,
) -> Reply {
    let (user_id, mut providers) = own_providers(&state, &caller).await?;
    let body = parse_object(&body)?;
    let requested = text(&body, "provider_type")?.map(|t| t.to_ascii_lowercase());
    let at = providers
        .iter()
        .position(|p| Some(&p.provider_type) == requested.as_ref());
    let provider = provider_from(&body, at.map(|i| &providers[i]), state.ids.as_ref())?;
    match at {
        Some(i) => providers[i] = provider.clone(),
        None => providers.push(provider.clone()),
    }
    save_json(state.store.as_ref(), &providers_key(&user_id), &providers).await?;
    Ok(axum::Json(json!({"provider": provider.view()})).into_response())
}

/// `POST /admin/search-providers/activate`: `{"provider_type"}` becomes the caller's one enabled provider.
pub(super) async fn activate_provider(
    State(state): State<Shared>,
    Person(caller): Person,
    body: Bytes,
) -> Reply {
    let (user_id, mut providers) = own_providers(&state, &caller).await?;
    let body = parse_object(&body)?;
    let wanted = text(&body, "provider_type")?
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
    Ok(axum::Json(json!({"provider": {
        "id": active.map(|p| p.id.clone()),
        "provider_type": wanted,
        "enabled": true,
    }}))
    .into_response())
}

/// `POST /admin/search-providers/test`: checks the body as `PUT` would, then says that searching is not
/// there yet (HTTP 200, as CCAG answers a failed test).
pub(super) async fn test_provider(
    State(state): State<Shared>,
    Person(caller): Person,
    body: Bytes,
) -> Reply {
    let (_, providers) = own_providers(&state, &caller).await?;
    let body = parse_object(&body)?;
    let requested = text(&body, "provider_type")?.map(|t| t.to_ascii_lowercase());
    let previous = providers
        .iter()
        .find(|p| Some(&p.provider_type) == requested.as_ref());
    provider_from(&body, previous, state.ids.as_ref())?;
    Ok(axum::Json(json!({"success": false, "error": NOT_YET})).into_response())
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
        return Ok(
            axum::Json(json!({"deleted": false, "message": "No config to delete"})).into_response(),
        );
    }
    save_json(state.store.as_ref(), &providers_key(&user_id), &providers).await?;
    Ok(axum::Json(json!({"deleted": true})).into_response())
}
