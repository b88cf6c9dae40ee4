//! `SettingsStore` on the `settings` table (key → value).

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use sluice_core::store::{SettingsStore, StoreError};

use crate::error::to_store_error;
use crate::store::SqliteStore;

#[async_trait]
impl SettingsStore for SqliteStore {
    async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = key.to_owned();
        self.call(move |conn| {
            conn.prepare_cached("SELECT value FROM settings WHERE key = ?1")
                .and_then(|mut stmt| stmt.query_row([key], |row| row.get(0)).optional())
                .map_err(to_store_error)
        })
        .await
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map_err(to_store_error)?;
            Ok(())
        })
        .await
    }

    async fn put_setting_if_absent(&self, key: &str, value: &str) -> Result<String, StoreError> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.call(move |conn| {
            // One statement, so it is atomic also against another process on the same file: the no-op
            // update on conflict makes RETURNING yield the value already stored.
            conn.prepare_cached(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = settings.value
                 RETURNING value",
            )
            .and_then(|mut stmt| stmt.query_row(params![key, value], |row| row.get(0)))
            .map_err(to_store_error)
        })
        .await
    }
}
