//! Exact rate limits across independent gateway instances sharing one store: 1,000 concurrent admissions against a
//! limit of L admit exactly L, on SQLite (two connections to one file) and on DynamoDB in moto (two SDK clients).

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
