//! Budget policies, as CCAG defines them: up to five rules `{at_percent, action, shaped_rpm?}` in ascending
//! order, acting when spend reaches `at_percent` of the limit. The last rule reached wins.
//!
//! Thresholds are compared in integers (`spend × 100 ≥ at_percent × limit`), so a spend exactly at 80 %
//! is at 80 %, with no float rounding either way. Percentages for display are basis points, floored, so a
//! header never shows a threshold that was not reached.

use serde::{Deserialize, Serialize};

/// The most rules a policy may hold.
pub const MAX_RULES: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Notify,
    Shape,
    Block,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rule {
    pub at_percent: u32,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shaped_rpm: Option<u32>,
}

impl Rule {
    #[must_use]
    pub fn notify(at_percent: u32) -> Self {
        Self {
            at_percent,
            action: Action::Notify,
            shaped_rpm: None,
        }
    }

    #[must_use]
    pub fn shape(at_percent: u32, rpm: u32) -> Self {
        Self {
            at_percent,
            action: Action::Shape,
            shaped_rpm: Some(rpm),
        }
    }

    #[must_use]
    pub fn block(at_percent: u32) -> Self {
        Self {
            at_percent,
            action: Action::Block,
            shaped_rpm: None,
        }
    }

    /// Whether `spend` has reached this rule's share of `limit` (`limit` > 0).
    fn reached(&self, spend_micros: u64, limit_micros: u64) -> bool {
        u128::from(spend_micros) * 100 >= u128::from(self.at_percent) * u128::from(limit_micros)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("a budget policy needs 1 to {MAX_RULES} rules, got {0}")]
    RuleCount(usize),
    #[error("rule {index}: at_percent must be above 0")]
    ZeroPercent { index: usize },
    #[error("rule {index}: at_percent {at_percent} must be above the previous rule's {previous}")]
    NotAscending {
        index: usize,
        at_percent: u32,
        previous: u32,
    },
    #[error("rule {index}: a block rule must be the last rule, and there may be only one")]
    BlockNotLast { index: usize },
    #[error("rule {index}: a shape rule needs shaped_rpm above 0")]
    ShapeWithoutRpm { index: usize },
    #[error("unknown budget policy preset {0:?}: use standard, soft, shaped or custom rules")]
    UnknownPreset(String),
}

/// A validated policy. It can only be built through [`Policy::new`] (also when deserialized), so every
/// `Policy` in the system satisfies the rules above.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Rule>", into = "Vec<Rule>")]
pub struct Policy {
    rules: Vec<Rule>,
}

impl TryFrom<Vec<Rule>> for Policy {
    type Error = PolicyError;

    fn try_from(rules: Vec<Rule>) -> Result<Self, Self::Error> {
        Self::new(rules)
    }
}

impl From<Policy> for Vec<Rule> {
    fn from(policy: Policy) -> Self {
        policy.rules
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self::standard()
    }
}

impl Policy {
    /// Validates custom rules: 1–5 of them, thresholds above 0 and strictly ascending, at most one block and
    /// only as the last rule, every shape with a positive rpm. A `shaped_rpm` on a notify or block rule is
    /// dropped, since nothing would read it.
    ///
    /// # Errors
    /// The first rule that breaks one of those conditions.
    pub fn new(rules: Vec<Rule>) -> Result<Self, PolicyError> {
        if rules.is_empty() || rules.len() > MAX_RULES {
            return Err(PolicyError::RuleCount(rules.len()));
        }
        let last = rules.len() - 1;
        let mut previous: Option<u32> = None;
        let mut cleaned = Vec::with_capacity(rules.len());
        for (index, rule) in rules.into_iter().enumerate() {
            if rule.at_percent == 0 {
                return Err(PolicyError::ZeroPercent { index });
            }
            if let Some(previous) = previous.filter(|p| rule.at_percent <= *p) {
                return Err(PolicyError::NotAscending {
                    index,
                    at_percent: rule.at_percent,
                    previous,
                });
            }
            previous = Some(rule.at_percent);
            let shaped_rpm = match rule.action {
                Action::Block if index != last => return Err(PolicyError::BlockNotLast { index }),
                Action::Shape => match rule.shaped_rpm {
                    Some(rpm) if rpm > 0 => Some(rpm),
                    _ => return Err(PolicyError::ShapeWithoutRpm { index }),
                },
                Action::Notify | Action::Block => None,
            };
            cleaned.push(Rule { shaped_rpm, ..rule });
        }
        Ok(Self { rules: cleaned })
    }

    /// 80 % notify, 100 % block.
    #[must_use]
    pub fn standard() -> Self {
        Self {
            rules: vec![Rule::notify(80), Rule::block(100)],
        }
    }

    /// 80 % notify, 100 % notify, 150 % block: overspend is allowed, up to half the limit again.
    #[must_use]
    pub fn soft() -> Self {
        Self {
            rules: vec![Rule::notify(80), Rule::notify(100), Rule::block(150)],
        }
    }

    /// 80 % notify, 100 % shape to `rpm` requests per minute, 150 % block.
    ///
    /// # Errors
    /// `ShapeWithoutRpm` when `rpm` is 0.
    pub fn shaped(rpm: u32) -> Result<Self, PolicyError> {
        Self::new(vec![
            Rule::notify(80),
            Rule::shape(100, rpm),
            Rule::block(150),
        ])
    }

    /// A preset by name (`standard`, `soft`, `shaped`); `shaped` takes `shaped_rpm`.
    ///
    /// # Errors
    /// `UnknownPreset` for other names; `ShapeWithoutRpm` for `shaped` without a positive rpm.
    pub fn preset(name: &str, shaped_rpm: Option<u32>) -> Result<Self, PolicyError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "standard" => Ok(Self::standard()),
            "soft" => Ok(Self::soft()),
            "shaped" => Self::shaped(shaped_rpm.unwrap_or(0)),
            _ => Err(PolicyError::UnknownPreset(name.to_owned())),
        }
    }

    #[must_use]
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

/// What a budget says about the next request. Ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum BudgetStatus {
    Ok,
    Warning,
    Shaped { rpm: u32 },
    Blocked,
}

impl BudgetStatus {
    /// The value of the `x-sluice-budget-status` header.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warning => "warning",
            Self::Shaped { .. } => "shaped",
            Self::Blocked => "blocked",
        }
    }

    /// A rank where more severe is greater; among shaped statuses the lower rate is the more severe.
    #[must_use]
    pub fn severity(self) -> (u8, u32) {
        match self {
            Self::Ok => (0, 0),
            Self::Warning => (1, 0),
            Self::Shaped { rpm } => (2, u32::MAX - rpm),
            Self::Blocked => (3, 0),
        }
    }
}

/// The outcome of evaluating one budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub status: BudgetStatus,
    /// Spend as a share of the limit in basis points (1 % = 100), floored; 0 without a limit.
    pub percent_bp: u64,
    /// What is left before the limit, 0 once over it; `None` without a limit.
    pub remaining_micros: Option<u64>,
    /// The threshold of the rule that decided, if one did.
    pub at_percent: Option<u32>,
}

impl Decision {
    /// No limit applies.
    #[must_use]
    pub fn unlimited() -> Self {
        Self {
            status: BudgetStatus::Ok,
            percent_bp: 0,
            remaining_micros: None,
            at_percent: None,
        }
    }

    /// The percentage with one decimal, floored, for the `x-sluice-budget-percent` header (e.g. `83.3`).
    #[must_use]
    pub fn percent_text(&self) -> String {
        let tenths = self.percent_bp / 10;
        format!("{}.{}", tenths / 10, tenths % 10)
    }
}

/// Evaluates a budget: the last rule whose threshold `spend_micros` has reached decides. Without a limit, or
/// with a limit of 0 (which CCAG also reads as "no limit"), the answer is `Ok`.
#[must_use]
pub fn evaluate(spend_micros: u64, limit_micros: Option<u64>, policy: &Policy) -> Decision {
    let Some(limit) = limit_micros.filter(|l| *l > 0) else {
        return Decision::unlimited();
    };
    let winner = policy
        .rules
        .iter()
        .rev()
        .find(|rule| rule.reached(spend_micros, limit));
    let status = match winner {
        None => BudgetStatus::Ok,
        Some(rule) => match (rule.action, rule.shaped_rpm) {
            (Action::Notify, _) => BudgetStatus::Warning,
            (Action::Shape, Some(rpm)) => BudgetStatus::Shaped { rpm },
            // Validation gives every shape rule an rpm; should one slip through, warning is the safe reading.
            (Action::Shape, None) => BudgetStatus::Warning,
            (Action::Block, _) => BudgetStatus::Blocked,
        },
    };
    let percent_bp = u128::from(spend_micros) * 10_000 / u128::from(limit);
    Decision {
        status,
        percent_bp: u64::try_from(percent_bp).unwrap_or(u64::MAX),
        remaining_micros: Some(limit.saturating_sub(spend_micros)),
        at_percent: winner.map(|rule| rule.at_percent),
    }
}

/// The rules whose thresholds a spend increase from `before_micros` to `after_micros` crossed, in ascending
/// order: each becomes one budget event. A jump over several thresholds reports each of them; a decrease,
/// no change or no limit reports none.
#[must_use]
pub fn crossed(
    before_micros: u64,
    after_micros: u64,
    limit_micros: Option<u64>,
    policy: &Policy,
) -> Vec<Rule> {
    let Some(limit) = limit_micros.filter(|l| *l > 0) else {
        return Vec::new();
    };
    policy
        .rules
        .iter()
        .filter(|rule| rule.reached(after_micros, limit) && !rule.reached(before_micros, limit))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: u64 = 100_000_000; // $100

    fn usd(dollars: u64) -> u64 {
        dollars * 1_000_000
    }

    #[test]
    fn presets_are_the_ones_ccag_defines() {
        assert_eq!(
            Policy::standard().rules(),
            [Rule::notify(80), Rule::block(100)]
        );
        assert_eq!(
            Policy::soft().rules(),
            [Rule::notify(80), Rule::notify(100), Rule::block(150)]
        );
        assert_eq!(
            Policy::shaped(5).map(|p| p.rules().to_vec()),
            Ok(vec![
                Rule::notify(80),
                Rule::shape(100, 5),
                Rule::block(150)
            ])
        );
        assert_eq!(Policy::preset("Soft", None), Ok(Policy::soft()));
        assert_eq!(Policy::preset("shaped", Some(3)), Policy::shaped(3));
        assert_eq!(
            Policy::preset("shaped", None),
            Err(PolicyError::ShapeWithoutRpm { index: 1 })
        );
        assert_eq!(
            Policy::preset("strict", None),
            Err(PolicyError::UnknownPreset("strict".to_owned()))
        );
        assert_eq!(Policy::default(), Policy::standard());
    }

    #[test]
    fn validation_rejects_each_broken_rule() {
        let cases = [
            (vec![], PolicyError::RuleCount(0)),
            (vec![Rule::notify(10); 6], PolicyError::RuleCount(6)),
            (
                vec![Rule::notify(0), Rule::block(100)],
                PolicyError::ZeroPercent { index: 0 },
            ),
            (
                vec![Rule::notify(90), Rule::notify(80)],
                PolicyError::NotAscending {
                    index: 1,
                    at_percent: 80,
                    previous: 90,
                },
            ),
            (
                vec![Rule::notify(80), Rule::notify(80)],
                PolicyError::NotAscending {
                    index: 1,
                    at_percent: 80,
                    previous: 80,
                },
            ),
            (
                vec![Rule::block(100), Rule::notify(120)],
                PolicyError::BlockNotLast { index: 0 },
            ),
            (
                vec![Rule::block(100), Rule::block(120)],
                PolicyError::BlockNotLast { index: 0 },
            ),
            (
                vec![Rule::shape(100, 0)],
                PolicyError::ShapeWithoutRpm { index: 0 },
            ),
            (
                vec![Rule {
                    at_percent: 100,
                    action: Action::Shape,
                    shaped_rpm: None,
                }],
                PolicyError::ShapeWithoutRpm { index: 0 },
            ),
        ];
        for (rules, expected) in cases {
            assert_eq!(Policy::new(rules.clone()), Err(expected), "{rules:?}");
        }
    }

    #[test]
    fn validation_accepts_custom_rules_and_drops_stray_rpm() {
        let stray = Rule {
            at_percent: 50,
            action: Action::Notify,
            shaped_rpm: Some(9),
        };
        let policy =
            Policy::new(vec![stray, Rule::shape(90, 2), Rule::block(200)]).expect("valid policy");
        assert_eq!(policy.rules()[0].shaped_rpm, None);
        let only_notify = Policy::new(vec![Rule::notify(100)]);
        assert!(only_notify.is_ok(), "a policy without block is allowed");
    }

    #[test]
    fn deserializing_validates_and_serializing_gives_ccags_json_shape() {
        let json = r#"[{"at_percent":80,"action":"notify"},{"at_percent":100,"action":"shape","shaped_rpm":5}]"#;
        let policy: Policy = serde_json::from_str(json).expect("valid policy json");
        assert_eq!(serde_json::to_string(&policy).expect("serializes"), json);
        let bad = r#"[{"at_percent":100,"action":"block"},{"at_percent":120,"action":"notify"}]"#;
        assert!(serde_json::from_str::<Policy>(bad).is_err());
    }

    #[test]
    fn below_the_first_threshold_is_ok_with_the_remaining_amount() {
        let d = evaluate(usd(50), Some(LIMIT), &Policy::standard());
        assert_eq!(d.status, BudgetStatus::Ok);
        assert_eq!(d.percent_bp, 5_000);
        assert_eq!(d.remaining_micros, Some(usd(50)));
        assert_eq!(d.at_percent, None);
    }

    #[test]
    fn exactly_at_a_threshold_counts_as_reached_and_one_micro_below_does_not() {
        let policy = Policy::standard();
        assert_eq!(
            evaluate(usd(80), Some(LIMIT), &policy).status,
            BudgetStatus::Warning
        );
        assert_eq!(
            evaluate(usd(80) - 1, Some(LIMIT), &policy).status,
            BudgetStatus::Ok
        );
        assert_eq!(
            evaluate(usd(100), Some(LIMIT), &policy).status,
            BudgetStatus::Blocked
        );
        assert_eq!(
            evaluate(usd(100) - 1, Some(LIMIT), &policy).status,
            BudgetStatus::Warning
        );
    }

    #[test]
    fn thresholds_are_exact_for_limits_that_do_not_divide_evenly() {
        // 80 % of 3 µ$ is 2.4 µ$: 2 is below, 3 is above.
        let policy = Policy::standard();
        assert_eq!(evaluate(2, Some(3), &policy).status, BudgetStatus::Ok);
        assert_eq!(evaluate(3, Some(3), &policy).status, BudgetStatus::Blocked);
    }

    #[test]
    fn the_last_reached_rule_wins() {
        let soft = Policy::soft();
        assert_eq!(
            evaluate(usd(120), Some(LIMIT), &soft).status,
            BudgetStatus::Warning
        );
        assert_eq!(evaluate(usd(120), Some(LIMIT), &soft).at_percent, Some(100));
        assert_eq!(
            evaluate(usd(150), Some(LIMIT), &soft).status,
            BudgetStatus::Blocked
        );
        let shaped = Policy::shaped(5).expect("valid");
        assert_eq!(
            evaluate(usd(101), Some(LIMIT), &shaped).status,
            BudgetStatus::Shaped { rpm: 5 }
        );
        assert_eq!(
            evaluate(usd(10_000), Some(LIMIT), &shaped).status,
            BudgetStatus::Blocked
        );
    }

    #[test]
    fn over_the_limit_leaves_nothing_and_reports_the_real_percent() {
        let d = evaluate(usd(125), Some(LIMIT), &Policy::soft());
        assert_eq!(d.remaining_micros, Some(0));
        assert_eq!(d.percent_bp, 12_500);
        assert_eq!(d.percent_text(), "125.0");
    }

    #[test]
    fn the_percent_text_is_floored_to_one_decimal() {
        // $79.999 of $100 is 79.999 %: shown as 79.9, never as the 80.0 that was not reached.
        let d = evaluate(79_999_000, Some(LIMIT), &Policy::standard());
        assert_eq!(d.percent_text(), "79.9");
        assert_eq!(d.status, BudgetStatus::Ok);
        assert_eq!(
            evaluate(1, Some(3), &Policy::standard()).percent_text(),
            "33.3"
        );
    }

    #[test]
    fn no_limit_or_a_zero_limit_is_always_ok() {
        for limit in [None, Some(0)] {
            let d = evaluate(usd(1_000_000), limit, &Policy::standard());
            assert_eq!(d, Decision::unlimited());
            assert_eq!(d.status.as_str(), "ok");
        }
    }

    #[test]
    fn huge_spends_do_not_overflow() {
        let d = evaluate(u64::MAX, Some(1), &Policy::standard());
        assert_eq!(d.status, BudgetStatus::Blocked);
        assert_eq!(d.percent_bp, u64::MAX);
    }

    #[test]
    fn crossing_reports_each_threshold_passed_once() {
        let soft = Policy::soft();
        assert_eq!(
            crossed(usd(70), usd(85), Some(LIMIT), &soft),
            vec![Rule::notify(80)]
        );
        assert_eq!(
            crossed(usd(70), usd(160), Some(LIMIT), &soft),
            vec![Rule::notify(80), Rule::notify(100), Rule::block(150)]
        );
        assert_eq!(
            crossed(usd(85), usd(90), Some(LIMIT), &soft),
            vec![],
            "80 % was already reached"
        );
        assert_eq!(
            crossed(usd(79), usd(80), Some(LIMIT), &soft),
            vec![Rule::notify(80)],
            "landing on it counts"
        );
    }

    #[test]
    fn crossing_nothing_when_spend_falls_or_no_limit_applies() {
        let standard = Policy::standard();
        assert!(crossed(usd(90), usd(10), Some(LIMIT), &standard).is_empty());
        assert!(crossed(usd(10), usd(10), Some(LIMIT), &standard).is_empty());
        assert!(crossed(0, usd(500), None, &standard).is_empty());
        assert!(crossed(0, usd(500), Some(0), &standard).is_empty());
    }

    #[test]
    fn statuses_rank_by_severity_with_slower_shaping_more_severe() {
        let order = [
            BudgetStatus::Ok,
            BudgetStatus::Warning,
            BudgetStatus::Shaped { rpm: 10 },
            BudgetStatus::Shaped { rpm: 2 },
            BudgetStatus::Blocked,
        ];
        for pair in order.windows(2) {
            assert!(pair[0].severity() < pair[1].severity(), "{pair:?}");
        }
        assert_eq!(BudgetStatus::Shaped { rpm: 3 }.as_str(), "shaped");
    }
}
