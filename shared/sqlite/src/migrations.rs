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
    // 2: identity (users, teams, identity providers), settings, CLI sign-in sessions and rate-limit
    // windows. Emails, team names and issuers are unique; listings read oldest first by index. Expiring
    // rows (sessions, windows) are indexed by expiry so the periodic clean-up does not scan.
    "CREATE TABLE users (
        id            TEXT    NOT NULL PRIMARY KEY,
        email         TEXT    NOT NULL UNIQUE,
        role          TEXT    NOT NULL,
        team_id       TEXT,
        active        INTEGER NOT NULL,
        idp           TEXT    NOT NULL,
        created_at_ms INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX users_by_created ON users (created_at_ms, id);
    CREATE TABLE teams (
        id            TEXT    NOT NULL PRIMARY KEY,
        name          TEXT    NOT NULL UNIQUE,
        created_at_ms INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX teams_by_created ON teams (created_at_ms, id);
    CREATE TABLE idps (
        id              TEXT    NOT NULL PRIMARY KEY,
        name            TEXT    NOT NULL,
        issuer          TEXT    NOT NULL UNIQUE,
        audience        TEXT    NOT NULL,
        jwks_url        TEXT,
        user_claim      TEXT    NOT NULL,
        allowed_domains TEXT    NOT NULL,
        auto_provision  INTEGER NOT NULL,
        default_role    TEXT    NOT NULL,
        enabled         INTEGER NOT NULL,
        scopes          TEXT,
        created_at_ms   INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX idps_by_created ON idps (created_at_ms, id);
    CREATE TABLE settings (
        key   TEXT NOT NULL PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;
    CREATE TABLE cli_sessions (
        id            TEXT    NOT NULL PRIMARY KEY,
        nonce         TEXT    NOT NULL,
        created_at_ms INTEGER NOT NULL,
        token         TEXT,
        expires_at_ms INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX cli_sessions_by_expiry ON cli_sessions (expires_at_ms);
    CREATE TABLE counters (
        scope        TEXT    NOT NULL,
        window_start INTEGER NOT NULL,
        cnt          INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL,
        PRIMARY KEY (scope, window_start)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX counters_by_expiry ON counters (expires_at);",
    // 3: the usage ledger, one row per request. The record is kept whole as JSON, so new record fields need
    // no step; only the columns queried by are real columns. The time index serves `usage_between`.
    "CREATE TABLE usage (
        request_id TEXT    NOT NULL PRIMARY KEY,
        time_ms    INTEGER NOT NULL,
        record     TEXT    NOT NULL
    ) STRICT;
    CREATE INDEX usage_by_time ON usage (time_ms, request_id);",
    // 4: spend counters and rollups (one row per counter field), the applied-record markers, notification
    // events and the delivery log, and the change feed: triggers append every new usage record and event
    // to `changes`, which `sluice serve` reads in order to run the spend and notify consumers in-process.
    "CREATE TABLE spend_counters (
        key    TEXT    NOT NULL,
        field  TEXT    NOT NULL,
        family TEXT    NOT NULL,
        value  INTEGER NOT NULL,
        PRIMARY KEY (key, field)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX spend_counters_by_family ON spend_counters (family, key);
    CREATE TABLE spend_applied (
        request_id TEXT    NOT NULL PRIMARY KEY,
        expires_at INTEGER NOT NULL
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE events (
        id            TEXT    NOT NULL PRIMARY KEY,
        created_at_ms INTEGER NOT NULL,
        event         TEXT    NOT NULL
    ) STRICT;
    CREATE INDEX events_by_time ON events (created_at_ms, id);
    CREATE TABLE deliveries (
        id       TEXT NOT NULL PRIMARY KEY,
        delivery TEXT NOT NULL
    ) STRICT;
    CREATE TABLE changes (
        seq  INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        ref  TEXT NOT NULL
    ) STRICT;
    CREATE TRIGGER usage_feed AFTER INSERT ON usage
        BEGIN INSERT INTO changes (kind, ref) VALUES ('usage', NEW.request_id); END;
    CREATE TRIGGER events_feed AFTER INSERT ON events
        BEGIN INSERT INTO changes (kind, ref) VALUES ('event', NEW.id); END;",
    // v5: one-time setup tokens.
    "CREATE TABLE setup_tokens (
        id            TEXT    NOT NULL PRIMARY KEY,
        key_id        TEXT    NOT NULL,
        sealed_key    TEXT    NOT NULL,
        expires_at_ms INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX setup_tokens_by_expiry ON setup_tokens (expires_at_ms);",
    // v6: SCIM provisioning state.
    "CREATE TABLE scim (
        kind   TEXT NOT NULL,
        id     TEXT NOT NULL,
        idp_id TEXT NOT NULL,
        data   TEXT NOT NULL,
        PRIMARY KEY (kind, id)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX scim_by_idp ON scim (kind, idp_id, id);",
    // v7: sign-in bindings. A person is matched by (issuer, subject), never by a display string; a person may
    // hold several (an administrator links them). Providers may vouch for their emails. The CLI sign-in hands
    // its token only to the loopback listener holding the PKCE verifier.
    "CREATE TABLE identity_links (
        issuer        TEXT    NOT NULL,
        subject       TEXT    NOT NULL,
        user_id       TEXT    NOT NULL,
        linked_by     TEXT    NOT NULL,
        created_at_ms INTEGER NOT NULL,
        PRIMARY KEY (issuer, subject)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX identity_links_by_user ON identity_links (user_id, created_at_ms);
    ALTER TABLE idps ADD COLUMN emails_verified INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE cli_sessions ADD COLUMN code_challenge TEXT NOT NULL DEFAULT '';
    ALTER TABLE cli_sessions ADD COLUMN redirect_port INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE cli_sessions ADD COLUMN code_hash TEXT;",
    // v8: policies. A person's groups as last reported (JSON, read and written whole), the provider's groups
    // claim, and the audit trail of the policy document (the document itself is the `policies` setting),
    // indexed for "newest first".
    "ALTER TABLE users ADD COLUMN groups TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE idps ADD COLUMN groups_claim TEXT;
    CREATE TABLE policy_changes (
        id           TEXT    NOT NULL PRIMARY KEY,
        at_ms        INTEGER NOT NULL,
        actor        TEXT    NOT NULL,
        from_version INTEGER NOT NULL,
        to_version   INTEGER NOT NULL,
        diff         TEXT    NOT NULL
    ) STRICT;
    CREATE INDEX policy_changes_by_time ON policy_changes (at_ms DESC, id DESC);",
    // v9: Claude Code's device sign-in (RFC 8628). Authorizations by the hash of their device code and, uniquely,
    // by user code; token families and their refresh tokens (by the hash of the token). No foreign key from a
    // token to its family: the family may be dropped once expired, and its tokens are then expired too. The
    // expiry indexes serve the clean-up of expired rows on create.
    "CREATE TABLE device_authorizations (
        id            TEXT    NOT NULL PRIMARY KEY,
        user_code     TEXT    NOT NULL UNIQUE,
        created_at_ms INTEGER NOT NULL,
        expires_at_ms INTEGER NOT NULL,
        state         TEXT    NOT NULL,
        user_id       TEXT,
        last_poll_ms  INTEGER
    ) STRICT;
    CREATE INDEX device_authorizations_by_expiry ON device_authorizations (expires_at_ms);
    CREATE TABLE token_families (
        id            TEXT    NOT NULL PRIMARY KEY,
        user_id       TEXT    NOT NULL,
        created_at_ms INTEGER NOT NULL,
        expires_at_ms INTEGER NOT NULL,
        revoked_at_ms INTEGER
    ) STRICT;
    CREATE INDEX token_families_by_expiry ON token_families (expires_at_ms);
    CREATE TABLE refresh_tokens (
        id            TEXT    NOT NULL PRIMARY KEY,
        family_id     TEXT    NOT NULL,
        user_id       TEXT    NOT NULL,
        created_at_ms INTEGER NOT NULL,
        expires_at_ms INTEGER NOT NULL,
        used_at_ms    INTEGER
    ) STRICT;
    CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at_ms);",
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
    fn version_1_database_keeps_its_keys_and_gains_the_identity_tables() {
        let mut conn = Connection::open_in_memory().expect("memory db");
        conn.execute_batch(MIGRATIONS[0]).expect("step 1");
        conn.pragma_update(None, "user_version", 1_i64)
            .expect("set version");
        conn.execute(
            "INSERT INTO keys (id, key_hash, name, prefix, created_at_ms) VALUES ('k', 'h', 'n', 'p', 1)",
            [],
        )
        .expect("insert a v1 key");

        migrate(&mut conn).expect("migrates from 1");

        assert_eq!(user_version(&conn), SCHEMA_VERSION);
        let name: String = conn
            .query_row("SELECT name FROM keys WHERE id = 'k'", [], |row| row.get(0))
            .expect("key kept");
        assert_eq!(name, "n");
        for table in [
            "users",
            "teams",
            "idps",
            "settings",
            "cli_sessions",
            "counters",
            "usage",
            "spend_counters",
            "events",
            "deliveries",
            "changes",
            "policy_changes",
            "device_authorizations",
            "token_families",
            "refresh_tokens",
        ] {
            let count: i64 = conn
                .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
                    row.get(0)
                })
                .unwrap_or_else(|e| panic!("table {table} missing: {e}"));
            assert_eq!(count, 0, "{table} starts empty");
        }
    }

    #[test]
    fn version_7_users_and_providers_gain_no_groups_and_no_groups_claim() {
        let mut conn = Connection::open_in_memory().expect("memory db");
        for step in &MIGRATIONS[..7] {
            conn.execute_batch(step).expect("steps 1 to 7");
        }
        conn.pragma_update(None, "user_version", 7_i64)
            .expect("set version");
        conn.execute_batch(
            "INSERT INTO users (id, email, role, active, idp, created_at_ms)
                 VALUES ('u', 'a@example.com', 'member', 1, 'local', 1);
             INSERT INTO idps (id, name, issuer, audience, user_claim, allowed_domains, auto_provision,
                               default_role, enabled, created_at_ms)
                 VALUES ('i', 'n', 'https://issuer', 'aud', 'auto', '[]', 0, 'member', 1, 1);",
        )
        .expect("insert v7 rows");

        migrate(&mut conn).expect("migrates from 7");

        let groups: String = conn
            .query_row("SELECT groups FROM users WHERE id = 'u'", [], |row| {
                row.get(0)
            })
            .expect("user kept");
        assert_eq!(groups, "{}");
        let claim: Option<String> = conn
            .query_row("SELECT groups_claim FROM idps WHERE id = 'i'", [], |row| {
                row.get(0)
            })
            .expect("provider kept");
        assert_eq!(claim, None);
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
