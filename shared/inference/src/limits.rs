//! The org-wide limits in the admission step: the per-person rate limit, the allowlist of raw Bedrock ids (their
//! meaning is `sluice_core::limits`) and the policy document (`sluice_core::policy`).
//!
//! The three are read together in one store round trip and trusted for the budget cache time
//! (`SLUICE_BUDGET_CACHE_SECS`, 5 s) per warm instance, so a change acts within that time and a warm request
//! reads none of them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_core::limits::{
    OrgLimits, SETTING_ALLOWED_BEDROCK_MODELS, SETTING_PERSON_RATE_LIMIT_RPM,
};
use sluice_core::policy::{PolicyDocument, PolicySet, ValidationError};
use sluice_core::store::{POLICIES_SETTING, Store, StoreError};

use sluice_http::auth::TtlCache;

/// What the admission step reads once per cache period.
#[derive(Debug)]
pub struct Limits {
    pub org: OrgLimits,
    /// The compiled policy document; `Err` when the stored one cannot be read, and then every request is refused
    /// (a policy is a restriction: failing open would lift it).
    pub policies: Result<PolicySet, ValidationError>,
}

/// Reads and caches [`Limits`].
pub struct LimitsGate {
    cache: TtlCache<Arc<Limits>>,
}

impl LimitsGate {
    #[must_use]
    pub fn new(ttl: Duration) -> Self {
        Self {
            cache: TtlCache::new(ttl),
        }
    }

    /// The limits in force: cached, else the three settings in one store round trip.
    ///
    /// # Errors
    /// The store could not be read.
    pub async fn limits(&self, store: &dyn Store) -> Result<Arc<Limits>, StoreError> {
        let now = Instant::now();
        if let Some(limits) = self.cache.get("", now) {
            return Ok(limits);
        }
        let keys = [
            SETTING_PERSON_RATE_LIMIT_RPM.to_owned(),
            SETTING_ALLOWED_BEDROCK_MODELS.to_owned(),
            POLICIES_SETTING.to_owned(),
        ];
        let (settings, _) = store.budget_inputs(&keys, &[]).await?;
        let org = OrgLimits::from_settings(
            settings
                .get(SETTING_PERSON_RATE_LIMIT_RPM)
                .map(String::as_str),
            settings
                .get(SETTING_ALLOWED_BEDROCK_MODELS)
                .map(String::as_str),
        );
        let policies = match settings.get(POLICIES_SETTING) {
            None => Ok(PolicySet::default()),
            Some(text) => PolicyDocument::from_json(text)
                .and_then(|doc| PolicySet::compile(&doc))
                .inspect_err(|e| {
                    tracing::error!(error = %e, "the stored policy document cannot be read; refusing requests");
                }),
        };
        let limits = Arc::new(Limits { org, policies });
        self.cache.put(String::new(), Arc::clone(&limits), now);
        Ok(limits)
    }
}
