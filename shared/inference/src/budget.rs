//! Budgets in the admission step: reading the caller's budget state (three settings and six period counters, one
//! store round trip, cached for a few seconds per user and team). What the state decides, the
//! `x-sluice-budget-*` headers and the block answer are `sluice_core::admission::BudgetVerdict`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sluice_core::spend::budget::{BudgetState, inputs_to_read};
use sluice_core::store::{Store, StoreError};

use sluice_http::auth::TtlCache;

/// Reads and caches budget states.
pub struct BudgetGate {
    cache: TtlCache<Arc<BudgetState>>,
}

impl BudgetGate {
    /// States are trusted for `ttl`: a threshold crossing acts within the spend consumer's delay plus `ttl`.
    #[must_use]
    pub fn new(ttl: Duration) -> Self {
        Self {
            cache: TtlCache::new(ttl),
        }
    }

    /// The budget state of a caller; `None` for callers with neither user nor team (no budget can apply).
    ///
    /// # Errors
    /// The store could not be read.
    pub async fn state(
        &self,
        store: &dyn Store,
        user_id: Option<&str>,
        team_id: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Option<Arc<BudgetState>>, StoreError> {
        if user_id.is_none() && team_id.is_none() {
            return Ok(None);
        }
        let cache_key = format!("{}\u{0}{}", user_id.unwrap_or(""), team_id.unwrap_or(""));
        let now = Instant::now();
        if let Some(state) = self.cache.get(&cache_key, now) {
            return Ok(Some(state));
        }
        let (settings, counters) = inputs_to_read(user_id, team_id, at);
        let (settings, counters) = store.budget_inputs(&settings, &counters).await?;
        let state = Arc::new(BudgetState::from_store(
            user_id, team_id, &settings, &counters,
        ));
        for problem in &state.problems {
            tracing::warn!(key = %problem.key, error = %problem.message, "budget setting ignored");
        }
        self.cache.put(cache_key, Arc::clone(&state), now);
        Ok(Some(state))
    }
}
