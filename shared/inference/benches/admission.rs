//! The admission step's cost (authentication + per-key rate limit + budget state), before anything goes to
//! Bedrock.
//!
//! `cargo bench -p sluice-http --bench admission` (needs `moto_server` on PATH: `make deps`, `.venv/bin`).
//! Prints, for SQLite (a file) and DynamoDB (moto on loopback): store requests and latency of a cold admission
//! (first request of a key), and the p50/p99 latency and store requests of warm admissions — for a key without
//! an owner (no budget can apply) and for a person's key with a personal and a team budget, with the budget
//! state cached (the default, 5 s) and uncached (read on every request, concurrently with the rate limit).
//! moto's latency is not DynamoDB's; the request count is what carries over (in-region DynamoDB answers a
//! conditional `UpdateItem` in single-digit milliseconds).

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue};
use sluice_core::keys::mint;
use sluice_core::spend::budget::{team_budget_key, user_budget_key};
use sluice_core::store::{Store, VirtualKey};
use sluice_http::{AppState, AuthConfig, GatewayConfig};
use sluice_inference::GatewayState;
use sluice_testkit::calls::{CallLog, counting_dynamodb_client};
use sluice_testkit::fixtures::person_in_team;
use sluice_testkit::{MotoServer, aws_sdk_config, unique_name};

const WARM: usize = 2000;

/// A gateway and the headers of one key. With `budget_cache` set, the key belongs to a person in a team and both
/// have a budget, whose state is cached that many seconds.
async fn gateway(
    store: Arc<dyn Store>,
    endpoint: &str,
    budget_cache: Option<&str>,
) -> (GatewayState, HeaderMap) {
    let (secret, user_team) = match budget_cache {
        None => {
            let m = mint(&sluice_adapters::OsIds);
            store
                .create_key(&VirtualKey {
                    id: m.id,
                    name: "bench".into(),
                    key_hash: m.key_hash,
                    prefix: m.prefix,
                    created_at_ms: 1,
                    revoked_at_ms: None,
                    user_id: None,
                    team_id: None,
                    rate_limit_rpm: Some(1_000_000),
                })
                .await
                .expect("key");
            (m.secret, None)
        }
        Some(_) => {
            let person = person_in_team(store.as_ref(), Some(1_000_000)).await;
            (person.secret, Some((person.user.id, person.team.id)))
        }
    };
    if let Some((user_id, team_id)) = &user_team {
        store
            .put_setting(
                &user_budget_key(user_id),
                r#"{"limit_micros":100000000,"period":"daily"}"#,
            )
            .await
            .expect("user budget");
        store
            .put_setting(
                &team_budget_key(team_id),
                r#"{"limit_micros":1000000000,"period":"monthly","policy":[{"at_percent":80,"action":"notify"},{"at_percent":100,"action":"block"}]}"#,
            )
            .await
            .expect("team budget");
    }
    let mut headers = HeaderMap::new();
    headers.insert("x-api-key", HeaderValue::from_str(&secret).expect("ascii"));
    let app = AppState::build(
        store,
        AuthConfig::from_lookup(|_| None, Duration::from_secs(5)),
    )
    .await
    .expect("app");
    let gw = GatewayState::new(
        Arc::new(app),
        Arc::new(sluice_aws::bedrock_upstream(&aws_sdk_config(endpoint))),
        GatewayConfig::from_lookup("us-east-1", |k| {
            (k == "SLUICE_BUDGET_CACHE_SECS")
                .then(|| budget_cache.map(str::to_owned))
                .flatten()
        })
        .expect("config"),
    );
    (gw, headers)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn measure(name: &str, gw: &GatewayState, headers: &HeaderMap, log: Option<&CallLog>) {
    let requests = || log.map_or_else(|| "-".to_owned(), |l| l.take().len().to_string());
    let _ = requests();
    let t = Instant::now();
    let admitted = gw.admit(headers).await.expect("admitted");
    let cold = t.elapsed();
    let budget = admitted
        .budget
        .as_ref()
        .map_or("no budget", |b| b.status().as_str());
    let cold_requests = requests();
    let mut samples = Vec::with_capacity(WARM);
    for _ in 0..WARM {
        let t = Instant::now();
        gw.admit(headers).await.expect("admitted");
        samples.push(t.elapsed());
    }
    let warm_requests = log.map_or_else(
        || "-".to_owned(),
        |l| format!("{:.2}", l.take().len() as f64 / WARM as f64),
    );
    samples.sort();
    println!(
        "{name:<34} cold {:>8.3} ms ({cold_requests} requests)   warm p50 {:>7.3} ms  p99 {:>7.3} ms  ({warm_requests} requests/admission) [{budget}]",
        cold.as_secs_f64() * 1e3,
        pct(&samples, 0.50).as_secs_f64() * 1e3,
        pct(&samples, 0.99).as_secs_f64() * 1e3,
    );
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        println!("admission = authenticate (key lookup, cached 5 s) + rate limit (conditional counter) + budget state (3 settings + 6 counters, one batch read); {WARM} warm samples");
        let dir = tempfile::tempdir().expect("dir");
        let sqlite: Arc<dyn Store> =
            Arc::new(sluice_sqlite::SqliteStore::open(&dir.path().join("bench.db")).expect("sqlite"));
        for (name, budget) in [
            ("SQLite (file)", None),
            ("SQLite + budgets, cached 5 s", Some("5")),
            ("SQLite + budgets, uncached", Some("0")),
        ] {
            let (gw, headers) = gateway(Arc::clone(&sqlite), "http://127.0.0.1:9", budget).await;
            measure(name, &gw, &headers, None).await;
        }

        let moto = MotoServer::start().expect("moto_server (make deps)");
        let config = aws_sdk_config(moto.endpoint_url());
        let table = unique_name("sluice-bench");
        sluice_aws::create_table(&config, &table).await.expect("table");
        let (client, log) = counting_dynamodb_client(&config);
        let dynamo: Arc<dyn Store> = Arc::new(sluice_aws::DynamoStore::new(client, table));
        for (name, budget) in [
            ("DynamoDB (moto)", None),
            ("DynamoDB + budgets, cached 5 s", Some("5")),
            ("DynamoDB + budgets, uncached", Some("0")),
        ] {
            let (gw, headers) = gateway(Arc::clone(&dynamo), moto.endpoint_url(), budget).await;
            measure(name, &gw, &headers, Some(&log)).await;
        }
    });
}
