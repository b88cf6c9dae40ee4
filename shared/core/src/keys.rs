//! Virtual keys: generating and hashing secrets (shown once, stored only as hashes), and creating a key under
//! the per-person quota — the one implementation behind `POST /admin/keys` and `sluice keys create`.

use sha2::{Digest, Sha256};

use crate::clock::{Clock, Ids};
use crate::limits::max_keys_per_person;
use crate::store::{KeyStore, SettingsStore, StoreError, VirtualKey};

pub const KEY_PREFIX: &str = "sk-sluice-";
const SECRET_LEN: usize = 40;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A freshly minted key: the secret (to print once) and what the store keeps.
pub struct MintedKey {
    pub secret: String,
    pub id: String,
    pub key_hash: String,
    pub prefix: String,
}

/// A new key from `ids`' random bytes: 40 characters drawn uniformly from 62 (about 238 bits).
#[must_use]
pub fn mint(ids: &dyn Ids) -> MintedKey {
    let mut body = String::with_capacity(SECRET_LEN);
    // Bytes below 248 (4 × 62) map to the alphabet without bias; the rest are drawn again.
    let fair = u8::try_from(ALPHABET.len() * 4).unwrap_or(u8::MAX);
    let mut pool = [0_u8; 64];
    while body.len() < SECRET_LEN {
        ids.fill(&mut pool);
        body.extend(
            pool.iter()
                .filter(|b| **b < fair)
                .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
                .take(SECRET_LEN - body.len()),
        );
    }
    let secret = format!("{KEY_PREFIX}{body}");
    MintedKey {
        key_hash: hash_secret(&secret),
        prefix: secret.chars().take(KEY_PREFIX.len() + 4).collect(),
        id: ids.new_id("key"),
        secret,
    }
}

/// Lower-case hex SHA-256 of a secret, the only form in which keys are stored or looked up.
#[must_use]
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether a presented credential has the shape of a Sluice virtual key (cheap pre-check).
#[must_use]
pub fn looks_like_key(credential: &str) -> bool {
    credential.starts_with(KEY_PREFIX) && credential.len() > KEY_PREFIX.len()
}

/// What a new key is for; who may ask for it is the caller's decision (the admin API's roles, the CLI's store
/// access).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    pub name: String,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    /// Requests per minute; `None` (or 0, which no limit may be) for none of its own.
    pub rate_limit_rpm: Option<u32>,
}

/// Why a key was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateKeyError {
    /// The owner already has `active` unrevoked keys and the quota (`max_keys_per_person`) is `quota`.
    #[error("{active} active keys, the most one person may own (max_keys_per_person = {quota})")]
    QuotaReached { active: usize, quota: u32 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates a key: a person's keys are held to `max_keys_per_person` active keys whoever creates them, so the
/// quota bounds what one person's credentials can do. Returns the stored key and its secret (to show once).
///
/// # Errors
/// The quota is reached, or the store failed.
pub async fn create_key<S>(
    store: &S,
    ids: &dyn Ids,
    clock: &dyn Clock,
    new: NewKey,
) -> Result<(VirtualKey, String), CreateKeyError>
where
    S: KeyStore + SettingsStore + ?Sized,
{
    if let Some(owner) = &new.user_id {
        let quota = max_keys_per_person(store).await?;
        let active = store
            .list_keys()
            .await?
            .iter()
            .filter(|k| k.user_id.as_ref() == Some(owner) && k.revoked_at_ms.is_none())
            .count();
        if active >= usize::try_from(quota).unwrap_or(usize::MAX) {
            return Err(CreateKeyError::QuotaReached { active, quota });
        }
    }
    let minted = mint(ids);
    let key = VirtualKey {
        id: minted.id,
        name: new.name,
        key_hash: minted.key_hash,
        prefix: minted.prefix,
        created_at_ms: clock.now().timestamp_millis(),
        revoked_at_ms: None,
        user_id: new.user_id,
        team_id: new.team_id,
        rate_limit_rpm: new.rate_limit_rpm.filter(|r| *r > 0),
    };
    store.create_key(&key).await?;
    Ok((key, minted.secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_key_hash_matches_its_secret_and_never_contains_it() {
        let ids = crate::clock::SequenceIds::new(1);
        let k = mint(&ids);
        let body = &k.secret[KEY_PREFIX.len()..];
        assert_eq!(body.len(), SECRET_LEN);
        assert!(body.bytes().all(|b| ALPHABET.contains(&b)), "{body}");
        assert!(k.id.starts_with("key_") && k.id.len() == 20, "{}", k.id);
        assert!(looks_like_key(&k.secret));
        assert_eq!(k.key_hash, hash_secret(&k.secret));
        assert!(!k.key_hash.contains(&k.secret[KEY_PREFIX.len()..]));
        assert_eq!(k.key_hash.len(), 64);
        assert_ne!(mint(&ids).secret, k.secret);
    }
}
