//! The policy document's services, shared by the admin API and the CLI on a local store: read it, replace it
//! (validated, versioned, audited) and test a caller against it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::document::{Known, ValidationError, diff};
use super::enforce::{Applied, Refusal, RequestFacts, allowed_models, apply, check_model};
use super::{PolicyDocument, PolicySet, Subject};
use crate::models::{CATALOG, ModelResolver};
use crate::store::{PolicyChange, Store, StoreError};

/// The largest stored document: one DynamoDB item holds at most 400 KB with its change record beside it.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// Why the document was not replaced.
#[derive(Debug, thiserror::Error)]
pub enum ReplaceError {
    /// The document is not valid: the path of the first error and why.
    #[error("{0}")]
    Invalid(ValidationError),
    /// The stored version is not the one the change was made from.
    #[error(
        "The policies changed since version {expected} (now version {now}): reload them, apply your change again and save."
    )]
    Conflict { expected: u64, now: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The stored document (an empty one at version 0 before the first write).
///
/// # Errors
/// The store could not be read, or holds a document that does not parse (`Corrupt`).
pub async fn stored(store: &dyn Store) -> Result<PolicyDocument, StoreError> {
    match store.policies().await? {
        None => Ok(PolicyDocument::default()),
        Some((_, text)) => PolicyDocument::from_json(&text)
            .map_err(|e| StoreError::Corrupt(format!("policy document: {e}"))),
    }
}

/// Reads a document from a JSON value and validates it against the store's teams and the model names served
/// beyond the catalogue (`extra_models`); team names become ids.
///
/// # Errors
/// `Invalid` with the path of the first error; `Store` when the teams cannot be read.
pub async fn validated(
    store: &dyn Store,
    value: Value,
    extra_models: &[String],
) -> Result<PolicyDocument, ReplaceError> {
    let mut doc = PolicyDocument::from_value(value).map_err(ReplaceError::Invalid)?;
    let teams: Vec<(String, String)> = store
        .list_teams()
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    doc.validate(Known {
        teams: &teams,
        extra_models,
    })
    .map_err(ReplaceError::Invalid)?;
    Ok(doc)
}

/// Who changes the document, and when.
#[derive(Debug, Clone)]
pub struct Author {
    /// `jane@example.com (usr_…)`, `cli (local store)`.
    pub actor: String,
    pub at_ms: i64,
    /// Unique among changes (a random id).
    pub change_id: String,
}

/// Replaces the policy list with `value`'s `policies` if the stored version is `expected`: validated, stored as
/// version `expected + 1` together with its change record (who, when, diff) in one atomic write.
///
/// # Errors
/// `Invalid`, `Conflict` (nothing written), or `Store`.
pub async fn replace(
    store: &dyn Store,
    value: Value,
    expected: u64,
    extra_models: &[String],
    author: Author,
) -> Result<PolicyDocument, ReplaceError> {
    let mut value = value;
    if let Some(object) = value.as_object_mut() {
        // What GET answered may come back whole; version, who and when are the store's to say.
        object.remove("updated_at_ms");
        object.remove("updated_by");
        object.remove("version");
    }
    let mut next = validated(store, value, extra_models).await?;
    let before = stored(store).await?;
    if before.version != expected {
        return Err(ReplaceError::Conflict {
            expected,
            now: before.version,
        });
    }
    next.version = expected + 1;
    next.updated_at_ms = Some(author.at_ms);
    next.updated_by = Some(author.actor.clone());
    let text = next.to_json();
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(ReplaceError::Invalid(ValidationError {
            path: "policies".to_owned(),
            message: format!(
                "the document is {} KiB; at most {} KiB (one store item)",
                text.len() / 1024,
                MAX_DOCUMENT_BYTES / 1024
            ),
        }));
    }
    let change = PolicyChange {
        id: format!("pch_{:013}_{}", author.at_ms, author.change_id),
        at_ms: author.at_ms,
        actor: author.actor,
        from_version: expected,
        to_version: next.version,
        diff: diff(&before, &next).to_string(),
    };
    if !store.replace_policies(expected, &text, &change).await? {
        let now = stored(store).await?.version;
        return Err(ReplaceError::Conflict { expected, now });
    }
    tracing::info!(actor = %change.actor, version = next.version, policies = next.policies.len(), "policies replaced");
    Ok(next)
}

/// `POST /admin/policies/test` and `sluice policies test`: a caller and a request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    #[serde(default)]
    pub caller: TestCaller,
    #[serde(default)]
    pub request: RequestFacts,
    /// A draft list to evaluate instead of the stored document.
    #[serde(default)]
    pub policies: Option<Value>,
}

/// Who calls: a person named by email or id brings their stored team and groups; given fields override them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCaller {
    pub email: Option<String>,
    pub user_id: Option<String>,
    /// A team id or name.
    pub team: Option<String>,
    pub key_id: Option<String>,
    pub idp_groups: Option<Vec<String>>,
    pub scim_groups: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MatchedView {
    pub name: String,
    pub index: usize,
    pub why: String,
}

/// What the document does to the case.
#[derive(Debug, Clone, Serialize)]
pub struct TestResult {
    /// `None`: no policy matches, the caller is not restricted.
    pub matched: Option<MatchedView>,
    /// `allowed` or `refused`.
    pub outcome: &'static str,
    pub refusal: Option<Refusal>,
    pub applied: Option<Applied>,
    pub allowed_models: Vec<String>,
    pub requests_per_minute: Option<u32>,
}

/// The model names a person may be offered: the catalogue and the administrator's names.
#[must_use]
pub fn model_ids(extra_models: &[String]) -> Vec<String> {
    let mut out: Vec<String> = CATALOG.iter().map(|e| e.id.to_owned()).collect();
    for m in extra_models {
        if !m.contains('.') && !out.contains(m) {
            out.push(m.clone());
        }
    }
    out
}

/// Evaluates a test case.
///
/// # Errors
/// `Invalid` for a draft that is not valid or an unknown team; `Store` when the store cannot be read.
pub async fn test(
    store: &dyn Store,
    case: TestCase,
    extra_models: &[String],
) -> Result<TestResult, ReplaceError> {
    let doc = match case.policies {
        Some(list) => {
            let mut draft = serde_json::Map::new();
            draft.insert("policies".into(), list);
            validated(store, Value::Object(draft), extra_models).await?
        }
        None => stored(store).await?,
    };
    let set = PolicySet::compile(&doc).map_err(ReplaceError::Invalid)?;
    let c = case.caller;
    let person = match (&c.user_id, &c.email) {
        (Some(id), _) => store.user_by_id(id).await?,
        (None, Some(email)) => {
            store
                .user_by_email(&email.trim().to_ascii_lowercase())
                .await?
        }
        (None, None) => None,
    };
    let team_id = match &c.team {
        Some(t) => {
            let teams = store.list_teams().await?;
            let found = teams
                .into_iter()
                .find(|x| &x.id == t || x.name.eq_ignore_ascii_case(t));
            Some(found.map(|x| x.id).ok_or_else(|| {
                ReplaceError::Invalid(ValidationError {
                    path: "caller.team".to_owned(),
                    message: format!("no team has the id or name {t:?}"),
                })
            })?)
        }
        None => person.as_ref().and_then(|p| p.team_id.clone()),
    };
    let idp_groups = c
        .idp_groups
        .clone()
        .or_else(|| person.as_ref().map(|p| p.groups.idp.clone()))
        .unwrap_or_default();
    let scim_groups = c
        .scim_groups
        .clone()
        .or_else(|| person.as_ref().map(|p| p.groups.scim.clone()))
        .unwrap_or_default();
    let subject = Subject {
        user_id: person
            .as_ref()
            .map(|p| p.id.as_str())
            .or(c.user_id.as_deref()),
        email: person
            .as_ref()
            .map(|p| p.email.as_str())
            .or(c.email.as_deref()),
        team_id: team_id.as_deref(),
        key_id: c.key_id.as_deref(),
        idp_groups: &idp_groups,
        scim_groups: &scim_groups,
    };
    let ids = model_ids(extra_models);
    let Some((matched, why)) = set.explain(&subject) else {
        return Ok(TestResult {
            matched: None,
            outcome: "allowed",
            refusal: None,
            applied: None,
            allowed_models: ids,
            requests_per_minute: None,
        });
    };
    let allowed = allowed_models(matched.policy, ids.iter().map(String::as_str));
    let mut long_context = case.request.context_1m;
    let mut refusal = None;
    if let Some(model) = &case.request.model {
        let resolver = ModelResolver::new("us", std::collections::BTreeMap::new());
        let family = match resolver.resolve(model) {
            Ok(m) => {
                long_context |= m.long_context;
                m.family
            }
            Err(_) => model.clone(),
        };
        refusal = check_model(&matched, &family, &allowed).err();
    }
    let mut applied = None;
    if refusal.is_none() {
        let mut request = case.request.body();
        match apply(&matched, &mut request, &[], long_context) {
            Ok(a) => applied = Some(a),
            Err(r) => refusal = Some(r),
        }
    }
    Ok(TestResult {
        matched: Some(MatchedView {
            name: matched.policy.name.clone(),
            index: matched.index,
            why,
        }),
        outcome: if refusal.is_some() {
            "refused"
        } else {
            "allowed"
        },
        refusal,
        applied,
        allowed_models: allowed,
        requests_per_minute: matched.policy.rules.requests_per_minute,
    })
}
