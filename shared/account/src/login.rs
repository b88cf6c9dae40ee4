//! Password login of the bootstrap admin, `/auth/me` and `/auth/providers`.

use std::net::{IpAddr, SocketAddr};

use axum::Extension;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use bytes::Bytes;
use lambda_http::request::RequestContext;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_core::identity::{Role, User};

use crate::portal::CookieSession;
use crate::{Reply, Shared, base_url, now_ms, parse_json, store_error};
use sluice_core::ratelimit::position;
use sluice_http::app::{AppState, SETTING_ADMIN_LOGIN_ENABLED};
use sluice_http::auth::{Via, new_user};
use sluice_http::ratelimit::{Admission, WINDOW_S};

/// Login attempts per minute from one source address (whatever the username).
const LOGIN_ATTEMPTS_PER_SOURCE: u64 = 30;
/// Failed logins (all sources, this minute and the last) after which a source that has itself failed in that time
/// is refused until its failures age out. A source that has not failed may still try: a flood of wrong guesses
/// cannot lock the administrator out, and each attacking address gets one guess per two minutes once it is on.
const LOGIN_FAILURES_BEFORE_LOCK: u64 = 10;
const FAILURES_SCOPE: &str = "login-fail";

#[derive(Deserialize)]
pub(super) struct LoginBody {
    username: String,
    password: String,
}

/// Compares secrets in time independent of where they differ (digests have equal length).
pub(super) fn same_secret(a: &str, b: &str) -> bool {
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

/// The address the connection really comes from, never a header the client writes: the Function URL's
/// `requestContext.http.sourceIp` under Lambda, the socket's peer under `sluice serve`. Behind CloudFront every
/// request comes from an edge address, so `SLUICE_TRUSTED_PROXY=cloudfront` takes CloudFront's
/// `CloudFront-Viewer-Address` instead (CloudFront sets it; only safe when nothing but CloudFront can reach the
/// URL). IPv6 addresses count per /64, the block one host is usually given. `unknown` when nothing says (tests).
pub(crate) fn source(
    headers: &HeaderMap,
    lambda: Option<&RequestContext>,
    socket: Option<SocketAddr>,
    trust_cloudfront: bool,
) -> String {
    let viewer = || {
        headers
            .get("cloudfront-viewer-address")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_viewer_address)
    };
    let lambda_ip = || match lambda {
        Some(RequestContext::ApiGatewayV2(c)) => c.http.source_ip.as_deref()?.trim().parse().ok(),
        _ => None,
    };
    let ip = trust_cloudfront
        .then(viewer)
        .flatten()
        .or_else(lambda_ip)
        .or_else(|| socket.map(|s| s.ip()));
    ip.map_or_else(|| "unknown".to_owned(), source_key)
}

/// `CloudFront-Viewer-Address`: `198.51.100.10:46532`, or an IPv6 address followed by `:port`.
fn parse_viewer_address(v: &str) -> Option<IpAddr> {
    let v = v.trim();
    if let Ok(s) = v.parse::<SocketAddr>() {
        return Some(s.ip());
    }
    let (ip, _port) = v.rsplit_once(':')?;
    ip.trim_matches(['[', ']']).parse().ok()
}

fn source_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
        },
    }
}

/// Failures in this window and the previous one, for `scope`.
async fn recent_failures(
    state: &sluice_http::app::AppState,
    scope: &str,
    now: i64,
) -> Result<u64, ApiError> {
    let pos = position(now, WINDOW_S);
    let (current, previous) = tokio::join!(
        state.store.window_count(scope, pos.start_s),
        state.store.window_count(scope, pos.previous_start_s)
    );
    Ok(current.map_err(|e| store_error(&e))? + previous.map_err(|e| store_error(&e))?)
}

/// Counts one failed login, overall and for its source.
async fn record_failure(
    state: &sluice_http::app::AppState,
    source_scope: &str,
    now: i64,
) -> Result<(), ApiError> {
    let pos = position(now, WINDOW_S);
    let expires_at_s = pos.start_s + 2 * WINDOW_S + 60;
    for scope in [FAILURES_SCOPE, source_scope] {
        state
            .store
            .increment_below(scope, pos.start_s, u64::MAX, expires_at_s)
            .await
            .map_err(|e| store_error(&e))?;
    }
    Ok(())
}

fn too_many(retry_after_secs: u64) -> ApiError {
    ApiError::new(
        ApiErrorKind::RateLimit,
        "Too many login attempts; try again later",
    )
    .with_retry_after(retry_after_secs)
}

async fn login_enabled(state: &sluice_http::app::AppState) -> Result<bool, ApiError> {
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

/// Where a sign-in attempt comes from: the Function URL's request context or the socket (see [`source`]).
pub(super) struct Origin {
    pub lambda: Option<Extension<RequestContext>>,
    pub socket: Option<Extension<ConnectInfo<SocketAddr>>>,
}

/// `POST /auth/login`: the bootstrap admin's password for a session token in the answer (CCAG's CLI).
pub(super) async fn login(
    State(state): State<Shared>,
    lambda: Option<Extension<RequestContext>>,
    socket: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let (user, token) =
        password_session(&state, Origin { lambda, socket }, &headers, &body).await?;
    Ok(axum::Json(LoginAnswer {
        token,
        role: user.role.as_str(),
        kind: "session",
        user_id: user.id,
    })
    .into_response())
}

/// `POST /auth/login`'s answer (CCAG's shape).
#[derive(Debug, Serialize)]
struct LoginAnswer {
    token: String,
    role: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    user_id: String,
}

/// `GET /auth/me`: who the credential names, by kind of credential.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Me<'a> {
    VirtualKey {
        name: Option<&'a str>,
        key_id: Option<&'a str>,
        user_id: Option<&'a str>,
        team_id: Option<&'a str>,
        role: &'static str,
    },
    Session {
        sub: Option<&'a str>,
        user_id: Option<&'a str>,
        team_id: Option<&'a str>,
        role: &'static str,
        idp: &'a str,
    },
    Oidc {
        sub: Option<&'a str>,
        user_id: Option<&'a str>,
        team_id: Option<&'a str>,
        role: &'static str,
        idp: &'a str,
    },
}

/// `/auth/me`'s answer: [`Me`], and the CSRF token when the portal's cookie authenticated the call.
#[derive(Debug, Serialize)]
struct MeAnswer<'a> {
    #[serde(flatten)]
    me: Me<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    csrf_token: Option<String>,
}

/// A provider in `/auth/providers`: CCAG's portal signs in with `login_url` (the implicit flow); Sluice's portal
/// navigates to `portal_url` (the code flow with PKCE, see `portal`), present when the provider has a token
/// endpoint.
#[derive(Debug, Serialize)]
struct ProviderView {
    id: String,
    name: String,
    flow_type: &'static str,
    login_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    portal_url: Option<String>,
}

/// `GET /auth/providers`.
#[derive(Debug, Serialize)]
struct Providers {
    providers: Vec<ProviderView>,
    admin_login_enabled: bool,
}

/// Checks the bootstrap admin's password (rate limited per source, locked after repeated failures) and issues a
/// session token for the admin person, created on first sign-in.
///
/// # Errors
/// 403 when password sign-in is disabled or the person is deactivated, 401 for a wrong username or password,
/// 429 while the source is limited.
pub(super) async fn password_session(
    state: &AppState,
    origin: Origin,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(User, String), ApiError> {
    let Origin { lambda, socket } = origin;
    if !login_enabled(state).await? {
        return Err(ApiError::new(
            ApiErrorKind::Permission,
            "Admin login is disabled. Use SSO to sign in.",
        ));
    }
    let body: LoginBody = parse_json(body)?;
    let username = body.username.trim().to_ascii_lowercase();
    let now = now_ms();
    let source = source(
        headers,
        lambda.as_ref().map(|Extension(c)| c),
        socket.map(|Extension(ConnectInfo(a))| a),
        state.config.trust_cloudfront_viewer_address,
    );
    let admission = state
        .limiter
        .admit(
            state.store.as_ref(),
            &format!("login-src:{source}"),
            LOGIN_ATTEMPTS_PER_SOURCE,
            now,
        )
        .await
        .map_err(|e| store_error(&e))?;
    if let Admission::Refused { retry_after_secs } = admission {
        // Debug formatting quotes and escapes what the client typed, so it cannot forge a log line.
        tracing::warn!(?username, %source, "login attempts rate limited");
        return Err(too_many(retry_after_secs));
    }
    let source_scope = format!("{FAILURES_SCOPE}-src:{source}");
    if recent_failures(state, FAILURES_SCOPE, now).await? >= LOGIN_FAILURES_BEFORE_LOCK
        && recent_failures(state, &source_scope, now).await? > 0
    {
        // The source's failures age out at the end of the next window.
        let pos = position(now, WINDOW_S);
        let retry = u64::try_from(pos.start_s + 2 * WINDOW_S - now / 1000).unwrap_or(1);
        tracing::warn!(?username, %source, "login refused: too many failures");
        return Err(too_many(retry.max(1)));
    }
    let ok = same_secret(&username, &state.config.admin_username)
        & same_secret(&body.password, &state.config.admin_password.0);
    if !ok {
        record_failure(state, &source_scope, now).await?;
        tracing::warn!(?username, %source, "failed admin login");
        return Err(ApiError::new(
            ApiErrorKind::Authentication,
            "Invalid username or password",
        ));
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
        ));
    }
    let token = state.auth.sessions.issue_at_ms(&user, now);
    tracing::info!(user_id = %user.id, "admin signed in with the password");
    Ok((user, token))
}

/// `GET /auth/me`: who the credential names; with the portal's cookie, the CSRF token its changes must carry.
pub(super) async fn me(
    State(state): State<Shared>,
    cookie: Option<Extension<CookieSession>>,
    headers: HeaderMap,
) -> Reply {
    let c = state
        .auth
        .authenticate(state.store.as_ref(), &headers)
        .await?;
    let me = match &c.via {
        Via::Key => Me::VirtualKey {
            name: c.key_name.as_deref(),
            key_id: c.key_id.as_deref(),
            user_id: c.user_id.as_deref(),
            team_id: c.team_id.as_deref(),
            role: "member",
        },
        Via::Session => Me::Session {
            sub: c.email.as_deref(),
            user_id: c.user_id.as_deref(),
            team_id: c.team_id.as_deref(),
            role: c.role.as_str(),
            idp: "local",
        },
        Via::Oidc(idp) => Me::Oidc {
            sub: c.email.as_deref(),
            user_id: c.user_id.as_deref(),
            team_id: c.team_id.as_deref(),
            role: c.role.as_str(),
            idp,
        },
        Via::Gateway => Me::Session {
            sub: c.email.as_deref(),
            user_id: c.user_id.as_deref(),
            team_id: c.team_id.as_deref(),
            role: c.role.as_str(),
            idp: "claude-code",
        },
    };
    let csrf_token = cookie.map(|Extension(session)| session.csrf_token);
    Ok(axum::Json(MeAnswer { me, csrf_token }).into_response())
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
        let portal_url = d
            .token_endpoint
            .as_ref()
            .map(|_| format!("/auth/portal/start?provider={}", urlencode(&idp.id)));
        list.push(ProviderView {
            id: idp.id,
            portal_url,
            name: idp.name,
            flow_type: "implicit",
            login_url: url,
        });
    }
    Ok(axum::Json(Providers {
        providers: list,
        admin_login_enabled: login_enabled(&state).await?,
    })
    .into_response())
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

    fn lambda_context(source_ip: &str) -> RequestContext {
        let mut c =
            lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
        c.http.source_ip = Some(source_ip.to_owned());
        RequestContext::ApiGatewayV2(c)
    }

    #[test]
    fn source_is_the_connection_and_never_x_forwarded_for() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "10.0.0.1".parse().expect("value"));
        headers.insert(
            "cloudfront-viewer-address",
            "10.0.0.2:443".parse().expect("value"),
        );
        let socket: SocketAddr = "192.0.2.1:5555".parse().expect("addr");
        assert_eq!(source(&headers, None, Some(socket), false), "192.0.2.1");
        let lambda = lambda_context("203.0.113.9");
        assert_eq!(source(&headers, Some(&lambda), None, false), "203.0.113.9");
        assert_eq!(source(&headers, None, None, false), "unknown");
        // CloudFront's header counts only when the hop is declared trusted.
        assert_eq!(source(&headers, Some(&lambda), None, true), "10.0.0.2");
        assert_eq!(
            source(&HeaderMap::new(), Some(&lambda), None, true),
            "203.0.113.9"
        );
    }

    #[test]
    fn ipv6_sources_count_per_64_and_mapped_ipv4_as_ipv4() {
        let a: SocketAddr = "[2001:db8:1:2:aaaa::1]:80".parse().expect("addr");
        let b: SocketAddr = "[2001:db8:1:2:bbbb::9]:80".parse().expect("addr");
        assert_eq!(
            source(&HeaderMap::new(), None, Some(a), false),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            source(&HeaderMap::new(), None, Some(a), false),
            source(&HeaderMap::new(), None, Some(b), false)
        );
        let mapped: SocketAddr = "[::ffff:192.0.2.5]:80".parse().expect("addr");
        assert_eq!(
            source(&HeaderMap::new(), None, Some(mapped), false),
            "192.0.2.5"
        );
        assert_eq!(
            parse_viewer_address("2001:db8::7:46532"),
            "2001:db8::7".parse().ok()
        );
        assert_eq!(
            parse_viewer_address("[2001:db8::7]:46532"),
            "2001:db8::7".parse().ok()
        );
        assert_eq!(
            parse_viewer_address("198.51.100.10:46532"),
            "198.51.100.10".parse().ok()
        );
        assert_eq!(parse_viewer_address("nonsense"), None);
    }

    #[test]
    fn urlencode_escapes_reserved_characters() {
        assert_eq!(
            urlencode("http://a b/c?d=e&f"),
            "http%3A%2F%2Fa%20b%2Fc%3Fd%3De%26f"
        );
    }
}
