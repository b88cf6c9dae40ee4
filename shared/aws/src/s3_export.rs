//! The finance export's S3 side: day files of the usage ledger (`sluice_core::spend::export`) put into the
//! export bucket. The bucket's default encryption, public access block and TLS-only policy live in `template.yaml`,
//! so a put names neither keys nor ACLs.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_s3::primitives::ByteStream;
use sluice_core::spend::export::ExportSink;
use sluice_core::store::StoreError;

/// An S3 client from the shared configuration. With a custom endpoint (moto, LocalStack: `AWS_ENDPOINT_URL` or
/// `AWS_ENDPOINT_URL_S3`) requests use path-style addresses, since such servers do not resolve `<bucket>.<host>`;
/// against AWS they stay virtual-hosted.
#[must_use]
#[expect(
    clippy::disallowed_methods,
    reason = "the SDK resolves AWS_ENDPOINT_URL_S3 itself without saying so; path-style addressing follows the same variable"
)]
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let custom_endpoint =
        config.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(custom_endpoint)
            .build(),
    )
}

/// `PutObject` into one bucket; keys come from the core (`spend/dt=YYYY-MM-DD/spend.csv`).
#[derive(Debug, Clone)]
pub struct S3ExportSink {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3ExportSink {
    /// A client from the shared configuration (see [`s3_client`]).
    #[must_use]
    pub fn new(config: &SdkConfig, bucket: impl Into<String>) -> Self {
        Self {
            client: s3_client(config),
            bucket: bucket.into(),
        }
    }

    #[must_use]
    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

#[async_trait]
impl ExportSink for S3ExportSink {
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("text/csv; charset=utf-8")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| {
                let message = format!(
                    "S3 PutObject: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                );
                StoreError::Unavailable(message, Some(Box::new(e)))
            })?;
        Ok(())
    }
}
