//! Authentication of inference requests by virtual key (`x-api-key` or `Authorization: Bearer`).
//!
//! Lookups go by SHA-256 hash and are cached in the warm instance for a few seconds (`SLUICE_KEY_CACHE_SECS`), so
//! a burst of requests costs one store read; a revocation takes effect within that time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_core::keys::hash_secret;
use sluice_core::store::{KeyStore, VirtualKey};

/// Who is calling, resolved once per request for limits and spend attribution.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: String,
    pub key_name: String,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
}

/// The presented credential: `x-api-key` first, then a bearer token. Never logged.
#[must_use]
pub fn credential(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        && !v.is_empty()
    {
        return Some(v);
    }
    let auth = headers.get("authorization")?.to_str().ok()?.trim();
    let (scheme, token) = auth.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

#[derive(Debug)]
pub struct KeyCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Option<VirtualKey>)>>,
}

const KEY_CACHE_CAPACITY: usize = 10_000;

impl KeyCache {
    #[must_use]
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, hash: &str, now: Instant) -> Option<Option<VirtualKey>> {
        let map = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(hash)
            .filter(|(at, _)| now.duration_since(*at) < self.ttl)
            .map(|(_, k)| k.clone())
    }

    fn put(&self, hash: String, key: Option<VirtualKey>, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut map = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= KEY_CACHE_CAPACITY {
            let ttl = self.ttl;
            map.retain(|_, (at, _)| now.duration_since(*at) < ttl);
            if map.len() >= KEY_CACHE_CAPACITY {
                map.clear();
            }
        }
        map.insert(hash, (now, key));
    }
}

/// Resolves the caller of a request or answers with the Anthropic authentication error.
///
/// # Errors
/// 401 `authentication_error` for a missing, unknown or revoked key; 500 `api_error` if the store cannot answer.
pub async fn authenticate(
    store: &dyn KeyStore,
    cache: &KeyCache,
    headers: &HeaderMap,
) -> Result<Caller, ApiError> {
    let Some(secret) = credential(headers) else {
        return Err(ApiError::new(
            ApiErrorKind::Authentication,
            "x-api-key header is required (or Authorization: Bearer <key>)",
        ));
    };
    let hash = hash_secret(secret);
    let now = Instant::now();
    let key = match cache.get(&hash, now) {
        Some(k) => k,
        None => {
            let k = store.key_by_hash(&hash).await.map_err(|e| {
                tracing::error!(error = %e, "key lookup failed");
                ApiError::internal(
                    "Sluice could not verify the API key; the request can be retried",
                )
            })?;
            cache.put(hash, k.clone(), now);
            k
        }
    };
    match key {
        None => Err(ApiError::new(
            ApiErrorKind::Authentication,
            "invalid x-api-key",
        )),
        Some(k) if !k.is_active() => Err(ApiError::new(
            ApiErrorKind::Authentication,
            "This API key has been revoked",
        )),
        Some(k) => Ok(Caller {
            key_id: k.id,
            key_name: k.name,
            user_id: k.user_id,
            team_id: k.team_id,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn credential_prefers_x_api_key_then_bearer() {
        let mut h = HeaderMap::new();
        assert_eq!(credential(&h), None);
        h.insert(
            "authorization",
            HeaderValue::from_static("Bearer sk-sluice-b"),
        );
        assert_eq!(credential(&h), Some("sk-sluice-b"));
        h.insert("x-api-key", HeaderValue::from_static("sk-sluice-a"));
        assert_eq!(credential(&h), Some("sk-sluice-a"));
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Basic abc"));
        assert_eq!(credential(&h), None);
    }
}
