//! Builders for domain values. Every id, hash and name is unique per call, so cases never collide even
//! when they share one store or one moto server.

use sluice_core::keys::hash_secret;
use sluice_core::store::VirtualKey;
use uuid::Uuid;

/// `<prefix>-<32 hex chars>`: valid as a DynamoDB table name and unique per call.
#[must_use]
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::new_v4().simple())
}

/// Current wall-clock time in Unix milliseconds.
#[must_use]
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// An active key with a fresh id and hash, created now, no owner and no rate limit.
#[must_use]
pub fn new_key(name: &str) -> VirtualKey {
    let secret = format!("sk-sluice-test{}", Uuid::new_v4().simple());
    VirtualKey {
        id: format!("key_{}", Uuid::new_v4().simple()),
        name: name.to_owned(),
        key_hash: hash_secret(&secret),
        prefix: secret.chars().take(14).collect(),
        created_at_ms: now_ms(),
        revoked_at_ms: None,
        user_id: None,
        team_id: None,
        rate_limit_rpm: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_keys_never_share_an_id_or_hash() {
        let (a, b) = (new_key("a"), new_key("b"));
        assert_ne!(a.id, b.id);
        assert_ne!(a.key_hash, b.key_hash);
        assert_eq!(a.key_hash.len(), 64);
        assert!(a.is_active());
    }
}
