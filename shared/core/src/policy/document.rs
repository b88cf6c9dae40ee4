//! The policy document as stored, edited and answered by `GET /admin/policies`, and its validation.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::eval::{InvalidEntry, ModelPattern, tool_glob};

/// The most policies a document may hold.
pub const MAX_POLICIES: usize = 200;
/// The most entries one list (a match criterion, a model or tool list) may hold.
pub const MAX_LIST: usize = 500;
/// The smallest thinking budget Bedrock accepts; `0` means thinking is not allowed.
pub const MIN_THINKING_BUDGET: u32 = 1024;

/// The ordered policy list with its version (optimistic concurrency: a write names the version it read).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    /// `0` until the first write.
    #[serde(default)]
    pub version: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    #[serde(default)]
    pub policies: Vec<Policy>,
}

/// One policy: who it is for, and what it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Unique in the document; named in every refusal.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "match", default)]
    pub matches: Match,
    #[serde(default)]
    pub rules: Rules,
}

/// Who a policy is for: any one criterion matching is enough; all empty matches everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// Groups from the ID token's groups claim (remembered at each sign-in), exact.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub idp_groups: Vec<String>,
    /// SCIM group display names, case-insensitive.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scim_groups: Vec<String>,
    /// Sluice team ids (a name given on write is stored as its id).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<String>,
    /// Emails (case-insensitive) or user ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<String>,
    /// Virtual key ids (`key_…`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
}

impl Match {
    #[must_use]
    pub fn is_everyone(&self) -> bool {
        self.idp_groups.is_empty()
            && self.scim_groups.is_empty()
            && self.teams.is_empty()
            && self.people.is_empty()
            && self.keys.is_empty()
    }
}

/// What a policy does. Every rule is optional; an absent rule leaves that matter unrestricted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<ModelRules>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<ToolRules>,
    /// Ceiling on `max_tokens`; a larger request is lowered to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Ceiling on the extended-thinking budget; `0` turns thinking off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_budget_tokens: Option<u32>,
    /// Whether the 1M-token context window (`[1m]` models, the `context-1m-*` beta) may be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_1m: Option<bool>,
    /// Whether the web search tool may be used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_search: Option<bool>,
    /// Requests per minute per person (lowers the org's per-person limit for this policy's people).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u32>,
}

/// Model ids (`claude-haiku-4-5`), families (`haiku`) or globs (`claude-sonnet-*`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelRules {
    /// When present, only these; absent means every model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

/// Tool names or globs (`Bash`, `mcp__computer*`, `WebSearch`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolRules {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

/// A document refused: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ValidationError {
    /// `policies[2].rules.models.allow[0]`, or `.` for the whole document.
    pub path: String,
    pub message: String,
}

impl ValidationError {
    fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// What validation checks names against.
#[derive(Debug, Clone, Copy, Default)]
pub struct Known<'a> {
    /// `(id, name)` of every team.
    pub teams: &'a [(String, String)],
    /// Model names the gateway serves beyond the catalogue (administrator mappings).
    pub extra_models: &'a [String],
}

impl PolicyDocument {
    /// Reads a document from JSON; unknown fields and wrong types are refused with their path.
    ///
    /// # Errors
    /// The first problem found, with its path.
    pub fn from_json(text: &str) -> Result<Self, ValidationError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            ValidationError::at(path, e.into_inner().to_string())
        })
    }

    /// Reads a document from a JSON value (an admin request's body).
    ///
    /// # Errors
    /// The first problem found, with its path.
    pub fn from_value(value: Value) -> Result<Self, ValidationError> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            ValidationError::at(path, e.into_inner().to_string())
        })
    }

    /// Checks every policy and turns team names into ids.
    ///
    /// # Errors
    /// The first problem found, with its path.
    pub fn validate(&mut self, known: Known<'_>) -> Result<(), ValidationError> {
        if self.policies.len() > MAX_POLICIES {
            return Err(ValidationError::at(
                "policies",
                format!("at most {MAX_POLICIES} policies"),
            ));
        }
        let mut names = BTreeSet::new();
        for (i, policy) in self.policies.iter_mut().enumerate() {
            let at = format!("policies[{i}]");
            validate_name(&policy.name)
                .map_err(|m| ValidationError::at(format!("{at}.name"), m.0))?;
            if !names.insert(policy.name.to_ascii_lowercase()) {
                return Err(ValidationError::at(
                    format!("{at}.name"),
                    format!("another policy is already named {:?}", policy.name),
                ));
            }
            validate_match(&mut policy.matches, &format!("{at}.match"), known)?;
            validate_rules(&policy.rules, &format!("{at}.rules"), known)?;
        }
        Ok(())
    }

    /// The document as stored: JSON.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

fn validate_name(name: &str) -> Result<(), InvalidEntry> {
    if name.is_empty() || name.len() > 64 {
        return Err(InvalidEntry(
            "a name of 1 to 64 characters is required".to_owned(),
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '))
    {
        return Err(InvalidEntry(format!(
            "{name:?}: use letters, digits, spaces, '-', '_' and '.'"
        )));
    }
    Ok(())
}

fn validate_list(list: &[String], path: &str) -> Result<(), ValidationError> {
    if list.len() > MAX_LIST {
        return Err(ValidationError::at(
            path,
            format!("at most {MAX_LIST} entries"),
        ));
    }
    for (i, entry) in list.iter().enumerate() {
        if entry.trim().is_empty() || entry.len() > 256 {
            return Err(ValidationError::at(
                format!("{path}[{i}]"),
                "an entry of 1 to 256 characters is required",
            ));
        }
    }
    Ok(())
}

fn validate_match(m: &mut Match, path: &str, known: Known<'_>) -> Result<(), ValidationError> {
    validate_list(&m.idp_groups, &format!("{path}.idp_groups"))?;
    validate_list(&m.scim_groups, &format!("{path}.scim_groups"))?;
    validate_list(&m.people, &format!("{path}.people"))?;
    validate_list(&m.keys, &format!("{path}.keys"))?;
    validate_list(&m.teams, &format!("{path}.teams"))?;
    for (i, team) in m.teams.iter_mut().enumerate() {
        let found = known
            .teams
            .iter()
            .find(|(id, name)| id == team || name.eq_ignore_ascii_case(team));
        match found {
            Some((id, _)) => id.clone_into(team),
            None => {
                return Err(ValidationError::at(
                    format!("{path}.teams[{i}]"),
                    format!("no team has the id or name {team:?}"),
                ));
            }
        }
    }
    for (i, key) in m.keys.iter().enumerate() {
        if !key.starts_with("key_") {
            return Err(ValidationError::at(
                format!("{path}.keys[{i}]"),
                format!("{key:?} is not a key id (key_…); a key's id is in GET /admin/keys"),
            ));
        }
    }
    Ok(())
}

fn validate_rules(r: &Rules, path: &str, known: Known<'_>) -> Result<(), ValidationError> {
    if let Some(models) = &r.models {
        if let Some(allow) = &models.allow {
            let at = format!("{path}.models.allow");
            if allow.is_empty() {
                return Err(ValidationError::at(
                    at,
                    "an empty allow list allows no model; leave `allow` out to allow every model",
                ));
            }
            validate_models(allow, &at, known)?;
        }
        validate_models(&models.deny, &format!("{path}.models.deny"), known)?;
    }
    if let Some(tools) = &r.tools {
        let at = format!("{path}.tools.deny");
        validate_list(&tools.deny, &at)?;
        for (i, pattern) in tools.deny.iter().enumerate() {
            tool_glob(pattern).map_err(|m| ValidationError::at(format!("{at}[{i}]"), m.0))?;
        }
    }
    if r.max_tokens == Some(0) {
        return Err(ValidationError::at(
            format!("{path}.max_tokens"),
            "the ceiling must be at least 1",
        ));
    }
    if let Some(budget) = r.thinking_budget_tokens
        && budget != 0
        && budget < MIN_THINKING_BUDGET
    {
        return Err(ValidationError::at(
            format!("{path}.thinking_budget_tokens"),
            format!(
                "Bedrock's smallest thinking budget is {MIN_THINKING_BUDGET}; use 0 to turn thinking off"
            ),
        ));
    }
    if r.requests_per_minute == Some(0) {
        return Err(ValidationError::at(
            format!("{path}.requests_per_minute"),
            "at least 1; leave it out for no policy limit",
        ));
    }
    Ok(())
}

fn validate_models(list: &[String], path: &str, known: Known<'_>) -> Result<(), ValidationError> {
    validate_list(list, path)?;
    for (i, entry) in list.iter().enumerate() {
        let pattern = ModelPattern::new(entry)
            .map_err(|m| ValidationError::at(format!("{path}[{i}]"), m.0))?;
        if !pattern.names_a_known_model(known.extra_models) {
            return Err(ValidationError::at(
                format!("{path}[{i}]"),
                format!(
                    "{entry:?} is not a model this gateway serves (known: {}; families: {})",
                    super::eval::catalog_ids().join(", "),
                    super::eval::families().join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// What changed between two documents, for the audit record: policies added, removed, changed (with both
/// versions) and whether the order changed.
#[must_use]
pub fn diff(before: &PolicyDocument, after: &PolicyDocument) -> Value {
    let named = |d: &PolicyDocument| -> Vec<(String, Value)> {
        d.policies
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    serde_json::to_value(p).unwrap_or(Value::Null),
                )
            })
            .collect()
    };
    let (old, new) = (named(before), named(after));
    let find = |list: &[(String, Value)], name: &str| {
        list.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
    };
    let added: Vec<Value> = new
        .iter()
        .filter(|(n, _)| find(&old, n).is_none())
        .map(|(_, v)| v.clone())
        .collect();
    let removed: Vec<Value> = old
        .iter()
        .filter(|(n, _)| find(&new, n).is_none())
        .map(|(_, v)| v.clone())
        .collect();
    let changed: Vec<Value> = new
        .iter()
        .filter_map(|(n, v)| {
            find(&old, n)
                .filter(|o| o != v)
                .map(|o| json!({"name": n, "before": o, "after": v}))
        })
        .collect();
    let order = |list: &[(String, Value)], other: &[(String, Value)]| -> Vec<String> {
        list.iter()
            .filter(|(n, _)| other.iter().any(|(m, _)| m == n))
            .map(|(n, _)| n.clone())
            .collect()
    };
    json!({
        "added": added,
        "removed": removed,
        "changed": changed,
        "reordered": order(&old, &new) != order(&new, &old),
    })
}
