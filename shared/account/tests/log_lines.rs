//! User input that tries to forge a log line. Alone in its test binary: tracing caches each call site's interest
//! process-wide, so a test running beside it on another thread, with no subscriber, could make its lines vanish.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use serde_json::json;
use support::Env;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_username_with_a_newline_cannot_forge_a_log_line() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // The default test runtime runs every task on this thread, so the thread-local subscriber sees them all.
    let _guard = tracing::subscriber::set_default(subscriber);
    let env = Env::start().await;
    let (status, _) = env
        .post(
            "/auth/login",
            None,
            &json!({"username": "x\nINFO forged: admin signed in", "password": "guess"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let logs = String::from_utf8(capture.0.lock().expect("capture").clone()).expect("utf8");
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
