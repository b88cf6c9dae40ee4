//! The gateway's admission decision: given what the rate-limit counters and the budget state said, whether a
//! request goes on and the refusal its caller sees. The gateway reads the counters and the budget in one store
//! round trip and asks this module; the order of the checks and their wording are decided here.
//!
//! Order: the person's limit (across every sign-in and key they own), then the key's own limit, then the budget
//! (blocked, or shaped to a slower rate on its own counter).
//!
//! The budget's block answer is 429 `billing_error` with `x-should-retry: false` and `retry-after` set to the
//! seconds until the period resets. Claude Code (2.1.x) retries 429s up to ten times unless `x-should-retry` is
//! `false` or `retry-after` exceeds 60 s; both hold here, so it shows the message at once (the end-to-end test runs
//! the real CLI against a blocked user and counts its requests).

use chrono::{DateTime, Utc};

use crate::error::{ApiError, ApiErrorKind};
use crate::ratelimit::Admission;
use crate::spend::budget::{AppliedBudget, BudgetState};
use crate::spend::money::{Rounding, format_usd};
use crate::spend::policy::BudgetStatus;
use crate::spend::scope::BudgetScope;

pub const STATUS_HEADER: &str = "x-sluice-budget-status";
pub const PERCENT_HEADER: &str = "x-sluice-budget-percent";
pub const REMAINING_HEADER: &str = "x-sluice-budget-remaining-usd";
pub const RESETS_HEADER: &str = "x-sluice-budget-resets";

/// What one rate-limit counter said, with the limit it was held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub rpm: u32,
    pub admission: Admission,
}

/// A request refused by a rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateRefusal {
    /// The person's counter, shared by all their credentials.
    Person { rpm: u32, retry_after_secs: u64 },
    /// The key's own limit.
    Key { rpm: u32, retry_after_secs: u64 },
}

impl RateRefusal {
    /// The Anthropic `rate_limit_error` (429) with `retry-after`.
    #[must_use]
    pub fn error(&self) -> ApiError {
        let (message, retry) = match *self {
            Self::Person {
                rpm,
                retry_after_secs,
            } => (
                format!(
                    "Rate limit exceeded: each person may make {rpm} requests per minute across all their sign-ins and keys. Retry after {retry_after_secs} seconds."
                ),
                retry_after_secs,
            ),
            Self::Key {
                rpm,
                retry_after_secs,
            } => (
                format!(
                    "Rate limit exceeded: this key allows {rpm} requests per minute. Retry after {retry_after_secs} seconds."
                ),
                retry_after_secs,
            ),
        };
        ApiError::new(ApiErrorKind::RateLimit, message).with_retry_after(retry)
    }
}

/// The first rate limit that refuses the request: the person's before the key's.
#[must_use]
pub fn rate_refusal(person: Option<Counted>, key: Option<Counted>) -> Option<RateRefusal> {
    let refused = |c: Option<Counted>| match c {
        Some(Counted {
            rpm,
            admission: Admission::Refused { retry_after_secs },
        }) => Some((rpm, retry_after_secs)),
        _ => None,
    };
    refused(person)
        .map(|(rpm, retry_after_secs)| RateRefusal::Person {
            rpm,
            retry_after_secs,
        })
        .or_else(|| {
            refused(key).map(|(rpm, retry_after_secs)| RateRefusal::Key {
                rpm,
                retry_after_secs,
            })
        })
}

/// The refusal of a request over the caller's policy's `requests_per_minute` (it lowers the per-person limit).
#[must_use]
pub fn policy_rate_refusal(policy: &str, rpm: u32, retry_after_secs: u64) -> ApiError {
    ApiError::new(
        ApiErrorKind::RateLimit,
        format!(
            "Rate limit exceeded: the gateway policy {policy:?} allows {rpm} requests per minute per person. Retry after {retry_after_secs} seconds."
        ),
    )
    .with_retry_after(retry_after_secs)
}

/// The counter a shaped budget slows: the person's, else the team's.
#[must_use]
pub fn shape_scope(user_id: Option<&str>, team_id: Option<&str>) -> String {
    format!("shape:{}", user_id.or(team_id).unwrap_or_default())
}

/// The refusal of a request over a shaped budget's slower rate (the gateway adds the budget headers).
#[must_use]
pub fn shaped_refusal(rpm: u32, retry_after_secs: u64) -> ApiError {
    ApiError::new(
        ApiErrorKind::RateLimit,
        format!(
            "Your budget is past its limit, so requests are slowed to {rpm} per minute. Retry after {retry_after_secs} seconds."
        ),
    )
    .with_retry_after(retry_after_secs)
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
    use super::*;

    const OK: Admission = Admission::Admitted { count: 1 };

    fn refused(rpm: u32, secs: u64) -> Option<Counted> {
        Some(Counted {
            rpm,
            admission: Admission::Refused {
                retry_after_secs: secs,
            },
        })
    }

    #[test]
    fn the_persons_limit_is_named_before_the_keys() {
        let admitted = Some(Counted {
            rpm: 5,
            admission: OK,
        });
        assert_eq!(rate_refusal(admitted, admitted), None);
        assert_eq!(rate_refusal(None, None), None);
        assert_eq!(
            rate_refusal(refused(120, 7), refused(5, 30)),
            Some(RateRefusal::Person {
                rpm: 120,
                retry_after_secs: 7
            })
        );
        let key = rate_refusal(admitted, refused(5, 30)).expect("refused");
        assert_eq!(
            key,
            RateRefusal::Key {
                rpm: 5,
                retry_after_secs: 30
            }
        );
        let error = key.error();
        assert_eq!(error.kind, ApiErrorKind::RateLimit);
        assert!(
            error
                .message
                .contains("this key allows 5 requests per minute"),
            "{}",
            error.message
        );
        assert_eq!(error.retry_after_secs, Some(30));
    }

    #[test]
    fn a_shaped_budget_slows_the_person_else_the_team() {
        assert_eq!(shape_scope(Some("usr_1"), Some("team_1")), "shape:usr_1");
        assert_eq!(shape_scope(None, Some("team_1")), "shape:team_1");
        let error = shaped_refusal(5, 12);
        assert!(
            error.message.contains("slowed to 5 per minute"),
            "{}",
            error.message
        );
    }
}

#[cfg(test)]
mod verdict_tests {
    use std::collections::HashMap;

    use crate::spend::ledger::{COST, Counter};
    use chrono::TimeZone;

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
