//! Gateway settings, read once at start-up from the environment.

use std::collections::BTreeMap;
use std::time::Duration;

use sluice_core::models::region_prefix;

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Geography prefix for inference profiles (`us`, `eu`, `apac`, `au`, `jp`, `us-gov`, `global`).
    pub model_prefix: String,
    /// Administrator model mappings: Anthropic id → Bedrock id / profile / ARN.
    pub model_map: BTreeMap<String, String>,
    /// Silence after which a `ping` event is sent on a stream.
    pub ping_interval: Duration,
    /// How long a key lookup is trusted in a warm instance (revocations take at most this long).
    pub key_cache_ttl: Duration,
    /// How long a caller's budget state (limits and period spend) is trusted in a warm instance.
    pub budget_cache_ttl: Duration,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// The AWS region Bedrock is called in (for the usage record).
    pub region: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}: {problem}")]
    Invalid { name: &'static str, problem: String },
}

impl GatewayConfig {
    /// Reads `SLUICE_MODEL_PREFIX`, `SLUICE_MODEL_MAP`, `SLUICE_PING_SECS`, `SLUICE_KEY_CACHE_SECS`,
    /// `SLUICE_BUDGET_CACHE_SECS`, `SLUICE_MAX_BODY_MB`.
    /// `region` is the AWS region, used for the prefix when none is configured.
    ///
    /// # Errors
    /// A variable that is set but cannot be understood, naming it.
    #[expect(
        clippy::disallowed_methods,
        reason = "start-up configuration, called once from a binary's main"
    )]
    pub fn from_env(region: &str) -> Result<Self, ConfigError> {
        Self::from_lookup(region, |k| std::env::var(k).ok())
    }

    /// As `from_env`, with the variables supplied by `get` (tests).
    ///
    /// # Errors
    /// As `from_env`.
    pub fn from_lookup(
        region: &str,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let prefix = get("SLUICE_MODEL_PREFIX").filter(|p| !p.trim().is_empty());
        let model_prefix =
            prefix.map_or_else(|| region_prefix(region).to_owned(), |p| p.trim().to_owned());
        let model_map = match get("SLUICE_MODEL_MAP") {
            Some(raw) if !raw.trim().is_empty() => parse_model_map(&raw)?,
            _ => BTreeMap::new(),
        };
        let secs = |name: &'static str, default: f64| -> Result<Duration, ConfigError> {
            match get(name) {
                None => Ok(Duration::from_secs_f64(default)),
                Some(v) => v
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| ConfigError::Invalid {
                        name,
                        problem: format!("expected seconds, got {v:?}"),
                    }),
            }
        };
        let max_body_mb = secs("SLUICE_MAX_BODY_MB", 32.0)?.as_secs_f64();
        Ok(Self {
            model_prefix,
            model_map,
            ping_interval: secs("SLUICE_PING_SECS", 10.0)?,
            key_cache_ttl: secs("SLUICE_KEY_CACHE_SECS", 5.0)?,
            budget_cache_ttl: secs("SLUICE_BUDGET_CACHE_SECS", 5.0)?,
            max_body_bytes: (max_body_mb * 1024.0 * 1024.0) as usize,
            region: Some(region.to_owned()).filter(|r| !r.is_empty()),
        })
    }
}

/// `SLUICE_MODEL_MAP`: a JSON object (`{"claude-opus-4-8":"arn:..."}`) or `id=target` pairs separated by commas.
pub(crate) fn parse_model_map(raw: &str) -> Result<BTreeMap<String, String>, ConfigError> {
    let bad = |problem: String| ConfigError::Invalid {
        name: "SLUICE_MODEL_MAP",
        problem,
    };
    if raw.trim_start().starts_with('{') {
        return serde_json::from_str(raw)
            .map_err(|e| bad(format!("not a JSON object of strings: {e}")));
    }
    raw.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| bad(format!("{pair:?} is not id=target")))?;
            Ok((k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn prefix_comes_from_region_unless_configured() {
        assert_eq!(
            GatewayConfig::from_lookup("eu-west-1", lookup(&[]))
                .expect("ok")
                .model_prefix,
            "eu"
        );
        let c =
            GatewayConfig::from_lookup("eu-west-1", lookup(&[("SLUICE_MODEL_PREFIX", "global")]))
                .expect("ok");
        assert_eq!(c.model_prefix, "global");
    }

    #[test]
    fn model_map_accepts_json_and_pairs_and_names_bad_input() {
        let c =
            GatewayConfig::from_lookup("us-east-1", lookup(&[("SLUICE_MODEL_MAP", "a=b, c = d")]))
                .expect("ok");
        assert_eq!(c.model_map.get("c").map(String::as_str), Some("d"));
        let c = GatewayConfig::from_lookup(
            "us-east-1",
            lookup(&[("SLUICE_MODEL_MAP", r#"{"x":"y"}"#)]),
        )
        .expect("ok");
        assert_eq!(c.model_map.get("x").map(String::as_str), Some("y"));
        let err =
            GatewayConfig::from_lookup("us-east-1", lookup(&[("SLUICE_MODEL_MAP", "nonsense")]))
                .expect_err("bad");
        assert!(err.to_string().starts_with("SLUICE_MODEL_MAP"));
        let err = GatewayConfig::from_lookup("us-east-1", lookup(&[("SLUICE_PING_SECS", "soon")]))
            .expect_err("bad");
        assert!(err.to_string().starts_with("SLUICE_PING_SECS"));
    }
}
