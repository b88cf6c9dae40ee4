//! Virtual key secrets: generation and hashing. Secrets are shown once and stored only as hashes.

use rand::Rng;
use sha2::{Digest, Sha256};

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

#[must_use]
pub fn mint() -> MintedKey {
    let mut rng = rand::rng();
    let body: String = (0..SECRET_LEN)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    let secret = format!("{KEY_PREFIX}{body}");
    let id_bytes: [u8; 8] = rng.random();
    MintedKey {
        key_hash: hash_secret(&secret),
        prefix: secret.chars().take(KEY_PREFIX.len() + 4).collect(),
        id: format!("key_{}", hex::encode(id_bytes)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_key_hash_matches_its_secret_and_never_contains_it() {
        let k = mint();
        assert!(looks_like_key(&k.secret));
        assert_eq!(k.key_hash, hash_secret(&k.secret));
        assert!(!k.key_hash.contains(&k.secret[KEY_PREFIX.len()..]));
        assert_eq!(k.key_hash.len(), 64);
        assert_ne!(mint().secret, k.secret);
    }
}
