//! A local Amazon Bedrock Runtime that speaks the real wire protocol (restJson1 errors, AWS
//! event-stream frames with CRCs), so Sluice's tests and demos drive the real
//! `aws-sdk-bedrockruntime` client via `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`.
//!
//! Module map (dependency rule: leaf modules know nothing of HTTP routing; only `handlers` and
//! this file touch axum extractors):
//! - [`config`]: [`SimConfig`], the knobs of one instance.
//! - `error`: Bedrock error shapes and their restJson1 response.
//! - `frame`: event-stream `chunk` and exception frames.
//! - `model_id`: id forms (bare, profile, ARN) and per-model feature checks.
//! - `validate`: request-body validation with Bedrock's wording.
//! - `conversation`: reading messages, tools and counting tokens.
//! - `markers`: `sim:` markers → a reply script.
//! - `search`: the web-search scenario (the `web_search` call, the answer from its results).
//! - `reply`: the scripted answer as a JSON message or a list of stream steps.
//! - `stream`: writes stream steps to the socket as they come due.
//! - `recorder`: the request log behind `/_sim/requests`.
//! - `handlers`: the HTTP operations.
//! - `ids`: random ids shaped like Bedrock's.

pub mod config;
mod conversation;
mod error;
mod frame;
mod handlers;
mod ids;
mod markers;
mod model_id;
mod recorder;
mod reply;
mod search;
mod stream;
mod validate;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use config::SimConfig;

/// Larger than any request Claude Code sends; Bedrock itself refuses bodies far beyond this.
const BODY_LIMIT_BYTES: usize = 64 * 1024 * 1024;

/// The simulator's routes. Clones share one request log.
pub fn router(config: SimConfig) -> Router {
    let state = Arc::new(handlers::AppState {
        config,
        recorder: recorder::Recorder::default(),
    });
    Router::new()
        .route("/model/{model_id}/invoke", post(handlers::invoke))
        .route(
            "/model/{model_id}/invoke-with-response-stream",
            post(handlers::invoke_stream),
        )
        .route(
            "/model/{model_id}/count-tokens",
            post(handlers::count_tokens),
        )
        .route(
            "/_sim/requests",
            get(handlers::list_requests).delete(handlers::clear_requests),
        )
        .fallback(handlers::unknown_route)
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .with_state(state)
}

/// Serves the simulator on `listener` until the process ends or the listener fails.
///
/// # Errors
/// The listener's I/O error that ended serving.
pub async fn serve(listener: tokio::net::TcpListener, config: SimConfig) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "bedrock-sim listening");
    }
    // Each event frame must leave at once: without TCP_NODELAY the first small write after the headers waits
    // for the client's (delayed) ACK, a ~40 ms stall per stream that would swamp every latency we measure.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, router(config)).await
}
