//! The store contract on `DynamoStore` against moto, plus what only DynamoDB has: the calls each
//! operation makes, the table's settings, and the raw items. One test binary, so one moto server.
//!
//! Needs `moto_server` (PyPI `moto[server]`): `PATH=$PWD/.venv/bin:$PATH cargo test -p sluice-aws`.
//!
//! - `support`: moto clients, a fresh table per store, a recorder of the requests a client sends.
//! - `contract`: every contract case, one test each, on a fresh table; and all in sequence on one table.
//! - `keys`: key calls, table settings, key items, unreachable endpoint.
//! - `identity`: calls and items of users, teams, IdPs, settings and CLI sessions.
//! - `device`: calls and items of device sign-in (TTL on every item, the user code marker).
//! - `counters`: the increment's single `UpdateItem`, counter items, exactness across two clients.
//! - `spend`: the spend transaction and batch read, counter, marker, event and delivery items, stream-image
//!   decoders.
mod contract;
mod counters;
mod device;
mod identity;
mod keys;
mod spend;
mod support;
