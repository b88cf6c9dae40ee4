//! Dev-only helpers shared by the test suites of the workspace. Depends on `sluice-core` and generic crates
//! only — never on an adapter crate (`sluice-aws` and `sluice-sqlite` dev-depend on this one).
//!
//! - `contract`: the store contract suite every `KeyStore` backend must pass, and a macro that turns it into
//!   one `#[tokio::test]` per behaviour.
//! - `idp`: `TestIdp`, a loopback OpenID provider (discovery, JWKS, implicit-flow `/authorize`) with test keys.
//! - `fixtures`: builders for domain values with unique ids, so tests can share a store.
//! - `moto`: starts `moto_server` on a free loopback port (one per test binary via `MotoServer::shared`).
//! - `iam`: a second moto server that enforces IAM, and users with a function's policy from the template.
//! - `template`: `template.yaml`'s function policies, intrinsic functions resolved against a test's resources.
//! - `aws`: an AWS SDK config with static test credentials pointed at a local endpoint.
//! - `sim`: the Bedrock simulator in-process on a loopback port.
//! - `calls`: a DynamoDB client that counts the requests it sends (round trips per operation).
//! - `logs`: `LogCapture`, a tracing `MakeWriter` that keeps log lines in memory for assertions.
//! - `messaging`: SNS topics, EventBridge buses and SQS queues for a test, and their routing to a queue.
//! - `poll`: `first_message`, an SQS queue received until a message arrives or a deadline passes.
//! - `serve`: `LocalServer`, an axum router on a free loopback port, stopped when dropped.
//! - `webhook`: `WebhookReceiver`, a loopback webhook endpoint that records POSTs and checks their signatures.

#![expect(
    clippy::disallowed_methods,
    reason = "dev-only: test servers (moto, the simulator, the identity provider, webhook receivers, contract races) run on their own tasks, and the environment says where moto is"
)]
pub mod aws;
pub mod calls;
pub mod contract;
pub mod fixtures;
pub mod iam;
pub mod idp;
pub mod logs;
pub mod messaging;
pub mod moto;
pub mod poll;
pub mod serve;
pub mod sim;
pub mod template;
pub mod webhook;

pub use aws::{aws_sdk_config, aws_sdk_config_patient};
pub use fixtures::unique_name;
pub use logs::LogCapture;
pub use moto::MotoServer;
pub use serve::LocalServer;
pub use sim::SimServer;
pub use webhook::WebhookReceiver;
