//! The org views over a small ledger turned into rollups by the real `spend_delta`, checked against numbers
//! worked out by hand (in the comments).

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};

use super::*;
use crate::analytics::window::{Audience, WindowQuery, bucket_start_ms};
use crate::identity::{PersonGroups, Role, Team, User};
use crate::spend::ledger::{Counter, spend_delta};
use crate::spend::{Outcome, UsageRecord};

const SONNET: &str = "claude-sonnet-4-5";
const HAIKU: &str = "claude-haiku-4-5";
const MYSTERY: &str = "mystery-model";

#[expect(clippy::too_many_arguments, reason = "one test record from its parts")]
fn record(
    id: &str,
    at: &str,
    user: Option<&str>,
    team: Option<&str>,
    model: &str,
    cost: Option<u64>,
    tokens: [u64; 4],
    duration_ms: u64,
    tools: &[&str],
) -> UsageRecord {
    UsageRecord {
        request_id: id.into(),
        time_ms: bucket_start_ms(at).expect("time") + 60_000,
        key_id: "key_a".into(),
        user_id: user.map(str::to_owned),
        team_id: team.map(str::to_owned),
        requested_model: model.into(),
        bedrock_model_id: format!("us.anthropic.{model}"),
        stream: true,
        input_tokens: tokens[0],
        output_tokens: tokens[1],
        cache_read_tokens: tokens[2],
        cache_write_tokens: tokens[3],
        cache_write_5m_tokens: None,
        cache_write_1h_tokens: None,
        stop_reason: Some("end_turn".into()),
        duration_ms,
        ttfb_ms: None,
        invocation_metrics: None,
        tool_names: tools.iter().map(|t| (*t).to_owned()).collect(),
        thinking: false,
        session_id: None,
        endpoint: None,
        region: None,
        outcome: Outcome::Complete,
        cost_micros: cost,
        policy_refusal: None,
    }
}

/// r1 21 Nov Ada (Research) Sonnet $1.00, in 100 out 50 read 300, 400 ms, Bash ×2
/// r2 22 Nov Bo (Ops) Sonnet $2.00, in 200 out 100 read 100, 1 500 ms, mcp__github__a
/// r3 22 Nov Cy (no team) Haiku $0.50, in 50 out 10, 200 ms, web_search
/// r4 22 Nov a key without person or team, unpriced model, in 10 out 10, 100 ms: charged at the book's dearest
///    rates ($15 / $75 per MTok) = $0.0009
fn ledger() -> Vec<UsageRecord> {
    vec![
        record(
            "r1",
            "2026-11-21T10",
            Some("u1"),
            Some("t1"),
            SONNET,
            Some(1_000_000),
            [100, 50, 300, 0],
            400,
            &["Bash", "Bash"],
        ),
        record(
            "r2",
            "2026-11-22T08",
            Some("u2"),
            Some("t2"),
            SONNET,
            Some(2_000_000),
            [200, 100, 100, 0],
            1_500,
            &["mcp__github__a"],
        ),
        record(
            "r3",
            "2026-11-22T09",
            Some("u3"),
            None,
            HAIKU,
            Some(500_000),
            [50, 10, 0, 0],
            200,
            &["web_search"],
        ),
        record(
            "r4",
            "2026-11-22T09",
            None,
            None,
            MYSTERY,
            None,
            [10, 10, 0, 0],
            100,
            &[],
        ),
    ]
}

/// The rollups of one granularity tag (`h` or `d`) and dimension, as a store would hold them.
fn rollups(records: &[UsageRecord], tag: &str, dimension: &str) -> Vec<Rollup> {
    let prefix = format!("rollup#{tag}#{dimension}#");
    let mut counters: BTreeMap<String, Counter> = BTreeMap::new();
    for r in records {
        for add in spend_delta(r)
            .counters
            .into_iter()
            .filter(|c| c.key.starts_with(&prefix))
        {
            let counter = counters.entry(add.key.clone()).or_insert_with(|| Counter {
                key: add.key.clone(),
                family: add.family.clone(),
                values: BTreeMap::new(),
            });
            for (field, n) in add.adds {
                *counter.values.entry(field).or_insert(0) += n;
            }
        }
    }
    counters.into_values().filter_map(Rollup::parse).collect()
}

fn people() -> People {
    let user = |id: &str, email: &str, team: Option<&str>| User {
        id: id.into(),
        email: email.into(),
        role: Role::Member,
        team_id: team.map(str::to_owned),
        active: true,
        idp: "local".into(),
        created_at_ms: 0,
        groups: PersonGroups::default(),
    };
    let team = |id: &str, name: &str| Team {
        id: id.into(),
        name: name.into(),
        created_at_ms: 0,
    };
    People::new(
        &[
            user("u1", "ada@x.io", Some("t1")),
            user("u2", "bo@x.io", Some("t2")),
            user("u3", "cy@x.io", None),
        ],
        &[team("t1", "Research"), team("t2", "Ops")],
    )
}

fn window() -> Window {
    let now = Utc
        .with_ymd_and_hms(2026, 11, 22, 9, 30, 0)
        .single()
        .expect("now");
    let query = WindowQuery {
        days: Some(2),
        granularity: Some("day".into()),
        ..WindowQuery::default()
    };
    Window::resolve(&query, Audience::Org, now).expect("window")
}

struct Fixture {
    window: Window,
    people: People,
    model: Vec<Rollup>,
    user: Vec<Rollup>,
    team: Vec<Rollup>,
}

impl Fixture {
    fn new() -> Self {
        let ledger = ledger();
        Self {
            window: window(),
            people: people(),
            model: rollups(&ledger, "d", "model"),
            user: rollups(&ledger, "d", "user"),
            team: rollups(&ledger, "d", "team"),
        }
    }

    fn org<'a>(&'a self, filters: &'a Filters) -> Org<'a> {
        Org {
            window: &self.window,
            filters,
            people: &self.people,
            model: &self.model,
            user: &self.user,
            team: &self.team,
        }
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn overview_totals_prior_period_and_filter_options() {
    let f = Fixture::new();
    let filters = Filters::default();
    let prior = vec![record(
        "p1",
        "2026-11-19T12",
        Some("u1"),
        Some("t1"),
        SONNET,
        Some(250_000),
        [1, 1, 0, 0],
        10,
        &[],
    )];
    let view = overview(
        &f.org(&filters),
        &rollups(&prior, "d", "model"),
        &rollups(&prior, "d", "user"),
        &PriceTable::seeded(),
    );
    let o = &view.overview;
    assert_eq!((o.requests, o.unique_users, o.unpriced_requests), (4, 3, 1));
    assert!(close(o.cost_usd, 3.5009));
    assert_eq!(
        (o.input_tokens, o.output_tokens, o.cache_read_tokens),
        (360, 170, 400)
    );
    // (400 + 1500 + 200 + 100) / 4
    assert!(close(o.avg_duration_ms, 550.0));
    // 400 / (360 + 400) = 52.63 %
    assert!(close(o.cache_hit_rate, 52.6));
    // Sonnet's 400 cache-read tokens at $3.00 − $0.30 per MTok.
    assert!(close(o.cache_savings_usd, 0.001_08));
    assert_eq!((o.prior_requests, o.prior_unique_users), (1, 1));
    assert!(close(o.prior_cost_usd, 0.25));
    assert_eq!(view.filters.teams, vec!["Ops", "Research", NO_TEAM]);
    assert_eq!(view.filters.users, vec!["ada@x.io", "bo@x.io", "cy@x.io"]);
    assert_eq!(view.filters.models, vec![HAIKU, SONNET, MYSTERY]);
    assert!(view.filters.endpoints.is_empty() && view.unapplied_filters.is_empty());
}

#[test]
fn spend_by_team_with_the_no_team_remainder_by_person_and_model_and_a_forecast() {
    let f = Fixture::new();
    let filters = Filters::default();
    let view = spend(&f.org(&filters), Vec::new());
    let series: Vec<_> = view
        .timeseries
        .iter()
        .map(|p| (p.team_name.as_str(), p.bucket.as_str(), p.cost_usd))
        .collect();
    // 22 Nov: $2.5009 in all, $2.00 of it Ops → $0.5009 (Cy, and the unpriced key at its fallback price) without a team.
    assert_eq!(
        series,
        vec![
            ("Ops", "2026-11-22", 2.0),
            ("Research", "2026-11-21", 1.0),
            (NO_TEAM, "2026-11-22", 0.5009)
        ]
    );
    let teams: Vec<_> = view
        .by_team
        .iter()
        .map(|t| (t.team_name.as_str(), t.cost_usd, t.request_count))
        .collect();
    assert_eq!(
        teams,
        vec![("Ops", 2.0, 1), ("Research", 1.0, 1), (NO_TEAM, 0.5009, 2)]
    );
    let users: Vec<_> = view
        .by_user
        .iter()
        .map(|u| {
            (
                u.user_identity.as_str(),
                u.team_name.as_deref(),
                u.cost_usd,
                u.total_tokens,
            )
        })
        .collect();
    assert_eq!(
        users,
        vec![
            ("bo@x.io", Some("Ops"), 2.0, 400),
            ("ada@x.io", Some("Research"), 1.0, 450),
            ("cy@x.io", None, 0.5, 60)
        ]
    );
    assert_eq!(
        view.by_user[0].last_active.as_deref(),
        Some("2026-11-22T00:00:00Z")
    );
    let models: Vec<_> = view
        .by_model
        .iter()
        .map(|m| (m.model.as_str(), m.cost_usd, m.request_count))
        .collect();
    assert_eq!(
        models,
        vec![(SONNET, 3.0, 2), (HAIKU, 0.5, 1), (MYSTERY, 0.0009, 1)]
    );
    // Days $1.00, $2.5009: slope 1.5009, intercept 1.0 → $4.0018 and $5.5027 over the next min(7, 2) days.
    let forecast: Vec<_> = view
        .forecast
        .iter()
        .map(|p| (p.day.as_str(), p.cost_usd, p.is_forecast))
        .collect();
    assert_eq!(
        forecast,
        vec![
            ("2026-11-21", 1.0, false),
            ("2026-11-22", 2.5009, false),
            ("2026-11-23", 4.0018, true),
            ("2026-11-24", 5.5027, true)
        ]
    );
}

#[test]
fn a_team_filter_narrows_people_and_teams_and_says_what_it_could_not_narrow() {
    let f = Fixture::new();
    let filters = Filters {
        teams: vec!["Research".into()],
        ..Filters::default()
    };
    let view = spend(&f.org(&filters), Vec::new());
    assert_eq!(view.by_team.len(), 1);
    assert_eq!(view.by_user.len(), 1);
    assert_eq!(view.by_user[0].user_identity, "ada@x.io");
    assert_eq!(view.by_model.len(), 3, "model rollups carry no team");
    assert_eq!(
        view.unapplied_filters,
        vec!["team filter not applied to by_model (model rollups)"]
    );
    // Totals now come from user rollups: Ada's one request.
    let o = overview(&f.org(&filters), &[], &[], &PriceTable::seeded()).overview;
    assert_eq!((o.requests, o.unique_users), (1, 1));
    assert!(close(o.cost_usd, 1.0));
    let none = Filters {
        teams: vec![NO_TEAM.into()],
        ..Filters::default()
    };
    let view = spend(&f.org(&none), Vec::new());
    assert_eq!(view.by_team.len(), 1);
    assert_eq!(view.by_team[0].team_name, NO_TEAM);
    assert_eq!(view.by_user[0].user_identity, "cy@x.io");
}

#[test]
fn models_mix_latency_cache_rate_and_tokens() {
    let f = Fixture::new();
    let filters = Filters::default();
    let view = models(&f.org(&filters));
    let mix: Vec<_> = view
        .model_mix
        .iter()
        .map(|m| (m.model.as_str(), m.request_count))
        .collect();
    assert_eq!(mix, vec![(SONNET, 2), (HAIKU, 1), (MYSTERY, 1)]);
    let sonnet = view
        .latency
        .iter()
        .find(|l| l.model == SONNET)
        .expect("sonnet");
    // 400 ms (≤ 500) and 1 500 ms (≤ 2 000): p50 rank 1 → 500; p95 rank 2 → 2 000.
    assert_eq!(
        (sonnet.p50, sonnet.p95, sonnet.p99),
        (Some(500), Some(2_000), Some(2_000))
    );
    let rates: Vec<_> = view
        .cache_rate
        .iter()
        .map(|c| (c.bucket.as_str(), c.cache_hit_rate))
        .collect();
    // 21 Nov 300 / (100 + 300); 22 Nov 100 / (260 + 100) = 27.78 %.
    assert_eq!(rates, vec![("2026-11-21", 75.0), ("2026-11-22", 27.8)]);
    let order: Vec<_> = view
        .token_breakdown
        .iter()
        .map(|t| t.model.as_str())
        .collect();
    assert_eq!(order, vec![SONNET, HAIKU, MYSTERY]);
    assert_eq!(view.token_breakdown[0].cache_read_tokens, 400);
    let only_haiku = Filters {
        models: vec![HAIKU.into()],
        ..Filters::default()
    };
    assert_eq!(models(&f.org(&only_haiku)).model_mix.len(), 1);
}

#[test]
fn tools_count_calls_people_mcp_servers_and_adoption() {
    let f = Fixture::new();
    let filters = Filters::default();
    let view = tools(&f.org(&filters));
    assert_eq!(
        view.totals,
        ToolTotals {
            total_tool_calls: 4,
            web_search_count: 1,
            mcp_tool_count: 1,
            unique_mcp_servers: 1
        }
    );
    let top: Vec<_> = view
        .top_tools
        .iter()
        .map(|t| (t.tool_name.as_str(), t.usage_count, t.unique_users))
        .collect();
    assert_eq!(
        top,
        vec![
            ("Bash", 2, 1),
            ("mcp__github__a", 1, 1),
            ("web_search", 1, 1)
        ]
    );
    assert_eq!(
        view.mcp_servers,
        vec![McpServer {
            server_name: "github".into(),
            unique_tools: 1,
            usage_count: 1,
            unique_users: 1
        }]
    );
    let adoption: Vec<_> = view
        .mcp_adoption
        .iter()
        .map(|a| (a.bucket.as_str(), a.mcp_users, a.total_users))
        .collect();
    assert_eq!(adoption, vec![("2026-11-21", 0, 1), ("2026-11-22", 1, 2)]);
}

#[test]
fn activity_splits_new_and_returning_people_and_maps_hours() {
    let f = Fixture::new();
    let filters = Filters::default();
    let mut history = ledger();
    // Ada first came on 1 Nov, inside the 90-day look-back.
    history.push(record(
        "old",
        "2026-11-01T12",
        Some("u1"),
        Some("t1"),
        SONNET,
        Some(1),
        [1, 0, 0, 0],
        10,
        &[],
    ));
    let view = activity(
        &f.org(&filters),
        &rollups(&history, "d", "user"),
        &rollups(&ledger(), "h", "model"),
    );
    let points: Vec<_> = view
        .active_users
        .iter()
        .map(|p| (p.bucket.as_str(), p.new_users, p.returning_users))
        .collect();
    assert_eq!(points, vec![("2026-11-21", 0, 1), ("2026-11-22", 2, 0)]);
    // Saturday 21 Nov 10:00 → (5, 10); Sunday 22 Nov 08:00 → (6, 8); 09:00 twice → (6, 9).
    let cells: Vec<_> = view
        .heatmap
        .iter()
        .map(|c| (c.day_of_week, c.hour, c.request_count))
        .collect();
    assert_eq!(cells, vec![(5, 10, 1), (6, 8, 1), (6, 9, 2)]);
}
