//! Identity providers (admin role required), and the role parsing the people routes share.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use sluice_core::error::ApiError;
use sluice_core::identity::{IdentityProvider, Role, new_id};

use super::{Reply, Shared, now_ms, parse_json, require_admin, store_error};

pub(super) fn role(raw: Option<&str>, default: Role) -> Result<Role, ApiError> {
    match raw {
        None => Ok(default),
        Some(r) => Role::parse(r)
            .ok_or_else(|| ApiError::invalid(format!("role must be admin or member, not {r:?}"))),
    }
}

pub(super) async fn list_idps(State(state): State<Shared>, headers: HeaderMap) -> Reply {
    require_admin(&state, &headers).await?;
    let idps = state.store.list_idps().await.map_err(|e| store_error(&e))?;
    Ok(axum::Json(json!({"idps": idps})).into_response())
}

#[derive(Deserialize)]
pub(super) struct NewIdp {
    name: String,
    #[serde(alias = "issuer_url")]
    issuer: String,
    audience: String,
    jwks_url: Option<String>,
    user_claim: Option<String>,
    #[serde(default)]
    allowed_domains: Vec<String>,
    auto_provision: Option<bool>,
    default_role: Option<String>,
    scopes: Option<String>,
    enabled: Option<bool>,
}

pub(super) async fn create_idp(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    require_admin(&state, &headers).await?;
    let b: NewIdp = parse_json(&body)?;
    let issuer = b.issuer.trim().trim_end_matches('/').to_owned();
    let local = issuer.starts_with("http://127.0.0.1") || issuer.starts_with("http://localhost");
    if !(issuer.starts_with("https://") || local) {
        return Err(ApiError::invalid("issuer: must be an https:// URL").into());
    }
    if b.audience.trim().is_empty() {
        return Err(ApiError::invalid("audience: must not be empty (the OIDC client id)").into());
    }
    let idp = IdentityProvider {
        id: new_id("idp"),
        name: b.name,
        issuer,
        audience: b.audience.trim().to_owned(),
        jwks_url: b.jwks_url,
        user_claim: b.user_claim.unwrap_or_else(|| "auto".into()),
        allowed_domains: b.allowed_domains,
        auto_provision: b.auto_provision.unwrap_or(true),
        default_role: role(b.default_role.as_deref(), Role::Member)?,
        enabled: b.enabled.unwrap_or(true),
        scopes: b.scopes,
        created_at_ms: now_ms(),
    };
    state
        .store
        .create_idp(&idp)
        .await
        .map_err(|e| store_error(&e))?;
    Ok((StatusCode::CREATED, axum::Json(json!(idp))).into_response())
}
