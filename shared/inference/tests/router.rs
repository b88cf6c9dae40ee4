//! The gateway router end to end without a socket on our side: `oneshot` requests through the real router, the real
//! Bedrock SDK client, the Bedrock simulator on loopback, and an in-memory SQLite key store.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sluice_bedrock_sim::SimConfig;
use sluice_core::keys::mint;
use sluice_core::store::{KeyStore, VirtualKey};
use sluice_http::{AppState, AuthConfig, GatewayConfig};
use sluice_inference::{GatewayState, gateway_router};
use sluice_sqlite::SqliteStore;
use sluice_testkit::{SimServer, aws_sdk_config};
use tower::ServiceExt;

struct Gateway {
    router: axum::Router,
    store: Arc<SqliteStore>,
    key: String,
    sim: SimServer,
}

async fn gateway_with(sim_config: SimConfig, tweak: impl FnOnce(&mut GatewayConfig)) -> Gateway {
    gateway_searching(sim_config, tweak, None).await
}

/// A gateway whose searches go to `search` (none: the web search tool is removed, as without providers).
async fn gateway_searching(
    sim_config: SimConfig,
    tweak: impl FnOnce(&mut GatewayConfig),
    search: Option<Arc<dyn sluice_core::websearch::WebSearchProviders>>,
) -> Gateway {
    gateway_with_tools(sim_config, tweak, search, None).await
}

/// As [`gateway_searching`], also fetching pages with `fetch`.
async fn gateway_with_tools(
    sim_config: SimConfig,
    tweak: impl FnOnce(&mut GatewayConfig),
    search: Option<Arc<dyn sluice_core::websearch::WebSearchProviders>>,
    fetch: Option<Arc<dyn sluice_core::websearch::WebFetch>>,
) -> Gateway {
    let sim = SimServer::start(sim_config).await.expect("sim");
    let store = Arc::new(SqliteStore::open_in_memory().expect("sqlite"));
    let minted = mint(&sluice_adapters::OsIds);
    store
        .create_key(&VirtualKey {
            id: minted.id.clone(),
            name: "test".into(),
            key_hash: minted.key_hash.clone(),
            prefix: minted.prefix.clone(),
            created_at_ms: 1,
            revoked_at_ms: None,
            user_id: None,
            team_id: None,
            rate_limit_rpm: None,
        })
        .await
        .expect("key");
    let mut config = GatewayConfig::from_lookup("us-east-1", |_| None).expect("config");
    config.key_cache_ttl = Duration::ZERO;
    tweak(&mut config);
    let mut app = AppState::build(
        store.clone(),
        AuthConfig::from_lookup(|_| None, config.key_cache_ttl),
    )
    .await
    .expect("app");
    if let Some(search) = search {
        app = app.with_web_search(search);
    }
    if let Some(fetch) = fetch {
        app = app.with_web_fetch(fetch);
    }
    let upstream = sluice_aws::BedrockUpstream::from_conf(&aws_sdk_config(sim.url()));
    let state = GatewayState::new(Arc::new(app), Arc::new(upstream), config);
    Gateway {
        router: gateway_router(Arc::new(state)),
        store,
        key: minted.secret,
        sim,
    }
}

async fn gateway() -> Gateway {
    gateway_with(SimConfig::default(), |_| {}).await
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

    fn post(&self, path: &str, body: &Value) -> Request<Body> {
        Request::post(path)
            .header("x-api-key", &self.key)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request")
    }

    async fn sim_requests(&self) -> Vec<Value> {
        let text = reqwest_get(&format!("{}/_sim/requests", self.sim.url())).await;
        serde_json::from_str(&text).expect("sim requests")
    }
}

/// Minimal HTTP GET over a TCP socket (the simulator's introspection endpoint), to avoid an HTTP client dependency.
async fn reqwest_get(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').expect("path");
    let mut s = tokio::net::TcpStream::connect(host).await.expect("connect");
    s.write_all(
        format!("GET /{path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .expect("body");
    if text
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        // De-chunk: size line, data, CRLF, ... 0.
        let mut out = String::new();
        let mut rest = body.as_str();
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).expect("chunk size");
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            rest = &tail[n + 2..];
        }
        out
    } else {
        body
    }
}

fn messages_body(text: &str, stream: bool) -> Value {
    json!({"model": "claude-opus-4-8", "max_tokens": 256, "stream": stream, "messages": [{"role": "user", "content": text}]})
}

fn error_type(body: &str) -> String {
    let v: Value = serde_json::from_str(body).expect("json error");
    assert_eq!(v["type"], "error", "{body}");
    v["error"]["type"].as_str().expect("type").to_owned()
}

#[tokio::test]
async fn streams_sse_with_requested_model_and_request_id() {
    let gw = gateway().await;
    let (status, headers, body) = gw
        .send(gw.post("/v1/messages?beta=true", &messages_body("hi", true)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["content-type"], "text/event-stream");
    assert!(
        headers["request-id"]
            .to_str()
            .expect("ascii")
            .starts_with("req_")
    );
    assert!(body.starts_with("event: message_start\ndata: "), "{body}");
    assert!(body.contains("\"model\":\"claude-opus-4-8\""));
    assert!(
        body.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
        "{body}"
    );
    assert!(!body.contains("amazon-bedrock-invocationMetrics"));
}

#[tokio::test]
async fn non_streaming_answer_is_an_anthropic_message() {
    let gw = gateway().await;
    let (status, _, body) = gw
        .send(gw.post("/v1/messages", &messages_body("sim:cache hello", false)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let msg: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(msg["type"], "message");
    assert_eq!(msg["model"], "claude-opus-4-8");
    assert_eq!(msg["usage"]["cache_read_input_tokens"], 3400);
}

#[tokio::test]
async fn bedrock_receives_a_shaped_body_on_the_inference_profile() {
    let gw = gateway().await;
    let mut body = messages_body("hi", true);
    body["messages"] =
        json!([{"role": "user", "content": "hi"}, {"role": "system", "content": "be brief"}]);
    body["service_tier"] = json!("auto");
    let req = Request::post("/v1/messages")
        .header("x-api-key", &gw.key)
        .header("anthropic-beta", "claude-code-20250219,interleaved-thinking-2025-05-14,mid-conversation-system-2026-04-07")
        .body(Body::from(body.to_string()))
        .expect("req");
    let (status, _, text) = gw.send(req).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let seen = gw.sim_requests().await;
    let last = seen.last().expect("one request");
    assert_eq!(last["model_id"], "us.anthropic.claude-opus-4-8");
    let sent = &last["body"];
    assert_eq!(sent["anthropic_version"], "bedrock-2023-05-31");
    assert_eq!(
        sent["anthropic_beta"],
        json!(["interleaved-thinking-2025-05-14"])
    );
    assert!(
        sent.get("model").is_none()
            && sent.get("stream").is_none()
            && sent.get("service_tier").is_none()
    );
    assert_eq!(sent["messages"][0]["content"][1]["text"], "be brief");
}

#[tokio::test]
async fn rejected_beta_is_learned_and_the_request_retried_once() {
    let sim = SimConfig {
        reject_betas: vec!["interleaved-thinking-2025-05-14".into()],
        ..SimConfig::default()
    };
    let gw = gateway_with(sim, |_| {}).await;
    let req = || {
        Request::post("/v1/messages")
            .header("x-api-key", &gw.key)
            .header("anthropic-beta", "interleaved-thinking-2025-05-14")
            .body(Body::from(messages_body("hi", false).to_string()))
            .expect("req")
    };
    let (status, _, body) = gw.send(req()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(gw.sim_requests().await.len(), 2, "one rejection, one retry");
    let (status, _, _) = gw.send(req()).await;
    assert_eq!(status, StatusCode::OK);
    let seen = gw.sim_requests().await;
    assert_eq!(seen.len(), 3, "learned: the third request goes out once");
    assert!(seen[2]["body"].get("anthropic_beta").is_none());
}

#[tokio::test]
async fn upstream_errors_map_to_anthropic_statuses() {
    let gw = gateway().await;
    let cases = [
        ("sim:throttle", 429, "rate_limit_error"),
        ("sim:unavailable", 529, "overloaded_error"),
        ("sim:access_denied", 403, "permission_error"),
        ("sim:not_found", 404, "not_found_error"),
        ("sim:internal", 500, "api_error"),
        ("sim:quota", 429, "rate_limit_error"),
        ("sim:too_long", 400, "invalid_request_error"),
    ];
    for (marker, status, ty) in cases {
        let (got, headers, body) = gw
            .send(gw.post("/v1/messages", &messages_body(marker, true)))
            .await;
        assert_eq!(
            (got.as_u16(), error_type(&body).as_str()),
            (status, ty),
            "{marker}: {body}"
        );
        assert!(headers.contains_key("request-id"));
        if status == 429 {
            assert!(headers.contains_key("retry-after"), "{marker}");
        }
        if marker == "sim:too_long" {
            assert!(body.contains("\"message\":\"prompt is too long"), "{body}");
        }
    }
}

#[tokio::test]
async fn mid_stream_exception_ends_with_an_error_event() {
    let gw = gateway().await;
    let (status, _, body) = gw
        .send(gw.post(
            "/v1/messages",
            &messages_body("sim:midstream_error=throttling", true),
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("event: content_block_delta"), "{body}");
    let last = body.trim_end().rsplit("\n\n").next().expect("last frame");
    assert!(
        last.starts_with(
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\""
        ),
        "{last}"
    );
}

#[tokio::test]
async fn silence_upstream_produces_ping_events() {
    let gw = gateway_with(SimConfig::default(), |c| {
        c.ping_interval = Duration::from_millis(200);
    })
    .await;
    let (status, _, body) = gw
        .send(gw.post("/v1/messages", &messages_body("sim:silence=0.7", true)))
        .await;
    assert_eq!(status, StatusCode::OK);
    let start = body.find("event: message_start").expect("start");
    let ping = body
        .find("event: ping\ndata: {\"type\":\"ping\"}\n\n")
        .expect("a ping");
    assert!(ping > start, "ping after message_start");
    assert!(body.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
}

#[tokio::test]
async fn authentication_failures_are_401_in_the_envelope() {
    let gw = gateway().await;
    let no_key = Request::post("/v1/messages")
        .body(Body::from(messages_body("hi", false).to_string()))
        .expect("req");
    let (status, _, body) = gw.send(no_key).await;
    assert_eq!(
        (status, error_type(&body).as_str()),
        (StatusCode::UNAUTHORIZED, "authentication_error")
    );
    let bad = Request::post("/v1/messages")
        .header("x-api-key", "sk-sluice-nope")
        .body(Body::from(messages_body("hi", false).to_string()))
        .expect("req");
    assert_eq!(gw.send(bad).await.0, StatusCode::UNAUTHORIZED);
    let bearer = Request::post("/v1/messages")
        .header("authorization", format!("Bearer {}", gw.key))
        .body(Body::from(messages_body("hi", false).to_string()))
        .expect("req");
    assert_eq!(gw.send(bearer).await.0, StatusCode::OK);
    let id = gw.store.list_keys().await.expect("list")[0].id.clone();
    gw.store.revoke_key(&id, 2).await.expect("revoke");
    let (status, _, body) = gw
        .send(gw.post("/v1/messages", &messages_body("hi", false)))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("revoked"), "{body}");
}

#[tokio::test]
async fn bad_requests_are_400_404_and_413() {
    let gw = gateway_with(SimConfig::default(), |c| {
        c.max_body_bytes = 1024;
    })
    .await;
    let raw = |body: &str| {
        Request::post("/v1/messages")
            .header("x-api-key", &gw.key)
            .body(Body::from(body.to_owned()))
            .expect("req")
    };
    let (status, _, body) = gw.send(raw("{not json")).await;
    assert_eq!(
        (status, error_type(&body).as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request_error")
    );
    let (status, _, body) = gw
        .send(raw(r#"{"model":"claude-opus-4-8","messages":[]}"#))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("max_tokens"), "{body}");
    let mut unknown = messages_body("hi", false);
    unknown["model"] = json!("claude-opus-4");
    let (status, _, body) = gw.send(gw.post("/v1/messages", &unknown)).await;
    assert_eq!(
        (status, error_type(&body).as_str()),
        (StatusCode::NOT_FOUND, "not_found_error")
    );
    let (status, _, body) = gw
        .send(gw.post("/v1/messages", &messages_body(&"x".repeat(2000), false)))
        .await;
    assert_eq!(
        (status, error_type(&body).as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "request_too_large")
    );
    let (status, headers, body) = gw
        .send(Request::get("/nope").body(Body::empty()).expect("req"))
        .await;
    assert_eq!(
        (status, error_type(&body).as_str()),
        (StatusCode::NOT_FOUND, "not_found_error")
    );
    assert!(headers.contains_key("request-id"));
}

#[tokio::test]
async fn count_tokens_uses_bedrock_on_the_base_id_then_estimates_and_caches() {
    let gw = gateway().await;
    let body = |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "count these words please"}]});
    let (status, h, text) = gw
        .send(gw.post(
            "/v1/messages/count_tokens?beta=true",
            &body("claude-sonnet-4-5"),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(
        (&h["x-sluice-count-source"], &h["x-sluice-cache"]),
        (&"bedrock".parse().expect("h"), &"miss".parse().expect("h"))
    );
    let seen = gw.sim_requests().await;
    assert_eq!(
        seen.last().expect("count")["model_id"],
        "anthropic.claude-sonnet-4-5-20250929-v1:0"
    );
    let (_, h, _) = gw
        .send(gw.post("/v1/messages/count_tokens", &body("claude-sonnet-4-5")))
        .await;
    assert_eq!(h["x-sluice-cache"], "hit");
    assert_eq!(
        gw.sim_requests().await.len(),
        seen.len(),
        "a cache hit does not reach Bedrock"
    );
    let (status, h, text) = gw
        .send(gw.post("/v1/messages/count_tokens", &body("claude-opus-4-8")))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["x-sluice-count-source"], "estimate");
    let n = serde_json::from_str::<Value>(&text).expect("json")["input_tokens"]
        .as_u64()
        .expect("n");
    assert!(n >= 24 / 3, "{n}");
}

#[tokio::test]
async fn models_list_has_the_anthropic_shape_and_needs_a_key() {
    let gw = gateway().await;
    let (status, _, _) = gw
        .send(Request::get("/v1/models").body(Body::empty()).expect("req"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let get = |path: &str| {
        Request::get(path)
            .header("x-api-key", &gw.key)
            .body(Body::empty())
            .expect("req")
    };
    let (status, _, text) = gw.send(get("/v1/models?limit=1000")).await;
    assert_eq!(status, StatusCode::OK);
    let list: Value = serde_json::from_str(&text).expect("json");
    let data = list["data"].as_array().expect("data");
    assert!(data.len() >= 8);
    assert!(data.iter().all(|m| m["type"] == "model"
        && m["id"].as_str().expect("id").starts_with("claude")
        && m["display_name"].is_string()
        && m["created_at"].is_string()));
    assert_eq!(
        (list["has_more"].clone(), list["first_id"].clone()),
        (json!(false), data[0]["id"].clone())
    );
    let (_, _, text) = gw.send(get("/v1/models?limit=2")).await;
    let page: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        (
            page["data"].as_array().expect("d").len(),
            page["has_more"].clone()
        ),
        (2, json!(true))
    );
    let after = page["last_id"].as_str().expect("last");
    let (_, _, text) = gw
        .send(get(&format!("/v1/models?limit=2&after_id={after}")))
        .await;
    let next: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(next["first_id"], data[2]["id"]);
}

#[tokio::test]
async fn health_and_head_probe_answer_without_a_key() {
    let gw = gateway().await;
    let (status, headers, body) = gw
        .send(Request::get("/health").body(Body::empty()).expect("req"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"status\":\"ok\""));
    assert!(headers.contains_key("request-id"));
    for path in ["/", "/api/hello"] {
        let (status, _, _) = gw
            .send(Request::head(path).body(Body::empty()).expect("req"))
            .await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
}

mod web_search {
    //! Web search through the real router, the simulator's search scenario and a fake provider that records the
    //! queries it is asked.

    use std::sync::Mutex;

    use async_trait::async_trait;
    use sluice_core::websearch::{
        ProviderConfig, SearchError, SearchErrorCode, SearchQuery, SearchResult, WebSearch,
        WebSearchProviders,
    };

    use super::*;

    #[derive(Default)]
    struct Fake {
        queries: Mutex<Vec<SearchQuery>>,
        fail: bool,
    }

    struct FakeSearch(Arc<Fake>);

    #[async_trait]
    impl WebSearch for FakeSearch {
        async fn search(&self, query: &SearchQuery) -> Result<Vec<SearchResult>, SearchError> {
            self.0.queries.lock().expect("lock").push(query.clone());
            if self.0.fail {
                return Err(SearchError::new(SearchErrorCode::Unavailable, "down"));
            }
            Ok(vec![SearchResult {
                url: "https://docs.example/sluice".into(),
                title: "Sluice docs".into(),
                page_age: Some("3 days ago".into()),
                content: "Sluice is a serverless gateway for Claude Code on AWS.".into(),
            }])
        }
    }

    struct FakeProviders(Arc<Fake>);

    impl WebSearchProviders for FakeProviders {
        fn provider(&self, _: &ProviderConfig) -> Result<Box<dyn WebSearch>, SearchError> {
            Ok(Box::new(FakeSearch(Arc::clone(&self.0))))
        }
    }

    async fn searching(fail: bool) -> (Gateway, Arc<Fake>) {
        let fake = Arc::new(Fake {
            fail,
            ..Fake::default()
        });
        let providers: Arc<dyn WebSearchProviders> = Arc::new(FakeProviders(Arc::clone(&fake)));
        (
            gateway_searching(SimConfig::default(), |_| {}, Some(providers)).await,
            fake,
        )
    }

    fn search_body(text: &str, stream: bool, max_uses: Option<u32>) -> Value {
        let mut tool = json!({"type": "web_search_20250305", "name": "web_search"});
        if let Some(n) = max_uses {
            tool["max_uses"] = json!(n);
        }
        let mut body = messages_body(text, stream);
        body["tools"] = json!([tool]);
        body
    }

    fn events(sse: &str) -> Vec<Value> {
        sse.split("\n\n")
            .filter_map(|f| f.lines().find_map(|l| l.strip_prefix("data: ")))
            .map(|d| serde_json::from_str(d).expect("event json"))
            .collect()
    }

    /// The message the client's SDK would assemble from a streamed answer.
    fn assembled(sse: &str) -> Value {
        let frames: Vec<String> = sse.split_inclusive("\n\n").map(str::to_owned).collect();
        sluice_core::websearch::turns::assemble(&frames)
    }

    fn block_types(content: &[Value]) -> Vec<String> {
        content
            .iter()
            .filter_map(|b| b["type"].as_str().map(str::to_owned))
            .collect()
    }

    #[tokio::test]
    async fn a_streamed_search_is_one_message_built_from_the_providers_results() {
        let (gw, fake) = searching(false).await;
        let (status, _, sse) = gw
            .send(gw.post(
                "/v1/messages",
                &search_body("sim:search=sluice gateway", true, Some(8)),
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{sse}");
        let events = events(&sse);
        let count = |t: &str| events.iter().filter(|e| e["type"] == t).count();
        assert_eq!(
            (
                count("message_start"),
                count("message_delta"),
                count("message_stop")
            ),
            (1, 1, 1),
            "{sse}"
        );
        let message = assembled(&sse);
        let content = message["content"].as_array().expect("content");
        assert_eq!(
            block_types(content),
            ["text", "server_tool_use", "web_search_tool_result", "text"],
            "{sse}"
        );
        let indexes: Vec<u64> = events
            .iter()
            .filter(|e| e["type"] == "content_block_start")
            .filter_map(|e| e["index"].as_u64())
            .collect();
        assert_eq!(indexes, [0, 1, 2, 3]);
        assert_eq!(content[1]["input"], json!({"query": "sluice gateway"}));
        assert_eq!(content[2]["content"][0]["title"], "Sluice docs");
        assert!(content[2]["content"][0]["encrypted_content"].is_string());
        assert_eq!(
            content[3]["text"],
            "According to Sluice docs (https://docs.example/sluice): Sluice is a serverless gateway for Claude Code on AWS."
        );
        assert_eq!(
            message["usage"]["server_tool_use"]["web_search_requests"],
            1
        );
        assert_eq!(message["stop_reason"], "end_turn");
        assert_eq!(message["model"], "claude-opus-4-8");
        let queries = fake.queries.lock().expect("lock").clone();
        assert_eq!(queries.len(), 1);
        assert_eq!(queries[0].query, "sluice gateway");

        // Bedrock was given a client tool, then the results as a tool_result.
        let seen = gw.sim_requests().await;
        let calls: Vec<&Value> = seen.iter().map(|r| &r["body"]).collect();
        assert_eq!(calls.len(), 2, "two Bedrock calls");
        assert_eq!(calls[0]["tools"][0]["name"], "web_search");
        assert!(calls[0]["tools"][0].get("type").is_none());
        let second = calls[1]["messages"].as_array().expect("messages");
        let result = &second[2]["content"][0];
        assert_eq!(result["type"], "tool_result");
        assert!(
            result["content"]
                .as_str()
                .expect("text")
                .contains("Title: Sluice docs")
        );
    }

    #[tokio::test]
    async fn the_non_streaming_answer_has_the_same_content_as_the_stream() {
        let (gw, _) = searching(false).await;
        let (status, _, body) = gw
            .send(gw.post(
                "/v1/messages",
                &search_body("sim:search=sluice gateway", false, None),
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let message: Value = serde_json::from_str(&body).expect("json");
        let content = message["content"].as_array().expect("content");
        assert_eq!(
            block_types(content),
            ["text", "server_tool_use", "web_search_tool_result", "text"],
            "{body}"
        );
        assert!(
            content[3]["text"]
                .as_str()
                .expect("text")
                .starts_with("According to Sluice docs")
        );
        assert_eq!(
            message["usage"]["server_tool_use"]["web_search_requests"],
            1
        );
    }

    #[tokio::test]
    async fn past_max_uses_the_model_is_told_and_the_provider_is_not_asked() {
        let (gw, fake) = searching(false).await;
        let (status, _, sse) = gw
            .send(gw.post(
                "/v1/messages",
                &search_body("sim:search_twice=rust", true, Some(1)),
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{sse}");
        assert_eq!(fake.queries.lock().expect("lock").len(), 1);
        let message = assembled(&sse);
        let results: Vec<&Value> = message["content"]
            .as_array()
            .expect("content")
            .iter()
            .filter(|b| b["type"] == "web_search_tool_result")
            .collect();
        assert_eq!(results.len(), 2, "{sse}");
        assert_eq!(results[1]["content"]["error_code"], "max_uses_exceeded");
        assert_eq!(
            message["usage"]["server_tool_use"]["web_search_requests"],
            1
        );
    }

    #[tokio::test]
    async fn claude_codes_search_sub_request_is_answered_not_refused() {
        let (gw, fake) = searching(false).await;
        let mut body = search_body(
            "Perform a web search for the query: bedrock pricing",
            true,
            Some(8),
        );
        body["tool_choice"] = json!({"type": "tool", "name": "web_search"});
        body["thinking"] = json!({"type": "disabled"});
        let (status, _, sse) = gw.send(gw.post("/v1/messages", &body)).await;
        assert_eq!(status, StatusCode::OK, "{sse}");
        assert_eq!(
            fake.queries.lock().expect("lock")[0].query,
            "bedrock pricing"
        );
        assert!(sse.contains("web_search_tool_result"), "{sse}");
    }

    #[tokio::test]
    async fn a_failing_provider_is_an_error_result_not_a_failed_request() {
        let (gw, _) = searching(true).await;
        let (status, _, sse) = gw
            .send(gw.post("/v1/messages", &search_body("sim:search=x", true, None)))
            .await;
        assert_eq!(status, StatusCode::OK, "{sse}");
        let message = assembled(&sse);
        let content = message["content"].as_array().expect("content");
        assert_eq!(
            content[2]["content"]["type"],
            "web_search_tool_result_error"
        );
        assert_eq!(content[2]["content"]["error_code"], "unavailable");
        assert_eq!(content[3]["text"], "The search found nothing.");
        assert_eq!(
            message["usage"]["server_tool_use"]["web_search_requests"],
            0
        );
    }

    #[tokio::test]
    async fn an_answer_sent_back_as_history_reaches_bedrock_as_tool_use_and_its_results() {
        let (gw, _) = searching(false).await;
        let (_, _, body) = gw
            .send(gw.post(
                "/v1/messages",
                &search_body("sim:search=sluice gateway", false, None),
            ))
            .await;
        let answer: Value = serde_json::from_str(&body).expect("json");
        let mut next = search_body("sim:echo thanks", false, None);
        next["messages"] = json!([
            {"role": "user", "content": "sim:search=sluice gateway"},
            {"role": "assistant", "content": answer["content"]},
            {"role": "user", "content": "sim:echo thanks"}
        ]);
        let (status, _, body) = gw.send(gw.post("/v1/messages", &next)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let seen = gw.sim_requests().await;
        let sent = seen.last().expect("a call")["body"]["messages"]
            .as_array()
            .expect("messages")
            .clone();
        let roles: Vec<&str> = sent.iter().filter_map(|m| m["role"].as_str()).collect();
        assert_eq!(roles, ["user", "assistant", "user", "assistant", "user"]);
        assert_eq!(sent[1]["content"][1]["type"], "tool_use");
        let result = &sent[2]["content"][0];
        assert_eq!(result["type"], "tool_result");
        // The text came back from Sluice's own encrypted_content.
        assert!(
            result["content"]
                .as_str()
                .expect("text")
                .contains("Sluice is a serverless gateway for Claude Code on AWS."),
            "{result}"
        );
        assert!(
            !Value::Array(sent.clone())
                .to_string()
                .contains("server_tool_use"),
            "Bedrock never sees server tool blocks"
        );
    }

    struct FakeFetch(Mutex<Vec<String>>);

    #[async_trait]
    impl sluice_core::websearch::WebFetch for FakeFetch {
        async fn fetch(
            &self,
            request: &sluice_core::websearch::FetchRequest,
        ) -> Result<sluice_core::websearch::FetchedPage, sluice_core::websearch::FetchError>
        {
            self.0.lock().expect("lock").push(request.url.clone());
            Ok(sluice_core::websearch::FetchedPage {
                url: request.url.clone(),
                title: Some("Sluice docs".into()),
                media_type: "text/plain".into(),
                text: "Sluice streams answers.".into(),
            })
        }
    }

    #[tokio::test]
    async fn a_fetch_is_run_by_sluice_and_shown_as_a_web_fetch_tool_result() {
        let fetcher = Arc::new(FakeFetch(Mutex::default()));
        let gw = gateway_with_tools(
            SimConfig::default(),
            |_| {},
            None,
            Some(Arc::clone(&fetcher) as Arc<dyn sluice_core::websearch::WebFetch>),
        )
        .await;
        let mut body = messages_body("sim:fetch=https://docs.example/sluice", true);
        body["tools"] = json!([{"type": "web_fetch_20250910", "name": "web_fetch", "max_uses": 2}]);
        let (status, _, sse) = gw.send(gw.post("/v1/messages", &body)).await;
        assert_eq!(status, StatusCode::OK, "{sse}");
        assert_eq!(
            *fetcher.0.lock().expect("lock"),
            vec!["https://docs.example/sluice".to_owned()]
        );
        let message = assembled(&sse);
        let content = message["content"].as_array().expect("content");
        assert_eq!(
            block_types(content),
            ["server_tool_use", "web_fetch_tool_result", "text"],
            "{sse}"
        );
        assert_eq!(content[1]["content"]["type"], "web_fetch_result");
        assert_eq!(
            content[1]["content"]["content"]["source"]["data"],
            "Sluice streams answers."
        );
        assert!(
            content[2]["text"]
                .as_str()
                .expect("text")
                .contains("Sluice streams answers."),
            "the model read the page: {sse}"
        );
        assert_eq!(message["usage"]["server_tool_use"]["web_fetch_requests"], 1);
    }

    #[tokio::test]
    async fn without_providers_the_tool_is_removed_as_before() {
        let gw = gateway().await;
        let (status, _, sse) = gw
            .send(gw.post("/v1/messages", &search_body("hello", true, None)))
            .await;
        assert_eq!(status, StatusCode::OK, "{sse}");
        let seen = gw.sim_requests().await;
        assert!(seen.last().expect("a call")["body"].get("tools").is_none());
    }
}
