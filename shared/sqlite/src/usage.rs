//! `UsageStore` on the `usage` table: the request id is the primary key, so a retried write is one
//! `INSERT ... ON CONFLICT DO NOTHING` whose change count says whether this call stored the record.

use async_trait::async_trait;
use rusqlite::types::Type;
use rusqlite::{OptionalExtension, params};
use sluice_core::spend::UsageRecord;
use sluice_core::store::{StoreError, UsageStore};

use crate::error::to_store_error;
use crate::store::SqliteStore;

const INSERT: &str = "INSERT INTO usage (request_id, time_ms, record) VALUES (?1, ?2, ?3)
     ON CONFLICT (request_id) DO NOTHING";
const BY_REQUEST: &str = "SELECT record FROM usage WHERE request_id = ?1";
/// Ties in time are ordered by request id, so the order is the same on every read.
const BETWEEN: &str = "SELECT record FROM usage WHERE time_ms >= ?1 AND time_ms < ?2
     ORDER BY time_ms, request_id";

/// The `record` column back into a record; a row that does not decode is corrupt.
fn record(index: usize, json: &str) -> rusqlite::Result<UsageRecord> {
    serde_json::from_str(json)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(e)))
}

#[async_trait]
impl UsageStore for SqliteStore {
    async fn put_usage(&self, usage: &UsageRecord) -> Result<bool, StoreError> {
        let json = serde_json::to_string(usage).map_err(|e| {
            StoreError::Corrupt(format!("cannot encode usage {}: {e}", usage.request_id))
        })?;
        let (request_id, time_ms) = (usage.request_id.clone(), usage.time_ms);
        self.call(move |conn| {
            let changed = conn
                .prepare_cached(INSERT)
                .and_then(|mut stmt| stmt.execute(params![request_id, time_ms, json]))
                .map_err(to_store_error)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn usage_by_request(&self, request_id: &str) -> Result<Option<UsageRecord>, StoreError> {
        let request_id = request_id.to_owned();
        self.call(move |conn| {
            conn.prepare_cached(BY_REQUEST)
                .and_then(|mut stmt| {
                    stmt.query_row(params![request_id], |row| {
                        record(0, &row.get::<_, String>(0)?)
                    })
                    .optional()
                })
                .map_err(to_store_error)
        })
        .await
    }

    async fn usage_between(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<UsageRecord>, StoreError> {
        self.call(move |conn| {
            conn.prepare_cached(BETWEEN)
                .and_then(|mut stmt| {
                    stmt.query_map(params![from_ms, to_ms], |row| {
                        record(0, &row.get::<_, String>(0)?)
                    })?
                    .collect()
                })
                .map_err(to_store_error)
        })
        .await
    }
}
