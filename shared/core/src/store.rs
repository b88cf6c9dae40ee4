//! Store ports: what the gateway and the CLI need from persistence, by capability.
//!
//! Both backends (`sluice-sqlite` locally, `sluice-aws::DynamoStore` on Lambda) implement these traits
//! and run the same contract suite (`sluice-testkit::contract`). No backend type appears here.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A virtual key as stored: never the secret itself, only its SHA-256 hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtualKey {
    /// Stable identifier used by admin commands (`key_<hex>`), not secret.
    pub id: String,
    pub name: String,
    /// Lower-case hex SHA-256 of the full secret (`sk-sluice-...`).
    pub key_hash: String,
    /// First characters of the secret, for people to recognise a key in lists (`sk-sluice-AbCd`).
    pub prefix: String,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    /// Unix milliseconds; `Some` means the key no longer authenticates.
    pub revoked_at_ms: Option<i64>,
    /// Owner and team, resolved at authentication time for spend attribution (later issues fill them).
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    /// Requests per minute; `None` or `0` means unlimited.
    pub rate_limit_rpm: Option<u32>,
}

impl VirtualKey {
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.revoked_at_ms.is_none()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or answered with a failure; the request may be retried.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A conditional write found an item that already exists.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// An item exists but cannot be decoded; never retried.
    #[error("corrupt item: {0}")]
    Corrupt(String),
}

/// Virtual keys: create, look up by hash (the hot path), list, revoke.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Creates the key; fails with `AlreadyExists` if the id or the hash is taken.
    async fn create_key(&self, key: &VirtualKey) -> Result<(), StoreError>;
    /// The key whose secret hashes to `key_hash`, revoked or not.
    async fn key_by_hash(&self, key_hash: &str) -> Result<Option<VirtualKey>, StoreError>;
    async fn key_by_id(&self, id: &str) -> Result<Option<VirtualKey>, StoreError>;
    /// All keys, newest first.
    async fn list_keys(&self) -> Result<Vec<VirtualKey>, StoreError>;
    /// Marks the key revoked at `at_ms`. Returns the updated key, or `None` if no key has this id.
    /// Revoking an already revoked key keeps its first revocation time.
    async fn revoke_key(&self, id: &str, at_ms: i64) -> Result<Option<VirtualKey>, StoreError>;
}
