//! Claude Code's browser sign-in for `apiKeyHelper` (RFC 8252 loopback redirect with RFC 7636 PKCE):
//! start (the helper's loopback port and PKCE challenge) → IdP (implicit `id_token`) → callback page → complete
//! (verify, issue the session token, answer with a one-time code) → the browser carries the code to the helper's
//! listener on 127.0.0.1 → the helper redeems code + verifier at `POST /auth/cli/token`.
//!
//! Whoever sends someone a sign-in link they started learns nothing: the code goes to the victim's own loopback,
//! and the token needs the code. The state lives in the store, so any instance can answer any step. Unlike
//! CCAG, a token that fails verification (signature, issuer, audience, expiry, nonce) is refused and nothing is
//! stored.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_core::identity::CliSession;
use sluice_core::keys::hash_secret;
use sluice_core::store::StoreError;

use crate::login::{same_secret, urlencode};
use crate::{Reply, Shared, base_url, now_ms, parse_json, store_error};
use sluice_http::identity::{check_nonce, peek_issuer};

/// How long a sign-in may take from start to poll.
pub(super) const SESSION_TTL_MS: i64 = 5 * 60 * 1000;
const MAX_TOKEN_LEN: usize = 16_384;

#[derive(Deserialize)]
pub(super) struct StartQuery {
    session: String,
    /// The helper's listener on 127.0.0.1.
    port: Option<u16>,
    /// base64url(SHA-256(verifier)), RFC 7636 `S256`.
    code_challenge: Option<String>,
    /// Passed on to the IdP to preselect the account.
    login_hint: Option<String>,
}

/// The callback page's answer from `complete` (and the "gone" answers): `{"status": "ok", "redirect"}` or
/// `{"status": "expired", "error"}`.
#[derive(Debug, Serialize)]
struct Status {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    redirect: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
}

impl Status {
    fn expired(why: &'static str) -> Self {
        Self {
            status: "expired",
            redirect: None,
            error: Some(why),
        }
    }
}

/// `POST /auth/cli/token`'s answer: the session token for the helper.
#[derive(Debug, Serialize)]
struct TokenAnswer<'a> {
    token: &'a str,
    token_type: &'static str,
}

/// The advice for a helper from before the loopback sign-in, which polled for the token.
const UPDATE_HELPER: &str =
    "this Claude Code helper is out of date; run `curl -fsS <sluice>/auth/setup | bash` again";

fn is_challenge(c: &str) -> bool {
    // S256 of a 32- to 96-byte verifier, base64url without padding.
    (43..=128).contains(&c.len())
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// base64url(SHA-256(verifier)) without padding.
fn s256(verifier: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
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
    let (Some(port), Some(code_challenge)) = (q.port, q.code_challenge) else {
        return Err(ApiError::invalid(UPDATE_HELPER).into());
    };
    if port < 1024 {
        return Err(ApiError::invalid("port: the helper's loopback port is 1024 to 65535").into());
    }
    if !is_challenge(&code_challenge) {
        return Err(
            ApiError::invalid("code_challenge: must be base64url(SHA-256(verifier))").into(),
        );
    }
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
    let mut nonce = [0_u8; 16];
    state.ids.fill(&mut nonce);
    let nonce = hex::encode(nonce);
    let session = CliSession {
        id: id.clone(),
        nonce: nonce.clone(),
        created_at_ms: now_ms(),
        code_challenge,
        redirect_port: port,
        token: None,
        code_hash: None,
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
            axum::Json(Status::expired("Session expired or not found")),
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
    let token = state.auth.sessions.issue_at_ms(&user, now_ms());
    let mut code = [0_u8; 32];
    state.ids.fill(&mut code);
    let code = hex::encode(code);
    if !state
        .store
        .complete_cli_session(&id, &token, &hash_secret(&code))
        .await
        .map_err(|e| store_error(&e))?
    {
        return Ok((
            StatusCode::GONE,
            axum::Json(Status::expired("Session expired or not found")),
        )
            .into_response());
    }
    tracing::info!(user_id = %user.id, idp = %idp.name, "browser sign-in completed");
    // The code goes to the loopback listener of the machine this browser runs on, never back to the starter.
    let redirect = format!(
        "http://127.0.0.1:{}/callback?code={code}&state={id}",
        session.redirect_port
    );
    Ok(axum::Json(Status {
        status: "ok",
        redirect: Some(redirect),
        error: None,
    })
    .into_response())
}

/// The helper of an older setup polled for the token by session id alone, which anyone holding the link could do;
/// that route is gone and says how to update.
pub(super) async fn poll() -> Reply {
    Ok((StatusCode::GONE, axum::Json(Status::expired(UPDATE_HELPER))).into_response())
}

#[derive(Deserialize)]
pub(super) struct TokenBody {
    session: String,
    code: String,
    code_verifier: String,
}

/// `POST /auth/cli/token`: the one-time code from the loopback redirect and the PKCE verifier redeem the session
/// token, once. A wrong code or verifier ends the sign-in.
pub(super) async fn token(State(state): State<Shared>, body: Bytes) -> Reply {
    let body: TokenBody = parse_json(&body)?;
    let id = session_id(&body.session)?;
    let store = state.store.as_ref();
    let refused = || {
        ApiError::new(
            ApiErrorKind::Authentication,
            "sign-in not completed, expired, or the code or verifier is wrong; sign in again",
        )
    };
    let session = store.cli_session(&id).await.map_err(|e| store_error(&e))?;
    let Some(session) = session.filter(|s| now_ms() - s.created_at_ms <= SESSION_TTL_MS) else {
        return Err(refused().into());
    };
    let (Some(token), Some(code_hash)) = (&session.token, &session.code_hash) else {
        // Not completed yet: nothing to hand over, and nothing to end.
        return Err(refused().into());
    };
    let code_ok = same_secret(&hash_secret(&body.code), code_hash);
    let verifier_ok = same_secret(&s256(&body.code_verifier), &session.code_challenge);
    // Handed out once, and never after a wrong guess.
    store
        .delete_cli_session(&id)
        .await
        .map_err(|e| store_error(&e))?;
    if !(code_ok && verifier_ok) {
        tracing::warn!(code_ok, verifier_ok, "browser sign-in redemption refused");
        return Err(refused().into());
    }
    Ok(axum::Json(TokenAnswer {
        token,
        token_type: "session",
    })
    .into_response())
}
