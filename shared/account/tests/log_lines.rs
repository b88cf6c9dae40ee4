//! User input that tries to forge a log line. Alone in its test binary: tracing caches each call site's interest
//! process-wide, so a test running beside it on another thread, with no subscriber, could make its lines vanish.

mod support;

use axum::http::StatusCode;
use serde_json::json;
use sluice_testkit::LogCapture;
use support::Env;

#[tokio::test]
async fn a_username_with_a_newline_cannot_forge_a_log_line() {
    // The default test runtime runs every task on this thread, so the thread-local subscriber sees them all.
    let (capture, _guard) = LogCapture::install(tracing::Level::INFO);
    let env = Env::start().await;
    let (status, _) = env
        .post(
            "/auth/login",
            None,
            &json!({"username": "x\nINFO forged: admin signed in", "password": "guess"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let logs = capture.text();
    let failed: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("failed admin login"))
        .collect();
    assert_eq!(failed.len(), 1, "{logs}");
    assert!(
        failed[0].contains(r#"username="x\ninfo forged: admin signed in""#),
        "the username is quoted with its newline escaped: {logs}"
    );
    assert!(
        !logs
            .lines()
            .any(|l| l.starts_with("INFO forged") || l.starts_with("info forged")),
        "{logs}"
    );
}
