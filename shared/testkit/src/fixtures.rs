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

/// A person in a team, with a key of their own, all stored.
#[derive(Debug, Clone)]
pub struct Person {
    pub user: sluice_core::identity::User,
    pub team: sluice_core::identity::Team,
    pub key: VirtualKey,
    /// The key's secret, for `x-api-key`.
    pub secret: String,
}

/// Stores a fresh team, a member of it and a key owned by the member (`rpm` requests per minute, `None`:
/// unlimited).
///
/// # Panics
/// When the store refuses a write (a test fixture: the test cannot go on).
pub async fn person_in_team(store: &dyn sluice_core::store::Store, rpm: Option<u32>) -> Person {
    use sluice_core::identity::{PersonGroups, Role, Team, User};
    let id = Uuid::new_v4().simple().to_string();
    let team = Team {
        id: format!("team_{id}"),
        name: format!("team-{id}"),
        created_at_ms: now_ms(),
    };
    store.create_team(&team).await.expect("team stored");
    let user = User {
        id: format!("user_{id}"),
        email: format!("{id}@example.com"),
        role: Role::Member,
        team_id: Some(team.id.clone()),
        active: true,
        idp: "local".into(),
        created_at_ms: now_ms(),
        groups: PersonGroups::default(),
    };
    store.create_user(&user).await.expect("user stored");
    let secret = format!("sk-sluice-test{}", Uuid::new_v4().simple());
    let key = VirtualKey {
        key_hash: hash_secret(&secret),
        prefix: secret.chars().take(14).collect(),
        user_id: Some(user.id.clone()),
        team_id: Some(team.id.clone()),
        rate_limit_rpm: rpm,
        ..new_key("person")
    };
    store.create_key(&key).await.expect("key stored");
    Person {
        user,
        team,
        key,
        secret,
    }
}
