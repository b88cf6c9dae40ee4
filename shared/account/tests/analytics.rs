//! `/admin/analytics*` through the admin router on SQLite: a known ledger is written through `put_usage` and
//! the spend consumer (so the rollups are the real ones), then every endpoint's numbers are checked against
//! hand-computed values, members see only their own view, and the CSV exports parse back to the ledger.
//!
//! The ledger sits 10 and 9 days ago (`day0`, `day1`) and is queried with `from=day0&to=day1&granularity=day`,
//! so the numbers do not depend on the hour the test runs:
//!
//! | id  | when          | who (team)      | model   | cost   | in/out/read | ms    | tools                 |
//! |-----|---------------|-----------------|---------|--------|-------------|-------|-----------------------|
//! | r1  | day0 10:05    | ann (Research)  | sonnet  | $1.00  | 100/50/300  | 400   | Bash, Bash            |
//! | r2  | day1 08:05    | bo (Ops)        | sonnet  | $2.00  | 200/100/100 | 1 500 | mcp__github__create_issue |
//! | r3  | day1 09:05    | cy (no team)    | haiku   | $0.50  | 50/10/0     | 200   | web_search            |
//! | r4  | day1 09:10    | ann (Research)  | mystery | —      | 10/10/0     | 100   |                       |
//! | p1  | day0−1 12:00  | bo (Ops)        | sonnet  | $0.25  | 1/1/0       | 10    | (prior period)        |
//! | old | day0−20 12:00 | ann (Research)  | sonnet  | $0.10  | 1/1/0       | 10    | (ann's first day)     |
//! | now | now − 1 min   | ann (Research)  | sonnet  | $0.40  | 1/1/0       | 10    | (current budget period) |

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Datelike, Duration as Days, NaiveDate, Utc};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sluice_account::admin_router;
use sluice_core::identity::{Role, Team, User};
use sluice_core::spend::budget::{Recipients, TeamBudget, team_budget_key};
use sluice_core::spend::consumer::consume_usage;
use sluice_core::spend::csv_export::{COLUMNS, Directory, row};
use sluice_core::spend::{Outcome, Period, UsageRecord};
use sluice_core::store::Store;
use sluice_http::{AppState, AuthConfig};
use sluice_sqlite::SqliteStore;
use tower::ServiceExt;

const SONNET: &str = "claude-sonnet-4-5";
const HAIKU: &str = "claude-haiku-4-5";
const MYSTERY: &str = "mystery-model";

struct Ledger {
    router: Router,
    admin: String,
    ann: String,
    day0: NaiveDate,
    day1: NaiveDate,
    records: Vec<UsageRecord>,
    users: Vec<User>,
    teams: Vec<Team>,
    now: DateTime<Utc>,
}

fn at(day: NaiveDate, hour: u32, minute: u32) -> i64 {
    day.and_hms_opt(hour, minute, 0)
        .expect("time")
        .and_utc()
        .timestamp_millis()
}

#[expect(clippy::too_many_arguments, reason = "one ledger row from its parts")]
fn record(
    id: &str,
    time_ms: i64,
    user: &User,
    model: &str,
    cost: Option<u64>,
    tokens: [u64; 3],
    duration_ms: u64,
    tools: &[&str],
) -> UsageRecord {
    UsageRecord {
        request_id: id.into(),
        time_ms,
        key_id: format!("key_{}", user.id),
        user_id: Some(user.id.clone()),
        team_id: user.team_id.clone(),
        requested_model: model.into(),
        bedrock_model_id: format!("us.anthropic.{model}-v1:0"),
        stream: true,
        input_tokens: tokens[0],
        output_tokens: tokens[1],
        cache_read_tokens: tokens[2],
        cache_write_tokens: 0,
        cache_write_5m_tokens: None,
        cache_write_1h_tokens: None,
        stop_reason: Some("end_turn".into()),
        duration_ms,
        ttfb_ms: Some(50),
        invocation_metrics: None,
        tool_names: tools.iter().map(|t| (*t).to_owned()).collect(),
        thinking: false,
        session_id: None,
        endpoint: None,
        region: Some("us-east-1".into()),
        outcome: Outcome::Complete,
        cost_micros: cost,
        policy_refusal: None,
    }
}

impl Ledger {
    async fn write() -> Self {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().expect("sqlite"));
        let app = AppState::build(
            store.clone(),
            AuthConfig::from_lookup(|_| None, Duration::ZERO),
        )
        .await
        .expect("app");
        let app = Arc::new(app);
        let teams = vec![
            Team {
                id: "team_research".into(),
                name: "Research".into(),
                created_at_ms: 0,
            },
            Team {
                id: "team_ops".into(),
                name: "Ops".into(),
                created_at_ms: 0,
            },
        ];
        for team in &teams {
            store.create_team(team).await.expect("team");
        }
        let person = |email: &str, role: Role, team: Option<&str>| {
            let mut u = sluice_http::auth::new_user(email, role, "test");
            u.team_id = team.map(str::to_owned);
            u
        };
        let boss = person("boss@example.com", Role::Admin, None);
        let ann = person("ann@example.com", Role::Member, Some("team_research"));
        let bo = person("bo@example.com", Role::Member, Some("team_ops"));
        let cy = person("cy@example.com", Role::Member, None);
        for u in [&boss, &ann, &bo, &cy] {
            store.create_user(u).await.expect("user");
        }

        let now = Utc::now();
        let day0 = now.date_naive() - Days::days(10);
        let day1 = day0 + Days::days(1);
        let records = vec![
            record(
                "old",
                at(day0 - Days::days(20), 12, 0),
                &ann,
                SONNET,
                Some(100_000),
                [1, 1, 0],
                10,
                &[],
            ),
            record(
                "p1",
                at(day0 - Days::days(1), 12, 0),
                &bo,
                SONNET,
                Some(250_000),
                [1, 1, 0],
                10,
                &[],
            ),
            record(
                "r1",
                at(day0, 10, 5),
                &ann,
                SONNET,
                Some(1_000_000),
                [100, 50, 300],
                400,
                &["Bash", "Bash"],
            ),
            record(
                "r2",
                at(day1, 8, 5),
                &bo,
                SONNET,
                Some(2_000_000),
                [200, 100, 100],
                1_500,
                &["mcp__github__create_issue"],
            ),
            record(
                "r3",
                at(day1, 9, 5),
                &cy,
                HAIKU,
                Some(500_000),
                [50, 10, 0],
                200,
                &["web_search"],
            ),
            record(
                "r4",
                at(day1, 9, 10),
                &ann,
                MYSTERY,
                None,
                [10, 10, 0],
                100,
                &[],
            ),
            // A name that needs quoting in CSV.
            record(
                "now",
                now.timestamp_millis() - 60_000,
                &ann,
                "model,\"quoted\"",
                Some(400_000),
                [1, 1, 0],
                10,
                &[],
            ),
        ];
        for r in &records {
            assert!(store.put_usage(r).await.expect("usage"));
            consume_usage(store.as_ref(), r, now)
                .await
                .expect("consume");
        }
        let budget = TeamBudget {
            limit_micros: Some(50_000_000),
            period: Period::Monthly,
            policy: None,
            member_default_micros: None,
            notify_recipients: Recipients::Both,
        };
        store
            .put_setting(
                &team_budget_key("team_research"),
                &serde_json::to_string(&budget).expect("json"),
            )
            .await
            .expect("budget");
        let stamp = now.timestamp();
        Self {
            router: admin_router(app.clone()),
            admin: app.auth.sessions.issue(&boss, stamp),
            ann: app.auth.sessions.issue(&ann, stamp),
            day0,
            day1,
            records,
            users: vec![boss, ann, bo, cy],
            teams,
            now,
        }
    }

    fn window(&self) -> String {
        format!("from={}&to={}&granularity=day", self.day0, self.day1)
    }

    async fn raw(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let mut req = Request::builder().uri(path);
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let resp = self
            .router
            .clone()
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        (status, headers, bytes.to_vec())
    }

    async fn get_as(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let (status, _, bytes) = self.raw(path, token).await;
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes)));
        (status, value)
    }

    /// An admin GET of `path?<window>&<extra>`, expected 200.
    async fn org(&self, path: &str, extra: &str) -> Value {
        let (status, body) = self
            .get_as(
                &format!("{path}?{}&{extra}", self.window()),
                Some(&self.admin),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

fn pick(rows: &Value, fields: &[&str]) -> Vec<Vec<Value>> {
    rows.as_array()
        .expect("array")
        .iter()
        .map(|row| fields.iter().map(|f| row[*f].clone()).collect())
        .collect()
}

#[tokio::test]
async fn overview_counts_the_window_against_the_prior_period_and_lists_filter_values() {
    let l = Ledger::write().await;
    let body = l.org("/admin/analytics/org/overview", "").await;
    let o = &body["overview"];
    assert_eq!(o["requests"], 4);
    assert_eq!(o["unique_users"], 3);
    // r4's unpriced model is charged at the book's dearest rates: 10 in × $15 + 10 out × $75 per MTok = $0.0009.
    assert_eq!(o["cost_usd"], 3.5009);
    assert_eq!(
        (
            o["input_tokens"].clone(),
            o["output_tokens"].clone(),
            o["cache_read_tokens"].clone()
        ),
        (json!(360), json!(170), json!(400))
    );
    // (400 + 1 500 + 200 + 100) / 4
    assert_eq!(o["avg_duration_ms"], 550.0);
    assert_eq!(o["unpriced_requests"], 1);
    // The 2 days before day0: p1 only.
    assert_eq!(
        (
            o["prior_requests"].clone(),
            o["prior_cost_usd"].clone(),
            o["prior_unique_users"].clone()
        ),
        (json!(1), json!(0.25), json!(1))
    );
    assert_eq!(
        body["filters"]["teams"],
        json!(["Ops", "Research", "__none__"])
    );
    assert_eq!(
        body["filters"]["users"],
        json!(["ann@example.com", "bo@example.com", "cy@example.com"])
    );
    assert_eq!(body["filters"]["models"], json!([HAIKU, SONNET, MYSTERY]));
    assert_eq!(body["filters"]["endpoints"], json!([]));
    assert_eq!(body["filters"]["projects"], json!([]));
}

#[tokio::test]
async fn spend_by_team_person_and_model_with_budget_status_and_forecast() {
    let l = Ledger::write().await;
    let body = l.org("/admin/analytics/org/spend", "").await;
    let (d0, d1) = (l.day0.to_string(), l.day1.to_string());
    // day1: $2.5009 in all, Ops $2.00, Research $0.0009 (r4 unpriced, charged at the book's dearest rates) → $0.50
    // without a team (cy).
    assert_eq!(
        pick(&body["timeseries"], &["team_name", "bucket", "cost_usd"]),
        vec![
            vec![json!("Ops"), json!(d1), json!(2.0)],
            vec![json!("Research"), json!(d0), json!(1.0)],
            vec![json!("Research"), json!(d1), json!(0.0009)],
            vec![json!("__none__"), json!(d1), json!(0.5)],
        ]
    );
    assert_eq!(
        pick(
            &body["by_team"],
            &["team_name", "cost_usd", "request_count"]
        ),
        vec![
            vec![json!("Ops"), json!(2.0), json!(1)],
            vec![json!("Research"), json!(1.0009), json!(2)],
            vec![json!("__none__"), json!(0.5), json!(1)]
        ]
    );
    assert_eq!(
        pick(
            &body["by_user"],
            &[
                "user_identity",
                "team_name",
                "cost_usd",
                "request_count",
                "total_tokens"
            ]
        ),
        vec![
            vec![
                json!("bo@example.com"),
                json!("Ops"),
                json!(2.0),
                json!(1),
                json!(400)
            ],
            vec![
                json!("ann@example.com"),
                json!("Research"),
                json!(1.0009),
                json!(2),
                json!(470)
            ],
            vec![
                json!("cy@example.com"),
                Value::Null,
                json!(0.5),
                json!(1),
                json!(60)
            ],
        ]
    );
    assert_eq!(
        body["by_user"][1]["last_active"],
        json!(format!("{d1}T00:00:00Z"))
    );
    assert_eq!(
        pick(&body["by_model"], &["model", "cost_usd", "request_count"]),
        vec![
            vec![json!(SONNET), json!(3.0), json!(2)],
            vec![json!(HAIKU), json!(0.5), json!(1)],
            vec![json!(MYSTERY), json!(0.0009), json!(1)]
        ]
    );
    // Days $1.00 and $2.5009: slope 1.5009 → $4.0018 and $5.5027 on the next min(7, 2) days.
    let (f2, f3) = (
        (l.day1 + Days::days(1)).to_string(),
        (l.day1 + Days::days(2)).to_string(),
    );
    assert_eq!(
        pick(&body["forecast"], &["day", "cost_usd", "is_forecast"]),
        vec![
            vec![json!(d0), json!(1.0), json!(false)],
            vec![json!(d1), json!(2.5009), json!(false)],
            vec![json!(f2), json!(4.0018), json!(true)],
            vec![json!(f3), json!(5.5027), json!(true)],
        ]
    );
    // Research's monthly budget: its records in the current month, the unpriced one at its fallback charge.
    let month = Period::Monthly.window(l.now).key;
    let spent: u64 = l
        .records
        .iter()
        .filter(|r| {
            r.team_id.as_deref() == Some("team_research")
                && Period::Monthly.window_at_ms(r.time_ms).key == month
        })
        .map(|r| {
            sluice_core::spend::fallback::charged_micros(
                &sluice_core::spend::PriceTable::seeded(),
                r.cost_micros,
                &r.bedrock_model_id,
                &r.tokens(),
            )
        })
        .sum();
    assert_eq!(
        body["budget_status"],
        json!([{"team_name": "Research", "budget_usd": 50.0, "spent_usd": spent as f64 / 1e6, "period": "monthly"}])
    );
}

#[tokio::test]
async fn filters_narrow_the_views_that_can_carry_them() {
    let l = Ledger::write().await;
    let body = l.org("/admin/analytics/org/spend", "team=Research").await;
    assert_eq!(
        pick(&body["by_user"], &["user_identity"]),
        vec![vec![json!("ann@example.com")]]
    );
    assert_eq!(
        pick(&body["by_team"], &["team_name"]),
        vec![vec![json!("Research")]]
    );
    assert_eq!(body["by_model"].as_array().expect("models").len(), 3);
    assert_eq!(
        body["unapplied_filters"],
        json!(["team filter not applied to by_model (model rollups)"])
    );
    let overview = l
        .org(
            "/admin/analytics/org/overview",
            "user=bo@example.com,cy@example.com",
        )
        .await;
    assert_eq!(overview["overview"]["requests"], 2);
    assert_eq!(overview["overview"]["cost_usd"], 2.5);
    let models = l
        .org("/admin/analytics/org/models", &format!("model={HAIKU}"))
        .await;
    assert_eq!(
        pick(&models["model_mix"], &["model", "request_count"]),
        vec![vec![json!(HAIKU), json!(1)]]
    );
    let none = l.org("/admin/analytics/org/spend", "team=__none__").await;
    assert_eq!(
        pick(&none["by_team"], &["team_name", "cost_usd"]),
        vec![vec![json!("__none__"), json!(0.5)]]
    );
    assert_eq!(
        pick(&none["by_user"], &["user_identity"]),
        vec![vec![json!("cy@example.com")]]
    );
}

#[tokio::test]
async fn activity_has_new_and_returning_people_and_an_hour_by_weekday_heatmap() {
    let l = Ledger::write().await;
    let body = l.org("/admin/analytics/org/activity", "").await;
    // day0: ann, first seen 20 days earlier → returning. day1: cy new; bo (p1 the day before) and ann returning.
    assert_eq!(
        pick(
            &body["active_users"],
            &["bucket", "new_users", "returning_users"]
        ),
        vec![
            vec![json!(l.day0.to_string()), json!(0), json!(1)],
            vec![json!(l.day1.to_string()), json!(1), json!(2)]
        ]
    );
    let wd = |d: NaiveDate| d.weekday().num_days_from_monday();
    let mut expected = vec![(wd(l.day0), 10, 1), (wd(l.day1), 8, 1), (wd(l.day1), 9, 2)];
    expected.sort_unstable();
    let cells: Vec<(u32, u32, u64)> = body["heatmap"]
        .as_array()
        .expect("cells")
        .iter()
        .map(|c| {
            let n = |f: &str| c[f].as_u64().expect("number");
            (
                u32::try_from(n("day_of_week")).expect("day"),
                u32::try_from(n("hour")).expect("hour"),
                n("request_count"),
            )
        })
        .collect();
    assert_eq!(cells, expected);
}

#[tokio::test]
async fn models_show_mix_histogram_percentiles_cache_rate_and_tokens() {
    let l = Ledger::write().await;
    let body = l.org("/admin/analytics/org/models", "").await;
    assert_eq!(
        pick(&body["model_mix"], &["model", "request_count", "cost_usd"]),
        vec![
            vec![json!(SONNET), json!(2), json!(3.0)],
            vec![json!(HAIKU), json!(1), json!(0.5)],
            vec![json!(MYSTERY), json!(1), json!(0.0009)]
        ]
    );
    // Sonnet: 400 ms (≤ 500) and 1 500 ms (≤ 2 000). p50 rank 1 → 500; p95, p99 rank 2 → 2 000.
    let latency = pick(&body["latency"], &["model", "p50", "p95", "p99"]);
    assert!(
        latency.contains(&vec![json!(SONNET), json!(500), json!(2000), json!(2000)]),
        "{latency:?}"
    );
    assert!(
        latency.contains(&vec![json!(HAIKU), json!(250), json!(250), json!(250)]),
        "{latency:?}"
    );
    // day0 300 / (100 + 300); day1 100 / (260 + 100) = 27.8 %.
    assert_eq!(
        pick(&body["cache_rate"], &["bucket", "cache_hit_rate"]),
        vec![
            vec![json!(l.day0.to_string()), json!(75.0)],
            vec![json!(l.day1.to_string()), json!(27.8)]
        ]
    );
    assert_eq!(
        pick(
            &body["token_breakdown"],
            &[
                "model",
                "input_tokens",
                "output_tokens",
                "cache_read_tokens"
            ]
        ),
        vec![
            vec![json!(SONNET), json!(300), json!(150), json!(400)],
            vec![json!(HAIKU), json!(50), json!(10), json!(0)],
            vec![json!(MYSTERY), json!(10), json!(10), json!(0)]
        ]
    );
    assert_eq!(body["endpoints"], json!([]));
}

#[tokio::test]
async fn tools_count_calls_people_and_mcp_servers() {
    let l = Ledger::write().await;
    let body = l.org("/admin/analytics/org/tools", "").await;
    assert_eq!(
        body["totals"],
        json!({"total_tool_calls": 4, "web_search_count": 1, "mcp_tool_count": 1, "unique_mcp_servers": 1})
    );
    assert_eq!(
        pick(
            &body["top_tools"],
            &["tool_name", "usage_count", "unique_users"]
        ),
        vec![
            vec![json!("Bash"), json!(2), json!(1)],
            vec![json!("mcp__github__create_issue"), json!(1), json!(1)],
            vec![json!("web_search"), json!(1), json!(1)],
        ]
    );
    assert_eq!(
        body["mcp_servers"],
        json!([{"server_name": "github", "unique_tools": 1, "usage_count": 1, "unique_users": 1}])
    );
    assert_eq!(
        pick(
            &body["mcp_adoption"],
            &["bucket", "mcp_users", "total_users"]
        ),
        vec![
            vec![json!(l.day0.to_string()), json!(0), json!(1)],
            vec![json!(l.day1.to_string()), json!(1), json!(3)]
        ]
    );
}

#[tokio::test]
async fn members_see_only_their_own_usage_and_no_org_view() {
    let l = Ledger::write().await;
    let path = format!("/admin/analytics?{}", l.window());
    let (status, mine) = l.get_as(&path, Some(&l.ann)).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(
        (mine["scope"].clone(), mine["user"].clone()),
        (json!("user"), json!("ann@example.com"))
    );
    assert_eq!(mine["granularity"], "day");
    let t = &mine["totals"];
    assert_eq!(
        (
            t["requests"].clone(),
            t["total_cost_usd"].clone(),
            t["unique_users"].clone()
        ),
        (json!(2), json!(1.0009), json!(1))
    );
    // 300 / (110 + 300) = 73.17 %
    assert_eq!(t["cache_hit_rate_pct"], 73.2);
    assert_eq!(t["total_tool_calls"], 2);
    assert_eq!(mine["unpriced_rows"], 1);
    assert_eq!(mine["unpriced_models"], json!([MYSTERY]));
    assert_eq!(
        mine["top_tools"],
        json!([{"name": "Bash", "count": 2, "is_mcp": false}])
    );
    assert_eq!(
        pick(&mine["trend"], &["requests", "tokens"]),
        vec![vec![json!(1), json!(450)], vec![json!(1), json!(20)]]
    );
    assert_eq!(mine["daily"], mine["trend"]);
    // Her models, from her person × model rollups: r1 on Sonnet, r4 on the unpriced model.
    assert_eq!(
        pick(
            &mine["models"],
            &[
                "model",
                "request_count",
                "total_input",
                "total_output",
                "total_cache_read",
                "avg_duration_ms",
                "streaming_count",
                "cost_usd"
            ]
        ),
        vec![
            vec![
                json!(SONNET),
                json!(1),
                json!(100),
                json!(50),
                json!(300),
                json!(400.0),
                json!(1),
                json!(1.0)
            ],
            vec![
                json!(MYSTERY),
                json!(1),
                json!(10),
                json!(10),
                json!(0),
                json!(100.0),
                json!(1),
                json!(0.0009)
            ],
        ]
    );
    // 300 cache-read tokens at Sonnet 4.5's input minus cache-read rate ($3.00 − $0.30 per MTok).
    assert_eq!(t["cache_savings_usd"], json!(0.00081));
    assert!(mine.get("unavailable").is_none(), "{mine}");
    // The admin's own view is their own (empty) usage, not the org's.
    let (_, boss) = l.get_as(&path, Some(&l.admin)).await;
    assert_eq!(boss["totals"]["requests"], 0);
    for org in ["overview", "spend", "activity", "models", "tools", "export"] {
        let (status, body) = l
            .get_as(&format!("/admin/analytics/org/{org}"), Some(&l.ann))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{org}: {body}");
        assert_eq!(body["error"]["type"], "permission_error");
    }
    let (status, _) = l.get_as("/admin/analytics/export", Some(&l.ann)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = l.get_as("/admin/analytics", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bad_windows_are_refused_with_a_message() {
    let l = Ledger::write().await;
    for (query, needle) in [
        ("days=abc", "days"),
        ("days=0", "days"),
        ("granularity=minute", "granularity"),
        ("from=2026-13-01", "YYYY-MM-DD"),
        ("days=60&granularity=hour", "31"),
    ] {
        let (status, body) = l
            .get_as(
                &format!("/admin/analytics/org/overview?{query}"),
                Some(&l.admin),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(
            body["error"]["message"]
                .as_str()
                .expect("message")
                .contains(needle),
            "{query}: {body}"
        );
    }
    let (status, _) = l
        .get_as("/admin/analytics/export?days=400", Some(&l.admin))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

fn parse_csv(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(bytes);
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.expect("row").iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

#[tokio::test]
async fn the_csv_exports_parse_back_to_the_ledger_rows() {
    let l = Ledger::write().await;
    let (status, headers, bytes) = l
        .raw("/admin/analytics/export?days=40", Some(&l.admin))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"sluice-spend-40d.csv\""
    );
    assert!(
        headers["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/csv")
    );
    let (header, rows) = parse_csv(&bytes);
    assert_eq!(header, COLUMNS);
    let names = Directory::new(&l.users, &l.teams);
    let mut ledger = l.records.clone();
    ledger.sort_by_key(|r| r.time_ms);
    let expected: Vec<Vec<String>> = ledger.iter().map(|r| row(r, &names).to_vec()).collect();
    assert_eq!(rows, expected);
    // Spot checks of the format: UTC RFC 3339, 6-decimal USD, unpriced empty, quoting survived.
    let r4 = rows.iter().find(|r| r[0] == "r4").expect("r4");
    assert_eq!(r4[11], "");
    let r1 = rows.iter().find(|r| r[0] == "r1").expect("r1");
    assert_eq!(
        (
            r1[1].as_str(),
            r1[2].as_str(),
            r1[3].as_str(),
            r1[11].as_str()
        ),
        (
            format!("{}T10:05:00.000Z", l.day0).as_str(),
            "ann@example.com",
            "Research",
            "1.000000"
        )
    );
    assert!(rows.iter().any(|r| r[5] == "model,\"quoted\""));

    // The window is the last N days: 5 days holds only the record of a minute ago.
    let (_, _, bytes) = l
        .raw("/admin/analytics/export?days=5", Some(&l.admin))
        .await;
    assert_eq!(parse_csv(&bytes).1.len(), 1);

    let (status, headers, bytes) = l
        .raw(
            "/admin/analytics/org/export?days=40&team=Research",
            Some(&l.admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"sluice-org-spend-40d.csv\""
    );
    let ids: Vec<String> = parse_csv(&bytes)
        .1
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(ids, vec!["old", "r1", "r4", "now"]);

    // Named UTC days, both included: day1 holds r2, r3 and r4.
    let (status, headers, bytes) = l
        .raw(
            &format!("/admin/analytics/org/export?from={}&to={}", l.day1, l.day1),
            Some(&l.admin),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["content-disposition"],
        format!(
            "attachment; filename=\"sluice-org-spend-{}_{}.csv\"",
            l.day1, l.day1
        )
        .as_str()
    );
    let ids: Vec<String> = parse_csv(&bytes)
        .1
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(ids, vec!["r2", "r3", "r4"]);
    let (_, _, bytes) = l
        .raw(
            &format!("/admin/analytics/export?from={}&to={}", l.day0, l.day1),
            Some(&l.admin),
        )
        .await;
    assert_eq!(parse_csv(&bytes).1.len(), 4);
    for (query, needle) in [
        (format!("from={}", l.day0), "both"),
        (format!("from={}&to={}", l.day1, l.day0), "before"),
        ("from=2025-01-01&to=2026-06-01".to_owned(), "366"),
        ("from=yesterday&to=2026-06-01".to_owned(), "YYYY-MM-DD"),
    ] {
        let (status, body) = l
            .get_as(
                &format!("/admin/analytics/org/export?{query}"),
                Some(&l.admin),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .expect("message")
                .contains(needle),
            "{query}: {body}"
        );
    }
}

#[tokio::test]
async fn the_csv_download_neutralises_names_that_look_like_formulas() {
    // GIVEN a team, a person, a key and models named like spreadsheet formulas (OWASP CSV injection)
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().expect("sqlite"));
    let app = Arc::new(
        AppState::build(
            store.clone(),
            AuthConfig::from_lookup(|_| None, Duration::ZERO),
        )
        .await
        .expect("app"),
    );
    let hostile = "=HYPERLINK(\"http://x\",\"y\")";
    store
        .create_team(&Team {
            id: "team_evil".into(),
            name: hostile.into(),
            created_at_ms: 0,
        })
        .await
        .expect("team");
    let boss = sluice_http::auth::new_user("boss@example.com", Role::Admin, "test");
    let mut evil = sluice_http::auth::new_user("@SUM(A1)", Role::Member, "test");
    evil.team_id = Some("team_evil".into());
    store.create_user(&boss).await.expect("admin");
    store.create_user(&evil).await.expect("user");
    let mut r = record(
        "r_evil",
        Utc::now().timestamp_millis() - 60_000,
        &evil,
        "+1",
        Some(1_500_000),
        [7, 8, 0],
        10,
        &[],
    );
    r.key_id = "-2+3".into();
    r.bedrock_model_id = "\tX".into();
    r.region = Some("\rX".into());
    assert!(store.put_usage(&r).await.expect("usage"));
    let router = admin_router(app.clone());
    let token = app.auth.sessions.issue(&boss, Utc::now().timestamp());

    // WHEN an admin downloads the ledger, plain and with the org filters
    for path in [
        "/admin/analytics/export?days=2",
        "/admin/analytics/org/export?days=2&team=team_evil",
    ] {
        let resp = router
            .clone()
            .oneshot(
                Request::builder()
                    .uri(path)
                    .header("authorization", format!("Bearer {token}"))
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("infallible");
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();

        // THEN every text cell starts with a quote and the numbers are unchanged
        let (_, rows) = parse_csv(&bytes);
        assert_eq!(rows.len(), 1, "{path}");
        let row = &rows[0];
        assert_eq!(
            [&row[2], &row[3], &row[4], &row[5], &row[6], &row[15]],
            [
                "'@sum(a1)", // new_user lowercases the email
                "'=HYPERLINK(\"http://x\",\"y\")",
                "'-2+3",
                "'+1",
                "'\tX",
                "'\rX"
            ],
            "{path}"
        );
        assert_eq!((row[7].as_str(), row[11].as_str()), ("7", "1.500000"));
    }
}
