//! Claude Code's own `/login` against Sluice ("Cloud gateway"): discovery (RFC 8414), the device grant (RFC 8628),
//! rotating refresh tokens, revocation (RFC 7009), and the verification page people confirm a sign-in on. The
//! protocol and its state live in `sluice_core::device_flow`; this module is its HTTP face.
//!
//! - `GET /.well-known/oauth-authorization-server`: the endpoints, on the address Claude Code was given
//!   (`SLUICE_GATEWAY_URL`, else the request's own host) — the client follows no redirect and no other origin.
//! - `POST /oauth/device` (form, empty body accepted): `device_code`, `user_code`, `verification_uri(_complete)`.
//! - `POST /oauth/token` (form): `grant_type=urn:ietf:params:oauth:grant-type:device_code&device_code=…` or
//!   `grant_type=refresh_token&refresh_token=…` → `{access_token, token_type, expires_in, refresh_token}`, or an
//!   OAuth error `{error, error_description}`; `Cache-Control: no-store` either way. A refresh for a person who is
//!   gone or deactivated is `401 invalid_grant`, which sends Claude Code back to `/login`.
//! - `POST /oauth/revoke` (form `token=…`): revokes the token's family; always 200.
//! - `GET /device?user_code=…`: the page a person signed in to the portal confirms (or refuses) the code on;
//!   `POST /device` with the form's CSRF field. Nothing is approved without that explicit confirmation.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sluice_core::device_flow::{
    self, DEVICE_GRANT, Granted, OAuthError, TokenFailure, normalize_user_code,
};
use sluice_core::store::DeviceState;

use crate::portal::CookieSession;
use crate::{Shared, base_url};
use sluice_http::auth::Via;

/// The verification page.
pub(crate) const DEVICE_PATH: &str = "/device";

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/.well-known/oauth-authorization-server", get(discovery))
        .route("/oauth/device", post(device_authorization))
        .route("/oauth/token", post(token))
        .route("/oauth/revoke", post(revoke))
        .route(DEVICE_PATH, get(page).post(confirm))
}

/// The address Claude Code signs in to: the configured gateway address, else this request's host.
fn gateway_base(state: &Shared, headers: &HeaderMap) -> String {
    state
        .config
        .gateway_url
        .clone()
        .unwrap_or_else(|| base_url(state, headers))
}

#[derive(Debug, Serialize)]
struct Discovery {
    issuer: String,
    device_authorization_endpoint: String,
    token_endpoint: String,
    revocation_endpoint: String,
    grant_types_supported: [&'static str; 2],
    token_endpoint_auth_methods_supported: [&'static str; 1],
    revocation_endpoint_auth_methods_supported: [&'static str; 1],
    scopes_supported: [&'static str; 0],
    response_types_supported: [&'static str; 0],
    gateway_protocol_version: u32,
}

async fn discovery(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let base = gateway_base(&state, &headers);
    axum::Json(Discovery {
        device_authorization_endpoint: format!("{base}/oauth/device"),
        token_endpoint: format!("{base}/oauth/token"),
        revocation_endpoint: format!("{base}/oauth/revoke"),
        issuer: base,
        grant_types_supported: [DEVICE_GRANT, "refresh_token"],
        token_endpoint_auth_methods_supported: ["none"],
        revocation_endpoint_auth_methods_supported: ["none"],
        scopes_supported: [],
        response_types_supported: [],
        gateway_protocol_version: 1,
    })
    .into_response()
}

/// An OAuth answer, never cached.
fn no_store(status: StatusCode, body: impl Serialize) -> Response {
    let mut resp = (status, axum::Json(body)).into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

fn oauth_error(e: &OAuthError) -> Response {
    no_store(
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        e,
    )
}

fn server_error(what: &str, e: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %e, "{what}");
    no_store(
        StatusCode::SERVICE_UNAVAILABLE,
        OAuthError {
            status: 503,
            error: "temporarily_unavailable",
            error_description: format!("{what}; retry"),
        },
    )
}

/// A form body (`application/x-www-form-urlencoded`), or the OAuth error for one that is not.
fn form<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    serde_urlencoded::from_bytes(body).map_err(|e| {
        Box::new(oauth_error(&OAuthError::invalid_request(format!(
            "the body must be a form: {e}"
        ))))
    })
}

/// Device authorizations one source may start per minute (each is a store write; Claude Code starts one per
/// `/login`).
const DEVICE_STARTS_PER_SOURCE: u64 = 20;

async fn device_authorization(
    State(state): State<Shared>,
    lambda: Option<axum::Extension<lambda_http::request::RequestContext>>,
    socket: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
) -> Response {
    let source = crate::login::source(
        &headers,
        lambda.as_ref().map(|axum::Extension(c)| c),
        socket.map(|axum::Extension(axum::extract::ConnectInfo(a))| a),
        state.config.trust_cloudfront_viewer_address,
    );
    let admitted = state
        .limiter
        .admit(
            state.store.as_ref(),
            &format!("device-src:{source}"),
            DEVICE_STARTS_PER_SOURCE,
            state.clock.now().timestamp_millis(),
        )
        .await;
    match admitted {
        Ok(sluice_http::ratelimit::Admission::Refused { retry_after_secs }) => {
            tracing::warn!(%source, "device sign-ins rate limited");
            let mut resp = no_store(
                StatusCode::TOO_MANY_REQUESTS,
                OAuthError {
                    status: 429,
                    error: "slow_down",
                    error_description: format!(
                        "too many sign-ins started from this address; retry in {retry_after_secs} s"
                    ),
                },
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return resp;
        }
        Ok(_) => {}
        Err(e) => return server_error("the sign-in could not be started", &e),
    }
    let verification_uri = format!("{}{DEVICE_PATH}", base_url(&state, &headers));
    match device_flow::start(
        state.store.as_ref(),
        state.ids.as_ref(),
        state.clock.as_ref(),
        &verification_uri,
    )
    .await
    {
        Ok(grant) => {
            tracing::info!(user_code = %grant.user_code, "device sign-in started");
            no_store(StatusCode::OK, grant)
        }
        Err(e) => server_error("the sign-in could not be started", &e),
    }
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    device_code: Option<String>,
    refresh_token: Option<String>,
}

#[derive(Debug, Serialize)]
struct Tokens {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: String,
}

async fn token(State(state): State<Shared>, body: Bytes) -> Response {
    let f: TokenForm = match form(&body) {
        Ok(f) => f,
        Err(resp) => return *resp,
    };
    let store = state.store.as_ref();
    let (ids, clock) = (state.ids.as_ref(), state.clock.as_ref());
    let granted = match f.grant_type.as_deref() {
        Some(DEVICE_GRANT) => match f.device_code.as_deref() {
            Some(code) => device_flow::poll(store, ids, clock, code).await,
            None => return oauth_error(&OAuthError::invalid_request("device_code is required")),
        },
        Some("refresh_token") => match f.refresh_token.as_deref() {
            Some(t) => device_flow::refresh(store, ids, clock, t).await,
            None => return oauth_error(&OAuthError::invalid_request("refresh_token is required")),
        },
        Some(other) => return oauth_error(&OAuthError::unsupported_grant_type(other)),
        None => return oauth_error(&OAuthError::invalid_request("grant_type is required")),
    };
    match granted {
        Ok(granted) => tokens(&state, granted).await,
        Err(TokenFailure::OAuth(e)) => oauth_error(&e),
        Err(TokenFailure::Store(e)) => server_error("the sign-in could not be read", &e),
    }
}

/// The access token for a grant, after checking the person may still use Sluice (a refresh is where a
/// deactivated or deleted person is turned away).
async fn tokens(state: &Shared, granted: Granted) -> Response {
    let store = state.store.as_ref();
    let user = match store.user_by_id(&granted.user_id).await {
        Ok(u) => u,
        Err(e) => return server_error("the person could not be read", &e),
    };
    let Some(user) = user.filter(|u| u.active) else {
        if let Err(e) = store
            .revoke_family(&granted.family_id, state.clock.now().timestamp_millis())
            .await
        {
            tracing::warn!(error = %e, "family of a deactivated person not revoked");
        }
        return oauth_error(&OAuthError::invalid_grant(
            "this person may no longer use Sluice; ask an administrator",
        ));
    };
    let ttl = state.config.gateway_token_ttl_s;
    let access_token = state.auth.sessions.issue_gateway(
        &user,
        &granted.family_id,
        state.clock.now().timestamp_millis(),
        ttl,
    );
    tracing::info!(user_id = %user.id, family_id = %granted.family_id, "gateway tokens issued");
    no_store(
        StatusCode::OK,
        Tokens {
            access_token,
            token_type: "Bearer",
            expires_in: ttl,
            refresh_token: granted.refresh_token,
        },
    )
}

#[derive(Debug, Deserialize)]
struct RevokeForm {
    token: Option<String>,
}

/// RFC 7009: the token's family is revoked; the answer is 200 whatever the token was (an unknown one included).
async fn revoke(State(state): State<Shared>, body: Bytes) -> Response {
    let f: RevokeForm = match form(&body) {
        Ok(f) => f,
        Err(resp) => return *resp,
    };
    let Some(token) = f.token.filter(|t| !t.is_empty()) else {
        return oauth_error(&OAuthError::invalid_request("token is required"));
    };
    let store = state.store.as_ref();
    let family = if token.split('.').count() == 3 {
        // An access token: its family, even when it has expired (signature still checked).
        state.auth.sessions.gateway_family(&token)
    } else {
        match device_flow::family_of_refresh(store, &token).await {
            Ok(f) => f,
            Err(e) => return server_error("the token could not be read", &e),
        }
    };
    if let Some(family) = family {
        match store
            .revoke_family(&family, state.clock.now().timestamp_millis())
            .await
        {
            Ok(_) => {
                state.auth.forget_family(&family);
                tracing::info!(family_id = %family, "gateway sign-in revoked");
            }
            Err(e) => return server_error("the sign-in could not be revoked", &e),
        }
    }
    no_store(StatusCode::OK, serde_json::json!({}))
}

// ------------------------------------------------------------------------------------------- the page

#[derive(Debug, Deserialize)]
struct PageQuery {
    user_code: Option<String>,
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Minimal HTML escaping for the few values a page shows.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

const PAGE_STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;\
color:#1b1f24;line-height:1.5}code.user-code{font-size:1.6rem;letter-spacing:.15em;font-weight:700}\
button{font-size:1rem;padding:.5rem 1rem;margin-right:.5rem}";

fn html_page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width,initial-scale=1\"><title>{title} · Sluice</title><style>{PAGE_STYLE}</style>\
         </head><body><main><h1>{title}</h1>{body}</main></body></html>",
        title = escape(title)
    );
    let mut resp = (status, Html(html)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// The person signed in to the portal (the cookie stands for a session), if any.
async fn signed_in(state: &Shared, headers: &HeaderMap) -> Option<sluice_http::auth::Caller> {
    let caller = state
        .auth
        .authenticate(state.store.as_ref(), headers)
        .await
        .ok()?;
    (caller.user_id.is_some() && caller.via != Via::Key).then_some(caller)
}

async fn page(
    State(state): State<Shared>,
    headers: HeaderMap,
    session: Option<axum::Extension<CookieSession>>,
    Query(q): Query<PageQuery>,
) -> Response {
    let code = q.user_code.as_deref().and_then(normalize_user_code);
    let Some(caller) = signed_in(&state, &headers).await else {
        // Single sign-on comes back here with the code; the password is on the portal's sign-in page.
        let providers = state
            .auth
            .idps(state.store.as_ref())
            .await
            .unwrap_or_default();
        let links: String = providers
            .iter()
            .filter(|p| p.enabled)
            .map(|p| {
                let mut href = format!("/auth/portal/start?provider={}", urlencoding(&p.id));
                if let Some(c) = &code {
                    href.push_str(&format!("&user_code={c}"));
                }
                format!(
                    "<li><a href=\"{}\">Sign in with {}</a></li>",
                    escape(&href),
                    escape(&p.name)
                )
            })
            .collect();
        return html_page(
            StatusCode::OK,
            "Sign in to connect Claude Code",
            &format!(
                "<p>Claude Code is asking to sign in to Sluice{}. Sign in first:</p><ul>{links}\
                 <li><a href=\"/\">Sign in to the portal</a> (password), then open this page again</li></ul>",
                code.as_deref()
                    .map(|c| format!(" with the code <code class=\"user-code\">{c}</code>"))
                    .unwrap_or_default()
            ),
        );
    };
    let email = escape(caller.email.as_deref().unwrap_or("you"));
    let csrf = session.map(|s| s.0.csrf_token).unwrap_or_default();
    let prefilled = code.clone().unwrap_or_default();
    html_page(
        StatusCode::OK,
        "Connect Claude Code",
        &format!(
            "<p>Signed in as <strong>{email}</strong>. Check that the code below is the one Claude Code shows, then \
             connect. Only confirm a code you started yourself: whoever holds the terminal that shows it can then use \
             Sluice as you.</p>\
             <form method=\"post\" action=\"{DEVICE_PATH}\">\
             <p><label for=\"user_code\">Code</label><br>\
             <input id=\"user_code\" name=\"user_code\" value=\"{prefilled}\" autocomplete=\"off\" required \
             pattern=\"[A-Za-z]{{4}}-?[A-Za-z]{{4}}\"></p>\
             <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
             <button type=\"submit\" name=\"decision\" value=\"approve\">Connect Claude Code</button>\
             <button type=\"submit\" name=\"decision\" value=\"deny\">This is not my code</button>\
             </form>",
            csrf = escape(&csrf)
        ),
    )
}

#[derive(Debug, Deserialize)]
struct ConfirmForm {
    user_code: Option<String>,
    csrf_token: Option<String>,
    decision: Option<String>,
}

async fn confirm(
    State(state): State<Shared>,
    headers: HeaderMap,
    session: Option<axum::Extension<CookieSession>>,
    body: Bytes,
) -> Response {
    let Ok(f) = serde_urlencoded::from_bytes::<ConfirmForm>(&body) else {
        return html_page(
            StatusCode::BAD_REQUEST,
            "Not a sign-in form",
            "<p>Open the link Claude Code showed again.</p>",
        );
    };
    // A cookie session must present the form's CSRF token (a forged cross-site form cannot read it; the cookie is
    // SameSite=Strict besides). An explicit bearer credential is not ambient, so it needs none.
    if let Some(axum::Extension(s)) = &session
        && f.csrf_token.as_deref() != Some(s.csrf_token.as_str())
    {
        return html_page(
            StatusCode::FORBIDDEN,
            "Sign-in not confirmed",
            "<p>This form is stale or did not come from Sluice. Open the link Claude Code showed again.</p>",
        );
    }
    let Some(caller) = signed_in(&state, &headers).await else {
        return html_page(
            StatusCode::UNAUTHORIZED,
            "Sign in first",
            "<p>Your portal session ended. <a href=\"/\">Sign in</a>, then open the link Claude Code showed again.</p>",
        );
    };
    let Some(code) = f.user_code.as_deref().and_then(normalize_user_code) else {
        return html_page(
            StatusCode::BAD_REQUEST,
            "Unknown code",
            "<p>That is not a code Claude Code shows (eight letters, like <code>BCDF-GHJK</code>).</p>",
        );
    };
    let approve = match f.decision.as_deref() {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            return html_page(
                StatusCode::BAD_REQUEST,
                "Choose",
                "<p>Connect, or say it is not your code.</p>",
            );
        }
    };
    let store = state.store.as_ref();
    let now_ms = state.clock.now().timestamp_millis();
    let device = match store.device_by_user_code(&code).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "device authorization unreadable");
            return html_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "<p>Sluice could not be reached; try again.</p>",
            );
        }
    };
    let Some(device) =
        device.filter(|d| d.state == DeviceState::Pending && now_ms < d.expires_at_ms)
    else {
        return html_page(
            StatusCode::GONE,
            "Code expired or used",
            "<p>This code is unknown, already used or expired (codes last 10 minutes). Run <code>/login</code> in Claude \
             Code again.</p>",
        );
    };
    let user_id = caller.user_id.clone().unwrap_or_default();
    let decided = store
        .decide_device(&device.id, approve.then_some(user_id.as_str()))
        .await;
    match decided {
        Ok(true) if approve => {
            tracing::info!(user_id = %user_id, user_code = %code, "device sign-in approved");
            html_page(
                StatusCode::OK,
                "Claude Code is connected",
                "<p>You can close this page and go back to Claude Code.</p>",
            )
        }
        Ok(true) => {
            tracing::info!(user_id = %user_id, user_code = %code, "device sign-in refused");
            html_page(
                StatusCode::OK,
                "Sign-in refused",
                "<p>Claude Code was not connected. If you did not start this sign-in, someone may be trying to get you \
                 to approve theirs.</p>",
            )
        }
        Ok(false) => html_page(
            StatusCode::GONE,
            "Code expired or used",
            "<p>This code was confirmed or refused already. Run <code>/login</code> in Claude Code again.</p>",
        ),
        Err(e) => {
            tracing::error!(error = %e, "device authorization not decided");
            html_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "<p>Sluice could not be reached; try again.</p>",
            )
        }
    }
}
