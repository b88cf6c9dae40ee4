//! `/_sim/requests`: what the simulator received, newest last, and clearing it.

use serde_json::json;

use crate::support::{PROFILE, Sim, body};

#[tokio::test]
async fn requests_are_recorded_in_order_with_decoded_model_ids() {
    let sim = Sim::start().await;
    let arn =
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-4-8";
    sim.stream(PROFILE, &body("first")).await.expect("stream");
    let mut second = body("second");
    second["model"] = json!("refused but still recorded");
    let _refused = sim.stream(arn, &second).await;
    let recorded = sim.recorded().await;
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0]["operation"], "InvokeModelWithResponseStream");
    assert_eq!(recorded[0]["model_id"], PROFILE);
    assert_eq!(recorded[0]["body"], body("first"));
    assert_eq!(recorded[1]["model_id"], arn);
    assert_eq!(recorded[1]["body"], second);
}

#[tokio::test]
async fn delete_clears_the_request_log() {
    let sim = Sim::start().await;
    sim.stream(PROFILE, &body("x")).await.expect("stream");
    assert_eq!(sim.recorded().await.len(), 1);
    let (status, _) = sim.raw("DELETE", "/_sim/requests").await;
    assert_eq!(status, 204);
    assert!(sim.recorded().await.is_empty());
}
