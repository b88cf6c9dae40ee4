//! `DeviceSignInStore` on the `device_authorizations`, `token_families` and `refresh_tokens` tables. Every step
//! that must happen once (decide, poll, redeem, use) is one conditional `UPDATE` whose changed-row count (or
//! `RETURNING` row) says whether this call made it, so two callers, even in two processes, cannot both win.
//! Reads return expired rows too (callers check `expires_at_ms`); expired rows are deleted when a new
//! authorization or family is created, so the tables stay small.

use async_trait::async_trait;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use sluice_core::store::{
    DeviceAuthorization, DeviceSignInStore, DeviceState, RefreshToken, RefreshUse, StoreError,
    TokenFamily,
};

use crate::convert::now_ms;
use crate::error::to_store_error;
use crate::store::SqliteStore;

const DEVICE_COLUMNS: &str =
    "id, user_code, created_at_ms, expires_at_ms, state, user_id, last_poll_ms";
const FAMILY_COLUMNS: &str = "id, user_id, created_at_ms, expires_at_ms, revoked_at_ms";
const REFRESH_COLUMNS: &str = "id, family_id, user_id, created_at_ms, expires_at_ms, used_at_ms";

/// The `state` column's text for each state.
fn state_text(state: DeviceState) -> &'static str {
    match state {
        DeviceState::Pending => "pending",
        DeviceState::Approved => "approved",
        DeviceState::Denied => "denied",
        DeviceState::Redeemed => "redeemed",
    }
}

fn state(index: usize, text: &str) -> rusqlite::Result<DeviceState> {
    [
        DeviceState::Pending,
        DeviceState::Approved,
        DeviceState::Denied,
        DeviceState::Redeemed,
    ]
    .into_iter()
    .find(|s| state_text(*s) == text)
    .ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            index,
            Type::Text,
            format!("unknown device state {text:?}").into(),
        )
    })
}

fn device_from_row(row: &Row<'_>) -> rusqlite::Result<DeviceAuthorization> {
    Ok(DeviceAuthorization {
        id: row.get(0)?,
        user_code: row.get(1)?,
        created_at_ms: row.get(2)?,
        expires_at_ms: row.get(3)?,
        state: state(4, &row.get::<_, String>(4)?)?,
        user_id: row.get(5)?,
        last_poll_ms: row.get(6)?,
    })
}

fn family_from_row(row: &Row<'_>) -> rusqlite::Result<TokenFamily> {
    Ok(TokenFamily {
        id: row.get(0)?,
        user_id: row.get(1)?,
        created_at_ms: row.get(2)?,
        expires_at_ms: row.get(3)?,
        revoked_at_ms: row.get(4)?,
    })
}

fn refresh_from_row(row: &Row<'_>) -> rusqlite::Result<RefreshToken> {
    Ok(RefreshToken {
        id: row.get(0)?,
        family_id: row.get(1)?,
        user_id: row.get(2)?,
        created_at_ms: row.get(3)?,
        expires_at_ms: row.get(4)?,
        used_at_ms: row.get(5)?,
    })
}

/// The one row of `sql` (parameter `?1` = `key`), if any.
fn one<T>(
    conn: &Connection,
    sql: &str,
    key: &str,
    from_row: fn(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.query_row([key], from_row).optional())
        .map_err(to_store_error)
}

#[async_trait]
impl DeviceSignInStore for SqliteStore {
    async fn create_device(&self, device: &DeviceAuthorization) -> Result<(), StoreError> {
        let device = device.clone();
        self.call(move |conn| {
            // IMMEDIATE: the clean-up and the insert see the same rows even with another process writing.
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(to_store_error)?;
            // Also frees the user codes of expired authorizations, as DynamoDB's TTL eventually does.
            tx.execute(
                "DELETE FROM device_authorizations WHERE expires_at_ms <= ?1",
                [now_ms()],
            )
            .map_err(to_store_error)?;
            // The primary key and the UNIQUE user code refuse a taken one as AlreadyExists.
            tx.execute(
                "INSERT INTO device_authorizations
                     (id, user_code, created_at_ms, expires_at_ms, state, user_id, last_poll_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    device.id,
                    device.user_code,
                    device.created_at_ms,
                    device.expires_at_ms,
                    state_text(device.state),
                    device.user_id,
                    device.last_poll_ms,
                ],
            )
            .map_err(to_store_error)?;
            tx.commit().map_err(to_store_error)
        })
        .await
    }

    async fn device(&self, id: &str) -> Result<Option<DeviceAuthorization>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            one(
                conn,
                &format!("SELECT {DEVICE_COLUMNS} FROM device_authorizations WHERE id = ?1"),
                &id,
                device_from_row,
            )
        })
        .await
    }

    async fn device_by_user_code(
        &self,
        user_code: &str,
    ) -> Result<Option<DeviceAuthorization>, StoreError> {
        let user_code = user_code.to_owned();
        self.call(move |conn| {
            one(
                conn,
                &format!("SELECT {DEVICE_COLUMNS} FROM device_authorizations WHERE user_code = ?1"),
                &user_code,
                device_from_row,
            )
        })
        .await
    }

    async fn decide_device(&self, id: &str, approved_by: Option<&str>) -> Result<bool, StoreError> {
        let (id, approved_by) = (id.to_owned(), approved_by.map(str::to_owned));
        let decided = if approved_by.is_some() {
            DeviceState::Approved
        } else {
            DeviceState::Denied
        };
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE device_authorizations SET state = ?2, user_id = ?3
                     WHERE id = ?1 AND state = ?4",
                    params![
                        id,
                        state_text(decided),
                        approved_by,
                        state_text(DeviceState::Pending)
                    ],
                )
                .map_err(to_store_error)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn poll_device(
        &self,
        id: &str,
        now_ms: i64,
        interval_ms: i64,
    ) -> Result<bool, StoreError> {
        let id = id.to_owned();
        let threshold = now_ms.saturating_sub(interval_ms);
        self.call(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE device_authorizations SET last_poll_ms = ?2
                     WHERE id = ?1 AND (last_poll_ms IS NULL OR last_poll_ms <= ?3)",
                    params![id, now_ms, threshold],
                )
                .map_err(to_store_error)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn redeem_device(&self, id: &str) -> Result<Option<DeviceAuthorization>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            let redeemed = conn
                .prepare_cached(&format!(
                    "UPDATE device_authorizations SET state = ?2 WHERE id = ?1 AND state = ?3
                     RETURNING {DEVICE_COLUMNS}"
                ))
                .and_then(|mut stmt| {
                    stmt.query_row(
                        params![
                            id,
                            state_text(DeviceState::Redeemed),
                            state_text(DeviceState::Approved)
                        ],
                        device_from_row,
                    )
                    .optional()
                })
                .map_err(to_store_error)?;
            // RETURNING shows the row as updated; the contract hands it back as it was approved.
            Ok(redeemed.map(|device| DeviceAuthorization {
                state: DeviceState::Approved,
                ..device
            }))
        })
        .await
    }

    async fn create_family(&self, family: &TokenFamily) -> Result<(), StoreError> {
        let family = family.clone();
        self.call(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(to_store_error)?;
            // A family expires with its last refresh token, so both go once past their expiry.
            let now = now_ms();
            tx.execute("DELETE FROM token_families WHERE expires_at_ms <= ?1", [now])
                .map_err(to_store_error)?;
            tx.execute("DELETE FROM refresh_tokens WHERE expires_at_ms <= ?1", [now])
                .map_err(to_store_error)?;
            tx.execute(
                "INSERT INTO token_families (id, user_id, created_at_ms, expires_at_ms, revoked_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    family.id,
                    family.user_id,
                    family.created_at_ms,
                    family.expires_at_ms,
                    family.revoked_at_ms,
                ],
            )
            .map_err(to_store_error)?;
            tx.commit().map_err(to_store_error)
        })
        .await
    }

    async fn family(&self, id: &str) -> Result<Option<TokenFamily>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            one(
                conn,
                &format!("SELECT {FAMILY_COLUMNS} FROM token_families WHERE id = ?1"),
                &id,
                family_from_row,
            )
        })
        .await
    }

    async fn revoke_family(&self, id: &str, at_ms: i64) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            // COALESCE keeps the first revocation time; the row counts as found either way.
            let changed = conn
                .execute(
                    "UPDATE token_families SET revoked_at_ms = COALESCE(revoked_at_ms, ?2) WHERE id = ?1",
                    params![id, at_ms],
                )
                .map_err(to_store_error)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn put_refresh(&self, token: &RefreshToken) -> Result<(), StoreError> {
        let token = token.clone();
        self.call(move |conn| {
            // One transaction: a taken id (AlreadyExists) leaves the family's expiry as it was.
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(to_store_error)?;
            tx.execute(
                "INSERT INTO refresh_tokens (id, family_id, user_id, created_at_ms, expires_at_ms, used_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    token.id,
                    token.family_id,
                    token.user_id,
                    token.created_at_ms,
                    token.expires_at_ms,
                    token.used_at_ms,
                ],
            )
            .map_err(to_store_error)?;
            tx.execute(
                "UPDATE token_families SET expires_at_ms = ?2 WHERE id = ?1 AND expires_at_ms < ?2",
                params![token.family_id, token.expires_at_ms],
            )
            .map_err(to_store_error)?;
            tx.commit().map_err(to_store_error)
        })
        .await
    }

    async fn refresh_token(&self, id: &str) -> Result<Option<RefreshToken>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            one(
                conn,
                &format!("SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE id = ?1"),
                &id,
                refresh_from_row,
            )
        })
        .await
    }

    async fn use_refresh(&self, id: &str, at_ms: i64) -> Result<Option<RefreshUse>, StoreError> {
        let id = id.to_owned();
        self.call(move |conn| {
            let first = conn
                .prepare_cached(&format!(
                    "UPDATE refresh_tokens SET used_at_ms = ?2 WHERE id = ?1 AND used_at_ms IS NULL
                     RETURNING {REFRESH_COLUMNS}"
                ))
                .and_then(|mut stmt| {
                    stmt.query_row(params![id, at_ms], refresh_from_row)
                        .optional()
                })
                .map_err(to_store_error)?;
            if let Some(token) = first {
                return Ok(Some(RefreshUse::First(token)));
            }
            // Not updated: absent, or used before (a use is never undone, so this read cannot see it unused).
            let stored = one(
                conn,
                &format!("SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE id = ?1"),
                &id,
                refresh_from_row,
            )?;
            Ok(stored.map(RefreshUse::Replayed))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_text_is_serdes_name_and_reads_back() {
        for s in [
            DeviceState::Pending,
            DeviceState::Approved,
            DeviceState::Denied,
            DeviceState::Redeemed,
        ] {
            let serde_name = serde_json::to_value(s).expect("serialises");
            assert_eq!(serde_name, serde_json::Value::from(state_text(s)));
            assert_eq!(state(0, state_text(s)).expect("reads back"), s);
        }
        assert!(state(0, "expired").is_err());
    }

    fn device(id: &str, user_code: &str, expires_at_ms: i64) -> DeviceAuthorization {
        DeviceAuthorization {
            id: id.to_owned(),
            user_code: user_code.to_owned(),
            created_at_ms: 1,
            expires_at_ms,
            state: DeviceState::Pending,
            user_id: None,
            last_poll_ms: None,
        }
    }

    #[tokio::test]
    async fn an_expired_authorizations_user_code_is_freed_by_the_next_create() {
        let store = SqliteStore::open_in_memory().expect("store");
        let expired = device("a", "WDJB-MJHT", now_ms() - 1);
        store.create_device(&expired).await.expect("create expired");
        assert_eq!(
            store.device("a").await.expect("read"),
            Some(expired),
            "an expired row is still returned until something deletes it"
        );

        let live = device("b", "WDJB-MJHT", now_ms() + 600_000);
        store.create_device(&live).await.expect("the code is free");

        assert_eq!(store.device("a").await.expect("read"), None);
        assert_eq!(
            store.device_by_user_code("WDJB-MJHT").await.expect("read"),
            Some(live)
        );
        let err = store
            .create_device(&device("c", "WDJB-MJHT", now_ms() + 600_000))
            .await
            .expect_err("taken while live");
        assert!(matches!(err, StoreError::AlreadyExists(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_new_family_deletes_expired_families_and_refresh_tokens() {
        let store = SqliteStore::open_in_memory().expect("store");
        let family = |id: &str, expires_at_ms| TokenFamily {
            id: id.to_owned(),
            user_id: "u".to_owned(),
            created_at_ms: 1,
            expires_at_ms,
            revoked_at_ms: None,
        };
        store
            .create_family(&family("old", now_ms() - 1))
            .await
            .expect("old");
        store
            .put_refresh(&RefreshToken {
                id: "r".to_owned(),
                family_id: "old".to_owned(),
                user_id: "u".to_owned(),
                created_at_ms: 1,
                expires_at_ms: now_ms() - 2,
                used_at_ms: None,
            })
            .await
            .expect("token");

        store
            .create_family(&family("new", now_ms() + 600_000))
            .await
            .expect("new");

        assert_eq!(store.family("old").await.expect("read"), None);
        assert_eq!(store.refresh_token("r").await.expect("read"), None);
        assert!(store.family("new").await.expect("read").is_some());
    }
}
