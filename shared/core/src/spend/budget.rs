//! Budgets as configured (stored as JSON settings) and the state a request is judged on.
//!
//! Settings keys: `budget.user.<user id>`, `budget.team.<team id>`, `budget.org` (the org default for people
//! whose own and team settings give no limit). The admission step reads these three settings and the six
//! period counters that can matter (user and team, each period) in one store round trip, then
//! [`BudgetState::judge`] decides; the spend consumer uses the same state for threshold events.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ledger::{COST, Counter, SpendOwner, period_counter_key};
use super::period::{Period, PeriodWindow};
use super::policy::{Decision, Policy, evaluate};
use super::scope::{
    BudgetScope, LimitSetting, LimitSource, ScopedDecision, most_severe, resolve_policy,
    resolve_user_limit,
};

pub const ORG_BUDGET_KEY: &str = "budget.org";

#[must_use]
pub fn user_budget_key(user_id: &str) -> String {
    format!("budget.user.{user_id}")
}

#[must_use]
pub fn team_budget_key(team_id: &str) -> String {
    format!("budget.team.{team_id}")
}

/// A person's own limit. A limit of 0 exempts them from team and org defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserBudget {
    pub limit_micros: u64,
    pub period: Period,
}

/// Who hears about a team's budget events (CCAG's `notify_recipients`; kept, and carried on events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipients {
    #[default]
    Both,
    User,
    Admin,
}

/// A team's budget: its own total, the default limit of each member, the policy for both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamBudget {
    /// The team's total; `None` means the team as a whole is not limited.
    #[serde(default)]
    pub limit_micros: Option<u64>,
    pub period: Period,
    /// `None`: the org default policy, else `standard`.
    #[serde(default)]
    pub policy: Option<Policy>,
    /// Each member's limit when they have none of their own (counted over the team's period).
    #[serde(default)]
    pub member_default_micros: Option<u64>,
    #[serde(default)]
    pub notify_recipients: Recipients,
}

/// The org default: a per-person limit for everyone without their own or a team member default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgBudget {
    #[serde(default)]
    pub limit_micros: Option<u64>,
    pub period: Period,
    #[serde(default)]
    pub policy: Option<Policy>,
    #[serde(default)]
    pub notify_recipients: Recipients,
}

/// The settings and counter keys to read for a caller.
#[must_use]
pub fn inputs_to_read(
    user_id: Option<&str>,
    team_id: Option<&str>,
    at: DateTime<Utc>,
) -> (Vec<String>, Vec<String>) {
    let mut settings = vec![ORG_BUDGET_KEY.to_owned()];
    let mut counters = Vec::new();
    for (owner, id) in [(SpendOwner::User, user_id), (SpendOwner::Team, team_id)] {
        let Some(id) = id else { continue };
        settings.push(match owner {
            SpendOwner::Team => team_budget_key(id),
            _ => user_budget_key(id),
        });
        for period in [Period::Daily, Period::Weekly, Period::Monthly] {
            counters.push(period_counter_key(owner, id, &period.window(at)));
        }
    }
    (settings, counters)
}

/// A settings value that does not parse. Budgets are written through the admin API, which validates; a bad
/// value is reported and treated as absent rather than blocking everyone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("budget setting {key} is not valid: {message}")]
pub struct BadBudgetSetting {
    pub key: String,
    pub message: String,
}

/// The budgets and spend a request is judged on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BudgetState {
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub user: Option<UserBudget>,
    pub team: Option<TeamBudget>,
    pub org: Option<OrgBudget>,
    /// Cost per counter key.
    pub spend: HashMap<String, u64>,
    /// Settings that failed to parse (ignored).
    pub problems: Vec<BadBudgetSetting>,
}

/// One budget that applies, with its window.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedBudget {
    pub scoped: ScopedDecision,
    pub window: PeriodWindow,
    pub policy: Policy,
    /// For the user's budget: which setting gave the limit.
    pub source: Option<LimitSource>,
}

impl BudgetState {
    /// Builds the state from what the store returned for [`inputs_to_read`].
    #[must_use]
    pub fn from_store(
        user_id: Option<&str>,
        team_id: Option<&str>,
        settings: &HashMap<String, String>,
        counters: &HashMap<String, Counter>,
    ) -> Self {
        let mut problems = Vec::new();
        let read = |key: String| -> Option<(String, &String)> {
            settings.get(&key).map(|text| (key, text))
        };
        let user_raw = user_id.and_then(|id| read(user_budget_key(id)));
        let team_raw = team_id.and_then(|id| read(team_budget_key(id)));
        let org_raw = read(ORG_BUDGET_KEY.to_owned());
        let user = user_raw.and_then(|(k, v)| decode::<UserBudget>(k, v, &mut problems));
        let team = team_raw.and_then(|(k, v)| decode::<TeamBudget>(k, v, &mut problems));
        let org = org_raw.and_then(|(k, v)| decode::<OrgBudget>(k, v, &mut problems));
        Self {
            user_id: user_id.map(str::to_owned),
            team_id: team_id.map(str::to_owned),
            user,
            team,
            org,
            spend: counters
                .iter()
                .map(|(key, counter)| (key.clone(), counter.get(COST)))
                .collect(),
            problems,
        }
    }

    fn spent(&self, owner: SpendOwner, id: &str, window: &PeriodWindow) -> u64 {
        self.spend
            .get(&period_counter_key(owner, id, window))
            .copied()
            .unwrap_or(0)
    }

    /// The budgets that apply at `at`: the user's (own limit, team member default or org default) and the
    /// team's total. Budgets without a limit are left out.
    #[must_use]
    pub fn applied(&self, at: DateTime<Utc>) -> Vec<AppliedBudget> {
        let mut out = Vec::new();
        let team_policy = self.team.as_ref().and_then(|t| t.policy.as_ref());
        let org_policy = self.org.as_ref().and_then(|o| o.policy.as_ref());
        let policy = resolve_policy(team_policy, org_policy);
        if let Some(user_id) = self.user_id.as_deref() {
            let own = self.user.map(|u| LimitSetting {
                limit_micros: u.limit_micros,
                period: u.period,
            });
            let member_default = self.team.as_ref().and_then(|t| {
                t.member_default_micros.map(|limit_micros| LimitSetting {
                    limit_micros,
                    period: t.period,
                })
            });
            let org_default = self.org.as_ref().and_then(|o| {
                o.limit_micros.map(|limit_micros| LimitSetting {
                    limit_micros,
                    period: o.period,
                })
            });
            if let Some((setting, source)) = resolve_user_limit(own, member_default, org_default)
                && setting.limit_micros > 0
            {
                let window = setting.period.window(at);
                let spend = self.spent(SpendOwner::User, user_id, &window);
                out.push(applied(
                    BudgetScope::User,
                    spend,
                    setting,
                    window,
                    &policy,
                    Some(source),
                ));
            }
        }
        if let (Some(team_id), Some(team)) = (self.team_id.as_deref(), self.team.as_ref())
            && let Some(limit_micros) = team.limit_micros.filter(|l| *l > 0)
        {
            let window = team.period.window(at);
            let spend = self.spent(SpendOwner::Team, team_id, &window);
            let setting = LimitSetting {
                limit_micros,
                period: team.period,
            };
            out.push(applied(
                BudgetScope::Team,
                spend,
                setting,
                window,
                &policy,
                None,
            ));
        }
        out
    }

    /// The budget that acts on the next request: the most severe of those that apply (the user's first
    /// among ties). `None` when no budget applies.
    #[must_use]
    pub fn judge(&self, at: DateTime<Utc>) -> Option<AppliedBudget> {
        let applied = self.applied(at);
        let acting = most_severe(applied.iter().map(|a| a.scoped))?;
        applied.into_iter().find(|a| a.scoped == acting)
    }
}

fn applied(
    scope: BudgetScope,
    spend_micros: u64,
    setting: LimitSetting,
    window: PeriodWindow,
    policy: &Policy,
    source: Option<LimitSource>,
) -> AppliedBudget {
    let decision: Decision = evaluate(spend_micros, Some(setting.limit_micros), policy);
    AppliedBudget {
        scoped: ScopedDecision {
            scope,
            period: setting.period,
            spend_micros,
            limit_micros: Some(setting.limit_micros),
            decision,
        },
        window,
        policy: policy.clone(),
        source,
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    key: String,
    text: &str,
    problems: &mut Vec<BadBudgetSetting>,
) -> Option<T> {
    // A cleared budget is stored as `null` (settings are never deleted).
    if text.trim() == "null" {
        return None;
    }
    match serde_json::from_str(text) {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push(BadBudgetSetting {
                key,
                message: e.to_string(),
            });
            None
        }
    }
}

/// A budget as configured for one owner: what `sluice budget set` and the admin API's budget routes store.
#[derive(Debug, Clone, PartialEq)]
pub enum Budget {
    Person { user_id: String, budget: UserBudget },
    Team { team_id: String, budget: TeamBudget },
    Org(OrgBudget),
}

/// Whose budget a setting holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetOwner<'a> {
    Person(&'a str),
    Team(&'a str),
    Org,
}

impl BudgetOwner<'_> {
    /// The settings key of this owner's budget.
    #[must_use]
    pub fn key(&self) -> String {
        match self {
            Self::Person(id) => user_budget_key(id),
            Self::Team(id) => team_budget_key(id),
            Self::Org => ORG_BUDGET_KEY.to_owned(),
        }
    }
}

impl Budget {
    #[must_use]
    pub fn owner(&self) -> BudgetOwner<'_> {
        match self {
            Self::Person { user_id, .. } => BudgetOwner::Person(user_id),
            Self::Team { team_id, .. } => BudgetOwner::Team(team_id),
            Self::Org(_) => BudgetOwner::Org,
        }
    }
}

/// Stores a budget (the admission step and the spend consumer read it within their cache time).
///
/// # Errors
/// The store failed.
pub async fn set_budget<S>(store: &S, budget: &Budget) -> Result<(), crate::store::StoreError>
where
    S: crate::store::SettingsStore + ?Sized,
{
    let key = budget.owner().key();
    match budget {
        Budget::Person { budget, .. } => crate::settings_json::save(store, &key, budget).await,
        Budget::Team { budget, .. } => crate::settings_json::save(store, &key, budget).await,
        Budget::Org(budget) => crate::settings_json::save(store, &key, budget).await,
    }
}

/// Clears a budget: settings are never deleted, so the absence is stored as `null` and read back as none.
///
/// # Errors
/// The store failed.
pub async fn clear_budget<S>(
    store: &S,
    owner: BudgetOwner<'_>,
) -> Result<(), crate::store::StoreError>
where
    S: crate::store::SettingsStore + ?Sized,
{
    crate::settings_json::save(store, &owner.key(), &None::<()>).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spend::policy::BudgetStatus;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 9, 30, 0)
            .single()
            .expect("valid")
    }

    fn state(settings: &[(&str, &str)], spend: &[(&str, u64)]) -> BudgetState {
        let settings = settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let counters = spend
            .iter()
            .map(|(k, v)| {
                let mut counter = Counter::default();
                counter.values.insert(COST.to_owned(), *v);
                ((*k).to_owned(), counter)
            })
            .collect();
        BudgetState::from_store(Some("u1"), Some("t1"), &settings, &counters)
    }

    #[test]
    fn the_keys_to_read_cover_three_settings_and_six_counters() {
        let (settings, counters) = inputs_to_read(Some("u1"), Some("t1"), at());
        assert_eq!(settings, ["budget.org", "budget.user.u1", "budget.team.t1"]);
        assert_eq!(counters.len(), 6);
        assert!(counters.contains(&"spend#team#t1#w2026-11-16".to_owned()));
        let (settings, counters) = inputs_to_read(None, None, at());
        assert_eq!(settings, ["budget.org"]);
        assert!(counters.is_empty());
    }

    #[test]
    fn a_user_at_85_percent_of_their_own_daily_limit_is_warned() {
        let s = state(
            &[(
                "budget.user.u1",
                r#"{"limit_micros":10000000,"period":"daily"}"#,
            )],
            &[("spend#user#u1#d2026-11-22", 8_500_000)],
        );
        let acting = s.judge(at()).expect("a budget applies");
        assert_eq!(acting.scoped.decision.status, BudgetStatus::Warning);
        assert_eq!(acting.scoped.scope, BudgetScope::User);
        assert_eq!(acting.source, Some(LimitSource::User));
        assert_eq!(acting.window.resets_rfc3339(), "2026-11-23T00:00:00Z");
    }

    #[test]
    fn the_team_member_default_and_the_team_policy_apply_to_members() {
        let s = state(
            &[(
                "budget.team.t1",
                r#"{"period":"monthly","member_default_micros":1000000,"policy":[{"at_percent":80,"action":"notify"},{"at_percent":100,"action":"shape","shaped_rpm":3},{"at_percent":150,"action":"block"}]}"#,
            )],
            &[("spend#user#u1#m2026-11", 1_200_000)],
        );
        let acting = s.judge(at()).expect("a budget applies");
        assert_eq!(
            acting.scoped.decision.status,
            BudgetStatus::Shaped { rpm: 3 }
        );
        assert_eq!(acting.source, Some(LimitSource::TeamMemberDefault));
    }

    #[test]
    fn a_team_over_its_total_blocks_a_member_with_no_limit() {
        let s = state(
            &[(
                "budget.team.t1",
                r#"{"limit_micros":50000000,"period":"weekly"}"#,
            )],
            &[("spend#team#t1#w2026-11-16", 50_000_000)],
        );
        let acting = s.judge(at()).expect("the team budget applies");
        assert_eq!(acting.scoped.scope, BudgetScope::Team);
        assert_eq!(acting.scoped.decision.status, BudgetStatus::Blocked);
        assert_eq!(acting.scoped.decision.remaining_micros, Some(0));
    }

    #[test]
    fn no_settings_means_no_budget_and_bad_settings_are_reported_not_fatal() {
        assert_eq!(state(&[], &[]).judge(at()), None);
        let s = state(&[("budget.org", "not json")], &[]);
        assert_eq!(s.judge(at()), None);
        assert_eq!(s.problems.len(), 1);
        assert_eq!(s.problems[0].key, "budget.org");
    }

    #[test]
    fn spend_from_another_period_does_not_count() {
        let s = state(
            &[("budget.org", r#"{"limit_micros":1000000,"period":"daily"}"#)],
            &[("spend#user#u1#d2026-11-21", 5_000_000)],
        );
        let acting = s.judge(at()).expect("the org default applies");
        assert_eq!(acting.scoped.decision.status, BudgetStatus::Ok);
        assert_eq!(acting.source, Some(LimitSource::OrgDefault));
    }
}
