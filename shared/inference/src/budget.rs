//! Budgets in the admission step: the caller's budget state (three settings and six period counters, one
//! store round trip, cached for a few seconds per user and team), the decision that acts, the
//! `x-sluice-budget-*` headers every answer carries when a budget applies, and the block answer.
//!
//! The block answer is 429 `billing_error` with `x-should-retry: false` and `retry-after` set to the seconds
//! until the period resets. Claude Code (2.1.x) retries 429s up to ten times unless `x-should-retry` is
//! `false` or `retry-after` exceeds 60 s; both hold here, so it shows the message at once (the end-to-end
//! test runs the real CLI against a blocked user and counts its requests).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_core::spend::budget::{AppliedBudget, BudgetState, inputs_to_read};
use sluice_core::spend::money::{Rounding, format_usd};
use sluice_core::spend::policy::BudgetStatus;
use sluice_core::spend::scope::BudgetScope;
use sluice_core::store::{Store, StoreError};

use sluice_http::auth::TtlCache;

pub const STATUS_HEADER: &str = "x-sluice-budget-status";
pub const PERCENT_HEADER: &str = "x-sluice-budget-percent";
pub const REMAINING_HEADER: &str = "x-sluice-budget-remaining-usd";
pub const RESETS_HEADER: &str = "x-sluice-budget-resets";

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

/// The budget acting on one request.
#[derive(Debug, Clone)]
pub struct BudgetVerdict {
    pub budget: AppliedBudget,
}

impl BudgetVerdict {
    #[must_use]
    pub fn judge(state: &BudgetState, at: DateTime<Utc>) -> Option<Self> {
        state.judge(at).map(|budget| Self { budget })
    }

    #[must_use]
    pub fn status(&self) -> BudgetStatus {
        self.budget.scoped.decision.status
    }

    /// The four `x-sluice-budget-*` headers.
    #[must_use]
    pub fn headers(&self) -> [(&'static str, String); 4] {
        let decision = &self.budget.scoped.decision;
        [
            (STATUS_HEADER, decision.status.as_str().to_owned()),
            (PERCENT_HEADER, decision.percent_text()),
            (
                REMAINING_HEADER,
                format_usd(decision.remaining_micros.unwrap_or(0), Rounding::Down),
            ),
            (RESETS_HEADER, self.budget.window.resets_rfc3339()),
        ]
    }

    /// The answer to a blocked request.
    #[must_use]
    pub fn block_error(&self, now: DateTime<Utc>) -> ApiError {
        let scoped = &self.budget.scoped;
        let whose = match scoped.scope {
            BudgetScope::User => "Your",
            BudgetScope::Team => "Your team's",
        };
        let resets = self.budget.window.resets_rfc3339();
        let message = format!(
            "{whose} {} budget is used up: ${} spent of ${}. It resets at {resets}. Ask an administrator to raise the limit if you need more before then.",
            scoped.period,
            format_usd(scoped.spend_micros, Rounding::Nearest),
            format_usd(scoped.limit_micros.unwrap_or(0), Rounding::Nearest),
        );
        let wait = (self.budget.window.next_reset - now).num_seconds().max(1);
        let mut error = ApiError::new(ApiErrorKind::Billing, message)
            .with_retry_after(u64::try_from(wait).unwrap_or(1))
            .with_header("x-should-retry", "false");
        for (name, value) in self.headers() {
            error = error.with_header(name, value);
        }
        error
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::TimeZone;
    use sluice_core::spend::ledger::{COST, Counter};

    use super::*;

    fn verdict(spent: u64) -> BudgetVerdict {
        let settings = HashMap::from([(
            "budget.user.u1".to_owned(),
            r#"{"limit_micros":10000000,"period":"daily"}"#.to_owned(),
        )]);
        let mut counter = Counter::default();
        counter.values.insert(COST.to_owned(), spent);
        let counters = HashMap::from([("spend#user#u1#d2026-11-22".to_owned(), counter)]);
        let state = BudgetState::from_store(Some("u1"), None, &settings, &counters);
        BudgetVerdict::judge(&state, at()).expect("a budget applies")
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 23, 0, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn headers_carry_status_percent_remaining_and_reset() {
        let headers = verdict(8_512_345).headers();
        assert_eq!(
            headers,
            [
                (STATUS_HEADER, "warning".to_owned()),
                (PERCENT_HEADER, "85.1".to_owned()),
                (REMAINING_HEADER, "1.48".to_owned()),
                (RESETS_HEADER, "2026-11-23T00:00:00Z".to_owned()),
            ]
        );
    }

    #[test]
    fn the_block_says_spend_limit_and_reset_and_stops_client_retries() {
        let v = verdict(10_004_999);
        assert_eq!(v.status(), BudgetStatus::Blocked);
        let error = v.block_error(at());
        assert_eq!(error.status(), 429);
        assert_eq!(error.body()["error"]["type"], "billing_error");
        let message = error.message.clone();
        assert!(message.contains("$10.00 spent of $10.00"), "{message}");
        assert!(message.contains("2026-11-23T00:00:00Z"), "{message}");
        // One hour to midnight: beyond Claude Code's 60 s retry horizon.
        assert_eq!(error.retry_after_secs, Some(3600));
        let headers: HashMap<_, _> = error.headers.iter().cloned().collect();
        assert_eq!(
            headers.get("x-should-retry").map(String::as_str),
            Some("false")
        );
        assert_eq!(
            headers.get(STATUS_HEADER).map(String::as_str),
            Some("blocked")
        );
        assert_eq!(
            headers.get(REMAINING_HEADER).map(String::as_str),
            Some("0.00")
        );
    }
}
