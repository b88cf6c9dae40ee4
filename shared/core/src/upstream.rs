//! The port to the model provider. `sluice-aws::BedrockUpstream` implements it with the real SDK.

use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

use crate::error::UpstreamError;

/// Decoded chunks of a streamed answer: each item is the JSON of one Anthropic event.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<Bytes, UpstreamError>> + Send>>;

#[async_trait]
pub trait Upstream: Send + Sync {
    /// `InvokeModel`: the whole answer at once.
    async fn invoke(&self, model_id: &str, body: Bytes) -> Result<Bytes, UpstreamError>;
    /// `InvokeModelWithResponseStream`: fails before the first chunk, or yields chunks (an item may be an error
    /// mid-stream). Dropping the stream cancels the upstream call.
    async fn invoke_stream(
        &self,
        model_id: &str,
        body: Bytes,
    ) -> Result<ChunkStream, UpstreamError>;
    /// `CountTokens` for an InvokeModel body, with a foundation-model id.
    async fn count_tokens(&self, model_id: &str, body: Bytes) -> Result<u64, UpstreamError>;
}
