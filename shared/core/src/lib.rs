//! Sluice's domain, pure: no AWS, Lambda or HTTP-server crate may be named here.
//!
//! - `store`: ports for persistence (`KeyStore`) and their error.
//! - `keys`: virtual key secrets, minting and hashing.
pub mod keys;
pub mod store;
