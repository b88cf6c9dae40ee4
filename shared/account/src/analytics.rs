//! `/admin/analytics` (any signed-in person, their own usage) and `/admin/analytics/org/*` (admin): the rollup
//! families of the window are read here and summed by `sluice_core::analytics`; raw usage is never scanned.
//!
//! Reads per answer: one `counters_in` per (dimension, bucket) family, 16 at a time, e.g. 7 days hourly =
//! 168 reads per dimension. The per-person view reads its own rollup keys in one `budget_inputs` round trip and
//! its own person × model family per bucket.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::IntoResponse;
use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use sluice_core::analytics::org::TeamBudgetStatus;
use sluice_core::analytics::person::unpriced_models;
use sluice_core::analytics::rollup::usd;
use sluice_core::analytics::{
    Audience, Filters, Org, People, Rollup, Window, WindowQuery, person_view, split_list,
};
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_core::spend::budget::{TeamBudget, team_budget_key};
use sluice_core::spend::ledger::{
    COST, Dimension, Granularity, SpendOwner, period_counter_key, person_model_family,
    rollup_family, rollup_key,
};
use sluice_core::store::Store;

use crate::roles::{Admin, Person};
use crate::{Reply, Shared, store_error};

/// How many rollup families are read at once.
const PARALLEL_READS: usize = 16;

pub(super) type Params = Query<HashMap<String, String>>;

fn window_query(params: &HashMap<String, String>) -> Result<WindowQuery, ApiError> {
    let days = match params.get("days").map(|d| d.trim()) {
        None | Some("") => None,
        Some(d) => Some(d.parse::<u32>().map_err(|_| {
            ApiError::invalid(format!("days: expected a whole number of days, got {d:?}"))
        })?),
    };
    let text = |k: &str| params.get(k).filter(|v| !v.trim().is_empty()).cloned();
    Ok(WindowQuery {
        days,
        from: text("from"),
        to: text("to"),
        granularity: text("granularity"),
    })
}

pub(super) fn window(
    params: &HashMap<String, String>,
    audience: Audience,
) -> Result<Window, ApiError> {
    Window::resolve(&window_query(params)?, audience, Utc::now())
        .map_err(|e| ApiError::invalid(e.to_string()))
}

pub(super) fn filters(params: &HashMap<String, String>) -> Filters {
    let list = |k: &str| split_list(params.get(k).map(String::as_str));
    Filters {
        teams: list("team"),
        users: list("user"),
        models: list("model"),
        endpoints: list("endpoint"),
    }
}

fn json(value: &impl Serialize) -> Reply {
    Ok(axum::Json(value).into_response())
}

/// Every rollup of `dimension` in the given buckets.
async fn load(
    store: &dyn Store,
    granularity: Granularity,
    dimension: Dimension,
    buckets: &[String],
) -> Result<Vec<Rollup>, ApiError> {
    let families = buckets
        .iter()
        .map(|bucket| rollup_family(granularity, dimension, bucket))
        .collect();
    load_families(store, families).await
}

/// Every rollup of the given families, read [`PARALLEL_READS`] at a time.
async fn load_families(store: &dyn Store, families: Vec<String>) -> Result<Vec<Rollup>, ApiError> {
    // Owned names: a borrowing closure here makes the handler future not provably `Send` for axum.
    let pages: Vec<Vec<_>> = futures::stream::iter(families)
        .map(|family| async move { store.counters_in(&family).await })
        .buffered(PARALLEL_READS)
        .try_collect()
        .await
        .map_err(|e| store_error(&e))?;
    Ok(pages
        .into_iter()
        .flatten()
        .filter_map(Rollup::parse)
        .collect())
}

async fn people(store: &dyn Store) -> Result<People, ApiError> {
    let users = store.list_users().await.map_err(|e| store_error(&e))?;
    let teams = store.list_teams().await.map_err(|e| store_error(&e))?;
    Ok(People::new(&users, &teams))
}

/// `GET /admin/analytics`: the caller's own rollups only, whatever their role.
pub(super) async fn mine(
    State(state): State<Shared>,
    Person(caller): Person,
    Query(params): Params,
) -> Reply {
    if caller.user_id.is_none() {
        return Err(ApiError::new(
            ApiErrorKind::Permission,
            "virtual keys cannot use the admin API; sign in instead",
        )
        .into());
    }
    let window = window(&params, Audience::Person)?;
    let store = state.store.as_ref();
    let user_id = caller.user_id.clone().unwrap_or_default();
    let granularity = window.bucketing.source();
    let keys: Vec<String> = window
        .rollup_buckets()
        .iter()
        .map(|b| rollup_key(granularity, Dimension::User, &user_id, b))
        .collect();
    let (_, counters) = store
        .budget_inputs(&[], &keys)
        .await
        .map_err(|e| store_error(&e))?;
    let own: Vec<Rollup> = counters.into_values().filter_map(Rollup::parse).collect();
    let buckets = window.rollup_buckets();
    let families = buckets
        .iter()
        .map(|b| person_model_family(granularity, &user_id, b))
        .collect();
    let models = load_families(store, families).await?;
    // CCAG's `unpriced_models` is org-wide over the last 7 days.
    let recent = load(
        store,
        Granularity::Day,
        Dimension::Model,
        &window.last_days_buckets(7),
    )
    .await?;
    let email = caller.email.clone().unwrap_or_default();
    let prices = state.prices.table(store).await;
    json(&person_view(
        &window,
        &email,
        &own,
        &models,
        &prices,
        unpriced_models(&recent),
    ))
}

/// The window's rollups of all three dimensions.
struct Loaded {
    window: Window,
    filters: Filters,
    people: People,
    model: Vec<Rollup>,
    user: Vec<Rollup>,
    team: Vec<Rollup>,
}

impl Loaded {
    async fn read(
        state: &Shared,
        params: &HashMap<String, String>,
        dimensions: &[Dimension],
    ) -> Result<Self, ApiError> {
        let window = window(params, Audience::Org)?;
        let store = state.store.as_ref();
        let buckets = window.rollup_buckets();
        let granularity = window.bucketing.source();
        let mut loaded = Self {
            window,
            filters: filters(params),
            people: people(store).await?,
            model: Vec::new(),
            user: Vec::new(),
            team: Vec::new(),
        };
        for dimension in dimensions {
            let rollups = load(store, granularity, *dimension, &buckets).await?;
            match dimension {
                Dimension::Model => loaded.model = rollups,
                Dimension::User => loaded.user = rollups,
                Dimension::Team => loaded.team = rollups,
                Dimension::Key | Dimension::PersonModel => {}
            }
        }
        Ok(loaded)
    }

    fn org(&self) -> Org<'_> {
        Org {
            window: &self.window,
            filters: &self.filters,
            people: &self.people,
            model: &self.model,
            user: &self.user,
            team: &self.team,
        }
    }
}

const ALL: [Dimension; 3] = [Dimension::Model, Dimension::User, Dimension::Team];

pub(super) async fn org_overview(
    State(state): State<Shared>,
    _: Admin,
    Query(params): Params,
) -> Reply {
    let loaded = Loaded::read(&state, &params, &ALL).await?;
    let store = state.store.as_ref();
    let prior = loaded.window.prior();
    let (granularity, buckets) = (prior.bucketing.source(), prior.rollup_buckets());
    let prior_model = load(store, granularity, Dimension::Model, &buckets).await?;
    let prior_user = load(store, granularity, Dimension::User, &buckets).await?;
    // The admin's price overrides included, as the gateway prices with.
    let prices = state.prices.table(store).await;
    json(&sluice_core::analytics::overview(
        &loaded.org(),
        &prior_model,
        &prior_user,
        &prices,
    ))
}

pub(super) async fn org_spend(
    State(state): State<Shared>,
    _: Admin,
    Query(params): Params,
) -> Reply {
    let loaded = Loaded::read(&state, &params, &ALL).await?;
    let budgets = budget_status(state.store.as_ref(), &loaded.people).await?;
    json(&sluice_core::analytics::spend(&loaded.org(), budgets))
}

/// Each team with a total budget: its spend in the current period (the team's period counter).
async fn budget_status(
    store: &dyn Store,
    people: &People,
) -> Result<Vec<TeamBudgetStatus>, ApiError> {
    let teams = store.list_teams().await.map_err(|e| store_error(&e))?;
    let keys: Vec<String> = teams.iter().map(|t| team_budget_key(&t.id)).collect();
    let (settings, _) = store
        .budget_inputs(&keys, &[])
        .await
        .map_err(|e| store_error(&e))?;
    let now = Utc::now();
    let mut rows = Vec::new();
    for team in &teams {
        let Some(text) = settings.get(&team_budget_key(&team.id)) else {
            continue;
        };
        let Ok(budget) = serde_json::from_str::<TeamBudget>(text) else {
            tracing::warn!(team = %team.id, "team budget setting does not parse; left out of budget_status");
            continue;
        };
        if let Some(limit) = budget.limit_micros {
            let window = budget.period.window(now);
            rows.push((
                team,
                limit,
                budget.period,
                period_counter_key(SpendOwner::Team, &team.id, &window),
            ));
        }
    }
    let counter_keys: Vec<String> = rows.iter().map(|r| r.3.clone()).collect();
    let (_, counters) = store
        .budget_inputs(&[], &counter_keys)
        .await
        .map_err(|e| store_error(&e))?;
    Ok(rows
        .into_iter()
        .map(|(team, limit, period, key)| TeamBudgetStatus {
            team_name: people.team_name(&team.id).to_owned(),
            budget_usd: usd(limit),
            spent_usd: usd(counters.get(&key).map_or(0, |c| c.get(COST))),
            period: period.as_str().to_owned(),
        })
        .collect())
}

pub(super) async fn org_activity(
    State(state): State<Shared>,
    _: Admin,
    Query(params): Params,
) -> Reply {
    let loaded = Loaded::read(&state, &params, &[Dimension::User]).await?;
    let store = state.store.as_ref();
    let user_days = load(
        store,
        Granularity::Day,
        Dimension::User,
        &loaded.window.first_seen_buckets(),
    )
    .await?;
    let hours = load(
        store,
        Granularity::Hour,
        loaded.filters.primary(),
        &loaded.window.heatmap_buckets(),
    )
    .await?;
    json(&sluice_core::analytics::activity(
        &loaded.org(),
        &user_days,
        &hours,
    ))
}

pub(super) async fn org_policy_refusals(
    State(state): State<Shared>,
    _: Admin,
    Query(params): Params,
) -> Reply {
    let loaded = Loaded::read(&state, &params, &[Dimension::User]).await?;
    let keys = load(
        state.store.as_ref(),
        loaded.window.bucketing.source(),
        Dimension::Key,
        &loaded.window.rollup_buckets(),
    )
    .await?;
    json(&sluice_core::analytics::policy_refusals(
        &keys,
        &loaded.user,
        &loaded.people,
    ))
}

pub(super) async fn org_models(
    State(state): State<Shared>,
    _: Admin,
    Query(params): Params,
) -> Reply {
    let loaded = Loaded::read(&state, &params, &[Dimension::Model]).await?;
    json(&sluice_core::analytics::models(&loaded.org()))
}

pub(super) async fn org_tools(
    State(state): State<Shared>,
    _: Admin,
    Query(params): Params,
) -> Reply {
    let dimensions = [Dimension::Model, Dimension::User];
    let loaded = Loaded::read(&state, &params, &dimensions).await?;
    json(&sluice_core::analytics::tools(&loaded.org()))
}
