//! `CounterStore` behaviours, including exactness under 1,000 concurrent increments.

use std::sync::Arc;

use sluice_core::store::{CounterStore, Store};

use super::builders::new_scope;
use crate::fixtures::now_ms;

/// The window start used by most cases; any value works, windows are independent.
const WINDOW: i64 = 1_700_000_040;
/// The limit of the exactness cases; prime, so an off-by-one in batching shows.
pub const EXACT_LIMIT: u64 = 137;

fn expires() -> i64 {
    now_ms() / 1000 + 3_600
}

async fn increment(store: &dyn Store, scope: &str, window: i64, bound: u64) -> Option<u64> {
    store
        .increment_below(scope, window, bound, expires())
        .await
        .unwrap_or_else(|e| panic!("increment_below({scope}, {window}, {bound}) failed: {e}"))
}

async fn count(store: &dyn Store, scope: &str, window: i64) -> u64 {
    store
        .window_count(scope, window)
        .await
        .unwrap_or_else(|e| panic!("window_count({scope}, {window}) failed: {e}"))
}

pub async fn increment_counts_up(store: Arc<dyn Store>) {
    let scope = new_scope("key");
    for expected in 1..=5 {
        assert_eq!(
            increment(&*store, &scope, WINDOW, 100).await,
            Some(expected)
        );
    }
    assert_eq!(count(&*store, &scope, WINDOW).await, 5);
}

pub async fn refuses_at_the_bound_without_counting(store: Arc<dyn Store>) {
    let scope = new_scope("key");
    for expected in 1..=3 {
        assert_eq!(increment(&*store, &scope, WINDOW, 3).await, Some(expected));
    }

    assert_eq!(increment(&*store, &scope, WINDOW, 3).await, None);
    assert_eq!(increment(&*store, &scope, WINDOW, 3).await, None);
    assert_eq!(count(&*store, &scope, WINDOW).await, 3);
    // A lower bound (more carried over from the previous window) refuses too; a higher one admits.
    assert_eq!(increment(&*store, &scope, WINDOW, 2).await, None);
    assert_eq!(increment(&*store, &scope, WINDOW, 4).await, Some(4));
}

pub async fn windows_are_independent(store: Arc<dyn Store>) {
    let scope = new_scope("key");
    assert_eq!(increment(&*store, &scope, WINDOW, 1).await, Some(1));
    assert_eq!(increment(&*store, &scope, WINDOW, 1).await, None);

    assert_eq!(increment(&*store, &scope, WINDOW + 60, 1).await, Some(1));
    assert_eq!(count(&*store, &scope, WINDOW).await, 1);
    assert_eq!(count(&*store, &scope, WINDOW + 60).await, 1);
}

pub async fn scopes_are_independent(store: Arc<dyn Store>) {
    let (a, b) = (new_scope("key"), new_scope("user"));
    assert_eq!(increment(&*store, &a, WINDOW, 2).await, Some(1));
    assert_eq!(increment(&*store, &a, WINDOW, 2).await, Some(2));

    assert_eq!(increment(&*store, &b, WINDOW, 2).await, Some(1));
    assert_eq!(count(&*store, &a, WINDOW).await, 2);
    assert_eq!(count(&*store, &b, WINDOW).await, 1);
}

pub async fn absent_window_counts_zero(store: Arc<dyn Store>) {
    assert_eq!(count(&*store, &new_scope("never"), WINDOW).await, 0);
}

pub async fn bound_zero_refuses(store: Arc<dyn Store>) {
    let scope = new_scope("key");
    assert_eq!(increment(&*store, &scope, WINDOW, 0).await, None);
    assert_eq!(count(&*store, &scope, WINDOW).await, 0);
    // Also on an existing window.
    assert_eq!(increment(&*store, &scope, WINDOW, 5).await, Some(1));
    assert_eq!(increment(&*store, &scope, WINDOW, 0).await, None);
    assert_eq!(count(&*store, &scope, WINDOW).await, 1);
}

pub async fn concurrent_increments_admit_exactly_the_bound(store: Arc<dyn Store>) {
    let counter: Arc<dyn CounterStore> = store;
    assert_exact(&[counter], 1_000).await;
}

/// `calls_per_store` concurrent `increment_below(.., EXACT_LIMIT, ..)` on each of `stores` (handles on one
/// shared backend): exactly `EXACT_LIMIT` are admitted, the counts 1..=EXACT_LIMIT are each returned once,
/// and the window holds `EXACT_LIMIT`. Backends call it with two separate handles to show that the
/// increment is atomic in the backend, not only within one process.
///
/// # Panics
/// When the counts differ, or a call fails.
pub async fn assert_exact(stores: &[Arc<dyn CounterStore>], calls_per_store: usize) {
    let scope = new_scope("exact");
    let expires_at = expires();
    let mut tasks = Vec::new();
    for store in stores {
        for _ in 0..calls_per_store {
            let (store, scope) = (Arc::clone(store), scope.clone());
            tasks.push(tokio::spawn(async move {
                store
                    .increment_below(&scope, WINDOW, EXACT_LIMIT, expires_at)
                    .await
            }));
        }
    }

    let mut admitted = Vec::new();
    for task in tasks {
        if let Some(n) = task
            .await
            .expect("task ran")
            .unwrap_or_else(|e| panic!("concurrent increment_below failed: {e}"))
        {
            admitted.push(n);
        }
    }

    admitted.sort_unstable();
    let expected: Vec<u64> = (1..=EXACT_LIMIT).collect();
    assert_eq!(
        admitted, expected,
        "each count up to the bound is handed out once"
    );
    for store in stores {
        assert_eq!(
            store
                .window_count(&scope, WINDOW)
                .await
                .expect("window_count"),
            EXACT_LIMIT
        );
    }
}
