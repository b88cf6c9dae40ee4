//! Request shaping: an Anthropic Messages request → the body Bedrock `InvokeModel` accepts for one model.
//!
//! Pure and deterministic: the same request, capabilities and learned rejections give the same bytes, which the
//! golden tests pin. Every change made is reported in `ShapeReport` so it can be logged (never silently).
//! Thinking and redacted_thinking blocks are never touched: their signatures cover their exact content.

use serde_json::{Map, Value, json};

use crate::capabilities::{LearnedFamily, ThinkingMode};
use crate::error::ApiError;
use crate::models::ResolvedModel;

pub const BEDROCK_ANTHROPIC_VERSION: &str = "bedrock-2023-05-31";

/// Fields Bedrock accepts at the top level for every Claude model. `output_config` and `context_management` are
/// decided per model; everything else a client sends (`service_tier`, `container`, `mcp_servers`, ...) is dropped.
const ALWAYS_ALLOWED: &[&str] = &[
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

/// Fields Sluice may drop and retry without when Bedrock names them in a rejection: they tune, they don't carry meaning.
pub const DROPPABLE_FIELDS: &[&str] = &["output_config", "context_management", "metadata"];

/// Tool fields that are client-side hints; Bedrock rejects them on some models ("Extra inputs are not permitted").
const TOOL_HINT_FIELDS: &[&str] = &["defer_loading", "eager_input_streaming"];

/// Server tools Anthropic runs itself; Bedrock does not accept them for Claude.
const SERVER_TOOL_PREFIXES: &[&str] = &["web_search_", "web_fetch_", "code_execution_"];

/// Thinking budget used when a model needs `enabled` but the client asked for `adaptive`.
const DEFAULT_THINKING_BUDGET: u64 = 31_999;
const MIN_THINKING_BUDGET: u64 = 1_024;

/// What shaping changed, for logs and the usage record.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ShapeReport {
    pub dropped_fields: Vec<String>,
    pub dropped_betas: Vec<String>,
    pub forwarded_betas: Vec<String>,
    pub notes: Vec<String>,
    pub stream: bool,
    pub thinking: bool,
}

/// A parsed, validated client request. Parsing is separate from shaping so a retry reshapes without re-parsing.
#[derive(Debug, Clone)]
pub struct ClientRequest {
    pub body: Map<String, Value>,
    pub model: String,
    pub stream: bool,
    /// Betas from the `anthropic-beta` header and the body's `anthropic_beta` / `betas`, deduplicated in order.
    pub betas: Vec<String>,
}

impl ClientRequest {
    /// Parses a `/v1/messages` or `/v1/messages/count_tokens` body.
    ///
    /// # Errors
    /// 400 `invalid_request_error` naming the problem: not JSON, not an object, missing `model` or `messages`.
    pub fn parse(
        bytes: &[u8],
        beta_header: Option<&str>,
        require_max_tokens: bool,
    ) -> Result<Self, ApiError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| ApiError::invalid(format!("The request body is not valid JSON: {e}")))?;
        let Value::Object(body) = value else {
            return Err(ApiError::invalid("The request body must be a JSON object"));
        };
        let model = match body.get("model") {
            Some(Value::String(m)) if !m.trim().is_empty() => m.clone(),
            Some(_) => return Err(ApiError::invalid("model: must be a non-empty string")),
            None => return Err(ApiError::invalid("model: Field required")),
        };
        match body.get("messages") {
            Some(Value::Array(_)) => {}
            Some(_) => return Err(ApiError::invalid("messages: Input should be a valid list")),
            None => return Err(ApiError::invalid("messages: Field required")),
        }
        if require_max_tokens {
            match body.get("max_tokens") {
                Some(v) if v.as_u64().is_some_and(|n| n >= 1) => {}
                Some(_) => {
                    return Err(ApiError::invalid(
                        "max_tokens: Input should be a positive integer",
                    ));
                }
                None => return Err(ApiError::invalid("max_tokens: Field required")),
            }
        }
        let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
        let mut betas: Vec<String> = Vec::new();
        let header = beta_header.unwrap_or("").split(',').map(str::trim);
        let from_body = ["anthropic_beta", "betas"]
            .iter()
            .filter_map(|k| body.get(*k).and_then(Value::as_array))
            .flatten()
            .filter_map(Value::as_str);
        for b in header.chain(from_body) {
            if !b.is_empty() && !betas.iter().any(|x| x == b) {
                betas.push(b.to_owned());
            }
        }
        Ok(Self {
            body,
            model,
            stream,
            betas,
        })
    }
}

/// Builds the Bedrock body for `model`. `learned` holds what Bedrock rejected before for this model family.
///
/// # Errors
/// 400 when the request cannot be expressed on Bedrock (a `tool_choice` naming a server tool Bedrock lacks).
pub fn shape_for_bedrock(
    req: &ClientRequest,
    model: &ResolvedModel,
    learned: &LearnedFamily,
) -> Result<(Vec<u8>, ShapeReport), ApiError> {
    let caps = &model.capabilities;
    let mut report = ShapeReport {
        stream: req.stream,
        ..ShapeReport::default()
    };

    // Betas: keep what this model accepts and Bedrock has not rejected.
    let mut betas = Vec::new();
    for b in &req.betas {
        if caps.betas.contains(&b.as_str()) && !learned.rejected_betas.contains(b) {
            betas.push(b.clone());
        } else {
            report.dropped_betas.push(b.clone());
        }
    }

    let mut out = Map::new();
    out.insert("anthropic_version".into(), json!(BEDROCK_ANTHROPIC_VERSION));
    for (key, value) in &req.body {
        let allowed = ALWAYS_ALLOWED.contains(&key.as_str())
            || (key == "output_config" && caps.output_config)
            || (key == "context_management" && caps.context_management);
        if allowed && !learned.rejected_fields.contains(key) {
            out.insert(key.clone(), value.clone());
        } else if !matches!(
            key.as_str(),
            "model" | "stream" | "anthropic_beta" | "betas"
        ) {
            report.dropped_fields.push(key.clone());
        }
    }

    shape_thinking(&mut out, caps.thinking, &mut report);
    shape_output_config(&mut out, &mut betas, &mut report);
    shape_context_management(&mut out, &betas, &mut report);
    shape_metadata(&mut out, &mut report);
    fold_system_messages(&mut out, &mut report);
    shape_tools(&mut out, &mut report)?;
    sanitize_cache_control(&mut out, caps.cache_ttl);

    if !betas.is_empty() {
        out.insert("anthropic_beta".into(), json!(betas));
    }
    report.forwarded_betas = betas;
    report.thinking = out
        .get("thinking")
        .and_then(|t| t.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|t| t != "disabled");
    let bytes = serde_json::to_vec(&Value::Object(out))
        .map_err(|e| ApiError::internal(format!("serialize: {e}")))?;
    Ok((bytes, report))
}

/// The body CountTokens counts: the same shaping without fields that do not change the count.
///
/// # Errors
/// As `shape_for_bedrock`.
pub fn shape_for_count(
    req: &ClientRequest,
    model: &ResolvedModel,
    learned: &LearnedFamily,
) -> Result<Vec<u8>, ApiError> {
    let mut req = req.clone();
    // CountTokens validates an InvokeModel body, which needs max_tokens; count_tokens requests carry none.
    req.body.entry("max_tokens").or_insert(json!(1));
    for k in ["stream", "metadata", "output_config", "context_management"] {
        req.body.remove(k);
    }
    if let Some(Value::Object(t)) = req.body.get("thinking")
        && t.get("type").and_then(Value::as_str) != Some("disabled")
    {
        // A thinking budget must stay below max_tokens; the count does not depend on it.
        req.body.remove("thinking");
    }
    Ok(shape_for_bedrock(&req, model, learned)?.0)
}

fn max_tokens(out: &Map<String, Value>) -> u64 {
    out.get("max_tokens").and_then(Value::as_u64).unwrap_or(0)
}

fn shape_thinking(out: &mut Map<String, Value>, mode: ThinkingMode, report: &mut ShapeReport) {
    let Some(Value::Object(thinking)) = out.get("thinking") else {
        return;
    };
    let kind = thinking
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    match (kind.as_str(), mode) {
        ("adaptive", ThinkingMode::EnabledOnly) => {
            let max = max_tokens(out);
            let budget = DEFAULT_THINKING_BUDGET.min(max.saturating_sub(1));
            if budget < MIN_THINKING_BUDGET {
                out.remove("thinking");
                report
                    .notes
                    .push("thinking: adaptive dropped, max_tokens too small for a budget".into());
            } else {
                out.insert(
                    "thinking".into(),
                    json!({"type": "enabled", "budget_tokens": budget}),
                );
                report.notes.push(format!(
                    "thinking: adaptive → enabled with budget_tokens {budget}"
                ));
            }
        }
        ("enabled", ThinkingMode::AdaptiveOnly) => {
            out.insert("thinking".into(), json!({"type": "adaptive"}));
            report.notes.push("thinking: enabled → adaptive".into());
        }
        ("enabled", _) => {
            let max = max_tokens(out);
            let budget = thinking
                .get("budget_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if max > MIN_THINKING_BUDGET && budget >= max {
                out.insert(
                    "thinking".into(),
                    json!({"type": "enabled", "budget_tokens": max - 1}),
                );
                report.notes.push(format!(
                    "thinking: budget_tokens lowered to {} (below max_tokens)",
                    max - 1
                ));
            }
        }
        _ => {}
    }
}

fn shape_output_config(
    out: &mut Map<String, Value>,
    betas: &mut Vec<String>,
    report: &mut ShapeReport,
) {
    match out.get_mut("output_config") {
        Some(Value::Object(cfg)) => {
            // Only `effort` is known to pass on Bedrock; `format` and newer keys are rejected there.
            let dropped: Vec<String> = cfg.keys().filter(|k| *k != "effort").cloned().collect();
            for k in dropped {
                cfg.remove(&k);
                report.dropped_fields.push(format!("output_config.{k}"));
            }
            if cfg.is_empty() {
                out.remove("output_config");
            }
        }
        Some(_) => {
            out.remove("output_config");
            report.dropped_fields.push("output_config".into());
        }
        None => {}
    }
    if !out.contains_key("output_config") {
        // The effort beta without its field is harmless, but keep the pair consistent.
        betas.retain(|b| b != "effort-2025-11-24");
    }
}

fn shape_context_management(
    out: &mut Map<String, Value>,
    betas: &[String],
    report: &mut ShapeReport,
) {
    if !out.contains_key("context_management") {
        return;
    }
    // The field without its beta is a hard 400 ("Extra inputs are not permitted"): drop them together.
    let has_beta = betas
        .iter()
        .any(|b| b.starts_with("context-management-") || b.starts_with("compact-"));
    let thinking_on = out
        .get("thinking")
        .and_then(|t| t.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|t| t == "adaptive" || t == "enabled");
    let keep = has_beta
        && match out
            .get_mut("context_management")
            .and_then(|c| c.get_mut("edits"))
        {
            Some(Value::Array(edits)) => {
                // clear_thinking edits need thinking on; without it Bedrock rejects the whole request.
                edits.retain(|e| {
                    let t = e.get("type").and_then(Value::as_str).unwrap_or("");
                    thinking_on || !t.starts_with("clear_thinking")
                });
                !edits.is_empty()
            }
            _ => true,
        };
    if !keep {
        out.remove("context_management");
        report.dropped_fields.push("context_management".into());
    }
}

fn shape_metadata(out: &mut Map<String, Value>, report: &mut ShapeReport) {
    let Some(meta) = out.get_mut("metadata") else {
        return;
    };
    let user_id = meta
        .get("user_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    match user_id {
        Some(id) => *meta = json!({"user_id": id}),
        None => {
            out.remove("metadata");
            report.dropped_fields.push("metadata".into());
        }
    }
}

/// `system`-role messages inside `messages` (Claude Code's mid-conversation system beta) are not Bedrock's schema.
/// Their content is folded, in place, into the adjacent user turn: appended to the user message before it, or
/// placed at the start of the next user message (after its tool results, which must lead), so the order of meaning
/// is kept and no text is lost.
fn fold_system_messages(out: &mut Map<String, Value>, report: &mut ShapeReport) {
    let Some(Value::Array(messages)) = out.get_mut("messages") else {
        return;
    };
    if !messages
        .iter()
        .any(|m| m.get("role").and_then(Value::as_str) == Some("system"))
    {
        return;
    }
    let mut folded = 0usize;
    let mut result: Vec<Value> = Vec::with_capacity(messages.len());
    let mut pending: Vec<Value> = Vec::new();
    for msg in messages.drain(..) {
        let role = msg
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if role == "system" {
            folded += 1;
            let blocks = content_blocks(msg.get("content"));
            match result.last_mut() {
                Some(last)
                    if last.get("role").and_then(Value::as_str) == Some("user")
                        && pending.is_empty() =>
                {
                    block_list(last).extend(blocks);
                }
                _ => pending.extend(blocks),
            }
            continue;
        }
        let mut msg = msg;
        if role == "user" && !pending.is_empty() {
            let list = block_list(&mut msg);
            let at = list
                .iter()
                .take_while(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
                .count();
            list.splice(at..at, pending.drain(..));
        }
        result.push(msg);
    }
    if !pending.is_empty() {
        result.push(json!({"role": "user", "content": pending}));
    }
    *messages = result;
    report.notes.push(format!(
        "messages: {folded} system-role message(s) folded into user turns"
    ));
}

/// A message's content as blocks: a string becomes one text block; blocks are kept as they are.
fn content_blocks(content: Option<&Value>) -> Vec<Value> {
    match content {
        Some(Value::String(s)) => vec![json!({"type": "text", "text": s})],
        Some(Value::Array(blocks)) => blocks.clone(),
        _ => Vec::new(),
    }
}

/// The message's content as a mutable block list, converting a string content in place.
fn block_list(msg: &mut Value) -> &mut Vec<Value> {
    let content = msg.get("content").cloned();
    let blocks = content_blocks(content.as_ref());
    msg["content"] = Value::Array(blocks);
    match msg.get_mut("content") {
        Some(Value::Array(list)) => list,
        _ => unreachable!("content was just set to an array"),
    }
}

fn shape_tools(out: &mut Map<String, Value>, report: &mut ShapeReport) -> Result<(), ApiError> {
    let Some(Value::Array(tools)) = out.get_mut("tools") else {
        return Ok(());
    };
    let mut removed = Vec::new();
    tools.retain(|t| {
        let ty = t.get("type").and_then(Value::as_str).unwrap_or("");
        let server = SERVER_TOOL_PREFIXES.iter().any(|p| ty.starts_with(p));
        if server {
            removed.push(
                t.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(ty)
                    .to_owned(),
            );
        }
        !server
    });
    for t in tools.iter_mut() {
        if let Value::Object(tool) = t {
            for f in TOOL_HINT_FIELDS {
                if tool.remove(*f).is_some() {
                    report.dropped_fields.push(format!("tools.{f}"));
                }
            }
        }
    }
    if tools.is_empty() {
        out.remove("tools");
    }
    for name in &removed {
        report.notes.push(format!(
            "tools: server tool {name} is not available on Amazon Bedrock and was removed"
        ));
    }
    if let Some(choice) = out.get("tool_choice")
        && let Some(name) = choice.get("name").and_then(Value::as_str)
        && removed.iter().any(|r| r == name)
    {
        return Err(ApiError::invalid(format!(
            "tool_choice: the server tool {name} is not available on Amazon Bedrock through Sluice"
        )));
    }
    Ok(())
}

/// Keeps `type` (and `ttl` where the model accepts it) in every `cache_control`, in Bedrock's order of evaluation
/// (tools, system, messages), never letting a `1h` entry follow a `5m` one. Thinking blocks are skipped.
fn sanitize_cache_control(out: &mut Map<String, Value>, ttl_ok: bool) {
    let mut seen_short = false;
    for key in ["tools", "system", "messages"] {
        if let Some(v) = out.get_mut(key) {
            walk_cache_control(v, ttl_ok, &mut seen_short);
        }
    }
}

fn walk_cache_control(v: &mut Value, ttl_ok: bool, seen_short: &mut bool) {
    match v {
        Value::Array(items) => {
            for item in items {
                walk_cache_control(item, ttl_ok, seen_short);
            }
        }
        Value::Object(obj) => {
            if matches!(
                obj.get("type").and_then(Value::as_str),
                Some("thinking" | "redacted_thinking")
            ) {
                return;
            }
            if let Some(Value::Object(cc)) = obj.get_mut("cache_control") {
                let ty = cc
                    .get("type")
                    .cloned()
                    .unwrap_or_else(|| json!("ephemeral"));
                let ttl = cc.get("ttl").and_then(Value::as_str).map(str::to_owned);
                cc.clear();
                cc.insert("type".into(), ty);
                match ttl.as_deref() {
                    Some("1h") if ttl_ok && !*seen_short => {
                        cc.insert("ttl".into(), json!("1h"));
                    }
                    Some("5m") if ttl_ok => {
                        cc.insert("ttl".into(), json!("5m"));
                        *seen_short = true;
                    }
                    _ => *seen_short = true,
                }
            }
            for (k, child) in obj.iter_mut() {
                if k != "cache_control" && (child.is_array() || child.is_object()) {
                    walk_cache_control(child, ttl_ok, seen_short);
                }
            }
        }
        _ => {}
    }
}

/// What a Bedrock `ValidationException` message says to drop before one retry: a forwarded beta it names, or a
/// droppable top-level field it names. `None` means the rejection is about the request itself.
#[must_use]
pub fn rejection_target(
    message: &str,
    forwarded_betas: &[String],
    body: &Map<String, Value>,
) -> Option<Rejected> {
    let lower = message.to_ascii_lowercase();
    if let Some(b) = forwarded_betas
        .iter()
        .find(|b| lower.contains(&b.to_ascii_lowercase()))
    {
        return Some(Rejected::Beta(b.clone()));
    }
    DROPPABLE_FIELDS
        .iter()
        .find(|f| {
            body.contains_key(**f)
                && (lower.contains(&format!("[{f}]"))
                    || lower.contains(&format!("{f}:"))
                    || lower.contains(&format!("{f}.")))
        })
        .map(|f| Rejected::Field((*f).to_owned()))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    Beta(String),
    Field(String),
}

#[cfg(test)]
mod tests;
