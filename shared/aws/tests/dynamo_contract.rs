//! The `KeyStore` contract on `DynamoStore` against moto, plus what only DynamoDB has: the calls each
//! operation makes, the table's settings, and the raw items.
//!
//! Needs `moto_server` (PyPI `moto[server]`): `PATH=$PWD/.venv/bin:$PATH cargo test -p sluice-aws`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::{
    AttributeValue, BillingMode, KeyType, ProjectionType, StreamViewType, TimeToLiveStatus,
};
use sluice_aws::DynamoStore;
use sluice_core::store::{KeyStore, StoreError};
use sluice_testkit::contract::{KeyStoreCase, key_store_contract};
use sluice_testkit::fixtures::new_key;
use sluice_testkit::{MotoServer, aws_sdk_config, unique_name};

fn moto_client(interceptor: Option<CallRecorder>) -> Client {
    let moto = MotoServer::shared().expect("moto_server must run for the DynamoDB tests");
    let mut config = aws_sdk_dynamodb::config::Builder::from(&aws_sdk_config(moto.endpoint_url()));
    if let Some(recorder) = interceptor {
        config = config.interceptor(recorder);
    }
    Client::from_conf(config.build())
}

/// A fresh table per store, so tests sharing the moto server never see each other's items.
async fn fresh_store(client: Client) -> DynamoStore {
    let table = unique_name("sluice-test");
    DynamoStore::create_table(&client, &table)
        .await
        .expect("create_table");
    DynamoStore::new(client, table)
}

mod on_moto {
    use super::*;

    async fn run(case: KeyStoreCase) {
        let store = fresh_store(moto_client(None)).await;
        case(&store).await;
    }

    sluice_testkit::key_store_contract_tests!(run);
}

#[tokio::test]
async fn whole_contract_passes_on_one_shared_table() {
    let store = fresh_store(moto_client(None)).await;
    key_store_contract(&store).await;
}

/// Records the DynamoDB operation (`X-Amz-Target`) and JSON body of every request a client sends.
#[derive(Debug, Clone, Default)]
struct CallRecorder(Arc<Mutex<Vec<(String, String)>>>);

impl CallRecorder {
    fn take(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn take_operations(&self) -> Vec<String> {
        self.take().into_iter().map(|(op, _)| op).collect()
    }
}

impl Intercept for CallRecorder {
    fn name(&self) -> &'static str {
        "CallRecorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        let operation = target.rsplit('.').next().unwrap_or_default().to_owned();
        let body = request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((operation, body));
        Ok(())
    }
}

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

async fn raw_item(
    client: &Client,
    table: &str,
    pk: String,
    sk: &str,
) -> HashMap<String, AttributeValue> {
    client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk))
        .key("sk", AttributeValue::S(sk.to_owned()))
        .send()
        .await
        .expect("GetItem")
        .item
        .expect("item exists")
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
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
    .await;
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

    let pointer = raw_item(&client, store.table(), format!("KEYID#{}", key.id), "KEYID").await;
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

    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}
