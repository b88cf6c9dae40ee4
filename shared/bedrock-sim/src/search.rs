//! The web-search scenario: the model calls a client tool named `web_search` when asked to search,
//! then answers from the `tool_result` Sluice sends back (results written as `Title:`/`URL:` blocks
//! or as a JSON array of `{title, url, content}`).

use serde_json::Value;

use crate::conversation::message_text;

/// The client tool the model calls to search.
pub const WEB_SEARCH: &str = "web_search";
/// The text block before the first search call.
pub const SEARCH_LEAD: &str = "I'll search for that.";
/// The text block before the second search call of `sim:search_twice`.
pub const SEARCH_AGAIN_LEAD: &str = "I'll search once more.";
/// The answer when the search failed or found no results.
pub const NOTHING_FOUND: &str = "The search found nothing.";

const SEARCH_MARKER: &str = "sim:search=";
const SEARCH_TWICE_MARKER: &str = "sim:search_twice=";
/// What Claude Code's WebSearch tool sends as the only user message of its search sub-request.
const CLAUDE_CODE_PREFIX: &str = "Perform a web search for the query:";
/// How much of the first result's content the answer quotes, in characters.
const QUOTED_CHARS: usize = 80;

/// What the model does in a search conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchTurn {
    /// A short text block, then a `web_search` call with this query.
    Call { lead: &'static str, query: String },
    /// A text answer built from the results.
    Answer(String),
}

/// One search result as the model reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    title: String,
    url: String,
    content: String,
}

/// The search turn `body` asks for, or `None` when it is not a search conversation.
pub fn search_turn(body: &Value) -> Option<SearchTurn> {
    let messages = body.get("messages")?.as_array()?;
    let last = last_user_index(messages)?;
    let declared = declares_web_search(body);
    if let Some(result) = web_search_result(messages, last) {
        if declared && let Some(query) = second_search(messages, last) {
            return Some(SearchTurn::Call {
                lead: SEARCH_AGAIN_LEAD,
                query,
            });
        }
        return Some(SearchTurn::Answer(answer(result)));
    }
    let message = &messages[last];
    if !declared || has_tool_result(message) {
        return None;
    }
    search_query(&message_text(message)).map(|query| SearchTurn::Call {
        lead: SEARCH_LEAD,
        query,
    })
}

fn role_is(message: &Value, role: &str) -> bool {
    message.get("role").and_then(Value::as_str) == Some(role)
}

fn blocks(message: &Value) -> &[Value] {
    message
        .get("content")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn block_type(block: &Value) -> Option<&str> {
    block.get("type").and_then(Value::as_str)
}

fn last_user_index(messages: &[Value]) -> Option<usize> {
    messages.iter().rposition(|m| role_is(m, "user"))
}

fn declares_web_search(body: &Value) -> bool {
    body.get("tools")
        .and_then(Value::as_array)
        .is_some_and(|tools| {
            tools
                .iter()
                .any(|t| t.get("name").and_then(Value::as_str) == Some(WEB_SEARCH))
        })
}

fn has_tool_result(message: &Value) -> bool {
    blocks(message)
        .iter()
        .any(|b| block_type(b) == Some("tool_result"))
}

fn is_web_search_call(block: &Value) -> bool {
    block_type(block) == Some("tool_use")
        && block.get("name").and_then(Value::as_str) == Some(WEB_SEARCH)
}

/// The first `tool_result` of the user message at `last` that answers a `web_search` call of the
/// assistant message before it.
fn web_search_result(messages: &[Value], last: usize) -> Option<&Value> {
    let assistant = messages[..last]
        .iter()
        .rev()
        .find(|m| role_is(m, "assistant"))?;
    let search_ids: Vec<&str> = blocks(assistant)
        .iter()
        .filter(|b| is_web_search_call(b))
        .filter_map(|b| b.get("id").and_then(Value::as_str))
        .collect();
    blocks(&messages[last]).iter().find(|b| {
        block_type(b) == Some("tool_result")
            && b.get("tool_use_id")
                .and_then(Value::as_str)
                .is_some_and(|id| search_ids.contains(&id))
    })
}

/// With `sim:search_twice=<query>` in the prompt and only one search made since: `<query> more`.
fn second_search(messages: &[Value], last: usize) -> Option<String> {
    let prompt = messages[..=last]
        .iter()
        .rposition(|m| role_is(m, "user") && !has_tool_result(m))?;
    let query = marker_value(&message_text(&messages[prompt]), SEARCH_TWICE_MARKER)?;
    let searches = messages[prompt..=last]
        .iter()
        .filter(|m| role_is(m, "assistant"))
        .flat_map(blocks)
        .filter(|b| is_web_search_call(b))
        .count();
    (searches < 2).then(|| format!("{query} more"))
}

/// The value of `marker` up to the end of its line, when not empty.
fn marker_value(text: &str, marker: &str) -> Option<String> {
    let start = text.find(marker)? + marker.len();
    let rest = &text[start..];
    let line = rest.split('\n').next().unwrap_or_default().trim();
    (!line.is_empty()).then(|| line.to_owned())
}

/// The query of a search request: the first `sim:search=` / `sim:search_twice=` marker, or the
/// query of Claude Code's search sub-request.
fn search_query(text: &str) -> Option<String> {
    let first_marker = [SEARCH_MARKER, SEARCH_TWICE_MARKER]
        .into_iter()
        .filter_map(|marker| text.find(marker).map(|at| (at, marker)))
        .min_by_key(|(at, _)| *at);
    if let Some((_, marker)) = first_marker {
        return marker_value(text, marker);
    }
    let rest = text.trim_start().strip_prefix(CLAUDE_CODE_PREFIX)?;
    let query = rest.split('\n').next().unwrap_or_default().trim();
    (!query.is_empty()).then(|| query.to_owned())
}

/// The model's answer to a `web_search` tool result.
fn answer(result: &Value) -> String {
    if result.get("is_error").and_then(Value::as_bool) == Some(true) {
        return NOTHING_FOUND.to_owned();
    }
    match result_texts(result)
        .iter()
        .find_map(|t| parse_results(t).into_iter().next())
    {
        Some(first) => {
            let quoted: String = first.content.chars().take(QUOTED_CHARS).collect();
            format!("According to {} ({}): {quoted}", first.title, first.url)
        }
        None => NOTHING_FOUND.to_owned(),
    }
}

/// The text parts of a `tool_result`'s content, each read on its own.
fn result_texts(result: &Value) -> Vec<&str> {
    match result.get("content") {
        Some(Value::String(text)) => vec![text.as_str()],
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => Vec::new(),
    }
}

fn parse_results(text: &str) -> Vec<Found> {
    if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(text.trim()) {
        return items.iter().filter_map(json_result).collect();
    }
    text_results(text)
}

fn json_result(item: &Value) -> Option<Found> {
    let field = |name: &str| {
        item.get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let found = Found {
        title: field("title"),
        url: field("url"),
        content: field("content"),
    };
    (!found.title.is_empty() || !found.url.is_empty()).then_some(found)
}

/// Reads `Title: <title>\nURL: <url>\n[Page age: <age>\n]<content>` blocks. A result starts at a `Title:` line
/// followed by a `URL:` line; every line up to the next result is its content, so content with
/// blank lines survives, and text before the first result is ignored.
fn text_results(text: &str) -> Vec<Found> {
    let lines: Vec<&str> = text.lines().collect();
    let mut results: Vec<Found> = Vec::new();
    let mut content: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let title = lines[i].strip_prefix("Title:");
        let url = lines.get(i + 1).and_then(|l| l.strip_prefix("URL:"));
        if let (Some(title), Some(url)) = (title, url) {
            finish(&mut results, &mut content);
            results.push(Found {
                title: title.trim().to_owned(),
                url: url.trim().to_owned(),
                content: String::new(),
            });
            i += 2;
            // Sluice writes a page's age, when known, on the line after its URL: not content.
            if lines.get(i).is_some_and(|l| l.starts_with("Page age:")) {
                i += 1;
            }
            continue;
        }
        content.push(lines[i]);
        i += 1;
    }
    finish(&mut results, &mut content);
    results
}

/// Gives the collected lines to the latest result, if any, and starts collecting afresh.
fn finish(results: &mut [Found], content: &mut Vec<&str>) {
    if let Some(last) = results.last_mut() {
        last.content = content.join("\n").trim().to_owned();
    }
    content.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TOOLS: &str = r#"[{"name": "web_search", "input_schema": {"type": "object"}}]"#;

    fn tools() -> Value {
        serde_json::from_str(TOOLS).expect("tools JSON")
    }

    fn turn(messages: Value) -> Option<SearchTurn> {
        let mut body = json!({"tools": tools()});
        body["messages"] = messages;
        search_turn(&body)
    }

    fn call(query: &str) -> Option<SearchTurn> {
        Some(SearchTurn::Call {
            lead: SEARCH_LEAD,
            query: query.to_owned(),
        })
    }

    fn after_result(prompt: &str, content: Value, is_error: bool) -> Option<SearchTurn> {
        let mut result =
            json!({"type": "tool_result", "tool_use_id": "toolu_bdrk_s1", "is_error": is_error});
        result["content"] = content;
        turn(json!([
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": [
                {"type": "text", "text": SEARCH_LEAD},
                {"type": "tool_use", "id": "toolu_bdrk_s1", "name": "web_search", "input": {"query": "q"}}
            ]},
            {"role": "user", "content": [result]}
        ]))
    }

    #[test]
    fn marker_query_runs_to_the_end_of_the_line() {
        assert_eq!(
            turn(
                json!([{"role": "user", "content": "look sim:search=rust 2024 edition!\nthanks"}])
            ),
            call("rust 2024 edition!")
        );
        assert_eq!(
            turn(
                json!([{"role": "user", "content": [{"type": "text", "text": "sim:search_twice=tokio"}]}])
            ),
            call("tokio")
        );
    }

    #[test]
    fn claude_code_sub_request_is_a_search() {
        assert_eq!(
            turn(
                json!([{"role": "user", "content": "Perform a web search for the query: weather in Paris"}])
            ),
            call("weather in Paris")
        );
    }

    #[test]
    fn no_search_without_the_tool_or_the_marker() {
        let body = json!({"messages": [{"role": "user", "content": "sim:search=x"}]});
        assert_eq!(search_turn(&body), None);
        assert_eq!(turn(json!([{"role": "user", "content": "hello"}])), None);
        assert_eq!(
            turn(json!([{"role": "user", "content": "sim:search="}])),
            None
        );
    }

    #[test]
    fn text_results_give_the_first_title_url_and_content() {
        let text = "Results:\n\nTitle: Rust\nURL: https://rust-lang.org\nA language empowering everyone.\n\nSecond paragraph.\n\nTitle: Go\nURL: https://go.dev\nSimple.";
        assert_eq!(
            after_result("sim:search=rust", json!(text), false),
            Some(SearchTurn::Answer(
                "According to Rust (https://rust-lang.org): A language empowering everyone.\n\nSecond paragraph.".to_owned()
            ))
        );
        assert_eq!(text_results(text).len(), 2);
        let aged = "Title: Rust\nURL: https://rust-lang.org\nPage age: 3 days ago\nFast.";
        assert_eq!(text_results(aged)[0].content, "Fast.");
    }

    #[test]
    fn json_results_and_long_content_are_quoted_to_80_chars() {
        let content = "x".repeat(100);
        let results =
            json!([{"title": "T", "url": "https://t.example", "content": content}]).to_string();
        let blocks = json!([{"type": "text", "text": results}]);
        assert_eq!(
            after_result("sim:search=t", blocks, false),
            Some(SearchTurn::Answer(format!(
                "According to T (https://t.example): {}",
                "x".repeat(80)
            )))
        );
    }

    #[test]
    fn errors_and_empty_results_find_nothing() {
        let nothing = Some(SearchTurn::Answer(NOTHING_FOUND.to_owned()));
        assert_eq!(
            after_result("sim:search=q", json!("max_uses_exceeded"), true),
            nothing
        );
        assert_eq!(after_result("sim:search=q", json!(""), false), nothing);
        assert_eq!(after_result("sim:search=q", json!("[]"), false), nothing);
    }

    #[test]
    fn search_twice_asks_again_once() {
        assert_eq!(
            after_result("sim:search_twice=tokio", json!("[]"), false),
            Some(SearchTurn::Call {
                lead: SEARCH_AGAIN_LEAD,
                query: "tokio more".to_owned()
            })
        );
        let second = turn(json!([
            {"role": "user", "content": "sim:search_twice=tokio"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "web_search", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "[]"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "b", "name": "web_search", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "b", "content": "Title: T\nURL: u\nbody"}]}
        ]));
        assert_eq!(
            second,
            Some(SearchTurn::Answer("According to T (u): body".to_owned()))
        );
    }

    #[test]
    fn results_of_other_tools_are_not_search_results() {
        assert_eq!(
            turn(json!([
                {"role": "user", "content": "sim:search=q"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "Bash", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "hi"}]}
            ])),
            None
        );
    }
}
