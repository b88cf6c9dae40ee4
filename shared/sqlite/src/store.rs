//! `SqliteStore`: one connection behind a mutex. SQLite calls block, so every call runs on tokio's
//! blocking pool and never on a runtime worker.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::Connection;
use sluice_core::store::StoreError;

use crate::error::to_store_error;
use crate::migrations::migrate;

/// How long a writer waits for another process's lock (e.g. `sluice keys create` while `sluice serve`
/// writes) before the call fails as `Unavailable`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The SQLite store; cheap to clone (clones share the connection).
#[derive(Clone, Debug)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and its parent folder, and migrates the schema.
    ///
    /// # Errors
    /// `Unavailable` if the file cannot be created or opened, `Corrupt` if it was written by a newer build.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::unavailable(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let conn = Connection::open(path).map_err(to_store_error)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(to_store_error)?;
        // WAL lets readers (the gateway authenticating) proceed while a writer commits; NORMAL
        // synchronous is durable across application crashes in WAL mode, and much cheaper than FULL.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(to_store_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(%mode, path = %path.display(), "sqlite did not switch to WAL");
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(to_store_error)?;
        Self::prepare(conn)
    }

    /// A private database that lives as long as this store (and its clones); for tests and trials.
    ///
    /// # Errors
    /// `Unavailable` if SQLite cannot allocate the database.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::prepare(Connection::open_in_memory().map_err(to_store_error)?)
    }

    fn prepare(mut conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(to_store_error)?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    pub(crate) async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave the connection half-written: SQLite rolls back
            // any open statement, so a poisoned lock is still safe to use.
            let mut guard = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::unavailable(format!("sqlite task failed: {e}")))?
    }
}
