//! `SpendStore` on DynamoDB: a usage record's counter additions and its applied marker in one
//! `TransactWriteItems` (the marker's condition makes a replay a no-op), the admission step's budget state in
//! one `BatchGetItem`, and counter families listed on `gsi1`.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem, Update};
use sluice_core::spend::ledger::{Counter, CounterAdd, SpendDelta};
use sluice_core::store::{SpendStore, StoreError};

use super::error::{corrupt, invalid_request, unavailable};
use super::layout::spend::{
    BATCH_GET_MAX, FIELD_PREFIX, TRANSACT_MAX, applied_item, counter_item_key, counter_update,
    into_counter, pk_of,
};
use super::layout::{self, SettingItem, item_type};
use super::ops::{Item, condition_failed, number, string};
use super::store::DynamoStore;

/// The marker is the first write of the transaction.
const MARKER_WRITE: usize = 0;
/// How often unprocessed keys of a batch read are asked for again before giving up.
const BATCH_RETRIES: u32 = 5;

/// The delta's additions with one entry per counter key (first-seen order, empty ones dropped): a transaction
/// may touch an item only once (DynamoDB refuses the whole request otherwise, which would read as retryable),
/// and two additions to one counter in one delta must add up, as they do on SQLite.
fn merged_counters(delta: &SpendDelta) -> Vec<CounterAdd> {
    let mut merged: Vec<CounterAdd> = Vec::with_capacity(delta.counters.len());
    let mut index: HashMap<&str, usize> = HashMap::new();
    for counter in delta.counters.iter().filter(|c| !c.adds.is_empty()) {
        match index.get(counter.key.as_str()) {
            Some(&at) => {
                for (field, amount) in &counter.adds {
                    let sum = merged[at].adds.entry(field.clone()).or_insert(0);
                    *sum = sum.saturating_add(*amount);
                }
            }
            None => {
                index.insert(&counter.key, merged.len());
                merged.push(counter.clone());
            }
        }
    }
    merged
}

impl DynamoStore {
    /// `ADD` of every field (named through placeholders: fields like `tool.Bash` hold dots), keeping the
    /// listing attributes set.
    fn counter_write(&self, counter: &CounterAdd) -> Result<TransactWriteItem, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(counter_item_key(&counter.key)))
            .update_expression(counter_update(counter.adds.len()))
            .expression_attribute_values(":fam", string(&counter.family))
            .expression_attribute_values(":key", string(&counter.key))
            .expression_attribute_values(":t", string(item_type::SPEND_COUNTER));
        for (i, (field, amount)) in counter.adds.iter().enumerate() {
            update = update
                .expression_attribute_names(format!("#f{i}"), format!("{FIELD_PREFIX}{field}"))
                .expression_attribute_values(format!(":v{i}"), number(*amount));
        }
        let update = update.build().map_err(|e| invalid_request(&e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Every item of `keys` (deduplicated), following `UnprocessedKeys`, in as few `BatchGetItem` calls as
    /// the 100-key limit allows (one for the admission step's nine keys).
    async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut seen = HashSet::new();
        let keys: Vec<Item> = keys
            .into_iter()
            .filter(|k| seen.insert(pk_of(k).map(str::to_owned)))
            .collect();
        let mut found = Vec::new();
        for chunk in keys.chunks(BATCH_GET_MAX) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| invalid_request(&e))?,
            );
            let mut attempt = 0;
            while let Some(request) = pending.take() {
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| unavailable("BatchGetItem", e))?;
                if let Some(mut responses) = output.responses {
                    found.extend(responses.remove(&self.table).unwrap_or_default());
                }
                pending = output
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .filter(|k| !k.keys().is_empty());
                if pending.is_some() {
                    attempt += 1;
                    if attempt > BATCH_RETRIES {
                        return Err(StoreError::Throttled(
                            "DynamoDB BatchGetItem kept leaving keys unprocessed".to_owned(),
                            None,
                        ));
                    }
                    tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
                }
            }
        }
        Ok(found)
    }
}

#[async_trait]
impl SpendStore for DynamoStore {
    async fn apply_spend(&self, delta: &SpendDelta) -> Result<bool, StoreError> {
        let counters = merged_counters(delta);
        if counters.len() + 1 > TRANSACT_MAX {
            // Never retried: the same delta would be refused again.
            return Err(StoreError::Corrupt(format!(
                "usage {} adds to {} counters; one transaction holds {} besides the applied marker",
                delta.request_id,
                counters.len(),
                TRANSACT_MAX - 1
            )));
        }
        let marker = Put::builder()
            .table_name(&self.table)
            .set_item(Some(applied_item(
                &delta.request_id,
                delta.marker_expires_at_s,
            )))
            .condition_expression(layout::IS_NEW)
            .build()
            .map_err(|e| invalid_request(&e))?;
        let mut transaction = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(marker).build());
        for counter in &counters {
            transaction = transaction.transact_items(self.counter_write(counter)?);
        }
        match transaction.send().await {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e, MARKER_WRITE) => Ok(false),
            Err(e) => Err(unavailable("TransactWriteItems", e)),
        }
    }

    async fn budget_inputs(
        &self,
        setting_keys: &[String],
        counter_keys: &[String],
    ) -> Result<(HashMap<String, String>, HashMap<String, Counter>), StoreError> {
        let keys: Vec<Item> = setting_keys
            .iter()
            .map(|k| layout::setting_item_key(k))
            .chain(counter_keys.iter().map(|k| counter_item_key(k)))
            .collect();
        let mut settings = HashMap::new();
        let mut counters = HashMap::new();
        for item in self.batch_get(keys).await? {
            match item.get(layout::ITEM_TYPE) {
                Some(AttributeValue::S(t)) if t == item_type::SETTING => {
                    let stored: SettingItem =
                        serde_dynamo::from_item(item).map_err(|e| corrupt("setting", &e))?;
                    let key = stored.key().to_owned();
                    settings.insert(key, stored.into_value().map_err(StoreError::from)?);
                }
                Some(AttributeValue::S(t)) if t == item_type::SPEND_COUNTER => {
                    let counter = into_counter(&item).map_err(StoreError::from)?;
                    counters.insert(counter.key.clone(), counter);
                }
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "budget read found an item of type {other:?}"
                    )));
                }
            }
        }
        Ok((settings, counters))
    }

    async fn counters_in(&self, family: &str) -> Result<Vec<Counter>, StoreError> {
        let mut counters = self
            .list_family(family)
            .await?
            .iter()
            .map(into_counter)
            .collect::<Result<Vec<_>, _>>()
            .map_err(StoreError::from)?;
        counters.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(counters)
    }
}
