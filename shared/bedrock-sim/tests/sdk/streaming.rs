//! InvokeModelWithResponseStream through the real SDK: decoding, scripted replies, pacing.

use std::time::Duration;

use serde_json::json;
use sluice_bedrock_sim::SimConfig;

use crate::support::{NEW_PROFILE, PROFILE, Sim, StreamFailure, body, gap, streamed_text, types};

#[tokio::test]
async fn streams_default_text_as_a_complete_event_sequence() {
    let sim = Sim::start().await;
    let events = sim
        .stream(PROFILE, &body("hello"))
        .await
        .expect("stream succeeds");
    let types = types(&events);
    assert_eq!(types.first(), Some(&"message_start"));
    assert_eq!(types[1], "content_block_start");
    assert!(
        types
            .iter()
            .filter(|t| **t == "content_block_delta")
            .count()
            >= 2
    );
    assert_eq!(
        &types[types.len() - 3..],
        ["content_block_stop", "message_delta", "message_stop"]
    );
    assert_eq!(streamed_text(&events), "Hello from the Bedrock simulator.");

    let message = &events[0]["message"];
    assert!(
        message["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("msg_bdrk_"))
    );
    assert_eq!(message["model"], "claude-sonnet-4-5-20250929");
    assert!(
        message["usage"]["input_tokens"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );
    assert_eq!(message["usage"]["output_tokens"], 1);

    let delta = &events[events.len() - 2];
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    let metrics = &events[events.len() - 1]["amazon-bedrock-invocationMetrics"];
    assert_eq!(metrics["inputTokenCount"], message["usage"]["input_tokens"]);
    assert_eq!(metrics["outputTokenCount"], delta["usage"]["output_tokens"]);
    assert!(metrics["invocationLatency"].is_u64() && metrics["firstByteLatency"].is_u64());
}

#[tokio::test]
async fn echo_marker_repeats_the_user_text() {
    let sim = Sim::start().await;
    let events = sim
        .stream(NEW_PROFILE, &body("sim:echo the quick brown fox"))
        .await
        .expect("stream");
    assert_eq!(streamed_text(&events), "sim:echo the quick brown fox");
    assert_eq!(events[0]["message"]["model"], "claude-opus-4-8");
}

#[tokio::test]
async fn thinking_marker_streams_thinking_then_signature_then_text() {
    let sim = Sim::start().await;
    let events = sim
        .stream(PROFILE, &body("sim:thinking"))
        .await
        .expect("stream");
    let starts: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "content_block_start")
        .filter_map(|e| e["content_block"]["type"].as_str())
        .collect();
    assert_eq!(starts, ["thinking", "text"]);
    let deltas: Vec<&str> = events
        .iter()
        .filter_map(|e| e["delta"]["type"].as_str())
        .collect();
    let signature_at = deltas
        .iter()
        .position(|d| *d == "signature_delta")
        .expect("signature delta");
    assert!(
        signature_at > 0
            && deltas[..signature_at]
                .iter()
                .all(|d| *d == "thinking_delta")
    );
    let signature = events
        .iter()
        .find_map(|e| e["delta"]["signature"].as_str())
        .expect("signature text");
    assert!(
        signature.len() > 40
            && signature
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c))
    );
    assert!(!streamed_text(&events).is_empty());
}

#[tokio::test]
async fn tool_use_marker_calls_bash_in_several_json_pieces() {
    let sim = Sim::start().await;
    let mut request = body("sim:tool_use please");
    request["tools"] = json!([
        {"name": "Read", "description": "r", "input_schema": {"type": "object"}},
        {"name": "Bash", "description": "b", "input_schema": {"type": "object"}}
    ]);
    let events = sim.stream(PROFILE, &request).await.expect("stream");
    let start = events
        .iter()
        .find(|e| e["type"] == "content_block_start")
        .expect("block start");
    assert_eq!(start["content_block"]["type"], "tool_use");
    assert_eq!(start["content_block"]["name"], "Bash");
    assert!(
        start["content_block"]["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("toolu_bdrk_"))
    );
    let pieces: Vec<&str> = events
        .iter()
        .filter_map(|e| e["delta"]["partial_json"].as_str())
        .collect();
    assert!(pieces.len() >= 3);
    let input: serde_json::Value =
        serde_json::from_str(&pieces.concat()).expect("pieces form JSON");
    assert_eq!(
        input,
        json!({"command": "echo hi", "description": "Print hi"})
    );
    let stop = events
        .iter()
        .find(|e| e["type"] == "message_delta")
        .expect("message_delta");
    assert_eq!(stop["delta"]["stop_reason"], "tool_use");
}

#[tokio::test]
async fn tool_result_turn_answers_with_the_tool_output() {
    let sim = Sim::start().await;
    let mut request = body("sim:tool_use");
    request["messages"] = json!([
        {"role": "user", "content": "sim:tool_use"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_bdrk_1", "name": "Bash", "input": {"command": "echo hi"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_bdrk_1", "content": [{"type": "text", "text": "hi"}]}]}
    ]);
    let events = sim.stream(PROFILE, &request).await.expect("stream");
    assert_eq!(streamed_text(&events), "Tool said: hi");
    let stop = events
        .iter()
        .find(|e| e["type"] == "message_delta")
        .expect("message_delta");
    assert_eq!(stop["delta"]["stop_reason"], "end_turn");
}

#[tokio::test]
async fn cache_marker_reports_cache_usage_in_message_start() {
    let sim = Sim::start().await;
    let events = sim
        .stream(PROFILE, &body("sim:cache"))
        .await
        .expect("stream");
    let usage = &events[0]["message"]["usage"];
    assert_eq!(usage["cache_creation_input_tokens"], 1200);
    assert_eq!(usage["cache_read_input_tokens"], 3400);
    assert_eq!(
        usage["cache_creation"],
        json!({"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 200})
    );
}

#[tokio::test]
async fn events_arrive_one_by_one_when_paced() {
    let sim = Sim::start().await;
    let events = sim
        .stream_timed(PROFILE, &body("sim:slow=80 sim:long=5"))
        .await
        .expect("stream");
    assert!(events.len() >= 9);
    let first = events.first().map(|(_, t)| *t).expect("first");
    let last = events.last().map(|(_, t)| *t).expect("last");
    // 9+ events 80 ms apart: a buffered body would deliver them all at once.
    assert!(
        gap(first, last) >= Duration::from_millis(80 * 7),
        "spread {:?}",
        gap(first, last)
    );
    let second = events[1].1;
    assert!(
        gap(first, second) >= Duration::from_millis(60),
        "first gap {:?}",
        gap(first, second)
    );
}

#[tokio::test]
async fn configured_event_delay_spaces_events() {
    let sim = Sim::start_with(SimConfig {
        event_delay: Duration::from_millis(40),
        ..SimConfig::default()
    })
    .await;
    let events = sim
        .stream_timed(PROFILE, &body("hi"))
        .await
        .expect("stream");
    let spread = gap(events[0].1, events[events.len() - 1].1);
    assert!(
        spread >= Duration::from_millis(40 * (events.len() as u64 - 2)),
        "spread {spread:?}"
    );
}

#[tokio::test]
async fn silence_marker_holds_the_stream_after_message_start() {
    let sim = Sim::start().await;
    let events = sim
        .stream_timed(PROFILE, &body("sim:silence=0.4"))
        .await
        .expect("stream");
    assert_eq!(events[0].0["type"], "message_start");
    assert!(gap(events[0].1, events[1].1) >= Duration::from_millis(380));
    assert_eq!(events[events.len() - 1].0["type"], "message_stop");
}

#[tokio::test]
async fn long_marker_sends_that_many_text_deltas() {
    let sim = Sim::start().await;
    let events = sim
        .stream(PROFILE, &body("sim:long=40"))
        .await
        .expect("stream");
    assert_eq!(
        events
            .iter()
            .filter(|e| e["delta"]["type"] == "text_delta")
            .count(),
        40
    );
}

#[tokio::test]
async fn midstream_error_surfaces_as_typed_error_from_recv() {
    let sim = Sim::start().await;
    let failure = sim
        .stream(PROFILE, &body("sim:midstream_error=throttling"))
        .await
        .expect_err("stream fails");
    let StreamFailure::Recv { received, error } = failure else {
        panic!("expected a mid-stream failure")
    };
    assert_eq!(
        types(&received),
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta"
        ]
    );
    let service_error = error.into_service_error();
    assert!(service_error.is_throttling_exception(), "{service_error:?}");
}

#[tokio::test]
async fn midstream_model_stream_error_carries_the_original_status() {
    let sim = Sim::start().await;
    let failure = sim
        .stream(PROFILE, &body("sim:midstream_error=model_stream"))
        .await
        .expect_err("stream fails");
    let StreamFailure::Recv { error, .. } = failure else {
        panic!("expected a mid-stream failure")
    };
    match error.into_service_error() {
        aws_sdk_bedrockruntime::types::error::ResponseStreamError::ModelStreamErrorException(e) => {
            assert_eq!(e.original_status_code(), Some(529));
        }
        other => panic!("expected modelStreamErrorException, got {other:?}"),
    }
}

#[tokio::test]
async fn midstream_error_kinds_map_to_sdk_variants() {
    let sim = Sim::start().await;
    for (marker, check) in [
        ("internal", aws_sdk_bedrockruntime::types::error::ResponseStreamError::is_internal_server_exception as fn(&_) -> bool),
        ("unavailable", aws_sdk_bedrockruntime::types::error::ResponseStreamError::is_service_unavailable_exception),
        ("timeout", aws_sdk_bedrockruntime::types::error::ResponseStreamError::is_model_timeout_exception),
        ("validation", aws_sdk_bedrockruntime::types::error::ResponseStreamError::is_validation_exception),
    ] {
        let failure = sim
            .stream(PROFILE, &body(&format!("sim:midstream_error={marker}")))
            .await
            .expect_err("stream fails");
        let StreamFailure::Recv { error, .. } = failure else { panic!("{marker}: expected a mid-stream failure") };
        let service_error = error.into_service_error();
        assert!(check(&service_error), "{marker}: {service_error:?}");
    }
}

#[tokio::test]
async fn cut_marker_drops_the_connection_without_an_exception() {
    let sim = Sim::start().await;
    let failure = sim
        .stream(PROFILE, &body("sim:cut"))
        .await
        .expect_err("stream breaks");
    let StreamFailure::Recv { received, error } = failure else {
        panic!("expected a mid-stream failure")
    };
    assert_eq!(types(&received)[0], "message_start");
    assert!(!types(&received).contains(&"message_stop"));
    // Not a modelled exception: the transport broke.
    let error = *error;
    assert!(
        matches!(
            error,
            aws_sdk_bedrockruntime::error::SdkError::DispatchFailure(_)
                | aws_sdk_bedrockruntime::error::SdkError::ResponseError(_)
        ),
        "{error:?}"
    );
}
