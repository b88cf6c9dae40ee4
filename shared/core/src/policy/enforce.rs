//! What a matched policy does to one request.
//!
//! - A model it does not allow, the 1M-token context when it forbids it, or a `tool_choice` naming a denied tool:
//!   refused with 400 `invalid_request_error` naming the policy and what to use instead. Claude Code prints a 400's
//!   message as it is (`API Error: 400 …`) and does not retry; a 403 would be shown as "Failed to authenticate"
//!   and a 404 is replaced by Claude Code's own "issue with the selected model" text, hiding the reason.
//! - Denied tools (and web search when it is off) are removed from `tools` before Bedrock, so the model never
//!   sees them. A `tool_result` answering an earlier call of a denied tool is replaced by an error result saying
//!   the policy withheld it, so a denied tool's output never reaches the model.
//! - `max_tokens` and the thinking budget are lowered to the policy's ceilings (the request goes on).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::eval::{CompiledPolicy, Matched};
use crate::error::ApiError;

/// Which rule refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalRule {
    Models,
    Tools,
    Context1m,
    WebSearch,
    RequestsPerMinute,
}

impl RefusalRule {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Models => "models",
            Self::Tools => "tools",
            Self::Context1m => "context_1m",
            Self::WebSearch => "web_search",
            Self::RequestsPerMinute => "requests_per_minute",
        }
    }
}

/// A request a policy refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub policy: String,
    pub rule: RefusalRule,
    /// The model, tool or beta refused.
    pub subject: String,
    pub message: String,
}

impl Refusal {
    /// The Anthropic error: 400 `invalid_request_error` with the message.
    #[must_use]
    pub fn error(&self) -> ApiError {
        ApiError::invalid(self.message.clone())
    }
}

/// What a policy changed in a request that goes on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// Tools removed from `tools`.
    pub removed_tools: Vec<String>,
    /// Earlier results of denied tools withheld from the model.
    pub withheld_results: usize,
    /// `max_tokens` lowered to the ceiling: `(asked, now)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens_lowered: Option<(u64, u32)>,
    /// Thinking budget lowered (`Some(n)`) or thinking turned off (`Some(0)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking_budget: Option<u64>,
}

/// The model check: `Err` when the policy does not allow `model` (its catalogue id, or the raw id sent).
/// `allowed` lists the models this person may use, for the message.
///
/// # Errors
/// The refusal, naming the policy and the models allowed.
pub fn check_model(m: &Matched<'_>, model: &str, allowed: &[String]) -> Result<(), Refusal> {
    let Some(entry) = m.policy.model_refusal(model) else {
        return Ok(());
    };
    let why = match entry {
        Some(e) => format!("its models.deny entry {e:?} denies it"),
        None => "it is not on its models.allow list".to_owned(),
    };
    let you_may = if allowed.is_empty() {
        "No model is allowed for you; ask your administrator.".to_owned()
    } else {
        format!(
            "Models you may use: {}. In Claude Code, pick one with /model.",
            allowed.join(", ")
        )
    };
    Err(Refusal {
        policy: m.policy.name.clone(),
        rule: RefusalRule::Models,
        subject: model.to_owned(),
        message: format!(
            "The model {model} is not allowed for you by the gateway policy {:?}: {why}. {you_may}",
            m.policy.name
        ),
    })
}

/// The models of `ids` the policy allows (all of them when it says nothing about models).
#[must_use]
pub fn allowed_models<'a>(
    policy: &CompiledPolicy,
    ids: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    ids.into_iter()
        .filter(|id| policy.model_refusal(id).is_none())
        .map(str::to_owned)
        .collect()
}

fn tool_kind(tool: &Value) -> Option<&str> {
    tool.get("type")
        .and_then(Value::as_str)
        .filter(|t| *t != "custom")
}

/// Applies the policy to a request body: refuses it, or removes denied tools, withholds their earlier results and
/// lowers ceilings. `long_context` says the client asked for a `[1m]` model; `betas` are the request's betas.
///
/// # Errors
/// The refusal, naming the policy.
pub fn apply(
    m: &Matched<'_>,
    body: &mut Map<String, Value>,
    betas: &[String],
    long_context: bool,
) -> Result<Applied, Refusal> {
    let policy = m.policy;
    let rules = &policy.rules;
    let refuse = |rule: RefusalRule, subject: String, message: String| Refusal {
        policy: policy.name.clone(),
        rule,
        subject,
        message,
    };
    if rules.context_1m == Some(false) {
        let beta = betas.iter().find(|b| b.starts_with("context-1m"));
        if long_context || beta.is_some() {
            let subject = beta.cloned().unwrap_or_else(|| "[1m]".to_owned());
            return Err(refuse(
                RefusalRule::Context1m,
                subject,
                format!(
                    "The 1M-token context window is not allowed for you by the gateway policy {:?}. Use the model without [1m] (in Claude Code, pick one with /model).",
                    policy.name
                ),
            ));
        }
    }
    let mut applied = Applied::default();
    let denies = |name: &str, kind: Option<&str>| -> Option<(RefusalRule, String)> {
        if rules.web_search == Some(false) && kind.is_some_and(|k| k.starts_with("web_search_")) {
            return Some((RefusalRule::WebSearch, "web_search: false".to_owned()));
        }
        policy
            .denied_tool(name, kind)
            .map(|e| (RefusalRule::Tools, format!("tools.deny entry {e:?}")))
    };
    if let Some(Value::Array(tools)) = body.get_mut("tools") {
        tools.retain(|tool| {
            let name = tool.get("name").and_then(Value::as_str).unwrap_or("");
            if denies(name, tool_kind(tool)).is_some() {
                applied.removed_tools.push(name.to_owned());
                false
            } else {
                true
            }
        });
    }
    if let Some(choice) = body.get("tool_choice") {
        let kind = choice.get("type").and_then(Value::as_str).unwrap_or("");
        let named = choice.get("name").and_then(Value::as_str);
        if kind == "tool"
            && let Some(name) = named
            && applied.removed_tools.iter().any(|t| t == name)
        {
            let (rule, entry) = denies(name, None)
                .or_else(|| denies(name, Some("web_search_")))
                .unwrap_or((RefusalRule::Tools, "tools.deny".to_owned()));
            return Err(refuse(
                rule,
                name.to_owned(),
                format!(
                    "The tool {name} is denied for you by the gateway policy {:?} ({entry}), so tool_choice cannot name it.",
                    policy.name
                ),
            ));
        }
        let none_left = body
            .get("tools")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        if none_left && !applied.removed_tools.is_empty() && kind == "any" {
            body.remove("tool_choice");
        }
    }
    if policy.deny_tools.is_empty() {
        // Nothing in the history can name a denied client tool.
    } else {
        applied.withheld_results = withhold_results(policy, body);
    }
    lower_ceilings(rules, body, &mut applied);
    Ok(applied)
}

/// Replaces the results of earlier calls of denied tools; returns how many.
fn withhold_results(policy: &CompiledPolicy, body: &mut Map<String, Value>) -> usize {
    let Some(Value::Array(messages)) = body.get_mut("messages") else {
        return 0;
    };
    let mut denied_calls: Vec<(String, String)> = Vec::new();
    let mut withheld = 0;
    for message in messages.iter_mut() {
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let Some(Value::Array(blocks)) = message.get_mut("content") else {
            continue;
        };
        for block in blocks.iter_mut() {
            let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
            if role == "assistant" && kind == "tool_use" {
                let name = block.get("name").and_then(Value::as_str).unwrap_or("");
                let id = block.get("id").and_then(Value::as_str).unwrap_or("");
                if let Some(entry) = policy.denied_tool(name, None) {
                    denied_calls.push((id.to_owned(), format!("{name} ({entry})")));
                }
            } else if role == "user" && kind == "tool_result" {
                let id = block
                    .get("tool_use_id")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if let Some((_, what)) = denied_calls.iter().find(|(c, _)| c == id) {
                    let text = format!(
                        "The gateway withheld this result: the tool {what} is denied by the policy {:?}.",
                        policy.name
                    );
                    if let Some(obj) = block.as_object_mut() {
                        obj.insert("content".into(), json!([{"type": "text", "text": text}]));
                        obj.insert("is_error".into(), Value::Bool(true));
                    }
                    withheld += 1;
                }
            }
        }
    }
    withheld
}

fn lower_ceilings(rules: &super::Rules, body: &mut Map<String, Value>, applied: &mut Applied) {
    if let Some(ceiling) = rules.max_tokens
        && let Some(asked) = body.get("max_tokens").and_then(Value::as_u64)
        && asked > u64::from(ceiling)
    {
        body.insert("max_tokens".into(), json!(ceiling));
        applied.max_tokens_lowered = Some((asked, ceiling));
    }
    let max_tokens = body.get("max_tokens").and_then(Value::as_u64);
    let Some(thinking) = body.get_mut("thinking").and_then(Value::as_object_mut) else {
        return;
    };
    let kind = thinking.get("type").and_then(Value::as_str).unwrap_or("");
    if kind == "disabled" {
        return;
    }
    let ceiling = rules.thinking_budget_tokens;
    if ceiling == Some(0) {
        body.remove("thinking");
        applied.thinking_budget = Some(0);
        return;
    }
    let Some(asked) = thinking.get("budget_tokens").and_then(Value::as_u64) else {
        return;
    };
    let mut budget = ceiling.map_or(asked, |c| asked.min(u64::from(c)));
    // Bedrock wants the budget below max_tokens; keep that true when a ceiling lowered either.
    if (budget != asked || applied.max_tokens_lowered.is_some())
        && let Some(max) = max_tokens
        && budget >= max
    {
        budget = max.saturating_sub(1);
    }
    if budget == asked {
        return;
    }
    if budget < u64::from(super::document::MIN_THINKING_BUDGET) {
        body.remove("thinking");
        applied.thinking_budget = Some(0);
    } else {
        thinking.insert("budget_tokens".into(), json!(budget));
        applied.thinking_budget = Some(budget);
    }
}

/// A hypothetical request for `POST /admin/policies/test`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFacts {
    #[serde(default)]
    pub model: Option<String>,
    /// Client tool names; `WebSearch` stands for the web search server tool.
    #[serde(default)]
    pub tools: Vec<String>,
    /// The tool `tool_choice` names.
    #[serde(default)]
    pub tool_choice: Option<String>,
    #[serde(default)]
    pub max_tokens: Option<u64>,
    #[serde(default)]
    pub thinking_budget_tokens: Option<u64>,
    #[serde(default)]
    pub context_1m: bool,
}

impl RequestFacts {
    /// The request body these facts describe, to run through [`apply`].
    #[must_use]
    pub fn body(&self) -> Map<String, Value> {
        let tools: Vec<Value> = self
            .tools
            .iter()
            .map(|t| {
                if t == "WebSearch" {
                    json!({"type": "web_search_20250305", "name": "web_search"})
                } else {
                    json!({"name": t, "input_schema": {"type": "object"}})
                }
            })
            .collect();
        let mut body = Map::new();
        body.insert("messages".into(), json!([]));
        body.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = &self.tool_choice {
            let name = if choice == "WebSearch" {
                "web_search"
            } else {
                choice
            };
            body.insert("tool_choice".into(), json!({"type": "tool", "name": name}));
        }
        if let Some(n) = self.max_tokens {
            body.insert("max_tokens".into(), json!(n));
        }
        if let Some(n) = self.thinking_budget_tokens {
            body.insert(
                "thinking".into(),
                json!({"type": "enabled", "budget_tokens": n}),
            );
        }
        body
    }
}
