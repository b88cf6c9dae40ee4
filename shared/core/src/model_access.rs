//! Which raw Bedrock ids and ARNs a caller may invoke, so a member cannot step around the configured
//! data-residency geography (an `eu` deployment asked for `global.anthropic.…`) or reach a resource the
//! administrator did not choose (someone's application inference profile, a provisioned model).
//!
//! Catalogued ids and administrator mappings are always allowed: the gateway builds or the admin chose their
//! Bedrock id. A raw id (one containing `.`, or an ARN) is allowed when it is on the allowlist
//! (`allowed_bedrock_models`, exact match), or when:
//! - it starts with a geography (`us.`, `eu.`, `apac.`, `au.`, `jp.`, `ca.`, `us-gov.`, `global.`, any case)
//!   equal to the configured prefix;
//! - it is a bare foundation-model id (`anthropic.claude-…`), which Bedrock runs in the gateway's own region,
//!   and that region lies in the configured geography (its own prefix is the configured one, or the configured
//!   one is `global`);
//! - it is an ARN in the gateway's region naming `inference-profile/<id>` or `foundation-model/<id>` whose id
//!   passes the two rules above.
//!
//! Everything else — `application-inference-profile/…`, `provisioned-model/…`, custom models, ARNs of other
//! regions — needs the allowlist or a mapping. The refusal says why and how an administrator allows it.

use crate::models::region_prefix;

/// The geography prefixes of Bedrock's cross-region inference profiles.
pub const GEOGRAPHIES: [&str; 8] = ["us", "us-gov", "eu", "apac", "au", "jp", "ca", "global"];

/// The settings key of the allowlist, named in refusals.
pub const ALLOWLIST_SETTING: &str = "allowed_bedrock_models";

/// Where the gateway sends models, as configured.
#[derive(Debug, Clone, Copy)]
pub struct Residency<'a> {
    /// The configured geography prefix (`eu`, `global`, …).
    pub prefix: &'a str,
    /// The AWS region the gateway calls Bedrock in, when known.
    pub region: Option<&'a str>,
}

impl Residency<'_> {
    /// Bedrock runs a bare foundation-model id in the gateway's region: inside the geography when that region's
    /// own prefix is the configured one, or when the configured one is `global`.
    fn region_inside(&self) -> bool {
        self.prefix.eq_ignore_ascii_case("global")
            || self
                .region
                .is_some_and(|r| region_prefix(r).eq_ignore_ascii_case(self.prefix))
    }

    fn how_to_allow(&self, id: &str) -> String {
        format!(
            "An administrator can allow it by adding {id:?} to the {ALLOWLIST_SETTING} setting (PUT /admin/settings/{ALLOWLIST_SETTING}) or by mapping a model name to it (SLUICE_MODEL_MAP); otherwise use a Claude model name such as claude-sonnet-4-5, which this gateway routes through `{}.` inference profiles.",
            self.prefix
        )
    }
}

/// A raw id or ARN refused: the refusal the caller reads, with how an administrator allows it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("model: {id} is not allowed: {reason}. {how_to_allow}")]
pub struct RawModelRefused {
    pub id: String,
    pub reason: RefusalReason,
    how_to_allow: String,
}

/// Why a raw id or ARN is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefusalReason {
    #[error("it is not a Bedrock ARN")]
    NotBedrockArn,
    #[error("it names region {named:?}, and this gateway calls Bedrock in {ours:?}")]
    OtherRegion { named: String, ours: String },
    #[error("{0} resources are opened by an administrator only")]
    AdministratorOnly(String),
    #[error(
        "its `{geography}.` inference profile would route outside this gateway's `{configured}` geography"
    )]
    ProfileOutside {
        geography: String,
        configured: String,
    },
    #[error(
        "a foundation-model id runs in {region:?}, which is outside this gateway's `{configured}` geography"
    )]
    RegionOutside { region: String, configured: String },
}

/// Whether a raw Bedrock id or ARN may be invoked; `Err` is the refusal.
///
/// # Errors
/// The id is outside the configured geography or region, or is a resource only an administrator may open.
pub fn check_raw_id(
    id: &str,
    residency: Residency<'_>,
    allowlist: &[String],
) -> Result<(), RawModelRefused> {
    if allowlist.iter().any(|allowed| allowed.trim() == id) {
        return Ok(());
    }
    let refuse = |reason: RefusalReason| {
        Err(RawModelRefused {
            id: id.to_owned(),
            reason,
            how_to_allow: residency.how_to_allow(id),
        })
    };
    if let Some(rest) = id.strip_prefix("arn:") {
        // arn:<partition>:bedrock:<region>:<account>:<resource type>/<resource id>
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let [_partition, service, region, _account, resource] = parts[..] else {
            return refuse(RefusalReason::NotBedrockArn);
        };
        if service != "bedrock" {
            return refuse(RefusalReason::NotBedrockArn);
        }
        if residency.region != Some(region) {
            return refuse(RefusalReason::OtherRegion {
                named: region.to_owned(),
                ours: residency.region.unwrap_or("another region").to_owned(),
            });
        }
        let (kind, inner) = resource.split_once('/').unwrap_or((resource, ""));
        return match kind {
            "inference-profile" | "foundation-model" if !inner.is_empty() => {
                id_rule(inner, residency).or_else(refuse)
            }
            _ => refuse(RefusalReason::AdministratorOnly(kind.to_owned())),
        };
    }
    id_rule(id, residency).or_else(refuse)
}

/// The rule for a profile or foundation-model id (no ARN); `Err` is the reason.
fn id_rule(id: &str, residency: Residency<'_>) -> Result<(), RefusalReason> {
    let first = id.split('.').next().unwrap_or(id).to_ascii_lowercase();
    if GEOGRAPHIES.contains(&first.as_str()) {
        if first.eq_ignore_ascii_case(residency.prefix) {
            return Ok(());
        }
        return Err(RefusalReason::ProfileOutside {
            geography: first,
            configured: residency.prefix.to_owned(),
        });
    }
    if residency.region_inside() {
        return Ok(());
    }
    Err(RefusalReason::RegionOutside {
        region: residency
            .region
            .unwrap_or("the gateway's region")
            .to_owned(),
        configured: residency.prefix.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EU: Residency<'static> = Residency {
        prefix: "eu",
        region: Some("eu-west-1"),
    };

    fn allowed(id: &str, residency: Residency<'_>) -> bool {
        check_raw_id(id, residency, &[]).is_ok()
    }

    #[test]
    fn a_global_profile_under_an_eu_configuration_is_refused_with_the_way_to_allow_it() {
        let err = check_raw_id("global.anthropic.claude-opus-4-7", EU, &[])
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("`global.` inference profile would route outside"),
            "{err}"
        );
        assert!(err.contains("allowed_bedrock_models"), "{err}");
        assert!(
            !allowed("GLOBAL.anthropic.claude-opus-4-7", EU),
            "case does not help"
        );
    }

    #[test]
    fn another_geography_is_refused_and_the_configured_one_allowed() {
        assert!(!allowed("us.anthropic.claude-3-5-haiku-20241022-v1:0", EU));
        assert!(!allowed(
            "us-gov.anthropic.claude-3-5-haiku-20241022-v1:0",
            EU
        ));
        assert!(allowed("eu.anthropic.claude-3-5-haiku-20241022-v1:0", EU));
        let global = Residency {
            prefix: "global",
            region: Some("us-east-1"),
        };
        assert!(allowed("global.anthropic.claude-opus-4-7", global));
        assert!(
            !allowed("us.anthropic.claude-opus-4-7", global),
            "only the configured prefix"
        );
    }

    #[test]
    fn a_bare_foundation_model_id_is_allowed_only_when_the_region_lies_in_the_geography() {
        assert!(allowed("anthropic.claude-3-5-haiku-20241022-v1:0", EU));
        let odd = Residency {
            prefix: "eu",
            region: Some("us-east-1"),
        };
        assert!(!allowed("anthropic.claude-3-5-haiku-20241022-v1:0", odd));
        let unknown = Residency {
            prefix: "eu",
            region: None,
        };
        assert!(!allowed(
            "anthropic.claude-3-5-haiku-20241022-v1:0",
            unknown
        ));
    }

    #[test]
    fn arns_must_be_in_the_gateways_region_and_geography() {
        let here = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-5-20250929-v1:0";
        assert!(allowed(here, EU));
        let elsewhere = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-5-20250929-v1:0";
        let err = check_raw_id(elsewhere, EU, &[])
            .expect_err("refused")
            .to_string();
        assert!(err.contains("region \"us-east-1\""), "{err}");
        let global_here = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/global.anthropic.claude-sonnet-4-5";
        assert!(!allowed(global_here, EU));
        assert!(allowed(
            "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
            EU
        ));
    }

    #[test]
    fn application_profiles_and_other_resources_need_the_allowlist() {
        let app = "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/abc123";
        let err = check_raw_id(app, EU, &[]).expect_err("refused").to_string();
        assert!(
            err.contains("application-inference-profile resources are opened by an administrator"),
            "{err}"
        );
        assert!(check_raw_id(app, EU, &[app.to_owned()]).is_ok());
        assert!(!allowed(
            "arn:aws:bedrock:eu-west-1:1:provisioned-model/x",
            EU
        ));
        assert!(!allowed("arn:aws:s3:::bucket", EU));
        assert!(!allowed("arn:aws:bedrock:eu-west-1", EU));
    }

    #[test]
    fn an_allowlisted_id_is_allowed_exactly() {
        let list = vec!["global.anthropic.claude-opus-4-7".to_owned()];
        assert!(check_raw_id("global.anthropic.claude-opus-4-7", EU, &list).is_ok());
        assert!(check_raw_id("global.anthropic.claude-opus-4-8", EU, &list).is_err());
    }
}
