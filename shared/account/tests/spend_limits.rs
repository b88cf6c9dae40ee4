//! Limits a member cannot step around (issue 11 §3), through the real routers on SQLite and the Bedrock simulator:
//! raw Bedrock ids held to the configured geography and region unless allowlisted, a per-person rate limit over
//! every credential (session and keys alike), and a per-person key quota.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sluice_account::admin_router;
use sluice_bedrock_sim::SimConfig;
use sluice_core::identity::Role;
use sluice_core::store::Store;
use sluice_http::GatewayConfig;
use sluice_http::app::{AppState, AuthConfig};
use sluice_inference::{GatewayState, gateway_router};
use sluice_sqlite::SqliteStore;
use sluice_testkit::{SimServer, aws_sdk_config};
use tower::ServiceExt;

struct Stack {
    router: axum::Router,
    app: Arc<AppState>,
    admin: String,
    member: String,
    member_id: String,
    _sim: SimServer,
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// A stack calling Bedrock in `region` (its geography is the region's), settings trusted for no time so a change
/// acts at once, an administrator and a member signed in with sessions.
async fn stack(region: &str) -> Stack {
    let sim = SimServer::start(SimConfig::default()).await.expect("sim");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().expect("sqlite"));
    let auth = AuthConfig::from_lookup(
        |k| (k == "ADMIN_PASSWORD").then(|| "s3cret-admin-pass".to_owned()),
        Duration::ZERO,
    );
    let app = Arc::new(AppState::build(store, auth).await.expect("app"));
    let config = GatewayConfig::from_lookup(region, |k| {
        (k == "SLUICE_BUDGET_CACHE_SECS").then(|| "0".to_owned())
    })
    .expect("config");
    let upstream = sluice_aws::BedrockUpstream::from_conf(&aws_sdk_config(sim.url()));
    let gateway = GatewayState::new(app.clone(), Arc::new(upstream), config);
    let router = gateway_router(Arc::new(gateway)).merge(admin_router(app.clone()));
    let admin = sluice_http::auth::new_user("root@example.com", Role::Admin, "test");
    let member = sluice_http::auth::new_user("mia@example.com", Role::Member, "test");
    app.store.create_user(&admin).await.expect("admin");
    app.store.create_user(&member).await.expect("member");
    Stack {
        admin: app.auth.sessions.issue(&admin, now_s()),
        member: app.auth.sessions.issue(&member, now_s()),
        member_id: member.id,
        router,
        app,
        _sim: sim,
    }
}

impl Stack {
    async fn send(
        &self,
        method: Method,
        path: &str,
        credential: &str,
        body: &Value,
    ) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {credential}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        (
            status,
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes))),
        )
    }

    async fn message(&self, credential: &str, model: &str) -> (StatusCode, Value) {
        let body = json!({"model": model, "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]});
        self.send(Method::POST, "/v1/messages", credential, &body)
            .await
    }

    async fn setting(&self, key: &str, value: Value) -> (StatusCode, Value) {
        let path = format!("/admin/settings/{key}");
        self.send(Method::PUT, &path, &self.admin, &json!({ "value": value }))
            .await
    }

    async fn create_key(&self, credential: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, "/admin/keys", credential, &body)
            .await
    }
}

fn refused_as_invalid(status: StatusCode, body: &Value) -> String {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["type"], "error", "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    body["error"]["message"]
        .as_str()
        .expect("message")
        .to_owned()
}

#[tokio::test]
async fn a_global_profile_under_an_eu_configuration_is_refused_with_the_way_to_allow_it() {
    let s = stack("eu-west-1").await;
    let (status, body) = s
        .message(
            &s.member,
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        )
        .await;
    let message = refused_as_invalid(status, &body);
    assert!(
        message.contains("outside this gateway's `eu` geography"),
        "{message}"
    );
    assert!(message.contains("allowed_bedrock_models"), "{message}");
    // count_tokens goes through the same gate.
    let count = json!({"model": "global.anthropic.claude-sonnet-4-5-20250929-v1:0", "messages": [{"role": "user", "content": "hi"}]});
    let (status, body) = s
        .send(Method::POST, "/v1/messages/count_tokens", &s.member, &count)
        .await;
    refused_as_invalid(status, &body);
}

#[tokio::test]
async fn a_us_profile_under_an_eu_configuration_is_refused_and_an_eu_profile_answers() {
    let s = stack("eu-west-1").await;
    let (status, body) = s
        .message(&s.member, "us.anthropic.claude-3-5-haiku-20241022-v1:0")
        .await;
    refused_as_invalid(status, &body);
    let (status, body) = s
        .message(&s.member, "eu.anthropic.claude-3-5-haiku-20241022-v1:0")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A catalogued name is routed through the eu profile and always allowed.
    let (status, body) = s.message(&s.member, "claude-sonnet-4-5").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn an_arn_of_another_region_is_refused_and_an_application_profile_needs_the_allowlist() {
    let s = stack("eu-west-1").await;
    let elsewhere = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-3-5-haiku-20241022-v1:0";
    let (status, body) = s.message(&s.member, elsewhere).await;
    let message = refused_as_invalid(status, &body);
    assert!(message.contains("region \"us-east-1\""), "{message}");
    let here = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-5-haiku-20241022-v1:0";
    let (status, body) = s.message(&s.member, here).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let app_profile = "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/team-a";
    let (status, body) = s.message(&s.member, app_profile).await;
    refused_as_invalid(status, &body);
    let (status, body) = s
        .setting("allowed_bedrock_models", json!([app_profile]))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = s.message(&s.member, app_profile).await;
    assert_eq!(status, StatusCode::OK, "allowlisted: {body}");
}

#[tokio::test]
async fn an_allowlisted_global_id_is_allowed_and_the_allowlist_is_validated() {
    let s = stack("eu-west-1").await;
    let id = "global.anthropic.claude-sonnet-4-5-20250929-v1:0";
    let (status, body) = s.setting("allowed_bedrock_models", json!(id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = s.message(&s.member, id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Only that id: another global id is still refused.
    let (status, body) = s
        .message(&s.member, "global.anthropic.claude-3-5-haiku-20241022-v1:0")
        .await;
    refused_as_invalid(status, &body);
    let (status, body) = s
        .setting("allowed_bedrock_models", json!({"not": "a list"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (_, listed) = s
        .send(Method::GET, "/admin/settings", &s.admin, &json!({}))
        .await;
    assert_eq!(listed["allowed_bedrock_models"], json!([id]), "{listed}");
}

#[tokio::test]
async fn a_person_signed_in_with_a_session_is_held_to_the_org_default_rate_limit() {
    let s = stack("us-east-1").await;
    let (_, listed) = s
        .send(Method::GET, "/admin/settings", &s.admin, &json!({}))
        .await;
    assert_eq!(
        listed["person_rate_limit_rpm"], 120,
        "the default: {listed}"
    );
    let (status, _) = s.setting("person_rate_limit_rpm", json!(0)).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "0 would switch the limit off"
    );
    let (status, body) = s.setting("person_rate_limit_rpm", json!(3)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    for _ in 0..3 {
        let (status, body) = s.message(&s.member, "claude-haiku-4-5").await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = s.message(&s.member, "claude-haiku-4-5").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("3 requests per minute across all their sign-ins and keys")),
        "{body}"
    );
    // Another person has their own counter.
    let (status, body) = s.message(&s.admin, "claude-haiku-4-5").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_persons_keys_without_limits_share_the_person_limit_with_their_session() {
    let s = stack("us-east-1").await;
    let (status, _) = s.setting("person_rate_limit_rpm", json!(2)).await;
    assert_eq!(status, StatusCode::OK);
    // Two keys the member made without a limit of their own.
    let mut secrets = Vec::new();
    for name in ["a", "b"] {
        let (status, key) = s.create_key(&s.member, json!({"name": name})).await;
        assert_eq!(status, StatusCode::CREATED, "{key}");
        secrets.push(key["key"].as_str().expect("secret").to_owned());
    }
    let (status, body) = s.message(&secrets[0], "claude-haiku-4-5").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = s.message(&secrets[1], "claude-haiku-4-5").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for credential in [&secrets[0], &secrets[1], &s.member] {
        let (status, body) = s.message(credential, "claude-haiku-4-5").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    }
}

#[tokio::test]
async fn a_member_cannot_own_more_keys_than_the_quota_whoever_creates_them() {
    let s = stack("us-east-1").await;
    let (_, listed) = s
        .send(Method::GET, "/admin/settings", &s.admin, &json!({}))
        .await;
    assert_eq!(listed["max_keys_per_person"], 20, "the default: {listed}");
    let (status, body) = s.setting("max_keys_per_person", json!("2")).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let mut ids = Vec::new();
    for name in ["one", "two"] {
        let (status, key) = s.create_key(&s.member, json!({"name": name})).await;
        assert_eq!(status, StatusCode::CREATED, "{key}");
        ids.push(key["id"].as_str().expect("id").to_owned());
    }
    let (status, body) = s.create_key(&s.member, json!({"name": "three"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["type"], "permission_error");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("max_keys_per_person = 2")),
        "{body}"
    );
    // An administrator creating a key for the member is held to the same quota.
    let (status, body) = s
        .create_key(&s.admin, json!({"name": "gift", "user_id": s.member_id}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // A revoked key frees its place.
    let (status, body) = s
        .send(
            Method::POST,
            &format!("/admin/keys/{}/revoke", ids[0]),
            &s.member,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = s.create_key(&s.member, json!({"name": "three"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        s.app.store.list_keys().await.expect("keys").len(),
        3,
        "two active and one revoked"
    );
}
