//! Session tokens Sluice issues after a sign-in: HS256 JWTs under a secret shared by every instance.
//!
//! Unlike CCAG's, the algorithm is pinned before the library sees the token, `typ` separates these from any
//! other HS256 token signed with the same secret, and the leeway is small.

use std::fmt;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use sluice_core::identity::User;

use super::error::TokenError;
use super::jwt;

/// `iss` of every session token.
pub const SESSION_ISSUER: &str = "sluice";
/// `typ` claim of every session token.
pub const SESSION_TYPE: &str = "session";
/// Clock skew tolerated between instances.
const LEEWAY_S: i64 = 30;

/// The claims of a session token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The user id.
    pub sub: String,
    pub email: String,
    pub role: String,
    /// Name of the identity provider the person signed in with.
    pub idp: String,
    pub iss: String,
    pub iat: i64,
    /// When it was issued, in Unix milliseconds: a sign-out ends the sessions issued before it, and a sign-in in
    /// the same second after it is not caught by that. Absent in tokens from before it existed (`iat` then counts,
    /// from the start of its second).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat_ms: Option<i64>,
    pub exp: i64,
    pub typ: String,
}

impl SessionClaims {
    /// When the token was issued, in Unix milliseconds.
    #[must_use]
    pub fn issued_at_ms(&self) -> i64 {
        self.iat_ms.unwrap_or_else(|| self.iat.saturating_mul(1000))
    }
}

/// Issues and verifies session tokens. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct SessionTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_s: i64,
}

impl fmt::Debug for SessionTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionTokens")
            .field("secret", &"*****")
            .field("ttl_s", &self.ttl_s)
            .finish()
    }
}

impl SessionTokens {
    /// `secret` should be at least 32 random bytes, shared by every instance.
    #[must_use]
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl_s: i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
        }
    }

    /// A token naming `user`, valid from `now_s` for the configured TTL.
    #[must_use]
    pub fn issue(&self, user: &User, now_s: i64) -> String {
        self.issue_at_ms(user, now_s.saturating_mul(1000))
    }

    /// A token naming `user`, issued at `now_ms` (Unix milliseconds), valid for the configured TTL.
    #[must_use]
    pub fn issue_at_ms(&self, user: &User, now_ms: i64) -> String {
        let now_s = now_ms.div_euclid(1000);
        let claims = SessionClaims {
            sub: user.id.clone(),
            email: user.email.clone(),
            role: user.role.as_str().to_owned(),
            idp: user.idp.clone(),
            iss: SESSION_ISSUER.to_owned(),
            iat: now_s,
            iat_ms: Some(now_ms),
            exp: now_s.saturating_add(self.ttl_s),
            typ: SESSION_TYPE.to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HMAC-signing a plain struct of strings and integers cannot fail")
    }

    /// The claims of a token this (or a sibling) instance issued, if it is still valid at `now_s`.
    ///
    /// # Errors
    /// Any header algorithm but HS256, a bad signature, missing claims, another `iss` or `typ`, expiry.
    pub fn verify(&self, token: &str, now_s: i64) -> Result<SessionClaims, TokenError> {
        self.verify_inner(token, now_s).inspect_err(|e| {
            tracing::debug!(reason = %e, "session token rejected");
        })
    }

    fn verify_inner(&self, token: &str, now_s: i64) -> Result<SessionClaims, TokenError> {
        let header = jwt::header(token)?;
        if header.alg != "HS256" {
            return Err(TokenError::UnsupportedAlgorithm(header.alg));
        }
        let claims = jwt::verify_signature(token, &self.decoding, Algorithm::HS256)?;
        if claims.get("iss").and_then(serde_json::Value::as_str) != Some(SESSION_ISSUER) {
            return Err(TokenError::WrongIssuer);
        }
        if claims.get("typ").and_then(serde_json::Value::as_str) != Some(SESSION_TYPE) {
            return Err(TokenError::WrongType);
        }
        jwt::check_times(&claims, now_s, LEEWAY_S)?;
        for name in ["sub", "email", "role", "idp"] {
            if !claims.get(name).is_some_and(serde_json::Value::is_string) {
                return Err(TokenError::MissingClaim(name));
            }
        }
        serde_json::from_value(claims).map_err(|_| TokenError::MissingClaim("iat"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_secret() {
        let s = SessionTokens::new(b"super-secret-value", Duration::from_secs(60));
        let shown = format!("{s:?}");
        assert!(shown.contains("*****"), "{shown}");
        assert!(!shown.contains("super-secret-value"), "{shown}");
        assert!(!shown.contains("115, 117"), "secret bytes leaked: {shown}");
    }
}
