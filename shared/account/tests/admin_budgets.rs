//! The admin API for budgets, settings, web search and pricing, through the merged routers on SQLite (and the
//! Bedrock simulator for the pricing → usage-record check): who may call each path, what bad bodies and
//! unknown ids get, and that what the API stores is what the gateway and `BudgetState` then act on.

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::Utc;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sluice_core::identity::{Role, Team, User};
use sluice_core::notify::{
    BudgetDetail, BudgetPeriod, EventDetail, EventType, NotificationPayload, NotifyEvent,
};
use sluice_core::spend::budget::{BudgetState, inputs_to_read};
use sluice_core::spend::ledger::spend_delta;
use sluice_core::spend::pricing::PriceTable;
use sluice_core::spend::{BudgetStatus, LimitSource, Outcome, UsageRecord};
use sluice_core::store::Store;
use sluice_testkit::contract::builders::new_usage;
use support::{Env, now_s};
use tower::ServiceExt;

/// The merged routers with an admin, a member (in a team) and a member's virtual key.
struct Admin {
    env: Env,
    admin: String,
    member: String,
    member_user: User,
    team: Team,
    key: String,
}

impl Admin {
    async fn start() -> Self {
        let env = Env::start().await;
        let team = Team {
            id: "team_web".into(),
            name: "web".into(),
            created_at_ms: 1,
        };
        env.app.store.create_team(&team).await.expect("team");
        let admin = env.user("boss@example.com", Role::Admin).await;
        let mut member = sluice_http::auth::new_user("ann@example.com", Role::Member, "test");
        member.team_id = Some(team.id.clone());
        env.app.store.create_user(&member).await.expect("member");
        let (key, _) = env.key("ann-laptop", Some(&member.id)).await;
        let now = now_s();
        Self {
            admin: env.app.auth.sessions.issue(&admin, now),
            member: env.app.auth.sessions.issue(&member, now),
            member_user: member,
            team,
            key,
            env,
        }
    }

    fn store(&self) -> &dyn Store {
        self.env.app.store.as_ref()
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let req = match body {
            Some(body) => req
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let resp = self
            .env
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("infallible");
        let status = resp.status();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes)));
        (status, value)
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(method, path, Some(&self.admin), body).await
    }

    async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.admin(method, path, body).await;
        assert_eq!(status, StatusCode::OK, "{value}");
        value
    }

    /// Asserts a 400 whose message contains `needle`.
    async fn refused(&self, method: Method, path: &str, body: Value, needle: &str) {
        let (status, value) = self.admin(method, path, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{value}");
        assert_eq!(value["type"], "error", "{value}");
        let message = value["error"]["message"].as_str().expect("message");
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }

    async fn status_of_member(&self) -> Value {
        let (status, value) = self
            .call(
                Method::GET,
                "/admin/budget/status",
                Some(&self.member),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{value}");
        value
    }

    /// A small inference request with the member's key; returns its request id once the answer is read.
    async fn infer(&self) -> String {
        let body = json!({"model": "claude-opus-4-8", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]});
        let req = Request::post("/v1/messages")
            .header("x-api-key", &self.key)
            .body(Body::from(body.to_string()))
            .expect("request");
        let resp = self
            .env
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("infallible");
        assert_eq!(resp.status(), StatusCode::OK);
        let id = resp.headers()["request-id"]
            .to_str()
            .expect("ascii")
            .to_owned();
        resp.into_body().collect().await.expect("body");
        id
    }

    async fn usage(&self, request_id: &str) -> UsageRecord {
        self.store()
            .usage_by_request(request_id)
            .await
            .expect("store")
            .expect("recorded before the body ended")
    }

    /// Counts `micros` of spend for the member now, as the spend consumer would.
    async fn spend(&self, micros: u64) {
        let mut record = new_usage(Utc::now().timestamp_millis());
        record.user_id = Some(self.member_user.id.clone());
        record.team_id = Some(self.team.id.clone());
        record.outcome = Outcome::Complete;
        record.cost_micros = Some(micros);
        assert!(
            self.store()
                .apply_spend(&spend_delta(&record))
                .await
                .expect("spend")
        );
    }
}

/// Every route of this part of the admin API, with a body the route accepts from an admin.
fn routes(team: &str, user: &str) -> Vec<(Method, String, Option<Value>, bool)> {
    // (method, path, body, admin only)
    vec![
        (
            Method::PUT,
            format!("/admin/teams/{team}/budget"),
            Some(json!({"budget_amount_usd": 100})),
            true,
        ),
        (
            Method::PUT,
            format!("/admin/users/{user}/spend-limit"),
            Some(json!({"limit_usd": 5})),
            true,
        ),
        (Method::GET, "/admin/budget/status".into(), None, false),
        (
            Method::GET,
            "/admin/settings/default-budget".into(),
            None,
            true,
        ),
        (
            Method::PUT,
            "/admin/settings/default-budget".into(),
            Some(json!({"budget_amount_usd": 20})),
            true,
        ),
        (Method::GET, "/admin/settings".into(), None, true),
        (
            Method::PUT,
            "/admin/settings/session_token_ttl_hours".into(),
            Some(json!({"value": "12"})),
            true,
        ),
        (Method::GET, "/admin/websearch-mode".into(), None, true),
        (
            Method::PUT,
            "/admin/websearch-mode".into(),
            Some(json!({"mode": "disabled"})),
            true,
        ),
        (Method::GET, "/admin/search-providers".into(), None, false),
        (
            Method::PUT,
            "/admin/search-providers".into(),
            Some(json!({"provider_type": "duckduckgo"})),
            false,
        ),
        (
            Method::POST,
            "/admin/search-providers/activate".into(),
            Some(json!({"provider_type": "duckduckgo"})),
            false,
        ),
        (
            Method::POST,
            "/admin/search-providers/test".into(),
            Some(json!({"provider_type": "duckduckgo"})),
            false,
        ),
        (
            Method::DELETE,
            "/admin/search-providers/duckduckgo".into(),
            None,
            false,
        ),
        (Method::GET, "/admin/pricing".into(), None, true),
        (
            Method::PUT,
            "/admin/pricing/claude-test".into(),
            Some(
                json!({"input_rate": 1, "output_rate": 2, "cache_read_rate": 0.1, "cache_write_rate": 1.25}),
            ),
            true,
        ),
        (
            Method::DELETE,
            "/admin/pricing/claude-test".into(),
            None,
            true,
        ),
    ]
}

#[tokio::test]
async fn each_route_answers_each_role_as_it_should() {
    let a = Admin::start().await;
    for (method, path, body, admin_only) in routes(&a.team.id, &a.member_user.id) {
        let (status, value) = a.call(method.clone(), &path, None, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {value}");
        assert_eq!(value["type"], "error", "{method} {path}");

        let (status, value) = a
            .call(method.clone(), &path, Some(&a.key), body.clone())
            .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "key on {method} {path}: {value}"
        );
        assert!(
            value["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("virtual keys")),
            "{value}"
        );

        let (status, value) = a
            .call(method.clone(), &path, Some(&a.member), body.clone())
            .await;
        let expected = if admin_only {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::OK
        };
        assert_eq!(status, expected, "member on {method} {path}: {value}");

        let (status, value) = a.admin(method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::OK, "admin on {method} {path}: {value}");
    }
}

#[tokio::test]
async fn bad_bodies_are_refused_with_a_message_and_unknown_ids_with_404() {
    let a = Admin::start().await;
    let team = format!("/admin/teams/{}/budget", a.team.id);
    let user = format!("/admin/users/{}/spend-limit", a.member_user.id);
    a.refused(
        Method::PUT,
        &team,
        json!({"budget_period": "yearly"}),
        "budget_period",
    )
    .await;
    a.refused(
        Method::PUT,
        &team,
        json!({"budget_amount_usd": -5}),
        "negative",
    )
    .await;
    a.refused(
        Method::PUT,
        &team,
        json!({"budget_amount_usd": "ten"}),
        "budget_amount_usd",
    )
    .await;
    a.refused(
        Method::PUT,
        &team,
        json!({"budget_policy": "lenient"}),
        "lenient",
    )
    .await;
    a.refused(
        Method::PUT,
        &team,
        json!({"budget_policy": [{"at_percent": 100, "action": "block"}, {"at_percent": 120, "action": "notify"}]}),
        "block rule must be the last",
    )
    .await;
    a.refused(
        Method::PUT,
        &team,
        json!({"budget_policy": [{"at_percent": 90, "action": "shape"}]}),
        "shaped_rpm",
    )
    .await;
    a.refused(
        Method::PUT,
        &team,
        json!({"notify_recipients": "everyone"}),
        "notify_recipients",
    )
    .await;
    a.refused(Method::PUT, &team, json!([1, 2]), "JSON object")
        .await;
    a.refused(
        Method::PUT,
        &user,
        json!({"period": "daily"}),
        "Missing required field: limit_usd",
    )
    .await;
    a.refused(
        Method::PUT,
        &user,
        json!({"limit_usd": 1.234_567_8}),
        "6 decimals",
    )
    .await;
    a.refused(
        Method::PUT,
        "/admin/settings/default-budget",
        json!({"budget_period": 3}),
        "budget_period",
    )
    .await;
    a.refused(
        Method::PUT,
        "/admin/settings/colour",
        json!({"value": "blue"}),
        "Unknown setting",
    )
    .await;
    a.refused(
        Method::PUT,
        "/admin/settings/session_token_ttl_hours",
        json!({"value": "0"}),
        "1 to 8760",
    )
    .await;
    a.refused(
        Method::PUT,
        "/admin/settings/admin_login_enabled",
        json!({"value": "maybe"}),
        "true",
    )
    .await;
    a.refused(
        Method::PUT,
        "/admin/settings/admin_login_enabled",
        json!({}),
        "value",
    )
    .await;
    a.refused(
        Method::PUT,
        "/admin/websearch-mode",
        json!({"mode": "global"}),
        "provider",
    )
    .await;
    a.refused(
        Method::PUT,
        "/admin/websearch-mode",
        json!({"mode": "sometimes"}),
        "mode",
    )
    .await;
    a.refused(
        Method::PUT,
        "/admin/search-providers",
        json!({"provider_type": "tavily"}),
        "api_key",
    )
    .await;
    a.refused(
        Method::PUT,
        "/admin/search-providers",
        json!({"provider_type": "bing"}),
        "provider_type",
    )
    .await;
    a.refused(
        Method::PUT,
        "/admin/pricing/claude-x",
        json!({"input_rate": 1, "output_rate": 2, "cache_read_rate": 0.1}),
        "Missing required field: cache_write_rate",
    )
    .await;
    a.refused(
        Method::PUT,
        "/admin/pricing/claude-x",
        json!({"output_rate": 2}),
        "Missing required field: input_rate",
    )
    .await;

    for (method, path, body) in [
        (
            Method::PUT,
            "/admin/teams/team_nope/budget",
            json!({"budget_amount_usd": 1}),
        ),
        (
            Method::PUT,
            "/admin/users/user_nope/spend-limit",
            json!({"limit_usd": 1}),
        ),
        (
            Method::POST,
            "/admin/search-providers/activate",
            json!({"provider_type": "serper"}),
        ),
    ] {
        let (status, value) = a.admin(method, path, Some(body)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {value}");
        assert_eq!(value["type"], "error");
    }
    let (status, value) = a
        .admin(Method::DELETE, "/admin/pricing/claude-never-set", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{value}");
}

#[tokio::test]
async fn a_team_budget_is_updated_partially_and_read_back_in_ccag_shape() {
    let a = Admin::start().await;
    let path = format!("/admin/teams/{}/budget", a.team.id);
    // `ccag teams set-budget --amount 100 --period weekly --policy shaped --user-budget 25`
    let set = a
        .ok(
            Method::PUT,
            &path,
            Some(json!({"budget_amount_usd": 100.0, "budget_period": "weekly", "budget_policy": "shaped", "default_user_budget_usd": 25.5})),
        )
        .await;
    assert_eq!(set["updated"], true);
    let team = &set["team"];
    assert_eq!(team["budget_amount_usd"], json!(100.0));
    assert_eq!(team["budget_period"], "weekly");
    assert_eq!(team["default_user_budget_usd"], json!(25.5));
    assert_eq!(
        team["budget_policy"],
        json!([{"at_percent": 80, "action": "notify"}, {"at_percent": 100, "action": "shape", "shaped_rpm": 5}, {"at_percent": 150, "action": "block"}])
    );
    assert_eq!(team["notify_recipients"], "both");

    // Only the recipients change; everything else is kept.
    let set = a
        .ok(
            Method::PUT,
            &path,
            Some(json!({"notify_recipients": "admin"})),
        )
        .await;
    assert_eq!(set["team"]["budget_amount_usd"], json!(100.0));
    assert_eq!(set["team"]["budget_period"], "weekly");
    assert_eq!(set["team"]["notify_recipients"], "admin");
    assert_eq!(set["team"]["budget_policy"][1]["shaped_rpm"], 5);

    // Stored in integer micro-dollars, as the gateway reads it.
    let stored = a
        .store()
        .get_setting(&format!("budget.team.{}", a.team.id))
        .await
        .expect("store")
        .expect("set");
    let stored: Value = serde_json::from_str(&stored).expect("json");
    assert_eq!(stored["limit_micros"], 100_000_000);
    assert_eq!(stored["member_default_micros"], 25_500_000);

    // null clears; a custom rule array is validated and kept.
    let set = a
        .ok(
            Method::PUT,
            &path,
            Some(json!({"budget_amount_usd": null, "budget_policy": [{"at_percent": 50, "action": "notify"}, {"at_percent": 90, "action": "block"}]})),
        )
        .await;
    assert_eq!(set["team"]["budget_amount_usd"], Value::Null);
    assert_eq!(set["team"]["default_user_budget_usd"], json!(25.5));
    assert_eq!(set["team"]["budget_policy"][1]["at_percent"], 90);
}

#[tokio::test]
async fn a_team_budget_set_through_the_api_is_what_the_budget_state_judges_and_status_shows() {
    let a = Admin::start().await;
    // GIVEN a $200 monthly team budget with a $10 member default and the standard policy
    a.ok(
        Method::PUT,
        &format!("/admin/teams/{}/budget", a.team.id),
        Some(json!({"budget_amount_usd": 200, "budget_period": "monthly", "budget_policy": "standard", "default_user_budget_usd": 10})),
    )
    .await;
    // AND $8.50 of the member's spend counted this month
    a.spend(8_500_000).await;

    // THEN the gateway's budget state warns at 85 % of the member default
    let now = Utc::now();
    let (settings, counters) = inputs_to_read(Some(&a.member_user.id), Some(&a.team.id), now);
    let (settings, counters) = a
        .store()
        .budget_inputs(&settings, &counters)
        .await
        .expect("inputs");
    let state = BudgetState::from_store(
        Some(&a.member_user.id),
        Some(&a.team.id),
        &settings,
        &counters,
    );
    let acting = state.judge(now).expect("a budget applies");
    assert_eq!(acting.source, Some(LimitSource::TeamMemberDefault));
    assert_eq!(acting.scoped.decision.status, BudgetStatus::Warning);
    assert_eq!(acting.scoped.decision.percent_bp, 8_500);

    // AND the member's status page says the same
    let status = a.status_of_member().await;
    assert_eq!(status["user"], "ann@example.com");
    assert_eq!(status["limit_source"], "team");
    assert_eq!(status["limit_source_name"], "web");
    assert_eq!(status["limit_usd"], json!(10.0));
    assert_eq!(status["spend_usd"], json!(8.5));
    assert_eq!(status["percent"], json!(85.0));
    assert_eq!(status["status"], "warning");
    assert_eq!(status["period"], "monthly");
    assert!(
        status["period_start"]
            .as_str()
            .is_some_and(|s| s.ends_with("-01T00:00:00Z")),
        "{status}"
    );
    assert_eq!(
        status["policy"],
        json!([{"at_percent": 80, "action": "notify"}, {"at_percent": 100, "action": "block"}])
    );
    let team = &status["team"];
    assert_eq!(team["id"], a.team.id.as_str());
    assert_eq!(team["budget_amount_usd"], json!(200.0));
    assert_eq!(team["spend_usd"], json!(8.5));
    assert_eq!(team["percent"], json!(4.25));

    // WHEN the admin gives the member their own daily limit, it is the explicit source
    a.ok(
        Method::PUT,
        &format!("/admin/users/{}/spend-limit", a.member_user.id),
        Some(json!({"limit_usd": 17, "period": "daily"})),
    )
    .await;
    let status = a.status_of_member().await;
    assert_eq!(status["limit_source"], "explicit");
    assert_eq!(status["period"], "daily");
    assert_eq!(status["percent"], json!(50.0));
    // AND clearing it (`ccag users set-spend-limit ID` without --limit) falls back to the team default
    let cleared = a
        .ok(
            Method::PUT,
            &format!("/admin/users/{}/spend-limit", a.member_user.id),
            Some(json!({"limit_usd": null})),
        )
        .await;
    assert_eq!(cleared["limit_usd"], Value::Null);
    assert_eq!(a.status_of_member().await["limit_source"], "team");
}

#[tokio::test]
async fn the_status_page_lists_the_callers_own_and_team_events_only() {
    let a = Admin::start().await;
    let now = Utc::now();
    let event = |id: &str, kind: EventType, who: Option<&str>, team: Option<&str>| NotifyEvent {
        id: id.into(),
        created_at_ms: now.timestamp_millis(),
        payload: NotificationPayload::new(
            kind,
            who.map(str::to_owned),
            team.map(str::to_owned),
            None,
            EventDetail::Budget(BudgetDetail::from_micros(
                80,
                8_000_000,
                10_000_000,
                BudgetPeriod::Monthly,
                now,
            )),
            now,
        ),
    };
    for e in [
        event(
            "mine",
            EventType::BudgetWarning,
            Some("ann@example.com"),
            Some("team_web"),
        ),
        event(
            "my-team",
            EventType::TeamBudgetWarning,
            None,
            Some("team_web"),
        ),
        event(
            "someone-else",
            EventType::BudgetWarning,
            Some("bob@example.com"),
            None,
        ),
        event(
            "other-team",
            EventType::TeamBudgetBlocked,
            None,
            Some("team_other"),
        ),
    ] {
        a.store().put_event_if_new(&e).await.expect("event");
    }
    let status = a.status_of_member().await;
    let mut ids: Vec<&str> = status["recent_events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["mine", "my-team"]);
    assert_eq!(status["recent_events"][0]["category"], "budget");

    // The admin, in no team and with no budget: unlimited.
    let (code, status) = a
        .call(Method::GET, "/admin/budget/status", Some(&a.admin), None)
        .await;
    assert_eq!(code, StatusCode::OK, "{status}");
    assert_eq!(status["limit_source"], "unlimited");
    assert_eq!(status["limit_usd"], Value::Null);
    assert_eq!(status["team"], Value::Null);
}

#[tokio::test]
async fn a_session_whose_user_row_is_gone_gets_no_budget() {
    let a = Admin::start().await;
    let ghost = sluice_http::auth::new_user("ghost@example.com", Role::Member, "test");
    let token = a.env.app.auth.sessions.issue(&ghost, now_s());
    let (status, value) = a
        .call(Method::GET, "/admin/budget/status", Some(&token), None)
        .await;
    // Sign-in refuses it first; the route's own 404 covers a row deleted while the caller is cached.
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{value}");
    assert_eq!(value["type"], "error");
}

#[tokio::test]
async fn the_default_budget_counts_people_without_a_team_and_applies_to_them() {
    let a = Admin::start().await;
    let before = a
        .ok(Method::GET, "/admin/settings/default-budget", None)
        .await;
    assert_eq!(before["budget_amount_usd"], Value::Null);
    assert_eq!(before["budget_period"], "monthly");
    // The admin has no team; the member has one.
    assert_eq!(before["affected_user_count"], 1);
    let set = a
        .ok(
            Method::PUT,
            "/admin/settings/default-budget",
            Some(json!({"budget_amount_usd": 30, "budget_period": "weekly", "budget_policy": "soft", "notify_recipients": "user"})),
        )
        .await;
    assert_eq!(set["updated"], true);
    let after = a
        .ok(Method::GET, "/admin/settings/default-budget", None)
        .await;
    assert_eq!(after["budget_amount_usd"], json!(30.0));
    assert_eq!(after["budget_period"], "weekly");
    assert_eq!(after["budget_policy"][2]["at_percent"], 150);
    assert_eq!(after["notify_recipients"], "user");
    let (_, status) = a
        .call(Method::GET, "/admin/budget/status", Some(&a.admin), None)
        .await;
    assert_eq!(status["limit_source"], "default");
    assert_eq!(status["limit_usd"], json!(30.0));
    assert_eq!(status["period"], "weekly");
    a.refused(
        Method::PUT,
        "/admin/settings/default-budget",
        json!({"default_user_budget_usd": 5}),
        "default_user_budget_usd",
    )
    .await;
}

#[tokio::test]
async fn settings_are_a_flat_object_and_only_known_keys_with_valid_values_are_stored() {
    let a = Admin::start().await;
    let settings = a.ok(Method::GET, "/admin/settings", None).await;
    assert_eq!(
        settings,
        json!({"virtual_keys_enabled": true, "admin_login_enabled": true, "session_token_ttl_hours": 24, "websearch_mode": "enabled",
            "person_rate_limit_rpm": 120, "max_keys_per_person": 20, "allowed_bedrock_models": [],
            "telemetry_forward_url": "", "telemetry_forward_headers": {}})
    );
    a.ok(
        Method::PUT,
        "/admin/settings/session_token_ttl_hours",
        Some(json!({"value": "48"})),
    )
    .await;
    a.ok(
        Method::PUT,
        "/admin/settings/websearch_mode",
        Some(json!({"value": "disabled"})),
    )
    .await;
    a.ok(
        Method::PUT,
        "/admin/settings/admin_login_enabled",
        Some(json!({"value": "false"})),
    )
    .await;
    let settings = a.ok(Method::GET, "/admin/settings", None).await;
    assert_eq!(settings["session_token_ttl_hours"], 48);
    assert_eq!(settings["websearch_mode"], "disabled");
    assert_eq!(settings["admin_login_enabled"], false);
    // The login route honours it.
    let (status, value) = a
        .call(
            Method::POST,
            "/auth/login",
            None,
            Some(json!({"username": "admin", "password": support::ADMIN_PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{value}");
    // Virtual keys cannot be switched off (Sluice does not honour it); saying so beats storing a no-op.
    a.refused(
        Method::PUT,
        "/admin/settings/virtual_keys_enabled",
        json!({"value": "false"}),
        "revoke",
    )
    .await;
}

#[tokio::test]
async fn web_search_configuration_is_stored_and_api_keys_never_come_back() {
    let a = Admin::start().await;
    let set = a
        .ok(
            Method::PUT,
            "/admin/websearch-mode",
            Some(json!({"mode": "global", "provider": {"provider_type": "tavily", "api_key": "tvly-secret", "max_results": 50}})),
        )
        .await;
    assert_eq!(set["provider"]["has_api_key"], true);
    assert_eq!(set["provider"]["max_results"], 20, "clamped to 1..20");
    let got = a.ok(Method::GET, "/admin/websearch-mode", None).await;
    assert_eq!(got["mode"], "global");
    assert_eq!(got["provider"]["provider_type"], "tavily");
    assert!(!got.to_string().contains("tvly-secret"), "{got}");
    // Switching mode keeps the stored provider and its key.
    a.ok(
        Method::PUT,
        "/admin/websearch-mode",
        Some(json!({"mode": "enabled"})),
    )
    .await;
    let got = a.ok(Method::GET, "/admin/websearch-mode", None).await;
    assert_eq!(got["provider"]["has_api_key"], true);

    // A member's own providers.
    let member = Some(a.member.as_str());
    let (status, saved) = a
        .call(
            Method::PUT,
            "/admin/search-providers",
            member,
            Some(json!({"provider_type": "serper", "api_key": "serper-secret", "enabled": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["provider"]["has_api_key"], true);
    a.call(
        Method::PUT,
        "/admin/search-providers",
        member,
        Some(json!({"provider_type": "duckduckgo"})),
    )
    .await;
    let (_, activated) = a
        .call(
            Method::POST,
            "/admin/search-providers/activate",
            member,
            Some(json!({"provider_type": "serper"})),
        )
        .await;
    assert_eq!(activated["provider"]["enabled"], true);
    let (_, listed) = a
        .call(Method::GET, "/admin/search-providers", member, None)
        .await;
    assert!(!listed.to_string().contains("serper-secret"), "{listed}");
    let enabled: Vec<&str> = listed["providers"]
        .as_array()
        .expect("providers")
        .iter()
        .filter(|p| p["enabled"] == true)
        .filter_map(|p| p["provider_type"].as_str())
        .collect();
    assert_eq!(enabled, ["serper"]);
    // The admin's list is their own, not the member's.
    let (_, theirs) = a
        .call(Method::GET, "/admin/search-providers", Some(&a.admin), None)
        .await;
    assert_eq!(theirs["providers"], json!([]));

    let (status, tested) = a
        .call(
            Method::POST,
            "/admin/search-providers/test",
            member,
            Some(json!({"provider_type": "serper"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tested["success"], false, "{tested}");
    assert_eq!(
        tested["error"], "web search is not available in this process",
        "this Env has no search providers"
    );
    let (_, deleted) = a
        .call(
            Method::DELETE,
            "/admin/search-providers/serper",
            member,
            None,
        )
        .await;
    assert_eq!(deleted, json!({"deleted": true}));
    let (_, again) = a
        .call(
            Method::DELETE,
            "/admin/search-providers/serper",
            member,
            None,
        )
        .await;
    assert_eq!(
        again,
        json!({"deleted": false, "message": "No config to delete"})
    );
}

#[tokio::test]
async fn pricing_lists_seed_rows_and_admin_rows_replace_and_restore_them() {
    let a = Admin::start().await;
    let rows = a.ok(Method::GET, "/admin/pricing", None).await;
    let rows = rows.as_array().expect("a bare array");
    let haiku = rows
        .iter()
        .find(|r| r["model_prefix"] == "claude-haiku-4")
        .expect("seeded haiku");
    assert_eq!(
        (
            &haiku["input_rate"],
            &haiku["output_rate"],
            &haiku["cache_read_rate"]
        ),
        (&json!(1), &json!(5), &json!(0.1))
    );
    assert_eq!(
        (&haiku["cache_write_rate"], &haiku["cache_write_1h_rate"]),
        (&json!(1.25), &json!(2))
    );
    assert_eq!(haiku["source"], "seed");

    let row = a
        .ok(
            Method::PUT,
            "/admin/pricing/Claude-Haiku-4",
            Some(json!({"input_rate": 0.8, "output_rate": 4, "cache_read_rate": 0.08, "cache_write_rate": 1, "aws_sku": "SKU123"})),
        )
        .await;
    assert_eq!(row["model_prefix"], "claude-haiku-4");
    assert_eq!(row["source"], "admin_manual");
    assert_eq!(row["input_rate"], json!(0.8));
    assert_eq!(
        row["cache_write_1h_rate"],
        json!(1.6),
        "twice input by default"
    );
    assert_eq!(row["aws_sku"], "SKU123");
    let rows = a.ok(Method::GET, "/admin/pricing", None).await;
    let haikus: Vec<&Value> = rows
        .as_array()
        .expect("array")
        .iter()
        .filter(|r| r["model_prefix"] == "claude-haiku-4")
        .collect();
    assert_eq!(haikus.len(), 1);
    assert_eq!(haikus[0]["source"], "admin_manual");

    let deleted = a
        .ok(Method::DELETE, "/admin/pricing/claude-haiku-4", None)
        .await;
    assert_eq!(deleted, json!({"deleted": true}));
    let rows = a.ok(Method::GET, "/admin/pricing", None).await;
    assert!(
        rows.as_array()
            .expect("array")
            .iter()
            .any(|r| r["model_prefix"] == "claude-haiku-4" && r["source"] == "seed")
    );
}

#[tokio::test]
async fn a_price_override_changes_the_cost_of_the_next_usage_record_the_gateway_writes() {
    let a = Admin::start().await;
    // GIVEN seeded prices
    let seeded = a.usage(&a.infer().await).await;
    let expected = PriceTable::seeded()
        .price(&seeded.requested_model, &seeded.tokens())
        .micros();
    assert_eq!(seeded.cost_micros, expected);

    // WHEN an admin prices opus 4.8 at $1000 in / $2000 out per MTok and nothing for the cache
    a.ok(
        Method::PUT,
        "/admin/pricing/claude-opus-4-8",
        Some(json!({"input_rate": 1000, "output_rate": 2000, "cache_read_rate": 0, "cache_write_rate": 0, "cache_write_1h_rate": 0})),
    )
    .await;

    // THEN the next record costs exactly that: 1000 µ$ per input token, 2000 per output token
    let priced = a.usage(&a.infer().await).await;
    assert_eq!(
        priced.cost_micros,
        Some(priced.input_tokens * 1_000 + priced.output_tokens * 2_000)
    );

    // AND once the row is deleted the seeded price applies again
    a.ok(Method::DELETE, "/admin/pricing/claude-opus-4-8", None)
        .await;
    let restored = a.usage(&a.infer().await).await;
    assert_eq!(
        restored.cost_micros,
        PriceTable::seeded()
            .price(&restored.requested_model, &restored.tokens())
            .micros()
    );
}

#[tokio::test]
async fn team_analytics_and_the_overview_show_current_period_spend_against_budgets() {
    let a = Admin::start().await;
    a.ok(
        Method::PUT,
        &format!("/admin/teams/{}/budget", a.team.id),
        Some(json!({"budget_amount_usd": 100, "budget_period": "monthly", "default_user_budget_usd": 10})),
    )
    .await;
    let mut record = new_usage(Utc::now().timestamp_millis());
    record.user_id = Some(a.member_user.id.clone());
    record.team_id = Some(a.team.id.clone());
    record.cost_micros = Some(2_500_000);
    assert!(
        a.store()
            .apply_spend(&spend_delta(&record))
            .await
            .expect("spend")
    );

    let team = a
        .ok(
            Method::GET,
            &format!("/admin/teams/{}/analytics", a.team.id),
            None,
        )
        .await;
    assert_eq!(team["team_name"], "web");
    assert_eq!(team["team"]["budget_amount_usd"], 100.0);
    let users = team["users"].as_array().expect("users");
    assert_eq!(users.len(), 1, "{team}");
    let ann = &users[0];
    assert_eq!(ann["email"], "ann@example.com");
    // CCAG's server fields and the ones its CLI reads, with the same values.
    assert_eq!(ann["current_spend_usd"], 2.5);
    assert_eq!(ann["current_spend"], 2.5);
    assert_eq!(ann["spend_limit"], 10.0);
    assert_eq!(ann["request_count"], 1);
    assert_eq!(ann["requests"], 1);
    assert_eq!(ann["budget_period"], "monthly");

    let overview = a.ok(Method::GET, "/admin/analytics/overview", None).await;
    let web = overview["teams"]
        .as_array()
        .expect("teams")
        .iter()
        .find(|t| t["team_id"] == a.team.id.as_str())
        .expect("the team");
    assert_eq!(web["current_spend_usd"], 2.5);
    assert_eq!(web["user_count"], 1);
    assert_eq!(web["default_user_budget_usd"], 10.0);

    let (status, _) = a
        .call(
            Method::GET,
            "/admin/analytics/overview",
            Some(&a.member),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = a
        .admin(Method::GET, "/admin/teams/team_nope/analytics", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The provider test runs a real search: here against a loopback service in the custom endpoint's shape, which
/// only an admin may let the provider reach (`allow_private`).
#[tokio::test]
async fn the_provider_test_runs_a_real_search_and_private_addresses_are_for_admins_only() {
    use std::sync::{Arc, Mutex};
    let asked: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = Arc::clone(&asked);
    let service = axum::Router::new().route(
        "/search",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let seen = Arc::clone(&seen);
            async move {
                seen.lock().expect("lock").push(body);
                axum::Json(json!({"results": [
                    {"title": "Claude", "url": "https://www.anthropic.com/claude", "content": "Claude is an AI model."}
                ]}))
            }
        }),
    );
    let server = sluice_testkit::serve::LocalServer::start(service).await;
    let env = Env::start_searching().await;
    let admin = env.user("boss@example.com", Role::Admin).await;
    let member = env.user("ann@example.com", Role::Member).await;
    let admin = env.app.auth.sessions.issue(&admin, now_s());
    let member = env.app.auth.sessions.issue(&member, now_s());
    let provider = json!({"provider_type": "custom", "api_url": format!("{}/search", server.url()), "allow_private": true});
    let (status, body) = env
        .post("/admin/search-providers/test", Some(&admin), &provider)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let tested: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(tested["success"], true, "{tested}");
    assert_eq!(tested["results"], 1);
    assert_eq!(tested["first"], "https://www.anthropic.com/claude");
    assert_eq!(asked.lock().expect("lock").len(), 1, "one real request");

    // A member may not point a provider at a private address, nor store one that could.
    let (status, body) = env
        .post("/admin/search-providers/test", Some(&member), &provider)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _, body) = env
        .request(
            Method::PUT,
            "/admin/search-providers",
            Some(&member),
            Some(&provider),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // Without allow_private the loopback service is refused before any request.
    let mut without = provider.clone();
    without["allow_private"] = json!(false);
    let (_, body) = env
        .post("/admin/search-providers/test", Some(&admin), &without)
        .await;
    let tested: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(tested["success"], false, "{tested}");
    assert_eq!(
        asked.lock().expect("lock").len(),
        1,
        "nothing more reached the service"
    );
}
