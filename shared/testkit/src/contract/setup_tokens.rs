//! `SetupTokenStore` behaviours: a token is given once, never after it expires, and to one of racing callers.

use std::sync::Arc;

use sluice_core::store::{SetupToken, Store, StoreError};

use super::builders::new_scope;
use crate::fixtures::now_ms;

fn new_token(label: &str, expires_at_ms: i64) -> SetupToken {
    SetupToken {
        id: new_scope(label),
        key_id: new_scope("key"),
        sealed_key: "c2VhbGVk".into(),
        expires_at_ms,
    }
}

async fn put(store: &dyn Store, token: &SetupToken) {
    store
        .put_setup_token(token)
        .await
        .unwrap_or_else(|e| panic!("put_setup_token({}) failed: {e}", token.id));
}

async fn take(store: &dyn Store, id: &str) -> Option<SetupToken> {
    store.take_setup_token(id).await.expect("take_setup_token")
}

pub async fn put_then_take_once(store: Arc<dyn Store>) {
    let token = new_token("once", now_ms() + 300_000);
    put(&*store, &token).await;
    assert_eq!(take(&*store, &token.id).await, Some(token.clone()));
    assert_eq!(
        take(&*store, &token.id).await,
        None,
        "a second take finds nothing"
    );
}

pub async fn expired_token_is_not_given(store: Arc<dyn Store>) {
    let token = new_token("expired", now_ms() - 1);
    put(&*store, &token).await;
    assert_eq!(take(&*store, &token.id).await, None);
}

pub async fn concurrent_takes_give_it_once(store: Arc<dyn Store>) {
    let token = new_token("raced", now_ms() + 300_000);
    put(&*store, &token).await;
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let (store, id) = (Arc::clone(&store), token.id.clone());
            tokio::spawn(async move { store.take_setup_token(&id).await })
        })
        .collect();
    let mut given = 0;
    for call in calls {
        if call
            .await
            .expect("task ran")
            .expect("take_setup_token")
            .is_some()
        {
            given += 1;
        }
    }
    assert_eq!(given, 1, "exactly one caller gets the token");
}

pub async fn duplicate_id_is_already_exists(store: Arc<dyn Store>) {
    let token = new_token("dup", now_ms() + 300_000);
    put(&*store, &token).await;
    let err = store
        .put_setup_token(&SetupToken {
            key_id: "another".into(),
            ..token.clone()
        })
        .await
        .expect_err("a duplicate id must fail");
    assert!(matches!(err, StoreError::AlreadyExists(_)), "got {err:?}");
    assert_eq!(take(&*store, &token.id).await, Some(token));
}

pub async fn take_of_unknown_id_is_none(store: Arc<dyn Store>) {
    assert_eq!(take(&*store, &new_scope("absent")).await, None);
}
