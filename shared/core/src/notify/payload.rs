//! The notification body: CCAG's payload schema with `source: "sluice"`, the same bytes for every destination.
//!
//! ```json
//! {"source":"sluice","version":"1","category":"budget","event_type":"budget_warning","severity":"warning",
//!  "user_identity":"jane@corp.com","team_id":"t-1","team_name":"frontend",
//!  "detail":{"threshold_percent":80,"spend_usd":41.2,"limit_usd":50.0,"percent":82.4,"period":"weekly",
//!            "period_start":"2026-03-16T00:00:00Z"},
//!  "timestamp":"2026-03-19T14:30:00Z"}
//! ```

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `source` of every payload; receivers switching from CCAG filter on it.
pub const PAYLOAD_SOURCE: &str = "sluice";
/// Schema version; bumped only for changes a receiver would notice.
pub const PAYLOAD_VERSION: &str = "1";

/// Which toggle on the destination decides whether an event is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Budget,
    RateLimit,
    /// A gateway policy refused a request (off by default).
    PolicyRefusal,
}

impl Category {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Budget => "budget",
            Self::RateLimit => "rate_limit",
            Self::PolicyRefusal => "policy_refusal",
        }
    }
}

/// How loud the event is: a warning, traffic shaped, traffic blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    High,
    Critical,
}

/// The event names receivers route on (CCAG's canonical names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    BudgetWarning,
    BudgetShaped,
    BudgetBlocked,
    TeamBudgetWarning,
    TeamBudgetShaped,
    TeamBudgetBlocked,
    RateLimitHit,
    PolicyRefused,
}

impl EventType {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BudgetWarning => "budget_warning",
            Self::BudgetShaped => "budget_shaped",
            Self::BudgetBlocked => "budget_blocked",
            Self::TeamBudgetWarning => "team_budget_warning",
            Self::TeamBudgetShaped => "team_budget_shaped",
            Self::TeamBudgetBlocked => "team_budget_blocked",
            Self::RateLimitHit => "rate_limit_hit",
            Self::PolicyRefused => "policy_refused",
        }
    }

    #[must_use]
    pub const fn category(self) -> Category {
        match self {
            Self::BudgetWarning
            | Self::BudgetShaped
            | Self::BudgetBlocked
            | Self::TeamBudgetWarning
            | Self::TeamBudgetShaped
            | Self::TeamBudgetBlocked => Category::Budget,
            Self::RateLimitHit => Category::RateLimit,
            Self::PolicyRefused => Category::PolicyRefusal,
        }
    }

    #[must_use]
    pub const fn severity(self) -> Severity {
        match self {
            Self::BudgetWarning
            | Self::TeamBudgetWarning
            | Self::RateLimitHit
            | Self::PolicyRefused => Severity::Warning,
            Self::BudgetShaped | Self::TeamBudgetShaped => Severity::High,
            Self::BudgetBlocked | Self::TeamBudgetBlocked => Severity::Critical,
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The budget period a spend figure belongs to (UTC; weeks start on Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetPeriod {
    Daily,
    Weekly,
    Monthly,
}

/// `detail` of a budget event. Money is carried as USD numbers because that is the published schema;
/// build it with `from_micros` so the figures come from the integer counters, not from float arithmetic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetDetail {
    pub threshold_percent: u32,
    pub spend_usd: f64,
    pub limit_usd: f64,
    pub percent: f64,
    pub period: BudgetPeriod,
    pub period_start: DateTime<Utc>,
}

impl BudgetDetail {
    /// Spend and limit in micro-dollars; `percent` is rounded half-up to one decimal (82.35 % → 82.4).
    #[must_use]
    pub fn from_micros(
        threshold_percent: u32,
        spend_micros: i64,
        limit_micros: i64,
        period: BudgetPeriod,
        period_start: DateTime<Utc>,
    ) -> Self {
        Self {
            threshold_percent,
            spend_usd: micros_to_usd(spend_micros),
            limit_usd: micros_to_usd(limit_micros),
            percent: percent_one_decimal(spend_micros, limit_micros),
            period,
            period_start,
        }
    }
}

/// `detail` of a `rate_limit_hit` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimitDetail {
    /// The display prefix of the key that hit its limit (never the secret).
    pub key_prefix: String,
    pub limit_rpm: u32,
}

/// `detail` of a `policy_refused` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRefusalDetail {
    pub policy: String,
    /// `models`, `tools`, `context_1m`, `web_search`.
    pub rule: String,
    /// The model, tool or beta refused.
    pub refused: String,
}

/// The `detail` object; untagged because the event type already says which shape it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EventDetail {
    Budget(BudgetDetail),
    RateLimit(RateLimitDetail),
    PolicyRefusal(PolicyRefusalDetail),
}

/// One notification, as sent to every destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationPayload {
    pub source: String,
    pub version: String,
    pub category: Category,
    pub event_type: EventType,
    pub severity: Severity,
    pub user_identity: Option<String>,
    pub team_id: Option<String>,
    pub team_name: Option<String>,
    pub detail: EventDetail,
    pub timestamp: DateTime<Utc>,
}

impl NotificationPayload {
    /// Category and severity follow from the event type, so they cannot disagree with it.
    #[must_use]
    pub fn new(
        event_type: EventType,
        user_identity: Option<String>,
        team_id: Option<String>,
        team_name: Option<String>,
        detail: EventDetail,
        timestamp: DateTime<Utc>,
    ) -> Self {
        Self {
            source: PAYLOAD_SOURCE.to_owned(),
            version: PAYLOAD_VERSION.to_owned(),
            category: event_type.category(),
            event_type,
            severity: event_type.severity(),
            user_identity,
            team_id,
            team_name,
            detail,
            timestamp,
        }
    }

    /// The synthetic event the "test" step of draft → test → activate sends to a draft destination.
    #[must_use]
    pub fn synthetic(now: DateTime<Utc>) -> Self {
        Self::new(
            EventType::BudgetWarning,
            Some("sluice-test@example.com".to_owned()),
            None,
            None,
            EventDetail::Budget(BudgetDetail::from_micros(
                80,
                41_200_000,
                50_000_000,
                BudgetPeriod::Monthly,
                now,
            )),
            now,
        )
    }

    /// Who the event is about, for subjects and logs: the user, else the team, else "sluice".
    #[must_use]
    pub fn who(&self) -> &str {
        self.user_identity
            .as_deref()
            .or(self.team_name.as_deref())
            .or(self.team_id.as_deref())
            .unwrap_or(PAYLOAD_SOURCE)
    }
}

#[expect(
    clippy::cast_precision_loss,
    reason = "display figure only; budgets below 2^53 micro-dollars (9 billion USD) convert exactly"
)]
fn micros_to_usd(micros: i64) -> f64 {
    micros as f64 / 1_000_000.0
}

#[expect(
    clippy::cast_precision_loss,
    reason = "tenths of a percent are small integers; the division happened in integers"
)]
fn percent_one_decimal(spend_micros: i64, limit_micros: i64) -> f64 {
    if limit_micros <= 0 {
        return 0.0;
    }
    let tenths = (i128::from(spend_micros) * 2000 + i128::from(limit_micros))
        / (2 * i128::from(limit_micros));
    tenths as f64 / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("valid date")
    }

    #[test]
    fn budget_warning_serializes_to_the_published_schema() {
        let payload = NotificationPayload::new(
            EventType::BudgetWarning,
            Some("jane@corp.com".to_owned()),
            Some("t-1".to_owned()),
            Some("frontend".to_owned()),
            EventDetail::Budget(BudgetDetail::from_micros(
                80,
                41_200_000,
                50_000_000,
                BudgetPeriod::Weekly,
                at(2026, 3, 16, 0, 0),
            )),
            at(2026, 3, 19, 14, 30),
        );
        let json = serde_json::to_string(&payload).expect("serialize");
        assert_eq!(
            json,
            concat!(
                r#"{"source":"sluice","version":"1","category":"budget","event_type":"budget_warning","#,
                r#""severity":"warning","user_identity":"jane@corp.com","team_id":"t-1","team_name":"frontend","#,
                r#""detail":{"threshold_percent":80,"spend_usd":41.2,"limit_usd":50.0,"percent":82.4,"#,
                r#""period":"weekly","period_start":"2026-03-16T00:00:00Z"},"timestamp":"2026-03-19T14:30:00Z"}"#
            )
        );
        let back: NotificationPayload = serde_json::from_str(&json).expect("parse back");
        assert_eq!(back, payload);
    }

    #[test]
    fn team_block_is_critical_budget_event_with_null_user() {
        let payload = NotificationPayload::new(
            EventType::TeamBudgetBlocked,
            None,
            Some("t-9".to_owned()),
            None,
            EventDetail::Budget(BudgetDetail::from_micros(
                100,
                100_000_000,
                100_000_000,
                BudgetPeriod::Monthly,
                at(2026, 3, 1, 0, 0),
            )),
            at(2026, 3, 19, 14, 30),
        );
        let value = serde_json::to_value(&payload).expect("serialize");
        assert_eq!(value["category"], "budget");
        assert_eq!(value["event_type"], "team_budget_blocked");
        assert_eq!(value["severity"], "critical");
        assert!(value["user_identity"].is_null());
        assert_eq!(value["detail"]["percent"], 100.0);
        assert_eq!(payload.who(), "t-9");
    }

    #[test]
    fn rate_limit_hit_belongs_to_the_rate_limit_category() {
        let payload = NotificationPayload::new(
            EventType::RateLimitHit,
            Some("jane@corp.com".to_owned()),
            None,
            None,
            EventDetail::RateLimit(RateLimitDetail {
                key_prefix: "sk-proxy-0123456...".to_owned(),
                limit_rpm: 60,
            }),
            at(2026, 3, 19, 14, 30),
        );
        let value = serde_json::to_value(&payload).expect("serialize");
        assert_eq!(value["category"], "rate_limit");
        assert_eq!(value["severity"], "warning");
        assert_eq!(value["detail"]["limit_rpm"], 60);
    }

    #[test]
    fn every_event_type_serializes_as_its_canonical_name() {
        for event in [
            EventType::BudgetWarning,
            EventType::BudgetShaped,
            EventType::BudgetBlocked,
            EventType::TeamBudgetWarning,
            EventType::TeamBudgetShaped,
            EventType::TeamBudgetBlocked,
            EventType::RateLimitHit,
        ] {
            let json = serde_json::to_string(&event).expect("serialize");
            assert_eq!(json, format!("\"{}\"", event.as_str()));
        }
    }

    #[test]
    fn percent_rounds_half_up_to_one_decimal_and_survives_a_zero_limit() {
        assert!((percent_one_decimal(82_350_000, 100_000_000) - 82.4).abs() < 1e-9);
        assert!((percent_one_decimal(82_340_000, 100_000_000) - 82.3).abs() < 1e-9);
        assert!((percent_one_decimal(150_000_000, 100_000_000) - 150.0).abs() < 1e-9);
        assert!(percent_one_decimal(1, 0).abs() < 1e-9);
    }
}
