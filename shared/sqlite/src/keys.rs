//! `KeyStore` on the `keys` table.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};
use sluice_core::store::{KeyStore, KeyUpdate, StoreError, VirtualKey};

use crate::error::to_store_error;
use crate::store::SqliteStore;

const COLUMNS: &str =
    "id, name, key_hash, prefix, created_at_ms, revoked_at_ms, user_id, team_id, rate_limit_rpm";

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<VirtualKey> {
    Ok(VirtualKey {
        id: row.get(0)?,
        name: row.get(1)?,
        key_hash: row.get(2)?,
        prefix: row.get(3)?,
        created_at_ms: row.get(4)?,
        revoked_at_ms: row.get(5)?,
        user_id: row.get(6)?,
        team_id: row.get(7)?,
        rate_limit_rpm: row.get(8)?,
    })
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn create_key(&self, key: &VirtualKey) -> Result<(), StoreError> {
        let key = key.clone();
        self.call(move |conn| {
            conn.execute(
                &format!(
                    "INSERT INTO keys ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                ),
                params![
                    key.id,
                    key.name,
                    key.key_hash,
                    key.prefix,
                    key.created_at_ms,
                    key.revoked_at_ms,
                    key.user_id,
                    key.team_id,
                    key.rate_limit_rpm,
                ],
            )
            .map_err(to_store_error)?;
            Ok(())
        })
        .await
    }

    async fn key_by_hash(&self, key_hash: &str) -> Result<Option<VirtualKey>, StoreError> {
        let key_hash = key_hash.to_owned();
        self.call(move |conn| {
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM keys WHERE key_hash = ?1"))
                .and_then(|mut stmt| stmt.query_row([key_hash], key_from_row).optional())
                .map_err(to_store_error)
        })
        .await
    }

    async fn key_by_id(&self, id: &str) -> Result<Option<VirtualKey>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM keys WHERE id = ?1"))
                .and_then(|mut stmt| stmt.query_row([id], key_from_row).optional())
                .map_err(to_store_error)
        })
        .await
    }

    async fn list_keys(&self) -> Result<Vec<VirtualKey>, StoreError> {
        self.call(|conn| {
            // Ties on the creation time are broken by id, the same order as DynamoDB's `gsi1sk`.
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM keys ORDER BY created_at_ms DESC, id DESC"
                ))
                .map_err(to_store_error)?;
            stmt.query_map([], key_from_row)
                .and_then(Iterator::collect)
                .map_err(to_store_error)
        })
        .await
    }

    async fn revoke_key(&self, id: &str, at_ms: i64) -> Result<Option<VirtualKey>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            // COALESCE keeps the first revocation time: revoking twice must not move it.
            conn.prepare_cached(&format!(
                "UPDATE keys SET revoked_at_ms = COALESCE(revoked_at_ms, ?2) WHERE id = ?1 RETURNING {COLUMNS}"
            ))
            .and_then(|mut stmt| stmt.query_row(params![id, at_ms], key_from_row).optional())
            .map_err(to_store_error)
        })
        .await
    }

    async fn update_key(
        &self,
        id: &str,
        update: &KeyUpdate,
    ) -> Result<Option<VirtualKey>, StoreError> {
        let (id, update) = (id.to_owned(), update.clone());
        self.call(move |conn| {
            // Read and write in one immediate transaction, so a concurrent writer (the CLI on the same file)
            // cannot slip a change in between.
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(to_store_error)?;
            let current = tx
                .prepare_cached(&format!("SELECT {COLUMNS} FROM keys WHERE id = ?1"))
                .and_then(|mut stmt| stmt.query_row([&id], key_from_row).optional())
                .map_err(to_store_error)?;
            let Some(current) = current else {
                return Ok(None);
            };
            let next = update.apply(&current);
            tx.execute(
                "UPDATE keys SET name = ?2, user_id = ?3, team_id = ?4, rate_limit_rpm = ?5 WHERE id = ?1",
                params![id, next.name, next.user_id, next.team_id, next.rate_limit_rpm],
            )
            .map_err(to_store_error)?;
            tx.commit().map_err(to_store_error)?;
            Ok(Some(next))
        })
        .await
    }

    async fn delete_key(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            let deleted = conn
                .execute("DELETE FROM keys WHERE id = ?1", [id])
                .map_err(to_store_error)?;
            Ok(deleted > 0)
        })
        .await
    }
}
