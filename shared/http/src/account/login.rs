//! Password login of the bootstrap admin, `/auth/me` and `/auth/providers`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_core::identity::Role;

use super::{Reply, Shared, base_url, now_ms, parse_json, store_error};
use crate::app::SETTING_ADMIN_LOGIN_ENABLED;
use crate::auth::{Via, new_user};
use crate::ratelimit::Admission;

/// Login attempts per minute, per username and per source address.
const LOGIN_ATTEMPTS_PER_USER: u64 = 10;
const LOGIN_ATTEMPTS_PER_SOURCE: u64 = 30;

#[derive(Deserialize)]
pub(super) struct LoginBody {
    username: String,
    password: String,
}

/// Compares secrets in time independent of where they differ (digests have equal length).
fn same_secret(a: &str, b: &str) -> bool {
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

fn source(headers: &HeaderMap) -> String {
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map_or_else(|| "local".to_owned(), |v| v.trim().to_owned())
}

async fn login_enabled(state: &crate::app::AppState) -> Result<bool, ApiError> {
    if state.config.admin_password_force {
        return Ok(true);
    }
    let setting = state
        .store
        .get_setting(SETTING_ADMIN_LOGIN_ENABLED)
        .await
        .map_err(|e| store_error(&e))?;
    Ok(setting.is_none_or(|v| !v.eq_ignore_ascii_case("false")))
}

pub(super) async fn login(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Reply {
    if !login_enabled(&state).await? {
        return Err(ApiError::new(
            ApiErrorKind::Permission,
            "Admin login is disabled. Use SSO to sign in.",
        )
        .into());
    }
    let body: LoginBody = parse_json(&body)?;
    let username = body.username.trim().to_ascii_lowercase();
    let now = now_ms();
    for (scope, limit) in [
        (format!("login-user:{username}"), LOGIN_ATTEMPTS_PER_USER),
        (
            format!("login-src:{}", source(&headers)),
            LOGIN_ATTEMPTS_PER_SOURCE,
        ),
    ] {
        let admission = state
            .limiter
            .admit(state.store.as_ref(), &scope, limit, now)
            .await
            .map_err(|e| store_error(&e))?;
        if let Admission::Refused { retry_after_secs } = admission {
            tracing::warn!(%username, "login attempts rate limited");
            return Err(ApiError::new(
                ApiErrorKind::RateLimit,
                "Too many login attempts; try again later",
            )
            .with_retry_after(retry_after_secs)
            .into());
        }
    }
    let ok = same_secret(&username, &state.config.admin_username)
        & same_secret(&body.password, &state.config.admin_password.0);
    if !ok {
        tracing::warn!(%username, "failed admin login");
        return Err(
            ApiError::new(ApiErrorKind::Authentication, "Invalid username or password").into(),
        );
    }
    let user = match state
        .store
        .user_by_email(&username)
        .await
        .map_err(|e| store_error(&e))?
    {
        Some(u) => u,
        None => {
            let u = new_user(&username, Role::Admin, "local");
            match state.store.create_user(&u).await {
                Ok(()) => u,
                Err(_) => state
                    .store
                    .user_by_email(&username)
                    .await
                    .map_err(|e| store_error(&e))?
                    .ok_or_else(|| ApiError::internal("could not create the admin user"))?,
            }
        }
    };
    if !user.active {
        return Err(ApiError::new(
            ApiErrorKind::Permission,
            "Your account has been deactivated",
        )
        .into());
    }
    let token = state.auth.sessions.issue(&user, now / 1000);
    tracing::info!(user_id = %user.id, "admin signed in with the password");
    Ok(axum::Json(
        json!({"token": token, "role": user.role.as_str(), "type": "session", "user_id": user.id}),
    )
    .into_response())
}

pub(super) async fn me(State(state): State<Shared>, headers: HeaderMap) -> Reply {
    let c = state
        .auth
        .authenticate(state.store.as_ref(), &headers)
        .await?;
    let body = match &c.via {
        Via::Key => {
            json!({"type": "virtual_key", "name": c.key_name, "key_id": c.key_id, "user_id": c.user_id,
                           "team_id": c.team_id, "role": "member"})
        }
        Via::Session => {
            json!({"type": "session", "sub": c.email, "user_id": c.user_id, "team_id": c.team_id,
                               "role": c.role.as_str(), "idp": "local"})
        }
        Via::Oidc(idp) => {
            json!({"type": "oidc", "sub": c.email, "user_id": c.user_id, "team_id": c.team_id,
                                 "role": c.role.as_str(), "idp": idp})
        }
    };
    Ok(axum::Json(body).into_response())
}

pub(super) async fn providers(State(state): State<Shared>, headers: HeaderMap) -> Reply {
    let base = base_url(&state, &headers);
    let mut list = Vec::new();
    for idp in state.auth.idps(state.store.as_ref()).await? {
        // Providers whose discovery fails are left out rather than failing the page.
        let Ok(d) = state.auth.oidc.discovery(&idp.issuer).await else {
            continue;
        };
        let scope = idp
            .scopes
            .clone()
            .unwrap_or_else(|| "openid email profile".into());
        let url = format!(
            "{}?response_type=id_token&client_id={}&redirect_uri={}&nonce={}&scope={}",
            d.authorization_endpoint,
            urlencode(&idp.audience),
            urlencode(&format!("{base}/portal")),
            now_ms(),
            urlencode(&scope)
        );
        list.push(json!({"name": idp.name, "flow_type": "implicit", "login_url": url}));
    }
    Ok(
        axum::Json(json!({"providers": list, "admin_login_enabled": login_enabled(&state).await?}))
            .into_response(),
    )
}

/// Percent-encodes a query value.
pub(super) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same_secret("hunter2", "hunter2"));
        assert!(!same_secret("hunter2", "hunter3"));
        assert!(!same_secret("", "x"));
    }

    #[test]
    fn urlencode_escapes_reserved_characters() {
        assert_eq!(
            urlencode("http://a b/c?d=e&f"),
            "http%3A%2F%2Fa%20b%2Fc%3Fd%3De%26f"
        );
    }
}
