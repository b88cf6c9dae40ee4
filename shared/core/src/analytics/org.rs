//! The org views (`/admin/analytics/org/overview|spend|activity|models|tools`), each summed from the rollups
//! of the window. Which rollups answer what:
//!
//! - totals, forecast, tool counts, heatmap: the primary rollups — model rollups (every request has a model),
//!   or user rollups when a team or user filter is set;
//! - per-team series: team rollups (the team at request time); spend without a team is the model total
//!   minus the team totals of the same bucket, named [`NO_TEAM`];
//! - per-person rows, unique and new/returning people, tool and MCP users: user rollups;
//! - per-model rows, latency, cache rate, token breakdown: model rollups.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{NaiveDate, SecondsFormat, TimeZone, Utc};
use serde::Serialize;

use crate::spend::PriceTable;
use crate::spend::ledger::{
    CACHE_READ_TOKENS, CACHE_WRITE_TOKENS, COST, Dimension, INPUT_TOKENS, OUTPUT_TOKENS, REQUESTS,
};

use super::metrics::{
    ActiveUsers, ForecastPoint, HeatCell, active_users, cache_hit_rate, cache_savings_micros,
    forecast, heatmap, latency_percentile, mcp_server,
};
use super::rollup::{Filters, NO_TEAM, People, Rollup, Sums, round1, usd};
use super::window::Window;

/// The org tools view lists at most 30 tools (CCAG).
pub const ORG_TOP_TOOLS: usize = 30;

/// The rollups of one window, all three dimensions (a view reads the ones it needs).
#[derive(Debug, Clone, Copy)]
pub struct Org<'a> {
    pub window: &'a Window,
    pub filters: &'a Filters,
    pub people: &'a People,
    pub model: &'a [Rollup],
    pub user: &'a [Rollup],
    pub team: &'a [Rollup],
}

impl Org<'_> {
    fn primary(&self) -> Vec<&Rollup> {
        match self.filters.primary() {
            Dimension::User => self.filters.apply(self.user, self.people),
            _ => self.filters.apply(self.model, self.people),
        }
    }

    fn users(&self) -> Vec<&Rollup> {
        self.filters.apply(self.user, self.people)
    }

    fn models(&self) -> Vec<&Rollup> {
        self.filters.apply(self.model, self.people)
    }
}

fn active_ids<'a>(rollups: impl IntoIterator<Item = &'a Rollup>) -> BTreeSet<&'a str> {
    rollups
        .into_iter()
        .filter(|r| r.get(REQUESTS) > 0)
        .map(|r| r.id.as_str())
        .collect()
}

fn group<'a, K: Ord>(
    rollups: impl IntoIterator<Item = &'a Rollup>,
    key: impl Fn(&Rollup) -> K,
) -> BTreeMap<K, Sums> {
    let mut out: BTreeMap<K, Sums> = BTreeMap::new();
    for r in rollups {
        out.entry(key(r)).or_default().add(&r.values);
    }
    out
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------------------------------------- overview

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OverviewNumbers {
    pub requests: u64,
    pub unique_users: u64,
    pub cost_usd: f64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub avg_duration_ms: f64,
    pub prior_requests: u64,
    pub prior_cost_usd: f64,
    pub prior_unique_users: u64,
    pub unpriced_requests: u64,
    pub cache_hit_rate: f64,
    pub cache_savings_usd: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilterOptions {
    pub teams: Vec<String>,
    pub users: Vec<String>,
    pub models: Vec<String>,
    pub endpoints: Vec<String>,
    pub projects: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    pub overview: OverviewNumbers,
    pub filters: FilterOptions,
    pub unapplied_filters: Vec<String>,
}

/// Totals of the window against the prior window of the same length (the prior numbers ignore the filters,
/// as CCAG's do), and the values the filters can take.
#[must_use]
pub fn overview(
    org: &Org,
    prior_model: &[Rollup],
    prior_user: &[Rollup],
    prices: &PriceTable,
) -> Overview {
    let primary = org.primary();
    let sums = Sums::of(primary.iter().copied());
    let by_model = group(org.models(), |r| r.id.clone());
    let prior = Sums::of(prior_model);

    let team_requests: u64 = org.team.iter().map(|r| r.get(REQUESTS)).sum();
    let all_requests: u64 = org.model.iter().map(|r| r.get(REQUESTS)).sum();
    let mut teams: Vec<String> = active_ids(org.team)
        .into_iter()
        .map(|id| org.people.team_name(id).to_owned())
        .collect();
    teams.sort();
    teams.dedup();
    if all_requests > team_requests {
        teams.push(NO_TEAM.to_owned());
    }
    let mut users: Vec<String> = active_ids(org.user)
        .into_iter()
        .map(|id| org.people.email(id).to_owned())
        .collect();
    users.sort();

    Overview {
        overview: OverviewNumbers {
            requests: sums.requests(),
            unique_users: count(active_ids(org.users()).len()),
            cost_usd: sums.cost_usd(),
            input_tokens: sums.get(INPUT_TOKENS),
            output_tokens: sums.get(OUTPUT_TOKENS),
            cache_read_tokens: sums.get(CACHE_READ_TOKENS),
            cache_write_tokens: sums.get(CACHE_WRITE_TOKENS),
            avg_duration_ms: sums.avg_duration_ms(),
            prior_requests: prior.requests(),
            prior_cost_usd: prior.cost_usd(),
            prior_unique_users: count(active_ids(prior_user).len()),
            unpriced_requests: sums.unpriced(),
            cache_hit_rate: cache_hit_rate(&sums),
            cache_savings_usd: usd(cache_savings_micros(&by_model, prices)),
        },
        filters: FilterOptions {
            teams,
            users,
            models: active_ids(org.model)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            endpoints: Vec::new(),
            projects: Vec::new(),
        },
        unapplied_filters: org.filters.unapplied(&[
            ("totals", org.filters.primary()),
            ("unique_users", Dimension::User),
            ("cache_savings_usd", Dimension::Model),
        ]),
    }
}

// ------------------------------------------------------------------------------------------------- spend

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamPoint {
    pub team_name: String,
    pub bucket: String,
    pub cost_usd: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamSpend {
    pub team_name: String,
    pub cost_usd: f64,
    pub request_count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserSpend {
    pub user_identity: String,
    pub team_name: Option<String>,
    pub cost_usd: f64,
    pub request_count: u64,
    pub total_tokens: u64,
    /// Start of the latest hour or day with a request (rollup resolution).
    pub last_active: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSpend {
    pub model: String,
    pub cost_usd: f64,
    pub request_count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamBudgetStatus {
    pub team_name: String,
    pub budget_usd: f64,
    pub spent_usd: f64,
    pub period: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spend {
    pub timeseries: Vec<TeamPoint>,
    pub by_team: Vec<TeamSpend>,
    pub by_user: Vec<UserSpend>,
    pub by_model: Vec<ModelSpend>,
    pub budget_status: Vec<TeamBudgetStatus>,
    pub forecast: Vec<ForecastPoint>,
    pub unapplied_filters: Vec<String>,
}

/// Per team and bucket: (cost micros, requests), with the no-team remainder when the filters keep it.
fn team_buckets(org: &Org) -> BTreeMap<(String, String), (u64, u64)> {
    let mut out: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    let mut team_total: HashMap<String, (u64, u64)> = HashMap::new();
    for r in org.team {
        let label = org.window.label(r.start_ms);
        let slot = team_total.entry(label.clone()).or_default();
        slot.0 += r.get(COST);
        slot.1 += r.get(REQUESTS);
        if org.filters.keeps(r, org.people) {
            let slot = out
                .entry((org.people.team_name(&r.id).to_owned(), label))
                .or_default();
            slot.0 += r.get(COST);
            slot.1 += r.get(REQUESTS);
        }
    }
    if org.filters.keeps_no_team() {
        let mut all: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for r in org.model {
            let slot = all.entry(org.window.label(r.start_ms)).or_default();
            slot.0 += r.get(COST);
            slot.1 += r.get(REQUESTS);
        }
        for (label, (cost, requests)) in all {
            let (team_cost, team_requests) = team_total.get(&label).copied().unwrap_or_default();
            let rest = (
                cost.saturating_sub(team_cost),
                requests.saturating_sub(team_requests),
            );
            if rest.1 > 0 {
                out.insert((NO_TEAM.to_owned(), label), rest);
            }
        }
    }
    out.retain(|_, (_, requests)| *requests > 0);
    out
}

/// Daily cost of the primary rollups for every day of the window (quiet days count as 0).
fn daily_costs(org: &Org) -> Vec<(NaiveDate, f64)> {
    let mut by_day: BTreeMap<NaiveDate, u64> = BTreeMap::new();
    for r in org.primary() {
        if let Some(t) = Utc.timestamp_millis_opt(r.start_ms).single() {
            *by_day.entry(t.date_naive()).or_insert(0) += r.get(COST);
        }
    }
    let first = Utc.timestamp_millis_opt(org.window.from_ms).single();
    let last = Utc.timestamp_millis_opt(org.window.to_ms - 1).single();
    let (Some(first), Some(last)) = (first, last) else {
        return Vec::new();
    };
    first
        .date_naive()
        .iter_days()
        .take_while(|d| *d <= last.date_naive())
        .map(|d| (d, usd(by_day.get(&d).copied().unwrap_or(0))))
        .collect()
}

fn by_cost<T>(rows: &mut [T], key: impl Fn(&T) -> (f64, &str)) {
    rows.sort_by(|a, b| {
        let (ca, na) = key(a);
        let (cb, nb) = key(b);
        cb.total_cmp(&ca).then_with(|| na.cmp(nb))
    });
}

/// Spend by team over time and in total, by person, by model; budget status as given; the forecast.
#[must_use]
pub fn spend(org: &Org, budget_status: Vec<TeamBudgetStatus>) -> Spend {
    let buckets = team_buckets(org);
    let timeseries = buckets
        .iter()
        .map(|((team, bucket), (cost, _))| TeamPoint {
            team_name: team.clone(),
            bucket: bucket.clone(),
            cost_usd: usd(*cost),
        })
        .collect();
    let mut teams: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for ((team, _), (cost, requests)) in &buckets {
        let slot = teams.entry(team).or_default();
        slot.0 += cost;
        slot.1 += requests;
    }
    let mut by_team: Vec<TeamSpend> = teams
        .into_iter()
        .map(|(team, (cost, requests))| TeamSpend {
            team_name: team.to_owned(),
            cost_usd: usd(cost),
            request_count: requests,
        })
        .collect();
    by_cost(&mut by_team, |t| (t.cost_usd, &t.team_name));

    let users = org.users();
    let mut last: HashMap<&str, i64> = HashMap::new();
    for r in users.iter().filter(|r| r.get(REQUESTS) > 0) {
        let slot = last.entry(&r.id).or_insert(r.start_ms);
        *slot = (*slot).max(r.start_ms);
    }
    let mut by_user: Vec<UserSpend> = group(users.iter().copied(), |r| r.id.clone())
        .into_iter()
        .filter(|(_, s)| s.requests() > 0)
        .map(|(id, sums)| UserSpend {
            user_identity: org.people.email(&id).to_owned(),
            team_name: org
                .people
                .team_of(&id)
                .map(|t| org.people.team_name(t).to_owned()),
            cost_usd: sums.cost_usd(),
            request_count: sums.requests(),
            total_tokens: sums.tokens(),
            last_active: last.get(id.as_str()).and_then(|ms| {
                Utc.timestamp_millis_opt(*ms)
                    .single()
                    .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
            }),
        })
        .collect();
    by_cost(&mut by_user, |u| (u.cost_usd, &u.user_identity));

    let mut by_model: Vec<ModelSpend> = group(org.models(), |r| r.id.clone())
        .into_iter()
        .filter(|(_, s)| s.requests() > 0)
        .map(|(model, sums)| ModelSpend {
            cost_usd: sums.cost_usd(),
            request_count: sums.requests(),
            model,
        })
        .collect();
    by_cost(&mut by_model, |m| (m.cost_usd, &m.model));

    Spend {
        timeseries,
        by_team,
        by_user,
        by_model,
        budget_status,
        forecast: forecast(&daily_costs(org), org.window.days),
        unapplied_filters: org.filters.unapplied(&[
            ("timeseries", Dimension::Team),
            ("by_team", Dimension::Team),
            ("by_user", Dimension::User),
            ("by_model", Dimension::Model),
            ("forecast", org.filters.primary()),
        ]),
    }
}

// ---------------------------------------------------------------------------------------------- activity

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Activity {
    pub active_users: Vec<ActiveUsers>,
    pub heatmap: Vec<HeatCell>,
    pub unapplied_filters: Vec<String>,
}

/// New versus returning people per bucket (`user_days`: user day rollups of the window and its look-back),
/// and the heatmap from `hours` (hour rollups of the primary dimension).
#[must_use]
pub fn activity(org: &Org, user_days: &[Rollup], hours: &[Rollup]) -> Activity {
    let first = super::metrics::first_days(user_days);
    let hours = org.filters.apply(hours, org.people);
    Activity {
        active_users: active_users(org.window, &org.users(), &first),
        heatmap: heatmap(&hours),
        unapplied_filters: org.filters.unapplied(&[
            ("active_users", Dimension::User),
            ("heatmap", org.filters.primary()),
        ]),
    }
}

// ------------------------------------------------------------------------------------------------ models

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelMix {
    pub model: String,
    pub request_count: u64,
    pub cost_usd: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Latency {
    pub model: String,
    pub p50: Option<u64>,
    pub p95: Option<u64>,
    pub p99: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheRate {
    pub bucket: String,
    pub cache_hit_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenBreakdown {
    pub model: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Models {
    pub model_mix: Vec<ModelMix>,
    pub latency: Vec<Latency>,
    pub cache_rate: Vec<CacheRate>,
    pub token_breakdown: Vec<TokenBreakdown>,
    /// Sluice routes to Bedrock only: no endpoint registry, always empty.
    pub endpoints: Vec<serde_json::Value>,
    pub unapplied_filters: Vec<String>,
}

/// Model mix, latency percentiles (see [`latency_percentile`]), cache hit rate per bucket, token breakdown.
#[must_use]
pub fn models(org: &Org) -> Models {
    let rollups = org.models();
    let by_model: Vec<(String, Sums)> = group(rollups.iter().copied(), |r| r.id.clone())
        .into_iter()
        .filter(|(_, s)| s.requests() > 0)
        .collect();
    let mut model_mix: Vec<ModelMix> = by_model
        .iter()
        .map(|(model, s)| ModelMix {
            model: model.clone(),
            request_count: s.requests(),
            cost_usd: s.cost_usd(),
        })
        .collect();
    model_mix.sort_by(|a, b| {
        b.request_count
            .cmp(&a.request_count)
            .then_with(|| a.model.cmp(&b.model))
    });
    let latency = by_model
        .iter()
        .map(|(model, s)| Latency {
            model: model.clone(),
            p50: latency_percentile(s, 0.50),
            p95: latency_percentile(s, 0.95),
            p99: latency_percentile(s, 0.99),
        })
        .collect();
    let cache_rate = group(rollups.iter().copied(), |r| org.window.label(r.start_ms))
        .into_iter()
        .filter(|(_, s)| s.requests() > 0)
        .map(|(bucket, s)| CacheRate {
            bucket,
            cache_hit_rate: round1(cache_hit_rate(&s)),
        })
        .collect();
    let mut token_breakdown: Vec<TokenBreakdown> = by_model
        .iter()
        .map(|(model, s)| TokenBreakdown {
            model: model.clone(),
            input_tokens: s.get(INPUT_TOKENS),
            output_tokens: s.get(OUTPUT_TOKENS),
            cache_read_tokens: s.get(CACHE_READ_TOKENS),
            cache_write_tokens: s.get(CACHE_WRITE_TOKENS),
        })
        .collect();
    token_breakdown.sort_by(|a, b| {
        (b.input_tokens + b.output_tokens)
            .cmp(&(a.input_tokens + a.output_tokens))
            .then_with(|| a.model.cmp(&b.model))
    });
    Models {
        model_mix,
        latency,
        cache_rate,
        token_breakdown,
        endpoints: Vec::new(),
        unapplied_filters: org.filters.unapplied(&[("models", Dimension::Model)]),
    }
}

// ------------------------------------------------------------------------------------------------- tools

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct McpServer {
    pub server_name: String,
    pub unique_tools: u64,
    pub usage_count: u64,
    pub unique_users: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolUse {
    pub tool_name: String,
    pub usage_count: u64,
    pub unique_users: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct McpAdoption {
    pub bucket: String,
    pub mcp_users: u64,
    pub total_users: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolTotals {
    pub total_tool_calls: u64,
    pub web_search_count: u64,
    pub mcp_tool_count: u64,
    pub unique_mcp_servers: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tools {
    pub mcp_servers: Vec<McpServer>,
    pub top_tools: Vec<ToolUse>,
    pub mcp_adoption: Vec<McpAdoption>,
    pub totals: ToolTotals,
    pub unapplied_filters: Vec<String>,
}

/// Tool calls (primary rollups), the people calling each tool and MCP server (user rollups), MCP adoption.
#[must_use]
pub fn tools(org: &Org) -> Tools {
    let calls = Sums::of(org.primary());
    let tools = calls.tools();
    let users = org.users();
    let mut tool_users: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut server_users: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for r in &users {
        for (field, n) in &r.values {
            let Some(tool) = field.strip_prefix(crate::spend::ledger::TOOL_PREFIX) else {
                continue;
            };
            if *n == 0 {
                continue;
            }
            tool_users.entry(tool).or_default().insert(&r.id);
            if let Some(server) = mcp_server(tool) {
                server_users.entry(server).or_default().insert(&r.id);
            }
        }
    }
    let users_of = |tool: &str| count(tool_users.get(tool).map_or(0, BTreeSet::len));

    let mut top_tools: Vec<ToolUse> = tools
        .iter()
        .map(|(name, n)| ToolUse {
            tool_name: (*name).to_owned(),
            usage_count: *n,
            unique_users: users_of(name),
        })
        .collect();
    top_tools.sort_by(|a, b| {
        b.usage_count
            .cmp(&a.usage_count)
            .then_with(|| a.tool_name.cmp(&b.tool_name))
    });
    top_tools.truncate(ORG_TOP_TOOLS);

    let mut servers: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (name, n) in &tools {
        if let Some(server) = mcp_server(name) {
            let slot = servers.entry(server).or_default();
            slot.0 += 1;
            slot.1 += n;
        }
    }
    let mcp_tool_count = servers.values().map(|(_, n)| n).sum();
    let mut mcp_servers: Vec<McpServer> = servers
        .iter()
        .map(|(server, (unique_tools, usage_count))| McpServer {
            server_name: (*server).to_owned(),
            unique_tools: *unique_tools,
            usage_count: *usage_count,
            unique_users: count(server_users.get(server).map_or(0, BTreeSet::len)),
        })
        .collect();
    mcp_servers.sort_by(|a, b| {
        b.usage_count
            .cmp(&a.usage_count)
            .then_with(|| a.server_name.cmp(&b.server_name))
    });

    let mut adoption: BTreeMap<String, (BTreeSet<&str>, BTreeSet<&str>)> = BTreeMap::new();
    for r in users.iter().filter(|r| r.get(REQUESTS) > 0) {
        let slot = adoption.entry(org.window.label(r.start_ms)).or_default();
        slot.1.insert(&r.id);
        if Sums(r.values.clone())
            .tools()
            .keys()
            .any(|t| mcp_server(t).is_some())
        {
            slot.0.insert(&r.id);
        }
    }

    Tools {
        totals: ToolTotals {
            total_tool_calls: calls.tool_calls(),
            web_search_count: tools.get("web_search").copied().unwrap_or(0),
            mcp_tool_count,
            unique_mcp_servers: count(servers.len()),
        },
        mcp_servers,
        top_tools,
        mcp_adoption: adoption
            .into_iter()
            .map(|(bucket, (mcp, all))| McpAdoption {
                bucket,
                mcp_users: count(mcp.len()),
                total_users: count(all.len()),
            })
            .collect(),
        unapplied_filters: org.filters.unapplied(&[
            ("tool counts", org.filters.primary()),
            ("tool users", Dimension::User),
        ]),
    }
}

#[cfg(test)]
#[path = "org_tests.rs"]
mod tests;

// ------------------------------------------------------------------------------------------ policy refusals

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyRefusalCount {
    pub policy: String,
    pub refusals: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonRefusals {
    pub user_id: String,
    pub email: String,
    pub refusals: u64,
}

/// `/admin/analytics/org/policy-refusals`: requests gateway policies refused in the window, by policy (from the
/// key rollups, which every request has) and by person (user rollups), most first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyRefusals {
    pub total: u64,
    pub by_policy: Vec<PolicyRefusalCount>,
    pub by_person: Vec<PersonRefusals>,
}

#[must_use]
pub fn policy_refusals(keys: &[Rollup], users: &[Rollup], people: &People) -> PolicyRefusals {
    use crate::spend::ledger::{POLICY_REFUSALS, POLICY_REFUSED_PREFIX};
    let mut by_policy: BTreeMap<&str, u64> = BTreeMap::new();
    let mut total = 0;
    for r in keys {
        total += r.get(POLICY_REFUSALS);
        for (field, n) in &r.values {
            if let Some(policy) = field.strip_prefix(POLICY_REFUSED_PREFIX) {
                *by_policy.entry(policy).or_default() += n;
            }
        }
    }
    let mut by_person: BTreeMap<&str, u64> = BTreeMap::new();
    for r in users {
        let n = r.get(POLICY_REFUSALS);
        if n > 0 {
            *by_person.entry(r.id.as_str()).or_default() += n;
        }
    }
    let mut by_policy: Vec<PolicyRefusalCount> = by_policy
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(policy, refusals)| PolicyRefusalCount {
            policy: policy.to_owned(),
            refusals,
        })
        .collect();
    by_policy.sort_by(|a, b| b.refusals.cmp(&a.refusals).then(a.policy.cmp(&b.policy)));
    let mut by_person: Vec<PersonRefusals> = by_person
        .into_iter()
        .map(|(id, refusals)| PersonRefusals {
            email: people.email(id).to_owned(),
            user_id: id.to_owned(),
            refusals,
        })
        .collect();
    by_person.sort_by(|a, b| b.refusals.cmp(&a.refusals).then(a.email.cmp(&b.email)));
    PolicyRefusals {
        total,
        by_policy,
        by_person,
    }
}
