//! `SetupTokenStore` on the `setup_tokens` table. Taking a token is one `DELETE … RETURNING`, so two callers
//! cannot both get it; an expired token reads as absent, and expired rows go when a new token is stored.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use sluice_core::store::{SetupToken, SetupTokenStore, StoreError};

use crate::convert::now_ms;
use crate::error::to_store_error;
use crate::store::SqliteStore;

#[async_trait]
impl SetupTokenStore for SqliteStore {
    async fn put_setup_token(&self, token: &SetupToken) -> Result<(), StoreError> {
        let token = token.clone();
        self.call(move |conn| {
            let tx = conn.transaction().map_err(to_store_error)?;
            tx.execute(
                "DELETE FROM setup_tokens WHERE expires_at_ms <= ?1",
                [now_ms()],
            )
            .map_err(to_store_error)?;
            tx.execute(
                "INSERT INTO setup_tokens (id, key_id, sealed_key, expires_at_ms) VALUES (?1, ?2, ?3, ?4)",
                params![token.id, token.key_id, token.sealed_key, token.expires_at_ms],
            )
            .map_err(to_store_error)?;
            tx.commit().map_err(to_store_error)
        })
        .await
    }

    async fn take_setup_token(&self, id: &str) -> Result<Option<SetupToken>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            let taken = conn
                .query_row(
                    "DELETE FROM setup_tokens WHERE id = ?1 \
                     RETURNING id, key_id, sealed_key, expires_at_ms",
                    [id],
                    |row| {
                        Ok(SetupToken {
                            id: row.get(0)?,
                            key_id: row.get(1)?,
                            sealed_key: row.get(2)?,
                            expires_at_ms: row.get(3)?,
                        })
                    },
                )
                .optional()
                .map_err(to_store_error)?;
            Ok(taken.filter(|t| t.expires_at_ms > now_ms()))
        })
        .await
    }
}
