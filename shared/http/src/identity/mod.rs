//! Token verification for Sluice sign-in: Sluice's own session tokens and OIDC ID tokens from configured IdPs.
//!
//! - `error`: `TokenError`, one variant per rejection reason.
//! - `jwt`: compact-JWS plumbing shared by both verifiers (splitting, header, unverified `iss`, time checks).
//! - `session`: `SessionTokens` — HS256 tokens Sluice issues and verifies itself.
//! - `fetch`: HTTPS-only fetching of discovery documents and JWKS with timeouts and a size cap; `Discovery`.
//! - `jwks`: turning a JWKS into verification keys, each pinned to exactly one algorithm (RS256 or ES256).
//! - `oidc`: `OidcVerifier` — per-issuer key cache with rate-limited refetch, and ID-token claim checks.
//!
//! Tokens are never logged; rejection reasons are logged at debug level.
mod error;
mod fetch;
mod jwks;
mod jwt;
mod oidc;
mod session;

pub use error::TokenError;
pub use fetch::{Discovery, http_client};
pub use jwt::peek_issuer;
pub use oidc::{OidcConfig, OidcVerifier, check_nonce};
pub use session::{
    GATEWAY_AUDIENCE, GATEWAY_TYPE, GatewayClaims, SESSION_ISSUER, SESSION_TYPE, SessionClaims,
    SessionTokens,
};
