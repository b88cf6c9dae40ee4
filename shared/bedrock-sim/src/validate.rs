//! Request-body validation with Bedrock's wording, so a gateway meets the same refusals here as
//! in production and its error handling can be tested offline.

use serde_json::{Map, Value};

use crate::config::SimConfig;
use crate::error::BedrockError;
use crate::model_id::ModelId;

pub const ANTHROPIC_VERSION: &str = "bedrock-2023-05-31";

/// Top-level keys every Claude model on Bedrock accepts.
const ALLOWED_KEYS: &[&str] = &[
    "anthropic_version",
    "anthropic_beta",
    "max_tokens",
    "messages",
    "system",
    "stop_sequences",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "thinking",
    "metadata",
];

/// Top-level keys only the 4.6+ generation accepts.
const NEW_MODEL_KEYS: &[&str] = &["output_config", "context_management"];

/// Beta flags Bedrock is known to accept for Claude.
const KNOWN_BETAS: &[&str] = &[
    "interleaved-thinking-2025-05-14",
    "context-1m-2025-08-07",
    "token-efficient-tools-2025-02-19",
    "fine-grained-tool-streaming-2025-05-14",
    "context-management-2025-06-27",
    "claude-code-20250219",
    "tool-search-tool-2025-10-19",
    "extended-cache-ttl-2025-04-11",
    "compact-2026-01-12",
    "effort-2025-11-24",
    "structured-outputs-2025-12-15",
];

/// Keys a `cache_control` object may carry on Bedrock.
const CACHE_CONTROL_KEYS: &[&str] = &["type", "ttl"];

/// Checks one InvokeModel body; the first violation wins, as with Bedrock.
pub fn validate_body(
    body: &Value,
    model: &ModelId,
    config: &SimConfig,
) -> Result<(), BedrockError> {
    let Some(object) = body.as_object() else {
        return Err(BedrockError::malformed(format!(
            "#: expected type: JSONObject, found: {}",
            json_type(body)
        )));
    };
    check_version(object)?;
    check_keys(object, model, config)?;
    for required in ["max_tokens", "messages"] {
        if !object.contains_key(required) {
            return Err(BedrockError::malformed(format!(
                "#: required key [{required}] not found"
            )));
        }
    }
    check_max_tokens(object)?;
    check_betas(object, config)?;
    check_messages(object)?;
    check_cache_controls(object)?;
    check_thinking(object, model)?;
    Ok(())
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(_) => "Number",
        Value::String(_) => "String",
        Value::Array(_) => "JSONArray",
        Value::Object(_) => "JSONObject",
    }
}

fn check_version(object: &Map<String, Value>) -> Result<(), BedrockError> {
    match object.get("anthropic_version") {
        None => Err(BedrockError::malformed(
            "#: required key [anthropic_version] not found",
        )),
        Some(Value::String(v)) if v == ANTHROPIC_VERSION => Ok(()),
        Some(other) => Err(BedrockError::malformed(format!(
            "#/anthropic_version: {other} is not a valid enum value"
        ))),
    }
}

fn check_keys(
    object: &Map<String, Value>,
    model: &ModelId,
    config: &SimConfig,
) -> Result<(), BedrockError> {
    for key in object.keys() {
        let allowed = ALLOWED_KEYS.contains(&key.as_str())
            || (NEW_MODEL_KEYS.contains(&key.as_str()) && model.is_generation_46_plus());
        if !allowed || config.reject_fields.iter().any(|f| f == key) {
            return Err(BedrockError::malformed(format!(
                "#: extraneous key [{key}] is not permitted"
            )));
        }
    }
    Ok(())
}

fn check_max_tokens(object: &Map<String, Value>) -> Result<(), BedrockError> {
    match object.get("max_tokens") {
        Some(Value::Number(n)) if n.as_u64().is_some_and(|v| v >= 1) => Ok(()),
        Some(other) => Err(BedrockError::malformed(format!(
            "#/max_tokens: expected a positive integer, found: {other}"
        ))),
        None => Ok(()),
    }
}

fn check_betas(object: &Map<String, Value>, config: &SimConfig) -> Result<(), BedrockError> {
    let Some(betas) = object.get("anthropic_beta") else {
        return Ok(());
    };
    let Some(betas) = betas.as_array() else {
        return Err(BedrockError::malformed(format!(
            "#/anthropic_beta: expected type: JSONArray, found: {}",
            json_type(betas)
        )));
    };
    for (i, beta) in betas.iter().enumerate() {
        let Some(name) = beta.as_str() else {
            return Err(BedrockError::malformed(format!(
                "#/anthropic_beta/{i}: expected type: String, found: {}",
                json_type(beta)
            )));
        };
        if !KNOWN_BETAS.contains(&name) || config.reject_betas.iter().any(|b| b == name) {
            return Err(BedrockError::validation(format!(
                "invalid beta flag: {name}"
            )));
        }
    }
    Ok(())
}

fn check_messages(object: &Map<String, Value>) -> Result<(), BedrockError> {
    let Some(messages) = object.get("messages").and_then(Value::as_array) else {
        return Err(BedrockError::malformed(
            "#/messages: expected type: JSONArray",
        ));
    };
    if messages.is_empty() {
        return Err(BedrockError::validation(
            "messages: at least one message is required",
        ));
    }
    for (i, message) in messages.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str);
        if !matches!(role, Some("user" | "assistant")) {
            return Err(BedrockError::validation(format!(
                "messages.{i}.role: Input should be 'user' or 'assistant'"
            )));
        }
        if !matches!(
            message.get("content"),
            Some(Value::String(_) | Value::Array(_))
        ) {
            return Err(BedrockError::validation(format!(
                "messages.{i}.content: Field required"
            )));
        }
    }
    Ok(())
}

fn check_cache_controls(object: &Map<String, Value>) -> Result<(), BedrockError> {
    for field in ["system", "messages", "tools"] {
        if let Some(value) = object.get(field) {
            walk_cache_controls(value, field)?;
        }
    }
    Ok(())
}

/// Visits every object under `value`; tool inputs and schemas are user data, so they are skipped.
fn walk_cache_controls(value: &Value, path: &str) -> Result<(), BedrockError> {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(cache_control)) = map.get("cache_control")
                && let Some(extra) = cache_control
                    .keys()
                    .find(|k| !CACHE_CONTROL_KEYS.contains(&k.as_str()))
            {
                return Err(BedrockError::validation(format!(
                    "{path}.cache_control.{extra}: Extra inputs are not permitted"
                )));
            }
            for (key, child) in map {
                if matches!(key.as_str(), "cache_control" | "input" | "input_schema") {
                    continue;
                }
                if child.is_object() || child.is_array() {
                    walk_cache_controls(child, &format!("{path}.{key}"))?;
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_cache_controls(item, &format!("{path}.{i}"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn check_thinking(object: &Map<String, Value>, model: &ModelId) -> Result<(), BedrockError> {
    let Some(thinking) = object.get("thinking") else {
        return Ok(());
    };
    match thinking.get("type").and_then(Value::as_str) {
        Some("disabled") => Ok(()),
        Some("adaptive") if model.is_generation_46_plus() => Ok(()),
        Some("adaptive") => Err(BedrockError::validation(format!(
            "thinking.type: 'adaptive' is not supported for model {}; use 'enabled' with budget_tokens",
            model.as_str()
        ))),
        Some("enabled") if model.is_adaptive_only() => Err(BedrockError::validation(format!(
            "thinking.type: 'enabled' is not supported for model {}; use 'adaptive'",
            model.as_str()
        ))),
        Some("enabled") => check_budget(thinking, object),
        _ => Err(BedrockError::validation(
            "thinking.type: Input should be 'enabled', 'disabled' or 'adaptive'",
        )),
    }
}

fn check_budget(thinking: &Value, object: &Map<String, Value>) -> Result<(), BedrockError> {
    let Some(budget) = thinking.get("budget_tokens").and_then(Value::as_u64) else {
        return Err(BedrockError::validation(
            "thinking.enabled.budget_tokens: Field required",
        ));
    };
    let max_tokens = object
        .get("max_tokens")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if budget >= max_tokens {
        return Err(BedrockError::validation(
            "`max_tokens` must be greater than `thinking.budget_tokens`",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn model(id: &str) -> ModelId {
        ModelId::parse(id).expect("valid model id")
    }

    fn base() -> Value {
        json!({
            "anthropic_version": ANTHROPIC_VERSION,
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "hi"}]
        })
    }

    fn with(key: &str, value: Value) -> Value {
        let mut body = base();
        body[key] = value;
        body
    }

    fn message_of(body: &Value, id: &str, config: &SimConfig) -> String {
        validate_body(body, &model(id), config)
            .expect_err("should be refused")
            .message
    }

    const OLD: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
    const NEW: &str = "us.anthropic.claude-opus-4-8";

    #[test]
    fn accepts_a_minimal_body() {
        assert_eq!(
            validate_body(&base(), &model(OLD), &SimConfig::default()),
            Ok(())
        );
    }

    #[test]
    fn refuses_missing_anthropic_version_with_bedrock_wording() {
        let mut body = base();
        body.as_object_mut().map(|o| o.remove("anthropic_version"));
        assert_eq!(
            message_of(&body, OLD, &SimConfig::default()),
            "Malformed input request: #: required key [anthropic_version] not found, please reformat your input and try again."
        );
    }

    #[test]
    fn refuses_model_and_stream_as_extraneous_keys() {
        for key in ["model", "stream"] {
            let msg = message_of(&with(key, json!(true)), OLD, &SimConfig::default());
            assert!(
                msg.contains(&format!("extraneous key [{key}] is not permitted")),
                "{msg}"
            );
        }
    }

    #[test]
    fn output_config_is_accepted_only_on_new_models() {
        let body = with("output_config", json!({"effort": "high"}));
        assert_eq!(
            validate_body(&body, &model(NEW), &SimConfig::default()),
            Ok(())
        );
        assert!(
            message_of(&body, OLD, &SimConfig::default())
                .contains("extraneous key [output_config]")
        );
    }

    #[test]
    fn configured_fields_are_refused_even_when_allowed() {
        let config = SimConfig {
            reject_fields: vec!["metadata".into()],
            ..SimConfig::default()
        };
        let msg = message_of(&with("metadata", json!({"user_id": "u"})), OLD, &config);
        assert!(msg.contains("extraneous key [metadata]"));
    }

    #[test]
    fn unknown_and_configured_betas_are_named() {
        let msg = message_of(
            &with("anthropic_beta", json!(["made-up-2099-01-01"])),
            OLD,
            &SimConfig::default(),
        );
        assert_eq!(msg, "invalid beta flag: made-up-2099-01-01");
        let config = SimConfig {
            reject_betas: vec!["context-1m-2025-08-07".into()],
            ..SimConfig::default()
        };
        let body = with(
            "anthropic_beta",
            json!(["claude-code-20250219", "context-1m-2025-08-07"]),
        );
        assert_eq!(
            message_of(&body, OLD, &config),
            "invalid beta flag: context-1m-2025-08-07"
        );
        let msg = message_of(
            &with("anthropic_beta", json!("claude-code-20250219")),
            OLD,
            &SimConfig::default(),
        );
        assert!(
            msg.contains("#/anthropic_beta: expected type: JSONArray"),
            "{msg}"
        );
    }

    #[test]
    fn system_role_in_messages_is_refused_with_its_index() {
        let body = with(
            "messages",
            json!([{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]),
        );
        assert_eq!(
            message_of(&body, OLD, &SimConfig::default()),
            "messages.1.role: Input should be 'user' or 'assistant'"
        );
    }

    #[test]
    fn cache_control_scope_is_refused_with_its_path_even_when_nested() {
        let body = with(
            "messages",
            json!([{"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t", "content": [
                    {"type": "text", "text": "x", "cache_control": {"type": "ephemeral", "ttl": "5m"}},
                    {"type": "text", "text": "y", "cache_control": {"type": "ephemeral", "scope": "global"}}
                ]}
            ]}]),
        );
        assert_eq!(
            message_of(&body, OLD, &SimConfig::default()),
            "messages.0.content.0.content.1.cache_control.scope: Extra inputs are not permitted"
        );
        let body = with(
            "system",
            json!([{"type": "text", "text": "s", "cache_control": {"type": "ephemeral", "scope": "x"}}]),
        );
        assert!(
            message_of(&body, OLD, &SimConfig::default())
                .starts_with("system.0.cache_control.scope")
        );
    }

    #[test]
    fn thinking_shapes_follow_the_model_generation() {
        let adaptive = with("thinking", json!({"type": "adaptive"}));
        assert_eq!(
            validate_body(&adaptive, &model(NEW), &SimConfig::default()),
            Ok(())
        );
        assert!(message_of(&adaptive, OLD, &SimConfig::default()).contains("thinking.type"));

        let enabled = with("thinking", json!({"type": "enabled", "budget_tokens": 50}));
        assert_eq!(
            validate_body(&enabled, &model(OLD), &SimConfig::default()),
            Ok(())
        );
        assert!(message_of(&enabled, NEW, &SimConfig::default()).contains("thinking.type"));

        let too_big = with("thinking", json!({"type": "enabled", "budget_tokens": 100}));
        assert!(message_of(&too_big, OLD, &SimConfig::default()).contains("budget_tokens"));
    }

    #[test]
    fn non_object_body_is_malformed() {
        let msg = message_of(&json!([1]), OLD, &SimConfig::default());
        assert!(msg.contains("expected type: JSONObject, found: JSONArray"));
    }
}
