//! `CounterStore` on the `counters` table: one UPSERT per increment, so the check against the bound and the
//! increment are one atomic statement, also against other processes on the same file.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use sluice_core::store::{CounterStore, StoreError};

use crate::convert::now_ms;
use crate::error::to_store_error;
use crate::store::SqliteStore;

/// A new row has count 1 and the conflict branch needs `cnt < bound`; no row comes back when refused.
const INCREMENT_BELOW: &str =
    "INSERT INTO counters (scope, window_start, cnt, expires_at) VALUES (?1, ?2, 1, ?3)
     ON CONFLICT (scope, window_start) DO UPDATE SET cnt = cnt + 1 WHERE cnt < ?4
     RETURNING cnt";

/// Windows of other scopes or times that expired; the window just created is kept whatever its expiry.
const DELETE_EXPIRED: &str =
    "DELETE FROM counters WHERE expires_at < ?1 AND NOT (scope = ?2 AND window_start = ?3)";

fn count_from_sql(cnt: i64) -> Result<u64, StoreError> {
    u64::try_from(cnt).map_err(|_| StoreError::Corrupt(format!("negative counter {cnt}")))
}

#[async_trait]
impl CounterStore for SqliteStore {
    async fn increment_below(
        &self,
        scope: &str,
        window_start_s: i64,
        bound: u64,
        expires_at_s: i64,
    ) -> Result<Option<u64>, StoreError> {
        if bound == 0 {
            return Ok(None);
        }
        // A bound past i64::MAX cannot be reached by an INTEGER column anyway.
        let bound = i64::try_from(bound).unwrap_or(i64::MAX);
        let scope = scope.to_owned();
        self.call(move |conn| {
            let cnt: Option<i64> = conn
                .prepare_cached(INCREMENT_BELOW)
                .and_then(|mut stmt| {
                    stmt.query_row(params![scope, window_start_s, expires_at_s, bound], |row| {
                        row.get(0)
                    })
                    .optional()
                })
                .map_err(to_store_error)?;
            if cnt == Some(1) {
                // A new window began: the moment to drop windows nobody reads any more, once per window
                // and scope rather than on every request.
                let removed = conn
                    .prepare_cached(DELETE_EXPIRED)
                    .and_then(|mut stmt| {
                        stmt.execute(params![now_ms() / 1000, scope, window_start_s])
                    })
                    .map_err(to_store_error)?;
                if removed > 0 {
                    tracing::debug!(removed, "deleted expired counter windows");
                }
            }
            cnt.map(count_from_sql).transpose()
        })
        .await
    }

    async fn window_count(&self, scope: &str, window_start_s: i64) -> Result<u64, StoreError> {
        let scope = scope.to_owned();
        self.call(move |conn| {
            let cnt: Option<i64> = conn
                .prepare_cached("SELECT cnt FROM counters WHERE scope = ?1 AND window_start = ?2")
                .and_then(|mut stmt| {
                    stmt.query_row(params![scope, window_start_s], |row| row.get(0))
                        .optional()
                })
                .map_err(to_store_error)?;
            count_from_sql(cnt.unwrap_or(0))
        })
        .await
    }
}
