//! The HTTP operations: InvokeModel, InvokeModelWithResponseStream, CountTokens and the
//! `/_sim/requests` introspection endpoints.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::Value;
use tokio::time::Instant;

use crate::config::SimConfig;
use crate::conversation::count_input_tokens;
use crate::error::{BedrockError, ErrorKind};
use crate::frame::StreamException;
use crate::ids;
use crate::markers::Script;
use crate::model_id::ModelId;
use crate::recorder::{Recorded, Recorder};
use crate::reply::Reply;
use crate::stream;
use crate::validate::validate_body;

pub struct AppState {
    pub config: SimConfig,
    pub recorder: Recorder,
}

type Shared = State<Arc<AppState>>;

/// Parses the body for the log; non-JSON is kept as a string so the log still shows it.
fn parse_for_log(bytes: &[u8]) -> (Value, bool) {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => (value, true),
        Err(_) => (
            Value::String(String::from_utf8_lossy(bytes).into_owned()),
            false,
        ),
    }
}

/// Everything an invoke needs once the request passed Bedrock's checks.
struct Accepted {
    script: Script,
    reply: Reply,
}

fn accept(
    state: &AppState,
    operation: &'static str,
    model_id: &str,
    bytes: &[u8],
) -> Result<Accepted, BedrockError> {
    let (body, is_json) = parse_for_log(bytes);
    state.recorder.record(Recorded {
        operation,
        model_id: model_id.to_owned(),
        body: body.clone(),
        invoke_body: None,
    });
    let model = ModelId::parse(model_id)?;
    model.check_invocable()?;
    if !is_json {
        return Err(BedrockError::malformed("#: body is not valid JSON"));
    }
    validate_body(&body, &model, &state.config)?;
    let script = Script::from_body(&body);
    if let Some(error) = script.error.clone() {
        return Err(error);
    }
    let reply = Reply::new(&script, &body, model.anthropic_name());
    Ok(Accepted { script, reply })
}

fn with_request_id(mut response: Response) -> Response {
    if let Ok(value) = HeaderValue::from_str(&ids::request_id()) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

/// What a mid-stream exception becomes when there is no stream to carry it.
fn as_invoke_error(exception: StreamException) -> BedrockError {
    let kind = match exception {
        StreamException::Throttling => ErrorKind::Throttling,
        StreamException::Internal => ErrorKind::InternalServer,
        StreamException::ModelStream => ErrorKind::ModelError,
        StreamException::Unavailable => ErrorKind::ServiceUnavailable,
        StreamException::Timeout => ErrorKind::ModelTimeout,
        StreamException::Validation => ErrorKind::Validation,
    };
    let message = exception.payload()["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    BedrockError::new(kind, message)
}

pub async fn invoke(State(state): Shared, Path(model_id): Path<String>, bytes: Bytes) -> Response {
    let started = Instant::now();
    let accepted = match accept(&state, "InvokeModel", &model_id, &bytes) {
        Ok(accepted) => accepted,
        Err(error) => return with_request_id(error.into_response()),
    };
    let Accepted { script, reply } = accepted;
    if let Some(exception) = script.midstream {
        return with_request_id(as_invoke_error(exception).into_response());
    }
    if let Some(silence) = script.silence {
        tokio::time::sleep(silence).await;
    }
    let json = reply.message().to_string();
    let body = if script.cut {
        // Half a message, then a dropped connection.
        let half = json.as_bytes()[..json.len() / 2].to_vec();
        let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(Bytes::from(half)),
            Err(std::io::Error::other("sim:cut drops the connection")),
        ];
        Body::from_stream(futures::stream::iter(chunks))
    } else {
        Body::from(json)
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        "x-amzn-bedrock-input-token-count",
        HeaderValue::from(reply.input_tokens),
    );
    headers.insert(
        "x-amzn-bedrock-output-token-count",
        HeaderValue::from(reply.output_tokens),
    );
    let latency = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    headers.insert(
        "x-amzn-bedrock-invocation-latency",
        HeaderValue::from(latency),
    );
    with_request_id((StatusCode::OK, headers, body).into_response())
}

pub async fn invoke_stream(
    State(state): Shared,
    Path(model_id): Path<String>,
    bytes: Bytes,
) -> Response {
    let started = Instant::now();
    let accepted = match accept(&state, "InvokeModelWithResponseStream", &model_id, &bytes) {
        Ok(accepted) => accepted,
        Err(error) => return with_request_id(error.into_response()),
    };
    let Accepted { script, reply } = accepted;
    let pace: Duration = script.slow.unwrap_or(state.config.event_delay);
    let steps = reply.steps(&script);
    let body = stream::spawn(reply, steps, pace, started);
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.amazon.eventstream"),
    );
    headers.insert(
        "x-amzn-bedrock-content-type",
        HeaderValue::from_static("application/json"),
    );
    with_request_id((StatusCode::OK, headers, body).into_response())
}

fn decode_count_request(outer: &Value) -> Result<Value, BedrockError> {
    let encoded = outer
        .pointer("/input/invokeModel/body")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            BedrockError::malformed("#/input: required key [invokeModel.body] not found")
        })?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| BedrockError::malformed("#/input/invokeModel/body: not valid base64"))?;
    serde_json::from_slice(&raw).map_err(|_| BedrockError::malformed("#: body is not valid JSON"))
}

fn count(state: &AppState, model_id: &str, bytes: &[u8]) -> Result<u64, BedrockError> {
    let (outer, _) = parse_for_log(bytes);
    let inner = decode_count_request(&outer);
    state.recorder.record(Recorded {
        operation: "CountTokens",
        model_id: model_id.to_owned(),
        body: outer,
        invoke_body: inner.as_ref().ok().cloned(),
    });
    let model = ModelId::parse(model_id)?;
    model.check_countable()?;
    let inner = inner?;
    validate_body(&inner, &model, &state.config)?;
    Ok(count_input_tokens(&inner))
}

pub async fn count_tokens(
    State(state): Shared,
    Path(model_id): Path<String>,
    bytes: Bytes,
) -> Response {
    let response = match count(&state, &model_id, &bytes) {
        Ok(n) => Json(serde_json::json!({ "inputTokens": n })).into_response(),
        Err(error) => error.into_response(),
    };
    with_request_id(response)
}

pub async fn list_requests(State(state): Shared) -> Json<Vec<Recorded>> {
    Json(state.recorder.snapshot())
}

pub async fn clear_requests(State(state): Shared) -> StatusCode {
    state.recorder.clear();
    StatusCode::NO_CONTENT
}

pub async fn unknown_route(uri: axum::http::Uri) -> Response {
    tracing::debug!(%uri, "bedrock-sim has no such route");
    let body = serde_json::json!({ "message": format!("Unknown operation: {}", uri.path()) });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}
