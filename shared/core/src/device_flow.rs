//! Claude Code's own sign-in to Sluice: the OAuth 2.0 device authorization grant (RFC 8628) with rotating refresh
//! tokens, as Claude Code's "Cloud gateway" login speaks it.
//!
//! 1. `POST /oauth/device` (empty form body): a device code (256 random bits, only its SHA-256 stored) and a user code
//!    `XXXX-XXXX` from a 20-consonant alphabet (no vowels, so no words; no look-alike letters), valid 10 minutes.
//! 2. The person opens the verification page, signs in, sees the code and confirms (or refuses) it.
//! 3. The client polls `POST /oauth/token` every 5 s: `authorization_pending` until confirmed, `slow_down` when it
//!    polls faster, `access_denied` / `expired_token` to stop, then once the tokens: an access token (an HS256 JWT
//!    of Sluice's, `typ` `gateway`, carrying the person and the token family) and a refresh token.
//! 4. Refreshing exchanges a refresh token for a new pair; the old one is spent. A spent one presented again is a
//!    replay: the whole family is revoked (the thief's and the owner's tokens alike), and the answer is
//!    `invalid_grant`, which sends Claude Code back to `/login`.
//! 5. Revocation (RFC 7009, `/logout`) revokes the family of the token given.
//!
//! Everything is in the store (`DeviceSignInStore`), so any instance answers any step.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::clock::{Clock, Ids};
use crate::store::{
    DeviceAuthorization, DeviceSignInStore, DeviceState, RefreshToken, RefreshUse, StoreError,
    TokenFamily,
};

/// How long a device authorization may be confirmed and redeemed.
pub const DEVICE_EXPIRES_S: i64 = 600;
/// The polling interval the client is told, and held to.
pub const POLL_INTERVAL_S: i64 = 5;
/// How long a refresh token may be used (sliding: each refresh issues a new one).
pub const REFRESH_TTL_S: i64 = 30 * 24 * 3600;
/// The default lifetime of an access token.
pub const ACCESS_TTL_S: i64 = 3600;
/// The grant type of the device flow's token request.
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// 20 consonants without look-alikes: `XXXX-XXXX` carries about 34.6 bits.
const USER_CODE_ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// SHA-256 of a secret, lower-case hex: how device codes and refresh tokens are stored.
#[must_use]
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A fresh secret: `prefix` and 32 random bytes, base64url.
fn secret(ids: &dyn Ids, prefix: &str) -> String {
    use base64::Engine;
    let mut bytes = [0_u8; 32];
    ids.fill(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// A fresh user code, `XXXX-XXXX`.
#[must_use]
pub fn new_user_code(ids: &dyn Ids) -> String {
    let mut out = String::with_capacity(9);
    let mut drawn = 0;
    while drawn < 8 {
        // 240 = 12 × 20: drawing below it keeps every letter equally likely.
        let mut byte = [0_u8; 1];
        ids.fill(&mut byte);
        if byte[0] >= 240 {
            continue;
        }
        if drawn == 4 {
            out.push('-');
        }
        out.push(char::from(USER_CODE_ALPHABET[usize::from(byte[0] % 20)]));
        drawn += 1;
    }
    out
}

/// A user code as a person may type it (any case, spaces, with or without the dash), in its stored form; `None`
/// when it cannot be one.
#[must_use]
pub fn normalize_user_code(input: &str) -> Option<String> {
    let letters: String = input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if letters.len() != 8 || !letters.bytes().all(|b| USER_CODE_ALPHABET.contains(&b)) {
        return None;
    }
    Some(format!("{}-{}", &letters[..4], &letters[4..]))
}

/// The answer to `POST /oauth/device`.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceGrant {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: i64,
    pub interval: i64,
}

/// Starts a device authorization; `verification_uri` is the page people confirm codes on.
///
/// # Errors
/// The store could not write it.
pub async fn start(
    store: &dyn DeviceSignInStore,
    ids: &dyn Ids,
    clock: &dyn Clock,
    verification_uri: &str,
) -> Result<DeviceGrant, StoreError> {
    let now_ms = clock.now().timestamp_millis();
    let device_code = secret(ids, "sdc_");
    for _ in 0..5 {
        let user_code = new_user_code(ids);
        let device = DeviceAuthorization {
            id: hash(&device_code),
            user_code: user_code.clone(),
            created_at_ms: now_ms,
            expires_at_ms: now_ms + DEVICE_EXPIRES_S * 1000,
            state: DeviceState::Pending,
            user_id: None,
            last_poll_ms: None,
        };
        match store.create_device(&device).await {
            Ok(()) => {
                let complete =
                    url::Url::parse_with_params(verification_uri, [("user_code", &user_code)])
                        .map_or_else(|_| verification_uri.to_owned(), String::from);
                return Ok(DeviceGrant {
                    device_code,
                    user_code,
                    verification_uri: verification_uri.to_owned(),
                    verification_uri_complete: complete,
                    expires_in: DEVICE_EXPIRES_S,
                    interval: POLL_INTERVAL_S,
                });
            }
            // A user code already taken (about one in 34 billion per live code): draw another.
            Err(StoreError::AlreadyExists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::unavailable("no free user code after 5 draws"))
}

/// An OAuth error answer: `{"error", "error_description"}` with its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{error}: {error_description}")]
pub struct OAuthError {
    #[serde(skip)]
    pub status: u16,
    pub error: &'static str,
    pub error_description: String,
}

impl OAuthError {
    fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            error_description: description.into(),
        }
    }

    /// `400 invalid_request`.
    #[must_use]
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", description)
    }

    /// `401 invalid_grant`: the refresh token (or device code) is no good; sign in again.
    #[must_use]
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(401, "invalid_grant", description)
    }

    /// `400 unsupported_grant_type`.
    #[must_use]
    pub fn unsupported_grant_type(grant: &str) -> Self {
        Self::new(
            400,
            "unsupported_grant_type",
            format!("grant_type {grant:?} is not supported"),
        )
    }
}

/// A failure of the token endpoint: an OAuth answer, or the store.
#[derive(Debug, thiserror::Error)]
pub enum TokenFailure {
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who the new tokens are for: the person, and the family they belong to, with the refresh token.
#[derive(Debug, Clone)]
pub struct Granted {
    pub user_id: String,
    pub family_id: String,
    pub refresh_token: String,
}

/// One poll of the device grant (`grant_type=urn:ietf:params:oauth:grant-type:device_code`).
///
/// # Errors
/// The RFC 8628 answers (`authorization_pending`, `slow_down`, `access_denied`, `expired_token`, `invalid_grant`)
/// or a store failure.
pub async fn poll(
    store: &dyn DeviceSignInStore,
    ids: &dyn Ids,
    clock: &dyn Clock,
    device_code: &str,
) -> Result<Granted, TokenFailure> {
    let now_ms = clock.now().timestamp_millis();
    let id = hash(device_code);
    let device = store
        .device(&id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("unknown device_code"))?;
    if now_ms >= device.expires_at_ms {
        return Err(OAuthError::new(
            400,
            "expired_token",
            "the sign-in expired; run /login again",
        )
        .into());
    }
    match device.state {
        DeviceState::Denied => {
            return Err(OAuthError::new(
                400,
                "access_denied",
                "the sign-in was refused in the browser",
            )
            .into());
        }
        DeviceState::Redeemed => {
            return Err(OAuthError::invalid_grant("this device_code was already used").into());
        }
        DeviceState::Pending | DeviceState::Approved => {}
    }
    // Held to the interval (a little slack for the client's own timer).
    if !store
        .poll_device(&id, now_ms, POLL_INTERVAL_S * 1000 - 500)
        .await?
    {
        return Err(OAuthError::new(400, "slow_down", "poll less often").into());
    }
    if device.state == DeviceState::Pending {
        return Err(
            OAuthError::new(400, "authorization_pending", "waiting for the browser").into(),
        );
    }
    let Some(redeemed) = store.redeem_device(&id).await? else {
        return Err(OAuthError::invalid_grant("this device_code was already used").into());
    };
    let user_id = redeemed
        .user_id
        .ok_or_else(|| StoreError::Corrupt(format!("device {id} approved without a person")))?;
    let (family_id, refresh_token) = new_family(store, ids, &user_id, now_ms).await?;
    Ok(Granted {
        user_id,
        family_id,
        refresh_token,
    })
}

async fn new_family(
    store: &dyn DeviceSignInStore,
    ids: &dyn Ids,
    user_id: &str,
    now_ms: i64,
) -> Result<(String, String), StoreError> {
    let family = TokenFamily {
        id: ids.new_id("fam"),
        user_id: user_id.to_owned(),
        created_at_ms: now_ms,
        expires_at_ms: now_ms + REFRESH_TTL_S * 1000,
        revoked_at_ms: None,
    };
    store.create_family(&family).await?;
    let refresh = issue_refresh(store, ids, &family.id, user_id, now_ms).await?;
    Ok((family.id, refresh))
}

async fn issue_refresh(
    store: &dyn DeviceSignInStore,
    ids: &dyn Ids,
    family_id: &str,
    user_id: &str,
    now_ms: i64,
) -> Result<String, StoreError> {
    let token = secret(ids, "srt_");
    store
        .put_refresh(&RefreshToken {
            id: hash(&token),
            family_id: family_id.to_owned(),
            user_id: user_id.to_owned(),
            created_at_ms: now_ms,
            expires_at_ms: now_ms + REFRESH_TTL_S * 1000,
            used_at_ms: None,
        })
        .await?;
    Ok(token)
}

/// A refresh (`grant_type=refresh_token`): the old token is spent, a new one of the same family returned. A spent
/// token presented again revokes its family. The caller checks the person is still allowed in (active) before
/// minting the access token.
///
/// # Errors
/// `invalid_grant` (unknown, expired, replayed, family revoked) or a store failure.
pub async fn refresh(
    store: &dyn DeviceSignInStore,
    ids: &dyn Ids,
    clock: &dyn Clock,
    refresh_token: &str,
) -> Result<Granted, TokenFailure> {
    let now_ms = clock.now().timestamp_millis();
    let id = hash(refresh_token);
    let used = store
        .use_refresh(&id, now_ms)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("unknown refresh_token; run /login again"))?;
    let token = match used {
        RefreshUse::First(token) => token,
        RefreshUse::Replayed(token) => {
            store.revoke_family(&token.family_id, now_ms).await?;
            tracing::warn!(family_id = %token.family_id, user_id = %token.user_id, "refresh token replayed; its family is revoked");
            return Err(OAuthError::invalid_grant(
                "this refresh_token was already used, so every token of this sign-in is revoked; run /login again",
            )
            .into());
        }
    };
    if now_ms >= token.expires_at_ms {
        return Err(
            OAuthError::invalid_grant("the refresh_token expired; run /login again").into(),
        );
    }
    let family = store.family(&token.family_id).await?.ok_or_else(|| {
        OAuthError::invalid_grant("this sign-in no longer exists; run /login again")
    })?;
    if family.revoked_at_ms.is_some() {
        return Err(
            OAuthError::invalid_grant("this sign-in was signed out; run /login again").into(),
        );
    }
    let refresh_token = issue_refresh(store, ids, &family.id, &token.user_id, now_ms).await?;
    Ok(Granted {
        user_id: token.user_id,
        family_id: family.id,
        refresh_token,
    })
}

/// The family a refresh token belongs to, for revocation; `None` for a token Sluice does not know.
///
/// # Errors
/// The store could not be read.
pub async fn family_of_refresh(
    store: &dyn DeviceSignInStore,
    refresh_token: &str,
) -> Result<Option<String>, StoreError> {
    Ok(store
        .refresh_token(&hash(refresh_token))
        .await?
        .map(|t| t.family_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SequenceIds;

    #[test]
    fn user_codes_use_the_alphabet_and_read_back_however_typed() {
        let ids = SequenceIds::new(7);
        for _ in 0..50 {
            let code = new_user_code(&ids);
            assert_eq!(code.len(), 9);
            assert_eq!(&code[4..5], "-");
            assert_eq!(normalize_user_code(&code).as_deref(), Some(code.as_str()));
            let typed = code.to_ascii_lowercase().replace('-', " ");
            assert_eq!(normalize_user_code(&typed).as_deref(), Some(code.as_str()));
        }
        assert_eq!(
            normalize_user_code("ABCD-EFGH"),
            None,
            "vowels are never in a code"
        );
        assert_eq!(normalize_user_code("BCDF-GHJ"), None);
        assert_eq!(normalize_user_code("BCDF-GHJKL"), None);
        assert_eq!(
            normalize_user_code("bcdfghjk").as_deref(),
            Some("BCDF-GHJK")
        );
    }

    #[test]
    fn secrets_are_long_and_stored_by_hash() {
        let ids = SequenceIds::new(7);
        let a = secret(&ids, "sdc_");
        let b = secret(&ids, "sdc_");
        assert_ne!(a, b);
        assert!(a.len() >= 4 + 43, "{a}");
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), a);
    }
}
