//! CountTokens through the real SDK.

use aws_sdk_bedrockruntime::error::ProvideErrorMetadata as _;
use aws_sdk_bedrockruntime::operation::count_tokens::CountTokensError;
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::{CountTokensInput, InvokeModelTokensRequest};
use serde_json::Value;

use crate::support::{Sim, body};

async fn count(sim: &Sim, model: &str, request: &Value) -> Result<i32, CountTokensError> {
    let input = InvokeModelTokensRequest::builder()
        .body(Blob::new(request.to_string()))
        .build()
        .expect("body is set");
    sim.client
        .count_tokens()
        .model_id(model)
        .input(CountTokensInput::InvokeModel(input))
        .send()
        .await
        .map(|out| out.input_tokens())
        .map_err(aws_sdk_bedrockruntime::error::SdkError::into_service_error)
}

#[tokio::test]
async fn counts_tokens_deterministically_on_a_bare_foundation_id() {
    let sim = Sim::start().await;
    let model = "anthropic.claude-sonnet-4-5-20250929-v1:0";
    let short = count(&sim, model, &body("hi"))
        .await
        .expect("count succeeds");
    let again = count(&sim, model, &body("hi"))
        .await
        .expect("count succeeds");
    let long = count(&sim, model, &body(&"word ".repeat(400)))
        .await
        .expect("count succeeds");
    assert!(short > 3);
    assert_eq!(short, again);
    assert!(long >= short + 400, "{long} vs {short}");
}

#[tokio::test]
async fn inference_profile_ids_cannot_count_tokens() {
    let sim = Sim::start().await;
    for model in [
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "anthropic.claude-opus-4-8",
    ] {
        let error = count(&sim, model, &body("hi"))
            .await
            .expect_err("count refused");
        assert!(error.is_validation_exception(), "{model}: {error:?}");
        assert_eq!(
            error.message(),
            Some("The provided model doesn't support counting tokens.")
        );
    }
}

#[tokio::test]
async fn count_tokens_validates_the_inner_body_and_records_it_decoded() {
    let sim = Sim::start().await;
    let mut request = body("hi");
    request["stream"] = serde_json::json!(true);
    let error = count(&sim, "anthropic.claude-3-5-haiku-20241022-v1:0", &request)
        .await
        .expect_err("refused");
    assert!(
        error
            .message()
            .is_some_and(|m| m.contains("extraneous key [stream]")),
        "{error:?}"
    );
    let recorded = sim.recorded().await;
    assert_eq!(recorded[0]["operation"], "CountTokens");
    assert_eq!(recorded[0]["invoke_body"], request);
}
