//! Which budget applies to a request, and how the budgets that apply combine.
//!
//! A user's limit is, first found: their own limit, their team's per-member default, the org default. The
//! same chain holds on the request path and on status pages (CCAG stopped at a team without a member
//! default on one and fell through on the other, so the two disagreed). A team's own total is evaluated
//! apart, and the most severe of the user's and the team's decisions is the one that acts and is reported.

use serde::{Deserialize, Serialize};

use super::period::Period;
use super::policy::{Decision, Policy};

/// A limit and the period it is counted over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitSetting {
    pub limit_micros: u64,
    pub period: Period,
}

/// Which setting gave a user their limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitSource {
    User,
    TeamMemberDefault,
    OrgDefault,
}

/// The user's limit: an explicit per-user limit, else the team's per-member default, else the org default.
/// An explicit limit of 0 is still the user's setting and means "no limit" for that user, so an admin can
/// exempt one person from a team or org default.
#[must_use]
pub fn resolve_user_limit(
    user: Option<LimitSetting>,
    team_member_default: Option<LimitSetting>,
    org_default: Option<LimitSetting>,
) -> Option<(LimitSetting, LimitSource)> {
    user.map(|l| (l, LimitSource::User))
        .or_else(|| team_member_default.map(|l| (l, LimitSource::TeamMemberDefault)))
        .or_else(|| org_default.map(|l| (l, LimitSource::OrgDefault)))
}

/// The policy for a budget: the team's, else the org default, else the `standard` preset. Used for the
/// user's and the team's budget alike.
#[must_use]
pub fn resolve_policy(team: Option<&Policy>, org_default: Option<&Policy>) -> Policy {
    team.or(org_default).cloned().unwrap_or_default()
}

/// Whose budget a decision is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetScope {
    User,
    Team,
}

/// One budget's decision with what is needed to explain it (headers, the block message, events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopedDecision {
    pub scope: BudgetScope,
    pub period: Period,
    pub spend_micros: u64,
    pub limit_micros: Option<u64>,
    pub decision: Decision,
}

/// The decision that acts: the most severe status; among equals the higher percentage (so headers show the
/// budget closest to its end); among full ties the first given (pass the user's first).
#[must_use]
pub fn most_severe(decisions: impl IntoIterator<Item = ScopedDecision>) -> Option<ScopedDecision> {
    decisions.into_iter().fold(None, |best, next| match best {
        Some(best) if rank(&best) >= rank(&next) => Some(best),
        _ => Some(next),
    })
}

fn rank(d: &ScopedDecision) -> ((u8, u32), u64) {
    (d.decision.status.severity(), d.decision.percent_bp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spend::policy::{BudgetStatus, evaluate};

    fn limit(dollars: u64, period: Period) -> Option<LimitSetting> {
        Some(LimitSetting {
            limit_micros: dollars * 1_000_000,
            period,
        })
    }

    fn scoped(scope: BudgetScope, spend: u64, limit: u64, policy: &Policy) -> ScopedDecision {
        ScopedDecision {
            scope,
            period: Period::Monthly,
            spend_micros: spend,
            limit_micros: Some(limit),
            decision: evaluate(spend, Some(limit), policy),
        }
    }

    #[test]
    fn an_explicit_user_limit_beats_every_default() {
        let resolved = resolve_user_limit(
            limit(10, Period::Daily),
            limit(50, Period::Weekly),
            limit(100, Period::Monthly),
        );
        assert_eq!(
            resolved,
            Some((
                LimitSetting {
                    limit_micros: 10_000_000,
                    period: Period::Daily
                },
                LimitSource::User
            ))
        );
    }

    #[test]
    fn the_team_member_default_beats_the_org_default() {
        let resolved =
            resolve_user_limit(None, limit(50, Period::Weekly), limit(100, Period::Monthly));
        assert_eq!(
            resolved.map(|(l, s)| (l.period, s)),
            Some((Period::Weekly, LimitSource::TeamMemberDefault))
        );
    }

    #[test]
    fn a_team_without_a_member_default_falls_through_to_the_org_default() {
        let resolved = resolve_user_limit(None, None, limit(100, Period::Monthly));
        assert_eq!(
            resolved.map(|(l, s)| (l.limit_micros, s)),
            Some((100_000_000, LimitSource::OrgDefault))
        );
        assert_eq!(resolve_user_limit(None, None, None), None);
    }

    #[test]
    fn an_explicit_zero_user_limit_exempts_the_user_from_defaults() {
        let resolved =
            resolve_user_limit(limit(0, Period::Monthly), limit(50, Period::Monthly), None);
        let (setting, source) = resolved.expect("the user's own setting applies");
        assert_eq!(source, LimitSource::User);
        let decision = evaluate(999_000_000, Some(setting.limit_micros), &Policy::standard());
        assert_eq!(decision.status, BudgetStatus::Ok);
    }

    #[test]
    fn the_team_policy_beats_the_org_policy_which_beats_standard() {
        let soft = Policy::soft();
        let shaped = Policy::shaped(4).expect("valid");
        assert_eq!(resolve_policy(Some(&shaped), Some(&soft)), shaped);
        assert_eq!(resolve_policy(None, Some(&soft)), soft);
        assert_eq!(resolve_policy(None, None), Policy::standard());
    }

    #[test]
    fn a_blocked_team_overrides_a_user_who_is_fine() {
        let standard = Policy::standard();
        let user = scoped(BudgetScope::User, 10, 100, &standard);
        let team = scoped(BudgetScope::Team, 100, 100, &standard);
        let acting = most_severe([user, team]).expect("two decisions");
        assert_eq!(acting.scope, BudgetScope::Team);
        assert_eq!(acting.decision.status, BudgetStatus::Blocked);
    }

    #[test]
    fn a_blocked_user_overrides_a_warned_team() {
        let standard = Policy::standard();
        let user = scoped(BudgetScope::User, 100, 100, &standard);
        let team = scoped(BudgetScope::Team, 90, 100, &standard);
        assert_eq!(
            most_severe([user, team]).map(|d| d.scope),
            Some(BudgetScope::User)
        );
    }

    #[test]
    fn between_equal_statuses_the_fuller_budget_is_reported_and_full_ties_keep_the_user() {
        let standard = Policy::standard();
        let user = scoped(BudgetScope::User, 20, 100, &standard);
        let team = scoped(BudgetScope::Team, 60, 100, &standard);
        assert_eq!(
            most_severe([user, team]).map(|d| d.scope),
            Some(BudgetScope::Team)
        );
        let tie_team = scoped(BudgetScope::Team, 20, 100, &standard);
        assert_eq!(
            most_severe([user, tie_team]).map(|d| d.scope),
            Some(BudgetScope::User)
        );
    }

    #[test]
    fn the_slower_shaping_wins_between_two_shaped_budgets() {
        let user = scoped(
            BudgetScope::User,
            100,
            100,
            &Policy::shaped(10).expect("valid"),
        );
        let team = scoped(
            BudgetScope::Team,
            100,
            100,
            &Policy::shaped(2).expect("valid"),
        );
        let acting = most_severe([user, team]).expect("two decisions");
        assert_eq!(acting.decision.status, BudgetStatus::Shaped { rpm: 2 });
    }

    #[test]
    fn no_budgets_means_no_decision() {
        assert_eq!(most_severe(std::iter::empty()), None);
    }
}
