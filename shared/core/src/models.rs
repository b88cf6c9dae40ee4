//! Model catalogue and id mapping: the Anthropic id a client asks for → the Bedrock id to invoke.
//!
//! Rules (learned from CCAG's incidents): exact match on the catalogue or a configured mapping, then a date-suffix
//! fallback only — never a loose prefix match (that once routed Opus 4.8 to a retired Opus 4.0). Ids that already are
//! Bedrock ids or ARNs pass through, marked `ModelSource::Raw` so the gateway can hold them to the configured
//! geography (`crate::model_access`). `[1m]`-style suffixes are stripped and remembered.

use std::collections::BTreeMap;

use crate::capabilities::{Capabilities, capabilities_for};

/// One model Sluice knows how to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogEntry {
    /// The Anthropic id clients use (`claude-opus-4-8`).
    pub id: &'static str,
    /// Dated aliases that mean the same model (`claude-sonnet-4-5-20250929`).
    pub aliases: &'static [&'static str],
    /// The foundation-model id on Bedrock (`anthropic.claude-opus-4-8`); CountTokens wants this one.
    pub bedrock_base: &'static str,
    pub display_name: &'static str,
    /// RFC 3339 release date for `/v1/models`.
    pub created_at: &'static str,
}

/// Shipped catalogue, newest first (the order `/v1/models` lists).
pub const CATALOG: &[CatalogEntry] = &[
    CatalogEntry {
        id: "claude-fable-5",
        aliases: &[],
        bedrock_base: "anthropic.claude-fable-5",
        display_name: "Claude Fable 5",
        created_at: "2026-09-01T00:00:00Z",
    },
    CatalogEntry {
        id: "claude-opus-4-8",
        aliases: &[],
        bedrock_base: "anthropic.claude-opus-4-8",
        display_name: "Claude Opus 4.8",
        created_at: "2026-06-01T00:00:00Z",
    },
    CatalogEntry {
        id: "claude-opus-4-7",
        aliases: &[],
        bedrock_base: "anthropic.claude-opus-4-7",
        display_name: "Claude Opus 4.7",
        created_at: "2026-04-16T00:00:00Z",
    },
    CatalogEntry {
        id: "claude-opus-4-6",
        aliases: &["claude-opus-4-6-20250605"],
        bedrock_base: "anthropic.claude-opus-4-6-v1",
        display_name: "Claude Opus 4.6",
        created_at: "2026-02-05T00:00:00Z",
    },
    CatalogEntry {
        id: "claude-sonnet-4-6",
        aliases: &["claude-sonnet-4-6-20250514"],
        bedrock_base: "anthropic.claude-sonnet-4-6",
        display_name: "Claude Sonnet 4.6",
        created_at: "2026-02-17T00:00:00Z",
    },
    CatalogEntry {
        id: "claude-opus-4-5",
        aliases: &["claude-opus-4-5-20251101"],
        bedrock_base: "anthropic.claude-opus-4-5-20251101-v1:0",
        display_name: "Claude Opus 4.5",
        created_at: "2025-11-24T00:00:00Z",
    },
    CatalogEntry {
        id: "claude-haiku-4-5",
        aliases: &["claude-haiku-4-5-20251001"],
        bedrock_base: "anthropic.claude-haiku-4-5-20251001-v1:0",
        display_name: "Claude Haiku 4.5",
        created_at: "2025-10-15T00:00:00Z",
    },
    CatalogEntry {
        id: "claude-sonnet-4-5",
        aliases: &["claude-sonnet-4-5-20250929"],
        bedrock_base: "anthropic.claude-sonnet-4-5-20250929-v1:0",
        display_name: "Claude Sonnet 4.5",
        created_at: "2025-09-29T00:00:00Z",
    },
    CatalogEntry {
        id: "claude-opus-4-1",
        aliases: &["claude-opus-4-1-20250805"],
        bedrock_base: "anthropic.claude-opus-4-1-20250805-v1:0",
        display_name: "Claude Opus 4.1",
        created_at: "2025-08-05T00:00:00Z",
    },
    CatalogEntry {
        id: "claude-sonnet-4",
        aliases: &["claude-sonnet-4-20250514"],
        bedrock_base: "anthropic.claude-sonnet-4-20250514-v1:0",
        display_name: "Claude Sonnet 4",
        created_at: "2025-05-22T00:00:00Z",
    },
];

/// Bedrock's geography prefix for cross-region inference profiles, from the AWS region.
#[must_use]
pub fn region_prefix(region: &str) -> &'static str {
    if region.starts_with("us-gov") {
        "us-gov"
    } else if region.starts_with("us-") || region.starts_with("ca-") {
        "us"
    } else if region.starts_with("eu-") {
        "eu"
    } else if matches!(region, "ap-southeast-2" | "ap-southeast-4") {
        "au"
    } else if region == "ap-northeast-1" {
        "jp"
    } else if region.starts_with("ap-") || region.starts_with("me-") {
        "apac"
    } else {
        "us"
    }
}

/// What a requested model resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedModel {
    /// Exactly what the client sent; responses carry this back as `model`.
    pub requested: String,
    /// The id or ARN to put in the Bedrock URL.
    pub invoke_id: String,
    /// The foundation-model id for CountTokens, when known.
    pub count_id: Option<String>,
    /// A stable name for per-model learning and capability lookup (`claude-opus-4-8`, or the raw id).
    pub family: String,
    /// The client asked for the 1M-context variant (`[1m]`).
    pub long_context: bool,
    pub capabilities: Capabilities,
    /// How the id was resolved; raw ids are checked against the residency rules (`crate::model_access`).
    pub source: ModelSource,
}

/// How a requested id became a Bedrock id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSource {
    /// A catalogued id, routed through the configured geography's inference profile.
    Catalog,
    /// An administrator mapping (`SLUICE_MODEL_MAP`), used verbatim.
    Mapped,
    /// A Bedrock id, profile id or ARN the client sent, passed through.
    Raw,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    #[error("model: {0} is not a model Sluice serves; known models: {1}")]
    Unknown(String, String),
    #[error("model: an empty model id is not valid")]
    Empty,
}

/// Maps requested ids with the catalogue, a routing prefix and administrator mappings.
#[derive(Debug, Clone)]
pub struct ModelResolver {
    prefix: String,
    /// Administrator mappings: Anthropic id → Bedrock id, profile id or ARN (used verbatim).
    custom: BTreeMap<String, String>,
}

impl ModelResolver {
    pub fn new(prefix: impl Into<String>, custom: BTreeMap<String, String>) -> Self {
        Self {
            prefix: prefix.into(),
            custom,
        }
    }

    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Resolves a requested model id.
    ///
    /// # Errors
    /// `ModelError::Unknown` for an Anthropic-style id that is neither catalogued nor mapped.
    pub fn resolve(&self, requested: &str) -> Result<ResolvedModel, ModelError> {
        let (bare, suffix) = split_variant_suffix(requested.trim());
        if bare.is_empty() {
            return Err(ModelError::Empty);
        }
        let long_context = suffix.is_some_and(|s| s.eq_ignore_ascii_case("1m"));
        let done = |invoke_id: String,
                    count_id: Option<String>,
                    family: String,
                    source: ModelSource| ResolvedModel {
            requested: requested.to_owned(),
            source,
            capabilities: capabilities_for(&family),
            invoke_id,
            count_id,
            family,
            long_context,
        };

        if let Some(target) = self.custom_lookup(bare) {
            let entry = catalog_entry_in(target);
            return Ok(done(
                target.to_owned(),
                entry.map(|e| e.bedrock_base.to_owned()),
                entry.map_or_else(|| bare.to_owned(), |e| e.id.to_owned()),
                ModelSource::Mapped,
            ));
        }
        if bare.contains('.') || bare.starts_with("arn:") {
            // Already a Bedrock id, a profile id or an ARN: pass through, learn the family if we recognise it.
            let entry = catalog_entry_in(bare);
            return Ok(done(
                bare.to_owned(),
                entry.map(|e| e.bedrock_base.to_owned()),
                entry.map_or_else(|| bare.to_owned(), |e| e.id.to_owned()),
                ModelSource::Raw,
            ));
        }
        let entry = catalog_lookup(bare)
            .or_else(|| strip_date_suffix(bare).and_then(catalog_lookup))
            .ok_or_else(|| ModelError::Unknown(requested.to_owned(), known_ids()))?;
        Ok(done(
            format!("{}.{}", self.prefix, entry.bedrock_base),
            Some(entry.bedrock_base.to_owned()),
            entry.id.to_owned(),
            ModelSource::Catalog,
        ))
    }

    fn custom_lookup(&self, bare: &str) -> Option<&str> {
        self.custom
            .get(bare)
            .or_else(|| strip_date_suffix(bare).and_then(|s| self.custom.get(s)))
            .map(String::as_str)
    }

    /// Custom mapping keys, for `/v1/models`.
    pub fn custom_ids(&self) -> impl Iterator<Item = &str> {
        self.custom.keys().map(String::as_str)
    }
}

fn known_ids() -> String {
    CATALOG.iter().map(|e| e.id).collect::<Vec<_>>().join(", ")
}

fn catalog_lookup(id: &str) -> Option<&'static CatalogEntry> {
    CATALOG
        .iter()
        .find(|e| e.id == id || e.aliases.contains(&id))
}

/// The catalogue entry whose foundation-model id appears in a Bedrock id (`us.anthropic.claude-opus-4-8` → Opus 4.8).
/// Matches the id's segment after the geography prefix exactly, so `claude-opus-4` never matches `claude-opus-4-8`.
fn catalog_entry_in(bedrock_id: &str) -> Option<&'static CatalogEntry> {
    let tail = bedrock_id.rsplit('/').next().unwrap_or(bedrock_id);
    CATALOG.iter().find(|e| {
        tail == e.bedrock_base
            || tail
                .strip_suffix(e.bedrock_base)
                .is_some_and(|p| p.ends_with('.'))
    })
}

/// `claude-x[1m]` → (`claude-x`, Some("1m")). Only a trailing `[word]` counts.
fn split_variant_suffix(id: &str) -> (&str, Option<&str>) {
    if let Some(open) = id.rfind('[')
        && id.ends_with(']')
    {
        let inner = &id[open + 1..id.len() - 1];
        if !inner.is_empty() && inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return (&id[..open], Some(inner));
        }
    }
    (id, None)
}

/// `claude-opus-4-8-20260101` → `claude-opus-4-8`; only an 8-digit date after a dash counts.
fn strip_date_suffix(id: &str) -> Option<&str> {
    let (head, tail) = id.rsplit_once('-')?;
    (tail.len() == 8 && tail.bytes().all(|b| b.is_ascii_digit())).then_some(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver() -> ModelResolver {
        ModelResolver::new("us", BTreeMap::new())
    }

    #[test]
    fn catalogued_id_gets_the_region_prefix_and_base_id_for_counting() {
        let m = resolver().resolve("claude-sonnet-4-5").expect("known");
        assert_eq!(m.invoke_id, "us.anthropic.claude-sonnet-4-5-20250929-v1:0");
        assert_eq!(
            m.count_id.as_deref(),
            Some("anthropic.claude-sonnet-4-5-20250929-v1:0")
        );
        assert_eq!(m.requested, "claude-sonnet-4-5");
    }

    #[test]
    fn dated_alias_and_unknown_date_fall_back_exactly() {
        let r = resolver();
        assert_eq!(
            r.resolve("claude-haiku-4-5-20251001")
                .expect("alias")
                .family,
            "claude-haiku-4-5"
        );
        assert_eq!(
            r.resolve("claude-opus-4-8-20261201")
                .expect("date fallback")
                .family,
            "claude-opus-4-8"
        );
    }

    #[test]
    fn loose_prefixes_never_match() {
        let r = resolver();
        assert!(matches!(
            r.resolve("claude-opus-4"),
            Err(ModelError::Unknown(..))
        ));
        assert!(matches!(
            r.resolve("claude-opus-4-8x"),
            Err(ModelError::Unknown(..))
        ));
        assert!(matches!(
            r.resolve("claude-opus-4-9"),
            Err(ModelError::Unknown(..))
        ));
    }

    #[test]
    fn one_m_suffix_is_stripped_and_remembered() {
        let m = resolver().resolve("claude-opus-4-8[1m]").expect("known");
        assert_eq!(m.invoke_id, "us.anthropic.claude-opus-4-8");
        assert!(m.long_context);
        assert_eq!(m.requested, "claude-opus-4-8[1m]");
    }

    #[test]
    fn bedrock_ids_and_arns_pass_through_with_their_family() {
        let r = resolver();
        let m = r
            .resolve("global.anthropic.claude-opus-4-7")
            .expect("passthrough");
        assert_eq!(
            (m.invoke_id.as_str(), m.family.as_str()),
            ("global.anthropic.claude-opus-4-7", "claude-opus-4-7")
        );
        let arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123";
        let m = r.resolve(arn).expect("arn");
        assert_eq!((m.invoke_id.as_str(), m.count_id), (arn, None));
    }

    #[test]
    fn custom_mapping_wins_and_is_used_verbatim() {
        let custom = BTreeMap::from([(
            "claude-opus-4-8".to_owned(),
            "arn:aws:bedrock:eu-west-1:1:application-inference-profile/x".to_owned(),
        )]);
        let m = ModelResolver::new("eu", custom)
            .resolve("claude-opus-4-8")
            .expect("mapped");
        assert_eq!(
            m.invoke_id,
            "arn:aws:bedrock:eu-west-1:1:application-inference-profile/x"
        );
    }

    #[test]
    fn region_prefixes_follow_bedrock_geographies() {
        let cases = [
            ("us-east-1", "us"),
            ("ca-central-1", "us"),
            ("us-gov-west-1", "us-gov"),
            ("eu-central-1", "eu"),
            ("ap-southeast-2", "au"),
            ("ap-northeast-1", "jp"),
            ("ap-south-1", "apac"),
        ];
        for (region, prefix) in cases {
            assert_eq!(region_prefix(region), prefix, "{region}");
        }
    }
}
