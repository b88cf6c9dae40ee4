//! The spend consumer: what happens to each usage record after it is stored. The same code runs in
//! `functions/spend` (fed by DynamoDB Streams) and in `sluice serve` (fed by the SQLite change feed).
//!
//! 1. Apply the record's counter additions once (the store's marker makes replays no-ops); an unpriced record is
//!    charged at the fallback price of the table in force (`super::fallback`), never nothing.
//! 2. Read the budgets that apply to the record's user and team with their period spend, and store one
//!    event per reached threshold (scope, threshold, period), deduplicated by the event id. This step runs
//!    on replays too: a consumer that stopped between the two steps delivers its events on the retry, and
//!    thresholds are judged on the stored total, so concurrent consumers cannot both miss a crossing.

use chrono::{DateTime, TimeZone, Utc};

use super::budget::{AppliedBudget, BudgetState, inputs_to_read};
use super::fallback::charged_micros;
use super::ledger::spend_delta_with;
use super::period::Period;
use super::policy::{Action, crossed};
use super::pricing::{OVERRIDES_KEY, PriceOverrides, PriceTable};
use super::scope::BudgetScope;
use super::usage::UsageRecord;
use crate::notify::{
    BudgetDetail, BudgetPeriod, EventDetail, EventType, NotificationPayload, NotifyEvent,
    budget_event_id,
};
use crate::store::{EventStore, SettingsStore, SpendStore, StoreError, TeamStore, UserStore};

/// What consuming one record did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Consumed {
    /// `false` when the record had been applied before (a replay or a duplicate stream record).
    pub applied: bool,
    /// Events stored by this call (events that already existed are not repeated).
    pub new_events: Vec<NotifyEvent>,
}

/// Applies one usage record and stores the budget events it causes.
///
/// # Errors
/// A store failure; the caller retries the record (its effects are idempotent).
pub async fn consume_usage<S>(
    store: &S,
    record: &UsageRecord,
    now: DateTime<Utc>,
) -> Result<Consumed, StoreError>
where
    S: SpendStore + EventStore + SettingsStore + UserStore + TeamStore + ?Sized,
{
    // An unpriced record is charged at the fallback price of the table in force (admin rows included).
    let prices = match record.cost_micros {
        Some(_) => PriceTable::seeded(),
        None => prices_in_force(store).await?,
    };
    let delta = spend_delta_with(record, &prices);
    let applied = store.apply_spend(&delta).await?;
    let mut consumed = Consumed {
        applied,
        new_events: Vec::new(),
    };
    let charged = charged_micros(
        &prices,
        record.cost_micros,
        &record.bedrock_model_id,
        &record.tokens(),
    );
    if charged == 0 || (record.user_id.is_none() && record.team_id.is_none()) {
        return Ok(consumed);
    }
    let at = Utc
        .timestamp_millis_opt(record.time_ms)
        .single()
        .unwrap_or(now);
    let user_id = record.user_id.as_deref();
    let team_id = record.team_id.as_deref();
    let (setting_keys, counter_keys) = inputs_to_read(user_id, team_id, at);
    let (settings, counters) = store.budget_inputs(&setting_keys, &counter_keys).await?;
    let state = BudgetState::from_store(user_id, team_id, &settings, &counters);
    for problem in &state.problems {
        tracing::warn!(key = %problem.key, error = %problem.message, "budget setting ignored");
    }
    let mut names: Option<(Option<String>, Option<String>)> = None;
    for budget in state.applied(at) {
        let Some(limit) = budget.scoped.limit_micros else {
            continue;
        };
        let (scope, scope_id) = match budget.scoped.scope {
            BudgetScope::User => ("user", user_id.unwrap_or_default()),
            BudgetScope::Team => ("team", team_id.unwrap_or_default()),
        };
        for rule in crossed(0, budget.scoped.spend_micros, Some(limit), &budget.policy) {
            let id = budget_event_id(scope, scope_id, &budget.window.key, rule.at_percent);
            if store.event_by_id(&id).await?.is_some() {
                continue;
            }
            if names.is_none() {
                names = Some(lookup_names(store, user_id, team_id).await?);
            }
            let (email, team_name) = names.clone().unwrap_or_default();
            let event = budget_event(
                id,
                &budget,
                rule.at_percent,
                rule.action,
                email,
                team_id,
                team_name,
                now,
            );
            if store.put_event_if_new(&event).await? {
                tracing::info!(event_id = %event.id, event_type = %event.payload.event_type, "budget event");
                consumed.new_events.push(event);
            }
        }
    }
    Ok(consumed)
}

/// The seeded table with the admin's rows, as the gateway prices with; a setting that does not parse is
/// logged and the seeded table used (as the gateway does).
async fn prices_in_force<S>(store: &S) -> Result<PriceTable, StoreError>
where
    S: SettingsStore + ?Sized,
{
    let Some(text) = store.get_setting(OVERRIDES_KEY).await? else {
        return Ok(PriceTable::seeded());
    };
    Ok(PriceOverrides::parse(&text).map_or_else(
        |e| {
            tracing::error!(key = OVERRIDES_KEY, error = %e, "price overrides are not valid JSON; using the seeded prices");
            PriceTable::seeded()
        },
        |overrides| overrides.table(),
    ))
}

async fn lookup_names<S>(
    store: &S,
    user_id: Option<&str>,
    team_id: Option<&str>,
) -> Result<(Option<String>, Option<String>), StoreError>
where
    S: UserStore + TeamStore + ?Sized,
{
    let email = match user_id {
        Some(id) => store.user_by_id(id).await?.map(|u| u.email),
        None => None,
    };
    let team_name = match team_id {
        Some(id) => store.team_by_id(id).await?.map(|t| t.name),
        None => None,
    };
    Ok((email, team_name))
}

#[expect(clippy::too_many_arguments, reason = "one event from its parts")]
fn budget_event(
    id: String,
    budget: &AppliedBudget,
    threshold: u32,
    action: Action,
    email: Option<String>,
    team_id: Option<&str>,
    team_name: Option<String>,
    now: DateTime<Utc>,
) -> NotifyEvent {
    let team = budget.scoped.scope == BudgetScope::Team;
    let event_type = match (team, action) {
        (false, Action::Notify) => EventType::BudgetWarning,
        (false, Action::Shape) => EventType::BudgetShaped,
        (false, Action::Block) => EventType::BudgetBlocked,
        (true, Action::Notify) => EventType::TeamBudgetWarning,
        (true, Action::Shape) => EventType::TeamBudgetShaped,
        (true, Action::Block) => EventType::TeamBudgetBlocked,
    };
    let period = match budget.scoped.period {
        Period::Daily => BudgetPeriod::Daily,
        Period::Weekly => BudgetPeriod::Weekly,
        Period::Monthly => BudgetPeriod::Monthly,
    };
    let detail = BudgetDetail::from_micros(
        threshold,
        i64::try_from(budget.scoped.spend_micros).unwrap_or(i64::MAX),
        i64::try_from(budget.scoped.limit_micros.unwrap_or(0)).unwrap_or(i64::MAX),
        period,
        budget.window.start,
    );
    NotifyEvent {
        id,
        created_at_ms: now.timestamp_millis(),
        payload: NotificationPayload::new(
            event_type,
            if team { None } else { email },
            team_id.map(str::to_owned),
            team_name,
            EventDetail::Budget(detail),
            now,
        ),
    }
}
