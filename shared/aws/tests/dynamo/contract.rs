//! Every contract case on moto: one test per case on a fresh table, and all of them on one shared table.

use std::sync::Arc;

use sluice_testkit::contract::{KeyStoreCase, StoreCase, key_store_contract, store_contract};

use crate::support::{fresh_store, moto_client};

async fn run(case: KeyStoreCase) {
    let store = fresh_store(moto_client(None)).await;
    case(&store).await;
}

sluice_testkit::key_store_contract_tests!(run);

async fn run_store(case: StoreCase) {
    let store = fresh_store(moto_client(None)).await;
    case(Arc::new(store)).await;
}

sluice_testkit::store_contract_tests!(run_store);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_contract_passes_on_one_shared_table() {
    let store = fresh_store(moto_client(None)).await;
    key_store_contract(&store).await;
    store_contract(Arc::new(store)).await;
}
