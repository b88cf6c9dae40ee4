//! The usage ledger's SQS fallback against moto: stashed records replay into the table exactly once.

use sluice_core::spend::{Outcome, UsageRecord};
use sluice_core::store::{UsageFallback, UsageStore};
use sluice_testkit::{MotoServer, aws_sdk_config, messaging, unique_name};

fn record(id: &str) -> UsageRecord {
    UsageRecord {
        request_id: id.into(),
        time_ms: 1_800_000_000_000,
        key_id: "key_1".into(),
        user_id: None,
        team_id: None,
        requested_model: "claude-opus-4-8".into(),
        bedrock_model_id: "us.anthropic.claude-opus-4-8".into(),
        stream: true,
        input_tokens: 10,
        output_tokens: 20,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        cache_write_5m_tokens: None,
        cache_write_1h_tokens: None,
        stop_reason: Some("end_turn".into()),
        duration_ms: 5,
        ttfb_ms: Some(1),
        invocation_metrics: None,
        tool_names: vec![],
        thinking: false,
        session_id: None,
        endpoint: None,
        region: Some("us-east-1".into()),
        outcome: Outcome::Complete,
        cost_micros: Some(550),
        policy_refusal: None,
    }
}

#[tokio::test]
async fn stashed_records_replay_into_the_table_once() {
    let moto = MotoServer::shared().expect("moto");
    let config = aws_sdk_config(moto.endpoint_url());
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue_url = messaging::queue(&config, "sluice-usage-fallback").await.url;
    let table = unique_name("sluice-usage");
    sluice_aws::create_table(&config, &table)
        .await
        .expect("table");
    let store = sluice_aws::dynamo_store(&config, &table);

    // GIVEN three records stashed (one of them twice) and one stray message
    let fallback = sluice_aws::SqsUsageFallback::new(&config, &queue_url);
    for id in ["req_a", "req_b", "req_c", "req_a"] {
        fallback.stash(&record(id)).await.expect("stash");
    }
    sqs.send_message()
        .queue_url(&queue_url)
        .message_body("not a record")
        .send()
        .await
        .expect("stray");

    // WHEN the queue is replayed
    let report = sluice_aws::replay_sqs(&config, &queue_url, &store)
        .await
        .expect("replay");

    // THEN each record is in the table once, the duplicate is counted, the stray one is reported
    assert_eq!(
        (report.stored, report.already_stored, report.unreadable),
        (3, 1, 1),
        "{report:?}"
    );
    for id in ["req_a", "req_b", "req_c"] {
        assert_eq!(
            store.usage_by_request(id).await.expect("get"),
            Some(record(id))
        );
    }
    let again = sluice_aws::replay_sqs(&config, &queue_url, &store)
        .await
        .expect("replay again");
    assert_eq!(
        (again.stored, again.already_stored),
        (0, 0),
        "replayed messages were deleted"
    );
}
