//! AWS adapters: the only crate that names `aws-sdk-*` types. SDK errors become domain errors here.
//!
//! - `dynamo`: `DynamoStore`, the store ports on the single DynamoDB table (layout in `dynamo::layout`).
//! - `bedrock`: `BedrockUpstream`, the `Upstream` port over bedrock-runtime.
//! - `notify`: `SnsNotifier` and `EventBridgeNotifier`, the notification `Notifier` port over SNS Publish / PutEvents.
//! - `s3_export`: `S3ExportSink`, the finance export's day files put into the export bucket.
//! - `usage_fallback`: the usage ledger's SQS fallback queue and its replay.
//! - `secrets`: values from the environment or AWS Secrets Manager at start-up.
//! - `startup`: loading the AWS configuration chain with clear errors for what is missing.
//! - `logging`: the log set-up of every binary (JSON lines under Lambda, one line per event locally); here because
//!   every function links this crate and it links no web stack.
pub mod bedrock;
pub use bedrock::BedrockUpstream;
pub mod startup;
pub use startup::{StartupError, bedrock_upstream, create_table, dynamo_store, load_aws_config};
pub mod dynamo;
pub use dynamo::DynamoStore;
pub mod logging;
pub mod notify;
pub mod secrets;
pub use secrets::{ReadSecretError, env_or_secret, read_secret};
pub mod s3_export;
pub use s3_export::{S3ExportSink, s3_client};
pub mod usage_fallback;
pub use usage_fallback::{ReplayError, ReplayReport, SqsUsageFallback, replay_sqs};
