//! The upstream leg of an inference request: shape, call, learn from a rejection and retry once, then relay.
//!
//! The relay is the SSE body: each poll reads Bedrock and translates. It writes the request's usage record before
//! the body ends, in the poll that ends it, so the record is stored before the response is complete. When the
//! client goes away the host drops the body (`axum::serve` at once; the Lambda runtime when its next send fails):
//! dropping the Bedrock stream cancels the call, and the record (outcome `client_disconnected`, the tokens seen so
//! far) is handed to the host through [`BodyGuard::finish_later`] instead of a task of the relay's own. Under
//! Lambda the invocation runs that write on its own task before the runtime asks for the next event (see
//! [`sluice_http::serve`]).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures::StreamExt;
use sluice_core::capabilities::Learned;
use sluice_core::error::{ApiError, UpstreamError, UpstreamErrorKind};
use sluice_core::models::ResolvedModel;
use sluice_core::shape::{
    ClientRequest, Rejected, ShapeReport, rejection_target, shape_for_bedrock,
};
use sluice_core::spend::Outcome;
use sluice_core::translate::{PING_FRAME, StreamEnd, StreamTranslator};
use sluice_core::upstream::ChunkStream;
use tracing::Instrument;

use crate::usage::{UsageContext, UsageLedger};
use sluice_http::serve::BodyGuard;

/// Shapes the request and makes the upstream call. When Bedrock rejects a beta or a droppable field by name, the
/// rejection is remembered for the model family and the call is retried once without it — the only retry Sluice
/// makes itself, because it changes the request rather than repeating it.
///
/// # Errors
/// The client-facing error for a shaping failure or the (last) upstream failure.
pub async fn call_with_learning<T, F, Fut>(
    learned: &Learned,
    req: &ClientRequest,
    model: &ResolvedModel,
    call: F,
) -> Result<(T, ShapeReport), ApiError>
where
    F: Fn(Bytes) -> Fut,
    Fut: Future<Output = Result<T, UpstreamError>>,
{
    let (body, report) = shape_for_bedrock(req, model, &learned.get(&model.family))?;
    log_shaping(&report, &model.invoke_id);
    let err = match call(Bytes::from(body)).await {
        Ok(t) => return Ok((t, report)),
        Err(e) => e,
    };
    if err.kind != UpstreamErrorKind::Validation {
        return Err(ApiError::from_upstream(&err, &model.requested));
    }
    match rejection_target(&err.message, &report.forwarded_betas, &req.body) {
        Some(Rejected::Beta(b)) => {
            tracing::warn!(family = %model.family, beta = ?b, "Bedrock rejected a beta; dropping it for this model and retrying once");
            learned.reject_beta(&model.family, &b);
        }
        Some(Rejected::Field(f)) => {
            tracing::warn!(family = %model.family, field = ?f, "Bedrock rejected a field; dropping it for this model and retrying once");
            learned.reject_field(&model.family, &f);
        }
        None => return Err(ApiError::from_upstream(&err, &model.requested)),
    }
    let (body, report) = shape_for_bedrock(req, model, &learned.get(&model.family))?;
    match call(Bytes::from(body)).await {
        Ok(t) => Ok((t, report)),
        Err(e) => Err(ApiError::from_upstream(&e, &model.requested)),
    }
}

fn log_shaping(report: &ShapeReport, invoke_id: &str) {
    if report.dropped_fields.is_empty()
        && report.dropped_betas.is_empty()
        && report.notes.is_empty()
    {
        return;
    }
    tracing::info!(
        model = invoke_id,
        dropped_fields = ?report.dropped_fields,
        dropped_betas = ?report.dropped_betas,
        notes = ?report.notes,
        "shaped request for Bedrock"
    );
}

struct Relay {
    upstream: ChunkStream,
    translator: StreamTranslator,
    ping: Duration,
    requested: String,
    started: std::time::Instant,
    first_byte_ms: Option<u64>,
    finished: bool,
    /// The request's span: the body outlives the handler, so its logs must carry the request id explicitly.
    span: tracing::Span,
    ledger: Arc<UsageLedger>,
    usage: UsageContext,
    recorded: bool,
    /// Released with the relay, after `Drop for Relay` has handed the host what it could not finish.
    host: BodyGuard,
}

impl Relay {
    /// The next frame to send, or `None` when the response is over. Waits at most `ping` for upstream data before
    /// answering with a keep-alive, so a long thinking pause never looks like a dead connection.
    async fn next_frame(&mut self) -> Option<Bytes> {
        if self.finished {
            // The last frame has gone out; the usage record is written before the body ends.
            self.record_usage().await;
            return None;
        }
        loop {
            let frame = match tokio::time::timeout(self.ping, self.upstream.next()).await {
                Err(_) => return Some(Bytes::from_static(PING_FRAME.as_bytes())),
                Ok(Some(Ok(chunk))) => match self.translator.on_chunk(&chunk) {
                    Some(f) => f,
                    None if self.translator.end() == StreamEnd::Open => continue,
                    None => return self.finish().await,
                },
                Ok(Some(Err(e))) => {
                    let err = ApiError::from_upstream(&e, &self.requested);
                    tracing::warn!(error = %e, "Bedrock stream failed mid-way");
                    match self.translator.on_error(&err) {
                        Some(f) => f,
                        None => return self.finish().await,
                    }
                }
                Ok(None) => match self.translator.on_upstream_end() {
                    Some(f) => f,
                    None => return self.finish().await,
                },
            };
            self.first_byte_ms
                .get_or_insert_with(|| self.started.elapsed().as_millis() as u64);
            if self.translator.end() != StreamEnd::Open {
                self.log_done();
                self.finished = true;
            }
            return Some(Bytes::from(frame));
        }
    }

    async fn finish(&mut self) -> Option<Bytes> {
        if !self.finished {
            self.log_done();
            self.finished = true;
        }
        self.record_usage().await;
        None
    }

    fn outcome(&self) -> Outcome {
        match self.translator.end() {
            StreamEnd::Complete => Outcome::Complete,
            StreamEnd::Failed => Outcome::UpstreamError,
            StreamEnd::Open if self.finished => Outcome::UpstreamError,
            StreamEnd::Open => Outcome::ClientDisconnected,
        }
    }

    async fn record_usage(&mut self) {
        if self.recorded {
            return;
        }
        self.recorded = true;
        let record = self
            .usage
            .record(self.translator.usage(), self.outcome(), self.first_byte_ms);
        self.ledger.write(record).await;
    }

    fn log_done(&self) {
        let u = self.translator.usage();
        let _scope = self.span.enter();
        tracing::info!(
            end = ?self.translator.end(),
            input_tokens = u.input_tokens,
            output_tokens = u.output_tokens,
            cache_read_input_tokens = u.cache_read_input_tokens,
            cache_creation_input_tokens = u.cache_creation_input_tokens,
            stop_reason = u.stop_reason.as_deref().unwrap_or(""),
            tools = ?u.tool_names,
            first_byte_ms = self.first_byte_ms,
            duration_ms = self.started.elapsed().as_millis() as u64,
            "stream finished"
        );
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if !self.recorded {
            // The usage seen so far is still recorded. Nothing will poll this body again, so the write goes to the
            // host, which runs it on the request's own task (see the module doc).
            self.recorded = true;
            let record =
                self.usage
                    .record(self.translator.usage(), self.outcome(), self.first_byte_ms);
            let ledger = Arc::clone(&self.ledger);
            self.host.finish_later(
                async move { ledger.write(record).await }.instrument(self.span.clone()),
            );
        }
        if !self.finished {
            // The client went away: dropping `upstream` (after this) closes the Bedrock connection, cancelling
            // generation.
            let _scope = self.span.enter();
            tracing::info!(
                output_tokens = self.translator.usage().output_tokens,
                "client disconnected; upstream call cancelled"
            );
        }
    }
}

/// The SSE response body for a started Bedrock stream; its usage is recorded through `ledger` before it ends.
/// Called in the handler: the body is tied to the host's current invocation (see [`BodyGuard`]).
pub fn sse_body(
    upstream: ChunkStream,
    requested_model: &str,
    ping: Duration,
    ledger: Arc<UsageLedger>,
    usage: UsageContext,
) -> Body {
    let relay = Relay {
        ledger,
        usage,
        recorded: false,
        host: BodyGuard::current(),
        upstream,
        translator: StreamTranslator::new(requested_model),
        ping,
        requested: requested_model.to_owned(),
        started: std::time::Instant::now(),
        first_byte_ms: None,
        finished: false,
        span: tracing::Span::current(),
    };
    let frames = futures::stream::unfold(relay, |mut r| async move {
        let frame = r.next_frame().await?;
        Some((Ok::<_, Infallible>(frame), r))
    });
    Body::from_stream(frames)
}
