//! The compiled policy document and first-match evaluation.

use std::collections::{HashMap, HashSet};

use globset::{Glob, GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};

use super::document::{PolicyDocument, Rules, ValidationError};
use crate::models::CATALOG;

/// Who is calling, as far as policies care. Built from the authenticated caller (its person's remembered groups,
/// or the groups of the ID token it presented).
#[derive(Debug, Clone, Copy, Default)]
pub struct Subject<'a> {
    pub user_id: Option<&'a str>,
    pub email: Option<&'a str>,
    pub team_id: Option<&'a str>,
    pub key_id: Option<&'a str>,
    pub idp_groups: &'a [String],
    pub scim_groups: &'a [String],
}

/// The catalogue's model ids.
#[must_use]
pub fn catalog_ids() -> Vec<&'static str> {
    CATALOG.iter().map(|e| e.id).collect()
}

/// The catalogue's families (`opus`, `sonnet`, `haiku`, …): the word after `claude-`.
#[must_use]
pub fn families() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for e in CATALOG {
        if let Some(f) =
            e.id.strip_prefix("claude-")
                .and_then(|r| r.split('-').next())
            && !out.contains(&f)
        {
            out.push(f);
        }
    }
    out
}

/// An entry of a policy that cannot be used (a bad glob, a name with unsupported characters), and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidEntry(pub String);

fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

fn glob(pattern: &str, case_insensitive: bool) -> Result<GlobMatcher, InvalidEntry> {
    GlobBuilder::new(pattern)
        .case_insensitive(case_insensitive)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| InvalidEntry(format!("{pattern:?} is not a valid glob: {e}")))
}

/// A model entry of a policy: a family word, an exact id, or a glob; matched case-insensitively against the
/// model's catalogue id (or the raw id a client sent).
#[derive(Debug, Clone)]
pub(crate) enum ModelPattern {
    Family(String),
    Exact(String),
    Glob(GlobMatcher),
}

impl ModelPattern {
    pub(crate) fn new(entry: &str) -> Result<Self, InvalidEntry> {
        let lower = entry.trim().to_ascii_lowercase();
        if is_glob(&lower) {
            return glob(&lower, true).map(Self::Glob);
        }
        if families().contains(&lower.as_str()) {
            return Ok(Self::Family(lower));
        }
        let canonical = CATALOG
            .iter()
            .find(|e| e.aliases.contains(&lower.as_str()))
            .map_or(lower, |e| e.id.to_owned());
        Ok(Self::Exact(canonical))
    }

    pub(crate) fn matches(&self, model: &str) -> bool {
        match self {
            Self::Family(f) => model
                .strip_prefix("claude-")
                .and_then(|r| r.strip_prefix(f.as_str()))
                .is_some_and(|r| r.is_empty() || r.starts_with('-')),
            Self::Exact(id) => model.eq_ignore_ascii_case(id),
            Self::Glob(g) => g.is_match(model.to_ascii_lowercase()),
        }
    }

    /// Whether the entry names something this gateway serves: a family, a catalogue id or alias, an
    /// administrator-mapped name, a raw Bedrock id or ARN, or a glob matching at least one of those names.
    pub(crate) fn names_a_known_model(&self, extra: &[String]) -> bool {
        let mut known = catalog_ids()
            .into_iter()
            .map(str::to_owned)
            .chain(extra.iter().map(|s| s.to_ascii_lowercase()));
        match self {
            Self::Family(_) => true,
            Self::Exact(id) => {
                id.contains('.') || id.starts_with("arn:") || known.any(|k| &k == id)
            }
            Self::Glob(_) => known.any(|k| self.matches(&k)),
        }
    }
}

/// A tool entry as a glob (a plain name is a glob matching only itself), case-sensitive as tool names are.
///
/// # Errors
/// Claude Code's argument rules (`Bash(git push:*)`), spaces, or a glob that does not parse.
pub(crate) fn tool_glob(entry: &str) -> Result<Glob, InvalidEntry> {
    let entry = entry.trim();
    if entry.contains(['(', ')', ' ']) {
        return Err(InvalidEntry(format!(
            "{entry:?}: a tool name or glob is expected (Claude Code's argument rules such as Bash(git push:*) are not enforced by the gateway)"
        )));
    }
    GlobBuilder::new(entry)
        .literal_separator(false)
        .backslash_escape(true)
        .build()
        .map_err(|e| InvalidEntry(format!("{entry:?} is not a valid glob: {e}")))
}

/// The entry as Claude Code's `permissions.deny` can say it, if it can: an exact name, or an MCP server's tools
/// (`mcp__server__*`).
fn tool_permission(entry: &str) -> Option<String> {
    let entry = entry.trim();
    if !is_glob(entry) {
        return Some(entry.to_owned());
    }
    let server = entry.strip_suffix("__*")?;
    (server.starts_with("mcp__") && !is_glob(server)).then(|| format!("{server}__*"))
}

/// `tools.deny` compiled into one matcher (names are looked up, `prefix*` globs compared as prefixes, the rest as
/// one automaton). `WebSearch` and `WebFetch` (Claude Code's names) also match the server tools of those kinds
/// (`web_search_*`, `web_fetch_*` types).
#[derive(Debug, Clone, Default)]
pub(crate) struct ToolDeny {
    entries: Vec<String>,
    set: GlobSet,
}

impl ToolDeny {
    fn compile(entries: &[String]) -> Result<Self, InvalidEntry> {
        let mut builder = GlobSetBuilder::new();
        for entry in entries {
            builder.add(tool_glob(entry)?);
        }
        let set = builder
            .build()
            .map_err(|e| InvalidEntry(format!("tools.deny does not compile: {e}")))?;
        Ok(Self {
            entries: entries.iter().map(|e| e.trim().to_owned()).collect(),
            set,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first entry matching `name`.
    fn first(&self, name: &str) -> Option<&str> {
        if !self.set.is_match(name) {
            return None;
        }
        let index = self.set.matches(name).into_iter().min()?;
        self.entries.get(index).map(String::as_str)
    }

    /// The entry denying the tool named `name` of type `kind` (`None` for client tools), if any.
    fn denied(&self, name: &str, kind: Option<&str>) -> Option<&str> {
        self.first(name).or_else(|| match kind {
            Some(k) if k.starts_with("web_search_") => self.first("WebSearch"),
            Some(k) if k.starts_with("web_fetch_") => self.first("WebFetch"),
            _ => None,
        })
    }
}

/// One compiled policy.
#[derive(Debug, Clone)]
pub struct CompiledPolicy {
    pub name: String,
    pub rules: Rules,
    everyone: bool,
    idp_groups: HashSet<String>,
    /// Lower case.
    scim_groups: HashSet<String>,
    teams: HashSet<String>,
    /// Lower case (emails and user ids).
    people: HashSet<String>,
    keys: HashSet<String>,
    pub(crate) allow_models: Option<Vec<ModelPattern>>,
    pub(crate) deny_models: Vec<(String, ModelPattern)>,
    pub(crate) deny_tools: ToolDeny,
}

impl CompiledPolicy {
    /// Why this policy matches the subject, or `None`.
    fn why(&self, s: &Subject<'_>, lower: &Lowered) -> Option<String> {
        if self.everyone {
            return Some("its match is empty, so it matches everyone".to_owned());
        }
        if !self.idp_groups.is_empty()
            && let Some(g) = s.idp_groups.iter().find(|g| self.idp_groups.contains(*g))
        {
            return Some(format!("identity-provider group {g:?}"));
        }
        if !self.scim_groups.is_empty()
            && let Some(i) = lower.scim.iter().position(|g| self.scim_groups.contains(g))
        {
            return Some(format!("SCIM group {:?}", s.scim_groups[i]));
        }
        if let Some(t) = s.team_id.filter(|t| self.teams.contains(*t)) {
            return Some(format!("team {t}"));
        }
        if !self.people.is_empty() {
            for (who, low) in [(s.email, &lower.email), (s.user_id, &lower.user_id)] {
                if let (Some(who), Some(low)) = (who, low)
                    && self.people.contains(low)
                {
                    return Some(format!("person {who}"));
                }
            }
        }
        if let Some(k) = s.key_id.filter(|k| self.keys.contains(*k)) {
            return Some(format!("key {k}"));
        }
        None
    }

    /// Whether the model (its catalogue id, or the raw id sent) may be used, and if not the entry that refuses it
    /// (`None` inside: not on the allow list).
    #[must_use]
    pub fn model_refusal(&self, model: &str) -> Option<Option<&str>> {
        if let Some((entry, _)) = self.deny_models.iter().find(|(_, p)| p.matches(model)) {
            return Some(Some(entry.as_str()));
        }
        match &self.allow_models {
            Some(allow) if !allow.iter().any(|p| p.matches(model)) => Some(None),
            _ => None,
        }
    }

    /// Whether this policy says anything about models.
    #[must_use]
    pub fn restricts_models(&self) -> bool {
        self.allow_models.is_some() || !self.deny_models.is_empty()
    }

    /// The entry of `tools.deny` that denies a tool, if any.
    #[must_use]
    pub fn denied_tool(&self, name: &str, kind: Option<&str>) -> Option<&str> {
        self.deny_tools.denied(name, kind)
    }

    /// `tools.deny` as Claude Code's `permissions.deny` entries (those it can express).
    #[must_use]
    pub fn permission_denies(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .deny_tools
            .entries
            .iter()
            .filter_map(|e| tool_permission(e))
            .collect();
        if self.rules.web_search == Some(false) && !out.iter().any(|e| e == "WebSearch") {
            out.push("WebSearch".to_owned());
        }
        out
    }
}

/// The case-insensitive parts of a subject, lowered once per evaluation.
struct Lowered {
    email: Option<String>,
    user_id: Option<String>,
    scim: Vec<String>,
}

impl Lowered {
    fn of(s: &Subject<'_>) -> Self {
        Self {
            email: s.email.map(str::to_ascii_lowercase),
            user_id: s.user_id.map(str::to_ascii_lowercase),
            scim: s
                .scim_groups
                .iter()
                .map(|g| g.to_ascii_lowercase())
                .collect(),
        }
    }
}

/// The policy matching a subject: which one, where in the list, and why.
#[derive(Debug, Clone, Copy)]
pub struct Matched<'a> {
    pub policy: &'a CompiledPolicy,
    pub index: usize,
}

/// A compiled document, ready to evaluate.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    pub version: u64,
    policies: Vec<CompiledPolicy>,
    /// For each criterion, the first policy naming each value: evaluation looks up the caller's few values
    /// instead of trying every policy.
    first: FirstIndex,
}

#[derive(Debug, Clone, Default)]
struct FirstIndex {
    everyone: Option<usize>,
    idp_groups: HashMap<String, usize>,
    scim_groups: HashMap<String, usize>,
    teams: HashMap<String, usize>,
    people: HashMap<String, usize>,
    keys: HashMap<String, usize>,
}

impl FirstIndex {
    fn of(policies: &[CompiledPolicy]) -> Self {
        let mut first = Self::default();
        for (i, p) in policies.iter().enumerate() {
            if p.everyone && first.everyone.is_none() {
                first.everyone = Some(i);
            }
            for (set, map) in [
                (&p.idp_groups, &mut first.idp_groups),
                (&p.scim_groups, &mut first.scim_groups),
                (&p.teams, &mut first.teams),
                (&p.people, &mut first.people),
                (&p.keys, &mut first.keys),
            ] {
                for value in set {
                    map.entry(value.clone()).or_insert(i);
                }
            }
        }
        first
    }

    /// The first policy any of the subject's values names.
    fn lookup(&self, s: &Subject<'_>, lower: &Lowered) -> Option<usize> {
        let at = |map: &HashMap<String, usize>, v: &str| map.get(v).copied();
        s.idp_groups
            .iter()
            .filter_map(|g| at(&self.idp_groups, g))
            .chain(lower.scim.iter().filter_map(|g| at(&self.scim_groups, g)))
            .chain(s.team_id.and_then(|t| at(&self.teams, t)))
            .chain(lower.email.as_deref().and_then(|e| at(&self.people, e)))
            .chain(lower.user_id.as_deref().and_then(|u| at(&self.people, u)))
            .chain(s.key_id.and_then(|k| at(&self.keys, k)))
            .chain(self.everyone)
            .min()
    }
}

impl PolicySet {
    /// Compiles a document (validated when written).
    ///
    /// # Errors
    /// A pattern that does not compile, with its path.
    pub fn compile(doc: &PolicyDocument) -> Result<Self, ValidationError> {
        let mut policies = Vec::with_capacity(doc.policies.len());
        for (i, p) in doc.policies.iter().enumerate() {
            let err = |what: String, m: InvalidEntry| ValidationError {
                path: format!("policies[{i}].rules.{what}"),
                message: m.0,
            };
            let models = p.rules.models.clone().unwrap_or_default();
            let allow_models = models
                .allow
                .as_ref()
                .map(|list| {
                    list.iter()
                        .map(|e| ModelPattern::new(e))
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()
                .map_err(|m| err("models.allow".into(), m))?;
            let deny_models = models
                .deny
                .iter()
                .map(|e| ModelPattern::new(e).map(|p| (e.clone(), p)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|m| err("models.deny".into(), m))?;
            let deny_tools = p
                .rules
                .tools
                .as_ref()
                .map_or(Ok(ToolDeny::default()), |t| ToolDeny::compile(&t.deny))
                .map_err(|m| err("tools.deny".into(), m))?;
            let set = |v: &[String], lower: bool| -> HashSet<String> {
                v.iter()
                    .map(|s| {
                        if lower {
                            s.to_ascii_lowercase()
                        } else {
                            s.clone()
                        }
                    })
                    .collect()
            };
            policies.push(CompiledPolicy {
                name: p.name.clone(),
                rules: p.rules.clone(),
                everyone: p.matches.is_everyone(),
                idp_groups: set(&p.matches.idp_groups, false),
                scim_groups: set(&p.matches.scim_groups, true),
                teams: set(&p.matches.teams, false),
                people: set(&p.matches.people, true),
                keys: set(&p.matches.keys, false),
                allow_models,
                deny_models,
                deny_tools,
            });
        }
        Ok(Self {
            version: doc.version,
            first: FirstIndex::of(&policies),
            policies,
        })
    }

    /// The first policy matching the subject, or `None` (the caller is not restricted).
    #[must_use]
    pub fn evaluate(&self, subject: &Subject<'_>) -> Option<Matched<'_>> {
        self.explain(subject).map(|(m, _)| m)
    }

    /// [`Self::evaluate`] with the reason it matched.
    #[must_use]
    pub fn explain(&self, subject: &Subject<'_>) -> Option<(Matched<'_>, String)> {
        let lower = Lowered::of(subject);
        let index = self.first.lookup(subject, &lower)?;
        let policy = self.policies.get(index)?;
        let why = policy.why(subject, &lower)?;
        Some((Matched { policy, index }, why))
    }

    /// The policy at `index` (as [`Self::evaluate`] found it).
    #[must_use]
    pub fn get(&self, index: usize) -> Option<Matched<'_>> {
        self.policies
            .get(index)
            .map(|policy| Matched { policy, index })
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.policies.len()
    }
}
