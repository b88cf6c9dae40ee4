//! The usage ledger, gateway side: every request that reached Bedrock leaves exactly one usage record — complete,
//! failed mid-stream, or cut off by the client — written before the response body ends.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures::StreamExt;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sluice_bedrock_sim::SimConfig;
use sluice_core::keys::mint;
use sluice_core::spend::{Outcome, UsageRecord};
use sluice_core::store::{Store, UsageStore, VirtualKey};
use sluice_http::{AppState, AuthConfig, GatewayConfig};
use sluice_inference::{GatewayState, gateway_router};
use sluice_sqlite::SqliteStore;
use sluice_testkit::{SimServer, aws_sdk_config};
use tower::ServiceExt;

struct Env {
    router: axum::Router,
    store: Arc<dyn Store>,
    key: String,
    key_id: String,
    _sim: SimServer,
}

async fn env() -> Env {
    let sim = SimServer::start(SimConfig::default()).await.expect("sim");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().expect("sqlite"));
    let m = mint(&sluice_adapters::OsIds);
    store
        .create_key(&VirtualKey {
            id: m.id.clone(),
            name: "usage".into(),
            key_hash: m.key_hash,
            prefix: m.prefix,
            created_at_ms: 1,
            revoked_at_ms: None,
            user_id: None,
            team_id: Some("team_a".into()),
            rate_limit_rpm: None,
        })
        .await
        .expect("key");
    let config = GatewayConfig::from_lookup("us-east-1", |_| None).expect("config");
    let app = AppState::build(
        Arc::clone(&store),
        AuthConfig::from_lookup(|_| None, Duration::ZERO),
    )
    .await
    .expect("app");
    let upstream = sluice_aws::BedrockUpstream::from_conf(&aws_sdk_config(sim.url()));
    let router = gateway_router(Arc::new(GatewayState::new(
        Arc::new(app),
        Arc::new(upstream),
        config,
    )));
    Env {
        router,
        store,
        key: m.secret,
        key_id: m.id,
        _sim: sim,
    }
}

fn body(text: &str, stream: bool) -> String {
    json!({
        "model": "claude-opus-4-8", "max_tokens": 256, "stream": stream,
        "tools": [{"name": "Bash", "description": "Run a command", "input_schema": {"type": "object"}}],
        "messages": [{"role": "user", "content": text}]
    })
    .to_string()
}

impl Env {
    fn request(&self, text: &str, stream: bool) -> Request<Body> {
        Request::post("/v1/messages")
            .header("x-api-key", &self.key)
            .header("x-claude-code-session-id", "sess-123")
            .body(Body::from(body(text, stream)))
            .expect("request")
    }

    /// Sends a request and reads the whole answer; returns the request id and the body.
    async fn send(&self, text: &str, stream: bool) -> (String, String) {
        let resp = self
            .router
            .clone()
            .oneshot(self.request(text, stream))
            .await
            .expect("infallible");
        assert_eq!(resp.status(), StatusCode::OK);
        let id = resp.headers()["request-id"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        (id, String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn record(&self, request_id: &str) -> Option<UsageRecord> {
        self.store
            .usage_by_request(request_id)
            .await
            .expect("store")
    }
}

#[tokio::test]
async fn streamed_answer_is_recorded_complete_and_priced_before_the_body_ends() {
    let env = env().await;
    let (id, sse) = env.send("sim:cache sim:tool_use go", true).await;
    assert!(sse.contains("event: message_stop"));
    // Read right after the body ended: the write happened before it did.
    let r = env.record(&id).await.expect("recorded when the body ended");
    assert_eq!(r.outcome, Outcome::Complete);
    assert_eq!(
        (r.key_id.as_str(), r.team_id.as_deref()),
        (env.key_id.as_str(), Some("team_a"))
    );
    assert_eq!(
        (r.requested_model.as_str(), r.bedrock_model_id.as_str()),
        ("claude-opus-4-8", "us.anthropic.claude-opus-4-8")
    );
    assert!(r.stream && r.input_tokens > 0 && r.output_tokens > 0);
    assert_eq!((r.cache_read_tokens, r.cache_write_tokens), (3400, 1200));
    assert_eq!(
        (r.cache_write_5m_tokens, r.cache_write_1h_tokens),
        (Some(1000), Some(200))
    );
    assert_eq!(r.tool_names, ["Bash"], "the tools of this turn");
    assert_eq!(r.stop_reason.as_deref(), Some("tool_use"));
    assert_eq!(r.session_id.as_deref(), Some("sess-123"));
    assert!(r.invocation_metrics.is_some(), "Bedrock's metrics are kept");
    assert!(
        r.cost_micros.is_some_and(|c| c > 0),
        "opus 4.8 is priced: {:?}",
        r.cost_micros
    );
}

#[tokio::test]
async fn non_streamed_answer_is_recorded_before_it_is_returned() {
    let env = env().await;
    let (id, json) = env.send("hello", false).await;
    let msg: Value = serde_json::from_str(&json).expect("json");
    let r = env.record(&id).await.expect("recorded");
    assert_eq!((r.outcome, r.stream), (Outcome::Complete, false));
    assert_eq!(
        r.output_tokens,
        msg["usage"]["output_tokens"].as_u64().expect("n")
    );
}

#[tokio::test]
async fn mid_stream_failure_is_recorded_with_the_usage_seen_so_far() {
    let env = env().await;
    let (id, sse) = env.send("sim:midstream_error=internal", true).await;
    assert!(sse.contains("event: error"));
    let r = env.record(&id).await.expect("recorded");
    assert_eq!(r.outcome, Outcome::UpstreamError);
    assert!(r.input_tokens > 0, "message_start's usage was seen");
}

#[tokio::test]
async fn client_disconnect_is_recorded_and_each_request_exactly_once() {
    let env = env().await;
    let resp = env
        .router
        .clone()
        .oneshot(env.request("sim:slow=100 sim:long=40", true))
        .await
        .expect("infallible");
    let id = resp.headers()["request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let mut stream = resp.into_body().into_data_stream();
    let first = stream.next().await.expect("a frame").expect("data");
    assert!(String::from_utf8_lossy(&first).starts_with("event: message_start"));
    drop(stream); // the client goes away
    let mut found = None;
    for _ in 0..100 {
        if let Some(r) = env.record(&id).await {
            found = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = found.expect("a disconnected request is still recorded");
    assert_eq!(r.outcome, Outcome::ClientDisconnected);
    assert!(r.input_tokens > 0);
    // Other requests on the same store: one record each.
    let (a, _) = env.send("one", true).await;
    let (b, _) = env.send("two", false).await;
    let all = env.store.usage_between(0, i64::MAX).await.expect("list");
    for want in [&id, &a, &b] {
        assert_eq!(
            all.iter().filter(|r| &r.request_id == want).count(),
            1,
            "{want}"
        );
    }
}

/// Under Lambda the runtime sends the body from a task of its own and drops it when that send fails (the Function
/// URL's client went away); the record is then written by the invocation itself, before it returns — that is,
/// before the runtime asks for the next event — not by a task left running into the freeze.
#[tokio::test]
async fn under_lambda_a_dropped_body_is_recorded_before_the_invocation_returns() {
    let env = env().await;
    let id = sluice_http::serve::within_invocation(async {
        let resp = env
            .router
            .clone()
            .oneshot(env.request("sim:slow=100 sim:long=40", true))
            .await
            .expect("infallible");
        let id = resp.headers()["request-id"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let mut stream = resp.into_body().into_data_stream();
        let first = stream.next().await.expect("a frame").expect("data");
        assert!(String::from_utf8_lossy(&first).starts_with("event: message_start"));
        drop(stream); // the runtime could not send the rest
        id
    })
    .await;
    // No waiting: the invocation returned after the write.
    let r = env
        .record(&id)
        .await
        .expect("recorded before the invocation returned");
    assert_eq!(r.outcome, Outcome::ClientDisconnected);
    assert!(r.input_tokens > 0);
}

/// Under Lambda the runtime's send of the body can return while the body is still streaming (the Runtime API may
/// answer the POST before the body ends; `cargo lambda watch` does). The invocation does not return then: it waits
/// for the body — here read for a while, then dropped as when the client goes away — and for its record.
#[tokio::test]
async fn under_lambda_the_invocation_waits_for_a_body_still_streaming_after_its_send_returned() {
    let env = env().await;
    let body_gone = std::cell::Cell::new(false);
    let (handed, stream) = tokio::sync::oneshot::channel();
    let invocation = async {
        let id = sluice_http::serve::within_invocation(async {
            let resp = env
                .router
                .clone()
                .oneshot(env.request("sim:slow=100 sim:long=40", true))
                .await
                .expect("infallible");
            let id = resp.headers()["request-id"]
                .to_str()
                .expect("ascii")
                .to_owned();
            handed
                .send(resp.into_body().into_data_stream())
                .expect("reader waits");
            id // the send has returned; the body is still streaming
        })
        .await;
        assert!(body_gone.get(), "the invocation waited for the body");
        id
    };
    // Like the runtime's sending task, which goes on reading after the invocation's send has returned.
    let reader = async {
        let mut stream = stream.await.expect("the body");
        for _ in 0..3 {
            stream.next().await.expect("a frame").expect("data");
        }
        drop(stream); // the client goes away
        body_gone.set(true);
    };
    let (id, ()) = tokio::join!(invocation, reader);
    let r = env
        .record(&id)
        .await
        .expect("recorded before the invocation returned");
    assert_eq!(r.outcome, Outcome::ClientDisconnected);
    assert!(r.input_tokens > 0);
}

/// A stream read to its end inside an invocation is recorded complete, once, and does not hold the invocation open.
#[tokio::test]
async fn under_lambda_a_complete_stream_is_recorded_once_and_the_invocation_returns() {
    let env = env().await;
    let (id, sse) = tokio::time::timeout(
        Duration::from_secs(30),
        sluice_http::serve::within_invocation(env.send("hello", true)),
    )
    .await
    .expect("the invocation returned");
    assert!(sse.contains("event: message_stop"));
    let r = env.record(&id).await.expect("recorded");
    assert_eq!(r.outcome, Outcome::Complete);
}

/// Locally, records the store refuses go to a JSON-lines file, and `replay` puts them into a working store once.
#[tokio::test]
async fn refused_records_go_to_the_file_fallback_and_replay_once() {
    use sluice_adapters::FileUsageFallback;
    use sluice_core::spend::PriceTable;
    use sluice_inference::usage::{UsageContext, UsageLedger};

    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("usage-fallback.jsonl");
    let moto = sluice_testkit::MotoServer::shared().expect("moto");
    let broken: Arc<dyn Store> = Arc::new(sluice_aws::dynamo_store(
        &aws_sdk_config(moto.endpoint_url()),
        "no-such-table",
    ));
    let fallback = Arc::new(FileUsageFallback::new(&path));
    let ledger = UsageLedger::new(broken, PriceTable::seeded()).with_fallback(fallback.clone());
    let context = UsageContext {
        request_id: "req_kept".into(),
        time_ms: 1_800_000_000_000,
        started: std::time::Instant::now(),
        key_id: Some("key_x".into()),
        user_id: None,
        team_id: None,
        requested_model: "claude-haiku-4-5".into(),
        bedrock_model_id: "us.anthropic.claude-haiku-4-5-20251001-v1:0".into(),
        stream: false,
        thinking: false,
        session_id: None,
        region: None,
    };
    let usage = sluice_core::translate::UsageSeen {
        input_tokens: 3,
        output_tokens: 4,
        ..Default::default()
    };
    ledger
        .write(context.record(&usage, Outcome::Complete, None))
        .await;
    let kept = std::fs::read_to_string(&path).expect("fallback file written");
    assert_eq!(kept.lines().count(), 1);
    assert!(kept.contains("\"request_id\":\"req_kept\""), "{kept}");

    let working = SqliteStore::open_in_memory().expect("sqlite");
    assert_eq!(fallback.replay(&working).await.expect("replay"), (1, 0));
    let r = working
        .usage_by_request("req_kept")
        .await
        .expect("get")
        .expect("replayed");
    assert_eq!((r.input_tokens, r.output_tokens), (3, 4));
    assert!(r.cost_micros.is_some(), "priced before it was kept");
    assert_eq!(
        fallback.replay(&working).await.expect("replay again"),
        (0, 0),
        "the file was emptied"
    );
}
