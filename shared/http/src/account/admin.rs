//! The first admin routes: people, teams and identity providers (admin role required; the full CCAG-compatible
//! admin API builds on these).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_core::identity::{IdentityProvider, Role, Team, new_id};

use super::{Reply, Shared, now_ms, parse_json, require_admin, store_error};
use crate::auth::new_user;

fn role(raw: Option<&str>, default: Role) -> Result<Role, ApiError> {
    match raw {
        None => Ok(default),
        Some(r) => Role::parse(r)
            .ok_or_else(|| ApiError::invalid(format!("role must be admin or member, not {r:?}"))),
    }
}

pub(super) async fn list_users(State(state): State<Shared>, headers: HeaderMap) -> Reply {
    require_admin(&state, &headers).await?;
    let users = state
        .store
        .list_users()
        .await
        .map_err(|e| store_error(&e))?;
    Ok(axum::Json(json!({"users": users})).into_response())
}

#[derive(Deserialize)]
pub(super) struct NewUser {
    email: String,
    role: Option<String>,
    team_id: Option<String>,
}

pub(super) async fn create_user(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    require_admin(&state, &headers).await?;
    let body: NewUser = parse_json(&body)?;
    let email = body.email.trim().to_ascii_lowercase();
    if email.is_empty() {
        return Err(ApiError::invalid("email: must not be empty").into());
    }
    let mut user = new_user(&email, role(body.role.as_deref(), Role::Member)?, "admin");
    user.team_id = body.team_id;
    state
        .store
        .create_user(&user)
        .await
        .map_err(|e| store_error(&e))?;
    Ok((StatusCode::CREATED, axum::Json(json!(user))).into_response())
}

pub(super) async fn update_user(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    require_admin(&state, &headers).await?;
    let patch: Value = parse_json(&body)?;
    let Some(mut user) = state
        .store
        .user_by_id(&id)
        .await
        .map_err(|e| store_error(&e))?
    else {
        return Err(ApiError::new(ApiErrorKind::NotFound, format!("no user with id {id}")).into());
    };
    if let Some(r) = patch.get("role") {
        user.role = role(r.as_str(), user.role)?;
    }
    if let Some(t) = patch.get("team_id") {
        user.team_id = t.as_str().map(str::to_owned);
    }
    if let Some(a) = patch.get("active") {
        user.active = a
            .as_bool()
            .ok_or_else(|| ApiError::invalid("active: must be true or false"))?;
    }
    if !state
        .store
        .update_user(&user)
        .await
        .map_err(|e| store_error(&e))?
    {
        return Err(ApiError::new(ApiErrorKind::NotFound, format!("no user with id {id}")).into());
    }
    state.auth.forget_user(&id);
    Ok(axum::Json(json!(user)).into_response())
}

pub(super) async fn list_teams(State(state): State<Shared>, headers: HeaderMap) -> Reply {
    require_admin(&state, &headers).await?;
    let teams = state
        .store
        .list_teams()
        .await
        .map_err(|e| store_error(&e))?;
    Ok(axum::Json(json!({"teams": teams})).into_response())
}

#[derive(Deserialize)]
pub(super) struct NewTeam {
    name: String,
}

pub(super) async fn create_team(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    require_admin(&state, &headers).await?;
    let body: NewTeam = parse_json(&body)?;
    let name = body.name.trim().to_owned();
    if name.is_empty() {
        return Err(ApiError::invalid("name: must not be empty").into());
    }
    let team = Team {
        id: new_id("team"),
        name,
        created_at_ms: now_ms(),
    };
    state
        .store
        .create_team(&team)
        .await
        .map_err(|e| store_error(&e))?;
    Ok((StatusCode::CREATED, axum::Json(json!(team))).into_response())
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
