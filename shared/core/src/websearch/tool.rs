//! The request side of web search: finding Anthropic's `web_search_*` server tool in a request, giving Bedrock a
//! client tool of the same name in its place, writing the blocks Sluice answers with, and turning a history that
//! holds `server_tool_use` / `web_search_tool_result` blocks back into what Bedrock accepts.
//!
//! In Anthropic's format a search and its results sit inside one assistant message:
//! `[text, server_tool_use(A), web_search_tool_result(A), text]`. Bedrock knows only client tools, whose results come
//! from the user, so that message becomes `assistant [text, tool_use(A)]`, `user [tool_result(A)]`,
//! `assistant [text]` — nothing dropped, and the result's text rebuilt from its `encrypted_content`.

use serde_json::{Map, Value, json};

use super::content::ContentCodec;
use super::{FetchError, FetchedPage, SearchError, SearchErrorCode, SearchResult, UserLocation};
use crate::error::ApiError;

/// Every version of the server tool Anthropic has published, and any later one, starts with this.
pub const SERVER_TOOL_PREFIX: &str = "web_search_";
/// The same for web fetch.
pub const FETCH_TOOL_PREFIX: &str = "web_fetch_";
/// What the model is told the fetch tool does.
const FETCH_TOOL_DESCRIPTION: &str = "Fetch a web page or document by its URL and read its text. Use it for a URL \
     the user gave or one found by a search.";
/// Characters of a fetched page handed to the model when the request sets no `max_content_tokens`.
pub const DEFAULT_FETCH_CHARS: usize = 100_000;
/// What the model is told the client tool does.
const CLIENT_TOOL_DESCRIPTION: &str = "Search the web for current information. Use it when the answer depends on \
     recent events or facts you do not know. Returns the most relevant pages with their title, URL and text.";

/// The web search tool a request declared, with its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTool {
    /// The tool's name (`web_search`): the model calls the client tool by it.
    pub name: String,
    /// Searches allowed in this request; more are answered with `max_uses_exceeded`.
    pub max_uses: Option<u32>,
    pub allowed_domains: Vec<String>,
    pub blocked_domains: Vec<String>,
    pub user_location: Option<UserLocation>,
}

fn strings(tool: &Map<String, Value>, field: &str) -> Result<Vec<String>, ApiError> {
    strings_of(tool, "web_search", field)
}

fn strings_of(
    tool: &Map<String, Value>,
    label: &str,
    field: &str,
) -> Result<Vec<String>, ApiError> {
    match tool.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(|s| s.trim().to_ascii_lowercase())
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        ApiError::invalid(format!(
                            "tools.{label}.{field}: must be a list of domain names"
                        ))
                    })
            })
            .collect(),
        Some(_) => Err(ApiError::invalid(format!(
            "tools.{label}.{field}: must be a list of domain names"
        ))),
    }
}

/// The `web_search_*` tool of a request body, if it declares one.
///
/// # Errors
/// 400 for options Anthropic refuses too: both `allowed_domains` and `blocked_domains`, a `max_uses` that is not a
/// positive whole number, domains that are not strings, a `user_location` that is not an object.
pub fn find_search_tool(body: &Map<String, Value>) -> Result<Option<SearchTool>, ApiError> {
    let Some(Value::Array(tools)) = body.get("tools") else {
        return Ok(None);
    };
    let Some(tool) = tools.iter().filter_map(Value::as_object).find(|t| {
        t.get("type")
            .and_then(Value::as_str)
            .is_some_and(|ty| ty.starts_with(SERVER_TOOL_PREFIX))
    }) else {
        return Ok(None);
    };
    let name = tool
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .unwrap_or("web_search")
        .to_owned();
    let max_uses = match tool.get("max_uses") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| *n >= 1)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    ApiError::invalid("tools.web_search.max_uses: must be a positive whole number")
                })?,
        ),
    };
    let allowed_domains = strings(tool, "allowed_domains")?;
    let blocked_domains = strings(tool, "blocked_domains")?;
    if !allowed_domains.is_empty() && !blocked_domains.is_empty() {
        return Err(ApiError::invalid(
            "tools.web_search: allowed_domains and blocked_domains cannot both be set",
        ));
    }
    let user_location = match tool.get("user_location") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(
            serde_json::from_value(v.clone())
                .map_err(|e| ApiError::invalid(format!("tools.web_search.user_location: {e}")))?,
        ),
        Some(_) => {
            return Err(ApiError::invalid(
                "tools.web_search.user_location: must be an object",
            ));
        }
    };
    Ok(Some(SearchTool {
        name,
        max_uses,
        allowed_domains,
        blocked_domains,
        user_location,
    }))
}

/// Replaces the server tool in `tools` with a client tool of the same name taking `{"query"}` (its
/// `cache_control`, if any, kept), so Bedrock lets the model call it.
pub fn replace_with_client_tool(body: &mut Map<String, Value>, tool: &SearchTool) {
    replace_server_tool(
        body,
        SERVER_TOOL_PREFIX,
        &json!({
            "name": tool.name,
            "description": CLIENT_TOOL_DESCRIPTION,
            "input_schema": {
                "type": "object",
                "properties": {"query": {"type": "string", "description": "The search query"}},
                "required": ["query"],
            },
        }),
    );
}

/// As [`replace_with_client_tool`] for the fetch tool, taking `{"url"}`.
pub fn replace_fetch_with_client_tool(body: &mut Map<String, Value>, tool: &FetchTool) {
    replace_server_tool(
        body,
        FETCH_TOOL_PREFIX,
        &json!({
            "name": tool.name,
            "description": FETCH_TOOL_DESCRIPTION,
            "input_schema": {
                "type": "object",
                "properties": {"url": {"type": "string", "description": "The URL to fetch"}},
                "required": ["url"],
            },
        }),
    );
}

fn replace_server_tool(body: &mut Map<String, Value>, prefix: &str, client: &Value) {
    let Some(Value::Array(tools)) = body.get_mut("tools") else {
        return;
    };
    for entry in tools.iter_mut() {
        let is_server = entry
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|ty| ty.starts_with(prefix));
        if !is_server {
            continue;
        }
        let mut replaced = client.clone();
        if let Some(cache) = entry.get("cache_control") {
            replaced["cache_control"] = cache.clone();
        }
        *entry = replaced;
    }
}

/// The web fetch tool a request declared, with its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchTool {
    pub name: String,
    pub max_uses: Option<u32>,
    pub allowed_domains: Vec<String>,
    pub blocked_domains: Vec<String>,
    /// The longest page text handed to the model, in characters (`max_content_tokens` × 4).
    pub max_chars: usize,
}

/// The `web_fetch_*` tool of a request body, if it declares one.
///
/// # Errors
/// 400 for the options Anthropic refuses: both domain lists, a `max_uses` or `max_content_tokens` that is not a
/// positive whole number.
pub fn find_fetch_tool(body: &Map<String, Value>) -> Result<Option<FetchTool>, ApiError> {
    let Some(Value::Array(tools)) = body.get("tools") else {
        return Ok(None);
    };
    let Some(tool) = tools.iter().filter_map(Value::as_object).find(|t| {
        t.get("type")
            .and_then(Value::as_str)
            .is_some_and(|ty| ty.starts_with(FETCH_TOOL_PREFIX))
    }) else {
        return Ok(None);
    };
    let positive = |field: &str| -> Result<Option<u32>, ApiError> {
        match tool.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .filter(|n| *n >= 1)
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| {
                    ApiError::invalid(format!(
                        "tools.web_fetch.{field}: must be a positive whole number"
                    ))
                }),
        }
    };
    let max_uses = positive("max_uses")?;
    let max_chars = positive("max_content_tokens")?.map_or(DEFAULT_FETCH_CHARS, |t| {
        usize::try_from(t).unwrap_or(usize::MAX / 4) * 4
    });
    let allowed_domains = strings_of(tool, "web_fetch", "allowed_domains")?;
    let blocked_domains = strings_of(tool, "web_fetch", "blocked_domains")?;
    if !allowed_domains.is_empty() && !blocked_domains.is_empty() {
        return Err(ApiError::invalid(
            "tools.web_fetch: allowed_domains and blocked_domains cannot both be set",
        ));
    }
    Ok(Some(FetchTool {
        name: tool
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .unwrap_or("web_fetch")
            .to_owned(),
        max_uses,
        allowed_domains,
        blocked_domains,
        max_chars,
    }))
}

/// The text the model reads for a fetched page.
#[must_use]
pub fn fetch_text(page: &FetchedPage) -> String {
    let title = page
        .title
        .as_deref()
        .map(|t| format!("Title: {t}\n"))
        .unwrap_or_default();
    format!("URL: {}\n{title}\n{}", page.url, page.text)
}

/// The text the model reads for a failed fetch.
#[must_use]
pub fn fetch_error_text(error: &FetchError) -> String {
    let code = serde_json::to_value(error.code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    format!("Web fetch error: {code}. {}", error.message)
}

/// The `content` of a `web_fetch_tool_result` block: the page as a text document, or the error.
#[must_use]
pub fn fetch_block_content(outcome: &Result<FetchedPage, FetchError>, retrieved_at: &str) -> Value {
    match outcome {
        Ok(page) => json!({
            "type": "web_fetch_result",
            "url": page.url,
            "content": {
                "type": "document",
                "source": {"type": "text", "media_type": page.media_type, "data": page.text},
                "title": page.title,
            },
            "retrieved_at": retrieved_at,
        }),
        Err(e) => json!({"type": "web_fetch_tool_error", "error_code": e.code}),
    }
}

/// What a `web_fetch_tool_result` block gave the model (the page's text travels in the clear).
fn replayed_fetch(content: Option<&Value>) -> (String, bool) {
    match content {
        Some(c) if c.get("type").and_then(Value::as_str) == Some("web_fetch_result") => {
            let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
            let page = FetchedPage {
                url: text(c.get("url")).unwrap_or_default(),
                title: text(c.pointer("/content/title")),
                media_type: "text/plain".into(),
                text: text(c.pointer("/content/source/data")).unwrap_or_default(),
            };
            (fetch_text(&page), false)
        }
        Some(c) => {
            let code = c
                .get("error_code")
                .and_then(Value::as_str)
                .unwrap_or("unavailable");
            (format!("Web fetch error: {code}."), true)
        }
        None => ("Web fetch error: unavailable.".to_owned(), true),
    }
}

/// The text the model reads for a search's results (the simulator and the history conversion read the same form).
#[must_use]
pub fn results_text(results: &[SearchResult]) -> String {
    if results.is_empty() {
        return "No results.".to_owned();
    }
    results
        .iter()
        .map(|r| {
            let age = r
                .page_age
                .as_deref()
                .map(|a| format!("Page age: {a}\n"))
                .unwrap_or_default();
            format!("Title: {}\nURL: {}\n{age}{}", r.title, r.url, r.content)
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The text the model reads for a failed search.
#[must_use]
pub fn error_text(error: &SearchError) -> String {
    let code = serde_json::to_value(error.code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    format!("Web search error: {code}. {}", error.message)
}

/// The `content` of a `web_search_tool_result` block: the results, or the error.
#[must_use]
pub fn result_block_content(
    outcome: &Result<Vec<SearchResult>, SearchError>,
    codec: &ContentCodec,
) -> Value {
    match outcome {
        Ok(results) => Value::Array(
            results
                .iter()
                .map(|r| {
                    json!({
                        "type": "web_search_result",
                        "url": r.url,
                        "title": r.title,
                        "page_age": r.page_age,
                        "encrypted_content": codec.encode(r),
                    })
                })
                .collect(),
        ),
        Err(e) => json!({"type": "web_search_tool_result_error", "error_code": e.code}),
    }
}

/// What a `web_search_tool_result` block gave the model: its text, and whether it was an error.
fn replayed_result(content: Option<&Value>, codec: &ContentCodec) -> (String, bool) {
    match content {
        Some(Value::Array(items)) => {
            let results: Vec<SearchResult> = items
                .iter()
                .filter_map(Value::as_object)
                .map(|item| {
                    let text = |k: &str| {
                        item.get(k)
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned()
                    };
                    item.get("encrypted_content")
                        .and_then(Value::as_str)
                        .and_then(|e| codec.decode(e))
                        .unwrap_or_else(|| SearchResult {
                            url: text("url"),
                            title: text("title"),
                            page_age: item
                                .get("page_age")
                                .and_then(Value::as_str)
                                .map(str::to_owned),
                            content: "[the text of this result is not available]".to_owned(),
                        })
                })
                .collect();
            (results_text(&results), false)
        }
        Some(Value::Object(error)) => {
            let code = error
                .get("error_code")
                .and_then(Value::as_str)
                .unwrap_or("unavailable");
            (format!("Web search error: {code}."), true)
        }
        _ => ("No results.".to_owned(), false),
    }
}

/// Turns every `server_tool_use` / `web_search_tool_result` / `web_fetch_tool_result` in the history into `tool_use`
/// / `tool_result` (see the
/// module comment), and drops `citations` from text blocks (Bedrock does not take `web_search_result_location`).
/// Returns how many results were converted.
pub fn convert_history(body: &mut Map<String, Value>, codec: &ContentCodec) -> usize {
    let Some(Value::Array(messages)) = body.get_mut("messages") else {
        return 0;
    };
    let mut converted = 0;
    let mut out: Vec<Value> = Vec::with_capacity(messages.len());
    for message in messages.drain(..) {
        let is_assistant = message.get("role").and_then(Value::as_str) == Some("assistant");
        let has_server_blocks = message
            .get("content")
            .and_then(Value::as_array)
            .is_some_and(|blocks| {
                blocks.iter().any(|b| {
                    matches!(
                        b.get("type").and_then(Value::as_str),
                        Some(
                            "server_tool_use" | "web_search_tool_result" | "web_fetch_tool_result"
                        )
                    ) || b.get("citations").is_some()
                })
            });
        if !is_assistant || !has_server_blocks {
            push_merged(&mut out, message);
            continue;
        }
        let blocks = message
            .get("content")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut current: Vec<Value> = Vec::new();
        for mut block in blocks {
            match block.get("type").and_then(Value::as_str) {
                Some("server_tool_use") => {
                    block["type"] = json!("tool_use");
                    current.push(block);
                }
                Some(kind @ ("web_search_tool_result" | "web_fetch_tool_result")) => {
                    converted += 1;
                    let (text, is_error) = if kind == "web_fetch_tool_result" {
                        replayed_fetch(block.get("content"))
                    } else {
                        replayed_result(block.get("content"), codec)
                    };
                    let mut result = json!({
                        "type": "tool_result",
                        "tool_use_id": block.get("tool_use_id").cloned().unwrap_or(Value::Null),
                        "content": text,
                    });
                    if is_error {
                        result["is_error"] = json!(true);
                    }
                    if !current.is_empty() {
                        out.push(
                            json!({"role": "assistant", "content": std::mem::take(&mut current)}),
                        );
                    }
                    push_merged(&mut out, json!({"role": "user", "content": [result]}));
                }
                _ => {
                    if let Some(b) = block.as_object_mut() {
                        b.remove("citations");
                    }
                    current.push(block);
                }
            }
        }
        if !current.is_empty() {
            out.push(json!({"role": "assistant", "content": current}));
        }
    }
    *messages = out;
    converted
}

/// Appends `message`, merging it into the previous one when both are the user's (a tool result followed by the
/// user's next turn): Bedrock wants the roles to alternate.
fn push_merged(out: &mut Vec<Value>, message: Value) {
    let is_user = |m: &Value| m.get("role").and_then(Value::as_str) == Some("user");
    if is_user(&message)
        && let Some(last) = out.last_mut()
        && is_user(last)
        && last.get("content").is_some_and(Value::is_array)
    {
        let extra: Vec<Value> = match message.get("content") {
            Some(Value::Array(blocks)) => blocks.clone(),
            Some(Value::String(text)) => vec![json!({"type": "text", "text": text})],
            _ => Vec::new(),
        };
        if let Some(Value::Array(blocks)) = last.get_mut("content") {
            blocks.extend(extra);
        }
        return;
    }
    out.push(message);
}

/// A search the model asked for, beyond `max_uses`.
#[must_use]
pub fn max_uses_exceeded(max_uses: u32) -> SearchError {
    SearchError::new(
        SearchErrorCode::MaxUsesExceeded,
        format!("this request allows {max_uses} searches"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("an object"),
        }
    }

    fn codec() -> ContentCodec {
        ContentCodec::from_secret(b"secret")
    }

    fn result(n: u32) -> SearchResult {
        SearchResult {
            url: format!("https://e{n}.example/page"),
            title: format!("Page {n}"),
            page_age: None,
            content: format!("Text of page {n}"),
        }
    }

    #[test]
    fn every_version_of_the_server_tool_is_found_with_its_options() {
        for ty in [
            "web_search_20250305",
            "web_search_20260209",
            "web_search_20271231",
        ] {
            let b = body(json!({"tools": [
                {"name": "Bash", "input_schema": {"type": "object"}},
                {"type": ty, "name": "web_search", "max_uses": 8, "allowed_domains": ["Docs.rs"],
                 "user_location": {"type": "approximate", "country": "DE", "timezone": "Europe/Berlin"}}
            ]}));
            let tool = find_search_tool(&b).expect("valid").expect("found");
            assert_eq!(tool.name, "web_search");
            assert_eq!(tool.max_uses, Some(8));
            assert_eq!(tool.allowed_domains, vec!["docs.rs".to_owned()]);
            assert_eq!(
                tool.user_location.and_then(|l| l.country).as_deref(),
                Some("DE")
            );
        }
        assert_eq!(
            find_search_tool(&body(json!({"tools": []}))).expect("ok"),
            None
        );
        assert_eq!(find_search_tool(&body(json!({}))).expect("ok"), None);
    }

    #[test]
    fn options_anthropic_refuses_are_refused_with_the_field() {
        for (tool, field) in [
            (
                json!({"type": "web_search_20250305", "name": "web_search", "allowed_domains": ["a.com"], "blocked_domains": ["b.com"]}),
                "cannot both be set",
            ),
            (
                json!({"type": "web_search_20250305", "name": "web_search", "max_uses": 0}),
                "max_uses",
            ),
            (
                json!({"type": "web_search_20250305", "name": "web_search", "blocked_domains": [3]}),
                "blocked_domains",
            ),
            (
                json!({"type": "web_search_20250305", "name": "web_search", "user_location": "Berlin"}),
                "user_location",
            ),
        ] {
            let error = find_search_tool(&body(json!({"tools": [tool]}))).expect_err("refused");
            assert!(error.message.contains(field), "{}", error.message);
        }
    }

    #[test]
    fn the_server_tool_becomes_a_client_tool_of_the_same_name() {
        let mut b = body(json!({"tools": [
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 8, "cache_control": {"type": "ephemeral"}},
            {"name": "Bash", "input_schema": {"type": "object"}}
        ]}));
        let tool = find_search_tool(&b).expect("ok").expect("found");
        replace_with_client_tool(&mut b, &tool);
        let tools = b["tools"].as_array().expect("tools");
        assert_eq!(tools[0]["name"], "web_search");
        assert!(tools[0].get("type").is_none(), "a client tool has no type");
        assert_eq!(tools[0]["input_schema"]["required"], json!(["query"]));
        assert_eq!(tools[0]["cache_control"], json!({"type": "ephemeral"}));
        assert!(tools[0].get("max_uses").is_none());
        assert_eq!(tools[1]["name"], "Bash");
    }

    #[test]
    fn history_with_a_search_becomes_tool_use_and_tool_result_without_losing_anything() {
        let codec = codec();
        let content = result_block_content(&Ok(vec![result(1), result(2)]), &codec);
        let mut b = body(json!({"messages": [
            {"role": "user", "content": "What is new in Rust?"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "rust news"}},
                {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": content},
                {"type": "text", "text": "Rust 2.0 is out.", "citations": [{"type": "web_search_result_location",
                    "url": "https://e1.example/page", "title": "Page 1", "encrypted_index": "x", "cited_text": "Text"}]}
            ]},
            {"role": "user", "content": "Thanks! And Go?"}
        ]}));
        assert_eq!(convert_history(&mut b, &codec), 1);
        let messages = b["messages"].as_array().expect("messages");
        let roles: Vec<&str> = messages.iter().filter_map(|m| m["role"].as_str()).collect();
        assert_eq!(roles, ["user", "assistant", "user", "assistant", "user"]);
        assert_eq!(messages[1]["content"][0]["text"], "Let me look.");
        assert_eq!(messages[1]["content"][1]["type"], "tool_use");
        assert_eq!(messages[1]["content"][1]["id"], "srvtoolu_1");
        assert_eq!(
            messages[1]["content"][1]["input"],
            json!({"query": "rust news"})
        );
        let tool_result = &messages[2]["content"][0];
        assert_eq!(tool_result["type"], "tool_result");
        assert_eq!(tool_result["tool_use_id"], "srvtoolu_1");
        let text = tool_result["content"].as_str().expect("text");
        assert!(
            text.contains("Title: Page 1\nURL: https://e1.example/page\nText of page 1"),
            "{text}"
        );
        assert!(text.contains("Text of page 2"), "{text}");
        assert_eq!(messages[3]["content"][0]["text"], "Rust 2.0 is out.");
        assert!(messages[3]["content"][0].get("citations").is_none());
        assert_eq!(messages[4]["content"], "Thanks! And Go?");
    }

    #[test]
    fn parallel_searches_and_a_result_at_the_end_keep_the_roles_alternating() {
        let codec = codec();
        let ok = result_block_content(&Ok(vec![result(1)]), &codec);
        let failed = result_block_content(
            &Err(SearchError::new(
                SearchErrorCode::TooManyRequests,
                "slow down",
            )),
            &codec,
        );
        let mut b = body(json!({"messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [
                {"type": "server_tool_use", "id": "a", "name": "web_search", "input": {"query": "x"}},
                {"type": "server_tool_use", "id": "b", "name": "web_search", "input": {"query": "y"}},
                {"type": "web_search_tool_result", "tool_use_id": "a", "content": ok},
                {"type": "web_search_tool_result", "tool_use_id": "b", "content": failed}
            ]},
            {"role": "user", "content": [{"type": "text", "text": "go on"}]}
        ]}));
        assert_eq!(convert_history(&mut b, &codec), 2);
        let messages = b["messages"].as_array().expect("messages");
        let roles: Vec<&str> = messages.iter().filter_map(|m| m["role"].as_str()).collect();
        assert_eq!(roles, ["user", "assistant", "user"]);
        let user = messages[2]["content"].as_array().expect("blocks");
        assert_eq!(user.len(), 3, "two results and the user's text: {user:?}");
        assert_eq!(user[0]["tool_use_id"], "a");
        assert_eq!(user[1]["tool_use_id"], "b");
        assert_eq!(user[1]["is_error"], true);
        assert!(
            user[1]["content"]
                .as_str()
                .expect("text")
                .contains("too_many_requests")
        );
        assert_eq!(user[2]["text"], "go on");
    }

    #[test]
    fn a_result_whose_content_does_not_verify_keeps_its_title_and_url_only() {
        let mut b = body(json!({"messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [
                {"type": "server_tool_use", "id": "a", "name": "web_search", "input": {"query": "x"}},
                {"type": "web_search_tool_result", "tool_use_id": "a", "content": [
                    {"type": "web_search_result", "url": "https://anthropic.example/", "title": "From Anthropic",
                     "encrypted_content": "EqgBCioIBRgCIiQ4YWZ"}
                ]},
                {"type": "text", "text": "done"}
            ]}
        ]}));
        convert_history(&mut b, &codec());
        let text = b["messages"][2]["content"][0]["content"]
            .as_str()
            .expect("text");
        assert!(
            text.contains("From Anthropic") && text.contains("https://anthropic.example/"),
            "{text}"
        );
        assert!(text.contains("not available"), "{text}");
    }

    #[test]
    fn the_fetch_tool_is_found_replaced_and_its_history_converted() {
        let mut b = body(json!({
            "tools": [{"type": "web_fetch_20250910", "name": "web_fetch", "max_uses": 2, "max_content_tokens": 1000}],
            "messages": [
                {"role": "user", "content": "read https://docs.example/"},
                {"role": "assistant", "content": [
                    {"type": "server_tool_use", "id": "srvtoolu_f", "name": "web_fetch", "input": {"url": "https://docs.example/"}},
                    {"type": "web_fetch_tool_result", "tool_use_id": "srvtoolu_f", "content": fetch_block_content(
                        &Ok(FetchedPage {url: "https://docs.example/".into(), title: Some("Docs".into()),
                            media_type: "text/plain".into(), text: "The docs say hello.".into()}),
                        "2026-12-05T09:00:00Z")},
                    {"type": "text", "text": "They say hello."}
                ]}
            ]
        }));
        let tool = find_fetch_tool(&b).expect("ok").expect("found");
        assert_eq!(
            (tool.name.as_str(), tool.max_uses, tool.max_chars),
            ("web_fetch", Some(2), 4000)
        );
        replace_fetch_with_client_tool(&mut b, &tool);
        assert_eq!(b["tools"][0]["input_schema"]["required"], json!(["url"]));
        assert!(b["tools"][0].get("type").is_none());
        assert_eq!(convert_history(&mut b, &codec()), 1);
        let text = b["messages"][2]["content"][0]["content"]
            .as_str()
            .expect("text");
        assert!(
            text.contains("URL: https://docs.example/") && text.contains("The docs say hello."),
            "{text}"
        );
        assert_eq!(b["messages"][1]["content"][0]["type"], "tool_use");
        let refused = find_fetch_tool(&body(json!({"tools": [
            {"type": "web_fetch_20250910", "name": "web_fetch", "max_content_tokens": 0}]})));
        assert!(refused.is_err());
    }

    #[test]
    fn a_history_without_server_blocks_is_left_alone() {
        let original = json!({"messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "text", "text": "hello"}]},
            {"role": "user", "content": "again"}
        ]});
        let mut b = body(original.clone());
        assert_eq!(convert_history(&mut b, &codec()), 0);
        assert_eq!(Value::Object(b), original);
    }
}
