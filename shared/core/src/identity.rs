//! People, teams and identity providers, and the rules that turn verified token claims into a Sluice identity.
//!
//! Pure: token signatures are verified in `sluice-http`; this module decides who a verified token names, whether its
//! email domain is allowed, and which role a newly provisioned person gets.

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A fresh identifier such as `usr_3f9a0c1d2e4b5a69`.
#[must_use]
pub fn new_id(prefix: &str) -> String {
    let bytes: [u8; 8] = rand::rng().random();
    format!("{prefix}_{}", hex::encode(bytes))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Member,
}

impl Role {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Some(Self::Admin),
            "member" => Some(Self::Member),
            _ => None,
        }
    }
}

/// A person. `email` is the identity string (the IdP claim chosen by `user_claim`, or the bootstrap admin's
/// username), stored lower-case and unique.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub team_id: Option<String>,
    pub active: bool,
    /// Name of the identity provider that first signed this person in (`local` for the bootstrap admin).
    pub idp: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub id: String,
    /// Unique.
    pub name: String,
    pub created_at_ms: i64,
}

/// An OIDC identity provider whose ID tokens Sluice accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityProvider {
    pub id: String,
    pub name: String,
    /// Exactly as the tokens' `iss`; unique.
    pub issuer: String,
    /// Expected `aud` (the OIDC client id).
    pub audience: String,
    /// Overrides discovery's `jwks_uri`.
    pub jwks_url: Option<String>,
    /// Which claim names the person: `auto` (email > preferred_username > upn > name > sub) or a claim name.
    pub user_claim: String,
    /// Allowed email domains (empty: any).
    pub allowed_domains: Vec<String>,
    pub auto_provision: bool,
    pub default_role: Role,
    pub enabled: bool,
    /// Space-separated scopes for the browser sign-in (`openid email profile` when unset).
    pub scopes: Option<String>,
    pub created_at_ms: i64,
}

/// A pending or completed browser sign-in of Claude Code's `apiKeyHelper` (state lives in the store so any
/// instance can answer the poll).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CliSession {
    /// The UUID the helper script generated.
    pub id: String,
    /// The nonce sent to the IdP; the returned ID token must carry it.
    pub nonce: String,
    pub created_at_ms: i64,
    /// The Sluice session token, once the sign-in completed.
    pub token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("the token names no user (no usable {0} claim)")]
    NoIdentity(String),
    #[error("the email domain of {0} is not allowed for this identity provider")]
    DomainNotAllowed(String),
}

/// The identity string a verified token names, by the IdP's `user_claim`, lower-cased.
///
/// # Errors
/// `NoIdentity` when the chosen claim (or, for `auto`, every candidate) is missing or empty.
pub fn identity_from_claims(claims: &Value, user_claim: &str) -> Result<String, IdentityError> {
    let pick = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let found = match user_claim.trim() {
        "" | "auto" => ["email", "preferred_username", "upn", "name", "sub"]
            .iter()
            .find_map(|c| pick(c)),
        explicit => pick(explicit),
    };
    found
        .map(str::to_ascii_lowercase)
        .ok_or_else(|| IdentityError::NoIdentity(user_claim.to_owned()))
}

/// Checks the token's email (or the identity, when it looks like an email) against the IdP's allowed domains.
///
/// # Errors
/// `DomainNotAllowed` when domains are configured and none matches.
pub fn check_domain(
    claims: &Value,
    identity: &str,
    allowed: &[String],
) -> Result<(), IdentityError> {
    if allowed.is_empty() {
        return Ok(());
    }
    let email = claims
        .get("email")
        .and_then(Value::as_str)
        .unwrap_or(identity)
        .to_ascii_lowercase();
    let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
    let ok = allowed.iter().any(|a| {
        a.trim()
            .trim_start_matches('@')
            .eq_ignore_ascii_case(domain)
    });
    if ok {
        Ok(())
    } else {
        Err(IdentityError::DomainNotAllowed(email))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn auto_identity_prefers_email_then_usernames_then_sub() {
        let c = json!({"sub": "s1", "name": "N", "upn": "U@corp", "preferred_username": "P", "email": "E@Corp.com"});
        assert_eq!(identity_from_claims(&c, "auto").expect("id"), "e@corp.com");
        let c = json!({"sub": "s1", "name": "N", "upn": "u@corp"});
        assert_eq!(identity_from_claims(&c, "").expect("id"), "u@corp");
        assert_eq!(
            identity_from_claims(&json!({"sub": "s1"}), "auto").expect("id"),
            "s1"
        );
        assert_eq!(
            identity_from_claims(&json!({"sub": "s1", "oid": "O"}), "oid").expect("id"),
            "o"
        );
        assert!(identity_from_claims(&json!({"sub": "s1"}), "email").is_err());
    }

    #[test]
    fn allowed_domains_match_case_insensitively_with_or_without_at() {
        let c = json!({"email": "a@Example.COM"});
        assert!(check_domain(&c, "a@example.com", &[]).is_ok());
        assert!(check_domain(&c, "a@example.com", &["@example.com".into()]).is_ok());
        assert!(check_domain(&c, "a@example.com", &["other.org".into()]).is_err());
        assert!(check_domain(&json!({}), "no-email", &["example.com".into()]).is_err());
    }
}
