//! The gateway's admission decision: given what the rate-limit counters and the budget state said, whether a
//! request goes on and the refusal its caller sees. The gateway reads the counters and the budget in one store
//! round trip and asks this module; the order of the checks and their wording are decided here.
//!
//! Order: the person's limit (across every sign-in and key they own), then the key's own limit, then the budget
//! (blocked, or shaped to a slower rate on its own counter).

use crate::error::{ApiError, ApiErrorKind};
use crate::ratelimit::Admission;

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
