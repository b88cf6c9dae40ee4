//! The trust boundary of sign-in (issue 11 §1, §2): a person is who their identity provider says, bound to the
//! provider's `(issuer, sub)` at the first sign-in; display names, unverified emails, other subjects and other
//! providers never become someone else; the break-glass admin is reached by the password only; sessions end at
//! sign-out and when an administrator revokes them.
//!
//! Two real identity providers on loopback (RSA keys made per test): the configured one (`OIDC_ISSUER`, domain
//! `example.com`, `ADMIN_USERS=boss@example.com`) and a second one an admin adds through `POST /admin/idps`.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sluice_core::identity::Role;
use sluice_testkit::idp::TestIdp;
use support::{AUDIENCE, Env, now_s};

fn claims(idp: &TestIdp, sub: &str, extra: &Value) -> Value {
    let mut c = json!({"iss": idp.issuer(), "aud": AUDIENCE, "sub": sub, "iat": now_s(), "exp": now_s() + 600});
    for (k, v) in extra.as_object().expect("object") {
        c[k] = v.clone();
    }
    c
}

#[expect(
    clippy::needless_pass_by_value,
    reason = "tests pass `json!(..)` inline; taking ownership keeps call sites short"
)]
fn token(idp: &TestIdp, sub: &str, extra: Value) -> String {
    idp.mint(claims(idp, sub, &extra), "RS256", "rsa-1")
}

/// A second provider, added by the admin with `fields` (no domain rule unless given).
async fn second_provider(env: &Env, admin: &str, fields: Value) -> TestIdp {
    let idp = TestIdp::start().await.expect("second idp");
    let mut body =
        json!({"name": "contractors", "issuer_url": idp.issuer(), "client_id": AUDIENCE});
    for (k, v) in fields.as_object().expect("object") {
        body[k] = v.clone();
    }
    let (status, answer) = env.post("/admin/idps", Some(admin), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    idp
}

fn message(body: &str) -> String {
    serde_json::from_str::<Value>(body).expect("json")["error"]["message"]
        .as_str()
        .expect("message")
        .to_owned()
}

async fn exists(env: &Env, email: &str) -> bool {
    env.app
        .store
        .user_by_email(email)
        .await
        .expect("store")
        .is_some()
}

#[tokio::test]
async fn a_display_name_never_names_a_person() {
    let env = Env::start().await;
    let forged = token(
        &env.idp,
        "s-name",
        json!({"name": "boss@example.com", "preferred_username": "boss@example.com"}),
    );
    let (status, body) = env.get("/admin/users", Some(&forged)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(support::error_type(&body), "permission_error");
    assert!(!exists(&env, "boss@example.com").await);
    // Nor can a provider be configured to name people by a display name.
    let admin = env.admin_session().await;
    let (status, body) = env
        .post(
            "/admin/idps",
            Some(&admin),
            &json!({"name": "n", "issuer_url": "https://n.example", "client_id": "c", "user_claim": "name"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("user_claim"), "{body}");
}

#[tokio::test]
async fn an_unverified_email_is_refused_unless_the_provider_vouches_for_its_emails() {
    let env = Env::start().await;
    for verified in [json!(false), json!("false"), Value::Null] {
        let mut extra = json!({"email": "boss@example.com"});
        if !verified.is_null() {
            extra["email_verified"] = verified;
        }
        let t = token(&env.idp, "s-unverified", extra);
        let (status, body) = env.get("/admin/users", Some(&t)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(message(&body).contains("verified"), "{body}");
    }
    assert!(!exists(&env, "boss@example.com").await);
    // A provider declared to vouch for its emails (as Entra for its own tenant) is taken at its word.
    let admin = env.admin_session().await;
    let entra = second_provider(&env, &admin, json!({"emails_verified": true})).await;
    let t = token(
        &entra,
        "oid-1",
        json!({"email": "Contractor@Partner.example"}),
    );
    let (status, body) = env.call("/v1/messages", Some(&t)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(exists(&env, "contractor@partner.example").await);
}

#[tokio::test]
async fn allowed_domains_apply_to_the_verified_email_only() {
    let env = Env::start().await;
    // The configured provider admits example.com: a verified outsider is refused ...
    let t = token(
        &env.idp,
        "s-out",
        json!({"email": "eve@evil.example", "email_verified": true}),
    );
    assert_eq!(
        env.call("/v1/messages", Some(&t)).await.0,
        StatusCode::FORBIDDEN
    );
    // ... and so is a token whose only example.com address is an unverifiable username.
    let admin = env.admin_session().await;
    let second = second_provider(
        &env,
        &admin,
        json!({"user_claim": "preferred_username", "allowed_domains": ["example.com"]}),
    )
    .await;
    let t = token(
        &second,
        "s-upn",
        json!({"preferred_username": "mallory@example.com"}),
    );
    let (status, body) = env.call("/v1/messages", Some(&t)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("verified email"), "{body}");
}

#[tokio::test]
async fn another_subject_claiming_a_bound_persons_email_is_refused_until_an_admin_links_it() {
    let env = Env::start().await;
    let boss = env.idp.mint_default("boss@example.com", AUDIENCE);
    let (status, body) = env.get("/admin/users", Some(&boss)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the configured provider's admin: {body}"
    );
    let boss_id = env
        .app
        .store
        .user_by_email("boss@example.com")
        .await
        .expect("store")
        .expect("boss")
        .id;

    // Same issuer, another subject, the same verified email.
    let other = token(
        &env.idp,
        "someone-else",
        json!({"email": "boss@example.com", "email_verified": true}),
    );
    let (status, body) = env.get("/admin/users", Some(&other)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let why = message(&body);
    assert!(
        why.contains("not linked to boss@example.com")
            && why.contains("An administrator can link the accounts")
            && why.contains("--subject someone-else"),
        "{why}"
    );
    assert_eq!(
        env.call("/v1/messages", Some(&other)).await.0,
        StatusCode::FORBIDDEN
    );

    // The admin links it (an audited action), and then it is the boss.
    let admin = env.admin_session().await;
    let path = format!("/admin/users/{boss_id}/identities");
    let (status, body) = env
        .post(
            &path,
            Some(&admin),
            &json!({"issuer": env.idp.issuer(), "subject": "someone-else"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        env.get("/admin/users", Some(&other)).await.0,
        StatusCode::OK
    );
    let (_, body) = env.get(&path, Some(&admin)).await;
    let listed: Value = serde_json::from_str(&body).expect("json");
    let subjects: Vec<&str> = listed["identities"]
        .as_array()
        .expect("identities")
        .iter()
        .map(|l| l["subject"].as_str().expect("subject"))
        .collect();
    assert_eq!(
        subjects,
        ["sub-boss@example.com", "someone-else"],
        "{listed}"
    );
    // A sign-in is one person's only; members cannot link; an unknown issuer is refused.
    let member = env.user("mia@example.com", Role::Member).await;
    let (status, _) = env
        .post(
            &format!("/admin/users/{}/identities", member.id),
            Some(&admin),
            &json!({"issuer": env.idp.issuer(), "subject": "someone-else"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let mia = env.app.auth.sessions.issue(&member, now_s());
    let (status, _) = env
        .post(
            &path,
            Some(&mia),
            &json!({"issuer": env.idp.issuer(), "subject": "mine"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = env
        .post(
            &path,
            Some(&admin),
            &json!({"issuer": "https://unknown.example", "subject": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Unlinked, it is refused again.
    let (status, body) = env
        .request(
            Method::DELETE,
            &format!(
                "{path}?issuer={}&subject=someone-else",
                env.idp.issuer().replace(':', "%3A").replace('/', "%2F")
            ),
            Some(&admin),
            None,
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        env.get("/admin/users", Some(&other)).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_second_provider_reaches_neither_the_first_ones_people_nor_admin_rights() {
    let env = Env::start().await;
    let admin = env.admin_session().await;
    let second = second_provider(&env, &admin, json!({})).await;
    // Before the boss ever signed in, a second provider naming their (verified) email makes no admin.
    let t = token(
        &second,
        "b-boss",
        json!({"email": "boss@example.com", "email_verified": true}),
    );
    let (status, body) = env.get("/admin/users", Some(&t)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(!exists(&env, "boss@example.com").await);
    // The boss signs in with the configured provider; the second provider still cannot be them.
    let boss = env.idp.mint_default("boss@example.com", AUDIENCE);
    assert_eq!(env.get("/admin/users", Some(&boss)).await.0, StatusCode::OK);
    let (status, body) = env.call("/v1/messages", Some(&t)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(message(&body).contains("link"), "{body}");
    // A person of the first provider is not reachable either, nor one an admin made for it.
    let ana = env.idp.mint_default("ana@example.com", AUDIENCE);
    assert_eq!(env.call("/v1/messages", Some(&ana)).await.0, StatusCode::OK);
    env.user("pre@example.com", Role::Member).await;
    for email in ["ana@example.com", "pre@example.com"] {
        let t = token(
            &second,
            &format!("b-{email}"),
            json!({"email": email, "email_verified": true}),
        );
        assert_eq!(
            env.call("/v1/messages", Some(&t)).await.0,
            StatusCode::FORBIDDEN,
            "{email}"
        );
    }
    // Its own new people are fine, as members.
    let t = token(
        &second,
        "b-new",
        json!({"email": "new@partner.example", "email_verified": true}),
    );
    assert_eq!(env.call("/v1/messages", Some(&t)).await.0, StatusCode::OK);
    assert_eq!(
        env.get("/admin/users", Some(&t)).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn the_break_glass_admin_is_never_reached_through_a_provider() {
    let env = Env::start().await;
    let admin = env.admin_session().await;
    let by_username =
        second_provider(&env, &admin, json!({"user_claim": "preferred_username"})).await;
    for name in ["admin", "ADMIN"] {
        let t = token(
            &by_username,
            &format!("s-{name}"),
            json!({"preferred_username": name}),
        );
        let (status, body) = env.get("/admin/users", Some(&t)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(message(&body).contains("break-glass"), "{body}");
    }
    // An admin cannot link a provider's sign-in to it either.
    let local = env
        .app
        .store
        .user_by_email("admin")
        .await
        .expect("store")
        .expect("local admin");
    let (status, body) = env
        .post(
            &format!("/admin/users/{}/identities", local.id),
            Some(&admin),
            &json!({"issuer": by_username.issuer(), "subject": "s-admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn people_from_before_bindings_are_bound_at_their_next_sign_in_by_their_own_provider_only() {
    let env = Env::start().await;
    let env_name = env
        .app
        .auth
        .settings
        .env_idp
        .as_ref()
        .expect("env idp")
        .name
        .clone();
    // As earlier versions stored them: the provider's name, no binding.
    let mut legacy = sluice_http::auth::new_user("old@example.com", Role::Admin, &env_name);
    legacy.created_at_ms -= 86_400_000;
    env.app.store.create_user(&legacy).await.expect("legacy");
    let other = sluice_http::auth::new_user("elsewhere@example.com", Role::Member, "Retired IdP");
    env.app.store.create_user(&other).await.expect("other");

    let t = env.idp.mint_default("old@example.com", AUDIENCE);
    assert_eq!(
        env.get("/admin/users", Some(&t)).await.0,
        StatusCode::OK,
        "kept their role"
    );
    let links = env.app.store.links_of(&legacy.id).await.expect("links");
    assert_eq!(links.len(), 1);
    assert_eq!(
        (links[0].issuer.as_str(), links[0].subject.as_str()),
        (env.idp.issuer(), "sub-old@example.com")
    );
    // An unverified token would not have bound them, and now another subject cannot.
    let again = token(
        &env.idp,
        "another",
        json!({"email": "old@example.com", "email_verified": true}),
    );
    assert_eq!(
        env.call("/v1/messages", Some(&again)).await.0,
        StatusCode::FORBIDDEN
    );
    let t = env.idp.mint_default("elsewhere@example.com", AUDIENCE);
    assert_eq!(
        env.call("/v1/messages", Some(&t)).await.0,
        StatusCode::FORBIDDEN
    );
    assert!(
        env.app
            .store
            .links_of(&other.id)
            .await
            .expect("links")
            .is_empty()
    );
}

#[tokio::test]
async fn sessions_end_at_sign_out_when_revoked_and_when_the_person_is_deactivated() {
    let env = Env::start().await;
    // Sign-out ends the caller's sessions.
    let admin = env.admin_session().await;
    assert_eq!(env.get("/auth/me", Some(&admin)).await.0, StatusCode::OK);
    // Sign-out ends the sessions issued before its millisecond: this one was, even on a fast machine.
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let (status, body) = env.post("/auth/logout", Some(&admin), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = env.get("/auth/me", Some(&admin)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(message(&body).contains("signed out"), "{body}");
    // Signing in again works at once.
    let admin = env.admin_session().await;
    assert_eq!(env.get("/auth/me", Some(&admin)).await.0, StatusCode::OK);

    // An administrator revokes a member's sessions.
    let member = env.user("mo@example.com", Role::Member).await;
    let session = env.app.auth.sessions.issue(&member, now_s());
    assert_eq!(
        env.call("/v1/messages", Some(&session)).await.0,
        StatusCode::OK
    );
    let (status, body) = env
        .post(
            &format!("/admin/users/{}/revoke-sessions", member.id),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        env.call("/v1/messages", Some(&session)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let mo = env.app.auth.sessions.issue(&member, now_s() + 2);
    let (status, _) = env
        .post(
            &format!("/admin/users/{}/revoke-sessions", member.id),
            Some(&mo),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "members cannot revoke");
    // A session issued after the revocation works; deactivating the person ends it too.
    let fresh = env.app.auth.sessions.issue(&member, now_s() + 2);
    assert_eq!(
        env.call("/v1/messages", Some(&fresh)).await.0,
        StatusCode::OK
    );
    let (status, body) = env
        .request(
            Method::PATCH,
            &format!("/admin/users/{}", member.id),
            Some(&admin),
            Some(&json!({"active": false})),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        env.call("/v1/messages", Some(&fresh)).await.0,
        StatusCode::FORBIDDEN
    );
}

/// `(status, headers, body)` as `(status, body)`.
trait IntoParts {
    fn into_parts(self) -> (StatusCode, String);
}

impl IntoParts for (StatusCode, axum::http::HeaderMap, String) {
    fn into_parts(self) -> (StatusCode, String) {
        (self.0, self.2)
    }
}
