//! Budgets through the admin API, in CCAG's paths and shapes: a team's budget, a person's spend limit, the
//! org default, and "my budget" for anyone signed in.
//!
//! These routes write the same settings the gateway and the spend consumer read (`budget.team.<id>`,
//! `budget.user.<id>`, `budget.org`, see `sluice_core::spend::budget`) and that `sluice budget set` writes.
//! Updates are partial: a field left out keeps its value, a field sent as `null` clears it. Settings are
//! never deleted, so a cleared personal limit is stored as `null`.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::de::{Error as _, IgnoredAny};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_core::identity::User;
use sluice_core::notify::{Category, NotificationPayload, NotifyEvent};
use sluice_core::spend::budget::{
    Budget, BudgetOwner, BudgetState, ORG_BUDGET_KEY, OrgBudget, Recipients, TeamBudget,
    UserBudget, clear_budget, inputs_to_read, set_budget, team_budget_key, user_budget_key,
};
use sluice_core::spend::ledger::{SpendOwner, UNPRICED_TOKENS, period_counter_key};
use sluice_core::spend::{
    LimitSetting, LimitSource, Period, Policy, Rule, UnknownPeriod, evaluate, resolve_policy,
    resolve_user_limit,
};
use sluice_core::store::Store;

use crate::roles::{Admin, Person};
use crate::usd::{Cents, Percent, Usd};
use crate::users::caller_user;
use crate::views::{self, Field, load_json, rfc3339_secs};
use crate::{Reply, Shared, store_error};

/// CCAG's `shaped` preset slows to 5 requests per minute unless told otherwise.
const DEFAULT_SHAPED_RPM: u32 = 5;
/// Events shown on the status page.
const STATUS_EVENTS: usize = 10;
/// How many of the newest events are searched for the caller's (events are stored org-wide).
const EVENTS_SCANNED: usize = 500;

fn rfc3339_ms(ms: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(rfc3339_secs)
}

/// `budget_period` / `period`: `daily`, `weekly` or `monthly` (`null` reads as monthly, see [`period`]).
#[derive(Debug, Clone, Copy)]
struct PeriodName(Period);

impl<'de> Deserialize<'de> for PeriodName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(s) => s
                .parse()
                .map(Self)
                .map_err(|e: UnknownPeriod| D::Error::custom(e)),
            _ => Err(D::Error::custom("must be daily, weekly or monthly")),
        }
    }
}

/// A period field as a change: absent keeps, `null` is monthly.
fn period(field: Field<PeriodName>) -> Option<Period> {
    field
        .patch()
        .map(|p| p.map_or(Period::Monthly, |name| name.0))
}

/// `notify_recipients`: `both`, `user` or `admin` (`null` reads as both).
#[derive(Debug, Clone, Copy)]
struct RecipientsName(Recipients);

impl<'de> Deserialize<'de> for RecipientsName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        match value.as_str().map(str::trim) {
            Some("both") => Ok(Self(Recipients::Both)),
            Some("user") => Ok(Self(Recipients::User)),
            Some("admin") => Ok(Self(Recipients::Admin)),
            _ => Err(D::Error::custom(format!(
                "must be both, user or admin, not {value}"
            ))),
        }
    }
}

/// `budget_policy` as sent: a preset's name (`standard`, `soft`, `shaped`; see [`policy`]) or a rule array,
/// validated as it is read.
#[derive(Debug)]
enum PolicyChoice {
    Preset(String),
    Rules(Policy),
}

impl<'de> Deserialize<'de> for PolicyChoice {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(name) => Ok(Self::Preset(name)),
            rules @ Value::Array(_) => {
                let rules: Vec<Rule> = serde_json::from_value(rules).map_err(|e| {
                    D::Error::custom(format!(
                        "rules are {{\"at_percent\", \"action\": notify|shape|block, \"shaped_rpm\"?}}: {e}"
                    ))
                })?;
                Policy::new(rules)
                    .map(Self::Rules)
                    .map_err(D::Error::custom)
            }
            _ => Err(D::Error::custom(
                "must be a preset name (standard, soft, shaped) or an array of rules",
            )),
        }
    }
}

/// `shaped_rpm`, the rate the `shaped` preset slows to.
#[derive(Debug, Clone, Copy)]
struct ShapedRpm(u32);

impl<'de> Deserialize<'de> for ShapedRpm {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer)?
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Self)
            .ok_or_else(|| D::Error::custom("must be a whole number"))
    }
}

/// `budget_policy` as a change: absent keeps, `null` is the default (the org's policy, else `standard`), a
/// preset takes `shaped_rpm` (default 5).
fn policy(
    choice: Field<PolicyChoice>,
    shaped_rpm: Field<ShapedRpm>,
) -> Result<Option<Option<Policy>>, ApiError> {
    let Some(choice) = choice.patch() else {
        return Ok(None);
    };
    let policy = match choice {
        None => None,
        Some(PolicyChoice::Rules(policy)) => Some(policy),
        Some(PolicyChoice::Preset(name)) => {
            let rpm = shaped_rpm.value().map_or(DEFAULT_SHAPED_RPM, |r| r.0);
            let preset = Policy::preset(&name, Some(rpm))
                .map_err(|e| ApiError::invalid(format!("budget_policy: {e}")))?;
            Some(preset)
        }
    };
    Ok(Some(policy))
}

/// `PUT /admin/teams/{id}/budget`: every field absent (kept), `null` (cleared, or the default) or set.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TeamBudgetBody {
    budget_amount_usd: Field<Usd>,
    budget_period: Field<PeriodName>,
    budget_policy: Field<PolicyChoice>,
    shaped_rpm: Field<ShapedRpm>,
    default_user_budget_usd: Field<Usd>,
    notify_recipients: Field<RecipientsName>,
}

/// `PUT /admin/settings/default-budget`: the team budget's fields; a member default, whatever its value, is
/// refused.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OrgBudgetBody {
    budget_amount_usd: Field<Usd>,
    budget_period: Field<PeriodName>,
    budget_policy: Field<PolicyChoice>,
    shaped_rpm: Field<ShapedRpm>,
    default_user_budget_usd: Field<IgnoredAny>,
    notify_recipients: Field<RecipientsName>,
}

/// `PUT /admin/users/{id}/spend-limit`: `{"limit_usd": number|null, "period"?}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SpendLimitBody {
    limit_usd: Field<Usd>,
    period: Field<PeriodName>,
}

fn empty_team_budget() -> TeamBudget {
    TeamBudget {
        limit_micros: None,
        period: Period::Monthly,
        policy: None,
        member_default_micros: None,
        notify_recipients: Recipients::Both,
    }
}

/// A team's budget fields as CCAG's Team row has them (for team views elsewhere in the admin API); no budget
/// shows as an empty monthly one.
#[derive(Debug, Serialize)]
pub(super) struct TeamBudgetFields {
    budget_amount_usd: Option<Cents>,
    budget_period: &'static str,
    /// The rule array, `null` for the default.
    budget_policy: Option<Policy>,
    default_user_budget_usd: Option<Cents>,
    notify_recipients: Recipients,
}

pub(super) fn team_budget_fields(budget: Option<&TeamBudget>) -> TeamBudgetFields {
    TeamBudgetFields {
        budget_amount_usd: budget.and_then(|b| b.limit_micros).map(Cents),
        budget_period: budget.map_or(Period::Monthly, |b| b.period).as_str(),
        budget_policy: budget.and_then(|b| b.policy.clone()),
        default_user_budget_usd: budget.and_then(|b| b.member_default_micros).map(Cents),
        notify_recipients: budget.map_or(Recipients::Both, |b| b.notify_recipients),
    }
}

/// `PUT /admin/teams/{id}/budget`'s answer: `{"updated": true, "team": {<budget fields>, "id", "name"}}`.
#[derive(Debug, Serialize)]
struct TeamBudgetSet<'a> {
    updated: bool,
    team: TeamBudgetRow<'a>,
}

#[derive(Debug, Serialize)]
struct TeamBudgetRow<'a> {
    #[serde(flatten)]
    budget: TeamBudgetFields,
    id: &'a str,
    name: &'a str,
}

/// `PUT /admin/teams/{id}/budget`.
pub(super) async fn put_team_budget(
    State(state): State<Shared>,
    _: Admin,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let store = state.store.as_ref();
    let Some(team) = store.team_by_id(&id).await.map_err(|e| store_error(&e))? else {
        return Err(ApiError::new(ApiErrorKind::NotFound, format!("Team not found: {id}")).into());
    };
    let body: TeamBudgetBody = views::body(&body)?;
    let key = team_budget_key(&team.id);
    let mut budget = load_json::<TeamBudget>(store, &key)
        .await?
        .unwrap_or_else(empty_team_budget);
    if let Some(limit) = body.budget_amount_usd.patch() {
        budget.limit_micros = limit.map(|usd| usd.0);
    }
    if let Some(period) = period(body.budget_period) {
        budget.period = period;
    }
    if let Some(policy) = policy(body.budget_policy, body.shaped_rpm)? {
        budget.policy = policy;
    }
    if let Some(limit) = body.default_user_budget_usd.patch() {
        budget.member_default_micros = limit.map(|usd| usd.0);
    }
    if let Some(recipients) = body.notify_recipients.patch() {
        budget.notify_recipients = recipients.map_or(Recipients::Both, |r| r.0);
    }
    let stored = Budget::Team {
        team_id: team.id.clone(),
        budget: budget.clone(),
    };
    set_budget(store, &stored)
        .await
        .map_err(|e| store_error(&e))?;
    Ok(axum::Json(TeamBudgetSet {
        updated: true,
        team: TeamBudgetRow {
            budget: team_budget_fields(Some(&budget)),
            id: &team.id,
            name: &team.name,
        },
    })
    .into_response())
}

/// `PUT /admin/users/{id}/spend-limit`'s answer; `limit_usd` and `period` are `null` once the limit is removed.
#[derive(Debug, Serialize)]
struct SpendLimitSet<'a> {
    updated: bool,
    user_id: &'a str,
    limit_usd: Option<Cents>,
    period: Option<&'static str>,
}

/// `PUT /admin/users/{id}/spend-limit`: `{"limit_usd": number|null, "period"?}`. `null` removes the person's
/// own limit (team and org defaults apply again); 0 exempts them from those defaults.
pub(super) async fn put_spend_limit(
    State(state): State<Shared>,
    _: Admin,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let store = state.store.as_ref();
    let Some(user) = store.user_by_id(&id).await.map_err(|e| store_error(&e))? else {
        return Err(ApiError::new(ApiErrorKind::NotFound, format!("User not found: {id}")).into());
    };
    let body: SpendLimitBody = views::body(&body)?;
    let key = user_budget_key(&user.id);
    let existing = load_json::<UserBudget>(store, &key).await?;
    let new_period = period(body.period);
    let updated = match body.limit_usd.patch() {
        Some(limit) => limit.map(|Usd(limit_micros)| UserBudget {
            limit_micros,
            period: new_period
                .or(existing.map(|e| e.period))
                .unwrap_or(Period::Monthly),
        }),
        None => match (existing, new_period) {
            (Some(e), Some(period)) => Some(UserBudget { period, ..e }),
            _ => return Err(ApiError::invalid("Missing required field: limit_usd").into()),
        },
    };
    let stored = match updated {
        Some(budget) => {
            set_budget(
                store,
                &Budget::Person {
                    user_id: user.id.clone(),
                    budget,
                },
            )
            .await
        }
        None => clear_budget(store, BudgetOwner::Person(&user.id)).await,
    };
    stored.map_err(|e| store_error(&e))?;
    Ok(axum::Json(SpendLimitSet {
        updated: true,
        user_id: &user.id,
        limit_usd: updated.map(|u| Cents(u.limit_micros)),
        period: updated.map(|u| u.period.as_str()),
    })
    .into_response())
}

fn empty_org_budget() -> OrgBudget {
    OrgBudget {
        limit_micros: None,
        period: Period::Monthly,
        policy: None,
        notify_recipients: Recipients::Both,
    }
}

/// `GET` and `PUT /admin/settings/default-budget`'s answer: the org budget and how many people (those in no
/// team) it applies to.
#[derive(Debug, Serialize)]
struct DefaultBudgetView<'a> {
    budget_amount_usd: Option<Cents>,
    budget_period: &'static str,
    budget_policy: Option<&'a [Rule]>,
    notify_recipients: Recipients,
    affected_user_count: usize,
    /// `true` in the answer to `PUT`; left out of `GET`'s.
    #[serde(skip_serializing_if = "Option::is_none")]
    updated: Option<bool>,
}

async fn default_budget_view<'a>(
    store: &dyn Store,
    budget: &'a OrgBudget,
) -> Result<DefaultBudgetView<'a>, ApiError> {
    let affected = store
        .list_users()
        .await
        .map_err(|e| store_error(&e))?
        .iter()
        .filter(|u| u.team_id.is_none())
        .count();
    Ok(DefaultBudgetView {
        budget_amount_usd: budget.limit_micros.map(Cents),
        budget_period: budget.period.as_str(),
        budget_policy: budget.policy.as_ref().map(Policy::rules),
        notify_recipients: budget.notify_recipients,
        affected_user_count: affected,
        updated: None,
    })
}

/// `GET /admin/settings/default-budget`.
pub(super) async fn get_default_budget(State(state): State<Shared>, _: Admin) -> Reply {
    let store = state.store.as_ref();
    let budget = load_json::<OrgBudget>(store, ORG_BUDGET_KEY)
        .await?
        .unwrap_or_else(empty_org_budget);
    Ok(axum::Json(default_budget_view(store, &budget).await?).into_response())
}

/// `PUT /admin/settings/default-budget`: the team budget's fields without the member default.
pub(super) async fn put_default_budget(
    State(state): State<Shared>,
    _: Admin,
    body: Bytes,
) -> Reply {
    let store = state.store.as_ref();
    let body: OrgBudgetBody = views::body(&body)?;
    if !matches!(body.default_user_budget_usd, Field::Absent) {
        return Err(ApiError::invalid(
            "default_user_budget_usd: the org default is a per-person limit already; set budget_amount_usd",
        )
        .into());
    }
    let mut budget = load_json::<OrgBudget>(store, ORG_BUDGET_KEY)
        .await?
        .unwrap_or_else(empty_org_budget);
    if let Some(limit) = body.budget_amount_usd.patch() {
        budget.limit_micros = limit.map(|usd| usd.0);
    }
    if let Some(period) = period(body.budget_period) {
        budget.period = period;
    }
    if let Some(policy) = policy(body.budget_policy, body.shaped_rpm)? {
        budget.policy = policy;
    }
    if let Some(recipients) = body.notify_recipients.patch() {
        budget.notify_recipients = recipients.map_or(Recipients::Both, |r| r.0);
    }
    set_budget(store, &Budget::Org(budget.clone()))
        .await
        .map_err(|e| store_error(&e))?;
    let view = DefaultBudgetView {
        updated: Some(true),
        ..default_budget_view(store, &budget).await?
    };
    Ok(axum::Json(view).into_response())
}

/// Whether a budget event is about this person: their own events, and their team's.
fn about(event: &NotifyEvent, user: &User) -> bool {
    let p = &event.payload;
    if p.category != Category::Budget {
        return false;
    }
    match &p.user_identity {
        Some(identity) => identity.eq_ignore_ascii_case(&user.email),
        None => p.team_id.is_some() && p.team_id == user.team_id,
    }
}

/// A budget event on the status page: the notification as sent, with its id and time.
#[derive(Debug, Serialize)]
struct EventView<'a> {
    #[serde(flatten)]
    payload: &'a NotificationPayload,
    id: &'a str,
    created_at: Option<String>,
}

fn event_view(event: &NotifyEvent) -> EventView<'_> {
    EventView {
        payload: &event.payload,
        id: &event.id,
        created_at: rfc3339_ms(event.created_at_ms),
    }
}

/// `GET /admin/budget/status`'s answer: the caller's limit in its period, where the limit comes from, the
/// policy applied, their team's budget and the latest budget events about them.
#[derive(Debug, Serialize)]
struct BudgetStatusView<'a> {
    user: &'a str,
    user_id: &'a str,
    period: &'static str,
    period_start: String,
    resets: String,
    spend_usd: Cents,
    limit_usd: Option<Cents>,
    remaining_usd: Option<Cents>,
    percent: Percent,
    status: &'static str,
    /// `explicit`, `team`, `default` or `unlimited`.
    limit_source: &'static str,
    limit_source_name: Option<String>,
    policy: &'a [Rule],
    team: Option<TeamStatusView<'a>>,
    recent_events: Vec<EventView<'a>>,
    unpriced_tokens: u64,
}

/// The caller's team on the status page: its budget and its spend in the team's period.
#[derive(Debug, Serialize)]
struct TeamStatusView<'a> {
    id: &'a str,
    name: &'a str,
    budget_amount_usd: Option<Cents>,
    budget_period: &'static str,
    default_user_budget_usd: Option<Cents>,
    spend_usd: Cents,
    percent: Percent,
    status: &'static str,
    period_start: String,
    resets: String,
}

/// `GET /admin/budget/status`: the caller's own budget.
pub(super) async fn budget_status(State(state): State<Shared>, Person(caller): Person) -> Reply {
    let user = caller_user(&state, &caller).await?;
    let store = state.store.as_ref();
    let now = Utc::now();
    let team = match user.team_id.as_deref() {
        Some(id) => store.team_by_id(id).await.map_err(|e| store_error(&e))?,
        None => None,
    };
    let team_id = team.as_ref().map(|t| t.id.as_str());
    let (setting_keys, counter_keys) = inputs_to_read(Some(&user.id), team_id, now);
    let (settings, counters) = store
        .budget_inputs(&setting_keys, &counter_keys)
        .await
        .map_err(|e| store_error(&e))?;
    let budgets = BudgetState::from_store(Some(&user.id), team_id, &settings, &counters);
    let team_budget = budgets.team.as_ref();
    let org_budget = budgets.org.as_ref();
    let policy = resolve_policy(
        team_budget.and_then(|t| t.policy.as_ref()),
        org_budget.and_then(|o| o.policy.as_ref()),
    );
    let spent = |owner: SpendOwner, id: &str, period: Period, field: &str| {
        counters
            .get(&period_counter_key(owner, id, &period.window(now)))
            .map_or(0, |c| c.get(field))
    };
    let own = budgets.user.map(|u| LimitSetting {
        limit_micros: u.limit_micros,
        period: u.period,
    });
    let member_default = team_budget.and_then(|t| {
        t.member_default_micros.map(|limit_micros| LimitSetting {
            limit_micros,
            period: t.period,
        })
    });
    let org_default = org_budget.and_then(|o| {
        o.limit_micros.map(|limit_micros| LimitSetting {
            limit_micros,
            period: o.period,
        })
    });
    let resolved = resolve_user_limit(own, member_default, org_default);
    let (source, source_name) = match resolved.map(|(_, s)| s) {
        Some(LimitSource::User) => ("explicit", Some(user.email.clone())),
        Some(LimitSource::TeamMemberDefault) => ("team", team.as_ref().map(|t| t.name.clone())),
        Some(LimitSource::OrgDefault) => ("default", Some("Organization default".to_owned())),
        None => ("unlimited", None),
    };
    let user_period = resolved.map_or_else(
        || {
            team_budget
                .map(|t| t.period)
                .or(org_budget.map(|o| o.period))
                .unwrap_or(Period::Monthly)
        },
        |(setting, _)| setting.period,
    );
    let window = user_period.window(now);
    let cost = sluice_core::spend::ledger::COST;
    let spend = spent(SpendOwner::User, &user.id, user_period, cost);
    let limit = resolved.map(|(setting, _)| setting.limit_micros);
    let decision = evaluate(spend, limit, &policy);
    let team_view = team.as_ref().map(|t| {
        let period = team_budget.map_or(Period::Monthly, |b| b.period);
        let team_window = period.window(now);
        let team_spend = spent(SpendOwner::Team, &t.id, period, cost);
        let team_limit = team_budget.and_then(|b| b.limit_micros);
        let d = evaluate(team_spend, team_limit, &policy);
        TeamStatusView {
            id: &t.id,
            name: &t.name,
            budget_amount_usd: team_limit.map(Cents),
            budget_period: period.as_str(),
            default_user_budget_usd: team_budget.and_then(|b| b.member_default_micros).map(Cents),
            spend_usd: Cents(team_spend),
            percent: Percent(d.percent_bp),
            status: d.status.as_str(),
            period_start: rfc3339_secs(team_window.start),
            resets: team_window.resets_rfc3339(),
        }
    });
    let events = store
        .recent_events(EVENTS_SCANNED)
        .await
        .map_err(|e| store_error(&e))?;
    let recent_events = events
        .iter()
        .filter(|e| about(e, &user))
        .take(STATUS_EVENTS)
        .map(event_view)
        .collect();
    Ok(axum::Json(BudgetStatusView {
        user: &user.email,
        user_id: &user.id,
        period: user_period.as_str(),
        period_start: rfc3339_secs(window.start),
        resets: window.resets_rfc3339(),
        spend_usd: Cents(spend),
        limit_usd: limit.map(Cents),
        remaining_usd: decision.remaining_micros.map(Cents),
        percent: Percent(decision.percent_bp),
        status: decision.status.as_str(),
        limit_source: source,
        limit_source_name: source_name,
        policy: policy.rules(),
        team: team_view,
        recent_events,
        unpriced_tokens: spent(SpendOwner::User, &user.id, user_period, UNPRICED_TOKENS),
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refusal(body: &Value) -> String {
        views::body::<TeamBudgetBody>(body.to_string().as_bytes())
            .expect_err("refused")
            .message
    }

    #[test]
    fn a_refused_budget_body_names_the_field_and_why() {
        for (body, message) in [
            (
                json!({"budget_period": 3}),
                "budget_period: must be daily, weekly or monthly",
            ),
            (
                json!({"notify_recipients": "everyone"}),
                "notify_recipients: must be both, user or admin, not \"everyone\"",
            ),
            (
                json!({"budget_amount_usd": -5}),
                "budget_amount_usd: must not be negative",
            ),
            (
                json!({"shaped_rpm": "5"}),
                "shaped_rpm: must be a whole number",
            ),
            (
                json!({"budget_policy": 3}),
                "budget_policy: must be a preset name (standard, soft, shaped) or an array of rules",
            ),
        ] {
            assert_eq!(refusal(&body), message);
        }
        assert!(
            refusal(&json!({"budget_policy": [{"at_percent": "x"}]}))
                .starts_with("budget_policy: rules are {")
        );
    }

    #[test]
    fn null_reads_as_the_default_and_a_preset_takes_shaped_rpm() {
        let body: TeamBudgetBody = views::body(
            json!({"budget_period": null, "notify_recipients": null, "budget_policy": "shaped", "shaped_rpm": 9})
                .to_string()
                .as_bytes(),
        )
        .expect("valid");
        assert_eq!(period(body.budget_period), Some(Period::Monthly));
        assert!(matches!(body.notify_recipients, Field::Null));
        let shaped = policy(body.budget_policy, body.shaped_rpm)
            .expect("valid")
            .flatten()
            .expect("a policy");
        assert!(shaped.rules().iter().any(|r| r.shaped_rpm == Some(9)));
        assert!(matches!(
            policy(Field::Null, Field::Absent).expect("valid"),
            Some(None)
        ));
        assert!(
            policy(
                Field::Set(PolicyChoice::Preset("lenient".into())),
                Field::Absent
            )
            .expect_err("unknown")
            .message
            .starts_with("budget_policy: ")
        );
    }
}
