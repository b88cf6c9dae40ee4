//! What only DynamoDB has for keys: the calls each operation makes, the table's settings, the raw key
//! items, and errors of an unreachable endpoint.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    BillingMode, KeyType, ProjectionType, StreamViewType, TimeToLiveStatus,
};
use sluice_aws::DynamoStore;
use sluice_core::store::{KeyStore, StoreError};
use sluice_testkit::aws_sdk_config;
use sluice_testkit::fixtures::new_key;

use crate::support::{CallRecorder, fresh_store, moto_client, raw_item, s};

#[tokio::test]
async fn key_by_hash_is_one_strongly_consistent_get_item() {
    let recorder = CallRecorder::default();
    let store = fresh_store(moto_client(Some(recorder.clone()))).await;
    let key = new_key("hot-path");
    store.create_key(&key).await.expect("create");
    recorder.take();

    // Right after the create: a GSI (eventually consistent on real DynamoDB) is not involved.
    let found = store.key_by_hash(&key.key_hash).await.expect("lookup");

    assert_eq!(found, Some(key));
    let calls = recorder.take();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let (operation, body) = &calls[0];
    assert_eq!(operation, "GetItem");
    let body: serde_json::Value = serde_json::from_str(body).expect("JSON request");
    assert_eq!(
        body["ConsistentRead"],
        serde_json::Value::Bool(true),
        "{body}"
    );
}

#[tokio::test]
async fn each_key_operation_makes_the_calls_the_layout_promises() {
    let recorder = CallRecorder::default();
    let store = fresh_store(moto_client(Some(recorder.clone()))).await;
    let key = new_key("budget");
    recorder.take();

    store.create_key(&key).await.expect("create");
    assert_eq!(recorder.take_operations(), ["TransactWriteItems"]);

    store.key_by_id(&key.id).await.expect("by id");
    assert_eq!(recorder.take_operations(), ["GetItem", "GetItem"]);

    store.revoke_key(&key.id, 7).await.expect("revoke");
    assert_eq!(recorder.take_operations(), ["GetItem", "UpdateItem"]);

    store.list_keys().await.expect("list");
    assert_eq!(recorder.take_operations(), ["Query"]);
}

#[tokio::test]
async fn created_table_has_the_template_settings() {
    let client = moto_client(None);
    let store = fresh_store(client.clone()).await;

    let table = client
        .describe_table()
        .table_name(store.table())
        .send()
        .await
        .expect("DescribeTable")
        .table
        .expect("table description");

    let keys: Vec<(&str, &KeyType)> = table
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type()))
        .collect();
    assert_eq!(keys, [("pk", &KeyType::Hash), ("sk", &KeyType::Range)]);
    assert_eq!(
        table.billing_mode_summary().and_then(|b| b.billing_mode()),
        Some(&BillingMode::PayPerRequest)
    );
    let stream = table.stream_specification().expect("stream specification");
    assert!(stream.stream_enabled());
    assert_eq!(stream.stream_view_type(), Some(&StreamViewType::NewImage));

    let gsis = table.global_secondary_indexes();
    assert_eq!(gsis.len(), 1, "{gsis:?}");
    let gsi1 = &gsis[0];
    assert_eq!(gsi1.index_name(), Some("gsi1"));
    let gsi_keys: Vec<(&str, &KeyType)> = gsi1
        .key_schema()
        .iter()
        .map(|k| (k.attribute_name(), k.key_type()))
        .collect();
    assert_eq!(
        gsi_keys,
        [("gsi1pk", &KeyType::Hash), ("gsi1sk", &KeyType::Range)]
    );
    assert_eq!(
        gsi1.projection().and_then(|p| p.projection_type()),
        Some(&ProjectionType::All)
    );

    let ttl = client
        .describe_time_to_live()
        .table_name(store.table())
        .send()
        .await
        .expect("DescribeTimeToLive")
        .time_to_live_description
        .expect("TTL description");
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
}

#[tokio::test]
async fn creating_an_existing_table_is_already_exists() {
    let client = moto_client(None);
    let store = fresh_store(client.clone()).await;

    let err = DynamoStore::create_table(&client, store.table())
        .await
        .expect_err("second create must fail");

    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
}

#[tokio::test]
async fn key_items_carry_item_type_and_the_documented_keys() {
    let client = moto_client(None);
    let store = fresh_store(client.clone()).await;
    let key = new_key("layout");
    store.create_key(&key).await.expect("create");

    let item = raw_item(
        &client,
        store.table(),
        format!("KEY#{}", key.key_hash),
        "KEY",
    )
    .await
    .expect("key item exists");
    assert_eq!(item.get("item_type"), Some(&s("key")));
    assert_eq!(item.get("gsi1pk"), Some(&s("KEYS")));
    assert_eq!(
        item.get("gsi1sk"),
        Some(&s(&format!("{:020}#{}", key.created_at_ms, key.id)))
    );
    assert_eq!(item.get("id"), Some(&s(&key.id)));
    assert!(
        !item.contains_key("revoked_at_ms"),
        "unset fields are absent: {item:?}"
    );
    assert!(
        !item.contains_key("expires_at"),
        "keys never expire: {item:?}"
    );

    let pointer = raw_item(&client, store.table(), format!("KEYID#{}", key.id), "KEYID")
        .await
        .expect("pointer exists");
    assert_eq!(pointer.get("item_type"), Some(&s("key_id")));
    assert_eq!(pointer.get("key_hash"), Some(&s(&key.key_hash)));
    assert!(
        !pointer.contains_key("gsi1pk"),
        "pointers stay out of the key listing"
    );
}

#[tokio::test]
async fn unreachable_endpoint_is_unavailable_not_a_panic() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let config = aws_sdk_dynamodb::config::Builder::from(&aws_sdk_config(&format!(
        "http://127.0.0.1:{port}"
    )))
    .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
    .build();
    let store = DynamoStore::new(Client::from_conf(config), "no-such-table");

    let err = store
        .key_by_hash("00")
        .await
        .expect_err("nothing listens there");

    assert!(matches!(err, StoreError::Unavailable(..)), "{err:?}");
}
