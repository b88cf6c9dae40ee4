//! Model identifiers as Bedrock sees them: bare foundation-model ids, cross-region inference
//! profiles and ARNs, and which features each model family accepts.

use crate::error::BedrockError;

/// Geography prefixes of Anthropic system inference profiles.
const PROFILE_PREFIXES: &[&str] = &["us", "eu", "apac", "au", "jp", "us-gov", "global"];

/// Markers of models that exist only behind inference profiles (no on-demand bare id).
const PROFILE_ONLY: &[&str] = &["4-5", "4-6", "4-7", "4-8", "sonnet-5", "fable"];

/// Markers of the 4.6+ generation (adaptive thinking, `output_config`, `context_management`).
const GENERATION_46_PLUS: &[&str] = &[
    "opus-4-6",
    "sonnet-4-6",
    "opus-4-7",
    "opus-4-8",
    "sonnet-5",
    "fable",
];

/// Markers of models that refuse `thinking.type = enabled`.
const ADAPTIVE_ONLY: &[&str] = &["opus-4-7", "opus-4-8", "fable"];

/// Markers of models CountTokens cannot count.
const NOT_COUNTABLE: &[&str] = &["opus-4-8", "fable"];

const ARN_PREFIXES: &[&str] = &[
    "arn:aws:bedrock:",
    "arn:aws-us-gov:bedrock:",
    "arn:aws-cn:bedrock:",
];

/// How the caller named the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdForm {
    /// `anthropic.claude-...`
    Foundation,
    /// `us.anthropic.claude-...` and other geographies
    Profile,
    /// `arn:aws:bedrock:...`
    Arn,
}

/// A model id that passed Bedrock's format check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelId {
    raw: String,
    form: IdForm,
}

impl ModelId {
    /// Accepts the id forms Bedrock accepts for Anthropic models.
    pub fn parse(raw: &str) -> Result<Self, BedrockError> {
        let form = if raw.starts_with("anthropic.claude-") {
            IdForm::Foundation
        } else if ARN_PREFIXES.iter().any(|p| raw.starts_with(p)) {
            IdForm::Arn
        } else if raw.split_once('.').is_some_and(|(prefix, rest)| {
            PROFILE_PREFIXES.contains(&prefix) && rest.starts_with("anthropic.claude-")
        }) {
            IdForm::Profile
        } else {
            return Err(BedrockError::validation(
                "The provided model identifier is invalid.",
            ));
        };
        Ok(Self {
            raw: raw.to_owned(),
            form,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    #[cfg(test)]
    pub fn form(&self) -> IdForm {
        self.form
    }

    fn contains_any(&self, markers: &[&str]) -> bool {
        markers.iter().any(|m| self.raw.contains(m))
    }

    /// InvokeModel on a bare id of a profile-only model fails like Bedrock's on-demand check.
    pub fn check_invocable(&self) -> Result<(), BedrockError> {
        if self.form == IdForm::Foundation && self.contains_any(PROFILE_ONLY) {
            return Err(BedrockError::validation(format!(
                "Invocation of model ID {} with on-demand throughput isn't supported. Retry your request with the ID or ARN of an inference profile that contains this model.",
                self.raw
            )));
        }
        Ok(())
    }

    /// CountTokens takes only bare foundation-model ids, and not for every model.
    pub fn check_countable(&self) -> Result<(), BedrockError> {
        if self.form != IdForm::Foundation || self.contains_any(NOT_COUNTABLE) {
            return Err(BedrockError::validation(
                "The provided model doesn't support counting tokens.",
            ));
        }
        Ok(())
    }

    pub fn is_generation_46_plus(&self) -> bool {
        self.contains_any(GENERATION_46_PLUS)
    }

    pub fn is_adaptive_only(&self) -> bool {
        self.contains_any(ADAPTIVE_ONLY)
    }

    /// The Anthropic-style name Bedrock reports in `message.model`, e.g.
    /// `us.anthropic.claude-sonnet-4-5-20250929-v1:0` → `claude-sonnet-4-5-20250929`.
    pub fn anthropic_name(&self) -> String {
        // ARNs of system profiles and foundation models end in the id; application profiles do not.
        let tail = self.raw.rsplit('/').next().unwrap_or(&self.raw);
        let Some(start) = tail.find("claude-") else {
            return "claude-sim".to_owned();
        };
        let name = &tail[start..];
        strip_version_suffix(name).to_owned()
    }
}

/// Drops Bedrock's `-v1:0` / `-v2` revision suffix.
fn strip_version_suffix(name: &str) -> &str {
    if let Some(pos) = name.rfind("-v") {
        let version = &name[pos + 2..];
        if !version.is_empty() && version.chars().all(|c| c.is_ascii_digit() || c == ':') {
            return &name[..pos];
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_bare_profile_and_arn_ids() {
        assert_eq!(
            ModelId::parse("anthropic.claude-3-haiku-20240307-v1:0").map(|m| m.form()),
            Ok(IdForm::Foundation)
        );
        assert_eq!(
            ModelId::parse("us-gov.anthropic.claude-opus-4-8").map(|m| m.form()),
            Ok(IdForm::Profile)
        );
        assert_eq!(
            ModelId::parse("global.anthropic.claude-sonnet-4-6").map(|m| m.form()),
            Ok(IdForm::Profile)
        );
        assert_eq!(
            ModelId::parse(
                "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"
            )
            .map(|m| m.form()),
            Ok(IdForm::Arn)
        );
    }

    #[test]
    fn rejects_unknown_prefixes_and_other_vendors() {
        for bad in [
            "claude-opus-4-8",
            "xx.anthropic.claude-opus-4-8",
            "meta.llama3",
            "",
            "us.meta.llama3",
        ] {
            let err = ModelId::parse(bad).expect_err(bad);
            assert_eq!(err.message, "The provided model identifier is invalid.");
        }
    }

    #[test]
    fn bare_ids_of_new_models_need_an_inference_profile() {
        let bare = ModelId::parse("anthropic.claude-sonnet-4-5-20250929-v1:0").expect("valid");
        let err = bare.check_invocable().expect_err("on-demand refused");
        assert!(err.message.contains("on-demand throughput isn't supported"));
        assert!(
            err.message
                .contains("anthropic.claude-sonnet-4-5-20250929-v1:0")
        );
        let old = ModelId::parse("anthropic.claude-3-5-haiku-20241022-v1:0").expect("valid");
        assert_eq!(old.check_invocable(), Ok(()));
        let profile =
            ModelId::parse("us.anthropic.claude-sonnet-4-5-20250929-v1:0").expect("valid");
        assert_eq!(profile.check_invocable(), Ok(()));
    }

    #[test]
    fn only_bare_countable_ids_can_count_tokens() {
        assert_eq!(
            ModelId::parse("anthropic.claude-sonnet-4-5-20250929-v1:0")
                .expect("valid")
                .check_countable(),
            Ok(())
        );
        for id in [
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "anthropic.claude-opus-4-8",
            "anthropic.claude-fable-1",
        ] {
            let err = ModelId::parse(id)
                .expect("valid")
                .check_countable()
                .expect_err(id);
            assert_eq!(
                err.message,
                "The provided model doesn't support counting tokens."
            );
        }
    }

    #[test]
    fn anthropic_name_drops_prefixes_and_revision() {
        let name = |id: &str| ModelId::parse(id).expect("valid").anthropic_name();
        assert_eq!(name("us.anthropic.claude-opus-4-8"), "claude-opus-4-8");
        assert_eq!(
            name("anthropic.claude-sonnet-4-5-20250929-v1:0"),
            "claude-sonnet-4-5-20250929"
        );
        assert_eq!(
            name(
                "arn:aws:bedrock:us-east-1:1:inference-profile/eu.anthropic.claude-haiku-4-5-20251001-v1:0"
            ),
            "claude-haiku-4-5-20251001"
        );
        assert_eq!(
            name("arn:aws:bedrock:us-east-1:1:application-inference-profile/x1"),
            "claude-sim"
        );
    }
}
