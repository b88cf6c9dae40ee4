//! Reading a request body the way the scripted replies need it: the last user message's text,
//! its tool results, the declared tools, and a deterministic token count.

use serde_json::Value;

/// Text of one message: string content, text blocks, and the text inside `tool_result` contents.
pub fn message_text(message: &Value) -> String {
    match message.get("content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(blocks)) => blocks.iter().map(block_text).collect::<Vec<_>>().join("\n"),
        _ => String::new(),
    }
}

fn block_text(block: &Value) -> String {
    match block.get("type").and_then(Value::as_str) {
        Some("text") => block
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        Some("tool_result") => tool_result_text(block),
        _ => String::new(),
    }
}

fn tool_result_text(block: &Value) -> String {
    match block.get("content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The last message with role `user`, if any.
pub fn last_user_message(body: &Value) -> Option<&Value> {
    body.get("messages")?
        .as_array()?
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
}

/// Text of every `tool_result` block of a message, or `None` when it has none.
pub fn tool_results_text(message: &Value) -> Option<String> {
    let blocks = message.get("content")?.as_array()?;
    let results: Vec<String> = blocks
        .iter()
        .filter(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
        .map(tool_result_text)
        .collect();
    (!results.is_empty()).then(|| results.join("\n"))
}

/// The tool the scripted tool call uses: `Bash` when declared, else the first declared tool.
pub fn pick_tool(body: &Value) -> String {
    let names: Vec<&str> = body
        .get("tools")
        .and_then(Value::as_array)
        .map(|tools| {
            tools
                .iter()
                .filter_map(|t| t.get("name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if names.contains(&"Bash") {
        return "Bash".to_owned();
    }
    names
        .first()
        .map_or_else(|| "Bash".to_owned(), |n| (*n).to_owned())
}

/// A deterministic input-token count: a quarter of the characters of the JSON of
/// `system`, `messages` and `tools` (rounded up) plus 3 per message.
pub fn count_input_tokens(body: &Value) -> u64 {
    let chars: usize = ["system", "messages", "tools"]
        .iter()
        .filter_map(|field| body.get(*field))
        .map(|value| value.to_string().chars().count())
        .sum();
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    (chars as u64).div_ceil(4) + 3 * messages as u64
}

/// A rough output-token count for generated text (never zero, as Bedrock reports at least one).
pub fn count_output_tokens(text_len: usize) -> u64 {
    (text_len as u64).div_ceil(4).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn message_text_joins_text_blocks_and_tool_results() {
        let message = json!({"role": "user", "content": [
            {"type": "text", "text": "a"},
            {"type": "image", "source": {}},
            {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "b"}]},
            {"type": "tool_result", "tool_use_id": "u", "content": "c"}
        ]});
        assert_eq!(message_text(&message), "a\n\nb\nc");
        assert_eq!(tool_results_text(&message).as_deref(), Some("b\nc"));
        assert_eq!(tool_results_text(&json!({"content": "plain"})), None);
    }

    #[test]
    fn last_user_message_skips_trailing_assistant_turns() {
        let body = json!({"messages": [
            {"role": "user", "content": "first"},
            {"role": "user", "content": "second"},
            {"role": "assistant", "content": "prefill"}
        ]});
        assert_eq!(
            last_user_message(&body).map(message_text).as_deref(),
            Some("second")
        );
    }

    #[test]
    fn pick_tool_prefers_bash_then_the_first_tool() {
        assert_eq!(
            pick_tool(&json!({"tools": [{"name": "Read"}, {"name": "Bash"}]})),
            "Bash"
        );
        assert_eq!(pick_tool(&json!({"tools": [{"name": "Read"}]})), "Read");
    }

    #[test]
    fn token_count_is_deterministic_and_grows_with_messages() {
        let one = json!({"messages": [{"role": "user", "content": "abcd"}]});
        let chars = one["messages"].to_string().chars().count() as u64;
        assert_eq!(count_input_tokens(&one), chars.div_ceil(4) + 3);
        let two = json!({"messages": [{"role": "user", "content": "abcd"}, {"role": "user", "content": "abcd"}]});
        assert!(count_input_tokens(&two) > count_input_tokens(&one));
    }
}
