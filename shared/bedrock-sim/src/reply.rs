//! The scripted answer: built once from the [`Script`], then rendered either as one JSON message
//! (InvokeModel) or as the sequence of Anthropic stream events (InvokeModelWithResponseStream).

use std::time::Duration;

use serde_json::{Value, json};

use crate::conversation::{count_input_tokens, count_output_tokens, pick_tool};
use crate::frame::StreamException;
use crate::ids;
use crate::markers::{ReplyKind, Script};
use crate::search::WEB_SEARCH;

const THINKING_TEXT: &str = "The user wants a scripted answer. I will think briefly, then reply.";
const THINKING_REPLY: &str = "I thought about it: hello from the Bedrock simulator.";
const TOOL_INPUT_PIECES: &[&str] = &[
    "",
    "{\"command\": \"ec",
    "ho hi\", \"descri",
    "ption\": \"Print hi\"}",
];

const CACHE_CREATION: u64 = 1200;
const CACHE_READ: u64 = 3400;

/// One content block of the answer, with the pieces it is streamed in.
#[derive(Debug, Clone, PartialEq)]
enum Block {
    Thinking {
        pieces: Vec<String>,
        signature: String,
    },
    Text {
        pieces: Vec<String>,
    },
    ToolUse {
        id: String,
        name: String,
        pieces: Vec<String>,
    },
}

impl Block {
    fn text_of(pieces: &[String]) -> String {
        pieces.concat()
    }

    fn generated_len(&self) -> usize {
        match self {
            Self::Thinking { pieces, .. }
            | Self::Text { pieces }
            | Self::ToolUse { pieces, .. } => pieces.iter().map(String::len).sum(),
        }
    }

    fn content(&self) -> Value {
        match self {
            Self::Thinking { pieces, signature } => {
                json!({"type": "thinking", "thinking": Self::text_of(pieces), "signature": signature})
            }
            Self::Text { pieces } => json!({"type": "text", "text": Self::text_of(pieces)}),
            Self::ToolUse { id, name, pieces } => {
                let input: Value =
                    serde_json::from_str(&Self::text_of(pieces)).unwrap_or_else(|_| json!({}));
                json!({"type": "tool_use", "id": id, "name": name, "input": input})
            }
        }
    }

    fn start(&self) -> Value {
        match self {
            Self::Thinking { .. } => json!({"type": "thinking", "thinking": "", "signature": ""}),
            Self::Text { .. } => json!({"type": "text", "text": ""}),
            Self::ToolUse { id, name, .. } => {
                json!({"type": "tool_use", "id": id, "name": name, "input": {}})
            }
        }
    }

    fn deltas(&self) -> Vec<Value> {
        match self {
            Self::Thinking { pieces, signature } => {
                let mut deltas: Vec<Value> = pieces
                    .iter()
                    .map(|p| json!({"type": "thinking_delta", "thinking": p}))
                    .collect();
                deltas.push(json!({"type": "signature_delta", "signature": signature}));
                deltas
            }
            Self::Text { pieces } => pieces
                .iter()
                .map(|p| json!({"type": "text_delta", "text": p}))
                .collect(),
            Self::ToolUse { pieces, .. } => pieces
                .iter()
                .map(|p| json!({"type": "input_json_delta", "partial_json": p}))
                .collect(),
        }
    }
}

/// One thing the stream writer does.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Send one Anthropic event as a `chunk` frame.
    Event(Value),
    /// Send nothing for this long (on top of the pacing delay).
    Pause(Duration),
    /// Send this exception frame and end the body.
    Exception(StreamException),
    /// Drop the connection without another frame.
    Cut,
    /// Send `message_stop` with invocation metrics measured at that moment.
    Stop,
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub id: String,
    pub model: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache: bool,
    pub stop_reason: &'static str,
    blocks: Vec<Block>,
}

/// Splits text into deltas of two words each, keeping every character.
fn word_pieces(text: &str) -> Vec<String> {
    let words: Vec<&str> = text.split_inclusive(' ').collect();
    let pieces: Vec<String> = words.chunks(2).map(<[&str]>::concat).collect();
    if pieces.is_empty() {
        vec![String::new()]
    } else {
        pieces
    }
}

/// Splits a tool input's JSON into an empty first piece (as Bedrock sends) and 3+ pieces after it.
fn json_pieces(json: &str) -> Vec<String> {
    let chars: Vec<char> = json.chars().collect();
    let size = chars.len().div_ceil(3).clamp(1, 16);
    std::iter::once(String::new())
        .chain(chars.chunks(size).map(|c| c.iter().collect()))
        .collect()
}

fn text_pieces(text: &str, long: Option<usize>) -> Vec<String> {
    match long {
        Some(n) => (0..n).map(|i| format!("word{i} ")).collect(),
        None => word_pieces(text),
    }
}

impl Reply {
    pub fn new(script: &Script, body: &Value, model: String) -> Self {
        let (blocks, stop_reason) = match &script.kind {
            ReplyKind::Text(text) => (
                vec![Block::Text {
                    pieces: text_pieces(text, script.long),
                }],
                "end_turn",
            ),
            ReplyKind::Thinking => (
                vec![
                    Block::Thinking {
                        pieces: word_pieces(THINKING_TEXT),
                        signature: ids::thinking_signature(),
                    },
                    Block::Text {
                        pieces: text_pieces(THINKING_REPLY, script.long),
                    },
                ],
                "end_turn",
            ),
            ReplyKind::ToolUse(name) => (
                vec![Block::ToolUse {
                    id: ids::tool_use_id(),
                    name: name.clone().unwrap_or_else(|| pick_tool(body)),
                    pieces: TOOL_INPUT_PIECES.iter().map(|p| (*p).to_owned()).collect(),
                }],
                "tool_use",
            ),
            ReplyKind::Fetch(url) => (
                vec![Block::ToolUse {
                    id: ids::tool_use_id(),
                    name: "web_fetch".to_owned(),
                    pieces: json_pieces(&json!({ "url": url }).to_string()),
                }],
                "tool_use",
            ),
            ReplyKind::ClaudeCodeWebSearch(query) => (
                vec![Block::ToolUse {
                    id: ids::tool_use_id(),
                    name: "WebSearch".to_owned(),
                    pieces: json_pieces(&json!({ "query": query }).to_string()),
                }],
                "tool_use",
            ),
            ReplyKind::WebSearch { lead, query } => (
                vec![
                    Block::Text {
                        pieces: text_pieces(lead, script.long),
                    },
                    Block::ToolUse {
                        id: ids::tool_use_id(),
                        name: WEB_SEARCH.to_owned(),
                        pieces: json_pieces(&json!({ "query": query }).to_string()),
                    },
                ],
                "tool_use",
            ),
        };
        let generated: usize = blocks.iter().map(Block::generated_len).sum();
        Self {
            id: ids::message_id(),
            model,
            input_tokens: count_input_tokens(body),
            output_tokens: count_output_tokens(generated),
            cache: script.cache,
            stop_reason,
            blocks,
        }
    }

    fn usage(&self, output_tokens: u64) -> Value {
        let mut usage = json!({"input_tokens": self.input_tokens});
        if self.cache {
            usage["cache_creation_input_tokens"] = json!(CACHE_CREATION);
            usage["cache_read_input_tokens"] = json!(CACHE_READ);
            usage["cache_creation"] =
                json!({"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 200});
        }
        usage["output_tokens"] = json!(output_tokens);
        usage
    }

    /// The InvokeModel answer.
    pub fn message(&self) -> Value {
        json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": self.blocks.iter().map(Block::content).collect::<Vec<_>>(),
            "stop_reason": self.stop_reason,
            "stop_sequence": null,
            "usage": self.usage(self.output_tokens),
        })
    }

    fn message_start(&self) -> Value {
        json!({"type": "message_start", "message": {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": self.usage(1),
        }})
    }

    /// The streamed answer, shaped by the script's stream markers.
    pub fn steps(&self, script: &Script) -> Vec<Step> {
        let mut steps = vec![Step::Event(self.message_start())];
        if let Some(silence) = script.silence {
            steps.push(Step::Pause(silence));
        }
        if let Some(exception) = script.midstream {
            let pieces = ["Partial ", "answer "];
            steps.push(block_start(0, &json!({"type": "text", "text": ""})));
            steps.extend(
                pieces
                    .iter()
                    .map(|p| delta(0, &json!({"type": "text_delta", "text": p}))),
            );
            steps.push(Step::Exception(exception));
            return steps;
        }
        for (index, block) in self.blocks.iter().enumerate() {
            steps.push(block_start(index, &block.start()));
            let deltas = block.deltas();
            if script.cut {
                steps.extend(deltas.iter().take(2).map(|d| delta(index, d)));
                steps.push(Step::Cut);
                return steps;
            }
            steps.extend(deltas.iter().map(|d| delta(index, d)));
            steps.push(Step::Event(
                json!({"type": "content_block_stop", "index": index}),
            ));
        }
        steps.push(Step::Event(json!({
            "type": "message_delta",
            "delta": {"stop_reason": self.stop_reason, "stop_sequence": null},
            "usage": {"output_tokens": self.output_tokens},
        })));
        steps.push(Step::Stop);
        steps
    }

    /// `message_stop` with the metrics Bedrock appends to it.
    pub fn message_stop(&self, invocation_latency_ms: u64, first_byte_latency_ms: u64) -> Value {
        let mut metrics = json!({
            "inputTokenCount": self.input_tokens,
            "outputTokenCount": self.output_tokens,
            "invocationLatency": invocation_latency_ms,
            "firstByteLatency": first_byte_latency_ms,
        });
        if self.cache {
            metrics["cacheReadInputTokenCount"] = json!(CACHE_READ);
            metrics["cacheWriteInputTokenCount"] = json!(CACHE_CREATION);
        }
        json!({"type": "message_stop", "amazon-bedrock-invocationMetrics": metrics})
    }
}

fn block_start(index: usize, content_block: &Value) -> Step {
    Step::Event(
        json!({"type": "content_block_start", "index": index, "content_block": content_block}),
    )
}

fn delta(index: usize, delta: &Value) -> Step {
    Step::Event(json!({"type": "content_block_delta", "index": index, "delta": delta}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(text: &str) -> Value {
        json!({"messages": [{"role": "user", "content": text}], "tools": [{"name": "Read"}, {"name": "Bash"}]})
    }

    fn reply_and_steps(text: &str) -> (Reply, Vec<Step>) {
        let body = body(text);
        let script = Script::from_body(&body);
        let reply = Reply::new(&script, &body, "claude-x".into());
        let steps = reply.steps(&script);
        (reply, steps)
    }

    fn event_types(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match s {
                Step::Event(e) => e["type"].as_str().unwrap_or("?").to_owned(),
                Step::Pause(_) => "pause".into(),
                Step::Exception(_) => "exception".into(),
                Step::Cut => "cut".into(),
                Step::Stop => "message_stop".into(),
            })
            .collect()
    }

    #[test]
    fn default_stream_is_a_complete_event_sequence_whose_deltas_rebuild_the_text() {
        let (reply, steps) = reply_and_steps("hi");
        let types = event_types(&steps);
        assert_eq!(types.first().map(String::as_str), Some("message_start"));
        assert_eq!(
            &types[types.len() - 3..],
            ["content_block_stop", "message_delta", "message_stop"]
        );
        let text: String = steps
            .iter()
            .filter_map(|s| match s {
                Step::Event(e) => e["delta"]["text"].as_str().map(str::to_owned),
                _ => None,
            })
            .collect();
        assert_eq!(text, crate::markers::DEFAULT_TEXT);
        assert!(types.iter().filter(|t| *t == "content_block_delta").count() >= 2);
        assert_eq!(
            reply.message()["content"][0]["text"],
            crate::markers::DEFAULT_TEXT
        );
    }

    #[test]
    fn tool_use_reply_calls_bash_with_json_in_three_or_more_pieces() {
        let (reply, steps) = reply_and_steps("sim:tool_use");
        let message = reply.message();
        assert_eq!(message["stop_reason"], "tool_use");
        assert_eq!(message["content"][0]["name"], "Bash");
        assert_eq!(
            message["content"][0]["input"],
            json!({"command": "echo hi", "description": "Print hi"})
        );
        let pieces = steps
            .iter()
            .filter(|s| matches!(s, Step::Event(e) if e["delta"]["type"] == "input_json_delta"))
            .count();
        assert!(pieces >= 3);
    }

    #[test]
    fn search_reply_says_a_lead_then_calls_web_search_in_several_pieces() {
        let body = json!({"messages": [{"role": "user", "content": "sim:search=rust async"}],
            "tools": [{"name": "Bash"}, {"name": "web_search"}]});
        let script = Script::from_body(&body);
        let reply = Reply::new(&script, &body, "claude-x".into());
        let message = reply.message();
        assert_eq!(message["stop_reason"], "tool_use");
        assert_eq!(message["content"][0]["text"], "I'll search for that.");
        assert_eq!(message["content"][1]["name"], "web_search");
        assert_eq!(
            message["content"][1]["input"],
            json!({"query": "rust async"})
        );
        let pieces = reply
            .steps(&script)
            .iter()
            .filter(|s| matches!(s, Step::Event(e) if e["delta"]["type"] == "input_json_delta"))
            .count();
        assert!(pieces >= 4);
    }

    #[test]
    fn json_pieces_keep_every_character_and_split_multibyte_text_safely() {
        let json = json!({"query": "café ünïcode"}).to_string();
        let pieces = json_pieces(&json);
        assert_eq!(pieces[0], "");
        assert!(pieces.len() >= 4);
        assert_eq!(pieces.concat(), json);
    }

    #[test]
    fn thinking_reply_streams_a_signature_before_the_text_block() {
        let (_, steps) = reply_and_steps("sim:thinking");
        let deltas: Vec<String> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Event(e) => e["delta"]["type"].as_str().map(str::to_owned),
                _ => None,
            })
            .collect();
        let signature = deltas
            .iter()
            .position(|d| d == "signature_delta")
            .expect("signature sent");
        assert!(deltas[..signature].iter().all(|d| d == "thinking_delta"));
        assert!(deltas[signature + 1..].iter().all(|d| d == "text_delta"));
    }

    #[test]
    fn midstream_error_ends_with_the_exception_after_two_deltas() {
        let (_, steps) = reply_and_steps("sim:midstream_error=throttling");
        assert_eq!(
            event_types(&steps),
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "exception"
            ]
        );
        assert_eq!(
            steps.last(),
            Some(&Step::Exception(StreamException::Throttling))
        );
    }

    #[test]
    fn cut_ends_without_stop_or_exception() {
        let (_, steps) = reply_and_steps("sim:cut");
        let types = event_types(&steps);
        assert_eq!(types.last().map(String::as_str), Some("cut"));
        assert!(
            !types
                .iter()
                .any(|t| t == "message_stop" || t == "exception")
        );
    }

    #[test]
    fn silence_pauses_right_after_message_start() {
        let (_, steps) = reply_and_steps("sim:silence=2");
        assert_eq!(steps.get(1), Some(&Step::Pause(Duration::from_secs(2))));
    }

    #[test]
    fn long_marker_sets_the_number_of_text_deltas() {
        let (_, steps) = reply_and_steps("sim:long=25");
        let deltas = steps
            .iter()
            .filter(|s| matches!(s, Step::Event(e) if e["type"] == "content_block_delta"))
            .count();
        assert_eq!(deltas, 25);
    }

    #[test]
    fn cache_marker_reports_cache_usage_and_metrics() {
        let (reply, steps) = reply_and_steps("sim:cache");
        let Some(Step::Event(start)) = steps.first() else {
            panic!("no message_start")
        };
        let usage = &start["message"]["usage"];
        assert_eq!(usage["cache_creation_input_tokens"], 1200);
        assert_eq!(usage["cache_read_input_tokens"], 3400);
        assert_eq!(usage["cache_creation"]["ephemeral_1h_input_tokens"], 200);
        assert_eq!(
            reply.message_stop(5, 2)["amazon-bedrock-invocationMetrics"]["cacheReadInputTokenCount"],
            3400
        );
    }
}
