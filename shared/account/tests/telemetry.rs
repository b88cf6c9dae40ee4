//! The OTLP telemetry relay through the routers `sluice serve` merges: exports relayed byte for byte to a local
//! receiver without the client's credential, always 200 to an authenticated client (relay off, collector down,
//! collector failing), a failing collector paused after five failures, 401 without a credential, and the two
//! settings through the admin API.

mod support;

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, Request, StatusCode, Uri};
use serde_json::{Value, json};
use sluice_core::identity::Role;
use sluice_core::store::TokenFamily;
use sluice_testkit::LocalServer;
use support::{AUDIENCE, Env, error_type, now_s};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone)]
struct Inbox {
    received: Arc<Mutex<Vec<Received>>>,
    answer: Arc<AtomicU16>,
}

/// A stand-in OTLP/HTTP collector on 127.0.0.1 that records every request and answers `answer`.
struct Receiver {
    inbox: Inbox,
    server: LocalServer,
}

impl Receiver {
    async fn start(answer: u16) -> Self {
        let inbox = Inbox {
            received: Arc::default(),
            answer: Arc::new(AtomicU16::new(answer)),
        };
        // A collector takes exports as large as the relay does (axum's own limit is 2 MB).
        let app = Router::new()
            .fallback(record)
            .layer(DefaultBodyLimit::disable())
            .with_state(inbox.clone());
        Self {
            inbox,
            server: LocalServer::start(app).await,
        }
    }

    fn url(&self) -> &str {
        self.server.url()
    }

    fn received(&self) -> Vec<Received> {
        self.inbox
            .received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

async fn record(
    State(inbox): State<Inbox>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    inbox
        .received
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Received {
            path: uri.path().to_owned(),
            headers,
            body,
        });
    StatusCode::from_u16(inbox.answer.load(Ordering::SeqCst)).expect("status")
}

/// A URL nothing listens on.
async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    url
}

/// Bytes that are not UTF-8 and not JSON, as a protobuf export is.
fn protobuf_body(n: u8) -> Vec<u8> {
    let mut body = vec![0x0a, 0x80, 0x01, 0x00, 0xff, 0xfe, n];
    body.extend((0..=255u8).rev());
    body
}

/// An OTLP export as Claude Code sends it: its bearer, the body's type and perhaps encoding, and a header of its
/// own that must not travel on.
fn export(
    signal: &str,
    credential: Option<&str>,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> Request<Body> {
    let mut req = Request::post(format!("/v1/{signal}"))
        .header("content-type", content_type)
        .header("user-agent", "OTel-OTLP-Exporter-JavaScript/0.200.0")
        .header("x-client-private", "do-not-forward");
    if let Some(c) = credential {
        req = req.header("authorization", format!("Bearer {c}"));
    }
    if let Some(e) = encoding {
        req = req.header("content-encoding", e);
    }
    req.body(Body::from(body)).expect("request")
}

async fn put_setting(env: &Env, admin: &str, key: &str, value: Value) -> (StatusCode, Value) {
    let req = Request::put(format!("/admin/settings/{key}"))
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/json")
        .body(Body::from(json!({ "value": value }).to_string()))
        .expect("request");
    let (status, _, body) = env.send(req).await;
    (status, serde_json::from_str(&body).expect("JSON"))
}

/// An environment whose relay sends to `url`, and the admin's session token.
async fn relaying_to(url: &str) -> (Env, String) {
    let env = Env::start().await;
    let admin = env.admin_session().await;
    let (status, body) = put_setting(&env, &admin, "telemetry_forward_url", json!(url)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (env, admin)
}

#[tokio::test]
async fn exports_arrive_byte_identical_with_their_type_and_without_the_clients_headers() {
    // GIVEN a collector behind a base path, with an API key for it
    let receiver = Receiver::start(200).await;
    let (env, admin) = relaying_to(&format!("{}/otel/", receiver.url())).await;
    let (status, body) = put_setting(
        &env,
        &admin,
        "telemetry_forward_headers",
        json!({"X-Collector-Key": "collector-secret"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["value"], r#"{"x-collector-key":"*****"}"#);
    // Saved again as the portal shows it, masked: the stored value is kept.
    let (status, body) = put_setting(
        &env,
        &admin,
        "telemetry_forward_headers",
        json!(r#"{"x-collector-key":"*****"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (key, _) = env.key("laptop", None).await;

    // WHEN Claude Code exports each signal in protobuf (logs gzip-encoded) and metrics in JSON
    let json_body = br#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"user.email","value":{"stringValue":"mia@example.com"}}]}}]}"#.to_vec();
    let sent = [
        ("metrics", "application/x-protobuf", None, protobuf_body(1)),
        (
            "logs",
            "application/x-protobuf",
            Some("gzip"),
            protobuf_body(2),
        ),
        ("traces", "application/x-protobuf", None, protobuf_body(3)),
        ("metrics", "application/json", None, json_body),
    ];
    for (signal, content_type, encoding, body) in &sent {
        let (status, headers, answer) = env
            .send(export(
                signal,
                Some(&key),
                content_type,
                *encoding,
                body.clone(),
            ))
            .await;
        // THEN each is answered 200 in its own encoding
        assert_eq!(status, StatusCode::OK, "{signal}: {answer}");
        if content_type.ends_with("json") {
            assert_eq!(answer, "{}");
            assert_eq!(headers["content-type"], "application/json");
        } else {
            assert_eq!(answer, "");
            assert_eq!(headers["content-type"], "application/x-protobuf");
        }
    }

    // AND each arrives unchanged at <base>/v1/<signal>, with its type and encoding and the collector's key only
    let received = receiver.received();
    assert_eq!(received.len(), sent.len());
    for ((signal, content_type, encoding, body), got) in sent.iter().zip(&received) {
        assert_eq!(got.path, format!("/otel/v1/{signal}"));
        assert_eq!(got.body.as_ref(), body.as_slice(), "{signal} changed");
        assert_eq!(got.headers["content-type"], *content_type);
        assert_eq!(
            got.headers
                .get("content-encoding")
                .map(|v| v.to_str().expect("ascii")),
            *encoding
        );
        assert_eq!(got.headers["x-collector-key"], "collector-secret");
        for never in ["authorization", "x-api-key", "x-client-private", "cookie"] {
            assert!(got.headers.get(never).is_none(), "{never} was forwarded");
        }
        assert!(
            got.headers
                .get("user-agent")
                .is_none_or(|ua| !ua.as_bytes().starts_with(b"OTel")),
            "the client's user agent was forwarded"
        );
    }
}

#[tokio::test]
async fn with_the_relay_off_exports_are_answered_200_and_sent_nowhere() {
    let receiver = Receiver::start(200).await;
    let env = Env::start().await;
    let admin = env.admin_session().await;
    // Never set, then set and turned off again, before the first export reads it.
    let (status, body) =
        put_setting(&env, &admin, "telemetry_forward_url", json!(receiver.url())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = put_setting(&env, &admin, "telemetry_forward_url", json!("")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["value"], "");
    let (key, _) = env.key("laptop", None).await;
    for signal in ["metrics", "logs", "traces"] {
        let (status, _, answer) = env
            .send(export(
                signal,
                Some(&key),
                "application/json",
                None,
                b"{}".to_vec(),
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer, "{}");
    }
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn a_collector_that_is_down_still_gets_the_client_a_200() {
    let (env, _) = relaying_to(&closed_port().await).await;
    let (key, _) = env.key("laptop", None).await;
    let started = std::time::Instant::now();
    let (status, _, answer) = env
        .send(export(
            "logs",
            Some(&key),
            "application/x-protobuf",
            None,
            protobuf_body(1),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, "");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

#[tokio::test]
async fn after_five_failures_in_a_row_the_collector_is_not_tried_for_a_while() {
    // GIVEN a collector that answers 500
    let receiver = Receiver::start(500).await;
    let (env, _) = relaying_to(receiver.url()).await;
    let (key, _) = env.key("laptop", None).await;
    // WHEN seven exports come within 30 s, of any signal
    for signal in [
        "metrics", "logs", "traces", "metrics", "logs", "traces", "metrics",
    ] {
        let (status, _, answer) = env
            .send(export(
                signal,
                Some(&key),
                "application/x-protobuf",
                None,
                protobuf_body(1),
            ))
            .await;
        // THEN each is answered 200
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    // AND only the first five were tried
    assert_eq!(receiver.received().len(), 5);
}

#[tokio::test]
async fn four_failures_then_a_success_do_not_pause_the_collector() {
    let receiver = Receiver::start(503).await;
    let (env, _) = relaying_to(receiver.url()).await;
    let (key, _) = env.key("laptop", None).await;
    let send = || async {
        let (status, _, _) = env
            .send(export(
                "metrics",
                Some(&key),
                "application/x-protobuf",
                None,
                protobuf_body(1),
            ))
            .await;
        assert_eq!(status, StatusCode::OK);
    };
    for _ in 0..4 {
        send().await;
    }
    receiver.inbox.answer.store(200, Ordering::SeqCst);
    send().await;
    receiver.inbox.answer.store(503, Ordering::SeqCst);
    for _ in 0..4 {
        send().await;
    }
    assert_eq!(receiver.received().len(), 9);
}

#[tokio::test]
async fn without_a_valid_credential_an_export_is_refused_401_and_sent_nowhere() {
    let receiver = Receiver::start(200).await;
    let (env, _) = relaying_to(receiver.url()).await;
    for credential in [None, Some("sk-sluice-not-a-key"), Some("a.b.c")] {
        let (status, _, body) = env
            .send(export(
                "metrics",
                credential,
                "application/x-protobuf",
                None,
                protobuf_body(1),
            ))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{credential:?}: {body}");
        assert_eq!(error_type(&body), "authentication_error");
    }
    // The credential is checked before the body is read: an anonymous oversized export is a 401, not a 413.
    let (status, _, body) = env
        .send(export(
            "logs",
            None,
            "application/x-protobuf",
            None,
            vec![0; 5 * 1024 * 1024],
        ))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn keys_session_tokens_id_tokens_and_claude_codes_access_token_may_all_export() {
    let receiver = Receiver::start(200).await;
    let (env, admin) = relaying_to(receiver.url()).await;
    let member = env.user("mia@example.com", Role::Member).await;
    let (key, _) = env.key("mia's key", Some(&member.id)).await;
    let session = env.app.auth.sessions.issue(&member, now_s());
    let id_token = env.idp.mint_default("mia@example.com", AUDIENCE);
    // What Claude Code signed in to Sluice sends: an access token of its own sign-in, in a live token family.
    let now_ms = now_s() * 1000;
    env.app
        .store
        .create_family(&TokenFamily {
            id: "fam_telemetry".into(),
            user_id: member.id.clone(),
            created_at_ms: now_ms,
            expires_at_ms: now_ms + 3_600_000,
            revoked_at_ms: None,
        })
        .await
        .expect("family");
    let access_token = env
        .app
        .auth
        .sessions
        .issue_gateway(&member, "fam_telemetry", now_ms, 600);

    let as_api_key = Request::post("/v1/traces")
        .header("x-api-key", &key)
        .header("content-type", "application/x-protobuf")
        .body(Body::from(protobuf_body(0)))
        .expect("request");
    let (status, _, body) = env.send(as_api_key).await;
    assert_eq!(status, StatusCode::OK, "x-api-key: {body}");
    for (what, credential) in [
        ("key as bearer", &key),
        ("session token", &session),
        ("admin's password session", &admin),
        ("ID token", &id_token),
        ("Claude Code's access token", &access_token),
    ] {
        let (status, _, body) = env
            .send(export(
                "metrics",
                Some(credential),
                "application/x-protobuf",
                None,
                protobuf_body(1),
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{what}: {body}");
    }
    assert_eq!(receiver.received().len(), 6);
}

#[tokio::test]
async fn an_export_over_4_mib_is_refused_413_and_sent_nowhere() {
    let receiver = Receiver::start(200).await;
    let (env, _) = relaying_to(receiver.url()).await;
    let (key, _) = env.key("laptop", None).await;
    let (status, _, body) = env
        .send(export(
            "logs",
            Some(&key),
            "application/x-protobuf",
            None,
            vec![7; 4 * 1024 * 1024 + 1],
        ))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(error_type(&body), "request_too_large");
    // Exactly the limit passes (above axum's default 2 MB body limit).
    let (status, _, body) = env
        .send(export(
            "logs",
            Some(&key),
            "application/x-protobuf",
            None,
            vec![7; 4 * 1024 * 1024],
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn the_telemetry_routes_sit_beside_the_gateways_without_taking_its_fallback() {
    let env = Env::start().await;
    let (key, _) = env.key("laptop", None).await;
    let (status, _, body) = env
        .send(export(
            "metrics",
            Some(&key),
            "application/x-protobuf",
            None,
            protobuf_body(1),
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = env.call("/v1/nothing-here", Some(&key)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(error_type(&body), "not_found_error");
    let (status, body) = env.call("/v1/models", Some(&key)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_settings_are_validated_listed_with_the_header_values_hidden_and_admin_only() {
    let env = Env::start().await;
    let admin = env.admin_session().await;
    for (key, value, says) in [
        (
            "telemetry_forward_url",
            json!("collector:4318"),
            "http or https",
        ),
        (
            "telemetry_forward_url",
            json!("ftp://collector"),
            "http or https",
        ),
        (
            "telemetry_forward_url",
            json!("http://u:p@collector:4318"),
            "credentials",
        ),
        (
            "telemetry_forward_url",
            json!("http://collector:4318/?k=v"),
            "query",
        ),
        (
            "telemetry_forward_headers",
            json!(["x-api-key"]),
            "JSON object",
        ),
        (
            "telemetry_forward_headers",
            json!({"x-api-key": 5}),
            "must be a string",
        ),
        (
            "telemetry_forward_headers",
            json!({"content-type": "text/plain"}),
            "set by the relay",
        ),
        (
            "telemetry_forward_headers",
            json!("{\"bad name\": \"v\"}"),
            "not a header name",
        ),
    ] {
        let (status, body) = put_setting(&env, &admin, key, value.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{key} = {value}: {body}");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains(says), "{key} = {value}: {message}");
    }

    let (_, listed) = env.get("/admin/settings", Some(&admin)).await;
    let listed: Value = serde_json::from_str(&listed).expect("JSON");
    assert_eq!(listed["telemetry_forward_url"], "");
    assert_eq!(listed["telemetry_forward_headers"], json!({}));

    let (status, body) = put_setting(
        &env,
        &admin,
        "telemetry_forward_url",
        json!(" https://otel.example.com:4318/ "),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["value"], "https://otel.example.com:4318");
    // A JSON object given as text is taken as the object.
    let (status, body) = put_setting(
        &env,
        &admin,
        "telemetry_forward_headers",
        json!("{\"x-api-key\": \"k-123\"}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["value"], r#"{"x-api-key":"*****"}"#);
    let (_, listed) = env.get("/admin/settings", Some(&admin)).await;
    assert!(!listed.contains("k-123"), "{listed}");
    let listed: Value = serde_json::from_str(&listed).expect("JSON");
    assert_eq!(
        listed["telemetry_forward_url"],
        "https://otel.example.com:4318"
    );
    assert_eq!(
        listed["telemetry_forward_headers"],
        json!({"x-api-key": "*****"})
    );

    let member = env.user("mia@example.com", Role::Member).await;
    let member_session = env.app.auth.sessions.issue(&member, now_s());
    let (status, body) = put_setting(
        &env,
        &member_session,
        "telemetry_forward_url",
        json!("http://evil:4318"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let req = Request::builder()
        .method(Method::GET)
        .uri("/admin/settings")
        .header("authorization", format!("Bearer {member_session}"))
        .body(Body::empty())
        .expect("request");
    let (status, _, _) = env.send(req).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
