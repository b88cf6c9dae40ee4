//! Claude Code's browser sign-in for `apiKeyHelper`: start → IdP (implicit `id_token`) → callback page → complete →
//! poll. The state lives in the store, so any instance can answer any step. Unlike CCAG, a token that fails
//! verification (signature, issuer, audience, expiry, nonce) is refused and nothing is stored.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_core::identity::CliSession;
use sluice_core::store::StoreError;

use super::login::urlencode;
use super::{Reply, Shared, base_url, now_ms, parse_json, store_error};
use crate::identity::{check_nonce, peek_issuer};

/// How long a sign-in may take from start to poll.
pub(super) const SESSION_TTL_MS: i64 = 5 * 60 * 1000;
const MAX_TOKEN_LEN: usize = 16_384;

#[derive(Deserialize)]
pub(super) struct StartQuery {
    session: String,
    /// Passed on to the IdP to preselect the account.
    login_hint: Option<String>,
}

fn session_id(raw: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(raw.trim())
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| ApiError::invalid("session must be a UUID"))
}

pub(super) async fn start(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<StartQuery>,
) -> Reply {
    let id = session_id(&q.session)?;
    let idp = state
        .auth
        .idps(state.store.as_ref())
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| {
            ApiError::new(
                ApiErrorKind::NotFound,
                "no identity provider is configured for browser sign-in",
            )
        })?;
    let discovery = state.auth.oidc.discovery(&idp.issuer).await.map_err(|e| {
        tracing::error!(error = %e, issuer = %idp.issuer, "identity provider discovery failed");
        ApiError::internal("the identity provider could not be reached")
    })?;
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    let session = CliSession {
        id: id.clone(),
        nonce: nonce.clone(),
        created_at_ms: now_ms(),
        token: None,
    };
    match state
        .store
        .create_cli_session(&session, session.created_at_ms + SESSION_TTL_MS)
        .await
    {
        Ok(()) => {}
        Err(StoreError::AlreadyExists(_)) => {
            return Err(ApiError::invalid("this sign-in session was already started").into());
        }
        Err(e) => return Err(store_error(&e).into()),
    }
    let scope = idp
        .scopes
        .clone()
        .unwrap_or_else(|| "openid email profile".into());
    let mut location = format!(
        "{}?response_type=id_token&client_id={}&redirect_uri={}&state={}&nonce={}&scope={}",
        discovery.authorization_endpoint,
        urlencode(&idp.audience),
        urlencode(&format!("{}/auth/cli/callback", base_url(&state, &headers))),
        urlencode(&id),
        nonce,
        urlencode(&scope),
    );
    if let Some(hint) = q.login_hint.filter(|h| !h.is_empty()) {
        location.push_str(&format!("&login_hint={}", urlencode(&hint)));
    }
    Ok((
        StatusCode::TEMPORARY_REDIRECT,
        [(header::LOCATION, location)],
    )
        .into_response())
}

/// The page the IdP redirects to: it reads the token from the fragment (or query) and posts it to `complete`.
pub(super) async fn callback_page() -> Html<&'static str> {
    Html(include_str!("cli_callback.html"))
}

#[derive(Deserialize)]
pub(super) struct CompleteBody {
    session: String,
    token: String,
}

pub(super) async fn complete(State(state): State<Shared>, body: Bytes) -> Reply {
    let body: CompleteBody = parse_json(&body)?;
    let id = session_id(&body.session)?;
    if body.token.is_empty() || body.token.len() > MAX_TOKEN_LEN {
        return Err(ApiError::invalid("token must be a non-empty ID token").into());
    }
    let session = state
        .store
        .cli_session(&id)
        .await
        .map_err(|e| store_error(&e))?;
    let Some(session) = session.filter(|s| now_ms() - s.created_at_ms <= SESSION_TTL_MS) else {
        return Ok((
            StatusCode::GONE,
            axum::Json(json!({"status": "expired", "error": "Session expired or not found"})),
        )
            .into_response());
    };
    let refused = |why: &str| -> ApiError {
        tracing::warn!(reason = why, "browser sign-in refused");
        ApiError::new(
            ApiErrorKind::Authentication,
            "the identity token could not be verified",
        )
    };
    let issuer = peek_issuer(&body.token).ok_or_else(|| refused("no issuer"))?;
    let idps = state.auth.idps(state.store.as_ref()).await?;
    let idp = idps
        .iter()
        .find(|i| i.issuer == issuer)
        .ok_or_else(|| refused("unknown issuer"))?;
    let claims = state
        .auth
        .oidc
        .verify(&body.token, idp, now_ms() / 1000)
        .await
        .map_err(|e| refused(&e.to_string()))?;
    check_nonce(&claims, &session.nonce).map_err(|e| refused(&e.to_string()))?;
    let user = state
        .auth
        .provision(state.store.as_ref(), idp, &claims)
        .await?;
    if !user.active {
        return Err(ApiError::new(
            ApiErrorKind::Permission,
            "Your account has been deactivated",
        )
        .into());
    }
    let token = state.auth.sessions.issue(&user, now_ms() / 1000);
    if !state
        .store
        .complete_cli_session(&id, &token)
        .await
        .map_err(|e| store_error(&e))?
    {
        return Ok((
            StatusCode::GONE,
            axum::Json(json!({"status": "expired", "error": "Session expired or not found"})),
        )
            .into_response());
    }
    tracing::info!(user_id = %user.id, idp = %idp.name, "browser sign-in completed");
    Ok(axum::Json(json!({"status": "ok"})).into_response())
}

#[derive(Deserialize)]
pub(super) struct PollQuery {
    session: String,
}

pub(super) async fn poll(State(state): State<Shared>, Query(q): Query<PollQuery>) -> Reply {
    let id = session_id(&q.session)?;
    let status = match state
        .store
        .cli_session(&id)
        .await
        .map_err(|e| store_error(&e))?
    {
        None => json!({"status": "not_found"}),
        Some(s) if now_ms() - s.created_at_ms > SESSION_TTL_MS => {
            state
                .store
                .delete_cli_session(&id)
                .await
                .map_err(|e| store_error(&e))?;
            json!({"status": "expired"})
        }
        Some(CliSession {
            token: Some(token), ..
        }) => {
            // Handed out once: the row goes as the token leaves.
            state
                .store
                .delete_cli_session(&id)
                .await
                .map_err(|e| store_error(&e))?;
            json!({"status": "complete", "token": token})
        }
        Some(_) => json!({"status": "pending"}),
    };
    Ok(axum::Json(status).into_response())
}
