//! The embedded store: SQLite (bundled, via rusqlite) implementing the `sluice-core` store ports, for
//! `sluice serve` and tests. Depends on `sluice-core` only; no AWS or HTTP crate.
//!
//! - `store`: `SqliteStore`, opening a database (file or memory) and running blocking calls off the runtime.
//! - `migrations`: the schema as an ordered list of steps, versioned with `PRAGMA user_version`.
//! - `keys`: `KeyStore` on the `keys` table.
//! - `users`, `teams`, `idps`: `UserStore`, `TeamStore`, `IdpStore` on their tables (uniqueness by UNIQUE columns).
//! - `settings`: `SettingsStore` on the `settings` table.
//! - `policies`: `PolicyStore`, the document as the `policies` setting and its changes in `policy_changes`,
//!   replaced in one transaction that checks the stored version.
//! - `cli_sessions`: `CliSessionStore`, expiry checked on read.
//! - `device_sign_in`: `DeviceSignInStore`, device authorizations, token families and refresh tokens, each
//!   once-only step one conditional `UPDATE`.
//! - `scim`: `ScimStore` on the `scim` table (JSON records by kind and id).
//! - `setup_tokens`: `SetupTokenStore`, taken with one `DELETE … RETURNING`.
//! - `counters`: `CounterStore`, one UPSERT per conditional increment.
//! - `usage`: `UsageStore` on the `usage` table (the record as JSON), idempotent by request id.
//! - `convert`: column conversions (roles, JSON lists) and the clock.
//! - `error`: rusqlite errors mapped to `StoreError`.
mod cli_sessions;
mod convert;
mod counters;
mod device_sign_in;
mod error;
mod events;
mod feed;
mod idps;
mod keys;
mod links;
mod migrations;
mod policies;
mod scim;
mod settings;
mod setup_tokens;
mod spend;
mod store;
mod teams;
mod usage;
mod users;

pub use feed::{Change, FeedKind};
pub use migrations::SCHEMA_VERSION;
pub use store::SqliteStore;
