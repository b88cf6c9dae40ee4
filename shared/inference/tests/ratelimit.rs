//! Exact rate limits across independent gateway instances sharing one store: 1,000 concurrent admissions against a
//! limit of L admit exactly L, on SQLite (two connections to one file) and on DynamoDB in moto (two SDK clients).

#![expect(
    clippy::disallowed_methods,
    reason = "test servers and receivers run on their own tasks"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sluice_core::store::Store;
use sluice_http::ratelimit::{Admission, RateLimiter};
use sluice_sqlite::SqliteStore;
use sluice_testkit::{MotoServer, aws_sdk_config_patient, unique_name};

const ATTEMPTS: usize = 1000;
const LIMIT: u64 = 137;

/// Runs `ATTEMPTS` concurrent admissions split over the given instances (each its own limiter and store handle), all
/// at one instant so the test never straddles a window boundary. Returns (admitted, refused with retry-after ≥ 1).
async fn hammer(instances: Vec<(Arc<RateLimiter>, Arc<dyn Store>)>, scope: &str) -> (u64, u64) {
    let now_ms = 1_800_000_000_000 + 17_000; // 17 s into a window
    let admitted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(ATTEMPTS);
    for i in 0..ATTEMPTS {
        let (limiter, store) = instances[i % instances.len()].clone();
        let (admitted, refused, scope) = (admitted.clone(), refused.clone(), scope.to_owned());
        tasks.push(tokio::spawn(async move {
            match limiter
                .admit(store.as_ref(), &scope, LIMIT, now_ms)
                .await
                .expect("store answers")
            {
                Admission::Admitted { .. } => admitted.fetch_add(1, Ordering::SeqCst),
                Admission::Refused { retry_after_secs } => {
                    assert!(retry_after_secs >= 1);
                    refused.fetch_add(1, Ordering::SeqCst)
                }
            };
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    (
        admitted.load(Ordering::SeqCst),
        refused.load(Ordering::SeqCst),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_two_instances_admit_exactly_the_limit() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("sluice.db");
    let a: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).expect("a"));
    let b: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).expect("b"));
    let instances = vec![
        (Arc::new(RateLimiter::default()), a.clone()),
        (Arc::new(RateLimiter::default()), b),
    ];
    let (admitted, refused) = hammer(instances, "key:sqlite").await;
    assert_eq!((admitted, refused), (LIMIT, ATTEMPTS as u64 - LIMIT));
    let window_start = (1_800_000_000_000i64 + 17_000) / 60_000 * 60;
    assert_eq!(
        a.window_count("key:sqlite", window_start)
            .await
            .expect("count"),
        LIMIT
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_two_instances_admit_exactly_the_limit() {
    // One request at a time at moto, as DynamoDB applies an item's writes (see `MotoServer::start_serial`).
    let moto = MotoServer::shared_serial().expect("moto");
    let table = unique_name("sluice-rl");
    // Two SDK configurations, hence two clients and connection pools: two independent instances.
    let (ca, cb) = (
        aws_sdk_config_patient(moto.endpoint_url()),
        aws_sdk_config_patient(moto.endpoint_url()),
    );
    sluice_aws::create_table(&ca, &table).await.expect("table");
    let a: Arc<dyn Store> = Arc::new(sluice_aws::dynamo_store(&ca, &table));
    let b: Arc<dyn Store> = Arc::new(sluice_aws::dynamo_store(&cb, &table));
    let instances = vec![
        (Arc::new(RateLimiter::default()), a.clone()),
        (Arc::new(RateLimiter::default()), b),
    ];
    let (admitted, refused) = hammer(instances, "key:dynamo").await;
    assert_eq!((admitted, refused), (LIMIT, ATTEMPTS as u64 - LIMIT));
}

#[tokio::test]
async fn previous_window_carries_over_and_zero_means_unlimited() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().expect("sqlite"));
    let limiter = RateLimiter::default();
    let t0 = 1_800_000_000_000i64 / 60_000 * 60_000; // a window start
    for _ in 0..10 {
        assert!(matches!(
            limiter
                .admit(store.as_ref(), "s", 10, t0)
                .await
                .expect("ok"),
            Admission::Admitted { .. }
        ));
    }
    // Half-way through the next window, half of the previous 10 still count: 5 more fit, not 10.
    let next = RateLimiter::default();
    let mut admitted = 0;
    for _ in 0..10 {
        if matches!(
            next.admit(store.as_ref(), "s", 10, t0 + 90_000)
                .await
                .expect("ok"),
            Admission::Admitted { .. }
        ) {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 5);
    assert_eq!(
        limiter
            .admit(store.as_ref(), "other", 0, t0)
            .await
            .expect("ok"),
        Admission::Admitted { count: 0 }
    );
}

/// The admission step's cost on DynamoDB: the first request of a key reads the key and the previous window together,
/// then increments (two round trips); after that, one conditional `UpdateItem` per request (keys and closed windows
/// are cached).
#[tokio::test]
async fn warm_admission_costs_one_dynamodb_request() {
    use std::time::Duration;

    use axum::http::{HeaderMap, HeaderValue};
    use sluice_core::keys::mint;
    use sluice_core::store::VirtualKey;
    use sluice_http::{AppState, AuthConfig, GatewayConfig};
    use sluice_inference::GatewayState;
    use sluice_testkit::calls::counting_dynamodb_client;

    let moto = MotoServer::shared_serial().expect("moto");
    let config = aws_sdk_config_patient(moto.endpoint_url());
    let table = unique_name("sluice-admission");
    sluice_aws::create_table(&config, &table)
        .await
        .expect("table");
    let (client, log) = counting_dynamodb_client(&config);
    let store: Arc<dyn Store> = Arc::new(sluice_aws::DynamoStore::new(client, table));
    let mut headers = Vec::new();
    for rpm in [Some(1000), None] {
        let m = mint(&sluice_adapters::OsIds);
        let key = VirtualKey {
            id: m.id,
            name: "bench".into(),
            key_hash: m.key_hash,
            prefix: m.prefix,
            created_at_ms: 1,
            revoked_at_ms: None,
            user_id: None,
            team_id: None,
            rate_limit_rpm: rpm,
        };
        store.create_key(&key).await.expect("key");
        let mut h = HeaderMap::new();
        h.insert(
            "x-api-key",
            HeaderValue::from_str(&m.secret).expect("ascii"),
        );
        headers.push(h);
    }
    let app = AppState::build(
        store,
        AuthConfig::from_lookup(|_| None, Duration::from_secs(60)),
    )
    .await
    .expect("app");
    let gateway = GatewayState::new(
        Arc::new(app),
        Arc::new(sluice_aws::bedrock_upstream(&config)),
        GatewayConfig::from_lookup("us-east-1", |_| None).expect("config"),
    );
    let (limited, unlimited) = (&headers[0], &headers[1]);
    let _ = log.take();
    let minute = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs()
            / 60
    };

    let started_in = minute();
    gateway.admit(limited).await.expect("admitted");
    let mut cold = log.take();
    // The key, the previous window and the org limits (with the policy document) are read together (in any order),
    // then the increment.
    assert_eq!(
        cold.pop().as_deref(),
        Some("UpdateItem"),
        "cold: the increment comes last"
    );
    cold.sort();
    assert_eq!(
        cold,
        ["BatchGetItem", "GetItem", "GetItem"],
        "cold: key, previous window and org limits, read concurrently"
    );
    let mut rolled_over = 0;
    for _ in 0..20 {
        gateway.admit(limited).await.expect("admitted");
        let calls = log.take();
        if calls == ["GetItem", "UpdateItem"] && minute() != started_in {
            rolled_over += 1; // a new window: its previous window is read once
        } else {
            assert_eq!(
                calls,
                ["UpdateItem"],
                "warm admission is one conditional write"
            );
        }
    }
    assert!(rolled_over <= 1);
    gateway.admit(unlimited).await.expect("admitted");
    assert_eq!(
        log.take(),
        ["GetItem", "GetItem"],
        "cold unlimited key: the key lookup and the window read made alongside it (the limit is not known yet)"
    );
    gateway.admit(unlimited).await.expect("admitted");
    assert!(
        log.take().is_empty(),
        "warm unlimited key: no store request at all"
    );
}
