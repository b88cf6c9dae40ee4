//! Budgets on the Lambda path: DynamoDB (moto) as the store, the spend consumer turning usage records into
//! counters and events, and the gateway's admission step reading the budget state alongside the rate limit.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use sluice_core::identity::User;
use sluice_core::spend::BudgetStatus;
use sluice_core::spend::budget::{team_budget_key, user_budget_key};
use sluice_core::spend::consumer::consume_usage;
use sluice_core::store::Store;
use sluice_http::{AppState, AuthConfig, GatewayConfig};
use sluice_inference::GatewayState;
use sluice_testkit::calls::{CallLog, counting_dynamodb_client};
use sluice_testkit::contract::builders::new_usage;
use sluice_testkit::fixtures::person_in_team;
use sluice_testkit::{MotoServer, aws_sdk_config, unique_name};

struct Fixture {
    store: Arc<dyn Store>,
    log: CallLog,
    user: User,
    headers: HeaderMap,
    endpoint: String,
    _moto: &'static MotoServer,
}

async fn fixture() -> Fixture {
    let moto = MotoServer::shared().expect("moto");
    let config = aws_sdk_config(moto.endpoint_url());
    let table = unique_name("sluice-budget");
    sluice_aws::create_table(&config, &table)
        .await
        .expect("table");
    let (client, log) = counting_dynamodb_client(&config);
    let store: Arc<dyn Store> = Arc::new(sluice_aws::DynamoStore::new(client, table));
    let person = person_in_team(store.as_ref(), Some(1000)).await;
    let (user, team) = (person.user.clone(), person.team.clone());
    // $10 a day for the person (standard: warn at 80 %, block at 100 %); the team's $1,000 a month stays far off.
    store
        .put_setting(
            &user_budget_key(&user.id),
            r#"{"limit_micros":10000000,"period":"daily"}"#,
        )
        .await
        .expect("user budget");
    store
        .put_setting(
            &team_budget_key(&team.id),
            r#"{"limit_micros":1000000000,"period":"monthly"}"#,
        )
        .await
        .expect("team budget");
    let headers = api_key(&person.secret);
    Fixture {
        store,
        log,
        user,
        headers,
        endpoint: moto.endpoint_url().to_owned(),
        _moto: moto,
    }
}

fn api_key(secret: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-api-key", HeaderValue::from_str(secret).expect("ascii"));
    headers
}

async fn gateway(f: &Fixture, budget_cache_secs: &str) -> GatewayState {
    let app = AppState::build(
        Arc::clone(&f.store),
        AuthConfig::from_lookup(|_| None, Duration::from_secs(5)),
    )
    .await
    .expect("app");
    let cache = budget_cache_secs.to_owned();
    GatewayState::new(
        Arc::new(app),
        Arc::new(sluice_aws::bedrock_upstream(&aws_sdk_config(&f.endpoint))),
        GatewayConfig::from_lookup("us-east-1", move |k| {
            (k == "SLUICE_BUDGET_CACHE_SECS").then(|| cache.clone())
        })
        .expect("config"),
    )
}

/// Consumes one usage record of `cost_micros` for the fixture's person, now.
async fn spend(f: &Fixture, cost_micros: u64) -> usize {
    let mut record = new_usage(chrono::Utc::now().timestamp_millis());
    record.user_id = Some(f.user.id.clone());
    record.team_id = f.user.team_id.clone();
    record.cost_micros = Some(cost_micros);
    let first = consume_usage(f.store.as_ref(), &record, chrono::Utc::now())
        .await
        .expect("consumed");
    assert!(first.applied);
    // A replayed stream record changes nothing and writes no second event.
    let replay = consume_usage(f.store.as_ref(), &record, chrono::Utc::now())
        .await
        .expect("replayed");
    assert!(!replay.applied);
    assert!(replay.new_events.is_empty());
    first.new_events.len()
}

#[tokio::test]
async fn spend_crossing_80_then_100_percent_warns_then_blocks_with_one_event_each() {
    let f = fixture().await;
    let gw = gateway(&f, "0").await;

    let admitted = gw.admit(&f.headers).await.expect("admitted");
    let verdict = admitted.budget.expect("a budget applies");
    assert_eq!(verdict.status(), BudgetStatus::Ok);

    assert_eq!(spend(&f, 8_500_000).await, 1, "the 80 % event");
    let admitted = gw.admit(&f.headers).await.expect("admitted with a warning");
    let headers = admitted.budget.expect("budget").headers();
    assert_eq!(headers[0].1, "warning");
    assert_eq!(headers[1].1, "85.0");
    assert_eq!(headers[2].1, "1.50");

    assert_eq!(spend(&f, 1_500_000).await, 1, "the 100 % event");
    let refused = gw.admit(&f.headers).await.expect_err("blocked");
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.body()["error"]["type"], "billing_error");
    assert!(
        refused.message.contains("$10.00 spent of $10.00"),
        "{}",
        refused.message
    );
    assert!(
        refused
            .headers
            .contains(&("x-should-retry".to_owned(), "false".to_owned()))
    );

    let events = f.store.recent_events(10).await.expect("events");
    let mut kinds: Vec<(String, String)> = events
        .iter()
        .filter(|e| e.id.contains(&f.user.id))
        .map(|e| {
            (
                e.payload.event_type.as_str().to_owned(),
                e.payload.user_identity.clone().unwrap_or_default(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("budget_blocked".to_owned(), f.user.email.clone()),
            ("budget_warning".to_owned(), f.user.email.clone()),
        ]
    );
}

#[tokio::test]
async fn the_budget_read_goes_with_the_rate_limit_and_is_cached() {
    let f = fixture().await;
    // Uncached: each warm admission of a person's key is the conditional update of the key's counter and of the
    // person's, one batch read of the budget state and one of the org limits (person rate limit, allowlist).
    let gw = gateway(&f, "0").await;
    gw.admit(&f.headers).await.expect("cold");
    let _ = f.log.take();
    gw.admit(&f.headers).await.expect("warm");
    let mut calls = f.log.take();
    calls.sort();
    assert_eq!(
        calls,
        ["BatchGetItem", "BatchGetItem", "UpdateItem", "UpdateItem"]
    );

    // Cached (the default 5 s): the warm admission is the two counter updates alone, made concurrently.
    let gw = gateway(&f, "5").await;
    gw.admit(&f.headers).await.expect("cold");
    let _ = f.log.take();
    gw.admit(&f.headers).await.expect("warm");
    assert_eq!(f.log.take(), ["UpdateItem", "UpdateItem"]);
}

#[tokio::test]
async fn a_key_over_its_rate_limit_leaves_one_rate_limit_event_per_minute() {
    let f = fixture().await;
    let slow = person_in_team(f.store.as_ref(), Some(1)).await;
    let headers = api_key(&slow.secret);
    let gw = gateway(&f, "5").await;
    gw.admit(&headers)
        .await
        .expect("the first request of the minute");
    for _ in 0..3 {
        let refused = gw.admit(&headers).await.expect_err("over the limit");
        assert_eq!(refused.status(), 429);
        assert_eq!(refused.body()["error"]["type"], "rate_limit_error");
    }
    let events: Vec<_> = f
        .store
        .recent_events(50)
        .await
        .expect("events")
        .into_iter()
        .filter(|e| e.id.starts_with(&format!("rate_limit#{}#", slow.key.id)))
        .collect();
    assert_eq!(events.len(), 1, "{events:#?}");
    let payload = &events[0].payload;
    assert_eq!(payload.event_type.as_str(), "rate_limit_hit");
    assert_eq!(
        payload.user_identity.as_deref(),
        Some(slow.user.email.as_str())
    );
    let detail = serde_json::to_value(&payload.detail).expect("json");
    assert!(
        detail["key_prefix"]
            .as_str()
            .is_some_and(|p| p.starts_with("sk-sluice-")),
        "{detail}"
    );
    assert_eq!(detail["limit_rpm"], 1);
}
