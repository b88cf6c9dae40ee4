//! The portal's session: a session token carried in an HttpOnly cookie instead of a header, so no page script
//! can read it, with a CSRF token for every change made on the strength of the cookie.
//!
//! - `POST /auth/session` signs in with the bootstrap password and sets the cookie (`__Host-sluice_session`
//!   over HTTPS: `Secure`, `Path=/`, no `Domain`; `sluice_session` over plain HTTP on a loopback `sluice serve`,
//!   where browsers refuse `Secure`). Both are `HttpOnly` and `SameSite=Strict`.
//! - [`cookie_session`] turns the cookie into the request's bearer credential for the admin router only (the
//!   inference routes never read it), after checking `X-CSRF-Token` on anything but GET, HEAD and OPTIONS.
//!   An explicit `x-api-key` or `Authorization` header wins and the cookie is ignored.
//! - The CSRF token is derived from the session token (a SHA-256 under a fixed label), so any instance can check
//!   it without storing anything; knowing it reveals nothing about the session token.
//! - `POST /auth/logout` ends the person's sessions (as for any session) and clears the cookie.
//! - Single sign-on: `GET /auth/portal/start?provider=<id>` sends the browser to the identity provider with the
//!   authorization code flow and PKCE (S256); `GET /auth/portal/callback` exchanges the code at the provider's
//!   token endpoint, verifies the ID token (signature, issuer, audience, expiry, nonce) and sets the session
//!   cookie. The raw ID token never reaches the page. The flow's state, nonce and verifier travel in a short-lived
//!   HttpOnly cookie (`SameSite=Lax`, since the provider's redirect back is a cross-site navigation), so any
//!   instance can answer the callback and a callback without this browser's cookie signs nobody in.

use std::net::SocketAddr;

use axum::Extension;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use cookie::{Cookie, SameSite};
use lambda_http::request::RequestContext;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_http::reply::ErrorReply;

use crate::login::{Origin, password_session, same_secret, urlencode};
use crate::{Reply, Shared, base_url, now_ms};
use sluice_http::identity::check_nonce;

/// The cookie's name over HTTPS; the `__Host-` prefix makes browsers insist on `Secure`, `Path=/` and no `Domain`.
const SECURE_NAME: &str = "__Host-sluice_session";
/// The cookie's name over plain HTTP (a local `sluice serve`).
const PLAIN_NAME: &str = "sluice_session";
/// The header a cookie-authenticated change must carry.
pub(super) const CSRF_HEADER: &str = "x-csrf-token";

/// A request authenticated by the portal's cookie; its CSRF token, for `/auth/me` to hand back to the page.
#[derive(Debug, Clone)]
pub(super) struct CookieSession {
    pub csrf_token: String,
}

/// The CSRF token that goes with a session token.
fn csrf_for(session_token: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"sluice portal csrf\n")
        .chain_update(session_token.as_bytes())
        .finalize();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

/// The value of the cookie `secure_name`, or — only over plain HTTP (a local `sluice serve`, where browsers refuse
/// `Secure`) — of `plain_name`. Over HTTPS the unprefixed name is ignored: a sibling subdomain can set it, but not
/// a `__Host-` cookie, so it cannot plant a session or a sign-in of its own in someone's browser.
fn cookie_value(
    headers: &HeaderMap,
    secure_name: &str,
    plain_name: &str,
    https: bool,
) -> Option<String> {
    let mut plain = None;
    let cookies = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|text| Cookie::split_parse(text).flatten());
    for cookie in cookies.filter(|c| !c.value().is_empty()) {
        if cookie.name() == secure_name {
            return Some(cookie.value().to_owned());
        }
        if !https && plain.is_none() && cookie.name() == plain_name {
            plain = Some(cookie.value().to_owned());
        }
    }
    plain
}

/// The session token in the request's cookies (see [`cookie_value`]).
fn session_cookie(headers: &HeaderMap, https: bool) -> Option<String> {
    cookie_value(headers, SECURE_NAME, PLAIN_NAME, https)
}

fn has_explicit_credential(headers: &HeaderMap) -> bool {
    headers.contains_key("x-api-key") || headers.contains_key(header::AUTHORIZATION)
}

/// Lets the portal's cookie stand for the bearer credential on the admin router (see the module comment).
pub(super) async fn cookie_session(
    State(state): State<Shared>,
    mut req: Request,
    next: Next,
) -> Response {
    if has_explicit_credential(req.headers()) {
        return next.run(req).await;
    }
    let Some(token) = session_cookie(req.headers(), over_https(&state, req.headers())) else {
        return next.run(req).await;
    };
    let csrf_token = csrf_for(&token);
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // The device-sign-in confirmation is a plain HTML form: it carries the token as a form field, which its handler
    // checks against `CookieSession::csrf_token` (`gateway_login::confirm`).
    let form_checked = req.uri().path() == crate::gateway_login::DEVICE_PATH;
    if !safe && !form_checked {
        let presented = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !same_secret(presented, &csrf_token) {
            return ErrorReply(ApiError::new(
                ApiErrorKind::Permission,
                "a change made with the portal's session cookie needs the X-CSRF-Token header the portal sends",
            ))
            .into_response();
        }
    }
    let Ok(bearer) = HeaderValue::from_str(&format!("Bearer {token}")) else {
        return ErrorReply(ApiError::new(
            ApiErrorKind::Authentication,
            "invalid session cookie; sign in again",
        ))
        .into_response();
    };
    req.headers_mut().insert(header::AUTHORIZATION, bearer);
    req.extensions_mut().insert(CookieSession { csrf_token });
    next.run(req).await
}

/// Whether the portal is reached over HTTPS (the cookie is then `Secure` and `__Host-` prefixed).
fn over_https(state: &Shared, headers: &HeaderMap) -> bool {
    base_url(state, headers).starts_with("https://")
}

/// The session cookie: a browser-session cookie (gone when the browser closes; the token inside expires with the
/// session TTL anyway), or with `Max-Age=0` to clear it.
fn session_cookie_header(value: &str, https: bool, clear: bool) -> Option<HeaderValue> {
    let name = if https { SECURE_NAME } else { PLAIN_NAME };
    let mut cookie = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .secure(https)
        .same_site(SameSite::Strict);
    if clear {
        cookie = cookie.max_age(cookie::time::Duration::ZERO);
    }
    HeaderValue::from_str(&cookie.build().to_string()).ok()
}

/// Who signed in, as the portal needs it.
#[derive(Debug, Serialize)]
struct SignedIn {
    user: SignedInUser,
    csrf_token: String,
}

#[derive(Debug, Serialize)]
struct SignedInUser {
    id: String,
    email: String,
    role: &'static str,
    team_id: Option<String>,
}

/// `POST /auth/session`: `{"username","password"}` of the bootstrap admin → the session cookie, and
/// `{"user": {...}, "csrf_token"}` in the answer (the token itself never is).
pub(super) async fn sign_in(
    State(state): State<Shared>,
    lambda: Option<Extension<RequestContext>>,
    socket: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let (user, token) =
        password_session(&state, Origin { lambda, socket }, &headers, &body).await?;
    let cookie = session_cookie_header(&token, over_https(&state, &headers), false)
        .ok_or_else(|| ApiError::internal("could not write the session cookie"))?;
    let answer = SignedIn {
        csrf_token: csrf_for(&token),
        user: SignedInUser {
            role: user.role.as_str(),
            id: user.id,
            email: user.email,
            team_id: user.team_id,
        },
    };
    let mut response = axum::Json(answer).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Adds the headers that clear the session cookie (both names) to `/auth/logout`'s answer. That route ends every
/// session of the person; a cookie-authenticated call to it passes the CSRF check in [`cookie_session`] first,
/// so another site cannot sign a person out.
pub(super) fn clear_cookie(state: &Shared, headers: &HeaderMap, response: &mut Response) {
    let https = over_https(state, headers);
    for name_https in [https, false] {
        if let Some(clear) = session_cookie_header("", name_https, true) {
            response.headers_mut().append(header::SET_COOKIE, clear);
        }
    }
}

/// The sign-in cookie's name over HTTPS and over plain HTTP.
const SIGNIN_SECURE_NAME: &str = "__Host-sluice_signin";
const SIGNIN_PLAIN_NAME: &str = "sluice_signin";
/// How long a single sign-on may take in the provider's pages.
const SIGNIN_MAX_AGE_S: i64 = 600;

/// A single sign-on in flight, kept in the browser's sign-in cookie.
#[derive(Debug, Serialize, Deserialize)]
struct SignIn {
    idp: String,
    state: String,
    nonce: String,
    verifier: String,
    /// A device sign-in to return to after the provider (Claude Code's `/login`): its user code, never a free URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_code: Option<String>,
}

impl SignIn {
    fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(text: &str) -> Option<Self> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

fn signin_cookie_header(value: &str, https: bool, clear: bool) -> Option<HeaderValue> {
    let name = if https {
        SIGNIN_SECURE_NAME
    } else {
        SIGNIN_PLAIN_NAME
    };
    let age = if clear { 0 } else { SIGNIN_MAX_AGE_S };
    let cookie = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .secure(https)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(age))
        .build();
    HeaderValue::from_str(&cookie.to_string()).ok()
}

fn signin_cookie(headers: &HeaderMap, https: bool) -> Option<SignIn> {
    cookie_value(headers, SIGNIN_SECURE_NAME, SIGNIN_PLAIN_NAME, https)
        .and_then(|v| SignIn::decode(&v))
}

fn random_text(state: &Shared, bytes: usize) -> String {
    let mut buf = vec![0_u8; bytes];
    state.ids.fill(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

fn redirect(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Back to the portal's sign-in page with a message it shows (as text).
fn back_to_sign_in(why: &str) -> Response {
    redirect(&format!("/#/signin?error={}", urlencode(why)))
}

fn callback_url(state: &Shared, headers: &HeaderMap) -> String {
    format!("{}/auth/portal/callback", base_url(state, headers))
}

#[derive(Debug, Deserialize)]
pub(super) struct StartQuery {
    provider: String,
    /// Passed on to the provider to preselect the account.
    login_hint: Option<String>,
    /// Come back to the device sign-in page for this code (`/device?user_code=…`) instead of the portal.
    user_code: Option<String>,
}

/// `GET /auth/portal/start?provider=<id>`: to the provider's sign-in page (see the module comment).
pub(super) async fn start_sso(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<StartQuery>,
) -> Response {
    let idps = match state.auth.idps(state.store.as_ref()).await {
        Ok(idps) => idps,
        Err(e) => return ErrorReply(e).into_response(),
    };
    let Some(idp) = idps.into_iter().find(|i| i.id == q.provider && i.enabled) else {
        return back_to_sign_in("that sign-in provider is not configured");
    };
    let discovery = match state.auth.oidc.discovery(&idp.issuer).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(idp = %idp.name, error = %e, "portal sign-in: discovery failed");
            return back_to_sign_in(&format!("{} cannot be reached right now", idp.name));
        }
    };
    if discovery.token_endpoint.is_none() {
        return back_to_sign_in(&format!(
            "{} does not support the authorization code flow (no token endpoint)",
            idp.name
        ));
    }
    let flow = SignIn {
        idp: idp.id.clone(),
        state: random_text(&state, 24),
        nonce: random_text(&state, 24),
        verifier: random_text(&state, 32),
        user_code: q
            .user_code
            .as_deref()
            .and_then(sluice_core::device_flow::normalize_user_code),
    };
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(flow.verifier.as_bytes()));
    let scope = idp
        .scopes
        .clone()
        .unwrap_or_else(|| "openid email profile".into());
    let Ok(mut url) = url::Url::parse(&discovery.authorization_endpoint) else {
        return back_to_sign_in(&format!("{} has an unusable sign-in address", idp.name));
    };
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &idp.audience)
        .append_pair("redirect_uri", &callback_url(&state, &headers))
        .append_pair("scope", &scope)
        .append_pair("state", &flow.state)
        .append_pair("nonce", &flow.nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    if let Some(hint) = q.login_hint.as_deref().filter(|h| !h.is_empty()) {
        url.query_pairs_mut().append_pair("login_hint", hint);
    }
    let mut response = redirect(url.as_str());
    if let Some(cookie) = signin_cookie_header(&flow.encode(), over_https(&state, &headers), false)
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[derive(Debug, Deserialize)]
pub(super) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /auth/portal/callback`: the provider's redirect back; sets the session cookie and opens the portal.
pub(super) async fn finish_sso(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let https = over_https(&state, &headers);
    let back_to = signin_cookie(&headers, https)
        .and_then(|flow| flow.user_code)
        .map_or_else(
            || "/#/me".to_owned(),
            |code| format!("{}?user_code={code}", crate::gateway_login::DEVICE_PATH),
        );
    let mut response = match finish(&state, &headers, &q).await {
        Ok(token) => {
            let mut response = redirect(&back_to);
            if let Some(cookie) = session_cookie_header(&token, https, false) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(why) => back_to_sign_in(&why.to_string()),
    };
    // The flow is used up either way.
    for name_https in [https, false] {
        if let Some(clear) = signin_cookie_header("", name_https, true) {
            response.headers_mut().append(header::SET_COOKIE, clear);
        }
    }
    response
}

/// Why a single sign-on ended without a session; the text is what the sign-in page shows.
#[derive(Debug, thiserror::Error)]
enum SsoFailed {
    #[error(
        "this sign-in was not started in this browser, or took longer than 10 minutes; try again"
    )]
    NotStarted,
    #[error("the identity provider did not sign you in")]
    ProviderDeclined,
    /// A missing or mismatched code or state, a refused exchange, or a token that failed verification (the log says
    /// which; the page does not).
    #[error("single sign-on failed; try again")]
    Failed,
    #[error("that sign-in provider is no longer configured")]
    UnknownProvider,
    #[error("Your account has been deactivated")]
    Deactivated,
    /// Provisioning refused the person, or the store could not answer (the message says which).
    #[error("{}", .0.message)]
    Refused(ApiError),
}

/// The session token of a completed single sign-on.
async fn finish(
    state: &Shared,
    headers: &HeaderMap,
    q: &CallbackQuery,
) -> Result<String, SsoFailed> {
    let flow = signin_cookie(headers, over_https(state, headers)).ok_or(SsoFailed::NotStarted)?;
    if let Some(error) = &q.error {
        // What the redirect carries is the client's to write: logged with `?`, escaped.
        tracing::info!(
            ?error,
            "portal sign-in: the provider answered with an error"
        );
        return Err(SsoFailed::ProviderDeclined);
    }
    let (Some(code), Some(returned_state)) = (q.code.as_deref(), q.state.as_deref()) else {
        return Err(SsoFailed::Failed);
    };
    if !same_secret(returned_state, &flow.state) {
        tracing::warn!("portal sign-in: state does not match this browser's sign-in");
        return Err(SsoFailed::Failed);
    }
    let idps = state
        .auth
        .idps(state.store.as_ref())
        .await
        .map_err(SsoFailed::Refused)?;
    let Some(idp) = idps.iter().find(|i| i.id == flow.idp && i.enabled) else {
        return Err(SsoFailed::UnknownProvider);
    };
    let refused = |e: &dyn std::fmt::Display| {
        tracing::warn!(idp = %idp.name, reason = %e, "portal sign-in refused");
        SsoFailed::Failed
    };
    let id_token = state
        .auth
        .oidc
        .exchange_code(idp, code, &callback_url(state, headers), &flow.verifier)
        .await
        .map_err(|e| refused(&e))?;
    let claims = state
        .auth
        .oidc
        .verify(&id_token, idp, now_ms() / 1000)
        .await
        .map_err(|e| refused(&e))?;
    check_nonce(&claims, &flow.nonce).map_err(|e| refused(&e))?;
    let user = state
        .auth
        .provision(state.store.as_ref(), idp, &claims)
        .await
        .map_err(SsoFailed::Refused)?;
    if !user.active {
        return Err(SsoFailed::Deactivated);
    }
    tracing::info!(user_id = %user.id, idp = %idp.name, "portal sign-in completed");
    Ok(state.auth.sessions.issue_at_ms(&user, now_ms()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_str(value).expect("header"));
        }
        h
    }

    #[test]
    fn the_secure_cookie_wins_and_empty_values_are_ignored() {
        let h = headers(&[(
            "cookie",
            "a=1; sluice_session=plain; __Host-sluice_session=secure",
        )]);
        assert_eq!(session_cookie(&h, false).as_deref(), Some("secure"));
        let h = headers(&[("cookie", "sluice_session=plain"), ("cookie", "x=y")]);
        assert_eq!(session_cookie(&h, false).as_deref(), Some("plain"));
        assert_eq!(
            session_cookie(&h, true),
            None,
            "over HTTPS only the __Host- cookie counts"
        );
        let h = headers(&[("cookie", "__Host-sluice_session=; other=1")]);
        assert_eq!(session_cookie(&h, false), None);
    }

    #[test]
    fn over_https_only_the_prefixed_sign_in_cookie_counts() {
        let flow = SignIn {
            idp: "idp".into(),
            state: "s".into(),
            nonce: "n".into(),
            verifier: "v".into(),
            user_code: None,
        };
        let planted = format!("sluice_signin={}", flow.encode());
        let h = headers(&[("cookie", planted.as_str())]);
        assert!(signin_cookie(&h, false).is_some());
        assert!(signin_cookie(&h, true).is_none());
        let prefixed = format!("__Host-sluice_signin={}", flow.encode());
        let h = headers(&[("cookie", prefixed.as_str())]);
        assert_eq!(
            signin_cookie(&h, true).map(|f| f.state),
            Some("s".to_owned())
        );
    }

    #[test]
    fn csrf_tokens_differ_per_session_and_do_not_contain_it() {
        let (a, b) = (csrf_for("token-a"), csrf_for("token-b"));
        assert_ne!(a, b);
        assert_eq!(a, csrf_for("token-a"));
        assert!(!a.contains("token-a"));
        assert_eq!(a.len(), 43);
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_over_https() {
        let https = session_cookie_header("t", true, false).expect("cookie");
        let text = https.to_str().expect("ascii");
        for part in [
            "__Host-sluice_session=t",
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Path=/",
        ] {
            assert!(text.contains(part), "{text} lacks {part}");
        }
        assert!(
            !text.contains("Max-Age"),
            "a browser-session cookie: {text}"
        );
        let plain = session_cookie_header("t", false, false).expect("cookie");
        let text = plain.to_str().expect("ascii");
        assert!(text.starts_with("sluice_session=t"), "{text}");
        assert!(!text.contains("Secure"), "{text}");
        assert!(text.contains("HttpOnly") && text.contains("SameSite=Strict"));
        let cleared = session_cookie_header("", true, true).expect("cookie");
        assert!(cleared.to_str().expect("ascii").contains("Max-Age=0"));
    }
}
