//! `/admin/policies`: the policy document (`sluice_core::policy`), admin role required; and
//! `/auth/claude-settings`, what Claude Code should be told of the caller's own policy.
//!
//! - `GET /admin/policies`: the document with its version (`0` before the first write).
//! - `PUT /admin/policies`: `{"version": <the version read>, "policies": [...]}` replaces the whole list. Validated
//!   first (unknown fields, unknown model ids, bad globs, unknown teams: 400 whose message starts with the path of
//!   the error); a version other than the stored one is 409 `conflict_error` and nothing is written. The change
//!   (who, when, a diff) is stored with the document in one atomic write.
//! - `POST /admin/policies/test`: which policy a (hypothetical or real) caller matches, why, and what it would do
//!   to a request; evaluates a draft list instead of the stored one when `policies` is given.
//! - `GET /admin/policies/changes?limit=`: the audit trail, newest first.
//!
//! The gateway reads the document with the org limits (one round trip, cached for the budget cache time), so a
//! change acts within that time on every instance.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_core::policy::PolicySet;
use sluice_core::policy::enforce::allowed_models;
use sluice_core::policy::service::{self, Author, ReplaceError, TestCase, model_ids};

use crate::roles::Admin;
use crate::{Reply, Shared, store_error};
use sluice_http::auth::Caller;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/auth/claude-settings", get(claude_settings))
        .route("/admin/policies", get(read).put(replace))
        .route("/admin/policies/test", post(test))
        .route("/admin/policies/changes", get(changes))
}

fn replace_error(e: &ReplaceError) -> ApiError {
    match e {
        ReplaceError::Invalid(v) => ApiError::invalid(v.to_string()),
        ReplaceError::Conflict { .. } => ApiError::new(ApiErrorKind::Conflict, e.to_string()),
        ReplaceError::Store(s) => store_error(s),
    }
}

async fn read(State(state): State<Shared>, _: Admin) -> Reply {
    let doc = service::stored(state.store.as_ref())
        .await
        .map_err(|e| store_error(&e))?;
    Ok(axum::Json(doc).into_response())
}

fn actor(caller: &Caller) -> String {
    match (&caller.email, &caller.user_id) {
        (Some(email), Some(id)) => format!("{email} ({id})"),
        (Some(email), None) => email.clone(),
        (None, Some(id)) => id.clone(),
        (None, None) => "unknown".to_owned(),
    }
}

async fn replace(State(state): State<Shared>, Admin(caller): Admin, body: Bytes) -> Reply {
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
    let Some(expected) = value.get("version").and_then(Value::as_u64) else {
        return Err(ApiError::invalid(
            "version: required, the version of the document you read (0 before the first save)",
        )
        .into());
    };
    let author = Author {
        actor: actor(&caller),
        at_ms: state.clock.now().timestamp_millis(),
        change_id: state.ids.new_id("c"),
    };
    let doc = service::replace(
        state.store.as_ref(),
        value,
        expected,
        &state.config.model_names,
        author,
    )
    .await
    .map_err(|e| replace_error(&e))?;
    // Claude Code's managed settings are composed from the policies: this instance answers with the new ones at once.
    crate::managed::forget(&state);
    Ok(axum::Json(doc).into_response())
}

async fn test(State(state): State<Shared>, _: Admin, body: Bytes) -> Reply {
    let case: TestCase = crate::views::body(&body)?;
    let result = service::test(state.store.as_ref(), case, &state.config.model_names)
        .await
        .map_err(|e| replace_error(&e))?;
    Ok(axum::Json(result).into_response())
}

#[derive(Debug, Deserialize)]
struct ChangesQuery {
    limit: Option<usize>,
}

#[derive(Debug, Serialize)]
struct ChangeView {
    id: String,
    at_ms: i64,
    actor: String,
    from_version: u64,
    to_version: u64,
    diff: Value,
}

#[derive(Debug, Serialize)]
struct Changes {
    changes: Vec<ChangeView>,
}

async fn changes(State(state): State<Shared>, _: Admin, Query(q): Query<ChangesQuery>) -> Reply {
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let changes = state
        .store
        .policy_changes(limit)
        .await
        .map_err(|e| store_error(&e))?
        .into_iter()
        .map(|c| ChangeView {
            diff: serde_json::from_str(&c.diff).unwrap_or(Value::String(c.diff)),
            id: c.id,
            at_ms: c.at_ms,
            actor: c.actor,
            from_version: c.from_version,
            to_version: c.to_version,
        })
        .collect();
    Ok(axum::Json(Changes { changes }).into_response())
}

/// `GET /auth/claude-settings`: what Claude Code should be told of the caller's policy, for the setup scripts to
/// merge into `settings.json`: `permissions.deny` for denied tools (those Claude Code's rule syntax can say) and
/// `availableModels` for the models allowed. Any credential (key, session, ID token); the gateway stays the
/// enforcement.
#[derive(Debug, Serialize)]
struct ClaudeSettings {
    policy: Option<String>,
    permissions: Permissions,
    #[serde(rename = "availableModels", skip_serializing_if = "Option::is_none")]
    available_models: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
struct Permissions {
    deny: Vec<String>,
}

async fn claude_settings(State(state): State<Shared>, headers: HeaderMap) -> Reply {
    let caller = state
        .auth
        .authenticate(state.store.as_ref(), &headers)
        .await?;
    let doc = service::stored(state.store.as_ref())
        .await
        .map_err(|e| store_error(&e))?;
    let set = PolicySet::compile(&doc).map_err(|e| ApiError::internal(e.to_string()))?;
    let answer = match set.evaluate(&caller.policy_subject()) {
        None => ClaudeSettings {
            policy: None,
            permissions: Permissions { deny: Vec::new() },
            available_models: None,
        },
        Some(m) => ClaudeSettings {
            policy: Some(m.policy.name.clone()),
            permissions: Permissions {
                deny: m.policy.permission_denies(),
            },
            available_models: m.policy.restricts_models().then(|| {
                let ids = model_ids(&state.config.model_names);
                allowed_models(m.policy, ids.iter().map(String::as_str))
            }),
        },
    };
    Ok(axum::Json(answer).into_response())
}
