//! A usage record the store keeps refusing, with no fallback configured, is retried and then logged whole.
//! Its own test binary: it captures logs with a thread-local subscriber, and tracing caches per call site whether
//! anyone listens, which other tests on other threads would otherwise decide for it.

use std::sync::Arc;

use sluice_core::spend::Outcome;
use sluice_core::store::Store;
use sluice_testkit::aws_sdk_config;

#[derive(Clone, Default)]
struct Capture(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A store that keeps failing: the write is retried, then the whole record is logged for recovery, never dropped
/// silently and never failing the request.
#[tokio::test]
async fn a_record_the_store_refuses_is_retried_then_logged_whole() {
    use sluice_core::spend::PriceTable;
    use sluice_inference::usage::{UsageContext, UsageLedger};

    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // DynamoDB on moto, but a table that does not exist: every put fails.
    let moto = sluice_testkit::MotoServer::shared().expect("moto");
    let store: Arc<dyn Store> = Arc::new(sluice_aws::dynamo_store(
        &aws_sdk_config(moto.endpoint_url()),
        "no-such-table",
    ));
    let ledger = UsageLedger::new(store, PriceTable::seeded());
    let context = UsageContext {
        request_id: "req_unwritable".into(),
        time_ms: 1_800_000_000_000,
        started: std::time::Instant::now(),
        key_id: Some("key_x".into()),
        user_id: None,
        team_id: None,
        requested_model: "claude-sonnet-4-5".into(),
        bedrock_model_id: "us.anthropic.claude-sonnet-4-5-20250929-v1:0".into(),
        stream: true,
        thinking: false,
        session_id: None,
        region: Some("us-east-1".into()),
    };
    let usage = sluice_core::translate::UsageSeen {
        input_tokens: 11,
        output_tokens: 22,
        ..Default::default()
    };
    ledger
        .write(context.record(&usage, Outcome::Complete, Some(5)))
        .await;

    let logs = String::from_utf8(capture.0.lock().expect("capture").clone()).expect("utf8");
    assert_eq!(
        logs.matches("usage record write failed").count(),
        4,
        "one try and three retries:\n{logs}"
    );
    let line = logs
        .lines()
        .find(|l| l.contains("usage_record_unwritten"))
        .expect("the record is logged");
    assert!(
        line.contains("req_unwritable") && line.contains("\"output_tokens\":22"),
        "{line}"
    );
}
