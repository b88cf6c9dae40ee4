//! Exact per-key rate limits on the store's conditional counters (see `sluice_core::ratelimit` for the arithmetic).
//!
//! Every admission is one conditional increment. The previous window's count is read once per window per warm
//! instance and cached: a closed window changes no more (stragglers aside), and that keeps the steady state at one
//! store round trip per request.

use std::collections::HashMap;
use std::sync::Mutex;

use sluice_core::ratelimit::{admit_bound, position, retry_after_secs};
use sluice_core::store::{CounterStore, StoreError};

/// Requests-per-minute windows.
pub const WINDOW_S: i64 = 60;

pub use sluice_core::ratelimit::Admission;

#[derive(Debug, Default)]
pub struct RateLimiter {
    previous: Mutex<HashMap<(String, i64), u64>>,
}

impl RateLimiter {
    /// Admits one request for `scope` under `limit` per minute. `limit == 0` means unlimited (no store call).
    ///
    /// # Errors
    /// When the store cannot answer; callers fail closed with a retryable error.
    pub async fn admit(
        &self,
        store: &dyn CounterStore,
        scope: &str,
        limit: u64,
        now_ms: i64,
    ) -> Result<Admission, StoreError> {
        if limit == 0 {
            return Ok(Admission::Admitted { count: 0 });
        }
        let pos = position(now_ms, WINDOW_S);
        let previous = self
            .previous_count(store, scope, pos.previous_start_s)
            .await?;
        let bound = admit_bound(limit, previous, &pos);
        // Windows outlive the next window (which reads them as "previous"), plus slack for clock skew.
        let expires_at_s = pos.start_s + 2 * WINDOW_S + 60;
        if bound > 0
            && let Some(count) = store
                .increment_below(scope, pos.start_s, bound, expires_at_s)
                .await?
        {
            return Ok(Admission::Admitted { count });
        }
        let current = store.window_count(scope, pos.start_s).await?;
        Ok(Admission::Refused {
            retry_after_secs: retry_after_secs(limit, previous, current, &pos),
        })
    }

    /// Reads the previous window's count for `scope` unless it is cached: done alongside the key lookup on a cold
    /// instance, so the admission that follows needs only its conditional increment.
    ///
    /// # Errors
    /// When the store cannot answer.
    pub async fn warm(
        &self,
        store: &dyn CounterStore,
        scope: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let pos = position(now_ms, WINDOW_S);
        self.previous_count(store, scope, pos.previous_start_s)
            .await
            .map(|_| ())
    }

    /// Whether the previous window's count for `scope` is cached.
    #[must_use]
    pub fn is_warm(&self, scope: &str, now_ms: i64) -> bool {
        let pos = position(now_ms, WINDOW_S);
        self.lock()
            .contains_key(&(scope.to_owned(), pos.previous_start_s))
    }

    async fn previous_count(
        &self,
        store: &dyn CounterStore,
        scope: &str,
        start_s: i64,
    ) -> Result<u64, StoreError> {
        let key = (scope.to_owned(), start_s);
        if let Some(n) = self.lock().get(&key) {
            return Ok(*n);
        }
        let n = store.window_count(scope, start_s).await?;
        let mut map = self.lock();
        // Entries for older windows are useless now.
        map.retain(|(_, s), _| *s >= start_s);
        map.insert(key, n);
        Ok(n)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, i64), u64>> {
        self.previous
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
