//! Errors before the first byte reach the SDK as its typed errors, on both invoke operations.

use aws_sdk_bedrockruntime::operation::invoke_model::InvokeModelError;
use aws_sdk_bedrockruntime::operation::invoke_model_with_response_stream::InvokeModelWithResponseStreamError as StreamError;
use aws_sdk_bedrockruntime::primitives::Blob;

use crate::support::{PROFILE, Sim, StreamFailure, body};

type InvokeCheck = fn(&InvokeModelError) -> bool;
type StreamCheck = fn(&StreamError) -> bool;

async fn invoke_error(sim: &Sim, marker: &str) -> InvokeModelError {
    sim.client
        .invoke_model()
        .model_id(PROFILE)
        .content_type("application/json")
        .body(Blob::new(body(marker).to_string()))
        .send()
        .await
        .expect_err("invoke fails")
        .into_service_error()
}

async fn stream_error(sim: &Sim, marker: &str) -> StreamError {
    match sim.stream(PROFILE, &body(marker)).await {
        Err(StreamFailure::Send(error)) => *error,
        other => panic!("{marker}: expected an error before streaming, got {other:?}"),
    }
}

#[tokio::test]
async fn each_error_marker_fails_invoke_with_the_typed_error() {
    let sim = Sim::start().await;
    let cases: [(&str, InvokeCheck); 10] = [
        ("sim:throttle", InvokeModelError::is_throttling_exception),
        (
            "sim:unavailable",
            InvokeModelError::is_service_unavailable_exception,
        ),
        (
            "sim:not_ready",
            InvokeModelError::is_model_not_ready_exception,
        ),
        (
            "sim:access_denied",
            InvokeModelError::is_access_denied_exception,
        ),
        (
            "sim:internal",
            InvokeModelError::is_internal_server_exception,
        ),
        (
            "sim:model_timeout",
            InvokeModelError::is_model_timeout_exception,
        ),
        (
            "sim:quota",
            InvokeModelError::is_service_quota_exceeded_exception,
        ),
        (
            "sim:not_found",
            InvokeModelError::is_resource_not_found_exception,
        ),
        (
            "sim:model_error",
            InvokeModelError::is_model_error_exception,
        ),
        ("sim:too_long", InvokeModelError::is_validation_exception),
    ];
    for (marker, check) in cases {
        let error = invoke_error(&sim, marker).await;
        assert!(check(&error), "{marker}: {error:?}");
    }
}

#[tokio::test]
async fn each_error_marker_fails_the_stream_before_any_event() {
    let sim = Sim::start().await;
    let cases: [(&str, StreamCheck); 10] = [
        ("sim:throttle", StreamError::is_throttling_exception),
        (
            "sim:unavailable",
            StreamError::is_service_unavailable_exception,
        ),
        ("sim:not_ready", StreamError::is_model_not_ready_exception),
        ("sim:access_denied", StreamError::is_access_denied_exception),
        ("sim:internal", StreamError::is_internal_server_exception),
        ("sim:model_timeout", StreamError::is_model_timeout_exception),
        (
            "sim:quota",
            StreamError::is_service_quota_exceeded_exception,
        ),
        (
            "sim:not_found",
            StreamError::is_resource_not_found_exception,
        ),
        ("sim:model_error", StreamError::is_model_error_exception),
        ("sim:too_long", StreamError::is_validation_exception),
    ];
    for (marker, check) in cases {
        let error = stream_error(&sim, marker).await;
        assert!(check(&error), "{marker}: {error:?}");
    }
}

#[tokio::test]
async fn too_long_marker_uses_bedrocks_wording() {
    let sim = Sim::start().await;
    let error = stream_error(&sim, "sim:too_long").await;
    assert_eq!(
        aws_sdk_bedrockruntime::error::ProvideErrorMetadata::message(&error),
        Some("Input is too long for requested model.")
    );
}

#[tokio::test]
async fn midstream_marker_on_invoke_becomes_an_error_reply() {
    let sim = Sim::start().await;
    let error = invoke_error(&sim, "sim:midstream_error=throttling").await;
    assert!(error.is_throttling_exception(), "{error:?}");
}
