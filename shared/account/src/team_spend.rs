//! Current-period spend per team and per member: `GET /admin/teams/{id}/analytics` and
//! `GET /admin/analytics/overview` (CCAG's shapes, plus the field names CCAG's own CLI reads, which CCAG's
//! server never sent: `team_name`, `spend_limit`, `current_spend`, `requests`). Read from the period counters and
//! budget settings through the same `BudgetState` the gateway judges requests on, so both always agree.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde::Serialize;
use sluice_core::identity::User;
use sluice_core::spend::Period;
use sluice_core::spend::budget::{BudgetState, inputs_to_read};
use sluice_core::spend::ledger::{REQUESTS, SpendOwner, period_counter_key};
use sluice_core::spend::scope::BudgetScope;

use crate::budgets::{TeamBudgetFields, team_budget_fields};
use crate::roles::Admin;
use crate::usd::Cents;
use crate::views::rfc3339_secs;
use crate::views::{TeamView, team_view};
use crate::{Reply, Shared, store_error};
use sluice_http::app::AppState;

/// The budget state of a person (or of a team alone when `user` is `None`), now.
async fn state(
    app: &AppState,
    user: Option<&User>,
    team_id: Option<&str>,
) -> Result<(BudgetState, std::collections::HashMap<String, u64>), sluice_core::store::StoreError> {
    let now = chrono::Utc::now();
    let user_id = user.map(|u| u.id.as_str());
    let (settings, counters) = inputs_to_read(user_id, team_id, now);
    let (settings, counters) = app.store.budget_inputs(&settings, &counters).await?;
    // Request counts come from the same counters; the budget state keeps only their cost.
    let requests = counters
        .iter()
        .map(|(k, c)| (k.clone(), c.get(REQUESTS)))
        .collect();
    Ok((
        BudgetState::from_store(user_id, team_id, &settings, &counters),
        requests,
    ))
}

/// A member's row on the team page: their limit (as applied now) and spend in its period, each under CCAG's
/// name and the name CCAG's CLI reads.
#[derive(Debug, Serialize)]
struct MemberRow<'a> {
    user_id: &'a str,
    email: &'a str,
    spend_limit_monthly_usd: Option<Cents>,
    spend_limit: Option<Cents>,
    budget_period: &'static str,
    period_start: String,
    current_spend_usd: Cents,
    current_spend: Cents,
    request_count: u64,
    requests: u64,
}

async fn member_row<'a>(
    app: &AppState,
    user: &'a User,
    team_id: &str,
) -> Result<MemberRow<'a>, sluice_core::store::StoreError> {
    let now = chrono::Utc::now();
    let (state, requests) = state(app, Some(user), Some(team_id)).await?;
    let applied = state
        .applied(now)
        .into_iter()
        .find(|a| a.scoped.scope == BudgetScope::User);
    let (limit, period) = match &applied {
        Some(a) => (a.scoped.limit_micros, a.scoped.period),
        None => (
            None,
            state.team.as_ref().map_or(Period::Monthly, |t| t.period),
        ),
    };
    let window = period.window(now);
    let key = period_counter_key(SpendOwner::User, &user.id, &window);
    let spend = state.spend.get(&key).copied().unwrap_or(0);
    let count = requests.get(&key).copied().unwrap_or(0);
    Ok(MemberRow {
        user_id: &user.id,
        email: &user.email,
        spend_limit_monthly_usd: limit.map(Cents),
        spend_limit: limit.map(Cents),
        budget_period: period.as_str(),
        period_start: rfc3339_secs(window.start),
        current_spend_usd: Cents(spend),
        current_spend: Cents(spend),
        request_count: count,
        requests: count,
    })
}

/// A team with its budget fields beside it, as CCAG's team page reads them.
#[derive(Debug, Serialize)]
struct TeamWithBudget<'a> {
    #[serde(flatten)]
    team: TeamView<'a>,
    #[serde(flatten)]
    budget: TeamBudgetFields,
}

/// `GET /admin/teams/{id}/analytics`'s answer.
#[derive(Debug, Serialize)]
struct TeamAnalytics<'a> {
    team: TeamWithBudget<'a>,
    team_name: &'a str,
    users: Vec<MemberRow<'a>>,
}

/// `GET /admin/teams/{id}/analytics` (admin).
pub(super) async fn team_analytics(
    State(app): State<Shared>,
    _: Admin,
    Path(id): Path<String>,
) -> Reply {
    let team = crate::teams::team(&app, &id).await?;
    let users = app.store.list_users().await.map_err(|e| store_error(&e))?;
    let mut rows = Vec::new();
    for user in users
        .iter()
        .filter(|u| u.team_id.as_deref() == Some(team.id.as_str()))
    {
        rows.push(
            member_row(&app, user, &team.id)
                .await
                .map_err(|e| store_error(&e))?,
        );
    }
    let (state, _) = state(&app, None, Some(&team.id))
        .await
        .map_err(|e| store_error(&e))?;
    Ok(axum::Json(TeamAnalytics {
        team: TeamWithBudget {
            team: team_view(&team),
            budget: team_budget_fields(state.team.as_ref()),
        },
        team_name: &team.name,
        users: rows,
    })
    .into_response())
}

/// A team's row in `GET /admin/analytics/overview`: its budget fields and its spend in the current period.
#[derive(Debug, Serialize)]
struct OverviewRow<'a> {
    #[serde(flatten)]
    budget: TeamBudgetFields,
    team_id: &'a str,
    team_name: &'a str,
    current_spend_usd: Cents,
    user_count: usize,
}

/// `GET /admin/analytics/overview`'s answer.
#[derive(Debug, Serialize)]
struct Overview<'a> {
    teams: Vec<OverviewRow<'a>>,
}

/// `GET /admin/analytics/overview` (admin): every team's current-period spend against its budget.
pub(super) async fn overview(State(app): State<Shared>, _: Admin) -> Reply {
    let now = chrono::Utc::now();
    let teams = app.store.list_teams().await.map_err(|e| store_error(&e))?;
    let users = app.store.list_users().await.map_err(|e| store_error(&e))?;
    let mut rows = Vec::new();
    for team in &teams {
        let (state, _) = state(&app, None, Some(&team.id))
            .await
            .map_err(|e| store_error(&e))?;
        let period = state.team.as_ref().map_or(Period::Monthly, |t| t.period);
        let spend = state
            .spend
            .get(&period_counter_key(
                SpendOwner::Team,
                &team.id,
                &period.window(now),
            ))
            .copied()
            .unwrap_or(0);
        rows.push(OverviewRow {
            budget: team_budget_fields(state.team.as_ref()),
            team_id: &team.id,
            team_name: &team.name,
            current_spend_usd: Cents(spend),
            user_count: users
                .iter()
                .filter(|u| u.team_id.as_deref() == Some(team.id.as_str()))
                .count(),
        });
    }
    Ok(axum::Json(Overview { teams: rows }).into_response())
}
