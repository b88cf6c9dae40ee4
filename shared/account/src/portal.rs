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

use std::net::SocketAddr;

use axum::Extension;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use cookie::{Cookie, SameSite};
use lambda_http::request::RequestContext;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_http::reply::ErrorReply;

use crate::login::{Origin, password_session, same_secret};
use crate::{Reply, Shared, base_url};

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

/// The session token in the request's cookies, the `__Host-` one first.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    let mut plain = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for cookie in Cookie::split_parse(text).flatten() {
            match cookie.name() {
                SECURE_NAME if !cookie.value().is_empty() => {
                    return Some(cookie.value().to_owned());
                }
                PLAIN_NAME if !cookie.value().is_empty() => plain = Some(cookie.value().to_owned()),
                _ => {}
            }
        }
    }
    plain
}

fn has_explicit_credential(headers: &HeaderMap) -> bool {
    headers.contains_key("x-api-key") || headers.contains_key(header::AUTHORIZATION)
}

/// Lets the portal's cookie stand for the bearer credential on the admin router (see the module comment).
pub(super) async fn cookie_session(mut req: Request, next: Next) -> Response {
    if has_explicit_credential(req.headers()) {
        return next.run(req).await;
    }
    let Some(token) = session_cookie(req.headers()) else {
        return next.run(req).await;
    };
    let csrf_token = csrf_for(&token);
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
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
        assert_eq!(session_cookie(&h).as_deref(), Some("secure"));
        let h = headers(&[("cookie", "sluice_session=plain"), ("cookie", "x=y")]);
        assert_eq!(session_cookie(&h).as_deref(), Some("plain"));
        let h = headers(&[("cookie", "__Host-sluice_session=; other=1")]);
        assert_eq!(session_cookie(&h), None);
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
