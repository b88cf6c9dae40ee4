//! `SpendStore` on SQLite: one row per counter field, and a marker row per applied usage record, written in
//! one transaction so a replayed record changes nothing.

use std::collections::HashMap;

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use sluice_core::spend::ledger::{Counter, SpendDelta};
use sluice_core::store::{SpendStore, StoreError};

use crate::error::to_store_error;
use crate::store::SqliteStore;

const MARK: &str =
    "INSERT INTO spend_applied (request_id, expires_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING";
const ADD: &str = "INSERT INTO spend_counters (key, field, family, value) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (key, field) DO UPDATE SET value = value + excluded.value";
const SETTING: &str = "SELECT value FROM settings WHERE key = ?1";
const COUNTER: &str = "SELECT family, field, value FROM spend_counters WHERE key = ?1";
const FAMILY: &str =
    "SELECT key, field, value FROM spend_counters WHERE family = ?1 ORDER BY key, field";

fn to_i64(value: u64) -> Result<i64, StoreError> {
    i64::try_from(value)
        .map_err(|_| StoreError::Corrupt(format!("counter value {value} too large")))
}

fn to_u64(value: i64) -> rusqlite::Result<u64> {
    u64::try_from(value).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(2, value))
}

#[async_trait]
impl SpendStore for SqliteStore {
    async fn apply_spend(&self, delta: &SpendDelta) -> Result<bool, StoreError> {
        let delta = delta.clone();
        self.call(move |conn| {
            let tx = conn.transaction().map_err(to_store_error)?;
            let marked = tx
                .prepare_cached(MARK)
                .and_then(|mut stmt| {
                    stmt.execute(params![delta.request_id, delta.marker_expires_at_s])
                })
                .map_err(to_store_error)?;
            if marked == 0 {
                return Ok(false);
            }
            {
                let mut add = tx.prepare_cached(ADD).map_err(to_store_error)?;
                for counter in &delta.counters {
                    for (field, amount) in &counter.adds {
                        add.execute(params![
                            counter.key,
                            field,
                            counter.family,
                            to_i64(*amount)?
                        ])
                        .map_err(to_store_error)?;
                    }
                }
            }
            tx.commit().map_err(to_store_error)?;
            Ok(true)
        })
        .await
    }

    async fn budget_inputs(
        &self,
        setting_keys: &[String],
        counter_keys: &[String],
    ) -> Result<(HashMap<String, String>, HashMap<String, Counter>), StoreError> {
        let (setting_keys, counter_keys) = (setting_keys.to_vec(), counter_keys.to_vec());
        self.call(move |conn| {
            let tx = conn.transaction().map_err(to_store_error)?;
            let mut settings = HashMap::new();
            for key in setting_keys {
                let value: Option<String> = tx
                    .prepare_cached(SETTING)
                    .and_then(|mut stmt| stmt.query_row(params![key], |row| row.get(0)).optional())
                    .map_err(to_store_error)?;
                if let Some(value) = value {
                    settings.insert(key, value);
                }
            }
            let mut counters = HashMap::new();
            for key in counter_keys {
                let rows: Vec<(String, String, u64)> = tx
                    .prepare_cached(COUNTER)
                    .and_then(|mut stmt| {
                        stmt.query_map(params![key], |row| {
                            Ok((row.get(0)?, row.get(1)?, to_u64(row.get(2)?)?))
                        })?
                        .collect()
                    })
                    .map_err(to_store_error)?;
                if rows.is_empty() {
                    continue;
                }
                let mut counter = Counter {
                    key: key.clone(),
                    ..Counter::default()
                };
                for (family, field, value) in rows {
                    counter.family = family;
                    counter.values.insert(field, value);
                }
                counters.insert(key, counter);
            }
            Ok((settings, counters))
        })
        .await
    }

    async fn counters_in(&self, family: &str) -> Result<Vec<Counter>, StoreError> {
        let family = family.to_owned();
        self.call(move |conn| {
            let rows: Vec<(String, String, u64)> = conn
                .prepare_cached(FAMILY)
                .and_then(|mut stmt| {
                    stmt.query_map(params![family], |row| {
                        Ok((row.get(0)?, row.get(1)?, to_u64(row.get(2)?)?))
                    })?
                    .collect()
                })
                .map_err(to_store_error)?;
            let mut out: Vec<Counter> = Vec::new();
            for (key, field, value) in rows {
                match out.last_mut() {
                    Some(last) if last.key == key => {
                        last.values.insert(field, value);
                    }
                    _ => {
                        let mut counter = Counter {
                            key,
                            family: family.clone(),
                            ..Counter::default()
                        };
                        counter.values.insert(field, value);
                        out.push(counter);
                    }
                }
            }
            Ok(out)
        })
        .await
    }
}
