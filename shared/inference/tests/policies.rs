//! Policies on the request path, through the real router, the Bedrock SDK client and the simulator: each refusal's
//! status and message, what reaches Bedrock when a policy removes tools and lowers ceilings, the model list, the
//! policy's rate limit, the record of a refusal, and — on DynamoDB in moto — that a warm admission still makes only
//! the rate-limit writes.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sluice_bedrock_sim::SimConfig;
use sluice_core::policy::service::{self, Author};
use sluice_core::spend::usage::Outcome;
use sluice_core::store::{POLICIES_SETTING, Store};
use sluice_http::{AppState, AuthConfig, GatewayConfig};
use sluice_inference::{GatewayState, gateway_router};
use sluice_sqlite::SqliteStore;
use sluice_testkit::fixtures::{Person, person_in_team};
use sluice_testkit::{MotoServer, SimServer, aws_sdk_config, unique_name};
use tower::ServiceExt;

struct Gateway {
    router: axum::Router,
    store: Arc<dyn Store>,
    person: Person,
    sim: SimServer,
}

async fn set_policies(store: &dyn Store, policies: Value) {
    let version = service::stored(store).await.expect("read").version;
    service::replace(
        store,
        json!({ "policies": policies }),
        version,
        &[],
        Author {
            actor: "test".into(),
            at_ms: chrono::Utc::now().timestamp_millis(),
            change_id: sluice_core::clock::Ids::new_id(&sluice_adapters::OsIds, "c"),
        },
    )
    .await
    .expect("policies saved");
}

/// A gateway on SQLite with a person (in the `contractors` identity-provider group) and their key, and the
/// document `policies` (its `{team}` entries become the person's team id).
async fn gateway(policies: Value) -> Gateway {
    let sim = SimServer::start(SimConfig::default()).await.expect("sim");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().expect("sqlite"));
    let mut person = person_in_team(store.as_ref(), None).await;
    person.user.groups.idp = vec!["contractors".into(), "staff".into()];
    store.update_user(&person.user).await.expect("groups");
    let text = policies.to_string().replace("{team}", &person.team.id);
    set_policies(store.as_ref(), serde_json::from_str(&text).expect("json")).await;
    let mut config = GatewayConfig::from_lookup("us-east-1", |_| None).expect("config");
    config.key_cache_ttl = Duration::ZERO;
    config.budget_cache_ttl = Duration::ZERO;
    let app = AppState::build(
        Arc::clone(&store),
        AuthConfig::from_lookup(|_| None, Duration::ZERO),
    )
    .await
    .expect("app");
    let upstream = sluice_aws::BedrockUpstream::from_conf(&aws_sdk_config(sim.url()));
    let state = GatewayState::new(Arc::new(app), Arc::new(upstream), config);
    Gateway {
        router: gateway_router(Arc::new(state)),
        store,
        person,
        sim,
    }
}

fn contractors() -> Value {
    json!([
        {"name": "contractors", "match": {"idp_groups": ["contractors"]},
         "rules": {"models": {"allow": ["haiku"]}, "tools": {"deny": ["Bash", "mcp__computer*"]},
                   "max_tokens": 4096, "context_1m": false, "web_search": false}},
        {"name": "everyone", "match": {}, "rules": {}}
    ])
}

impl Gateway {
    async fn send(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let (parts, body) = resp.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    async fn post(&self, path: &str, body: &Value) -> (StatusCode, axum::http::HeaderMap, String) {
        let req = Request::post(path)
            .header("x-api-key", &self.person.secret)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        self.send(req).await
    }

    async fn sim_requests(&self) -> Vec<Value> {
        reqwest::get(format!("{}/_sim/requests", self.sim.url()))
            .await
            .expect("sim")
            .json()
            .await
            .expect("json")
    }
}

fn message(model: &str) -> Value {
    json!({"model": model, "max_tokens": 32000, "stream": false,
           "messages": [{"role": "user", "content": "hi"}]})
}

fn error_of(body: &str) -> (String, String) {
    let v: Value = serde_json::from_str(body).expect("json error");
    assert_eq!(v["type"], "error", "{body}");
    (
        v["error"]["type"].as_str().expect("type").to_owned(),
        v["error"]["message"].as_str().expect("message").to_owned(),
    )
}

#[tokio::test]
async fn a_denied_model_is_400_naming_the_policy_and_the_models_allowed_and_is_recorded() {
    let gw = gateway(contractors()).await;
    let (status, _, body) = gw.post("/v1/messages", &message("claude-opus-4-8")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (kind, text) = error_of(&body);
    assert_eq!(kind, "invalid_request_error");
    assert!(
        text.contains("claude-opus-4-8")
            && text.contains("\"contractors\"")
            && text.contains("Models you may use: claude-haiku-4-5"),
        "{text}"
    );
    assert!(
        gw.sim_requests().await.is_empty(),
        "nothing reached Bedrock"
    );
    // Neither does a raw Bedrock id or a dated alias of a model step around the policy.
    for other in ["us.anthropic.claude-opus-4-8", "claude-sonnet-4-5-20250929"] {
        let (status, _, body) = gw.post("/v1/messages", &message(other)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{other}: {body}");
        assert!(error_of(&body).1.contains("\"contractors\""), "{body}");
    }
    // The refusal is a usage-ledger event (no tokens, no cost) and a `policy_refused` notification event.
    let now = chrono::Utc::now().timestamp_millis();
    let records = gw
        .store
        .usage_between(now - 60_000, now + 1)
        .await
        .expect("usage");
    assert_eq!(records.len(), 3, "one record per refusal: {records:#?}");
    let record = records
        .iter()
        .find(|r| r.requested_model == "claude-opus-4-8")
        .expect("the first refusal's record");
    assert_eq!(record.outcome, Outcome::PolicyRefused);
    let note = record.policy_refusal.as_ref().expect("note");
    assert_eq!(
        (
            note.policy.as_str(),
            note.rule.as_str(),
            note.refused.as_str()
        ),
        ("contractors", "models", "claude-opus-4-8")
    );
    assert_eq!(record.user_id.as_deref(), Some(gw.person.user.id.as_str()));
    // Three refusals of one person by one rule within the minute: one event.
    let events = gw.store.recent_events(10).await.expect("events");
    let refused: Vec<_> = events
        .iter()
        .filter(|e| e.payload.event_type.as_str() == "policy_refused")
        .collect();
    assert_eq!(refused.len(), 1, "{events:?}");
    assert_eq!(
        refused[0].payload.user_identity.as_deref(),
        Some(gw.person.user.email.as_str())
    );
}

#[tokio::test]
async fn denied_tools_are_removed_before_bedrock_and_ceilings_lowered() {
    let gw = gateway(contractors()).await;
    let mut body = message("claude-haiku-4-5");
    body["tools"] = json!([
        {"name": "Bash", "input_schema": {"type": "object"}},
        {"name": "Read", "input_schema": {"type": "object"}},
        {"name": "mcp__computer__click", "input_schema": {"type": "object"}}
    ]);
    let (status, headers, text) = gw.post("/v1/messages", &body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(headers["x-sluice-policy"], "contractors");
    let seen = gw.sim_requests().await;
    let sent = &seen.last().expect("one request")["body"];
    let names: Vec<&str> = sent["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["Read"]);
    assert_eq!(sent["max_tokens"], 4096);
}

#[tokio::test]
async fn tool_choice_naming_a_denied_tool_and_the_1m_context_are_refused() {
    let gw = gateway(contractors()).await;
    let mut body = message("claude-haiku-4-5");
    body["tools"] = json!([{"name": "Bash", "input_schema": {"type": "object"}}]);
    body["tool_choice"] = json!({"type": "tool", "name": "Bash"});
    let (status, _, text) = gw.post("/v1/messages", &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    let (_, message_text) = error_of(&text);
    assert!(
        message_text.contains("The tool Bash is denied")
            && message_text.contains("\"contractors\""),
        "{message_text}"
    );

    let (status, _, text) = gw
        .post("/v1/messages", &message("claude-haiku-4-5[1m]"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(error_of(&text).1.contains("1M-token context"), "{text}");
    // count_tokens is held to the same policy.
    let (status, _, text) = gw
        .post("/v1/messages/count_tokens", &message("claude-opus-4-8"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(gw.sim_requests().await.is_empty());
}

#[tokio::test]
async fn the_model_list_shows_only_the_models_allowed() {
    let gw = gateway(contractors()).await;
    let req = Request::get("/v1/models?limit=100")
        .header("x-api-key", &gw.person.secret)
        .body(Body::empty())
        .expect("req");
    let (status, _, text) = gw.send(req).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let v: Value = serde_json::from_str(&text).expect("json");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(ids, ["claude-haiku-4-5"]);
}

#[tokio::test]
async fn a_caller_no_policy_matches_is_not_restricted() {
    let gw = gateway(
        json!([{"name": "others", "match": {"idp_groups": ["others"]},
                              "rules": {"models": {"allow": ["haiku"]}}}]),
    )
    .await;
    let (status, headers, text) = gw.post("/v1/messages", &message("claude-opus-4-8")).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(headers.get("x-sluice-policy").is_none());
}

#[tokio::test]
async fn teams_match_and_the_policy_rate_limit_lowers_the_persons() {
    let gw = gateway(json!([{"name": "slow team", "match": {"teams": ["{team}"]},
                              "rules": {"requests_per_minute": 2}}]))
    .await;
    for _ in 0..2 {
        let (status, _, text) = gw.post("/v1/messages", &message("claude-opus-4-8")).await;
        assert_eq!(status, StatusCode::OK, "{text}");
    }
    let (status, headers, text) = gw.post("/v1/messages", &message("claude-opus-4-8")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{text}");
    let (kind, message_text) = error_of(&text);
    assert_eq!(kind, "rate_limit_error");
    assert!(
        message_text.contains("\"slow team\" allows 2 requests per minute"),
        "{message_text}"
    );
    assert!(headers.contains_key("retry-after"));
}

#[tokio::test]
async fn an_unreadable_policy_document_refuses_every_request() {
    let gw = gateway(contractors()).await;
    gw.store
        .put_setting(POLICIES_SETTING, "{not json")
        .await
        .expect("corrupt");
    let (status, _, text) = gw.post("/v1/messages", &message("claude-haiku-4-5")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{text}");
    assert!(
        error_of(&text).1.contains("policies cannot be read"),
        "{text}"
    );
}

#[tokio::test]
async fn a_warm_admission_with_policies_still_makes_only_the_rate_limit_writes() {
    let moto = MotoServer::shared().expect("moto");
    let config = aws_sdk_config(moto.endpoint_url());
    let table = unique_name("sluice-policy");
    sluice_aws::create_table(&config, &table)
        .await
        .expect("table");
    let (client, log) = sluice_testkit::calls::counting_dynamodb_client(&config);
    let store: Arc<dyn Store> = Arc::new(sluice_aws::DynamoStore::new(client, table));
    let person = person_in_team(store.as_ref(), Some(1000)).await;
    set_policies(
        store.as_ref(),
        json!([{"name": "team", "match": {"teams": [person.team.id]},
                "rules": {"models": {"allow": ["haiku"]}, "requests_per_minute": 500}}]),
    )
    .await;
    let app = AppState::build(
        Arc::clone(&store),
        AuthConfig::from_lookup(|_| None, Duration::from_secs(5)),
    )
    .await
    .expect("app");
    let gw = GatewayState::new(
        Arc::new(app),
        Arc::new(sluice_aws::bedrock_upstream(&config)),
        GatewayConfig::from_lookup("us-east-1", |_| None).expect("config"),
    );
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-api-key",
        HeaderValue::from_str(&person.secret).expect("ascii"),
    );
    let cold = gw.admit(&headers).await.expect("cold");
    assert_eq!(
        cold.matched().map(|m| m.policy.name.clone()).as_deref(),
        Some("team")
    );
    let _ = log.take();
    let warm = gw.admit(&headers).await.expect("warm");
    assert!(warm.matched().is_some());
    assert_eq!(log.take(), ["UpdateItem", "UpdateItem"]);
}
