//! Every sample Function URL event in `events/` goes through lambda_http's own request conversion and the gateway
//! router, so the files `sam local invoke -e` would use are proven to route and answer as documented.

use std::sync::Arc;

use http_body_util::BodyExt;
use serde_json::Value;
use sluice_bedrock_sim::SimConfig;
use sluice_core::keys::hash_secret;
use sluice_core::store::{KeyStore, VirtualKey};
use sluice_http::{AppState, AuthConfig, GatewayConfig};
use sluice_inference::{GatewayState, gateway_router};
use sluice_sqlite::SqliteStore;
use sluice_testkit::{SimServer, aws_sdk_config};
use tower::ServiceExt;

const EVENT_KEY: &str = "sk-sluice-EXAMPLEkeyForSampleEventsOnly0123456789x";

macro_rules! event {
    ($name:literal) => {
        ($name, include_str!(concat!("../../../events/", $name)))
    };
}

const EVENTS: &[(&str, &str)] = &[
    event!("gateway-messages-stream.json"),
    event!("gateway-messages.json"),
    event!("gateway-count-tokens.json"),
    event!("gateway-models.json"),
    event!("gateway-health.json"),
    event!("gateway-head-root.json"),
];

#[tokio::test]
async fn sample_function_url_events_route_and_answer() {
    let sim = SimServer::start(SimConfig::default()).await.expect("sim");
    let store = Arc::new(SqliteStore::open_in_memory().expect("sqlite"));
    store
        .create_key(&VirtualKey {
            id: "key_events".into(),
            name: "events".into(),
            key_hash: hash_secret(EVENT_KEY),
            prefix: EVENT_KEY[..14].into(),
            created_at_ms: 1,
            revoked_at_ms: None,
            user_id: None,
            team_id: None,
            rate_limit_rpm: None,
        })
        .await
        .expect("key");
    let config = GatewayConfig::from_lookup("us-east-1", |_| None).expect("config");
    let upstream = sluice_aws::BedrockUpstream::from_conf(&aws_sdk_config(sim.url()));
    let app = AppState::build(
        store,
        AuthConfig::from_lookup(|_| None, config.key_cache_ttl),
    )
    .await
    .expect("app");
    let router = gateway_router(Arc::new(GatewayState::new(
        Arc::new(app),
        Arc::new(upstream),
        config,
    )));

    let listed = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events"))
        .expect("events dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("gateway-"))
        })
        .count();
    assert_eq!(
        listed,
        EVENTS.len(),
        "every gateway event file is exercised here"
    );

    for (name, json) in EVENTS {
        let req = lambda_http::request::from_str(json)
            .unwrap_or_else(|e| panic!("{name}: not a Function URL event: {e}"));
        let method = req.method().clone();
        let resp = router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("").to_owned())
            .unwrap_or_default();
        assert!(resp.headers().contains_key("request-id"), "{name}");
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&body);
        assert_eq!(status, 200, "{name}: {text}");
        match *name {
            "gateway-messages-stream.json" => {
                assert_eq!(content_type, "text/event-stream");
                assert!(text.contains("event: message_stop"), "{text}");
            }
            "gateway-messages.json" => {
                let v: Value = serde_json::from_str(&text).expect("json");
                assert_eq!(v["type"], "message");
            }
            "gateway-count-tokens.json" => {
                let v: Value = serde_json::from_str(&text).expect("json");
                assert!(v["input_tokens"].as_u64().is_some_and(|n| n > 0), "{text}");
            }
            "gateway-models.json" => assert!(text.contains("\"has_more\""), "{text}"),
            "gateway-health.json" => assert!(text.contains("\"ok\""), "{text}"),
            "gateway-head-root.json" => assert_eq!(method, "HEAD"),
            other => panic!("unexpected event {other}"),
        }
    }
}
