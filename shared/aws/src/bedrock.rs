//! `BedrockUpstream`: the `Upstream` port over `aws-sdk-bedrockruntime` (InvokeModel, InvokeModelWithResponseStream,
//! CountTokens). SDK errors become `UpstreamError` here, classified by Bedrock's error code, so no SDK type leaves
//! this crate.

use async_trait::async_trait;
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::error::ResponseStreamError;
use aws_sdk_bedrockruntime::types::{CountTokensInput, InvokeModelTokensRequest, ResponseStream};
use bytes::Bytes;
use sluice_core::error::{UpstreamError, UpstreamErrorKind};
use sluice_core::upstream::{ChunkStream, Upstream};

#[derive(Debug, Clone)]
pub struct BedrockUpstream {
    client: Client,
}

impl BedrockUpstream {
    #[must_use]
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// From a loaded `SdkConfig` (region, credentials chain, `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`).
    #[must_use]
    pub fn from_conf(config: &aws_config::SdkConfig) -> Self {
        Self::new(Client::new(config))
    }
}

#[async_trait]
impl Upstream for BedrockUpstream {
    async fn invoke(&self, model_id: &str, body: Bytes) -> Result<Bytes, UpstreamError> {
        let out = self
            .client
            .invoke_model()
            .model_id(model_id)
            .content_type("application/json")
            .accept("application/json")
            .body(Blob::new(body))
            .send()
            .await
            .map_err(|e| classify_sdk(&e))?;
        Ok(Bytes::from(out.body.into_inner()))
    }

    async fn invoke_stream(
        &self,
        model_id: &str,
        body: Bytes,
    ) -> Result<ChunkStream, UpstreamError> {
        let out = self
            .client
            .invoke_model_with_response_stream()
            .model_id(model_id)
            .content_type("application/json")
            .accept("application/json")
            .body(Blob::new(body))
            .send()
            .await
            .map_err(|e| classify_sdk(&e))?;
        // The receiver owns the HTTP connection: dropping this stream (client gone) closes it, cancelling the call.
        let stream = futures::stream::unfold(Some(out.body), |rx| async move {
            let mut rx = rx?;
            loop {
                match rx.recv().await {
                    Ok(Some(ResponseStream::Chunk(part))) => {
                        let Some(bytes) = part.bytes else { continue };
                        return Some((Ok(Bytes::from(bytes.into_inner())), Some(rx)));
                    }
                    Ok(Some(other)) => {
                        tracing::warn!(event = ?other, "ignoring an unknown Bedrock stream event");
                    }
                    Ok(None) => return None,
                    Err(e) => return Some((Err(classify_stream(&e)), None)),
                }
            }
        });
        Ok(Box::pin(stream))
    }

    async fn count_tokens(&self, model_id: &str, body: Bytes) -> Result<u64, UpstreamError> {
        let request = InvokeModelTokensRequest::builder()
            .body(Blob::new(body))
            .build()
            .map_err(|e| UpstreamError::new(UpstreamErrorKind::Validation, e.to_string()))?;
        let out = self
            .client
            .count_tokens()
            .model_id(model_id)
            .input(CountTokensInput::InvokeModel(request))
            .send()
            .await
            .map_err(|e| classify_sdk(&e))?;
        Ok(u64::try_from(out.input_tokens()).unwrap_or(0))
    }
}

fn classify_sdk<E, R>(err: &SdkError<E, R>) -> UpstreamError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err {
        SdkError::ServiceError(ctx) => {
            let e = ctx.err();
            let message = e.message().unwrap_or("no message").to_owned();
            UpstreamError::new(kind_for_code(e.code().unwrap_or(""), None), message)
        }
        other => transport(other),
    }
}

fn classify_stream<R: std::fmt::Debug>(err: &SdkError<ResponseStreamError, R>) -> UpstreamError {
    use UpstreamErrorKind as K;
    let SdkError::ServiceError(ctx) = err else {
        return transport(err);
    };
    let e = ctx.err();
    // Exception frames carry their type in `:exception-type`; the SDK exposes it as the variant, not always as `code()`.
    let kind = match e {
        ResponseStreamError::ThrottlingException(_) => K::Throttling,
        ResponseStreamError::ServiceUnavailableException(_) => K::ServiceUnavailable,
        ResponseStreamError::InternalServerException(_) => K::InternalServer,
        ResponseStreamError::ModelTimeoutException(_) => K::ModelTimeout,
        ResponseStreamError::ValidationException(_) => K::Validation,
        ResponseStreamError::ModelStreamErrorException(m) => K::ModelStreamError {
            original_status: m.original_status_code().and_then(|c| u16::try_from(c).ok()),
        },
        other => kind_for_code(other.code().unwrap_or(""), None),
    };
    UpstreamError::new(kind, e.message().unwrap_or("no message").to_owned())
}

fn transport<E: std::error::Error + 'static, R: std::fmt::Debug>(
    err: &SdkError<E, R>,
) -> UpstreamError {
    let detail = aws_smithy_types::error::display::DisplayErrorContext(err).to_string();
    let kind = if detail.to_ascii_lowercase().contains("credential") {
        UpstreamErrorKind::Credentials
    } else {
        UpstreamErrorKind::Transport
    };
    tracing::warn!(error = %detail, "Bedrock call failed without a service answer");
    UpstreamError::new(kind, detail)
}

/// Bedrock error codes (the `x-amzn-errortype` / `:exception-type` names, either case) → kinds.
fn kind_for_code(code: &str, original_status: Option<u16>) -> UpstreamErrorKind {
    use UpstreamErrorKind as K;
    let code = code.trim_end_matches("Exception").to_ascii_lowercase();
    match code.as_str() {
        "validation" => K::Validation,
        "accessdenied" => K::AccessDenied,
        "resourcenotfound" => K::ResourceNotFound,
        "throttling" => K::Throttling,
        "servicequotaexceeded" => K::ServiceQuotaExceeded,
        "modelnotready" => K::ModelNotReady,
        "serviceunavailable" => K::ServiceUnavailable,
        "internalserver" | "internalfailure" => K::InternalServer,
        "modeltimeout" => K::ModelTimeout,
        "modelerror" => K::ModelError,
        "modelstreamerror" => K::ModelStreamError { original_status },
        _ => {
            tracing::warn!(
                code,
                "unrecognised Bedrock error code, treated as an internal error"
            );
            K::InternalServer
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_classify_in_both_spellings() {
        assert_eq!(
            kind_for_code("ThrottlingException", None),
            UpstreamErrorKind::Throttling
        );
        assert_eq!(
            kind_for_code("throttlingException", None),
            UpstreamErrorKind::Throttling
        );
        assert_eq!(
            kind_for_code("serviceUnavailableException", None),
            UpstreamErrorKind::ServiceUnavailable
        );
        assert_eq!(
            kind_for_code("modelStreamErrorException", Some(429)),
            UpstreamErrorKind::ModelStreamError {
                original_status: Some(429)
            }
        );
        assert_eq!(
            kind_for_code("SomethingNew", None),
            UpstreamErrorKind::InternalServer
        );
    }
}
