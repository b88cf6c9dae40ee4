//! Loading AWS configuration at start-up, and saying clearly what is missing instead of failing at the first request.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(
        "no AWS region configured: set AWS_REGION (for example AWS_REGION=us-east-1) or a region in ~/.aws/config"
    )]
    NoRegion,
    #[error(
        "no usable AWS credentials: {0}. Set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, run `aws sso login`, \
         or run on an AWS role"
    )]
    NoCredentials(String),
}

/// Loads the standard AWS configuration chain (env, profile, SSO, container and instance roles; `AWS_ENDPOINT_URL_*`
/// overrides) and checks that a region and credentials are there.
///
/// The SDK's own retries are limited to one: Claude Code already retries 429/529 with backoff, and retries that
/// multiply across layers only delay the answer.
///
/// # Errors
/// `StartupError` naming what is missing.
pub async fn load_aws_config() -> Result<SdkConfig, StartupError> {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .load()
        .await;
    if config.region().is_none() {
        return Err(StartupError::NoRegion);
    }
    let provider = config
        .credentials_provider()
        .ok_or_else(|| StartupError::NoCredentials("no credentials provider".into()))?;
    match tokio::time::timeout(Duration::from_secs(10), provider.provide_credentials()).await {
        Ok(Ok(_)) => Ok(config),
        Ok(Err(e)) => Err(StartupError::NoCredentials(
            aws_smithy_types::error::display::DisplayErrorContext(e).to_string(),
        )),
        Err(_) => Err(StartupError::NoCredentials(
            "timed out resolving credentials after 10 s".into(),
        )),
    }
}

/// The DynamoDB store on `table`, with a client from the loaded configuration.
#[must_use]
pub fn dynamo_store(config: &SdkConfig, table: &str) -> crate::DynamoStore {
    crate::DynamoStore::new(aws_sdk_dynamodb::Client::new(config), table)
}

/// The Bedrock upstream with a client from the loaded configuration.
#[must_use]
pub fn bedrock_upstream(config: &SdkConfig) -> crate::BedrockUpstream {
    crate::BedrockUpstream::from_conf(config)
}

/// Creates the Sluice table (as the SAM template declares it) through the loaded configuration: for tests and
/// local set-ups against DynamoDB Local or moto.
///
/// # Errors
/// As `DynamoStore::create_table`.
pub async fn create_table(
    config: &SdkConfig,
    table: &str,
) -> Result<(), sluice_core::store::StoreError> {
    crate::DynamoStore::create_table(&aws_sdk_dynamodb::Client::new(config), table).await
}
