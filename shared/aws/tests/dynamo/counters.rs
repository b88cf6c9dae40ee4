//! The counter on DynamoDB: one conditional `UpdateItem` per increment, its items, and exactness across
//! two separate clients (as two Lambda instances would be).

use std::sync::Arc;

use serde_json::json;
use sluice_aws::DynamoStore;
use sluice_core::store::CounterStore;
use sluice_testkit::contract::builders::new_scope;
use sluice_testkit::contract::counters::assert_exact;

use crate::support::{CallRecorder, fresh_store, moto_client, n, raw_item, s};

#[tokio::test]
async fn increment_is_one_conditional_update_item() {
    let recorder = CallRecorder::default();
    let store = fresh_store(moto_client(Some(recorder.clone()))).await;
    let scope = new_scope("key");
    recorder.take();

    assert_eq!(
        store
            .increment_below(&scope, 60, 5, 999)
            .await
            .expect("increment"),
        Some(1)
    );

    let (operation, body) = recorder.take_single();
    assert_eq!(operation, "UpdateItem");
    assert_eq!(
        body["UpdateExpression"],
        json!("ADD cnt :one SET expires_at = :exp, item_type = :t")
    );
    assert_eq!(
        body["ConditionExpression"],
        json!("attribute_not_exists(cnt) OR cnt < :bound")
    );
    assert_eq!(body["ReturnValues"], json!("UPDATED_NEW"));
    assert_eq!(
        body["ExpressionAttributeValues"][":bound"],
        json!({"N": "5"})
    );
    assert_eq!(body["Key"]["pk"], json!({"S": format!("RL#{scope}")}));
    assert_eq!(body["Key"]["sk"], json!({"S": "W#60"}));
}

#[tokio::test]
async fn refusal_is_one_update_item_and_bound_zero_sends_nothing() {
    let recorder = CallRecorder::default();
    let store = fresh_store(moto_client(Some(recorder.clone()))).await;
    let scope = new_scope("key");
    store
        .increment_below(&scope, 60, 1, 999)
        .await
        .expect("first");
    recorder.take();

    assert_eq!(
        store
            .increment_below(&scope, 60, 1, 999)
            .await
            .expect("refused"),
        None
    );
    assert_eq!(recorder.take_operations(), ["UpdateItem"]);

    assert_eq!(
        store
            .increment_below(&scope, 60, 0, 999)
            .await
            .expect("refused"),
        None
    );
    assert_eq!(recorder.take_operations(), Vec::<String>::new());
}

#[tokio::test]
async fn counter_items_carry_item_type_and_ttl() {
    let client = moto_client(None);
    let store = fresh_store(client.clone()).await;
    let scope = new_scope("user");
    store
        .increment_below(&scope, 1_700_000_000, 10, 1_700_000_120)
        .await
        .expect("increment");
    store
        .increment_below(&scope, 1_700_000_000, 10, 1_700_000_180)
        .await
        .expect("increment");

    let item = raw_item(
        &client,
        store.table(),
        format!("RL#{scope}"),
        "W#1700000000",
    )
    .await
    .expect("counter item");
    assert_eq!(item.get("item_type"), Some(&s("counter")));
    assert_eq!(item.get("cnt"), Some(&n(2)));
    assert_eq!(
        item.get("expires_at"),
        Some(&n(1_700_000_180)),
        "the last expiry wins"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn increments_from_two_clients_on_one_table_stay_exact() {
    let first = fresh_store(moto_client(None)).await;
    // A second SDK client (own connection pool) on the same table.
    let second = DynamoStore::new(moto_client(None), first.table());
    let stores: [Arc<dyn CounterStore>; 2] = [Arc::new(first), Arc::new(second)];

    assert_exact(&stores, 500).await;
}
