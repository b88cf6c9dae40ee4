//! `TeamStore` on the `teams` table; the UNIQUE name column makes a duplicate name `AlreadyExists`.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};
use sluice_core::identity::Team;
use sluice_core::store::{StoreError, TeamStore};

use crate::error::to_store_error;
use crate::store::SqliteStore;

const COLUMNS: &str = "id, name, created_at_ms";

fn team_from_row(row: &Row<'_>) -> rusqlite::Result<Team> {
    Ok(Team {
        id: row.get(0)?,
        name: row.get(1)?,
        created_at_ms: row.get(2)?,
    })
}

#[async_trait]
impl TeamStore for SqliteStore {
    async fn create_team(&self, team: &Team) -> Result<(), StoreError> {
        let team = team.clone();
        self.call(move |conn| {
            conn.execute(
                &format!("INSERT INTO teams ({COLUMNS}) VALUES (?1, ?2, ?3)"),
                params![team.id, team.name, team.created_at_ms],
            )
            .map_err(to_store_error)?;
            Ok(())
        })
        .await
    }

    async fn team_by_id(&self, id: &str) -> Result<Option<Team>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM teams WHERE id = ?1"))
                .and_then(|mut stmt| stmt.query_row([id], team_from_row).optional())
                .map_err(to_store_error)
        })
        .await
    }

    async fn list_teams(&self) -> Result<Vec<Team>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM teams ORDER BY created_at_ms, id"
                ))
                .map_err(to_store_error)?;
            stmt.query_map([], team_from_row)
                .and_then(Iterator::collect)
                .map_err(to_store_error)
        })
        .await
    }

    async fn delete_team(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            let deleted = conn
                .execute("DELETE FROM teams WHERE id = ?1", [id])
                .map_err(to_store_error)?;
            Ok(deleted > 0)
        })
        .await
    }
}
