//! `sim:` markers in the last user message, turned into a [`Script`] for the reply.

use std::time::Duration;

use serde_json::Value;

use crate::conversation::{last_user_message, message_text, tool_results_text};
use crate::error::{BedrockError, ErrorKind};
use crate::frame::StreamException;
use crate::search::{SearchTurn, search_turn};

/// What the model "says".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyKind {
    /// A text reply with this text.
    Text(String),
    /// A thinking block, then a text block.
    Thinking,
    /// One `tool_use` block (`sim:tool_use`: `Bash` if offered, else the first tool offered; `sim:tool_use=Name`:
    /// that tool, offered or not, as a model may call a tool from its history); stop reason `tool_use`.
    ToolUse(Option<String>),
    /// A short text block, then a `web_search` call with this query; stop reason `tool_use`.
    WebSearch { lead: &'static str, query: String },
    /// One call of Claude Code's own `WebSearch` client tool with this query (`sim:websearch_tool=<query>`, the
    /// query up to the next space); stop reason `tool_use`.
    ClaudeCodeWebSearch(String),
    /// One call of the `web_fetch` tool with this URL (`sim:fetch=<url>`); stop reason `tool_use`.
    Fetch(String),
}

/// Everything the markers decided about one reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    /// An error answered before any byte.
    pub error: Option<BedrockError>,
    pub kind: ReplyKind,
    /// Report prompt-cache usage in `message_start`.
    pub cache: bool,
    /// Stop after two text deltas with this exception frame.
    pub midstream: Option<StreamException>,
    /// Quiet gap right after `message_start`.
    pub silence: Option<Duration>,
    /// Drop the connection after a few deltas.
    pub cut: bool,
    /// Pause between events, overriding the configured delay.
    pub slow: Option<Duration>,
    /// Number of text deltas in the text block.
    pub long: Option<usize>,
}

pub const DEFAULT_TEXT: &str = "Hello from the Bedrock simulator.";

impl Script {
    /// Reads the markers of the last user message of `body`.
    pub fn from_body(body: &Value) -> Self {
        let last = last_user_message(body);
        let text = last.map(message_text).unwrap_or_default();
        let tool_said = last.and_then(tool_results_text);
        let mut script = Self {
            error: None,
            kind: ReplyKind::Text(DEFAULT_TEXT.to_owned()),
            cache: false,
            midstream: None,
            silence: None,
            cut: false,
            slow: None,
            long: None,
        };
        let mut kind_marker: Option<&str> = None;
        let mut websearch_tool: Option<String> = None;
        let mut fetch_url: Option<String> = None;
        let mut tool_name: Option<String> = None;
        for (name, value) in scan(&text) {
            match name {
                "fetch" => {
                    kind_marker.get_or_insert(name);
                    fetch_url = value.map(str::to_owned);
                }
                "websearch_tool" => {
                    kind_marker.get_or_insert(name);
                    websearch_tool = value.map(str::to_owned);
                }
                "tool_use" => {
                    kind_marker.get_or_insert(name);
                    tool_name = value.map(str::to_owned);
                }
                "echo" | "thinking" => {
                    kind_marker.get_or_insert(name);
                }
                "cache" => script.cache = true,
                "cut" => script.cut = true,
                "midstream_error" => {
                    let exception = value.and_then(StreamException::from_marker);
                    script.midstream = Some(exception.unwrap_or(StreamException::Internal));
                }
                "silence" => script.silence = value.and_then(parse_seconds),
                "slow" => {
                    script.slow = value
                        .and_then(|v| v.parse::<u64>().ok())
                        .map(Duration::from_millis);
                }
                "long" => {
                    script.long = value
                        .and_then(|v| v.parse::<usize>().ok())
                        .filter(|n| *n > 0);
                }
                other => {
                    if script.error.is_none() {
                        script.error = error_marker(other);
                    }
                }
            }
        }
        script.kind = match (search_turn(body), tool_said, kind_marker) {
            // A search conversation (the search call, or the answer to web_search results).
            (Some(SearchTurn::Call { lead, query }), _, _) => ReplyKind::WebSearch { lead, query },
            (Some(SearchTurn::Answer(answer)), _, _) => ReplyKind::Text(answer),
            // The second turn of a tool round trip answers the tool, whatever came before.
            (None, Some(result), _) => ReplyKind::Text(format!("Tool said: {result}")),
            (None, None, Some("tool_use")) => ReplyKind::ToolUse(tool_name),
            (None, None, Some("fetch")) => ReplyKind::Fetch(
                // A URL holds characters a marker value stops at: read it up to the next space.
                text.split("sim:fetch=")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .or(fetch_url.as_deref())
                    .unwrap_or("https://example.com/")
                    .to_owned(),
            ),
            (None, None, Some("websearch_tool")) => ReplyKind::ClaudeCodeWebSearch(
                websearch_tool.unwrap_or_else(|| "sluice".to_owned()),
            ),
            (None, None, Some("thinking")) => ReplyKind::Thinking,
            (None, None, Some("echo")) => ReplyKind::Text(text.clone()),
            _ => ReplyKind::Text(DEFAULT_TEXT.to_owned()),
        };
        if script.midstream.is_some()
            && matches!(
                script.kind,
                ReplyKind::ToolUse(_)
                    | ReplyKind::WebSearch { .. }
                    | ReplyKind::ClaudeCodeWebSearch(_)
            )
        {
            // The mid-stream error is defined on a text block.
            script.kind = ReplyKind::Text(DEFAULT_TEXT.to_owned());
        }
        script
    }
}

fn parse_seconds(value: &str) -> Option<Duration> {
    value
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
}

fn error_marker(name: &str) -> Option<BedrockError> {
    let (kind, message) = match name {
        "throttle" => (
            ErrorKind::Throttling,
            "Too many requests, please wait before trying again.",
        ),
        "unavailable" => (
            ErrorKind::ServiceUnavailable,
            "Bedrock is unable to process your request.",
        ),
        "not_ready" => (
            ErrorKind::ModelNotReady,
            "Model is not ready to serve inference requests. The AWS SDK will automatically retry the operation up to 5 times.",
        ),
        "access_denied" => (
            ErrorKind::AccessDenied,
            "You don't have access to the model with the specified model ID.",
        ),
        "internal" => (
            ErrorKind::InternalServer,
            "The system encountered an unexpected error during processing. Try your request again.",
        ),
        "model_timeout" => (
            ErrorKind::ModelTimeout,
            "Model has timed out in processing the request. Try your request again.",
        ),
        "quota" => (
            ErrorKind::ServiceQuotaExceeded,
            "Your request exceeds the service quota for your account.",
        ),
        "not_found" => (
            ErrorKind::ResourceNotFound,
            "The requested resource could not be found.",
        ),
        "model_error" => (
            ErrorKind::ModelError,
            "The model returned an error: Overloaded",
        ),
        "too_long" => (
            ErrorKind::Validation,
            "Input is too long for requested model.",
        ),
        _ => return None,
    };
    Some(BedrockError::new(kind, message))
}

/// Finds `sim:name` and `sim:name=value` tokens, in order of appearance.
fn scan(text: &str) -> Vec<(&str, Option<&str>)> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find("sim:") {
        rest = &rest[pos + 4..];
        let name_len = rest
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..name_len];
        rest = &rest[name_len..];
        let mut value = None;
        if let Some(after) = rest.strip_prefix('=') {
            let value_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
                .unwrap_or(after.len());
            // A sentence may end right after the value: "sim:slow=50." means 50.
            let raw = after[..value_len].trim_end_matches('.');
            value = Some(raw);
            rest = &after[value_len..];
        }
        if !name.is_empty() {
            found.push((name, value));
        }
    }
    found
}

#[cfg(test)]
mod tests {

    #[test]
    fn fetch_calls_the_web_fetch_tool_with_the_url() {
        assert_eq!(
            script("read sim:fetch=https://docs.example/page").kind,
            ReplyKind::Fetch("https://docs.example/page".to_owned())
        );
    }

    #[test]
    fn websearch_tool_calls_claude_codes_own_tool_with_the_query() {
        assert_eq!(
            script("please sim:websearch_tool=sluice-docs now").kind,
            ReplyKind::ClaudeCodeWebSearch("sluice-docs".to_owned())
        );
    }

    use super::*;
    use serde_json::json;

    fn script(text: &str) -> Script {
        Script::from_body(&json!({"messages": [{"role": "user", "content": text}]}))
    }

    #[test]
    fn scan_reads_names_and_values() {
        assert_eq!(
            scan("do sim:slow=50, then sim:cut and sim:silence=0.5."),
            vec![
                ("slow", Some("50")),
                ("cut", None),
                ("silence", Some("0.5"))
            ]
        );
    }

    #[test]
    fn no_marker_gives_the_default_text() {
        assert_eq!(
            script("hello").kind,
            ReplyKind::Text(DEFAULT_TEXT.to_owned())
        );
    }

    #[test]
    fn echo_repeats_the_user_text() {
        assert_eq!(
            script("sim:echo parrot").kind,
            ReplyKind::Text("sim:echo parrot".to_owned())
        );
    }

    #[test]
    fn error_markers_map_to_bedrock_errors() {
        let err = script("please sim:throttle").error.expect("error");
        assert_eq!(err.kind, ErrorKind::Throttling);
        assert_eq!(
            script("sim:too_long").error.map(|e| e.message),
            Some("Input is too long for requested model.".into())
        );
        assert_eq!(
            script("sim:model_error").error.map(|e| e.kind),
            Some(ErrorKind::ModelError)
        );
    }

    #[test]
    fn midstream_error_defaults_to_internal_and_reads_its_kind() {
        assert_eq!(
            script("sim:midstream_error").midstream,
            Some(StreamException::Internal)
        );
        assert_eq!(
            script("sim:midstream_error=throttling").midstream,
            Some(StreamException::Throttling)
        );
    }

    #[test]
    fn timing_markers_are_parsed() {
        let s = script("sim:silence=1.5 sim:slow=20 sim:long=7");
        assert_eq!(s.silence, Some(Duration::from_millis(1500)));
        assert_eq!(s.slow, Some(Duration::from_millis(20)));
        assert_eq!(s.long, Some(7));
    }

    #[test]
    fn tool_result_in_last_user_message_wins_over_earlier_markers() {
        let body = json!({"messages": [
            {"role": "user", "content": "sim:tool_use"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "hi"}]}
        ]});
        assert_eq!(
            Script::from_body(&body).kind,
            ReplyKind::Text("Tool said: hi".to_owned())
        );
    }
}
