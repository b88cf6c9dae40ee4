//! Attacks on the edges of the routers: forged client addresses against login throttling, and large bodies sent
//! without a credential. (Forged log lines: `log_lines.rs`, alone in its binary for its thread-local subscriber.)

#![expect(
    clippy::disallowed_methods,
    reason = "test servers and receivers run on their own tasks"
)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use bytes::Bytes;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use support::{ADMIN_PASSWORD, Env, error_type};
use tower::ServiceExt;

async fn send(env: &Env, req: Request<Body>) -> (StatusCode, String) {
    let resp = env.router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// A login from socket address `peer`, claiming to be `forwarded` in `X-Forwarded-For`.
async fn login_from(env: &Env, peer: &str, forwarded: &str, password: &str) -> StatusCode {
    let mut req = Request::post("/auth/login")
        .header("content-type", "application/json")
        .header("x-forwarded-for", forwarded)
        .body(Body::from(
            json!({"username": "admin", "password": password}).to_string(),
        ))
        .expect("req");
    let peer: SocketAddr = peer.parse().expect("addr");
    req.extensions_mut().insert(ConnectInfo(peer));
    send(env, req).await.0
}

/// A login as the Function URL delivers it (the `events/admin-login.json` fixture), from `source_ip`.
async fn lambda_login(env: &Env, source_ip: &str, forwarded: &str, password: &str) -> StatusCode {
    let mut event: Value =
        serde_json::from_str(include_str!("../../../events/admin-login.json")).expect("fixture");
    event["requestContext"]["http"]["sourceIp"] = json!(source_ip);
    event["headers"]["x-forwarded-for"] = json!(forwarded);
    event["body"] = json!(json!({"username": "admin", "password": password}).to_string());
    let req = lambda_http::request::from_str(&event.to_string()).expect("Function URL event");
    let resp = env.router.clone().oneshot(req).await.expect("infallible");
    resp.status()
}

#[tokio::test]
async fn rotating_x_forwarded_for_does_not_escape_the_per_source_login_limit() {
    let env = Env::start().await;
    // GIVEN correct logins from one socket address, each claiming a different X-Forwarded-For
    let mut admitted = 0;
    for n in 0..40 {
        let status = login_from(
            &env,
            "192.0.2.7:50000",
            &format!("10.1.{n}.1"),
            ADMIN_PASSWORD,
        )
        .await;
        if status == StatusCode::OK {
            admitted += 1;
        } else {
            assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        }
    }
    // THEN the address is held to 30 a minute (one or two more if the minute turned during the test)
    assert!((30..=32).contains(&admitted), "{admitted} admitted");
    // AND another address is not affected
    assert_eq!(
        login_from(&env, "192.0.2.8:50000", "10.1.0.1", ADMIN_PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn password_guessing_locks_the_guessing_source_not_the_administrator() {
    let env = Env::start().await;
    // GIVEN wrong guesses through the Function URL from one source, rotating X-Forwarded-For
    let mut failed = 0;
    for n in 0..20 {
        match lambda_login(&env, "203.0.113.66", &format!("10.2.{n}.1"), "guess").await {
            StatusCode::UNAUTHORIZED => failed += 1,
            other => assert_eq!(other, StatusCode::TOO_MANY_REQUESTS),
        }
    }
    // THEN the source had ten guesses, and not even the right password gets through from it now
    assert_eq!(failed, 10);
    assert_eq!(
        lambda_login(&env, "203.0.113.66", "10.9.9.9", ADMIN_PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // AND the administrator, from an address that has not failed, still signs in
    assert_eq!(
        lambda_login(&env, "198.51.100.4", "203.0.113.66", ADMIN_PASSWORD).await,
        StatusCode::OK
    );
}

/// A request body that never arrives, and tells whether anyone tried to read it.
fn endless_body() -> (Body, Arc<AtomicBool>) {
    let polled = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&polled);
    let stream = futures::stream::poll_fn(
        move |_| -> std::task::Poll<Option<Result<Bytes, std::io::Error>>> {
            flag.store(true, Ordering::SeqCst);
            std::task::Poll::Pending
        },
    );
    (Body::from_stream(stream), polled)
}

#[tokio::test]
async fn unauthenticated_requests_are_refused_before_their_body_is_read() {
    let env = Env::start().await;
    let (member_key, _) = env.key("someone", None).await;
    for (path, credential) in [
        (
            "/v1/messages",
            "sk-sluice-unknownkeyunknownkeyunknownkey1234",
        ),
        ("/v1/messages/count_tokens", "not-a-credential"),
        (
            "/admin/users",
            "sk-sluice-unknownkeyunknownkeyunknownkey1234",
        ),
        ("/admin/teams", "a.b.c"),
        ("/admin/settings/default-budget", ""),
        // A valid virtual key is still no credential for the admin API.
        ("/admin/keys", member_key.as_str()),
    ] {
        let (body, polled) = endless_body();
        let method = if path.contains("default-budget") {
            "PUT"
        } else {
            "POST"
        };
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .header("content-length", "1073741824");
        if !credential.is_empty() {
            builder = builder.header("x-api-key", credential);
        }
        let req = builder.body(body).expect("req");
        let (status, text) = tokio::time::timeout(Duration::from_secs(5), send(&env, req))
            .await
            .unwrap_or_else(|_| panic!("{path}: no answer while the body was awaited"));
        let expected = if credential == member_key {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(status, expected, "{path}: {text}");
        assert!(
            matches!(
                error_type(&text).as_str(),
                "authentication_error" | "permission_error"
            ),
            "{path}: {text}"
        );
        assert!(!polled.load(Ordering::SeqCst), "{path}: the body was read");
    }
}

/// A refusal answered before the body was read closes the connection, and says so: a keep-alive client that
/// writes its body after the headers (as httpx does) must not send its next request down a closed socket.
#[tokio::test]
async fn an_early_refusal_tells_the_client_the_connection_closes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let env = Env::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = env.router.clone();
    let server = tokio::spawn(sluice_http::serve::run_local(listener, router));
    let body = r#"{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}"#;
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: sk-sluice-wrongwrongwrongwrongwrong1234\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.expect("headers");
    let mut answer = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut answer))
        .await
        .expect("an answer before the body")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer[..n]).to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 401"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    // A request without a body keeps its connection.
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(b"GET /v1/models HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .expect("request");
    let mut answer = vec![0; 4096];
    let n = tcp.read(&mut answer).await.expect("read");
    let answer = String::from_utf8_lossy(&answer[..n]).to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 401"), "{answer}");
    assert!(!answer.contains("connection: close"), "{answer}");
    server.abort();
}
