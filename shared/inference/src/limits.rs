//! The org-wide limits in the admission step: the per-person rate limit and the allowlist of raw Bedrock ids
//! (their meaning is `sluice_core::limits`).
//!
//! The two admission settings are read together in one store round trip and trusted for the budget cache time
//! (`SLUICE_BUDGET_CACHE_SECS`, 5 s) per warm instance, so a change acts within that time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_core::limits::{
    OrgLimits, SETTING_ALLOWED_BEDROCK_MODELS, SETTING_PERSON_RATE_LIMIT_RPM,
};
use sluice_core::store::{Store, StoreError};

use sluice_http::auth::TtlCache;

/// Reads and caches [`OrgLimits`].
pub struct LimitsGate {
    cache: TtlCache<Arc<OrgLimits>>,
}

impl LimitsGate {
    #[must_use]
    pub fn new(ttl: Duration) -> Self {
        Self {
            cache: TtlCache::new(ttl),
        }
    }

    /// The limits in force: cached, else both settings in one store round trip.
    ///
    /// # Errors
    /// The store could not be read.
    pub async fn limits(&self, store: &dyn Store) -> Result<Arc<OrgLimits>, StoreError> {
        let now = Instant::now();
        if let Some(limits) = self.cache.get("", now) {
            return Ok(limits);
        }
        let keys = [
            SETTING_PERSON_RATE_LIMIT_RPM.to_owned(),
            SETTING_ALLOWED_BEDROCK_MODELS.to_owned(),
        ];
        let (settings, _) = store.budget_inputs(&keys, &[]).await?;
        let limits = Arc::new(OrgLimits::from_settings(
            settings
                .get(SETTING_PERSON_RATE_LIMIT_RPM)
                .map(String::as_str),
            settings
                .get(SETTING_ALLOWED_BEDROCK_MODELS)
                .map(String::as_str),
        ));
        self.cache.put(String::new(), Arc::clone(&limits), now);
        Ok(limits)
    }
}
