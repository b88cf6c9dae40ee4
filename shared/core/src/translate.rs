//! The stream translator: Bedrock `InvokeModelWithResponseStream` chunks → Anthropic SSE frames.
//!
//! Stateful on purpose: it keeps the requested model, the open block and the usage seen so far, so it can restore the
//! client's model id, strip Bedrock's invocation metrics (keeping them for the usage record), and end a failed stream
//! with a proper `event: error` instead of a silent cut. It performs no I/O and never buffers: each chunk in gives its
//! frame out at once.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::ApiError;

const METRICS_KEY: &str = "amazon-bedrock-invocationMetrics";

/// Token usage and Bedrock metrics seen on one response (what the usage record needs).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct UsageSeen {
    pub message_id: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_creation_5m_input_tokens: Option<u64>,
    pub cache_creation_1h_input_tokens: Option<u64>,
    pub stop_reason: Option<String>,
    /// Names of the tools the model called in this response (not the history).
    pub tool_names: Vec<String>,
    pub invocation_metrics: Option<Value>,
}

impl UsageSeen {
    fn absorb_usage(&mut self, usage: &Map<String, Value>) {
        let get = |k: &str| usage.get(k).and_then(Value::as_u64);
        if let Some(n) = get("input_tokens") {
            self.input_tokens = n;
        }
        // output_tokens is cumulative on message_delta: the last value is the total.
        if let Some(n) = get("output_tokens") {
            self.output_tokens = n;
        }
        if let Some(n) = get("cache_read_input_tokens") {
            self.cache_read_input_tokens = n;
        }
        if let Some(n) = get("cache_creation_input_tokens") {
            self.cache_creation_input_tokens = n;
        }
        if let Some(Value::Object(split)) = usage.get("cache_creation") {
            self.cache_creation_5m_input_tokens = split
                .get("ephemeral_5m_input_tokens")
                .and_then(Value::as_u64);
            self.cache_creation_1h_input_tokens = split
                .get("ephemeral_1h_input_tokens")
                .and_then(Value::as_u64);
        }
    }

    /// Reads usage from a complete non-streaming message.
    pub fn absorb_message(&mut self, msg: &Map<String, Value>) {
        self.message_id = msg.get("id").and_then(Value::as_str).map(str::to_owned);
        if let Some(Value::Object(u)) = msg.get("usage") {
            self.absorb_usage(u);
        }
        self.stop_reason = msg
            .get("stop_reason")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(Value::Array(blocks)) = msg.get("content") {
            for b in blocks {
                if b.get("type").and_then(Value::as_str) == Some("tool_use")
                    && let Some(name) = b.get("name").and_then(Value::as_str)
                {
                    self.tool_names.push(name.to_owned());
                }
            }
        }
    }
}

/// How a translated stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// `message_stop` arrived.
    Complete,
    /// An error event was sent.
    Failed,
    /// Still open.
    Open,
}

#[derive(Debug)]
pub struct StreamTranslator {
    requested_model: String,
    usage: UsageSeen,
    open_block: Option<u64>,
    end: StreamEnd,
}

impl StreamTranslator {
    pub fn new(requested_model: impl Into<String>) -> Self {
        Self {
            requested_model: requested_model.into(),
            usage: UsageSeen::default(),
            open_block: None,
            end: StreamEnd::Open,
        }
    }

    #[must_use]
    pub fn usage(&self) -> &UsageSeen {
        &self.usage
    }

    #[must_use]
    pub fn end(&self) -> StreamEnd {
        self.end
    }

    /// Translates one Bedrock chunk (the decoded bytes of one Anthropic event) into its SSE frame.
    /// Returns `None` for a chunk that is not an event (logged, skipped) or anything after the stream ended.
    pub fn on_chunk(&mut self, chunk: &[u8]) -> Option<String> {
        if self.end != StreamEnd::Open {
            return None;
        }
        let mut event: Map<String, Value> = match serde_json::from_slice(chunk) {
            Ok(Value::Object(m)) => m,
            Ok(_) | Err(_) => {
                tracing::warn!(
                    len = chunk.len(),
                    "skipping a Bedrock chunk that is not a JSON event"
                );
                return None;
            }
        };
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned();
        match kind.as_str() {
            "message_start" => self.on_message_start(&mut event),
            "content_block_start" => {
                self.open_block = event.get("index").and_then(Value::as_u64);
                if let Some(Value::Object(block)) = event.get("content_block")
                    && block.get("type").and_then(Value::as_str) == Some("tool_use")
                    && let Some(name) = block.get("name").and_then(Value::as_str)
                {
                    self.usage.tool_names.push(name.to_owned());
                }
            }
            "content_block_stop" => self.open_block = None,
            "message_delta" => {
                if let Some(Value::Object(u)) = event.get("usage") {
                    self.usage.absorb_usage(u);
                }
                if let Some(r) = event
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str)
                {
                    self.usage.stop_reason = Some(r.to_owned());
                }
            }
            "message_stop" => {
                self.usage.invocation_metrics = event.remove(METRICS_KEY);
                self.end = StreamEnd::Complete;
            }
            _ => {}
        }
        // Bedrock may attach metrics elsewhere in the future; never leak them.
        event.remove(METRICS_KEY);
        Some(frame(&kind, &Value::Object(event)))
    }

    fn on_message_start(&mut self, event: &mut Map<String, Value>) {
        let Some(Value::Object(message)) = event.get_mut("message") else {
            return;
        };
        message.insert("model".into(), json!(self.requested_model));
        self.usage.message_id = message.get("id").and_then(Value::as_str).map(str::to_owned);
        let usage = message.entry("usage").or_insert_with(|| json!({}));
        if let Value::Object(u) = usage {
            // Clients read cache usage from message_start only; make both fields present there (and only there:
            // newer SDKs copy message_delta cache fields over the real values).
            u.entry("cache_creation_input_tokens").or_insert(json!(0));
            u.entry("cache_read_input_tokens").or_insert(json!(0));
            self.usage.absorb_usage(u);
        }
    }

    /// Ends the stream with an error event. Open blocks are left open on purpose: closing them would present a
    /// truncated tool call or thinking block as complete, while an `error` event makes the client discard the turn.
    pub fn on_error(&mut self, err: &ApiError) -> Option<String> {
        if self.end != StreamEnd::Open {
            return None;
        }
        self.end = StreamEnd::Failed;
        Some(err.sse_frame())
    }

    /// Called when the upstream stream ended. A stream that ended without `message_stop` gets an error event
    /// (Claude Code treats a clean close before the final `message_delta` as a dropped connection anyway).
    pub fn on_upstream_end(&mut self) -> Option<String> {
        if self.end != StreamEnd::Open {
            return None;
        }
        if self.usage.stop_reason.is_some() && self.open_block.is_none() {
            // A body that ends after message_delta with a stop_reason is complete for the client.
            self.end = StreamEnd::Complete;
            return None;
        }
        self.on_error(&ApiError::internal(
            "The upstream stream from Amazon Bedrock ended before the message was complete",
        ))
    }
}

/// One SSE frame exactly as the Anthropic API frames it.
#[must_use]
pub fn frame(event: &str, data: &Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

/// The keep-alive frame sent during upstream silence.
pub const PING_FRAME: &str = "event: ping\ndata: {\"type\":\"ping\"}\n\n";

/// Normalises a non-streaming Bedrock answer: the client's model id, cache fields present, metrics stripped.
///
/// # Errors
/// 500 `api_error` when Bedrock's answer is not a JSON object.
pub fn normalize_message(
    body: &[u8],
    requested_model: &str,
) -> Result<(Value, UsageSeen), ApiError> {
    let mut msg: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => m,
        Ok(_) | Err(_) => {
            return Err(ApiError::internal(
                "Amazon Bedrock returned a response Sluice could not parse",
            ));
        }
    };
    let mut usage = UsageSeen {
        invocation_metrics: msg.remove(METRICS_KEY),
        ..UsageSeen::default()
    };
    msg.insert("model".into(), json!(requested_model));
    if let Value::Object(u) = msg.entry("usage").or_insert_with(|| json!({})) {
        u.entry("cache_creation_input_tokens").or_insert(json!(0));
        u.entry("cache_read_input_tokens").or_insert(json!(0));
    }
    usage.absorb_message(&msg);
    Ok((Value::Object(msg), usage))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_start_gets_requested_model_and_cache_fields() {
        let mut t = StreamTranslator::new("claude-opus-4-8");
        let out = t
            .on_chunk(br#"{"type":"message_start","message":{"id":"msg_bdrk_1","model":"claude-opus-4-8-xyz","usage":{"input_tokens":5,"output_tokens":1}}}"#)
            .expect("frame");
        assert_eq!(
            out,
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_bdrk_1\",\"model\":\"claude-opus-4-8\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0}}}\n\n"
        );
    }

    #[test]
    fn metrics_are_stripped_from_message_stop_and_kept_for_usage() {
        let mut t = StreamTranslator::new("m");
        let out = t
            .on_chunk(br#"{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":3,"outputTokenCount":4}}"#)
            .expect("frame");
        assert_eq!(
            out,
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
        );
        assert_eq!(
            t.usage().invocation_metrics,
            Some(json!({"inputTokenCount":3,"outputTokenCount":4}))
        );
        assert_eq!(t.end(), StreamEnd::Complete);
    }

    #[test]
    fn message_delta_is_not_given_cache_fields() {
        let mut t = StreamTranslator::new("m");
        let out = t
            .on_chunk(br#"{"type":"message_delta","delta":{"stop_reason":"refusal","stop_sequence":null},"usage":{"output_tokens":9}}"#)
            .expect("frame");
        assert!(!out.contains("cache_"), "{out}");
        assert_eq!(t.usage().stop_reason.as_deref(), Some("refusal"));
        assert_eq!(t.usage().output_tokens, 9);
    }

    #[test]
    fn upstream_end_without_stop_sends_an_error_once() {
        let mut t = StreamTranslator::new("m");
        t.on_chunk(br#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#);
        let err = t.on_upstream_end().expect("error frame");
        assert!(
            err.starts_with(
                "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\""
            ),
            "{err}"
        );
        assert_eq!(t.on_upstream_end(), None);
        assert_eq!(t.on_chunk(br#"{"type":"ping"}"#), None);
    }

    #[test]
    fn non_json_chunks_are_skipped() {
        let mut t = StreamTranslator::new("m");
        assert_eq!(t.on_chunk(b"not json"), None);
        assert_eq!(t.end(), StreamEnd::Open);
    }
}
