//! One-time setup tokens: `POST /admin/keys/{id}/setup-token` with the key's secret answers a token that, within
//! five minutes and once, makes `GET /auth/setup?token=…` return a script that configures Claude Code with that
//! key, so an administrator can hand a person one short-lived command instead of a long-lived secret.
//!
//! CCAG keeps these tokens with the raw key in one server's memory. Sluice keeps them in the store, where every
//! instance sees them, and never in a form that gives the key away: the item holds the SHA-256 of the token and
//! the key sealed (AES-256-GCM) under a key derived from the token itself. Reading the table is not enough; one
//! needs the token, which only its holder has. Taking the token deletes it in the same store call.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sluice_core::clock::Ids;
use sluice_core::error::ApiError;
use sluice_core::keys::hash_secret;
use sluice_core::store::SetupToken;

use crate::keys::visible_key;
use crate::roles::Person;
use crate::views::{self, Field, Text};
use crate::{Reply, Shared, base_url, now_ms, store_error};

/// How long a token can be used (CCAG: 5 minutes).
pub(super) const TTL_SECS: i64 = 300;
const PREFIX: &str = "st_";

/// A new token: `st_` and 32 random bytes in hex.
fn mint(ids: &dyn Ids) -> String {
    let mut bytes = [0_u8; 32];
    ids.fill(&mut bytes);
    format!("{PREFIX}{}", hex::encode(bytes))
}

/// The sealing key of a token: SHA-256 over a label and the token (the stored id is the plain SHA-256).
fn sealing_key(token: &str) -> Option<LessSafeKey> {
    let digest = Sha256::new()
        .chain_update(b"sluice setup token seal v1\0")
        .chain_update(token.as_bytes())
        .finalize();
    UnboundKey::new(&AES_256_GCM, &digest)
        .ok()
        .map(LessSafeKey::new)
}

/// Each sealing key seals exactly one message, so a fixed nonce never repeats under a key.
fn nonce() -> Nonce {
    Nonce::assume_unique_for_key([0; NONCE_LEN])
}

fn seal(token: &str, secret: &str) -> Option<String> {
    let key = sealing_key(token)?;
    let mut sealed = secret.as_bytes().to_vec();
    key.seal_in_place_append_tag(nonce(), Aad::empty(), &mut sealed)
        .ok()?;
    Some(STANDARD.encode(sealed))
}

fn open(token: &str, sealed: &str) -> Option<String> {
    let key = sealing_key(token)?;
    let mut bytes = STANDARD.decode(sealed).ok()?;
    let plain = key.open_in_place(nonce(), Aad::empty(), &mut bytes).ok()?;
    String::from_utf8(plain.to_vec()).ok()
}

/// `{"raw_key"}`: the key's secret, which proves the caller holds it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CreateBody {
    raw_key: Field<Text>,
}

/// The one-time link to hand over.
#[derive(Debug, Serialize)]
struct Created<'a> {
    token: &'a str,
    expires_in_secs: i64,
    key_id: &'a str,
    setup_url: &'a str,
    command: &'a str,
}

/// `POST /admin/keys/{id}/setup-token` `{"raw_key"}`: the key's owner or an administrator, for an active key,
/// proving the secret → `{"token","expires_in_secs","setup_url","command"}`.
pub(super) async fn create(
    State(state): State<Shared>,
    Person(caller): Person,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Reply {
    let key = visible_key(&state, &caller, &id).await?;
    let body: CreateBody = views::body(&body)?;
    let raw_key = body
        .raw_key
        .value()
        .ok_or_else(|| {
            ApiError::invalid("raw_key: required (the key's secret; Sluice stores only its hash)")
        })?
        .0;
    if hash_secret(&raw_key) != key.key_hash {
        return Err(ApiError::invalid(format!("raw_key: is not the secret of key {id}")).into());
    }
    if !key.is_active() {
        return Err(ApiError::invalid(format!("key {id} is revoked")).into());
    }
    let token = mint(state.ids.as_ref());
    let sealed_key =
        seal(&token, &raw_key).ok_or_else(|| ApiError::internal("cannot seal the setup token"))?;
    state
        .store
        .put_setup_token(&SetupToken {
            id: hash_secret(&token),
            key_id: key.id.clone(),
            sealed_key,
            expires_at_ms: now_ms() + TTL_SECS * 1000,
        })
        .await
        .map_err(|e| store_error(&e))?;
    let setup_url = format!("{}/auth/setup?token={token}", base_url(&state, &headers));
    let command = format!("bash <(curl -fsS '{setup_url}')");
    Ok(axum::Json(Created {
        token: &token,
        expires_in_secs: TTL_SECS,
        key_id: &key.id,
        setup_url: &setup_url,
        command: &command,
    })
    .into_response())
}

/// Why a presented token gives nothing.
pub(super) enum Refused {
    /// Unknown, already used or expired.
    Gone,
    /// The key was revoked or deleted since.
    KeyRevoked,
}

/// Takes the token (it cannot be used again) and opens the key it hands over, if that key still works.
pub(super) async fn redeem(
    state: &Shared,
    token: &str,
) -> Result<Result<String, Refused>, ApiError> {
    if !token.starts_with(PREFIX) {
        return Ok(Err(Refused::Gone));
    }
    let Some(stored) = state
        .store
        .take_setup_token(&hash_secret(token))
        .await
        .map_err(|e| store_error(&e))?
    else {
        return Ok(Err(Refused::Gone));
    };
    let secret = open(token, &stored.sealed_key)
        .ok_or_else(|| ApiError::internal("the setup token's key does not open"))?;
    let live = state
        .store
        .key_by_id(&stored.key_id)
        .await
        .map_err(|e| store_error(&e))?
        .is_some_and(|k| k.is_active() && k.key_hash == hash_secret(&secret));
    Ok(if live {
        Ok(secret)
    } else {
        Err(Refused::KeyRevoked)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    static IDS: sluice_core::clock::SequenceIds = sluice_core::clock::SequenceIds::new(5);

    #[test]
    fn a_sealed_key_opens_only_with_its_token() {
        let token = mint(&IDS);
        assert!(token.starts_with("st_") && token.len() == 3 + 64);
        let sealed = seal(&token, "sk-sluice-secret").expect("seal");
        assert!(!sealed.contains("secret"));
        assert_eq!(open(&token, &sealed).as_deref(), Some("sk-sluice-secret"));
        assert_eq!(open(&mint(&IDS), &sealed), None);
        let mut tampered = STANDARD.decode(&sealed).expect("b64");
        tampered[0] ^= 1;
        assert_eq!(open(&token, &STANDARD.encode(tampered)), None);
        assert_ne!(mint(&IDS), token);
    }
}
