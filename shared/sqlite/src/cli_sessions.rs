//! `CliSessionStore` on the `cli_sessions` table. A session past `expires_at_ms` reads as absent at once;
//! expired rows are deleted when a new session is created, so the table stays small.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params};
use sluice_core::identity::CliSession;
use sluice_core::store::{CliSessionStore, StoreError};

use crate::convert::now_ms;
use crate::error::to_store_error;
use crate::store::SqliteStore;

fn session_from_row(row: &Row<'_>) -> rusqlite::Result<CliSession> {
    Ok(CliSession {
        id: row.get(0)?,
        nonce: row.get(1)?,
        created_at_ms: row.get(2)?,
        token: row.get(3)?,
        code_challenge: row.get(4)?,
        redirect_port: row.get(5)?,
        code_hash: row.get(6)?,
    })
}

#[async_trait]
impl CliSessionStore for SqliteStore {
    async fn create_cli_session(
        &self,
        session: &CliSession,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        let session = session.clone();
        self.call(move |conn| {
            // IMMEDIATE: the clean-up and the insert see the same rows even with another process writing.
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(to_store_error)?;
            // Also frees the id of an expired session, as DynamoDB's TTL eventually does.
            tx.execute(
                "DELETE FROM cli_sessions WHERE expires_at_ms <= ?1",
                [now_ms()],
            )
            .map_err(to_store_error)?;
            tx.execute(
                "INSERT INTO cli_sessions (id, nonce, created_at_ms, token, expires_at_ms, code_challenge,
                                           redirect_port, code_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    session.id,
                    session.nonce,
                    session.created_at_ms,
                    session.token,
                    expires_at_ms,
                    session.code_challenge,
                    session.redirect_port,
                    session.code_hash,
                ],
            )
            .map_err(to_store_error)?;
            tx.commit().map_err(to_store_error)
        })
        .await
    }

    async fn cli_session(&self, id: &str) -> Result<Option<CliSession>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            conn.prepare_cached(
                "SELECT id, nonce, created_at_ms, token, code_challenge, redirect_port, code_hash
                 FROM cli_sessions
                 WHERE id = ?1 AND expires_at_ms > ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![id, now_ms()], session_from_row)
                    .optional()
            })
            .map_err(to_store_error)
        })
        .await
    }

    async fn complete_cli_session(
        &self,
        id: &str,
        token: &str,
        code_hash: &str,
    ) -> Result<bool, StoreError> {
        let (id, token, code_hash) = (id.to_owned(), token.to_owned(), code_hash.to_owned());
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE cli_sessions SET token = ?2, code_hash = ?4 WHERE id = ?1 AND expires_at_ms > ?3",
                    params![id, token, now_ms(), code_hash],
                )
                .map_err(to_store_error)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn delete_cli_session(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            conn.execute("DELETE FROM cli_sessions WHERE id = ?1", [id])
                .map_err(to_store_error)?;
            Ok(())
        })
        .await
    }
}
