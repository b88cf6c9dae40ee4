//! `GET /admin/analytics`: one person's own usage, from their user rollups (totals, tools, trend) and their
//! person × model rollups (the per-model table and cache savings, which need each model's prices).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::spend::ledger::{CACHE_READ_TOKENS, CACHE_WRITE_TOKENS, INPUT_TOKENS, OUTPUT_TOKENS};
use crate::spend::pricing::PriceTable;

use super::metrics::{cache_hit_rate, cache_savings_micros, mcp_server};
use super::rollup::{Rollup, Sums, usd};
use super::window::Window;

/// The per-person view's top tools are capped at 20 (CCAG).
pub const PERSON_TOP_TOOLS: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonTotals {
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub cache_hit_rate_pct: f64,
    pub avg_duration_ms: f64,
    pub streaming_requests: u64,
    pub thinking_requests: u64,
    pub total_tool_calls: u64,
    pub unique_users: u64,
    pub total_cost_usd: f64,
    pub cache_savings_usd: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolCount {
    pub name: String,
    pub count: u64,
    pub is_mcp: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendPoint {
    pub bucket: String,
    pub requests: u64,
    pub tokens: u64,
    pub cost_usd: f64,
}

/// CCAG's per-model row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonModel {
    pub model: String,
    pub request_count: u64,
    pub total_input: u64,
    pub total_output: u64,
    pub total_cache_read: u64,
    pub total_cache_write: u64,
    pub avg_duration_ms: f64,
    pub streaming_count: u64,
    pub cost_usd: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonAnalytics {
    pub days: u32,
    pub granularity: &'static str,
    pub scope: &'static str,
    pub user: String,
    pub unpriced_rows: u64,
    pub unpriced_models: Vec<String>,
    pub totals: PersonTotals,
    pub top_tools: Vec<ToolCount>,
    pub models: Vec<PersonModel>,
    pub trend: Vec<TrendPoint>,
    pub daily: Vec<TrendPoint>,
}

/// The models with unpriced requests among model day rollups (the caller passes the last 7 days, org-wide).
#[must_use]
pub fn unpriced_models(model_days: &[Rollup]) -> Vec<String> {
    let mut names: Vec<String> = model_days
        .iter()
        .filter(|r| r.get(crate::spend::ledger::UNPRICED_REQUESTS) > 0)
        .map(|r| r.id.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Requests, tokens and cost per bucket of the window, every bucket present (0 when quiet).
#[must_use]
pub fn trend(window: &Window, rollups: &[&Rollup]) -> Vec<TrendPoint> {
    let mut by_label: BTreeMap<String, Sums> = BTreeMap::new();
    for r in rollups {
        by_label
            .entry(window.label(r.start_ms))
            .or_default()
            .add(&r.values);
    }
    window
        .labels()
        .into_iter()
        .map(|label| {
            let sums = by_label.remove(&label).unwrap_or_default();
            TrendPoint {
                bucket: label,
                requests: sums.requests(),
                tokens: sums.tokens(),
                cost_usd: sums.cost_usd(),
            }
        })
        .collect()
}

/// Tool calls, most called first (name order among equals), at most `limit`.
#[must_use]
pub fn top_tools(sums: &Sums, limit: usize) -> Vec<ToolCount> {
    let mut tools: Vec<ToolCount> = sums
        .tools()
        .into_iter()
        .map(|(name, count)| ToolCount {
            name: name.to_owned(),
            count,
            is_mcp: mcp_server(name).is_some(),
        })
        .collect();
    tools.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    tools.truncate(limit);
    tools
}

/// One row per model from a person's person × model rollups, most spent first (then most used, then by name).
#[must_use]
pub fn person_models(by_model: &BTreeMap<String, Sums>) -> Vec<PersonModel> {
    let mut rows: Vec<PersonModel> = by_model
        .iter()
        .map(|(model, sums)| PersonModel {
            model: model.clone(),
            request_count: sums.requests(),
            total_input: sums.get(INPUT_TOKENS),
            total_output: sums.get(OUTPUT_TOKENS),
            total_cache_read: sums.get(CACHE_READ_TOKENS),
            total_cache_write: sums.get(CACHE_WRITE_TOKENS),
            avg_duration_ms: sums.avg_duration_ms(),
            streaming_count: sums.streamed(),
            cost_usd: sums.cost_usd(),
        })
        .collect();
    rows.sort_by(|a, b| {
        b.cost_usd
            .total_cmp(&a.cost_usd)
            .then_with(|| b.request_count.cmp(&a.request_count))
            .then_with(|| a.model.cmp(&b.model))
    });
    rows
}

/// Person × model rollups summed per model.
fn by_model(models: &[Rollup]) -> BTreeMap<String, Sums> {
    let mut sums: BTreeMap<String, Sums> = BTreeMap::new();
    for r in models {
        if let Some((_, model)) = r.person_model() {
            sums.entry(model.to_owned()).or_default().add(&r.values);
        }
    }
    sums
}

/// The view of one person: `own` are their user rollups in the window, `models` their person × model rollups
/// in the same window, priced with `prices` for the cache savings.
#[must_use]
pub fn person_view(
    window: &Window,
    email: &str,
    own: &[Rollup],
    models: &[Rollup],
    prices: &PriceTable,
    unpriced_models: Vec<String>,
) -> PersonAnalytics {
    let rollups: Vec<&Rollup> = own.iter().collect();
    let sums = Sums::of(own);
    let points = trend(window, &rollups);
    let per_model = by_model(models);
    PersonAnalytics {
        days: window.days,
        granularity: window.bucketing.as_str(),
        scope: "user",
        user: email.to_owned(),
        unpriced_rows: sums.unpriced(),
        unpriced_models,
        totals: PersonTotals {
            requests: sums.requests(),
            input_tokens: sums.get(INPUT_TOKENS),
            output_tokens: sums.get(OUTPUT_TOKENS),
            cache_read_tokens: sums.get(CACHE_READ_TOKENS),
            cache_write_tokens: sums.get(CACHE_WRITE_TOKENS),
            cache_hit_rate_pct: cache_hit_rate(&sums),
            avg_duration_ms: sums.avg_duration_ms(),
            streaming_requests: sums.streamed(),
            thinking_requests: sums.thinking(),
            total_tool_calls: sums.tool_calls(),
            unique_users: u64::from(sums.requests() > 0),
            total_cost_usd: sums.cost_usd(),
            cache_savings_usd: usd(cache_savings_micros(&per_model, prices)),
        },
        top_tools: top_tools(&sums, PERSON_TOP_TOOLS),
        models: person_models(&per_model),
        daily: points.clone(),
        trend: points,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::window::{Audience, WindowQuery, bucket_start_ms};
    use crate::spend::ledger::Dimension;
    use chrono::{TimeZone, Utc};

    fn rollup(bucket: &str, fields: &[(&str, u64)]) -> Rollup {
        Rollup {
            dimension: Dimension::User,
            id: "u1".into(),
            start_ms: bucket_start_ms(bucket).expect("bucket"),
            values: fields.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
        }
    }

    #[test]
    fn sums_one_persons_rollups_into_totals_tools_and_a_zero_filled_trend() {
        let now = Utc
            .with_ymd_and_hms(2026, 11, 22, 9, 30, 0)
            .single()
            .expect("now");
        let query = WindowQuery {
            days: Some(2),
            granularity: Some("day".into()),
            ..WindowQuery::default()
        };
        let window = Window::resolve(&query, Audience::Person, now).expect("window");
        let own = vec![rollup(
            "2026-11-22",
            &[
                ("requests", 4),
                ("cost_micros", 2_500_000),
                ("unpriced_requests", 1),
                ("input_tokens", 600),
                ("cache_read_tokens", 200),
                ("output_tokens", 100),
                ("streamed", 3),
                ("duration_ms_sum", 4_000),
                ("tool.Bash", 3),
                ("tool.mcp__github__list", 1),
            ],
        )];
        let mut sonnet = rollup(
            "2026-11-22",
            &[
                ("requests", 3),
                ("cost_micros", 2_500_000),
                ("cache_read_tokens", 200),
                ("streamed", 3),
            ],
        );
        sonnet.dimension = Dimension::PersonModel;
        sonnet.id = "u1#claude-sonnet-4-5".into();
        let mut mystery = rollup("2026-11-22", &[("requests", 1), ("unpriced_requests", 1)]);
        mystery.dimension = Dimension::PersonModel;
        mystery.id = "u1#mystery".into();
        let view = person_view(
            &window,
            "ada@x.io",
            &own,
            &[mystery, sonnet],
            &PriceTable::seeded(),
            vec!["mystery".into()],
        );
        // Sonnet 4.5: $3 input, $0.30 cache read per MTok → 200 × $2.70 / 1e6.
        assert!((view.totals.cache_savings_usd - 0.00054).abs() < 1e-12);
        let models: Vec<(&str, u64)> = view
            .models
            .iter()
            .map(|m| (m.model.as_str(), m.request_count))
            .collect();
        assert_eq!(models, vec![("claude-sonnet-4-5", 3), ("mystery", 1)]);
        assert!((view.models[0].cost_usd - 2.5).abs() < 1e-9);
        assert_eq!(view.models[0].streaming_count, 3);
        assert_eq!(view.granularity, "day");
        assert_eq!(view.totals.requests, 4);
        assert!((view.totals.cache_hit_rate_pct - 25.0).abs() < 1e-9);
        assert!((view.totals.avg_duration_ms - 1_000.0).abs() < 1e-9);
        assert!((view.totals.total_cost_usd - 2.5).abs() < 1e-9);
        assert_eq!(view.totals.total_tool_calls, 4);
        assert_eq!(view.unpriced_rows, 1);
        assert_eq!(view.top_tools[0].name, "Bash");
        assert!(view.top_tools[1].is_mcp);
        assert_eq!(view.trend.len(), 2);
        assert_eq!(view.trend[0].requests, 0);
        assert_eq!(view.trend[1].tokens, 900);
    }

    #[test]
    fn unpriced_models_are_named_once_sorted() {
        let mut a = rollup("2026-11-22", &[("unpriced_requests", 1)]);
        a.id = "zeta".into();
        let mut b = rollup("2026-11-21", &[("unpriced_requests", 2)]);
        b.id = "alpha".into();
        let mut c = rollup("2026-11-21", &[("requests", 2)]);
        c.id = "priced".into();
        let d = Rollup {
            id: "zeta".into(),
            ..a.clone()
        };
        assert_eq!(unpriced_models(&[a, b, c, d]), vec!["alpha", "zeta"]);
    }
}
