//! AWS SDK configuration for tests against a local endpoint (moto, the Bedrock simulator).

use std::time::Duration;

use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;

/// Static credentials, region `us-east-1`, every service at `endpoint`. Built directly rather than through
/// `aws_config::load_defaults`, so no environment variable, profile file or instance metadata can change it.
#[must_use]
pub fn aws_sdk_config(endpoint: &str) -> SdkConfig {
    let credentials = Credentials::new("testing", "testing", None, None, "sluice-testkit");
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build()
}

/// As `aws_sdk_config`, for a local server that takes requests one at a time under heavy concurrency
/// (`MotoServer::shared_serial`): connections wait in its accept queue far longer than the SDK's 3.1 s connect
/// timeout, and a waiting request is not a stalled stream.
#[must_use]
pub fn aws_sdk_config_patient(endpoint: &str) -> SdkConfig {
    aws_sdk_config(endpoint)
        .into_builder()
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(120))
                .build(),
        )
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_points_at_the_endpoint_in_us_east_1_with_credentials() {
        let config = aws_sdk_config("http://127.0.0.1:5999");
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5999"));
        assert_eq!(config.region().map(Region::as_ref), Some("us-east-1"));
        assert!(config.credentials_provider().is_some());
    }
}
