//! The schema, as an append-only list of steps. `PRAGMA user_version` records how many have run, so a
//! later issue adds a table by appending one step; existing steps are never edited once released.

use rusqlite::{Connection, TransactionBehavior};
use sluice_core::store::StoreError;

use crate::error::to_store_error;

/// Step `i` brings the database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: virtual keys. The hash is unique because authentication looks keys up by it; the index serves
    // "newest first" listing without a sort.
    "CREATE TABLE keys (
        id             TEXT    NOT NULL PRIMARY KEY,
        key_hash       TEXT    NOT NULL UNIQUE,
        name           TEXT    NOT NULL,
        prefix         TEXT    NOT NULL,
        created_at_ms  INTEGER NOT NULL,
        revoked_at_ms  INTEGER,
        user_id        TEXT,
        team_id        TEXT,
        rate_limit_rpm INTEGER
    ) STRICT;
    CREATE INDEX keys_by_created ON keys (created_at_ms DESC, id DESC);",
];

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// Brings the database up to `SCHEMA_VERSION`. An IMMEDIATE transaction takes the write lock first, so
/// two processes opening the same new file cannot both run a step.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(to_store_error)?;
    let current: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(to_store_error)?;
    let current = usize::try_from(current)
        .map_err(|_| StoreError::Corrupt(format!("negative schema version {current}")))?;
    if current > SCHEMA_VERSION {
        // A newer Sluice wrote this file; writing with an older schema in mind could lose data.
        return Err(StoreError::Corrupt(format!(
            "database schema version {current} is newer than this build's {SCHEMA_VERSION}; upgrade sluice"
        )));
    }
    for (version, step) in (1_i64..).zip(MIGRATIONS).skip(current) {
        tx.execute_batch(step).map_err(to_store_error)?;
        tx.pragma_update(None, "user_version", version)
            .map_err(to_store_error)?;
        tracing::info!(version, "sqlite schema migrated");
    }
    tx.commit().map_err(to_store_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_version(conn: &Connection) -> usize {
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .expect("user_version is readable");
        usize::try_from(v).expect("non-negative")
    }

    #[test]
    fn fresh_database_reaches_the_latest_version() {
        let mut conn = Connection::open_in_memory().expect("memory db");
        migrate(&mut conn).expect("migrates");
        assert_eq!(user_version(&conn), SCHEMA_VERSION);
    }

    #[test]
    fn migrating_twice_runs_no_step_again() {
        let mut conn = Connection::open_in_memory().expect("memory db");
        migrate(&mut conn).expect("first run");
        // A re-run of step 1 would fail with "table keys already exists".
        migrate(&mut conn).expect("second run is a no-op");
        assert_eq!(user_version(&conn), SCHEMA_VERSION);
    }

    #[test]
    fn database_from_a_newer_build_is_refused() {
        let mut conn = Connection::open_in_memory().expect("memory db");
        let newer = i64::try_from(SCHEMA_VERSION + 1).expect("small");
        conn.pragma_update(None, "user_version", newer)
            .expect("set version");
        let err = migrate(&mut conn).expect_err("must refuse");
        assert!(err.to_string().contains("newer"), "{err}");
    }
}
