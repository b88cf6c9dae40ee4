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
/// `typ` claim of the access tokens Claude Code gets from its own sign-in (the device grant).
pub const GATEWAY_TYPE: &str = "gateway";
/// `aud` of those access tokens.
pub const GATEWAY_AUDIENCE: &str = "claude-code";
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

/// The claims of an access token from Claude Code's own sign-in: the person (`sub`, `email`, `name`, `groups`, which
/// Claude Code stamps on its telemetry) and the refresh-token family it belongs to (revoking the family ends it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayClaims {
    pub sub: String,
    pub email: String,
    pub name: String,
    #[serde(default)]
    pub groups: Vec<String>,
    /// The token family (`TokenFamily::id`).
    pub fam: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub iat_ms: i64,
    pub exp: i64,
    pub typ: String,
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

    /// An access token for Claude Code's own sign-in: `user` in token family `family_id`, issued at `now_ms`, valid for
    /// `ttl_s` seconds. Same key and algorithm as session tokens; `typ` `gateway` keeps the two apart.
    #[must_use]
    pub fn issue_gateway(&self, user: &User, family_id: &str, now_ms: i64, ttl_s: i64) -> String {
        let now_s = now_ms.div_euclid(1000);
        let mut groups: Vec<String> = user
            .groups
            .idp
            .iter()
            .chain(&user.groups.scim)
            .cloned()
            .collect();
        groups.sort();
        groups.dedup();
        let claims = GatewayClaims {
            sub: user.id.clone(),
            email: user.email.clone(),
            name: user.email.clone(),
            groups,
            fam: family_id.to_owned(),
            iss: SESSION_ISSUER.to_owned(),
            aud: GATEWAY_AUDIENCE.to_owned(),
            iat: now_s,
            iat_ms: now_ms,
            exp: now_s.saturating_add(ttl_s),
            typ: GATEWAY_TYPE.to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HMAC-signing a plain struct of strings and integers cannot fail")
    }

    /// The claims of an access token [`Self::issue_gateway`] made, if it is still valid at `now_s`.
    ///
    /// # Errors
    /// As [`Self::verify`], for `typ` `gateway`.
    pub fn verify_gateway(&self, token: &str, now_s: i64) -> Result<GatewayClaims, TokenError> {
        let claims =
            self.verified_claims(token, Some(now_s), GATEWAY_TYPE, &["sub", "email", "fam"])?;
        serde_json::from_value(claims).map_err(|_| TokenError::MissingClaim("iat"))
    }

    /// The token family of an access token of ours, expired or not (RFC 7009 revocation accepts expired tokens);
    /// the signature, issuer and type are still checked.
    #[must_use]
    pub fn gateway_family(&self, token: &str) -> Option<String> {
        let claims = self
            .verified_claims(token, None, GATEWAY_TYPE, &["sub", "fam"])
            .ok()?;
        claims
            .get("fam")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
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
        let claims = self.verified_claims(
            token,
            Some(now_s),
            SESSION_TYPE,
            &["sub", "email", "role", "idp"],
        )?;
        serde_json::from_value(claims).map_err(|_| TokenError::MissingClaim("iat"))
    }

    /// The claims of an HS256 token of ours of type `typ`, signature, issuer, type, times and `required` string
    /// claims checked.
    fn verified_claims(
        &self,
        token: &str,
        now_s: Option<i64>,
        typ: &str,
        required: &[&'static str],
    ) -> Result<serde_json::Value, TokenError> {
        let header = jwt::header(token)?;
        if header.alg != "HS256" {
            return Err(TokenError::UnsupportedAlgorithm(header.alg));
        }
        let claims = jwt::verify_signature(token, &self.decoding, Algorithm::HS256)?;
        if claims.get("iss").and_then(serde_json::Value::as_str) != Some(SESSION_ISSUER) {
            return Err(TokenError::WrongIssuer);
        }
        if claims.get("typ").and_then(serde_json::Value::as_str) != Some(typ) {
            return Err(TokenError::WrongType);
        }
        if let Some(now_s) = now_s {
            jwt::check_times(&claims, now_s, LEEWAY_S)?;
        }
        for name in required {
            if !claims.get(*name).is_some_and(serde_json::Value::is_string) {
                return Err(TokenError::MissingClaim(name));
            }
        }
        Ok(claims)
    }

    /// The `typ` claim of a token, unverified (which verifier to ask).
    #[must_use]
    pub fn peek_type(token: &str) -> Option<String> {
        jwt::peek_claim(token, "typ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_tokens_carry_the_person_and_family_and_are_not_sessions() {
        let tokens =
            SessionTokens::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(60));
        let mut user = sluice_core::identity::User {
            id: "usr_1".into(),
            email: "ada@example.com".into(),
            role: sluice_core::identity::Role::Member,
            team_id: None,
            active: true,
            idp: "local".into(),
            created_at_ms: 0,
            groups: sluice_core::identity::PersonGroups::default(),
        };
        user.groups.idp = vec!["eng".into()];
        user.groups.scim = vec!["Vendors".into(), "eng".into()];
        let now_ms = 1_800_000_000_000;
        let token = tokens.issue_gateway(&user, "fam_1", now_ms, 600);
        let claims = tokens.verify_gateway(&token, now_ms / 1000).expect("valid");
        assert_eq!(
            (claims.sub.as_str(), claims.fam.as_str()),
            ("usr_1", "fam_1")
        );
        assert_eq!(claims.groups, ["Vendors", "eng"]);
        assert_eq!(claims.aud, GATEWAY_AUDIENCE);
        assert_eq!(
            SessionTokens::peek_type(&token).as_deref(),
            Some(GATEWAY_TYPE)
        );
        assert!(matches!(
            tokens.verify(&token, now_ms / 1000),
            Err(TokenError::WrongType)
        ));
        let session = tokens.issue_at_ms(&user, now_ms);
        assert!(matches!(
            tokens.verify_gateway(&session, now_ms / 1000),
            Err(TokenError::WrongType)
        ));
        assert!(matches!(
            tokens.verify_gateway(&token, now_ms / 1000 + 700),
            Err(TokenError::Expired)
        ));
        // Revocation reads the family of an expired token too, but never of a forged or a session one.
        assert_eq!(tokens.gateway_family(&token).as_deref(), Some("fam_1"));
        assert_eq!(tokens.gateway_family(&session), None);
        let other =
            SessionTokens::new(b"another secret, another signer..", Duration::from_secs(60));
        assert_eq!(other.gateway_family(&token), None);
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let s = SessionTokens::new(b"super-secret-value", Duration::from_secs(60));
        let shown = format!("{s:?}");
        assert!(shown.contains("*****"), "{shown}");
        assert!(!shown.contains("super-secret-value"), "{shown}");
        assert!(!shown.contains("115, 117"), "secret bytes leaked: {shown}");
    }
}
