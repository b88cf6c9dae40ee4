//! What each model accepts on Bedrock InvokeModel, shipped in code and refined at run time by `Learned`.
//!
//! Sources: `bedrock-compat-checklist.md` (thinking modes, `output_config` ≥ 4.6, cache TTL ≥ 4.5, betas per model).
//! Unknown families (application inference profile ARNs, future ids) are treated permissively: thinking passes in
//! whichever form the client chose (the ARN may point at any model), current fields are kept, and `Learned` drops
//! whatever Bedrock then names in a rejection.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThinkingMode {
    /// Only `{"type":"adaptive"}` (Opus 4.7 and later).
    AdaptiveOnly,
    /// `adaptive` or `enabled` with a budget (4.6).
    Both,
    /// Only `{"type":"enabled","budget_tokens":N}` (before 4.6).
    EnabledOnly,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    pub thinking: ThinkingMode,
    pub output_config: bool,
    pub context_management: bool,
    /// `cache_control.ttl` (`5m`/`1h`) accepted.
    pub cache_ttl: bool,
    /// Betas Bedrock accepts for this model; everything else is dropped before sending.
    pub betas: &'static [&'static str],
}

const BETAS_NEWEST: &[&str] = &[
    "interleaved-thinking-2025-05-14",
    "context-management-2025-06-27",
    "compact-2026-01-12",
    "effort-2025-11-24",
    "extended-cache-ttl-2025-04-11",
    "fine-grained-tool-streaming-2025-05-14",
];
const BETAS_4_6: &[&str] = &[
    "interleaved-thinking-2025-05-14",
    "context-management-2025-06-27",
    "compact-2026-01-12",
    "effort-2025-11-24",
    "extended-cache-ttl-2025-04-11",
    "fine-grained-tool-streaming-2025-05-14",
    "claude-code-20250219",
];
const BETAS_4_5: &[&str] = &[
    "interleaved-thinking-2025-05-14",
    "extended-cache-ttl-2025-04-11",
    "fine-grained-tool-streaming-2025-05-14",
    "claude-code-20250219",
    "context-1m-2025-08-07",
];
const BETAS_4_0: &[&str] = &[
    "interleaved-thinking-2025-05-14",
    "fine-grained-tool-streaming-2025-05-14",
    "token-efficient-tools-2025-02-19",
    "context-1m-2025-08-07",
];

/// Capabilities for a model family (`ResolvedModel::family`).
#[must_use]
pub fn capabilities_for(family: &str) -> Capabilities {
    let newest = Capabilities {
        thinking: ThinkingMode::AdaptiveOnly,
        output_config: true,
        context_management: true,
        cache_ttl: true,
        betas: BETAS_NEWEST,
    };
    match family {
        "claude-opus-4-6" | "claude-sonnet-4-6" => Capabilities {
            thinking: ThinkingMode::Both,
            betas: BETAS_4_6,
            ..newest
        },
        "claude-opus-4-5" | "claude-sonnet-4-5" | "claude-haiku-4-5" => Capabilities {
            thinking: ThinkingMode::EnabledOnly,
            output_config: false,
            context_management: false,
            cache_ttl: true,
            betas: BETAS_4_5,
        },
        "claude-opus-4-1" | "claude-sonnet-4" => Capabilities {
            thinking: ThinkingMode::EnabledOnly,
            output_config: false,
            context_management: false,
            cache_ttl: false,
            betas: BETAS_4_0,
        },
        "claude-opus-4-8" | "claude-opus-4-7" | "claude-fable-5" => newest,
        _ => Capabilities {
            thinking: ThinkingMode::Both,
            betas: BETAS_4_6,
            ..newest
        },
    }
}

/// What Bedrock rejected at run time, per model family: betas and top-level fields to leave out from now on.
/// Lives in the warm instance; a cold start relearns with at most one retried request per item.
#[derive(Debug, Default)]
pub struct Learned {
    inner: Mutex<HashMap<String, LearnedFamily>>,
}

#[derive(Debug, Default, Clone)]
pub struct LearnedFamily {
    pub rejected_betas: HashSet<String>,
    pub rejected_fields: HashSet<String>,
}

impl Learned {
    #[must_use]
    pub fn get(&self, family: &str) -> LearnedFamily {
        self.lock().get(family).cloned().unwrap_or_default()
    }

    pub fn reject_beta(&self, family: &str, beta: &str) {
        self.lock()
            .entry(family.to_owned())
            .or_default()
            .rejected_betas
            .insert(beta.to_owned());
    }

    pub fn reject_field(&self, family: &str, field: &str) {
        self.lock()
            .entry(family.to_owned())
            .or_default()
            .rejected_fields
            .insert(field.to_owned());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, LearnedFamily>> {
        // A poisoned lock only means another request panicked mid-insert; the sets stay usable.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_models_think_adaptively_and_older_ones_with_a_budget() {
        assert_eq!(
            capabilities_for("claude-opus-4-8").thinking,
            ThinkingMode::AdaptiveOnly
        );
        assert_eq!(
            capabilities_for("claude-sonnet-4-6").thinking,
            ThinkingMode::Both
        );
        assert_eq!(
            capabilities_for("claude-sonnet-4-5").thinking,
            ThinkingMode::EnabledOnly
        );
        assert!(!capabilities_for("claude-sonnet-4").cache_ttl);
        assert!(!capabilities_for("claude-haiku-4-5").output_config);
        assert_eq!(
            capabilities_for("arn:aws:bedrock:us-east-1:1:application-inference-profile/x")
                .thinking,
            ThinkingMode::Both
        );
    }

    #[test]
    fn learned_rejections_are_per_family() {
        let l = Learned::default();
        l.reject_beta("claude-opus-4-8", "effort-2025-11-24");
        l.reject_field("claude-opus-4-8", "metadata");
        assert!(
            l.get("claude-opus-4-8")
                .rejected_betas
                .contains("effort-2025-11-24")
        );
        assert!(
            l.get("claude-opus-4-8")
                .rejected_fields
                .contains("metadata")
        );
        assert!(l.get("claude-opus-4-7").rejected_betas.is_empty());
    }
}
