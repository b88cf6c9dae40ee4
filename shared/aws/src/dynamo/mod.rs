//! DynamoDB adapter for the store ports, on Sluice's single table.
//!
//! - `layout`: the item families — key attributes, prefixes, `item_type` values, expressions. The only place
//!   that knows how items look; `docs/store-layout.md` describes it for people.
//! - `store`: `DynamoStore`, a client and a table name.
//! - `table`: `DynamoStore::create_table`, the table as the SAM template declares it (tests, local setup).
//! - `keys`: `KeyStore` on key items and their id pointers.
//! - `users`, `teams`, `idps`: `UserStore`, `TeamStore`, `IdpStore`, uniqueness by marker items in transactions.
//! - `settings`, `cli_sessions`: `SettingsStore`, `CliSessionStore` (expiry checked on read).
//! - `device_sign_in`: `DeviceSignInStore`, device authorizations (with a user code marker, put in one
//!   transaction), token families and refresh tokens; each once-only step one conditional `UpdateItem`.
//! - `scim`: `ScimStore`, JSON records by kind and id, listed per identity provider on `gsi1`.
//! - `setup_tokens`: `SetupTokenStore`, taken by one conditional `DeleteItem` returning the old item.
//! - `counters`: `CounterStore`, one conditional `UpdateItem` per increment.
//! - `usage`: `UsageStore`, conditional puts by request id and one `gsi1` Query per UTC day.
//! - `spend`: `SpendStore`, counters and the applied marker in one transaction, budget state in one batch read.
//! - `policies`: `PolicyStore`, the `policies` setting item replaced together with its change item in one
//!   conditional transaction; changes listed newest first by one Query.
//! - `events`: `EventStore`, events deduplicated by a conditional put, the delivery log; stream image decoders.
//! - `stream`: DynamoDB Streams records classified for the stream consumers (wanted item, other, poison).
//! - `ops`: request shapes shared by the ports (conditional puts, consistent gets, `gsi1` listings).
//! - `error`: SDK and serde_dynamo errors mapped to `StoreError`.
mod cli_sessions;
mod counters;
mod device_sign_in;
mod error;
mod events;
mod idps;
mod keys;
pub mod layout;
mod links;
mod ops;
mod policies;
mod scim;
mod settings;
mod setup_tokens;
mod spend;
mod store;
pub mod stream;
mod table;
mod teams;
mod usage;
mod users;

pub use events::{notify_event_from_item, usage_record_from_item};
pub use store::DynamoStore;
