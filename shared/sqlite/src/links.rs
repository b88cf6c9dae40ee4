//! `IdentityLinkStore` on the `identity_links` table: the primary key `(issuer, subject)` makes a second binding
//! of the same sign-in `AlreadyExists`.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};
use sluice_core::identity::IdentityLink;
use sluice_core::store::{IdentityLinkStore, StoreError};

use crate::error::to_store_error;
use crate::store::SqliteStore;

const COLUMNS: &str = "issuer, subject, user_id, linked_by, created_at_ms";

fn link_from_row(row: &Row<'_>) -> rusqlite::Result<IdentityLink> {
    Ok(IdentityLink {
        issuer: row.get(0)?,
        subject: row.get(1)?,
        user_id: row.get(2)?,
        linked_by: row.get(3)?,
        created_at_ms: row.get(4)?,
    })
}

#[async_trait]
impl IdentityLinkStore for SqliteStore {
    async fn create_link(&self, link: &IdentityLink) -> Result<(), StoreError> {
        let link = link.clone();
        self.call(move |conn| {
            conn.execute(
                &format!("INSERT INTO identity_links ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
                params![
                    link.issuer,
                    link.subject,
                    link.user_id,
                    link.linked_by,
                    link.created_at_ms
                ],
            )
            .map_err(to_store_error)?;
            Ok(())
        })
        .await
    }

    async fn link(&self, issuer: &str, subject: &str) -> Result<Option<IdentityLink>, StoreError> {
        let (issuer, subject) = (issuer.to_owned(), subject.to_owned());
        self.call(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM identity_links WHERE issuer = ?1 AND subject = ?2"
            ))
            .and_then(|mut stmt| {
                stmt.query_row(params![issuer, subject], link_from_row)
                    .optional()
            })
            .map_err(to_store_error)
        })
        .await
    }

    async fn links_of(&self, user_id: &str) -> Result<Vec<IdentityLink>, StoreError> {
        let user_id = user_id.to_owned();
        self.call(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM identity_links WHERE user_id = ?1 \
                     ORDER BY created_at_ms, issuer, subject"
                ))
                .map_err(to_store_error)?;
            stmt.query_map([user_id], link_from_row)
                .and_then(Iterator::collect)
                .map_err(to_store_error)
        })
        .await
    }

    async fn delete_link(&self, issuer: &str, subject: &str) -> Result<bool, StoreError> {
        let (issuer, subject) = (issuer.to_owned(), subject.to_owned());
        self.call(move |conn| {
            let deleted = conn
                .execute(
                    "DELETE FROM identity_links WHERE issuer = ?1 AND subject = ?2",
                    params![issuer, subject],
                )
                .map_err(to_store_error)?;
            Ok(deleted > 0)
        })
        .await
    }
}
