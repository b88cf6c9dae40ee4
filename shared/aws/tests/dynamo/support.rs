//! Shared helpers: moto clients, fresh tables, and a recorder of the requests a client sends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{
    ConfigBag, Intercept, RuntimeComponents, StalledStreamProtectionConfig,
};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use sluice_aws::DynamoStore;
use sluice_testkit::{MotoServer, aws_sdk_config, unique_name};

/// A client of the shared moto server that handles one request at a time (`MotoServer::shared_serial`: moto
/// has no per-item locking, real DynamoDB applies an item's writes one after another).
pub fn moto_client(interceptor: Option<CallRecorder>) -> Client {
    let moto = MotoServer::shared_serial().expect("moto_server must run for the DynamoDB tests");
    let mut config = aws_sdk_dynamodb::config::Builder::from(&aws_sdk_config(moto.endpoint_url()))
        // Waiting for the turn at a one-at-a-time server looks like a stalled upload to the SDK; it is not one.
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled());
    if let Some(recorder) = interceptor {
        config = config.interceptor(recorder);
    }
    Client::from_conf(config.build())
}

/// A fresh table per store, so tests sharing the moto server never see each other's items.
pub async fn fresh_store(client: Client) -> DynamoStore {
    let table = unique_name("sluice-test");
    DynamoStore::create_table(&client, &table)
        .await
        .expect("create_table");
    DynamoStore::new(client, table)
}

/// Records the DynamoDB operation (`X-Amz-Target`) and JSON body of every request a client sends.
#[derive(Debug, Clone, Default)]
pub struct CallRecorder(Arc<Mutex<Vec<(String, String)>>>);

impl CallRecorder {
    pub fn take(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn take_operations(&self) -> Vec<String> {
        self.take().into_iter().map(|(op, _)| op).collect()
    }

    /// The one request sent since the last `take`, as (operation, JSON body); panics on any other count.
    pub fn take_single(&self) -> (String, serde_json::Value) {
        let calls = self.take();
        assert_eq!(calls.len(), 1, "{calls:?}");
        let (operation, body) = calls.into_iter().next().expect("one call");
        let body = serde_json::from_str(&body).expect("JSON request");
        (operation, body)
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

/// An item as stored, read without the adapter; `None` when absent.
pub async fn raw_item(
    client: &Client,
    table: &str,
    pk: String,
    sk: &str,
) -> Option<HashMap<String, AttributeValue>> {
    client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(pk))
        .key("sk", AttributeValue::S(sk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem")
        .item
}

pub fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

pub fn n(value: impl std::fmt::Display + Copy) -> AttributeValue {
    AttributeValue::N(value.to_string())
}
