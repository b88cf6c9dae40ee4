//! Claude Code's own `/login` against Sluice, through the real routers: discovery, the device grant with its
//! pending / slow_down / confirmation steps, the verification page (CSRF, explicit confirmation, refusal), the tokens
//! as a credential on the inference API, rotating refresh with replay revoking the family, revocation, a
//! deactivated person's refresh refused, and the managed settings with their ETag.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sluice_core::clock::FixedClock;
use sluice_core::identity::Role;
use support::{Env, now_s};
use tower::ServiceExt;

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|_| panic!("not JSON ({}): {}", self.status, self.text))
    }
}

async fn send(env: &Env, req: Request<Body>) -> Answer {
    let resp = env.router.clone().oneshot(req).await.expect("infallible");
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn form(path: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .expect("request")
}

async fn token(env: &Env, body: &str) -> Answer {
    send(env, form("/oauth/token", body)).await
}

fn poll_body(device_code: &str) -> String {
    format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code={device_code}"
    )
}

/// The CSRF field of the confirmation form on a page.
fn csrf_of(page: &str) -> String {
    let at = page
        .find("name=\"csrf_token\" value=\"")
        .expect("a CSRF field")
        + 25;
    page[at..].split('"').next().expect("value").to_owned()
}

async fn message_with(env: &Env, bearer: &str) -> Answer {
    let req = Request::post("/v1/messages")
        .header("authorization", format!("Bearer {bearer}"))
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"model": "claude-opus-4-8", "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]})
                .to_string(),
        ))
        .expect("request");
    send(env, req).await
}

#[tokio::test]
async fn a_device_sign_in_goes_from_code_to_tokens_that_refresh_rotate_and_revoke() {
    let clock = Arc::new(FixedClock::at(chrono::Utc::now()));
    let env = Env::start_with_clock(clock.clone()).await;
    let ada = env.user("ada@example.com", Role::Member).await;
    let session = env.app.auth.sessions.issue(&ada, now_s());

    // Discovery: the endpoints, all on the origin asked.
    let d = send(
        &env,
        Request::get("/.well-known/oauth-authorization-server")
            .header("host", "127.0.0.1:9")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    let d = d.json();
    assert_eq!(d["token_endpoint"], "http://127.0.0.1:9/oauth/token");
    assert_eq!(
        d["device_authorization_endpoint"],
        "http://127.0.0.1:9/oauth/device"
    );
    assert_eq!(d["revocation_endpoint"], "http://127.0.0.1:9/oauth/revoke");
    assert_eq!(d["token_endpoint_auth_methods_supported"], json!(["none"]));

    // The device authorization: an empty form body, as Claude Code sends.
    let grant = send(&env, form("/oauth/device", "")).await;
    assert_eq!(grant.status, StatusCode::OK, "{}", grant.text);
    assert_eq!(grant.headers[header::CACHE_CONTROL], "no-store");
    let grant = grant.json();
    let device_code = grant["device_code"]
        .as_str()
        .expect("device_code")
        .to_owned();
    let user_code = grant["user_code"].as_str().expect("user_code").to_owned();
    assert!(device_code.len() >= 40, "{device_code}");
    assert_eq!(user_code.len(), 9);
    assert_eq!(
        (grant["interval"].clone(), grant["expires_in"].clone()),
        (json!(5), json!(600))
    );
    assert!(
        grant["verification_uri_complete"]
            .as_str()
            .expect("uri")
            .ends_with(&format!("/device?user_code={user_code}"))
    );

    // Polling before confirmation; then too fast.
    let pending = token(&env, &poll_body(&device_code)).await;
    assert_eq!(
        (pending.status, pending.json()["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("authorization_pending"))
    );
    let fast = token(&env, &poll_body(&device_code)).await;
    assert_eq!(fast.json()["error"], "slow_down");

    // The page: without a sign-in it asks for one and shows no confirmation form.
    let anonymous = send(
        &env,
        Request::get(format!("/device?user_code={user_code}"))
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::OK);
    assert!(
        anonymous.text.contains("Sign in") && !anonymous.text.contains("csrf_token"),
        "{}",
        anonymous.text
    );
    // Signed in to the portal (the cookie): the code and a form with a CSRF field; nothing approved by looking.
    let cookie = format!("sluice_session={session}");
    let page = send(
        &env,
        Request::get(format!("/device?user_code={}", user_code.to_lowercase()))
            .header("cookie", &cookie)
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains(&user_code) && page.text.contains("ada@example.com"),
        "{}",
        page.text
    );
    assert!(
        page.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("csp")
            .contains("frame-ancestors 'none'")
    );
    clock.advance(Duration::from_secs(5));
    assert_eq!(
        token(&env, &poll_body(&device_code)).await.json()["error"],
        "authorization_pending"
    );
    // A forged form (no or another CSRF token) is refused.
    let forged = send(
        &env,
        Request::post("/device")
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "user_code={user_code}&decision=approve&csrf_token=nope"
            )))
            .expect("req"),
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text);
    let csrf = csrf_of(&page.text);
    let confirmed = send(
        &env,
        Request::post("/device")
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "user_code={user_code}&decision=approve&csrf_token={csrf}"
            )))
            .expect("req"),
    )
    .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text);
    assert!(confirmed.text.contains("connected"));
    // The same code cannot be confirmed twice.
    let again = send(
        &env,
        Request::post("/device")
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "user_code={user_code}&decision=approve&csrf_token={csrf}"
            )))
            .expect("req"),
    )
    .await;
    assert_eq!(again.status, StatusCode::GONE);

    // The next poll gets the tokens, once.
    clock.advance(Duration::from_secs(5));
    let tokens = token(&env, &poll_body(&device_code)).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    assert_eq!(tokens.headers[header::CACHE_CONTROL], "no-store");
    let tokens = tokens.json();
    assert_eq!(tokens["token_type"], "Bearer");
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    clock.advance(Duration::from_secs(5));
    let reused = token(&env, &poll_body(&device_code)).await;
    assert_eq!(
        (reused.status, reused.json()["error"].clone()),
        (StatusCode::UNAUTHORIZED, json!("invalid_grant"))
    );

    // The access token is a credential on the inference API, as Ada.
    let answer = message_with(&env, &access).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let me = send(
        &env,
        Request::get("/auth/me")
            .header("authorization", format!("Bearer {access}"))
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(me.json()["user_id"], ada.id.as_str());

    // Refresh rotates: the new pair works, the old refresh token is spent.
    let rotated = token(
        &env,
        &format!("grant_type=refresh_token&refresh_token={refresh}"),
    )
    .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    let rotated = rotated.json();
    let access2 = rotated["access_token"].as_str().expect("access").to_owned();
    let refresh2 = rotated["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    assert_ne!(refresh2, refresh);
    assert_eq!(message_with(&env, &access2).await.status, StatusCode::OK);
    // A replay of the spent one revokes the whole family: the thief's and the owner's tokens alike.
    let replay = token(
        &env,
        &format!("grant_type=refresh_token&refresh_token={refresh}"),
    )
    .await;
    assert_eq!(
        (replay.status, replay.json()["error"].clone()),
        (StatusCode::UNAUTHORIZED, json!("invalid_grant"))
    );
    assert!(
        replay.json()["error_description"]
            .as_str()
            .expect("d")
            .contains("already used")
    );
    let after = token(
        &env,
        &format!("grant_type=refresh_token&refresh_token={refresh2}"),
    )
    .await;
    assert_eq!(after.json()["error"], "invalid_grant");
    let refused = message_with(&env, &access2).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.text);
}

/// Signs `who` in with the device grant and answers (access, refresh).
async fn sign_in(
    env: &Env,
    clock: &FixedClock,
    who: &sluice_core::identity::User,
) -> (String, String) {
    let grant = send(env, form("/oauth/device", "client_id=claude-code"))
        .await
        .json();
    let device_code = grant["device_code"].as_str().expect("code").to_owned();
    let user_code = grant["user_code"].as_str().expect("code").to_owned();
    // An explicit bearer session (no cookie) needs no CSRF field.
    let session = env.app.auth.sessions.issue(who, now_s());
    let confirmed = send(
        env,
        Request::post("/device")
            .header("authorization", format!("Bearer {session}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "user_code={user_code}&decision=approve"
            )))
            .expect("req"),
    )
    .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text);
    clock.advance(Duration::from_secs(6));
    let tokens = token(env, &poll_body(&device_code)).await.json();
    (
        tokens["access_token"].as_str().expect("access").to_owned(),
        tokens["refresh_token"]
            .as_str()
            .expect("refresh")
            .to_owned(),
    )
}

#[tokio::test]
async fn revocation_and_deactivation_end_a_sign_in_and_a_refusal_is_final() {
    let clock = Arc::new(FixedClock::at(chrono::Utc::now()));
    let env = Env::start_with_clock(clock.clone()).await;
    let bo = env.user("bo@example.com", Role::Member).await;

    // RFC 7009 with the refresh token (Claude Code's /logout): the access token stops working too.
    let (access, refresh) = sign_in(&env, &clock, &bo).await;
    assert_eq!(message_with(&env, &access).await.status, StatusCode::OK);
    let revoked = send(
        &env,
        form(
            "/oauth/revoke",
            &format!("token={refresh}&token_type_hint=refresh_token"),
        ),
    )
    .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert_eq!(
        message_with(&env, &access).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        token(
            &env,
            &format!("grant_type=refresh_token&refresh_token={refresh}")
        )
        .await
        .json()["error"],
        "invalid_grant"
    );
    // With the access token instead (what Claude Code sends for it): its family ends too.
    let (access, refresh) = sign_in(&env, &clock, &bo).await;
    let revoked = send(
        &env,
        form(
            "/oauth/revoke",
            &format!("token={access}&token_type_hint=access_token"),
        ),
    )
    .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(
        message_with(&env, &access).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        token(
            &env,
            &format!("grant_type=refresh_token&refresh_token={refresh}")
        )
        .await
        .json()["error"],
        "invalid_grant"
    );
    // Revoking an unknown token is still 200.
    assert_eq!(
        send(&env, form("/oauth/revoke", "token=srt_nothing"))
            .await
            .status,
        StatusCode::OK
    );

    // A person deactivated after signing in: the next refresh is 401 invalid_grant.
    let (_, refresh) = sign_in(&env, &clock, &bo).await;
    let mut gone = bo.clone();
    gone.active = false;
    env.app.store.update_user(&gone).await.expect("deactivate");
    env.app.auth.forget_user(&bo.id);
    let r = token(
        &env,
        &format!("grant_type=refresh_token&refresh_token={refresh}"),
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (StatusCode::UNAUTHORIZED, json!("invalid_grant"))
    );

    // A refused code: the client is told access_denied and stops.
    let grant = send(&env, form("/oauth/device", "")).await.json();
    let cy = env.user("cy@example.com", Role::Member).await;
    let session = env.app.auth.sessions.issue(&cy, now_s());
    let denied = send(
        &env,
        Request::post("/device")
            .header("authorization", format!("Bearer {session}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "user_code={}&decision=deny",
                grant["user_code"].as_str().expect("code")
            )))
            .expect("req"),
    )
    .await;
    assert_eq!(denied.status, StatusCode::OK);
    clock.advance(Duration::from_secs(6));
    let r = token(
        &env,
        &poll_body(grant["device_code"].as_str().expect("code")),
    )
    .await;
    assert_eq!(r.json()["error"], "access_denied");
    // An expired code: expired_token.
    let grant = send(&env, form("/oauth/device", "")).await.json();
    clock.advance(Duration::from_secs(601));
    let r = token(
        &env,
        &poll_body(grant["device_code"].as_str().expect("code")),
    )
    .await;
    assert_eq!(r.json()["error"], "expired_token");
    // Bad requests.
    assert_eq!(
        token(&env, "grant_type=password").await.json()["error"],
        "unsupported_grant_type"
    );
    assert_eq!(token(&env, "").await.json()["error"], "invalid_request");
}

#[tokio::test]
async fn managed_settings_compose_the_base_and_the_policy_with_an_etag() {
    let clock = Arc::new(FixedClock::at(chrono::Utc::now()));
    let env = Env::start_with_clock(clock.clone()).await;
    let admin = env.user("root@example.com", Role::Admin).await;
    let admin_session = env.app.auth.sessions.issue(&admin, now_s());
    let mut dev = env.user("dev@example.com", Role::Member).await;
    dev.groups.idp = vec!["contractors".into()];
    env.app.store.update_user(&dev).await.expect("groups");
    let (access, _) = sign_in(&env, &clock, &dev).await;
    let get = |etag: Option<String>| {
        let mut req =
            Request::get("/managed/settings").header("authorization", format!("Bearer {access}"));
        if let Some(e) = etag {
            req = req.header("if-none-match", e);
        }
        req.body(Body::empty()).expect("req")
    };

    // Nothing applies yet: 404.
    assert_eq!(send(&env, get(None)).await.status, StatusCode::NOT_FOUND);

    let admin_call = |method: Method, path: &str, body: Value| {
        Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {admin_session}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("req")
    };
    let put = send(
        &env,
        admin_call(
            Method::PUT,
            "/admin/policies",
            json!({"version": 0, "policies": [
        {"name": "contractors", "match": {"idp_groups": ["contractors"]},
         "rules": {"models": {"allow": ["haiku"]}, "tools": {"deny": ["Bash"]}}}]}),
        ),
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    let base = send(
        &env,
        admin_call(
            Method::PUT,
            "/admin/managed-settings",
            json!({"settings": {
        "permissions": {"deny": ["Read(./.env)"]}, "env": {"DISABLE_AUTOUPDATER": "1"}}}),
        ),
    )
    .await;
    assert_eq!(base.status, StatusCode::OK, "{}", base.text);
    let machine_only = send(
        &env,
        admin_call(
            Method::PUT,
            "/admin/managed-settings",
            json!({"settings": {"forceLoginMethod": "gateway"}}),
        ),
    )
    .await;
    assert_eq!(machine_only.status, StatusCode::BAD_REQUEST);

    // The cache holds the inputs for a few seconds on a warm instance; the base was replaced on this one.
    let mut found = None;
    for _ in 0..60 {
        let a = send(&env, get(None)).await;
        if a.status == StatusCode::OK && a.json()["settings"].get("availableModels").is_some() {
            found = Some(a);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let a = found.expect("the policy reached the managed settings");
    let etag = a.headers[header::ETAG].to_str().expect("etag").to_owned();
    let envelope = a.json();
    assert!(
        envelope["checksum"]
            .as_str()
            .expect("checksum")
            .starts_with("sha256:")
    );
    assert_eq!(
        etag,
        format!("\"{}\"", envelope["checksum"].as_str().expect("c"))
    );
    let s = &envelope["settings"];
    assert_eq!(s["availableModels"], json!(["claude-haiku-4-5"]));
    assert_eq!(s["permissions"]["deny"], json!(["Read(./.env)", "Bash"]));
    assert_eq!(s["env"]["DISABLE_AUTOUPDATER"], "1");
    assert!(
        s["env"]
            .get("CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY")
            .is_none(),
        "no environment Claude Code would ask approval for unless the administrator wrote it"
    );
    // Unchanged: 304.
    let again = send(&env, get(Some(etag))).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    // Someone the policy does not match gets the base alone.
    let other = env.user("other@example.com", Role::Member).await;
    let (other_access, _) = sign_in(&env, &clock, &other).await;
    let o = send(
        &env,
        Request::get("/managed/settings")
            .header("authorization", format!("Bearer {other_access}"))
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(o.status, StatusCode::OK);
    assert!(o.json()["settings"].get("availableModels").is_none());
    assert_eq!(
        o.json()["settings"]["permissions"]["deny"],
        json!(["Read(./.env)"])
    );
    // Without a credential: 401.
    let none = send(
        &env,
        Request::get("/managed/settings")
            .body(Body::empty())
            .expect("req"),
    )
    .await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn one_source_cannot_start_device_sign_ins_without_end() {
    let env = Env::start().await;
    let mut statuses = Vec::new();
    for _ in 0..21 {
        statuses.push(send(&env, form("/oauth/device", "")).await);
    }
    assert!(statuses[..20].iter().all(|a| a.status == StatusCode::OK));
    let last = &statuses[20];
    assert_eq!(last.status, StatusCode::TOO_MANY_REQUESTS, "{}", last.text);
    assert_eq!(last.json()["error"], "slow_down");
    assert!(last.headers.contains_key(header::RETRY_AFTER));
}
