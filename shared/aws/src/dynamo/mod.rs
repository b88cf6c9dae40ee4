//! DynamoDB adapter for the store ports, on Sluice's single table.
//!
//! - `layout`: the item families — key attributes, prefixes, `item_type` values, expressions. The only place
//!   that knows how items look; `docs/store-layout.md` describes it for people.
//! - `store`: `DynamoStore`, a client and a table name.
//! - `table`: `DynamoStore::create_table`, the table as the SAM template declares it (tests, local setup).
//! - `keys`: `KeyStore` on key items and their id pointers.
//! - `error`: SDK and serde_dynamo errors mapped to `StoreError`.
mod error;
mod keys;
pub mod layout;
mod store;
mod table;

pub use store::DynamoStore;
