//! The portal's cookie session through the merged routers: signing in sets an HttpOnly cookie and never shows the
//! token, the cookie works on the admin API but not on the inference path, and every cookie-authenticated change
//! needs the CSRF token that goes with it.

mod support;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde_json::{Value, json};
use support::{ADMIN_PASSWORD, Env, error_type};

/// Signs in through `/auth/session`; the `Set-Cookie` pair (`name=value`) and the answer.
async fn sign_in(env: &Env, host: &str) -> (String, Value, HeaderMap) {
    let req = Request::post("/auth/session")
        .header("host", host)
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"username": "admin", "password": ADMIN_PASSWORD}).to_string(),
        ))
        .expect("req");
    let (status, headers, body) = env.send(req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let set_cookie = headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a session cookie")
        .to_owned();
    let pair = set_cookie.split(';').next().expect("pair").to_owned();
    (pair, serde_json::from_str(&body).expect("json"), headers)
}

async fn with_cookie(
    env: &Env,
    method: Method,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<&Value>,
) -> (StatusCode, HeaderMap, String) {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:8080")
        .header("cookie", cookie)
        .header("content-type", "application/json");
    if let Some(token) = csrf {
        builder = builder.header("x-csrf-token", token);
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    env.send(builder.body(body).expect("req")).await
}

#[tokio::test]
async fn signing_in_sets_an_http_only_cookie_and_answers_without_the_token() {
    let env = Env::start().await;
    let (_, answer, headers) = sign_in(&env, "127.0.0.1:8080").await;
    let set_cookie = headers["set-cookie"].to_str().expect("ascii");
    assert!(set_cookie.starts_with("sluice_session="), "{set_cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert_eq!(answer["user"]["role"], "admin");
    assert_eq!(answer["user"]["email"], "admin");
    assert!(answer.get("token").is_none(), "{answer}");
    let token = set_cookie
        .split(';')
        .next()
        .and_then(|p| p.split_once('='))
        .map(|(_, v)| v)
        .expect("value");
    assert!(
        !answer.to_string().contains(token),
        "the answer repeats the token"
    );
    assert_eq!(headers["cache-control"], "no-store");

    // Reached over HTTPS (a public URL), the cookie is `__Host-` prefixed and Secure.
    let (pair, _, headers) = sign_in(&env, "sluice.example.com").await;
    let set_cookie = headers["set-cookie"].to_str().expect("ascii");
    assert!(pair.starts_with("__Host-sluice_session="), "{set_cookie}");
    assert!(set_cookie.contains("Secure"), "{set_cookie}");
}

#[tokio::test]
async fn a_wrong_password_sets_no_cookie() {
    let env = Env::start().await;
    let req = Request::post("/auth/session")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"username": "admin", "password": "wrong"}).to_string(),
        ))
        .expect("req");
    let (status, headers, body) = env.send(req).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(error_type(&body), "authentication_error");
    assert!(headers.get("set-cookie").is_none());
}

#[tokio::test]
async fn the_cookie_reads_the_admin_api_and_me_hands_back_the_csrf_token() {
    let env = Env::start().await;
    let (cookie, answer, _) = sign_in(&env, "127.0.0.1:8080").await;
    let csrf = answer["csrf_token"].as_str().expect("csrf").to_owned();
    let (status, _, body) = with_cookie(&env, Method::GET, "/auth/me", &cookie, None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let me: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(me["role"], "admin");
    assert_eq!(me["csrf_token"], csrf.as_str());
    let (status, _, body) =
        with_cookie(&env, Method::GET, "/admin/users", &cookie, None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A bearer caller's /auth/me carries no CSRF token: there is no cookie to defend.
    let token = env.admin_session().await;
    let (_, me) = env.get("/auth/me", Some(&token)).await;
    assert!(!me.contains("csrf_token"), "{me}");
}

#[tokio::test]
async fn a_cookie_authenticated_change_needs_the_matching_csrf_token() {
    let env = Env::start().await;
    let (cookie, answer, _) = sign_in(&env, "127.0.0.1:8080").await;
    let csrf = answer["csrf_token"].as_str().expect("csrf").to_owned();
    let team = json!({"name": "platform"});
    for wrong in [None, Some("not-the-token")] {
        let (status, _, body) = with_cookie(
            &env,
            Method::POST,
            "/admin/teams",
            &cookie,
            wrong,
            Some(&team),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{wrong:?}: {body}");
        assert!(body.contains("X-CSRF-Token"), "{body}");
    }
    // Another session's token does not fit this cookie.
    let (_, other, _) = sign_in(&env, "127.0.0.1:8080").await;
    let other_csrf = other["csrf_token"].as_str().expect("csrf");
    if other_csrf != csrf {
        let (status, _, _) = with_cookie(
            &env,
            Method::POST,
            "/admin/teams",
            &cookie,
            Some(other_csrf),
            Some(&team),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    assert!(env.app.store.list_teams().await.expect("teams").is_empty());
    let (status, _, body) = with_cookie(
        &env,
        Method::POST,
        "/admin/teams",
        &cookie,
        Some(&csrf),
        Some(&team),
    )
    .await;
    assert!(status.is_success(), "{status}: {body}");
    assert_eq!(env.app.store.list_teams().await.expect("teams").len(), 1);
}

#[tokio::test]
async fn the_cookie_is_no_credential_on_the_inference_path() {
    let env = Env::start().await;
    let (cookie, _, _) = sign_in(&env, "127.0.0.1:8080").await;
    let (status, _, body) = with_cookie(&env, Method::GET, "/v1/models", &cookie, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let message = json!({"model": "claude-opus-4-8", "max_tokens": 8,
        "messages": [{"role": "user", "content": "hi"}]});
    let (status, _, body) = with_cookie(
        &env,
        Method::POST,
        "/v1/messages",
        &cookie,
        None,
        Some(&message),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn signing_out_clears_the_cookie_and_needs_the_csrf_token() {
    let env = Env::start().await;
    let (cookie, answer, _) = sign_in(&env, "127.0.0.1:8080").await;
    let csrf = answer["csrf_token"].as_str().expect("csrf");
    // Sign-out ends the sessions issued before its millisecond: this one was, even on a fast machine.
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let (status, _, _) = with_cookie(&env, Method::POST, "/auth/logout", &cookie, None, None).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "another site cannot sign a person out"
    );
    let (status, headers, _) = with_cookie(
        &env,
        Method::POST,
        "/auth/logout",
        &cookie,
        Some(csrf),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let cleared: Vec<&str> = headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("sluice_session=;") && c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    let (status, _, _) = with_cookie(&env, Method::GET, "/auth/me", &cookie, None, None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the session itself has ended"
    );
    // Signing in again at once (in the same second as the sign-out) gives a session that works.
    let (again, _, _) = sign_in(&env, "127.0.0.1:8080").await;
    let (status, _, body) = with_cookie(&env, Method::GET, "/auth/me", &again, None, None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a sign-in right after a sign-out: {body}"
    );
}

#[tokio::test]
async fn an_explicit_credential_wins_over_the_cookie() {
    let env = Env::start().await;
    let (cookie, _, _) = sign_in(&env, "127.0.0.1:8080").await;
    // A virtual key with the admin's cookie beside it is still a virtual key: no admin API.
    let (secret, _) = env.key("k", None).await;
    let req = Request::get("/admin/users")
        .header("cookie", &cookie)
        .header("x-api-key", &secret)
        .body(Body::empty())
        .expect("req");
    let (status, _, body) = env.send(req).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

/// A GET through the routers as a browser at `http://127.0.0.1:8080` sends it; status, headers and body.
async fn browser_get(
    env: &Env,
    path_and_query: &str,
    cookie: Option<&str>,
) -> (StatusCode, HeaderMap, String) {
    let mut builder = Request::get(path_and_query).header("host", "127.0.0.1:8080");
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    env.send(builder.body(Body::empty()).expect("req")).await
}

fn location(headers: &HeaderMap) -> String {
    headers["location"].to_str().expect("ascii").to_owned()
}

/// The `name=value` pairs of every `Set-Cookie` that sets (not clears) a cookie.
fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|c| !c.contains("Max-Age=0"))
        .filter_map(|c| c.split(';').next().map(str::to_owned))
        .collect()
}

/// Starts a single sign-on as `email`: the sign-in cookie and the provider's redirect back to Sluice (path and
/// query).
async fn sso_until_callback(env: &Env, email: &str) -> (String, String) {
    let (status, body) = env.get("/auth/providers", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let providers: Value = serde_json::from_str(&body).expect("json");
    let portal_url = providers["providers"][0]["portal_url"]
        .as_str()
        .expect("a provider with a token endpoint has a portal_url")
        .to_owned();
    let (status, headers, _) =
        browser_get(env, &format!("{portal_url}&login_hint={email}"), None).await;
    assert_eq!(status, StatusCode::FOUND);
    let to_idp = location(&headers);
    assert!(to_idp.starts_with(env.idp.issuer()), "{to_idp}");
    for part in [
        "response_type=code",
        "code_challenge_method=S256",
        "nonce=",
        "state=",
    ] {
        assert!(to_idp.contains(part), "{to_idp} lacks {part}");
    }
    let cookies = set_cookies(&headers);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert!(cookies[0].starts_with("sluice_signin="), "{cookies:?}");
    let signin_set = headers["set-cookie"].to_str().expect("ascii");
    assert!(
        signin_set.contains("HttpOnly") && signin_set.contains("SameSite=Lax"),
        "{signin_set}"
    );
    let back = support::follow_idp(&to_idp).await;
    let path = back
        .strip_prefix("http://127.0.0.1:8080")
        .unwrap_or_else(|| panic!("the provider sends the browser back to Sluice: {back}"))
        .to_owned();
    assert!(path.starts_with("/auth/portal/callback?code="), "{path}");
    (cookies[0].clone(), path)
}

#[tokio::test]
async fn single_sign_on_uses_the_code_flow_and_ends_in_a_session_cookie() {
    let env = Env::start().await;
    let (signin_cookie, callback) = sso_until_callback(&env, "alice@example.com").await;
    let (status, headers, _) = browser_get(&env, &callback, Some(&signin_cookie)).await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(location(&headers), "/#/me");
    let cookies = set_cookies(&headers);
    let session = cookies
        .iter()
        .find(|c| c.starts_with("sluice_session="))
        .unwrap_or_else(|| panic!("a session cookie: {cookies:?}"));
    let cleared: Vec<_> = headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|c| c.starts_with("sluice_signin=;"))
        .collect();
    assert!(!cleared.is_empty(), "the sign-in cookie is cleared");

    let (status, _, body) = with_cookie(&env, Method::GET, "/auth/me", session, None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let me: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(me["sub"], "alice@example.com");
    assert_eq!(me["type"], "session");
    assert!(me["csrf_token"].is_string());

    // The code was redeemed once: the same callback again signs nobody in.
    let (status, headers, _) = browser_get(&env, &callback, Some(&signin_cookie)).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(
        location(&headers).starts_with("/#/signin?error="),
        "{}",
        location(&headers)
    );
    assert!(set_cookies(&headers).is_empty());
}

#[tokio::test]
async fn a_callback_without_this_browsers_sign_in_cookie_signs_nobody_in() {
    let env = Env::start().await;
    // Another browser's callback (a forged or stolen redirect) has no sign-in cookie, or another flow's.
    let (_, callback) = sso_until_callback(&env, "mallory@example.com").await;
    let (status, headers, _) = browser_get(&env, &callback, None).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(
        location(&headers).starts_with("/#/signin?error="),
        "{}",
        location(&headers)
    );
    assert!(set_cookies(&headers).is_empty());

    let (other_flow, _) = sso_until_callback(&env, "bob@example.com").await;
    let (status, headers, _) = browser_get(&env, &callback, Some(&other_flow)).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(
        location(&headers).starts_with("/#/signin?error="),
        "{}",
        location(&headers)
    );
    assert!(set_cookies(&headers).is_empty(), "state of another flow");
    assert!(
        env.app
            .store
            .user_by_email("mallory@example.com")
            .await
            .expect("store")
            .is_none(),
        "nobody was provisioned"
    );
}

#[tokio::test]
async fn an_unknown_provider_goes_back_to_the_sign_in_page() {
    let env = Env::start().await;
    let (status, headers, _) = browser_get(&env, "/auth/portal/start?provider=nope", None).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(
        location(&headers).starts_with("/#/signin?error="),
        "{}",
        location(&headers)
    );
    assert!(set_cookies(&headers).is_empty());
}

#[tokio::test]
async fn behind_cloudfront_only_requests_with_the_origin_secret_are_answered() {
    let env = Env::start_with(|auth| {
        auth.origin_secret = Some(sluice_http::app::Secret("origin-secret-value".into()));
    })
    .await;
    let token = {
        let req = Request::post("/auth/login")
            .header("x-sluice-origin-verify", "origin-secret-value")
            .header("content-type", "application/json")
            .body(Body::from(
                json!({"username": "admin", "password": ADMIN_PASSWORD}).to_string(),
            ))
            .expect("req");
        let (status, _, body) = env.send(req).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_str::<Value>(&body).expect("json")["token"]
            .as_str()
            .expect("token")
            .to_owned()
    };
    for verify in [None, Some("wrong")] {
        let mut builder =
            Request::get("/admin/users").header("authorization", format!("Bearer {token}"));
        if let Some(v) = verify {
            builder = builder.header("x-sluice-origin-verify", v);
        }
        let (status, _, body) = env.send(builder.body(Body::empty()).expect("req")).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{verify:?}: {body}");
        assert!(body.contains("PortalUrl"), "{body}");
    }
    // The setup script names the portal's host that CloudFront forwarded, not the Function URL's.
    let req = Request::get("/auth/setup")
        .header("host", "abc123.lambda-url.us-east-1.on.aws")
        .header("x-forwarded-host", "d111111abcdef8.cloudfront.net")
        .header("x-sluice-origin-verify", "origin-secret-value")
        .body(Body::empty())
        .expect("req");
    let (status, _, script) = env.send(req).await;
    assert_eq!(status, StatusCode::OK, "{script}");
    assert!(
        script.contains("https://d111111abcdef8.cloudfront.net"),
        "{script}"
    );
    assert!(!script.contains("lambda-url"), "{script}");
}

#[tokio::test]
async fn over_https_an_unprefixed_cookie_a_subdomain_could_plant_is_ignored() {
    let env = Env::start().await;
    // A valid session, but in a cookie without the __Host- prefix, which a sibling subdomain can set.
    let (plain, _, _) = sign_in(&env, "127.0.0.1:8080").await;
    assert!(plain.starts_with("sluice_session="), "{plain}");
    let me = |host: &'static str, cookie: String| {
        Request::get("/auth/me")
            .header("host", host)
            .header("cookie", cookie)
            .body(Body::empty())
            .expect("req")
    };
    let (status, _, _) = env.send(me("sluice.example.com", plain.clone())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (secure, _, _) = sign_in(&env, "sluice.example.com").await;
    let (status, _, body) = env.send(me("sluice.example.com", secure)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn single_sign_on_from_the_device_page_comes_back_to_it_with_the_code() {
    let env = Env::start().await;
    // Claude Code's /login started a device sign-in; the person opens the page it showed, signed in nowhere yet.
    let (status, body) = env
        .post("/oauth/device", None, &serde_json::json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let grant: Value = serde_json::from_str(&body).expect("json");
    let code = grant["user_code"].as_str().expect("code").to_owned();
    let (status, _, page) = browser_get(&env, &format!("/device?user_code={code}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let start = page
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|href| href.starts_with("/auth/portal/start?"))
        .unwrap_or_else(|| panic!("a single sign-on link: {page}"))
        .replace("&amp;", "&");
    assert!(start.ends_with(&format!("&user_code={code}")), "{start}");
    let (status, headers, _) =
        browser_get(&env, &format!("{start}&login_hint=dana@example.com"), None).await;
    assert_eq!(status, StatusCode::FOUND);
    let signin_cookie = set_cookies(&headers)[0].clone();
    let back = support::follow_idp(&location(&headers)).await;
    let callback = back
        .strip_prefix("http://127.0.0.1:8080")
        .expect("back to Sluice")
        .to_owned();
    let (status, headers, _) = browser_get(&env, &callback, Some(&signin_cookie)).await;
    assert_eq!(status, StatusCode::FOUND);
    // Back on the device page with the code, signed in: the confirmation form is there.
    assert_eq!(location(&headers), format!("/device?user_code={code}"));
    let session = set_cookies(&headers)
        .into_iter()
        .find(|c| c.starts_with("sluice_session="))
        .expect("a session cookie");
    let (status, _, page) = browser_get(&env, &location(&headers), Some(&session)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("dana@example.com") && page.contains("csrf_token"),
        "{page}"
    );
    // A code that is not one never rides along (no free redirect target).
    let (status, headers, _) = browser_get(
        &env,
        &format!(
            "{}&login_hint=eve@example.com",
            start.replace(&code, "https://evil.example/")
        ),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FOUND);
    let flow = set_cookies(&headers)[0].clone();
    let back = support::follow_idp(&location(&headers)).await;
    let callback = back
        .strip_prefix("http://127.0.0.1:8080")
        .expect("back")
        .to_owned();
    let (_, headers, _) = browser_get(&env, &callback, Some(&flow)).await;
    assert_eq!(location(&headers), "/#/me");
}
