//! Sign-in end to end through the real routers: virtual keys, password login and session tokens, OIDC ID tokens from a
//! local identity provider, Claude Code's browser sign-in, and every way a credential must be refused.

mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use sluice_core::identity::Role;
use support::{Env, b64url, now_s};

#[tokio::test]
async fn attack_matrix_every_bad_credential_is_refused_with_the_right_status() {
    let env = Env::start().await;
    let idp = &env.idp;
    let aud = support::AUDIENCE;
    let iss = idp.issuer().to_owned();
    let now = now_s();
    let claims = |over: Value| {
        let mut c = json!({"iss": iss, "aud": aud, "sub": "s-1", "email": "ann@example.com", "iat": now, "exp": now + 600});
        for (k, v) in over.as_object().expect("obj") {
            c[k] = v.clone();
        }
        c
    };

    // A member signed in with a session, and an inactive person.
    let member = env.user("member@example.com", Role::Member).await;
    let member_token = env.app.auth.sessions.issue(&member, now);
    let mut gone = env.user("gone@example.com", Role::Member).await;
    gone.active = false;
    env.app.store.update_user(&gone).await.expect("deactivate");
    let gone_session = env.app.auth.sessions.issue(&gone, now);
    let gone_oidc = idp.mint(
        claims(json!({"email": "gone@example.com", "sub": "s-gone"})),
        "RS256",
        "rsa-1",
    );
    let (revoked, _) = env.key("revoked", None).await;
    env.revoke(&revoked).await;
    let (owned_by_gone, _) = env.key("gone's key", Some(&gone.id)).await;

    let alg_none = format!(
        "{}.{}.",
        b64url(&json!({"alg": "none", "typ": "JWT"}).to_string()),
        b64url(&claims(json!({})).to_string())
    );
    let hs256_with_public_key = support::hs256(
        &claims(json!({})),
        idp.rsa_public_pem().as_bytes(),
        Some("rsa-1"),
    );

    let cases: Vec<(&str, Option<String>, &str, u16, &str)> = vec![
        (
            "no credential",
            None,
            "/v1/messages",
            401,
            "authentication_error",
        ),
        (
            "unknown key",
            Some("sk-sluice-doesnotexist0000000000000000000000000".into()),
            "/v1/messages",
            401,
            "authentication_error",
        ),
        (
            "revoked key",
            Some(revoked),
            "/v1/messages",
            401,
            "authentication_error",
        ),
        (
            "member token on an admin route",
            Some(member_token),
            "/admin/users",
            403,
            "permission_error",
        ),
        (
            "alg none",
            Some(alg_none),
            "/v1/messages",
            401,
            "authentication_error",
        ),
        (
            "HS256 signed with the RSA public key",
            Some(hs256_with_public_key),
            "/v1/messages",
            401,
            "authentication_error",
        ),
        (
            "wrong aud",
            Some(idp.mint(claims(json!({"aud": "someone-else"})), "RS256", "rsa-1")),
            "/v1/messages",
            401,
            "authentication_error",
        ),
        (
            "wrong iss",
            Some(idp.mint(
                claims(json!({"iss": "https://evil.example.com"})),
                "RS256",
                "rsa-1",
            )),
            "/v1/messages",
            401,
            "authentication_error",
        ),
        (
            "expired",
            Some(idp.mint(
                claims(json!({"iat": now - 7200, "exp": now - 3600})),
                "RS256",
                "rsa-1",
            )),
            "/v1/messages",
            401,
            "authentication_error",
        ),
        (
            "not yet valid",
            Some(idp.mint(claims(json!({"nbf": now + 3600})), "RS256", "rsa-1")),
            "/v1/messages",
            401,
            "authentication_error",
        ),
        (
            "unknown kid",
            Some(idp.mint(claims(json!({})), "RS256", "no-such-kid")),
            "/v1/messages",
            401,
            "authentication_error",
        ),
        (
            "domain not allowed",
            Some(idp.mint(claims(json!({"email": "eve@other.org"})), "RS256", "rsa-1")),
            "/v1/messages",
            403,
            "permission_error",
        ),
        (
            "inactive user, OIDC",
            Some(gone_oidc),
            "/v1/messages",
            403,
            "permission_error",
        ),
        (
            "inactive user, session",
            Some(gone_session),
            "/v1/messages",
            403,
            "permission_error",
        ),
        (
            "inactive user's key",
            Some(owned_by_gone),
            "/v1/messages",
            403,
            "permission_error",
        ),
    ];
    for (name, credential, path, status, ty) in cases {
        let (got, body) = env.call(path, credential.as_deref()).await;
        assert_eq!(
            (got.as_u16(), support::error_type(&body).as_str()),
            (status, ty),
            "{name}: {body}"
        );
    }
}

#[tokio::test]
async fn oidc_token_signs_a_person_in_and_provisions_them() {
    let env = Env::start().await;
    let token = env
        .idp
        .mint_default("new.person@example.com", support::AUDIENCE);
    let (status, body) = env.call("/v1/messages", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let user = env
        .app
        .store
        .user_by_email("new.person@example.com")
        .await
        .expect("store")
        .expect("provisioned");
    assert_eq!((user.role, user.active), (Role::Member, true));
    let (status, body) = env.get("/auth/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    let me: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        (me["type"].as_str(), me["sub"].as_str()),
        (Some("oidc"), Some("new.person@example.com"))
    );
    // An ES256 token from the same provider works too.
    let es = env.idp.mint(
        json!({"iss": env.idp.issuer(), "aud": support::AUDIENCE, "sub": "sub-new.person@example.com",
               "email": "new.person@example.com", "email_verified": true, "iat": now_s(), "exp": now_s() + 600}),
        "ES256",
        "ec-1",
    );
    assert_eq!(env.call("/v1/messages", Some(&es)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn admin_users_from_the_environment_are_provisioned_as_admins() {
    let env = Env::start().await;
    let token = env.idp.mint_default("boss@example.com", support::AUDIENCE);
    let (status, body) = env.get("/admin/users", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn password_login_issues_a_session_token_that_works_everywhere_and_failures_are_401() {
    let env = Env::start().await;
    let (status, body) = env
        .post(
            "/auth/login",
            None,
            &json!({"username": "admin", "password": "wrong"}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), support::error_type(&body).as_str()),
        (401, "authentication_error"),
        "{body}"
    );
    let (status, body) = env
        .post(
            "/auth/login",
            None,
            &json!({"username": "admin", "password": support::ADMIN_PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let login: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        (login["role"].as_str(), login["type"].as_str()),
        (Some("admin"), Some("session"))
    );
    let token = login["token"].as_str().expect("token");
    assert_eq!(
        env.call("/v1/messages", Some(token)).await.0,
        StatusCode::OK
    );
    assert_eq!(env.get("/admin/users", Some(token)).await.0, StatusCode::OK);
    let (status, body) = env
        .post("/auth/login", None, &json!({"username": "admin"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn login_attempts_are_rate_limited() {
    let env = Env::start().await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(
            env.post(
                "/auth/login",
                None,
                &json!({"username": "admin", "password": "guess"}),
            )
            .await
            .0
            .as_u16(),
        );
    }
    assert_eq!(&statuses[..10], &[401; 10]);
    assert_eq!(&statuses[10..], &[429, 429]);
}

/// A PKCE pair: (verifier, base64url(SHA-256(verifier))).
fn pkce(verifier: &str) -> (String, String) {
    use base64::Engine;
    use sha2::Digest;
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier.to_owned(), challenge)
}

/// The browser's part of a CLI sign-in started at `login` (a path with query): Sluice → IdP → callback → complete.
/// Returns the `redirect` complete answers (the loopback URL with the one-time code).
async fn browser_signs_in(env: &Env, login: &str) -> String {
    let (status, headers, _) = env.raw_get(login).await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    let to_idp = headers["location"].to_str().expect("location").to_owned();
    assert!(
        to_idp.starts_with(&format!("{}/authorize?", env.idp.issuer())),
        "{to_idp}"
    );
    let back = support::follow_idp(&to_idp).await;
    assert!(back.contains("/auth/cli/callback#"), "{back}");
    let fragment = back.split_once('#').expect("fragment").1;
    let params: std::collections::HashMap<String, String> = fragment
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let (status, body) = env
        .post(
            "/auth/cli/complete",
            None,
            &json!({"session": params["state"], "token": params["id_token"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str::<Value>(&body).expect("json")["redirect"]
        .as_str()
        .expect("redirect")
        .to_owned()
}

fn query_param(url: &str, name: &str) -> String {
    url.split_once('?')
        .expect("query")
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .expect("param")
        .to_owned()
}

#[tokio::test]
async fn cli_browser_sign_in_end_to_end_gives_a_token_that_works_on_messages() {
    let env = Env::start().await;
    let session = uuid::Uuid::new_v4().to_string();
    let (verifier, challenge) = pkce("a-verifier-of-the-helper-that-is-long-enough-0123456789");
    // 1-3. The helper opens the browser at /auth/cli/login with its loopback port and PKCE challenge; the person
    // signs in at the IdP; the callback page completes and is sent to the helper's loopback with a one-time code.
    let redirect = browser_signs_in(
        &env,
        &format!(
            "/auth/cli/login?session={session}&port=49152&code_challenge={challenge}&login_hint=cli.user@example.com"
        ),
    )
    .await;
    assert!(
        redirect.starts_with("http://127.0.0.1:49152/callback?code="),
        "{redirect}"
    );
    assert_eq!(query_param(&redirect, "state"), session);
    let code = query_param(&redirect, "code");
    // 4. The helper redeems code + verifier for a Sluice session token, once.
    let (status, body) = env
        .post(
            "/auth/cli/token",
            None,
            &json!({"session": session, "code": code, "code_verifier": verifier}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = serde_json::from_str::<Value>(&body).expect("json")["token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(
        env.call("/v1/messages", Some(&token)).await.0,
        StatusCode::OK
    );
    let (status, _) = env
        .post(
            "/auth/cli/token",
            None,
            &json!({"session": session, "code": code, "code_verifier": verifier}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "handed out once");
}

/// The attack the loopback flow closes: someone starts a sign-in and sends the link to a victim who is signed in
/// at the IdP. The victim's browser completes it, but the code goes to the victim's own loopback; the starter,
/// who knows the session id and their own verifier, gets nothing — not by polling, not without the code, and a
/// guess ends the sign-in.
#[tokio::test]
async fn a_sign_in_link_sent_to_someone_else_gives_its_sender_nothing() {
    let env = Env::start().await;
    let session = uuid::Uuid::new_v4().to_string();
    let (verifier, challenge) = pkce("the-attackers-own-verifier-0123456789-abcdefghijklmnop");
    let link = format!(
        "/auth/cli/login?session={session}&port=50000&code_challenge={challenge}&login_hint=victim@example.com"
    );
    let redirect = browser_signs_in(&env, &link).await;
    assert!(
        redirect.starts_with("http://127.0.0.1:50000/"),
        "{redirect}"
    );
    // The old way in is closed.
    let (status, body) = env
        .get(&format!("/auth/cli/poll?session={session}"), None)
        .await;
    assert_eq!(status, StatusCode::GONE);
    assert!(!body.contains("eyJ"), "{body}");
    // Without the code (it went to the victim's machine) the verifier is worthless, and the try ends the sign-in.
    let (status, body) = env
        .post(
            "/auth/cli/token",
            None,
            &json!({"session": session, "code": "0".repeat(64), "code_verifier": verifier}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let code = query_param(&redirect, "code");
    let (status, _) = env
        .post(
            "/auth/cli/token",
            None,
            &json!({"session": session, "code": code, "code_verifier": verifier}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the sign-in ended at the wrong guess"
    );
    // And a code that leaked (browser history) is worthless without the helper's verifier.
    let session = uuid::Uuid::new_v4().to_string();
    let (_, challenge) = pkce("the-victims-helper-verifier-0123456789-abcdefghijklmnop");
    let redirect = browser_signs_in(
        &env,
        &format!("/auth/cli/login?session={session}&port=50001&code_challenge={challenge}&login_hint=victim@example.com"),
    )
    .await;
    let (status, _) = env
        .post(
            "/auth/cli/token",
            None,
            &json!({"session": session, "code": query_param(&redirect, "code"), "code_verifier": "the-attackers-own-verifier-0123456789-abcdefghijklmnop"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cli_sign_in_refuses_a_bad_token_and_stores_nothing() {
    let env = Env::start().await;
    let session = uuid::Uuid::new_v4().to_string();
    let (verifier, challenge) = pkce("verifier-of-a-sign-in-that-gets-bad-tokens-0123456789");
    let (status, _, _) = env
        .raw_get(&format!(
            "/auth/cli/login?session={session}&port=49999&code_challenge={challenge}"
        ))
        .await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    // Right signature but the nonce of another sign-in.
    let foreign = env.idp.mint(
        json!({"iss": env.idp.issuer(), "aud": support::AUDIENCE, "sub": "x", "email": "x@example.com",
               "email_verified": true, "nonce": "not-this-session", "iat": now_s(), "exp": now_s() + 600}),
        "RS256",
        "rsa-1",
    );
    let (status, _) = env
        .post(
            "/auth/cli/complete",
            None,
            &json!({"session": session, "token": foreign}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = env
        .post(
            "/auth/cli/complete",
            None,
            &json!({"session": session, "token": "garbage"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Nothing was stored: there is no token to redeem (and asking does not end a pending sign-in).
    let (status, _) = env
        .post(
            "/auth/cli/token",
            None,
            &json!({"session": session, "code": "c", "code_verifier": verifier}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let pending = env
        .app
        .store
        .cli_session(&session)
        .await
        .expect("store")
        .expect("still pending");
    assert_eq!((pending.token, pending.code_hash), (None, None));
    let (status, _) = env
        .post(
            "/auth/cli/complete",
            None,
            &json!({"session": uuid::Uuid::new_v4().to_string(), "token": "x.y.z"}),
        )
        .await;
    assert_eq!(status, StatusCode::GONE);
    for bad in [
        "/auth/cli/login?session=not-a-uuid&port=49999&code_challenge=".to_owned() + &challenge,
        format!("/auth/cli/login?session={}", uuid::Uuid::new_v4()),
        format!(
            "/auth/cli/login?session={}&port=80&code_challenge={challenge}",
            uuid::Uuid::new_v4()
        ),
        format!(
            "/auth/cli/login?session={}&port=49999&code_challenge=short",
            uuid::Uuid::new_v4()
        ),
    ] {
        let (status, _, _) = env.raw_get(&bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn setup_scripts_point_claude_code_at_sluice() {
    let env = Env::start().await;
    let (status, setup) = env.get("/auth/setup", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(setup.starts_with("#!/usr/bin/env bash"), "{setup}");
    assert!(
        setup.contains("apiKeyHelper") && setup.contains("/auth/setup/token-script"),
        "{setup}"
    );
    let (status, helper) = env.get("/auth/setup/token-script", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        helper.contains("/auth/cli/login?session=")
            && helper.contains("code_challenge=")
            && helper.contains("/auth/cli/token")
            && !helper.contains("/auth/cli/poll"),
        "{helper}"
    );
    for script in [&setup, &helper] {
        let out = std::process::Command::new("bash")
            .arg("-n")
            .arg("-c")
            .arg(script)
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "bash -n: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// With web search turned off, the setup tells Claude Code not to offer WebSearch (as CCAG's does); otherwise it
/// leaves the permissions alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_setup_denies_websearch_while_web_search_is_off() {
    let env = Env::start().await;
    let server = env.serve().await;
    let url = server.url().to_owned();
    let run_setup = |home: std::path::PathBuf| {
        let url = url.clone();
        async move {
            let setup = reqwest::get(format!("{url}/auth/setup"))
                .await
                .expect("setup")
                .text()
                .await
                .expect("text");
            let out = tokio::process::Command::new("bash")
                .arg("-c")
                .arg(&setup)
                .env("HOME", &home)
                .output()
                .await
                .expect("bash");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice::<Value>(
                &std::fs::read(home.join(".claude/settings.json")).expect("settings.json"),
            )
            .expect("json")
        }
    };
    let on = tempfile::tempdir().expect("home");
    let settings = run_setup(on.path().to_owned()).await;
    assert!(settings.get("permissions").is_none(), "{settings}");
    env.app
        .store
        .put_setting(sluice_core::websearch::SETTING_MODE, "disabled")
        .await
        .expect("setting");
    let off = tempfile::tempdir().expect("home");
    let settings = run_setup(off.path().to_owned()).await;
    assert_eq!(
        settings["permissions"]["deny"],
        json!(["WebSearch"]),
        "{settings}"
    );
}

/// The Windows setup: PowerShell is not installable on the test machines, so this checks what is served (the
/// addresses filled in and quoted, the settings folder per scope, no placeholder left), not a run of it.
#[tokio::test]
async fn the_powershell_setup_names_the_gateway_and_the_settings_folder() {
    let env = Env::start_with(|auth| {
        auth.gateway_url = Some("https://gw.example.com".into());
    })
    .await;
    let (status, headers, script) = env.raw_get("/auth/setup.ps1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    assert!(
        script.contains("$gateway = 'https://gw.example.com'"),
        "{script}"
    );
    assert!(
        script.contains("irm http://127.0.0.1:8080/auth/setup.ps1 | iex"),
        "{script}"
    );
    assert!(script.contains("(Join-Path $HOME '.claude')"), "{script}");
    assert!(script.contains("ANTHROPIC_API_KEY") && script.contains("UTF8Encoding $false"));
    assert!(!script.contains("__"), "a placeholder is left: {script}");
    let (_, project) = env.get("/auth/setup.ps1?scope=project", None).await;
    assert!(project.contains("$dir = '.claude'"), "{project}");
}

#[tokio::test]
async fn per_key_rate_limit_answers_429_with_an_honest_retry_after() {
    let env = Env::start().await;
    let (key, _) = env.key_with_rpm("limited", 3).await;
    for _ in 0..3 {
        assert_eq!(env.call("/v1/messages", Some(&key)).await.0, StatusCode::OK);
    }
    let (status, headers, body) = env.call_full("/v1/messages", Some(&key)).await;
    assert_eq!(
        (status.as_u16(), support::error_type(&body).as_str()),
        (429, "rate_limit_error"),
        "{body}"
    );
    let retry: u64 = headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=120).contains(&retry), "{retry}");
    // count_tokens counts against the same limit.
    let (status, _) = env
        .post(
            "/v1/messages/count_tokens",
            Some(&key),
            &json!({"model": "claude-opus-4-8", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Another key is not affected; a key with rpm 0 is unlimited.
    let (free, _) = env.key_with_rpm("free", 0).await;
    for _ in 0..5 {
        assert_eq!(
            env.call("/v1/messages", Some(&free)).await.0,
            StatusCode::OK
        );
    }
}

/// The scripts a person runs: `GET /auth/setup | bash` writes Claude Code's settings, and the `apiKeyHelper` it
/// installs signs in through the "browser" (here: the test following the URL the helper prints) and prints a session
/// token that works on `/v1/messages`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_script_and_api_key_helper_work_end_to_end() {
    use tokio::io::AsyncBufReadExt;

    let env = Env::start().await;
    let server = env.serve().await;
    let url = server.url().to_owned();
    let home = tempfile::tempdir().expect("home");
    let setup = reqwest::get(format!("{url}/auth/setup"))
        .await
        .expect("setup")
        .text()
        .await
        .expect("text");
    let out = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(&setup)
        .env("HOME", home.path())
        .output()
        .await
        .expect("bash");
    assert!(
        out.status.success(),
        "setup failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let settings: Value = serde_json::from_slice(
        &std::fs::read(home.path().join(".claude/settings.json")).expect("settings.json written"),
    )
    .expect("json");
    assert_eq!(settings["env"]["ANTHROPIC_BASE_URL"], url.as_str());
    let helper_cmd = settings["apiKeyHelper"]
        .as_str()
        .expect("apiKeyHelper")
        .to_owned();
    assert!(
        helper_cmd.starts_with("bash ") && helper_cmd.ends_with(&url),
        "{helper_cmd}"
    );

    // Run the helper as Claude Code would, with no browser opener on PATH.
    let mut helper = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(&helper_cmd)
        .env("HOME", home.path())
        .env("PATH", "/usr/bin:/bin")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("helper");
    let mut stderr = tokio::io::BufReader::new(helper.stderr.take().expect("stderr")).lines();
    let login_url = loop {
        let line = stderr
            .next_line()
            .await
            .expect("read")
            .expect("the helper prints the sign-in URL");
        if let Some(at) = line.find("http") {
            break line[at..].trim().to_owned();
        }
    };
    assert!(
        login_url.starts_with(&format!("{url}/auth/cli/login?session=")),
        "{login_url}"
    );
    // The "browser": Sluice → IdP → callback fragment → complete → the helper's loopback listener.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let to_idp = client
        .get(format!("{login_url}&login_hint=helper.user@example.com"))
        .send()
        .await
        .expect("login");
    let to_idp = to_idp.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let back = support::follow_idp(&to_idp).await;
    let fragment = back.split_once('#').expect("fragment").1.to_owned();
    let params: std::collections::HashMap<String, String> = fragment
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let done = client
        .post(format!("{url}/auth/cli/complete"))
        .json(&json!({"session": params["state"], "token": params["id_token"]}))
        .send()
        .await
        .expect("complete");
    assert_eq!(done.status(), 200);
    let redirect = done.json::<Value>().await.expect("json")["redirect"]
        .as_str()
        .expect("redirect")
        .to_owned();
    // A request for another sign-in's state is not taken by the listener.
    let wrong_state = redirect.replace(&params["state"], &uuid::Uuid::new_v4().to_string());
    assert_eq!(
        client
            .get(&wrong_state)
            .send()
            .await
            .expect("listener")
            .status(),
        404
    );
    let landed = client.get(&redirect).send().await.expect("listener");
    assert_eq!(landed.status(), 200);
    assert!(landed.text().await.expect("text").contains("Signed in"));
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        helper.wait_with_output(),
    )
    .await
    .expect("helper finishes")
    .expect("helper output");
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned();
    assert_eq!(
        env.call("/v1/messages", Some(&token)).await.0,
        StatusCode::OK
    );
    // A second run reuses the cached token without a new sign-in.
    let again = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(&helper_cmd)
        .env("HOME", home.path())
        .output()
        .await
        .expect("helper again");
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), token);
}

/// A setup token hands a key over once: its owner proves the secret, the one-time link's script configures Claude
/// Code with the key (which then works), and the link is dead afterwards, for anyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_tokens_hand_a_key_over_once() {
    let env = Env::start().await;
    let server = env.serve().await;
    let url = server.url().to_owned();
    let owner = env.user("ola@example.com", Role::Member).await;
    let other = env.user("otto@example.com", Role::Member).await;
    let session =
        |u: &sluice_core::identity::User| env.app.auth.sessions.issue(u, support::now_s());
    let (secret, key_id) = env.key("ola's laptop", Some(&owner.id)).await;
    let path = format!("/admin/keys/{key_id}/setup-token");

    // The secret must be the key's; someone else's key is not found.
    let (status, body) = env
        .post(
            &path,
            Some(&session(&owner)),
            &json!({"raw_key": "sk-sluice-wrong"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("is not the secret"), "{body}");
    let (status, _) = env
        .post(&path, Some(&session(&other)), &json!({"raw_key": secret}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, body) = env
        .post(&path, Some(&session(&owner)), &json!({"raw_key": secret}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(answer["expires_in_secs"], 300);
    let token = answer["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("st_"), "{token}");
    // The answer does not echo the key back.
    assert!(!body.contains(&secret));

    let link = format!("{url}/auth/setup?token={token}");
    let fetch = |link: String| async move {
        let resp = reqwest::get(link).await.expect("setup");
        (resp.status().as_u16(), resp.text().await.expect("text"))
    };
    let redeem = |link: String| async move {
        let resp = reqwest::Client::new()
            .post(link)
            .send()
            .await
            .expect("setup");
        (resp.status().as_u16(), resp.text().await.expect("text"))
    };
    // Link scanners fetch with GET, as a browser or not: they get a page or an inert script, and use nothing up.
    let page = reqwest::Client::new()
        .get(&link)
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    let page = page.text().await.expect("text");
    assert!(
        page.contains(&format!("curl -fsS &#39;{link}&#39; | bash"))
            || page.contains(&format!("curl -fsS '{link}' | bash")),
        "{page}"
    );
    assert!(!page.contains(&secret));
    let (status, script) = fetch(link.clone()).await;
    assert_eq!(status, 200, "{script}");
    assert!(
        script.contains("-X POST") && !script.contains(&secret),
        "{script}"
    );
    let (status, again) = fetch(link.clone()).await;
    assert_eq!((status, &again), (200, &script), "a GET redeems nothing");
    let home = tempfile::tempdir().expect("home");
    let run = |script: String, home: std::path::PathBuf| async move {
        tokio::process::Command::new("bash")
            .arg("-c")
            .arg(script)
            .env("HOME", home)
            .env_remove("SLUICE_API_KEY")
            .output()
            .await
            .expect("bash")
    };
    let out = run(script, home.path().to_owned()).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let settings: Value = serde_json::from_slice(
        &std::fs::read(home.path().join(".claude/settings.json")).expect("settings.json"),
    )
    .expect("json");
    assert_eq!(settings["env"]["ANTHROPIC_BASE_URL"], url.as_str());
    let configured = settings["env"]["ANTHROPIC_API_KEY"].as_str().expect("key");
    assert_eq!(configured, secret);
    assert_eq!(
        env.call("/v1/messages", Some(configured)).await.0,
        StatusCode::OK
    );

    // Used once: the link now fails, and the script it answers says so and exits 1, whether redeemed directly or
    // through the script a GET answers.
    let (status, failing) = redeem(link.clone()).await;
    assert_eq!(status, 410);
    assert!(failing.contains("already used or expired"), "{failing}");
    let (status, script) = fetch(link).await;
    assert_eq!(status, 200);
    let again = tempfile::tempdir().expect("home");
    let out = run(script, again.path().to_owned()).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already used or expired"));
    assert!(!again.path().join(".claude/settings.json").exists());

    // A key revoked after its link was made is not handed over.
    let (status, body) = env
        .post(&path, Some(&session(&owner)), &json!({"raw_key": secret}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token: Value = serde_json::from_str(&body).expect("json");
    let (status, _) = env
        .post(
            &format!("/admin/keys/{key_id}/revoke"),
            Some(&session(&owner)),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, script) = redeem(format!(
        "{url}/auth/setup?token={}",
        token["token"].as_str().expect("token")
    ))
    .await;
    assert_eq!(status, 410);
    assert!(script.contains("revoked"), "{script}");
    assert!(!script.contains(&secret));
    // And a revoked key gets no new link.
    let (status, body) = env
        .post(&path, Some(&session(&owner)), &json!({"raw_key": secret}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}
