//! `UserStore` on the `users` table; the UNIQUE email column makes a duplicate email `AlreadyExists`.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};
use sluice_core::identity::User;
use sluice_core::store::{StoreError, UserStore};

use crate::convert;
use crate::error::to_store_error;
use crate::store::SqliteStore;

const COLUMNS: &str = "id, email, role, team_id, active, idp, created_at_ms, groups";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        email: row.get(1)?,
        role: convert::role(2, &row.get::<_, String>(2)?)?,
        team_id: row.get(3)?,
        active: row.get(4)?,
        idp: row.get(5)?,
        created_at_ms: row.get(6)?,
        groups: convert::groups(7, &row.get::<_, String>(7)?)?,
    })
}

impl SqliteStore {
    async fn user_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<User>, StoreError> {
        let value = value.to_owned();
        self.call(move |conn| {
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE {column} = ?1"))
                .and_then(|mut stmt| stmt.query_row([value], user_from_row).optional())
                .map_err(to_store_error)
        })
        .await
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let user = user.clone();
        self.call(move |conn| {
            conn.execute(
                &format!("INSERT INTO users ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                params![
                    user.id,
                    user.email,
                    user.role.as_str(),
                    user.team_id,
                    user.active,
                    user.idp,
                    user.created_at_ms,
                    convert::groups_json(&user.groups),
                ],
            )
            .map_err(to_store_error)?;
            Ok(())
        })
        .await
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.user_where("id", id).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        self.user_where("email", email).await
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        self.call(|conn| {
            // Ties on the creation time are broken by id, the same order as DynamoDB's `gsi1sk`.
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM users ORDER BY created_at_ms, id"
                ))
                .map_err(to_store_error)?;
            stmt.query_map([], user_from_row)
                .and_then(Iterator::collect)
                .map_err(to_store_error)
        })
        .await
    }

    async fn update_user(&self, user: &User) -> Result<bool, StoreError> {
        let user = user.clone();
        self.call(move |conn| {
            // Only the mutable fields: id, email, idp and creation time stay as created.
            let changed = conn
                .execute(
                    "UPDATE users SET role = ?2, team_id = ?3, active = ?4, groups = ?5 WHERE id = ?1",
                    params![
                        user.id,
                        user.role.as_str(),
                        user.team_id,
                        user.active,
                        convert::groups_json(&user.groups),
                    ],
                )
                .map_err(to_store_error)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn delete_user(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            let deleted = conn
                .execute("DELETE FROM users WHERE id = ?1", [id])
                .map_err(to_store_error)?;
            Ok(deleted > 0)
        })
        .await
    }
}
