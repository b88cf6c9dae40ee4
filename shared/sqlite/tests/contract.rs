//! The store contract on SQLite, on a temporary file and in memory, plus file persistence and what only
//! the file backend has (several handles on one file, clean-up of expired counter windows).

use std::sync::Arc;

use sluice_core::store::{CounterStore, KeyStore, SettingsStore, UserStore};
use sluice_sqlite::SqliteStore;
use sluice_testkit::contract::builders::new_user;
use sluice_testkit::contract::{
    KeyStoreCase, StoreCase, counters, key_store_contract, store_contract,
};
use sluice_testkit::fixtures::{new_key, now_ms};

mod on_temp_file {
    use super::*;

    async fn run(case: KeyStoreCase) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(&dir.path().join("sluice.db")).expect("open file store");
        case(&store).await;
    }

    sluice_testkit::key_store_contract_tests!(run);

    async fn run_store(case: StoreCase) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(&dir.path().join("sluice.db")).expect("open file store");
        case(Arc::new(store)).await;
    }

    sluice_testkit::store_contract_tests!(run_store);
}

mod in_memory {
    use super::*;

    async fn run(case: KeyStoreCase) {
        let store = SqliteStore::open_in_memory().expect("open memory store");
        case(&store).await;
    }

    sluice_testkit::key_store_contract_tests!(run);

    async fn run_store(case: StoreCase) {
        let store = SqliteStore::open_in_memory().expect("open memory store");
        case(Arc::new(store)).await;
    }

    sluice_testkit::store_contract_tests!(run_store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_contract_passes_on_one_shared_store() {
    let store = SqliteStore::open_in_memory().expect("open memory store");
    key_store_contract(&store).await;
    store_contract(Arc::new(store)).await;
}

#[tokio::test]
async fn reopening_a_file_keeps_its_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A missing parent folder is created, as `sluice serve` does for its data folder.
    let path = dir.path().join("data").join("sluice.db");
    let key = new_key("persisted");
    let revoked = new_key("persisted-revoked");
    {
        let store = SqliteStore::open(&path).expect("first open");
        store.create_key(&key).await.expect("create");
        store.create_key(&revoked).await.expect("create");
        store.revoke_key(&revoked.id, 42).await.expect("revoke");
    }

    let reopened = SqliteStore::open(&path).expect("second open");

    assert_eq!(
        reopened.key_by_hash(&key.key_hash).await.expect("read"),
        Some(key)
    );
    let revoked_again = reopened
        .key_by_id(&revoked.id)
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(revoked_again.revoked_at_ms, Some(42));
    assert_eq!(reopened.list_keys().await.expect("list").len(), 2);
}

#[tokio::test]
async fn two_handles_on_one_file_see_each_others_writes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sluice.db");
    // Like `sluice keys create` running while `sluice serve` holds the database open.
    let server = SqliteStore::open(&path).expect("server handle");
    let admin = SqliteStore::open(&path).expect("admin handle");
    let key = new_key("cross-process");

    admin.create_key(&key).await.expect("create");

    assert_eq!(
        server.key_by_hash(&key.key_hash).await.expect("read"),
        Some(key)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn increments_through_two_handles_on_one_file_stay_exact() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sluice.db");
    // Two connections, as two processes would have: the bound holds in SQLite, not in our mutex.
    let a: Arc<dyn CounterStore> = Arc::new(SqliteStore::open(&path).expect("first handle"));
    let b: Arc<dyn CounterStore> = Arc::new(SqliteStore::open(&path).expect("second handle"));

    counters::assert_exact(&[a, b], 500).await;
}

#[tokio::test]
async fn a_new_window_deletes_expired_windows_but_keeps_live_ones() {
    let store = SqliteStore::open_in_memory().expect("open memory store");
    let now_s = now_ms() / 1000;
    // The live window first: creating it would already clean up an expired one.
    store
        .increment_below("live", 60, 10, now_s + 3_600)
        .await
        .expect("increment");
    store
        .increment_below("expired", 60, 10, now_s - 10)
        .await
        .expect("increment");
    assert_eq!(store.window_count("expired", 60).await.expect("count"), 1);

    // Counting on in an existing window does not clean up; starting a window does.
    store
        .increment_below("live", 60, 10, now_s + 3_600)
        .await
        .expect("increment");
    assert_eq!(store.window_count("expired", 60).await.expect("count"), 1);
    store
        .increment_below("live", 120, 10, now_s + 3_600)
        .await
        .expect("increment");

    assert_eq!(store.window_count("expired", 60).await.expect("count"), 0);
    assert_eq!(store.window_count("live", 60).await.expect("count"), 2);
    assert_eq!(store.window_count("live", 120).await.expect("count"), 1);
}

#[tokio::test]
async fn reopening_a_file_keeps_users_and_settings() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sluice.db");
    let user = new_user("persisted");
    {
        let store = SqliteStore::open(&path).expect("first open");
        store.create_user(&user).await.expect("create_user");
        store
            .put_setting_if_absent("session_signing_key", "k1")
            .await
            .expect("put");
    }

    let reopened = SqliteStore::open(&path).expect("second open");

    assert_eq!(
        reopened.user_by_email(&user.email).await.expect("read"),
        Some(user)
    );
    assert_eq!(
        reopened
            .put_setting_if_absent("session_signing_key", "k2")
            .await
            .expect("put"),
        "k1"
    );
}
