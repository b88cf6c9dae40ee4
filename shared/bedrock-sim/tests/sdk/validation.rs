//! Bedrock-like refusals of request bodies and model ids, seen through the SDK.

use aws_sdk_bedrockruntime::error::ProvideErrorMetadata as _;
use serde_json::{Value, json};
use sluice_bedrock_sim::SimConfig;

use crate::support::{NEW_PROFILE, PROFILE, Sim, StreamFailure, body};

/// The ValidationException message for `request`, failing the test if anything else happens.
async fn refusal(sim: &Sim, model: &str, request: &Value) -> String {
    match sim.stream(model, request).await {
        Err(StreamFailure::Send(error)) => {
            assert!(error.is_validation_exception(), "{error:?}");
            error.message().unwrap_or_default().to_owned()
        }
        other => panic!("expected a ValidationException, got {other:?}"),
    }
}

#[tokio::test]
async fn unknown_top_level_key_is_named() {
    let sim = Sim::start().await;
    let mut request = body("hi");
    request["service_tier"] = json!("auto");
    let message = refusal(&sim, PROFILE, &request).await;
    assert!(
        message.contains("extraneous key [service_tier] is not permitted"),
        "{message}"
    );
}

#[tokio::test]
async fn model_field_in_body_is_refused() {
    let sim = Sim::start().await;
    let mut request = body("hi");
    request["model"] = json!("claude-sonnet-4-5");
    let message = refusal(&sim, PROFILE, &request).await;
    assert!(message.contains("extraneous key [model]"), "{message}");
}

#[tokio::test]
async fn output_config_is_refused_on_older_models_only() {
    let sim = Sim::start().await;
    let mut request = body("hi");
    request["output_config"] = json!({"effort": "medium"});
    assert!(
        refusal(&sim, PROFILE, &request)
            .await
            .contains("extraneous key [output_config]")
    );
    assert!(sim.stream(NEW_PROFILE, &request).await.is_ok());
}

#[tokio::test]
async fn unknown_beta_is_named() {
    let sim = Sim::start().await;
    let mut request = body("hi");
    request["anthropic_beta"] =
        json!(["claude-code-20250219", "mid-conversation-system-2026-04-07"]);
    let message = refusal(&sim, PROFILE, &request).await;
    assert_eq!(
        message,
        "invalid beta flag: mid-conversation-system-2026-04-07"
    );
}

#[tokio::test]
async fn configured_rejections_apply_to_known_betas_and_fields() {
    let config = SimConfig {
        reject_betas: vec!["context-1m-2025-08-07".into()],
        reject_fields: vec!["output_config".into()],
        ..SimConfig::default()
    };
    let sim = Sim::start_with(config).await;
    let mut request = body("hi");
    request["anthropic_beta"] = json!(["context-1m-2025-08-07"]);
    assert!(
        refusal(&sim, NEW_PROFILE, &request)
            .await
            .contains("context-1m-2025-08-07")
    );
    let mut request = body("hi");
    request["output_config"] = json!({"effort": "low"});
    assert!(
        refusal(&sim, NEW_PROFILE, &request)
            .await
            .contains("extraneous key [output_config]")
    );
}

#[tokio::test]
async fn system_role_message_is_refused() {
    let sim = Sim::start().await;
    let mut request = body("hi");
    request["messages"] = json!([
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "ok"},
        {"role": "system", "content": "be brief"}
    ]);
    let message = refusal(&sim, PROFILE, &request).await;
    assert_eq!(
        message,
        "messages.2.role: Input should be 'user' or 'assistant'"
    );
}

#[tokio::test]
async fn missing_anthropic_version_is_refused_with_bedrocks_wording() {
    let sim = Sim::start().await;
    let request = json!({"max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    let message = refusal(&sim, PROFILE, &request).await;
    assert_eq!(
        message,
        "Malformed input request: #: required key [anthropic_version] not found, please reformat your input and try again."
    );
}

#[tokio::test]
async fn cache_control_scope_is_refused_with_its_path() {
    let sim = Sim::start().await;
    let mut request = body("hi");
    request["tools"] = json!([
        {"name": "Bash", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral", "scope": "global"}}
    ]);
    let message = refusal(&sim, PROFILE, &request).await;
    assert_eq!(
        message,
        "tools.0.cache_control.scope: Extra inputs are not permitted"
    );
}

#[tokio::test]
async fn adaptive_thinking_is_refused_on_older_models_and_enabled_on_newest() {
    let sim = Sim::start().await;
    let mut adaptive = body("hi");
    adaptive["thinking"] = json!({"type": "adaptive"});
    assert!(
        refusal(&sim, PROFILE, &adaptive)
            .await
            .contains("thinking.type")
    );
    assert!(sim.stream(NEW_PROFILE, &adaptive).await.is_ok());
    let mut enabled = body("hi");
    enabled["thinking"] = json!({"type": "enabled", "budget_tokens": 128});
    assert!(
        refusal(&sim, NEW_PROFILE, &enabled)
            .await
            .contains("thinking.type")
    );
    assert!(sim.stream(PROFILE, &enabled).await.is_ok());
}

#[tokio::test]
async fn bare_id_of_a_new_model_needs_an_inference_profile() {
    let sim = Sim::start().await;
    let message = refusal(&sim, "anthropic.claude-opus-4-8", &body("hi")).await;
    assert!(message.starts_with("Invocation of model ID anthropic.claude-opus-4-8 with on-demand throughput isn't supported."));
}

#[tokio::test]
async fn unknown_model_identifier_is_invalid() {
    let sim = Sim::start().await;
    let message = refusal(&sim, "openai.gpt-5", &body("hi")).await;
    assert_eq!(message, "The provided model identifier is invalid.");
}
