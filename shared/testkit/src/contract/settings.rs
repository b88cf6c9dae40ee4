//! `SettingsStore` behaviours.

use std::sync::Arc;

use sluice_core::store::Store;

use super::builders::new_scope;

async fn get(store: &dyn Store, key: &str) -> Option<String> {
    store
        .get_setting(key)
        .await
        .unwrap_or_else(|e| panic!("get_setting({key}) failed: {e}"))
}

pub async fn absent_setting_is_none(store: Arc<dyn Store>) {
    assert_eq!(get(&*store, &new_scope("setting")).await, None);
}

pub async fn put_then_get_and_overwrite(store: Arc<dyn Store>) {
    let key = new_scope("setting");
    store.put_setting(&key, "first").await.expect("put_setting");
    assert_eq!(get(&*store, &key).await.as_deref(), Some("first"));

    store
        .put_setting(&key, "second — ünïcode")
        .await
        .expect("put_setting");
    assert_eq!(
        get(&*store, &key).await.as_deref(),
        Some("second — ünïcode")
    );
}

pub async fn put_if_absent_keeps_the_first_value(store: Arc<dyn Store>) {
    let key = new_scope("setting");
    let stored = store
        .put_setting_if_absent(&key, "first")
        .await
        .expect("put_setting_if_absent");
    assert_eq!(stored, "first");

    let again = store
        .put_setting_if_absent(&key, "second")
        .await
        .expect("put_setting_if_absent");
    assert_eq!(again, "first");
    assert_eq!(get(&*store, &key).await.as_deref(), Some("first"));
}

pub async fn put_if_absent_gives_concurrent_callers_one_answer(store: Arc<dyn Store>) {
    let key = new_scope("signing-key");
    let calls: Vec<_> = (0..20)
        .map(|i| {
            let (store, key) = (Arc::clone(&store), key.clone());
            tokio::spawn(async move {
                store
                    .put_setting_if_absent(&key, &format!("value-{i}"))
                    .await
            })
        })
        .collect();

    let mut answers = Vec::new();
    for call in calls {
        answers.push(
            call.await
                .expect("task ran")
                .expect("put_setting_if_absent"),
        );
    }

    let first = answers[0].clone();
    assert!(answers.iter().all(|a| *a == first), "{answers:?}");
    assert!(first.starts_with("value-"), "{first}");
    assert_eq!(get(&*store, &key).await, Some(first));
}
