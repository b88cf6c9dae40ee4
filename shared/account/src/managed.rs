//! Managed settings for Claude Code signed in to Sluice: `GET /managed/settings` answers the caller's settings in the
//! envelope Claude Code reads (`{"uuid", "checksum", "settings"}`, `ETag` = checksum, `If-None-Match` → 304), composed
//! from Sluice's data:
//!
//! - the administrator's base document (`GET/PUT /admin/managed-settings`, any managed-settings keys);
//! - the caller's policy (`sluice_core::policy`): allowed models → `availableModels`, denied tools →
//!   `permissions.deny` (added to the base's), web search off → `WebSearch` denied;
//! - `env`: only when the telemetry relay is on, Claude Code's OpenTelemetry pointed at this gateway (Claude Code
//!   asks each developer to approve managed environment variables).
//!
//! 404 when nothing applies (no policy matches the caller, the base document is empty and the relay is off). Claude Code's start-up
//! waits for this answer (and fails closed after about 10 s), so the inputs are cached per instance for the budget
//! cache time; a warm answer reads nothing.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use sluice_core::error::ApiError;
use sluice_core::policy::enforce::allowed_models;
use sluice_core::policy::service::model_ids;
use sluice_core::policy::{PolicyDocument, PolicySet};
use sluice_core::store::{POLICIES_SETTING, Store};

use crate::roles::Admin;
use crate::{Reply, Shared, store_error};
use sluice_http::auth::TtlCache;

/// The setting holding the administrator's base document (a JSON object).
pub const BASE_SETTING: &str = "managed_settings_base";
/// The setting naming the OTLP collector the telemetry relay forwards to (empty: the relay is off).
const TELEMETRY_SETTING: &str = "telemetry_forward_url";
/// The largest base document.
const MAX_BASE_BYTES: usize = 64 * 1024;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/managed/settings", get(settings))
        .route("/admin/managed-settings", get(read_base).put(write_base))
}

/// What the answer is composed from, read together and cached.
struct Inputs {
    policies: PolicySet,
    base: Map<String, Value>,
    telemetry: bool,
}

fn cache() -> &'static TtlCache<Arc<Inputs>> {
    static CACHE: OnceLock<TtlCache<Arc<Inputs>>> = OnceLock::new();
    CACHE.get_or_init(|| TtlCache::new(Duration::from_secs(5)))
}

/// The cache entry of one process's state (tests run several side by side).
fn cache_key(state: &Shared) -> String {
    format!("{:p}", Arc::as_ptr(state))
}

/// Drops this instance's cached inputs (after the base document or the policies changed here).
pub(crate) fn forget(state: &Shared) {
    cache().forget(&cache_key(state));
}

async fn inputs(state: &Shared) -> Result<Arc<Inputs>, ApiError> {
    let store: &dyn Store = state.store.as_ref();
    let now = Instant::now();
    let key = cache_key(state);
    if let Some(inputs) = cache().get(&key, now) {
        return Ok(inputs);
    }
    let keys = [
        POLICIES_SETTING.to_owned(),
        BASE_SETTING.to_owned(),
        TELEMETRY_SETTING.to_owned(),
    ];
    let (settings, _) = store
        .budget_inputs(&keys, &[])
        .await
        .map_err(|e| store_error(&e))?;
    let policies = match settings.get(POLICIES_SETTING) {
        None => PolicySet::default(),
        Some(text) => PolicyDocument::from_json(text)
            .and_then(|d| PolicySet::compile(&d))
            .map_err(|e| ApiError::internal(format!("the policy document cannot be read: {e}")))?,
    };
    let base = settings
        .get(BASE_SETTING)
        .and_then(|t| serde_json::from_str::<Map<String, Value>>(t).ok())
        .unwrap_or_default();
    let telemetry = settings
        .get(TELEMETRY_SETTING)
        .is_some_and(|u| !u.trim().is_empty());
    let inputs = Arc::new(Inputs {
        policies,
        base,
        telemetry,
    });
    cache().put(key, Arc::clone(&inputs), now);
    Ok(inputs)
}

/// The envelope Claude Code reads.
#[derive(Debug, Serialize)]
struct Envelope {
    uuid: String,
    checksum: String,
    settings: Map<String, Value>,
}

fn sha256(text: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes())))
}

/// `base` with `extra` entries added to the list at `section.key` (created when missing), without duplicates.
fn add_to_list(settings: &mut Map<String, Value>, section: &str, key: &str, extra: &[String]) {
    if extra.is_empty() {
        return;
    }
    let section = settings
        .entry(section.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(section) = section.as_object_mut() else {
        return;
    };
    let list = section
        .entry(key.to_owned())
        .or_insert_with(|| Value::Array(Vec::new()));
    let Some(list) = list.as_array_mut() else {
        return;
    };
    for e in extra {
        if !list.iter().any(|v| v.as_str() == Some(e)) {
            list.push(Value::String(e.clone()));
        }
    }
}

fn set_env(settings: &mut Map<String, Value>, pairs: &[(&str, String)]) {
    let env = settings
        .entry("env".to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(env) = env.as_object_mut() {
        for (k, v) in pairs {
            env.entry((*k).to_owned())
                .or_insert_with(|| Value::String(v.clone()));
        }
    }
}

async fn settings(State(state): State<Shared>, headers: HeaderMap) -> Reply {
    let caller = state
        .auth
        .authenticate(state.store.as_ref(), &headers)
        .await?;
    let inputs = inputs(&state).await?;
    let matched = inputs.policies.evaluate(&caller.policy_subject());
    if matched.is_none() && inputs.base.is_empty() && !inputs.telemetry {
        return Ok((
            StatusCode::NOT_FOUND,
            axum::Json(json!({"type": "error", "error": {"type": "not_found_error", "message": "no managed settings apply to you"}})),
        )
            .into_response());
    }
    let mut settings = inputs.base.clone();
    if let Some(m) = matched {
        add_to_list(
            &mut settings,
            "permissions",
            "deny",
            &m.policy.permission_denies(),
        );
        if m.policy.restricts_models() {
            let ids = model_ids(&state.config.model_names);
            let allowed = allowed_models(m.policy, ids.iter().map(String::as_str));
            settings.insert("availableModels".to_owned(), json!(allowed));
        }
    }
    // Claude Code asks each developer to approve a managed `env` (and during `/login` 2.1.197 then stalls on its
    // "Press Enter" screen), so Sluice adds environment only when the administrator turned the telemetry relay on;
    // model discovery and the rest are the administrator's to put in the base document.
    if inputs.telemetry {
        let base = state
            .config
            .gateway_url
            .clone()
            .unwrap_or_else(|| crate::base_url(&state, &headers));
        set_env(
            &mut settings,
            &[
                ("CLAUDE_CODE_ENABLE_TELEMETRY", "1".to_owned()),
                ("OTEL_METRICS_EXPORTER", "otlp".to_owned()),
                ("OTEL_LOGS_EXPORTER", "otlp".to_owned()),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", base),
            ],
        );
    }
    let text = serde_json::to_string(&settings).unwrap_or_default();
    let checksum = sha256(&text);
    let uuid = sha256(&format!(
        "{}\n{}",
        matched.map_or("", |m| m.policy.name.as_str()),
        inputs.base.is_empty()
    ));
    let etag = format!("\"{checksum}\"");
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == etag || t == "*")
        });
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        axum::Json(Envelope {
            uuid,
            checksum,
            settings,
        })
        .into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&etag) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    Ok(resp)
}

#[derive(Debug, Serialize, Deserialize)]
struct Base {
    settings: Map<String, Value>,
}

async fn read_base(State(state): State<Shared>, _: Admin) -> Reply {
    let text = state
        .store
        .get_setting(BASE_SETTING)
        .await
        .map_err(|e| store_error(&e))?;
    let settings = text
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    Ok(axum::Json(Base { settings }).into_response())
}

/// The base document as stored, or why it cannot be: the machine-only keys are refused (Claude Code reads them from
/// the machine's own managed settings only), and at most 64 KiB.
///
/// # Errors
/// 400 naming the key or the size.
pub fn validate_base(settings: &Map<String, Value>) -> Result<String, ApiError> {
    for machine_only in [
        "forceLoginMethod",
        "forceLoginGatewayUrl",
        "gatewayInternalNetworks",
    ] {
        if settings.contains_key(machine_only) {
            return Err(ApiError::invalid(format!(
                "settings.{machine_only}: Claude Code reads it from the machine's own managed settings only (file, MDM, Group Policy), never from a gateway"
            )));
        }
    }
    let text = serde_json::to_string(settings).unwrap_or_default();
    if text.len() > MAX_BASE_BYTES {
        return Err(ApiError::invalid(format!(
            "settings: {} KiB; at most {} KiB",
            text.len() / 1024,
            MAX_BASE_BYTES / 1024
        )));
    }
    Ok(text)
}

/// `PUT /admin/managed-settings` `{"settings": {…}}`: the base every signed-in Claude Code gets (policies add to it).
async fn write_base(State(state): State<Shared>, Admin(caller): Admin, body: Bytes) -> Reply {
    let base: Base = crate::views::body(&body)?;
    let text = validate_base(&base.settings)?;
    state
        .store
        .put_setting(BASE_SETTING, &text)
        .await
        .map_err(|e| store_error(&e))?;
    forget(&state);
    tracing::info!(actor = ?caller.email, keys = base.settings.len(), "managed settings base replaced");
    Ok(axum::Json(base).into_response())
}
