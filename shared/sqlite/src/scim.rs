//! `ScimStore` on the `scim` table: one row per (kind, id), the record's JSON in `data`.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use sluice_core::store::{ScimKind, ScimRecord, ScimStore, StoreError};

use crate::error::to_store_error;
use crate::store::SqliteStore;

fn record(kind: ScimKind, row: &rusqlite::Row<'_>) -> rusqlite::Result<ScimRecord> {
    Ok(ScimRecord {
        kind,
        id: row.get(0)?,
        idp_id: row.get(1)?,
        data: row.get(2)?,
    })
}

#[async_trait]
impl ScimStore for SqliteStore {
    async fn put_scim(&self, r: &ScimRecord) -> Result<(), StoreError> {
        let r = r.clone();
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO scim (kind, id, idp_id, data) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (kind, id) DO UPDATE SET idp_id = excluded.idp_id, data = excluded.data",
                params![r.kind.as_str(), r.id, r.idp_id, r.data],
            )
            .map_err(to_store_error)?;
            Ok(())
        })
        .await
    }

    async fn scim_record(
        &self,
        kind: ScimKind,
        id: &str,
    ) -> Result<Option<ScimRecord>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            conn.query_row(
                "SELECT id, idp_id, data FROM scim WHERE kind = ?1 AND id = ?2",
                params![kind.as_str(), id],
                |row| record(kind, row),
            )
            .optional()
            .map_err(to_store_error)
        })
        .await
    }

    async fn scim_records(
        &self,
        kind: ScimKind,
        idp_id: &str,
    ) -> Result<Vec<ScimRecord>, StoreError> {
        let idp_id = idp_id.to_owned();
        self.call(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, idp_id, data FROM scim WHERE kind = ?1 AND idp_id = ?2 ORDER BY id",
                )
                .map_err(to_store_error)?;
            stmt.query_map(params![kind.as_str(), idp_id], |row| record(kind, row))
                .and_then(Iterator::collect)
                .map_err(to_store_error)
        })
        .await
    }

    async fn delete_scim(&self, kind: ScimKind, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            let deleted = conn
                .execute(
                    "DELETE FROM scim WHERE kind = ?1 AND id = ?2",
                    params![kind.as_str(), id],
                )
                .map_err(to_store_error)?;
            Ok(deleted > 0)
        })
        .await
    }
}
