//! A usage record the store keeps refusing, with no fallback configured, is retried and then logged whole.
//! Its own test binary: it captures logs with a thread-local subscriber, and tracing caches per call site whether
//! anyone listens, which other tests on other threads would otherwise decide for it.

use std::sync::Arc;

use sluice_core::spend::Outcome;
use sluice_core::store::Store;
use sluice_testkit::{LogCapture, aws_sdk_config};

/// A store that keeps failing: the write is retried, then the whole record is logged for recovery, never dropped
/// silently and never failing the request.
#[tokio::test]
async fn a_record_the_store_refuses_is_retried_then_logged_whole() {
    use sluice_core::spend::PriceTable;
    use sluice_inference::usage::{UsageContext, UsageLedger};

    let (capture, _guard) = LogCapture::install(tracing::Level::INFO);

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

    let logs = capture.text();
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
