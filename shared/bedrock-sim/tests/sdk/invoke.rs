//! InvokeModel (non-streaming) through the real SDK.

use serde_json::{Value, json};

use crate::support::{PROFILE, Sim, body};

async fn invoke(sim: &Sim, model: &str, request: &Value) -> Value {
    sim.invoke(model, request).await
}

#[tokio::test]
async fn invoke_answers_one_anthropic_message() {
    let sim = Sim::start().await;
    let message = invoke(&sim, PROFILE, &body("hello")).await;
    assert_eq!(message["type"], "message");
    assert_eq!(message["role"], "assistant");
    assert_eq!(message["model"], "claude-sonnet-4-5-20250929");
    assert!(
        message["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("msg_bdrk_"))
    );
    assert_eq!(
        message["content"],
        json!([{"type": "text", "text": "Hello from the Bedrock simulator."}])
    );
    assert_eq!(message["stop_reason"], "end_turn");
    assert_eq!(message["stop_sequence"], Value::Null);
    assert!(
        message["usage"]["input_tokens"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );
    assert!(
        message["usage"]["output_tokens"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );
}

#[tokio::test]
async fn invoke_with_tool_use_marker_returns_the_tool_call_with_parsed_input() {
    let sim = Sim::start().await;
    let mut request = body("sim:tool_use");
    request["tools"] =
        json!([{"name": "Grep", "description": "g", "input_schema": {"type": "object"}}]);
    let message = invoke(&sim, PROFILE, &request).await;
    assert_eq!(message["stop_reason"], "tool_use");
    assert_eq!(message["content"][0]["name"], "Grep");
    assert_eq!(message["content"][0]["input"]["command"], "echo hi");
}

#[tokio::test]
async fn invoke_with_thinking_marker_returns_a_signed_thinking_block_first() {
    let sim = Sim::start().await;
    let message = invoke(&sim, PROFILE, &body("sim:thinking")).await;
    assert_eq!(message["content"][0]["type"], "thinking");
    assert!(
        message["content"][0]["signature"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert_eq!(message["content"][1]["type"], "text");
}

#[tokio::test]
async fn invoke_accepts_an_application_inference_profile_arn() {
    let sim = Sim::start().await;
    let arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123";
    let message = invoke(&sim, arn, &body("hi")).await;
    assert_eq!(message["type"], "message");
    let recorded = sim.recorded().await;
    assert_eq!(recorded[0]["model_id"], arn);
}
