//! The web-search scenario through both operations: the model calls the client tool `web_search`,
//! then answers from the results Sluice sends back as its `tool_result`.

use serde_json::{Value, json};

use crate::support::{NEW_PROFILE, PROFILE, Sim, body, streamed_text, types};

const RESULTS_TEXT: &str = "Title: Tokio - An asynchronous Rust runtime\n\
URL: https://tokio.rs\n\
Tokio is an event-driven, non-blocking I/O platform for writing asynchronous applications with the Rust programming language.\n\
\n\
Title: async-std\n\
URL: https://async.rs\n\
Async version of the Rust standard library.";
const TOKIO_ANSWER: &str = "According to Tokio - An asynchronous Rust runtime (https://tokio.rs): Tokio is an event-driven, non-blocking I/O platform for writing asynchronous app";

/// The client tool Sluice declares in place of Anthropic's server tool.
fn web_search_tool() -> Value {
    json!({
        "name": "web_search",
        "description": "Search the web",
        "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}
    })
}

/// A request declaring `web_search` (after a `Read` tool) whose only user message is `text`.
fn search_body(text: &str) -> Value {
    let mut request = body(text);
    request["tools"] = json!([
        {"name": "Read", "description": "r", "input_schema": {"type": "object"}},
        web_search_tool()
    ]);
    request
}

/// A search loop: the prompt, then per round the model's `web_search` call and Sluice's `tool_result`.
fn after_rounds(prompt: &str, rounds: &[(&str, Value, bool)]) -> Value {
    let mut request = search_body(prompt);
    let mut messages = vec![json!({"role": "user", "content": prompt})];
    for (i, (query, content, is_error)) in rounds.iter().enumerate() {
        let id = format!("toolu_bdrk_search{i}");
        messages.push(json!({"role": "assistant", "content": [
            {"type": "text", "text": "I'll search for that."},
            {"type": "tool_use", "id": id, "name": "web_search", "input": {"query": query}}
        ]}));
        let mut result = json!({"type": "tool_result", "tool_use_id": id, "content": content});
        if *is_error {
            result["is_error"] = json!(true);
        }
        messages.push(json!({"role": "user", "content": [result]}));
    }
    request["messages"] = Value::Array(messages);
    request
}

/// The final message a stream accumulator builds from the events.
fn assemble(events: &[Value]) -> Value {
    let mut message = events[0]["message"].clone();
    let mut blocks: Vec<Value> = Vec::new();
    let mut partial_json: Vec<String> = Vec::new();
    for event in events {
        match event["type"].as_str() {
            Some("content_block_start") => {
                blocks.push(event["content_block"].clone());
                partial_json.push(String::new());
            }
            Some("content_block_delta") => {
                let index = event["index"].as_u64().expect("delta index") as usize;
                let delta = &event["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => {
                        let text = format!(
                            "{}{}",
                            blocks[index]["text"].as_str().unwrap_or_default(),
                            delta["text"].as_str().expect("text")
                        );
                        blocks[index]["text"] = json!(text);
                    }
                    Some("input_json_delta") => {
                        partial_json[index].push_str(delta["partial_json"].as_str().expect("json"));
                    }
                    other => panic!("unexpected delta {other:?}"),
                }
            }
            Some("content_block_stop") => {
                let index = event["index"].as_u64().expect("stop index") as usize;
                if blocks[index]["type"] == "tool_use" {
                    blocks[index]["input"] =
                        serde_json::from_str(&partial_json[index]).expect("pieces form JSON");
                }
            }
            Some("message_delta") => {
                message["stop_reason"] = event["delta"]["stop_reason"].clone();
                message["usage"]["output_tokens"] = event["usage"]["output_tokens"].clone();
            }
            _ => {}
        }
    }
    message["content"] = Value::Array(blocks);
    message
}

/// Sends `request` through InvokeModel and InvokeModelWithResponseStream; checks that both give the
/// same message (ids aside) with a complete event sequence and consistent usage, and returns the
/// invoked message and the stream's events.
async fn both(sim: &Sim, model: &str, request: &Value) -> (Value, Vec<Value>) {
    let invoked = sim.invoke(model, request).await;
    let events = sim.stream(model, request).await.expect("stream succeeds");
    let types = types(&events);
    assert_eq!(types.first(), Some(&"message_start"));
    assert_eq!(&types[types.len() - 2..], ["message_delta", "message_stop"]);
    let streamed = assemble(&events);
    let without_ids = |message: &Value| {
        let mut message = message.clone();
        message["id"] = Value::Null;
        for block in message["content"].as_array_mut().expect("content") {
            if block["type"] == "tool_use" {
                let id = block["id"].as_str().expect("tool_use id");
                assert!(id.starts_with("toolu_bdrk_"), "{id}");
                block["id"] = Value::Null;
            }
        }
        message
    };
    assert_eq!(without_ids(&streamed), without_ids(&invoked));

    let start_usage = &events[0]["message"]["usage"];
    assert_eq!(start_usage["output_tokens"], 1);
    assert!(start_usage["input_tokens"].as_u64().is_some_and(|n| n > 0));
    assert_eq!(
        start_usage["input_tokens"],
        invoked["usage"]["input_tokens"]
    );
    assert!(
        invoked["usage"]["output_tokens"]
            .as_u64()
            .is_some_and(|n| n > 1)
    );
    let metrics = &events[events.len() - 1]["amazon-bedrock-invocationMetrics"];
    assert_eq!(metrics["inputTokenCount"], invoked["usage"]["input_tokens"]);
    assert_eq!(
        metrics["outputTokenCount"],
        invoked["usage"]["output_tokens"]
    );
    (invoked, events)
}

fn count_deltas(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["delta"]["type"] == kind).count()
}

/// Asserts a search call for `query` after the `lead` text, in both forms.
fn assert_search_call(message: &Value, events: &[Value], lead: &str, query: &str) {
    assert_eq!(message["stop_reason"], "tool_use");
    let content = message["content"].as_array().expect("content");
    assert_eq!(content.len(), 2);
    assert_eq!(content[0], json!({"type": "text", "text": lead}));
    assert_eq!(content[1]["type"], "tool_use");
    assert_eq!(content[1]["name"], "web_search");
    assert_eq!(content[1]["input"], json!({"query": query}));

    let starts: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "content_block_start")
        .filter_map(|e| e["content_block"]["type"].as_str())
        .collect();
    assert_eq!(starts, ["text", "tool_use"]);
    assert!(count_deltas(events, "text_delta") >= 2);
    assert!(count_deltas(events, "input_json_delta") >= 3);
    assert_eq!(streamed_text(events), lead);
}

/// Asserts a text answer, `end_turn`, streamed in several deltas.
fn assert_answer(message: &Value, events: &[Value], text: &str) {
    assert_eq!(message["stop_reason"], "end_turn");
    assert_eq!(message["content"], json!([{"type": "text", "text": text}]));
    assert!(count_deltas(events, "text_delta") >= 2);
    assert_eq!(count_deltas(events, "input_json_delta"), 0);
    assert_eq!(streamed_text(events), text);
}

#[tokio::test]
async fn search_marker_makes_the_model_call_web_search_with_the_rest_of_the_line() {
    let sim = Sim::start().await;
    let request = search_body("Find it. sim:search=rust async runtimes 2026\nThanks!");
    let (message, events) = both(&sim, PROFILE, &request).await;
    assert_search_call(
        &message,
        &events,
        "I'll search for that.",
        "rust async runtimes 2026",
    );
}

#[tokio::test]
async fn claude_code_search_sub_request_calls_web_search() {
    let sim = Sim::start().await;
    let mut request = body("");
    request["messages"] = json!([{"role": "user", "content": [
        {"type": "text", "text": "Perform a web search for the query: \"tokio\" latest release"}
    ]}]);
    request["tools"] = json!([web_search_tool()]);
    request["tool_choice"] = json!({"type": "tool", "name": "web_search"});
    let (message, events) = both(&sim, NEW_PROFILE, &request).await;
    assert_search_call(
        &message,
        &events,
        "I'll search for that.",
        "\"tokio\" latest release",
    );
}

#[tokio::test]
async fn search_marker_without_the_web_search_tool_is_plain_text() {
    let sim = Sim::start().await;
    let (message, events) = both(&sim, PROFILE, &body("sim:search=tokio")).await;
    assert_answer(&message, &events, "Hello from the Bedrock simulator.");
}

#[tokio::test]
async fn web_search_result_as_text_blocks_is_answered_from_the_first_result() {
    let sim = Sim::start().await;
    let request = after_rounds(
        "sim:search=rust async",
        &[("rust async", json!(RESULTS_TEXT), false)],
    );
    let (message, events) = both(&sim, PROFILE, &request).await;
    assert_answer(&message, &events, TOKIO_ANSWER);
}

#[tokio::test]
async fn web_search_result_as_a_json_array_in_text_parts_is_answered_too() {
    let sim = Sim::start().await;
    let results = json!([
        {"title": "Exa", "url": "https://exa.ai", "content": "Short."},
        {"title": "Other", "url": "https://other.example", "content": "Ignored."}
    ]);
    let content = json!([{"type": "text", "text": results.to_string()}]);
    let request = after_rounds(
        "Perform a web search for the query: exa",
        &[("exa", content, false)],
    );
    let (message, events) = both(&sim, PROFILE, &request).await;
    assert_answer(
        &message,
        &events,
        "According to Exa (https://exa.ai): Short.",
    );
}

#[tokio::test]
async fn failed_or_empty_searches_find_nothing() {
    let sim = Sim::start().await;
    for (content, is_error) in [
        (json!("max_uses_exceeded"), true),
        (json!(""), false),
        (json!([{"type": "text", "text": "[]"}]), false),
        (json!("No results."), false),
    ] {
        let request = after_rounds("sim:search=q", &[("q", content, is_error)]);
        let (message, events) = both(&sim, PROFILE, &request).await;
        assert_answer(&message, &events, "The search found nothing.");
    }
}

#[tokio::test]
async fn results_of_other_tools_keep_the_generic_tool_answer() {
    let sim = Sim::start().await;
    let mut request = search_body("sim:tool_use");
    request["messages"] = json!([
        {"role": "user", "content": "sim:tool_use"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_bdrk_1", "name": "Read", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_bdrk_1", "content": "file text"}]}
    ]);
    let (message, events) = both(&sim, PROFILE, &request).await;
    assert_answer(&message, &events, "Tool said: file text");
}

#[tokio::test]
async fn search_twice_asks_for_a_second_search_before_answering() {
    let sim = Sim::start().await;
    let prompt = "sim:search_twice=tokio";

    let (message, events) = both(&sim, PROFILE, &search_body(prompt)).await;
    assert_search_call(&message, &events, "I'll search for that.", "tokio");

    let first = (
        "tokio",
        json!("Title: First\nURL: https://first.example\nfirst"),
        false,
    );
    let request = after_rounds(prompt, std::slice::from_ref(&first));
    let (message, events) = both(&sim, PROFILE, &request).await;
    assert_search_call(&message, &events, "I'll search once more.", "tokio more");

    let second = ("tokio more", json!(RESULTS_TEXT), false);
    let request = after_rounds(prompt, &[first.clone(), second]);
    let (message, events) = both(&sim, PROFILE, &request).await;
    assert_answer(&message, &events, TOKIO_ANSWER);

    // Sluice answers a search beyond max_uses with an error result: the model then gives up.
    let refused = ("tokio more", json!("max_uses_exceeded"), true);
    let request = after_rounds(prompt, &[first, refused]);
    let (message, events) = both(&sim, PROFILE, &request).await;
    assert_answer(&message, &events, "The search found nothing.");
}
