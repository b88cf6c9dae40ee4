//! `PolicyStore`: the document is the `policies` row of the `settings` table (so it reads like any setting),
//! its changes rows of `policy_changes`. A replace reads the stored version and writes both rows in one
//! IMMEDIATE transaction, which holds the write lock from the read on, also against another process.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use sluice_core::store::{POLICIES_SETTING, PolicyChange, PolicyStore, StoreError};

use crate::convert;
use crate::error::to_store_error;
use crate::store::SqliteStore;

/// The document's `version` field; 0 when it has none.
fn version_of(document: &str) -> Result<u64, StoreError> {
    let value: serde_json::Value = serde_json::from_str(document)
        .map_err(|e| StoreError::Corrupt(format!("the policy document is not JSON: {e}")))?;
    match value.get("version") {
        None => Ok(0),
        Some(v) => v.as_u64().ok_or_else(|| {
            StoreError::Corrupt(format!("the policy document's version {v} is not a count"))
        }),
    }
}

fn stored_document(conn: &Connection) -> Result<Option<String>, StoreError> {
    conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([POLICIES_SETTING], |row| row.get(0))
                .optional()
        })
        .map_err(to_store_error)
}

fn change_from_row(row: &Row<'_>) -> rusqlite::Result<PolicyChange> {
    Ok(PolicyChange {
        id: row.get(0)?,
        at_ms: row.get(1)?,
        actor: row.get(2)?,
        from_version: convert::version(3, row.get(3)?)?,
        to_version: convert::version(4, row.get(4)?)?,
        diff: row.get(5)?,
    })
}

#[async_trait]
impl PolicyStore for SqliteStore {
    async fn policies(&self) -> Result<Option<(u64, String)>, StoreError> {
        self.call(|conn| {
            stored_document(conn)?
                .map(|document| Ok((version_of(&document)?, document)))
                .transpose()
        })
        .await
    }

    async fn replace_policies(
        &self,
        expected: u64,
        document: &str,
        change: &PolicyChange,
    ) -> Result<bool, StoreError> {
        let (document, change) = (document.to_owned(), change.clone());
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(to_store_error)?;
            let stored = stored_document(&tx)?.as_deref().map_or(Ok(0), version_of)?;
            if stored != expected {
                // Dropping the transaction rolls it back; nothing was written.
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![POLICIES_SETTING, document],
            )
            .map_err(to_store_error)?;
            tx.execute(
                "INSERT INTO policy_changes (id, at_ms, actor, from_version, to_version, diff)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    change.id,
                    change.at_ms,
                    change.actor,
                    convert::version_sql(change.from_version)?,
                    convert::version_sql(change.to_version)?,
                    change.diff,
                ],
            )
            .map_err(to_store_error)?;
            tx.commit().map_err(to_store_error)?;
            Ok(true)
        })
        .await
    }

    async fn policy_changes(&self, limit: usize) -> Result<Vec<PolicyChange>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.call(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, at_ms, actor, from_version, to_version, diff FROM policy_changes
                     ORDER BY at_ms DESC, id DESC LIMIT ?1",
                )
                .map_err(to_store_error)?;
            stmt.query_map([limit], change_from_row)
                .and_then(Iterator::collect)
                .map_err(to_store_error)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_the_documents_version_field_and_zero_without_one() {
        assert_eq!(
            version_of(r#"{"version": 4, "policies": []}"#).expect("json"),
            4
        );
        assert_eq!(version_of(r#"{"policies": []}"#).expect("json"), 0);
        assert!(matches!(
            version_of("not json"),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            version_of(r#"{"version": -1}"#),
            Err(StoreError::Corrupt(_))
        ));
    }
}
