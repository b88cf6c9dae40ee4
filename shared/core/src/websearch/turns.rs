//! The response side of web search: several Bedrock calls streamed to the client as one Anthropic message.
//!
//! [`SearchTurns`] sees every event of every Bedrock call (already JSON) and says what the client gets:
//! - one `message_start` (the first call's, with the client's model id), block indexes continuous across calls;
//! - the model's calls of the search tool shown as `server_tool_use` blocks (their input streamed as it comes);
//! - after a call that stopped to search, a `web_search_tool_result` block per search ([`SearchTurns::result`]);
//! - each call's `message_delta` / `message_stop` held back, and one of each at the end ([`SearchTurns::finish`])
//!   with the usage of every call summed and `server_tool_use.web_search_requests`.
//!
//! It also keeps what the next Bedrock call needs: this call's blocks as the assistant's message and the results as
//! the user's `tool_result`s ([`SearchTurns::continue_request`]). Pure: no I/O, no clock.

use serde_json::{Map, Value, json};

use super::content::ContentCodec;
use super::tool::{
    error_text, fetch_block_content, fetch_error_text, fetch_text, result_block_content,
    results_text,
};
use super::{FetchError, FetchedPage, SearchError, SearchResult};
use crate::translate::frame;

const METRICS_KEY: &str = "amazon-bedrock-invocationMetrics";

/// A search or fetch the model asked for in the call that just ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSearch {
    pub id: String,
    /// Whether it is a fetch (the fetch tool's name) rather than a search.
    pub fetch: bool,
    /// The `query` of a search's input; `None` when the input was not `{"query": string}`.
    pub query: Option<String>,
    /// The `url` of a fetch's input.
    pub url: Option<String>,
}

/// What to do when a Bedrock call has ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterCall {
    /// Run these searches, send their results, and call Bedrock again.
    Search(Vec<PendingSearch>),
    /// Run these searches and send their results, then end: the model also called one of the client's own tools,
    /// which only the client can answer.
    SearchThenFinish(Vec<PendingSearch>),
    /// The message is complete: send [`SearchTurns::finish`].
    Finish,
}

/// Usage summed over every call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SummedUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub web_search_requests: u64,
    pub web_fetch_requests: u64,
    pub stop_reason: Option<String>,
    pub calls: u32,
}

/// One content block of the current call, as the next call must be given it.
#[derive(Debug, Clone)]
struct Block {
    value: Value,
    /// The JSON text of a tool call's input, as it streams.
    partial_json: String,
}

/// The state of one client request's Bedrock calls (see the module comment).
#[derive(Debug)]
pub struct SearchTurns {
    tool_name: String,
    /// The fetch tool's name, when the request declared one.
    fetch_name: Option<String>,
    requested_model: String,
    /// Blocks sent to the client before this call.
    offset: u64,
    /// This call's blocks by their Bedrock index.
    blocks: Vec<Block>,
    started: bool,
    call_usage: SummedUsage,
    total: SummedUsage,
    results: Vec<Value>,
}

fn get_u64(map: &Map<String, Value>, key: &str) -> u64 {
    map.get(key).and_then(Value::as_u64).unwrap_or(0)
}

impl SearchTurns {
    /// For a request whose search tool is named `tool_name`, answered to the client as `requested_model`.
    #[must_use]
    pub fn new(tool_name: impl Into<String>, requested_model: impl Into<String>) -> Self {
        Self {
            tool_name: tool_name.into(),
            fetch_name: None,
            requested_model: requested_model.into(),
            offset: 0,
            blocks: Vec::new(),
            started: false,
            call_usage: SummedUsage::default(),
            total: SummedUsage::default(),
            results: Vec::new(),
        }
    }

    /// Runs the fetch tool named `name` as well.
    #[must_use]
    pub fn with_fetch(mut self, name: impl Into<String>) -> Self {
        self.fetch_name = Some(name.into());
        self
    }

    fn is_server_tool(&self, name: Option<&str>) -> bool {
        name.is_some_and(|n| n == self.tool_name || self.fetch_name.as_deref() == Some(n))
    }

    /// The frames the client gets for one event of the current Bedrock call (none for the ones held back).
    pub fn on_event(&mut self, mut event: Map<String, Value>) -> Vec<String> {
        event.remove(METRICS_KEY);
        let kind = event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match kind.as_str() {
            "message_start" => self.on_message_start(event),
            "content_block_start" => self.on_block_start(event),
            "content_block_delta" => self.on_block_delta(event),
            "content_block_stop" => {
                self.reindex(&mut event);
                vec![frame("content_block_stop", &Value::Object(event))]
            }
            "message_delta" => {
                if let Some(Value::Object(u)) = event.get("usage") {
                    self.call_usage.output_tokens = get_u64(u, "output_tokens");
                }
                self.call_usage.stop_reason = event
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                Vec::new()
            }
            "message_stop" => Vec::new(),
            _ => vec![frame(&kind, &Value::Object(event))],
        }
    }

    fn reindex(&self, event: &mut Map<String, Value>) -> Option<usize> {
        let index = event.get("index").and_then(Value::as_u64)?;
        event.insert("index".into(), json!(index + self.offset));
        usize::try_from(index).ok()
    }

    fn on_message_start(&mut self, mut event: Map<String, Value>) -> Vec<String> {
        if let Some(Value::Object(u)) = event.get("message").and_then(|m| m.get("usage")) {
            self.call_usage.input_tokens = get_u64(u, "input_tokens");
            self.call_usage.cache_read_input_tokens = get_u64(u, "cache_read_input_tokens");
            self.call_usage.cache_creation_input_tokens = get_u64(u, "cache_creation_input_tokens");
        }
        if self.started {
            return Vec::new();
        }
        self.started = true;
        if let Some(Value::Object(message)) = event.get_mut("message") {
            message.insert("model".into(), json!(self.requested_model));
            if let Some(Value::Object(u)) = message.get_mut("usage") {
                u.entry("cache_creation_input_tokens").or_insert(json!(0));
                u.entry("cache_read_input_tokens").or_insert(json!(0));
            }
        }
        vec![frame("message_start", &Value::Object(event))]
    }

    fn on_block_start(&mut self, mut event: Map<String, Value>) -> Vec<String> {
        let Some(index) = self.reindex(&mut event) else {
            return vec![frame("content_block_start", &Value::Object(event))];
        };
        let block = event.get("content_block").cloned().unwrap_or(Value::Null);
        if self.blocks.len() <= index {
            self.blocks.resize(
                index + 1,
                Block {
                    value: Value::Null,
                    partial_json: String::new(),
                },
            );
        }
        self.blocks[index] = Block {
            value: block.clone(),
            partial_json: String::new(),
        };
        let is_search = block.get("type").and_then(Value::as_str) == Some("tool_use")
            && self.is_server_tool(block.get("name").and_then(Value::as_str));
        if is_search && let Some(Value::Object(shown)) = event.get_mut("content_block") {
            shown.insert("type".into(), json!("server_tool_use"));
        }
        vec![frame("content_block_start", &Value::Object(event))]
    }

    fn on_block_delta(&mut self, mut event: Map<String, Value>) -> Vec<String> {
        if let Some(index) = self.reindex(&mut event)
            && let Some(block) = self.blocks.get_mut(index)
            && let Some(Value::Object(delta)) = event.get("delta")
        {
            let text = |k: &str| delta.get(k).and_then(Value::as_str).unwrap_or_default();
            match delta.get("type").and_then(Value::as_str) {
                Some("text_delta") => append(&mut block.value, "text", text("text")),
                Some("thinking_delta") => append(&mut block.value, "thinking", text("thinking")),
                Some("signature_delta") => {
                    block.value["signature"] = json!(text("signature"));
                }
                Some("input_json_delta") => block.partial_json.push_str(text("partial_json")),
                _ => {}
            }
        }
        vec![frame("content_block_delta", &Value::Object(event))]
    }

    /// What to do now that the current Bedrock call has ended.
    #[must_use]
    pub fn after_call(&self) -> AfterCall {
        if self.call_usage.stop_reason.as_deref() != Some("tool_use") {
            return AfterCall::Finish;
        }
        let mut searches = Vec::new();
        let mut client_tool = false;
        for block in &self.blocks {
            if block.value.get("type").and_then(Value::as_str) != Some("tool_use") {
                continue;
            }
            let name = block.value.get("name").and_then(Value::as_str);
            if !self.is_server_tool(name) {
                client_tool = true;
                continue;
            }
            let input: Value = serde_json::from_str(&block.partial_json).unwrap_or(Value::Null);
            let field = |k: &str| input.get(k).and_then(Value::as_str).map(str::to_owned);
            searches.push(PendingSearch {
                id: block
                    .value
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                fetch: name != Some(self.tool_name.as_str()),
                query: field("query"),
                url: field("url"),
            });
        }
        match (searches.is_empty(), client_tool) {
            (true, _) => AfterCall::Finish,
            (false, false) => AfterCall::Search(searches),
            (false, true) => AfterCall::SearchThenFinish(searches),
        }
    }

    /// The frames of one search's `web_search_tool_result` block; remembers the result for the next call.
    pub fn result(
        &mut self,
        search: &PendingSearch,
        outcome: &Result<Vec<SearchResult>, SearchError>,
        codec: &ContentCodec,
    ) -> Vec<String> {
        self.total.web_search_requests += u64::from(outcome.is_ok());
        let (text, is_error) = match outcome {
            Ok(results) => (results_text(results), false),
            Err(e) => (error_text(e), true),
        };
        let block = json!({
            "type": "web_search_tool_result",
            "tool_use_id": search.id,
            "content": result_block_content(outcome, codec),
        });
        self.push_result(&search.id, &block, &text, is_error)
    }

    /// The frames of one fetch's `web_fetch_tool_result` block (`retrieved_at` in RFC 3339); remembers the page
    /// for the next call.
    pub fn fetch_result(
        &mut self,
        fetch: &PendingSearch,
        outcome: &Result<FetchedPage, FetchError>,
        retrieved_at: &str,
    ) -> Vec<String> {
        self.total.web_fetch_requests += u64::from(outcome.is_ok());
        let (text, is_error) = match outcome {
            Ok(page) => (fetch_text(page), false),
            Err(e) => (fetch_error_text(e), true),
        };
        let block = json!({
            "type": "web_fetch_tool_result",
            "tool_use_id": fetch.id,
            "content": fetch_block_content(outcome, retrieved_at),
        });
        self.push_result(&fetch.id, &block, &text, is_error)
    }

    fn push_result(&mut self, id: &str, block: &Value, text: &str, is_error: bool) -> Vec<String> {
        let index = self.offset + self.blocks.len() as u64 + self.results.len() as u64;
        let mut tool_result = json!({"type": "tool_result", "tool_use_id": id, "content": text});
        if is_error {
            tool_result["is_error"] = json!(true);
        }
        self.results.push(tool_result);
        vec![
            frame(
                "content_block_start",
                &json!({"type": "content_block_start", "index": index, "content_block": block}),
            ),
            frame(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            ),
        ]
    }

    /// Appends this call's blocks (as the assistant) and the search results (as the user's `tool_result`s) to
    /// `messages`, and starts counting the next call's blocks after everything sent so far.
    pub fn continue_request(&mut self, messages: &mut Vec<Value>) {
        let content: Vec<Value> = self
            .blocks
            .drain(..)
            .filter(|b| !b.value.is_null())
            .map(|mut b| {
                if b.value.get("type").and_then(Value::as_str) == Some("tool_use") {
                    b.value["input"] =
                        serde_json::from_str(&b.partial_json).unwrap_or_else(|_| json!({}));
                }
                b.value
            })
            .collect();
        let sent = content.len() as u64 + self.results.len() as u64;
        messages.push(json!({"role": "assistant", "content": content}));
        messages.push(json!({"role": "user", "content": std::mem::take(&mut self.results)}));
        self.offset += sent;
        self.close_call();
    }

    fn close_call(&mut self) {
        let call = std::mem::take(&mut self.call_usage);
        self.total.input_tokens += call.input_tokens;
        self.total.output_tokens += call.output_tokens;
        self.total.cache_read_input_tokens += call.cache_read_input_tokens;
        self.total.cache_creation_input_tokens += call.cache_creation_input_tokens;
        self.total.stop_reason = call.stop_reason;
        self.total.calls += 1;
    }

    /// The closing `message_delta` (summed usage) and `message_stop`; the summed usage for the record.
    pub fn finish(&mut self) -> (Vec<String>, SummedUsage) {
        self.close_call();
        let total = self.total.clone();
        let delta = json!({
            "type": "message_delta",
            "delta": {"stop_reason": total.stop_reason, "stop_sequence": null},
            "usage": {
                "input_tokens": total.input_tokens,
                "output_tokens": total.output_tokens,
                "cache_read_input_tokens": total.cache_read_input_tokens,
                "cache_creation_input_tokens": total.cache_creation_input_tokens,
                "server_tool_use": {
                    "web_search_requests": total.web_search_requests,
                    "web_fetch_requests": total.web_fetch_requests,
                },
            },
        });
        (
            vec![
                frame("message_delta", &delta),
                frame("message_stop", &json!({"type": "message_stop"})),
            ],
            total,
        )
    }
}

impl SearchTurns {
    /// The usage so far, the current call included (for the record of a request the client abandoned).
    #[must_use]
    pub fn usage_so_far(&self) -> SummedUsage {
        let mut total = self.total.clone();
        total.input_tokens += self.call_usage.input_tokens;
        total.output_tokens += self.call_usage.output_tokens;
        total.cache_read_input_tokens += self.call_usage.cache_read_input_tokens;
        total.cache_creation_input_tokens += self.call_usage.cache_creation_input_tokens;
        total
    }
}

/// A non-streaming Bedrock answer as the events a stream of it would carry, so that [`SearchTurns`] serves both.
#[must_use]
pub fn message_events(message: &Value) -> Vec<Map<String, Value>> {
    let mut start = message.clone();
    let blocks = start
        .get_mut("content")
        .map(Value::take)
        .and_then(|c| match c {
            Value::Array(blocks) => Some(blocks),
            _ => None,
        })
        .unwrap_or_default();
    start["content"] = json!([]);
    let usage = message.get("usage").cloned().unwrap_or_else(|| json!({}));
    let mut events = vec![json!({"type": "message_start", "message": start})];
    for (index, block) in blocks.iter().enumerate() {
        let mut empty = block.clone();
        let delta = match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                empty["text"] = json!("");
                Some(
                    json!({"type": "text_delta", "text": block.get("text").cloned().unwrap_or(json!(""))}),
                )
            }
            Some("tool_use") => {
                empty["input"] = json!({});
                Some(json!({"type": "input_json_delta",
                    "partial_json": block.get("input").map_or_else(|| "{}".to_owned(), Value::to_string)}))
            }
            _ => None,
        };
        events.push(json!({"type": "content_block_start", "index": index, "content_block": empty}));
        if let Some(delta) = delta {
            events.push(json!({"type": "content_block_delta", "index": index, "delta": delta}));
        }
        events.push(json!({"type": "content_block_stop", "index": index}));
    }
    events.push(json!({"type": "message_delta",
        "delta": {"stop_reason": message.get("stop_reason").cloned().unwrap_or(Value::Null)},
        "usage": {"output_tokens": usage.get("output_tokens").cloned().unwrap_or(json!(0))}}));
    events.push(json!({"type": "message_stop"}));
    events
        .into_iter()
        .filter_map(|e| match e {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .collect()
}

/// The message a client's SDK would assemble from `frames` (as [`SearchTurns`] writes them).
#[must_use]
pub fn assemble(frames: &[String]) -> Value {
    let mut message = json!({});
    let mut blocks: Vec<Value> = Vec::new();
    let mut partial: Vec<String> = Vec::new();
    for f in frames {
        let Some(data) = f.lines().find_map(|l| l.strip_prefix("data: ")) else {
            continue;
        };
        let Ok(event) = serde_json::from_str::<Value>(data) else {
            continue;
        };
        let index = event
            .get("index")
            .and_then(Value::as_u64)
            .and_then(|i| usize::try_from(i).ok());
        match event.get("type").and_then(Value::as_str) {
            Some("message_start") => message = event.get("message").cloned().unwrap_or_default(),
            Some("content_block_start") => {
                if let Some(i) = index {
                    if blocks.len() <= i {
                        blocks.resize(i + 1, Value::Null);
                        partial.resize(i + 1, String::new());
                    }
                    blocks[i] = event.get("content_block").cloned().unwrap_or_default();
                }
            }
            Some("content_block_delta") => {
                if let (Some(i), Some(delta)) = (index, event.get("delta"))
                    && let Some(block) = blocks.get_mut(i)
                {
                    let text = |k: &str| delta.get(k).and_then(Value::as_str).unwrap_or_default();
                    match delta.get("type").and_then(Value::as_str) {
                        Some("text_delta") => append(block, "text", text("text")),
                        Some("thinking_delta") => append(block, "thinking", text("thinking")),
                        Some("signature_delta") => block["signature"] = json!(text("signature")),
                        Some("input_json_delta") => partial[i].push_str(text("partial_json")),
                        _ => {}
                    }
                }
            }
            Some("message_delta") => {
                if let Some(reason) = event.get("delta").and_then(|d| d.get("stop_reason")) {
                    message["stop_reason"] = reason.clone();
                }
                if let Some(usage) = event.get("usage") {
                    message["usage"] = usage.clone();
                }
            }
            _ => {}
        }
    }
    for (block, json_text) in blocks.iter_mut().zip(&partial) {
        if !json_text.is_empty() {
            block["input"] = serde_json::from_str(json_text).unwrap_or_else(|_| json!({}));
        }
    }
    message["content"] = Value::Array(blocks.into_iter().filter(|b| !b.is_null()).collect());
    message
}

fn append(block: &mut Value, field: &str, text: &str) {
    let mut current = block
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    current.push_str(text);
    block[field] = json!(current);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::websearch::SearchErrorCode;

    fn event(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("an object"),
        }
    }

    /// One Bedrock call: optional text, then optionally a tool call, ending with `stop`.
    fn call(
        text: &str,
        tool: Option<(&str, &str, &str)>,
        stop: &str,
        input_tokens: u64,
    ) -> Vec<Value> {
        let mut events = vec![
            json!({"type": "message_start", "message": {"id": "msg_bdrk_1", "type": "message", "role": "assistant",
                "model": "anthropic.claude-opus-4-8", "content": [], "usage": {"input_tokens": input_tokens, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}),
            json!({"type": "content_block_stop", "index": 0}),
        ];
        if let Some((id, name, input)) = tool {
            events.push(json!({"type": "content_block_start", "index": 1,
                "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}}));
            let (a, b) = input.split_at(input.len() / 2);
            for part in [a, b] {
                events.push(json!({"type": "content_block_delta", "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": part}}));
            }
            events.push(json!({"type": "content_block_stop", "index": 1}));
        }
        events.push(json!({"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": 10}}));
        events.push(json!({"type": "message_stop", "amazon-bedrock-invocationMetrics": {"inputTokenCount": 1}}));
        events
    }

    fn run(turns: &mut SearchTurns, events: Vec<Value>) -> Vec<Value> {
        events
            .into_iter()
            .flat_map(|e| turns.on_event(event(e)))
            .map(|f| parse(&f))
            .collect()
    }

    fn parse(frame: &str) -> Value {
        let data = frame
            .lines()
            .find_map(|l| l.strip_prefix("data: "))
            .expect("a data line");
        serde_json::from_str(data).expect("json")
    }

    fn result(n: u32) -> SearchResult {
        SearchResult {
            url: format!("https://e{n}.example/"),
            title: format!("Page {n}"),
            page_age: None,
            content: format!("Text {n}"),
        }
    }

    #[test]
    fn a_search_then_an_answer_is_one_message_with_continuous_indexes() {
        let codec = ContentCodec::from_secret(b"k");
        let mut turns = SearchTurns::new("web_search", "claude-opus-4-8");
        let mut sent = run(
            &mut turns,
            call(
                "Let me look.",
                Some(("toolu_1", "web_search", r#"{"query":"rust news"}"#)),
                "tool_use",
                100,
            ),
        );
        let AfterCall::Search(searches) = turns.after_call() else {
            panic!("a search: {:?}", turns.after_call());
        };
        assert_eq!(
            searches,
            vec![PendingSearch {
                id: "toolu_1".into(),
                fetch: false,
                query: Some("rust news".into()),
                url: None
            }]
        );
        sent.extend(
            turns
                .result(&searches[0], &Ok(vec![result(1)]), &codec)
                .iter()
                .map(|f| parse(f)),
        );
        let mut messages = vec![json!({"role": "user", "content": "news?"})];
        turns.continue_request(&mut messages);
        sent.extend(run(
            &mut turns,
            call("Rust 2.0 is out.", None, "end_turn", 300),
        ));
        assert_eq!(turns.after_call(), AfterCall::Finish);
        let (closing, usage) = turns.finish();
        sent.extend(closing.iter().map(|f| parse(f)));

        let types: Vec<&str> = sent.iter().filter_map(|e| e["type"].as_str()).collect();
        assert_eq!(
            types.iter().filter(|t| **t == "message_start").count(),
            1,
            "{types:?}"
        );
        assert_eq!(types.iter().filter(|t| **t == "message_delta").count(), 1);
        assert_eq!(types.last(), Some(&"message_stop"));
        assert_eq!(sent[0]["message"]["model"], "claude-opus-4-8");
        let starts: Vec<(u64, &str)> = sent
            .iter()
            .filter(|e| e["type"] == "content_block_start")
            .map(|e| {
                (
                    e["index"].as_u64().expect("index"),
                    e["content_block"]["type"].as_str().expect("type"),
                )
            })
            .collect();
        assert_eq!(
            starts,
            [
                (0, "text"),
                (1, "server_tool_use"),
                (2, "web_search_tool_result"),
                (3, "text")
            ]
        );
        let result_block = sent
            .iter()
            .find(|e| e["content_block"]["type"] == "web_search_tool_result")
            .expect("result block");
        assert_eq!(result_block["content_block"]["tool_use_id"], "toolu_1");
        assert_eq!(
            result_block["content_block"]["content"][0]["url"],
            "https://e1.example/"
        );
        let delta = sent
            .iter()
            .find(|e| e["type"] == "message_delta")
            .expect("delta");
        assert_eq!(delta["delta"]["stop_reason"], "end_turn");
        assert_eq!(delta["usage"]["input_tokens"], 400);
        assert_eq!(delta["usage"]["output_tokens"], 20);
        assert_eq!(delta["usage"]["server_tool_use"]["web_search_requests"], 1);
        assert_eq!(usage.calls, 2);
        assert!(
            !sent
                .iter()
                .any(|e| e.to_string().contains("invocationMetrics"))
        );

        // What the second call was given: the first call's blocks and the result.
        assert_eq!(messages[1]["role"], "assistant");
        assert_eq!(messages[1]["content"][0]["text"], "Let me look.");
        assert_eq!(messages[1]["content"][1]["type"], "tool_use");
        assert_eq!(
            messages[1]["content"][1]["input"],
            json!({"query": "rust news"})
        );
        assert_eq!(messages[2]["role"], "user");
        assert_eq!(messages[2]["content"][0]["tool_use_id"], "toolu_1");
        assert!(
            messages[2]["content"][0]["content"]
                .as_str()
                .expect("text")
                .contains("Text 1")
        );
    }

    #[test]
    fn a_client_tool_in_the_same_turn_ends_the_loop_after_the_search() {
        let mut turns = SearchTurns::new("web_search", "m");
        run(
            &mut turns,
            call(
                "x",
                Some(("toolu_1", "web_search", r#"{"query":"q"}"#)),
                "tool_use",
                1,
            ),
        );
        run(
            &mut turns,
            vec![
                json!({"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_2", "name": "Bash", "input": {}}}),
                json!({"type": "content_block_stop", "index": 2}),
            ],
        );
        assert!(matches!(turns.after_call(), AfterCall::SearchThenFinish(s) if s.len() == 1));
    }

    #[test]
    fn a_failed_search_is_an_error_block_and_an_error_result_for_the_model() {
        let codec = ContentCodec::from_secret(b"k");
        let mut turns = SearchTurns::new("web_search", "m");
        run(
            &mut turns,
            call(
                "x",
                Some(("toolu_1", "web_search", r#"{"query":"q"}"#)),
                "tool_use",
                1,
            ),
        );
        let search = PendingSearch {
            id: "toolu_1".into(),
            fetch: false,
            query: Some("q".into()),
            url: None,
        };
        let frames = turns.result(
            &search,
            &Err(SearchError::new(SearchErrorCode::MaxUsesExceeded, "limit")),
            &codec,
        );
        let start = parse(&frames[0]);
        assert_eq!(
            start["content_block"]["content"]["type"],
            "web_search_tool_result_error"
        );
        assert_eq!(
            start["content_block"]["content"]["error_code"],
            "max_uses_exceeded"
        );
        let mut messages = Vec::new();
        turns.continue_request(&mut messages);
        assert_eq!(messages[1]["content"][0]["is_error"], true);
        let (_, usage) = turns.finish();
        assert_eq!(
            usage.web_search_requests, 0,
            "a refused search is not a search request"
        );
    }

    #[test]
    fn a_non_streaming_answer_goes_through_the_same_turns_and_assembles_to_the_same_content() {
        let codec = ContentCodec::from_secret(b"k");
        let first = json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "bedrock-id",
            "content": [{"type": "text", "text": "Let me look."},
                        {"type": "tool_use", "id": "toolu_1", "name": "web_search", "input": {"query": "q"}}],
            "stop_reason": "tool_use", "usage": {"input_tokens": 10, "output_tokens": 4}});
        let mut turns = SearchTurns::new("web_search", "claude-opus-4-8");
        let mut frames: Vec<String> = message_events(&first)
            .into_iter()
            .flat_map(|e| turns.on_event(e))
            .collect();
        let AfterCall::Search(searches) = turns.after_call() else {
            panic!("a search");
        };
        frames.extend(turns.result(&searches[0], &Ok(vec![result(7)]), &codec));
        turns.continue_request(&mut Vec::new());
        let second = json!({"id": "msg_2", "type": "message", "role": "assistant", "model": "bedrock-id",
            "content": [{"type": "text", "text": "Found it."}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 30, "output_tokens": 5}});
        frames.extend(
            message_events(&second)
                .into_iter()
                .flat_map(|e| turns.on_event(e)),
        );
        frames.extend(turns.finish().0);
        let message = assemble(&frames);
        assert_eq!(message["model"], "claude-opus-4-8");
        assert_eq!(message["id"], "msg_1");
        let types: Vec<&str> = message["content"]
            .as_array()
            .expect("content")
            .iter()
            .filter_map(|b| b["type"].as_str())
            .collect();
        assert_eq!(
            types,
            ["text", "server_tool_use", "web_search_tool_result", "text"]
        );
        assert_eq!(message["content"][1]["input"], json!({"query": "q"}));
        assert_eq!(message["content"][3]["text"], "Found it.");
        assert_eq!(message["stop_reason"], "end_turn");
        assert_eq!(message["usage"]["input_tokens"], 40);
        assert_eq!(
            message["usage"]["server_tool_use"]["web_search_requests"],
            1
        );
    }

    #[test]
    fn a_fetch_is_a_server_tool_use_and_a_web_fetch_tool_result() {
        let mut turns = SearchTurns::new("web_search", "m").with_fetch("web_fetch");
        let sent = run(
            &mut turns,
            call(
                "x",
                Some(("toolu_f", "web_fetch", r#"{"url":"https://docs.example/"}"#)),
                "tool_use",
                1,
            ),
        );
        assert!(
            sent.iter()
                .any(|e| e["content_block"]["type"] == "server_tool_use")
        );
        let AfterCall::Search(pending) = turns.after_call() else {
            panic!("a fetch");
        };
        assert!(pending[0].fetch);
        assert_eq!(pending[0].url.as_deref(), Some("https://docs.example/"));
        let page = FetchedPage {
            url: "https://docs.example/".into(),
            title: Some("Docs".into()),
            media_type: "text/plain".into(),
            text: "Hello.".into(),
        };
        let frames = turns.fetch_result(&pending[0], &Ok(page), "2026-12-05T09:00:00Z");
        let start = parse(&frames[0]);
        assert_eq!(start["index"], 2);
        assert_eq!(start["content_block"]["type"], "web_fetch_tool_result");
        assert_eq!(
            start["content_block"]["content"]["content"]["source"]["data"],
            "Hello."
        );
        assert_eq!(
            start["content_block"]["content"]["retrieved_at"],
            "2026-12-05T09:00:00Z"
        );
        let mut messages = Vec::new();
        turns.continue_request(&mut messages);
        assert!(
            messages[1]["content"][0]["content"]
                .as_str()
                .expect("text")
                .contains("Hello.")
        );
        let (closing, usage) = turns.finish();
        assert_eq!(usage.web_fetch_requests, 1);
        assert_eq!(
            parse(&closing[0])["usage"]["server_tool_use"]["web_fetch_requests"],
            1
        );
    }

    #[test]
    fn a_plain_answer_passes_through_with_one_closing_delta() {
        let mut turns = SearchTurns::new("web_search", "m");
        let sent = run(&mut turns, call("hello", None, "end_turn", 5));
        assert_eq!(turns.after_call(), AfterCall::Finish);
        assert!(
            sent.iter().all(|e| e["type"] != "message_delta"),
            "held back"
        );
        let (closing, usage) = turns.finish();
        assert_eq!(parse(&closing[0])["usage"]["output_tokens"], 10);
        assert_eq!(usage.stop_reason.as_deref(), Some("end_turn"));
    }
}
