//! The `KeyStore` contract on SQLite, on a temporary file and in memory, plus file persistence.

use sluice_core::store::KeyStore;
use sluice_sqlite::SqliteStore;
use sluice_testkit::contract::{KeyStoreCase, key_store_contract};
use sluice_testkit::fixtures::new_key;

mod on_temp_file {
    use super::*;

    async fn run(case: KeyStoreCase) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(&dir.path().join("sluice.db")).expect("open file store");
        case(&store).await;
    }

    sluice_testkit::key_store_contract_tests!(run);
}

mod in_memory {
    use super::*;

    async fn run(case: KeyStoreCase) {
        let store = SqliteStore::open_in_memory().expect("open memory store");
        case(&store).await;
    }

    sluice_testkit::key_store_contract_tests!(run);
}

#[tokio::test]
async fn whole_contract_passes_on_one_shared_store() {
    let store = SqliteStore::open_in_memory().expect("open memory store");
    key_store_contract(&store).await;
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
