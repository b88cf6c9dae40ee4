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
use serde_json::{Map, Value, json};
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_core::identity::User;
use sluice_core::notify::{Category, NotifyEvent};
use sluice_core::spend::budget::{
    Budget, BudgetOwner, BudgetState, ORG_BUDGET_KEY, OrgBudget, Recipients, TeamBudget,
    UserBudget, clear_budget, inputs_to_read, set_budget, team_budget_key, user_budget_key,
};
use sluice_core::spend::ledger::{SpendOwner, UNPRICED_TOKENS, period_counter_key};
use sluice_core::spend::{
    LimitSetting, LimitSource, Period, Policy, Rule, evaluate, resolve_policy, resolve_user_limit,
};
use sluice_core::store::Store;

use crate::roles::{Admin, Person};
use crate::usd::{cents, optional_cents, optional_micros, percent};
use crate::users::caller_user;
use crate::views::{load_json, parse_object, rfc3339_secs};
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

fn period(field: &str, value: &Value) -> Result<Period, ApiError> {
    match value {
        Value::Null => Ok(Period::Monthly),
        Value::String(s) => s.parse().map_err(|e: sluice_core::spend::UnknownPeriod| {
            ApiError::invalid(format!("{field}: {e}"))
        }),
        _ => Err(ApiError::invalid(format!(
            "{field}: must be daily, weekly or monthly"
        ))),
    }
}

fn recipients(value: &Value) -> Result<Recipients, ApiError> {
    let invalid = || {
        ApiError::invalid(format!(
            "notify_recipients: must be both, user or admin, not {value}"
        ))
    };
    match value {
        Value::Null => Ok(Recipients::Both),
        Value::String(s) => match s.trim() {
            "both" => Ok(Recipients::Both),
            "user" => Ok(Recipients::User),
            "admin" => Ok(Recipients::Admin),
            _ => Err(invalid()),
        },
        _ => Err(invalid()),
    }
}

fn recipients_name(r: Recipients) -> &'static str {
    match r {
        Recipients::Both => "both",
        Recipients::User => "user",
        Recipients::Admin => "admin",
    }
}

/// `budget_policy`: a preset name (`standard`, `soft`, `shaped`; `shaped_rpm` beside it, default 5), a rule
/// array, or `null` for the default (the org's policy, else `standard`).
fn policy(body: &Map<String, Value>, value: &Value) -> Result<Option<Policy>, ApiError> {
    let invalid = |e: &dyn std::fmt::Display| ApiError::invalid(format!("budget_policy: {e}"));
    match value {
        Value::Null => Ok(None),
        Value::String(name) => {
            let rpm = match body.get("shaped_rpm") {
                None | Some(Value::Null) => DEFAULT_SHAPED_RPM,
                Some(v) => v
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| ApiError::invalid("shaped_rpm: must be a whole number"))?,
            };
            Policy::preset(name, Some(rpm))
                .map(Some)
                .map_err(|e| invalid(&e))
        }
        Value::Array(_) => {
            let rules: Vec<Rule> = serde_json::from_value(value.clone()).map_err(|e| {
                invalid(&format!(
                    "rules are {{\"at_percent\", \"action\": notify|shape|block, \"shaped_rpm\"?}}: {e}"
                ))
            })?;
            Policy::new(rules).map(Some).map_err(|e| invalid(&e))
        }
        _ => Err(ApiError::invalid(
            "budget_policy: must be a preset name (standard, soft, shaped) or an array of rules",
        )),
    }
}

fn rules(policy: Option<&Policy>) -> Value {
    policy.map_or(Value::Null, |p| json!(p.rules()))
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

/// A team's budget fields as CCAG's Team row has them (for team views elsewhere in the admin API).
pub(super) fn team_budget_fields(budget: Option<&TeamBudget>) -> Map<String, Value> {
    let empty = empty_team_budget();
    let b = budget.unwrap_or(&empty);
    let Value::Object(map) = json!({
        "budget_amount_usd": optional_cents(b.limit_micros),
        "budget_period": b.period.as_str(),
        "budget_policy": rules(b.policy.as_ref()),
        "default_user_budget_usd": optional_cents(b.member_default_micros),
        "notify_recipients": recipients_name(b.notify_recipients),
    }) else {
        return Map::new();
    };
    map
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
    let body = parse_object(&body)?;
    let key = team_budget_key(&team.id);
    let mut budget = load_json::<TeamBudget>(store, &key)
        .await?
        .unwrap_or_else(empty_team_budget);
    if let Some(v) = body.get("budget_amount_usd") {
        budget.limit_micros = optional_micros("budget_amount_usd", v)?;
    }
    if let Some(v) = body.get("budget_period") {
        budget.period = period("budget_period", v)?;
    }
    if let Some(v) = body.get("budget_policy") {
        budget.policy = policy(&body, v)?;
    }
    if let Some(v) = body.get("default_user_budget_usd") {
        budget.member_default_micros = optional_micros("default_user_budget_usd", v)?;
    }
    if let Some(v) = body.get("notify_recipients") {
        budget.notify_recipients = recipients(v)?;
    }
    let stored = Budget::Team {
        team_id: team.id.clone(),
        budget: budget.clone(),
    };
    set_budget(store, &stored)
        .await
        .map_err(|e| store_error(&e))?;
    let mut view = team_budget_fields(Some(&budget));
    view.insert("id".into(), json!(team.id));
    view.insert("name".into(), json!(team.name));
    Ok(axum::Json(json!({"updated": true, "team": view})).into_response())
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
    let body = parse_object(&body)?;
    let key = user_budget_key(&user.id);
    let existing = load_json::<UserBudget>(store, &key).await?;
    let new_period = body
        .get("period")
        .map(|v| period("period", v))
        .transpose()?;
    let updated = match body.get("limit_usd") {
        Some(v) => optional_micros("limit_usd", v)?.map(|limit_micros| UserBudget {
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
    Ok(axum::Json(json!({
        "updated": true,
        "user_id": user.id,
        "limit_usd": optional_cents(updated.map(|u| u.limit_micros)),
        "period": updated.map(|u| u.period.as_str()),
    }))
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

async fn default_budget_view(store: &dyn Store, budget: &OrgBudget) -> Result<Value, ApiError> {
    let affected = store
        .list_users()
        .await
        .map_err(|e| store_error(&e))?
        .iter()
        .filter(|u| u.team_id.is_none())
        .count();
    Ok(json!({
        "budget_amount_usd": optional_cents(budget.limit_micros),
        "budget_period": budget.period.as_str(),
        "budget_policy": rules(budget.policy.as_ref()),
        "notify_recipients": recipients_name(budget.notify_recipients),
        "affected_user_count": affected,
    }))
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
    let body = parse_object(&body)?;
    if body.contains_key("default_user_budget_usd") {
        return Err(ApiError::invalid(
            "default_user_budget_usd: the org default is a per-person limit already; set budget_amount_usd",
        )
        .into());
    }
    let mut budget = load_json::<OrgBudget>(store, ORG_BUDGET_KEY)
        .await?
        .unwrap_or_else(empty_org_budget);
    if let Some(v) = body.get("budget_amount_usd") {
        budget.limit_micros = optional_micros("budget_amount_usd", v)?;
    }
    if let Some(v) = body.get("budget_period") {
        budget.period = period("budget_period", v)?;
    }
    if let Some(v) = body.get("budget_policy") {
        budget.policy = policy(&body, v)?;
    }
    if let Some(v) = body.get("notify_recipients") {
        budget.notify_recipients = recipients(v)?;
    }
    set_budget(store, &Budget::Org(budget.clone()))
        .await
        .map_err(|e| store_error(&e))?;
    let mut view = default_budget_view(store, &budget).await?;
    view["updated"] = json!(true);
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

fn event_view(event: &NotifyEvent) -> Value {
    let mut view = json!(event.payload);
    view["id"] = json!(event.id);
    view["created_at"] = json!(rfc3339_ms(event.created_at_ms));
    view
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
        json!({
            "id": t.id,
            "name": t.name,
            "budget_amount_usd": optional_cents(team_limit),
            "budget_period": period.as_str(),
            "default_user_budget_usd": optional_cents(team_budget.and_then(|b| b.member_default_micros)),
            "spend_usd": cents(team_spend),
            "percent": percent(d.percent_bp),
            "status": d.status.as_str(),
            "period_start": rfc3339_secs(team_window.start),
            "resets": team_window.resets_rfc3339(),
        })
    });
    let events: Vec<Value> = store
        .recent_events(EVENTS_SCANNED)
        .await
        .map_err(|e| store_error(&e))?
        .iter()
        .filter(|e| about(e, &user))
        .take(STATUS_EVENTS)
        .map(event_view)
        .collect();
    Ok(axum::Json(json!({
        "user": user.email,
        "user_id": user.id,
        "period": user_period.as_str(),
        "period_start": rfc3339_secs(window.start),
        "resets": window.resets_rfc3339(),
        "spend_usd": cents(spend),
        "limit_usd": optional_cents(limit),
        "remaining_usd": optional_cents(decision.remaining_micros),
        "percent": percent(decision.percent_bp),
        "status": decision.status.as_str(),
        "limit_source": source,
        "limit_source_name": source_name,
        "policy": policy.rules(),
        "team": team_view,
        "recent_events": events,
        "unpriced_tokens": spent(SpendOwner::User, &user.id, user_period, UNPRICED_TOKENS),
    }))
    .into_response())
}
