//! The embedded store: SQLite (bundled, via rusqlite) implementing the `sluice-core` store ports, for
//! `sluice serve` and tests. Depends on `sluice-core` only; no AWS or HTTP crate.
//!
//! - `store`: `SqliteStore`, opening a database (file or memory) and running blocking calls off the runtime.
//! - `migrations`: the schema as an ordered list of steps, versioned with `PRAGMA user_version`.
//! - `keys`: `KeyStore` on the `keys` table.
//! - `error`: rusqlite errors mapped to `StoreError`.
mod error;
mod keys;
mod migrations;
mod store;

pub use migrations::SCHEMA_VERSION;
pub use store::SqliteStore;
