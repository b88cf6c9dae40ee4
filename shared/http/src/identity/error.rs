//! Why a token was refused. Messages never contain the token itself.

/// One variant per reason a token is refused (or could not be checked).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The header names an algorithm this verifier never accepts (`none`, `HS256` on OIDC, ...).
    #[error("token algorithm {0:?} is not accepted")]
    UnsupportedAlgorithm(String),
    /// The header's algorithm is acceptable in general but not the one the selected key is pinned to.
    #[error("token algorithm {header} does not match the key's {key}")]
    AlgorithmMismatch { header: String, key: &'static str },
    #[error("no signing key matches kid {0:?}")]
    UnknownKey(Option<String>),
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token issuer is not the expected one")]
    WrongIssuer,
    #[error("token audience does not include the expected one")]
    WrongAudience,
    /// A Sluice token whose `typ` is not `session`.
    #[error("token is not a session token")]
    WrongType,
    #[error("token lacks a valid {0} claim")]
    MissingClaim(&'static str),
    #[error("token nonce does not match the sign-in")]
    NonceMismatch,
    /// Discovery or JWKS would be fetched over plain HTTP from a non-loopback host (or the URL is unusable).
    #[error("refusing to fetch {0}: HTTPS is required")]
    InsecureUrl(String),
    #[error("OIDC discovery failed: {0}")]
    Discovery(String),
    #[error("JWKS fetch failed: {0}")]
    Jwks(String),
    /// The provider's token endpoint refused the authorization code (`invalid_grant`, a wrong verifier, ...).
    #[error("the identity provider refused the sign-in: {0}")]
    CodeRefused(String),
    /// The token endpoint could not be reached or answered something unusable.
    #[error("the identity provider's token endpoint failed: {0}")]
    TokenEndpoint(String),
}

impl TokenError {
    /// True when the token was not judged because the IdP could not be reached or is misconfigured; callers
    /// answer these with a 5xx rather than a 401.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::InsecureUrl(_) | Self::Discovery(_) | Self::Jwks(_) | Self::TokenEndpoint(_)
        )
    }
}
