//! The policy admin API through the real routers: who may read and write it, validation with paths, versions and
//! the 409 on a lost update, the audit trail, the test route, `/auth/claude-settings`, groups remembered from an ID
//! token and from SCIM, and that the generic settings route cannot write the document around all of that.

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sluice_core::identity::Role;
use support::{AUDIENCE, Env, now_s};
use tower::ServiceExt;

async fn call(
    env: &Env,
    method: Method,
    path: &str,
    credential: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {credential}"));
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req
        .body(Body::from(body.map(|b| b.to_string()).unwrap_or_default()))
        .expect("request");
    let resp = env.router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        panic!(
            "{path} answered {status} without JSON: {:?}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, json)
}

fn contractors() -> Value {
    json!([
        {"name": "contractors", "match": {"idp_groups": ["contractors"], "scim_groups": ["Vendors"]},
         "rules": {"models": {"allow": ["haiku"]}, "tools": {"deny": ["Bash", "mcp__computer__*", "mcp__x*"]},
                   "web_search": false}},
        {"name": "everyone", "match": {}, "rules": {}}
    ])
}

#[tokio::test]
async fn only_admins_read_and_write_the_document_with_versions_paths_and_an_audit_trail() {
    let env = Env::start().await;
    let admin = env.user("root@example.com", Role::Admin).await;
    let member = env.user("mia@example.com", Role::Member).await;
    let admin_session = env.app.auth.sessions.issue(&admin, now_s());
    let member_session = env.app.auth.sessions.issue(&member, now_s());
    let (key, _) = env.key("mia's key", Some(&member.id)).await;

    for credential in [&member_session, &key] {
        let (status, body) = call(&env, Method::GET, "/admin/policies", credential, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, _) = call(
            &env,
            Method::PUT,
            "/admin/policies",
            credential,
            Some(json!({"version": 0, "policies": []})),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    let (status, doc) = call(&env, Method::GET, "/admin/policies", &admin_session, None).await;
    assert_eq!((status, doc["version"].clone()), (StatusCode::OK, json!(0)));
    assert_eq!(doc["policies"], json!([]));

    // Without a version, with a typo, with an unknown model: 400 with the path; nothing stored.
    let (status, body) = call(
        &env,
        Method::PUT,
        "/admin/policies",
        &admin_session,
        Some(json!({"policies": []})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .starts_with("version: required"),
        "{body}"
    );
    let (status, body) = call(
        &env,
        Method::PUT,
        "/admin/policies",
        &admin_session,
        Some(json!({"version": 0, "policies": [{"name": "a", "rules": {"models": {"allow": ["claude-opsu-4"]}}}]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("message")
            .starts_with("policies[0].rules.models.allow[0]: \"claude-opsu-4\" is not a model"),
        "{body}"
    );

    let (status, saved) = call(
        &env,
        Method::PUT,
        "/admin/policies",
        &admin_session,
        Some(json!({"version": 0, "policies": contractors()})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["version"], 1);
    assert_eq!(
        saved["updated_by"],
        format!("root@example.com ({})", admin.id)
    );

    // A second admin who read version 0 loses: 409, nothing written.
    let (status, body) = call(
        &env,
        Method::PUT,
        "/admin/policies",
        &admin_session,
        Some(json!({"version": 0, "policies": []})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["type"], "conflict_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("m")
            .contains("(now version 1)")
    );
    let (_, doc) = call(&env, Method::GET, "/admin/policies", &admin_session, None).await;
    assert_eq!(doc["policies"].as_array().map(Vec::len), Some(2));

    // A document larger than one store item can hold is refused before it is written.
    let huge: Vec<Value> = (0..60)
        .map(|i| {
            let people: Vec<String> = (0..500).map(|j| format!("p{i}x{j}@e.com")).collect();
            json!({"name": format!("p{i}"), "match": {"people": people}})
        })
        .collect();
    let (status, body) = call(
        &env,
        Method::PUT,
        "/admin/policies",
        &admin_session,
        Some(json!({"version": 1, "policies": huge})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("m")
            .starts_with("policies: the document is"),
        "{body}"
    );

    // The generic settings route cannot write the document around validation and audit.
    let (status, _) = call(
        &env,
        Method::PUT,
        "/admin/settings/policies",
        &admin_session,
        Some(json!({"value": "{\"version\":9,\"policies\":[]}"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The audit trail: who, the versions, and what changed.
    let mut next = contractors();
    next[0]["rules"]["max_tokens"] = json!(4096);
    let (status, _) = call(
        &env,
        Method::PUT,
        "/admin/policies",
        &admin_session,
        Some(json!({"version": 1, "policies": next})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, changes) = call(
        &env,
        Method::GET,
        "/admin/policies/changes?limit=5",
        &admin_session,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let changes = changes["changes"].as_array().expect("changes").clone();
    assert_eq!(changes.len(), 2);
    assert_eq!(
        (
            changes[0]["from_version"].clone(),
            changes[0]["to_version"].clone()
        ),
        (json!(1), json!(2))
    );
    assert_eq!(changes[0]["diff"]["changed"][0]["name"], "contractors");
    assert_eq!(
        changes[0]["diff"]["changed"][0]["after"]["rules"]["max_tokens"],
        4096
    );
    assert_eq!(
        changes[1]["diff"]["added"].as_array().map(Vec::len),
        Some(2)
    );
    assert!(
        changes[1]["actor"]
            .as_str()
            .expect("actor")
            .starts_with("root@example.com")
    );
    let (status, _) = call(
        &env,
        Method::GET,
        "/admin/policies/changes",
        &member_session,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_test_route_explains_a_person_or_a_draft() {
    let env = Env::start().await;
    let admin = env.user("root@example.com", Role::Admin).await;
    let session = env.app.auth.sessions.issue(&admin, now_s());
    let mut vendor = env.user("val@example.com", Role::Member).await;
    vendor.groups.scim = vec!["Vendors".into()];
    env.app.store.update_user(&vendor).await.expect("groups");
    let (status, _) = call(
        &env,
        Method::PUT,
        "/admin/policies",
        &session,
        Some(json!({"version": 0, "policies": contractors()})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // A stored person brings their remembered groups.
    let (status, result) = call(
        &env,
        Method::POST,
        "/admin/policies/test",
        &session,
        Some(json!({"caller": {"email": "VAL@example.com"},
                    "request": {"model": "claude-sonnet-4-5", "tools": ["Bash", "Read"]}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["matched"]["name"], "contractors");
    assert_eq!(result["matched"]["why"], "SCIM group \"Vendors\"");
    assert_eq!(result["outcome"], "refused");
    assert_eq!(result["refusal"]["rule"], "models");
    assert_eq!(result["allowed_models"], json!(["claude-haiku-4-5"]));

    let (_, result) = call(
        &env,
        Method::POST,
        "/admin/policies/test",
        &session,
        Some(json!({"caller": {"idp_groups": ["contractors"]},
                    "request": {"model": "claude-haiku-4-5", "tools": ["Bash", "Read", "WebSearch"], "max_tokens": 64000}})),
    )
    .await;
    assert_eq!(result["outcome"], "allowed");
    assert_eq!(
        result["applied"]["removed_tools"],
        json!(["Bash", "web_search"])
    );

    // A draft is evaluated instead of the stored document, validated the same way.
    let (_, result) = call(
        &env,
        Method::POST,
        "/admin/policies/test",
        &session,
        Some(json!({"caller": {"idp_groups": ["contractors"]}, "request": {"model": "claude-opus-4-8"},
                    "policies": [{"name": "open", "rules": {}}]})),
    )
    .await;
    assert_eq!(
        (result["matched"]["name"].clone(), result["outcome"].clone()),
        (json!("open"), json!("allowed"))
    );
    let (status, body) = call(
        &env,
        Method::POST,
        "/admin/policies/test",
        &session,
        Some(json!({"policies": [{"name": "bad", "surprise": true}]})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .expect("m")
            .starts_with("policies[0].surprise"),
        "{body}"
    );
}

#[tokio::test]
async fn groups_from_an_id_token_are_remembered_for_the_persons_keys_and_claude_is_told_the_policy()
{
    let env = Env::start().await;
    let admin = env.user("root@example.com", Role::Admin).await;
    let session = env.app.auth.sessions.issue(&admin, now_s());
    let (status, _) = call(
        &env,
        Method::PUT,
        "/admin/policies",
        &session,
        Some(json!({"version": 0, "policies": contractors()})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // A sign-in whose token carries the groups claim as one string.
    let now = now_s();
    let token = env.idp.mint(
        json!({"iss": env.idp.issuer(), "aud": AUDIENCE, "sub": "sub-cara", "email": "cara@example.com",
               "email_verified": true, "iat": now, "exp": now + 600, "groups": "contractors,staff"}),
        "RS256",
        "rsa-1",
    );
    let (status, settings) = call(&env, Method::GET, "/auth/claude-settings", &token, None).await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(settings["policy"], "contractors");
    // `mcp__x*` cannot be said in Claude Code's rules; web search off adds WebSearch.
    assert_eq!(
        settings["permissions"]["deny"],
        json!(["Bash", "mcp__computer__*", "WebSearch"])
    );
    assert_eq!(settings["availableModels"], json!(["claude-haiku-4-5"]));

    let cara = env
        .app
        .store
        .user_by_email("cara@example.com")
        .await
        .expect("read")
        .expect("provisioned");
    assert_eq!(cara.groups.idp, ["contractors", "staff"]);
    // Her key, which carries no token, matches the same policy.
    let (key, _) = env.key("cara's key", Some(&cara.id)).await;
    let (status, settings) = call(&env, Method::GET, "/auth/claude-settings", &key, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(settings["policy"], "contractors");

    // Someone else: the default policy, which restricts nothing.
    let (_, settings) = call(&env, Method::GET, "/auth/claude-settings", &session, None).await;
    assert_eq!(settings["policy"], "everyone");
    assert_eq!(settings["permissions"]["deny"], json!([]));
    assert!(settings.get("availableModels").is_none());
    let (status, _) = call(
        &env,
        Method::GET,
        "/auth/claude-settings",
        "sk-sluice-nope",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
