//! `IdpStore` on the `idps` table; the UNIQUE issuer column makes a duplicate issuer `AlreadyExists`.
//! Allowed domains are a JSON array in one TEXT column: they are only ever read and written whole.

use async_trait::async_trait;
use rusqlite::{Row, params};
use sluice_core::identity::IdentityProvider;
use sluice_core::store::{IdpStore, StoreError};

use crate::convert;
use crate::error::to_store_error;
use crate::store::SqliteStore;

const COLUMNS: &str = "id, name, issuer, audience, jwks_url, user_claim, allowed_domains, \
                       auto_provision, default_role, enabled, scopes, created_at_ms, emails_verified, \
                       groups_claim";

fn idp_from_row(row: &Row<'_>) -> rusqlite::Result<IdentityProvider> {
    Ok(IdentityProvider {
        id: row.get(0)?,
        name: row.get(1)?,
        issuer: row.get(2)?,
        audience: row.get(3)?,
        jwks_url: row.get(4)?,
        user_claim: row.get(5)?,
        allowed_domains: convert::string_list(6, &row.get::<_, String>(6)?)?,
        auto_provision: row.get(7)?,
        default_role: convert::role(8, &row.get::<_, String>(8)?)?,
        enabled: row.get(9)?,
        scopes: row.get(10)?,
        created_at_ms: row.get(11)?,
        emails_verified: row.get(12)?,
        groups_claim: row.get(13)?,
    })
}

/// Runs `sql` with the provider's fields bound as `?1..?14` in [`COLUMNS`] order.
fn execute_with(
    conn: &rusqlite::Connection,
    sql: &str,
    idp: &IdentityProvider,
) -> Result<usize, StoreError> {
    conn.execute(
        sql,
        params![
            idp.id,
            idp.name,
            idp.issuer,
            idp.audience,
            idp.jwks_url,
            idp.user_claim,
            convert::string_list_json(&idp.allowed_domains),
            idp.auto_provision,
            idp.default_role.as_str(),
            idp.enabled,
            idp.scopes,
            idp.created_at_ms,
            idp.emails_verified,
            idp.groups_claim,
        ],
    )
    .map_err(to_store_error)
}

#[async_trait]
impl IdpStore for SqliteStore {
    async fn create_idp(&self, idp: &IdentityProvider) -> Result<(), StoreError> {
        let idp = idp.clone();
        self.call(move |conn| {
            execute_with(
                conn,
                &format!(
                    "INSERT INTO idps ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
                ),
                &idp,
            )?;
            Ok(())
        })
        .await
    }

    async fn list_idps(&self) -> Result<Vec<IdentityProvider>, StoreError> {
        self.call(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM idps ORDER BY created_at_ms, id"
                ))
                .map_err(to_store_error)?;
            stmt.query_map([], idp_from_row)
                .and_then(Iterator::collect)
                .map_err(to_store_error)
        })
        .await
    }

    async fn update_idp(&self, idp: &IdentityProvider) -> Result<bool, StoreError> {
        let idp = idp.clone();
        self.call(move |conn| {
            let updated = execute_with(
                conn,
                "UPDATE idps SET name = ?2, issuer = ?3, audience = ?4, jwks_url = ?5, user_claim = ?6, \
                 allowed_domains = ?7, auto_provision = ?8, default_role = ?9, enabled = ?10, scopes = ?11, \
                 created_at_ms = ?12, emails_verified = ?13, groups_claim = ?14 WHERE id = ?1",
                &idp,
            )?;
            Ok(updated > 0)
        })
        .await
    }

    async fn delete_idp(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            let deleted = conn
                .execute("DELETE FROM idps WHERE id = ?1", [id])
                .map_err(to_store_error)?;
            Ok(deleted > 0)
        })
        .await
    }
}
