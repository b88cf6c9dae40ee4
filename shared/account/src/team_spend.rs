//! Current-period spend per team and per member: `GET /admin/teams/{id}/analytics` and
//! `GET /admin/analytics/overview` (CCAG's shapes, plus the field names CCAG's own CLI reads, which CCAG's
//! server never sent: `team_name`, `spend_limit`, `current_spend`, `requests`). Read from the period counters and
//! budget settings through the same `BudgetState` the gateway judges requests on, so both always agree.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use sluice_core::identity::User;
use sluice_core::spend::Period;
use sluice_core::spend::budget::{BudgetState, inputs_to_read};
use sluice_core::spend::ledger::{REQUESTS, SpendOwner, period_counter_key};
use sluice_core::spend::scope::BudgetScope;

use crate::budgets::team_budget_fields;
use crate::roles::Admin;
use crate::usd::{cents, optional_cents};
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

async fn member_row(
    app: &AppState,
    user: &User,
    team_id: &str,
) -> Result<Value, sluice_core::store::StoreError> {
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
    Ok(json!({
        "user_id": user.id,
        "email": user.email,
        "spend_limit_monthly_usd": optional_cents(limit),
        "spend_limit": optional_cents(limit),
        "budget_period": period.as_str(),
        "period_start": rfc3339_secs(window.start),
        "current_spend_usd": cents(spend),
        "current_spend": cents(spend),
        "request_count": count,
        "requests": count,
    }))
}

/// A team with its budget fields beside it, as CCAG's team page reads them.
#[derive(serde::Serialize)]
struct TeamWithBudget<'a> {
    #[serde(flatten)]
    team: TeamView<'a>,
    #[serde(flatten)]
    budget: serde_json::Map<String, Value>,
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
    let view = TeamWithBudget {
        team: team_view(&team),
        budget: team_budget_fields(state.team.as_ref()),
    };
    Ok(axum::Json(json!({"team": view, "team_name": team.name, "users": rows})).into_response())
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
        let mut row = team_budget_fields(state.team.as_ref());
        row.insert("team_id".into(), json!(team.id));
        row.insert("team_name".into(), json!(team.name));
        row.insert("current_spend_usd".into(), cents(spend));
        row.insert(
            "user_count".into(),
            json!(
                users
                    .iter()
                    .filter(|u| u.team_id.as_deref() == Some(team.id.as_str()))
                    .count()
            ),
        );
        rows.push(Value::Object(row));
    }
    Ok(axum::Json(json!({"teams": rows})).into_response())
}
