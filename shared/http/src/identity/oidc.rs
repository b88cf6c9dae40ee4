//! `OidcVerifier`: ID tokens from configured IdPs, checked against keys cached per issuer.
//!
//! Caching: keys live for `jwks_ttl`. A token naming an unknown `kid` triggers one refetch (key rotation), but
//! at most one such refetch per issuer per `min_refetch_interval`, so forged `kid`s cannot make Sluice hammer
//! the IdP. A failed refresh keeps serving the previous keys; with none, failures are retried no more often
//! than `min_refetch_interval` either. Each issuer has its own async lock, so concurrent cold requests cause
//! one fetch, not many.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use sluice_core::identity::IdentityProvider;
use tokio::time::Instant;

use super::error::TokenError;
use super::fetch::{self, Discovery};
use super::jwks::{self, KeyAlg, VerifyKey};
use super::jwt;

/// Tunables of an `OidcVerifier`; `Default` is what production uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConfig {
    /// How long a fetched JWKS (and discovery document) is trusted.
    pub jwks_ttl: Duration,
    /// Minimum spacing of unknown-`kid` refetches, and of retries after a failed fetch, per issuer.
    pub min_refetch_interval: Duration,
    /// Clock skew tolerated on `exp`, `nbf`, `iat` (capped at 60 s).
    pub leeway: Duration,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            jwks_ttl: Duration::from_secs(3600),
            min_refetch_interval: Duration::from_secs(30),
            leeway: Duration::from_secs(60),
        }
    }
}

/// What is known about one issuer's keys.
#[derive(Default)]
struct IssuerKeys {
    /// The `jwks_url` override the keys were fetched under (`None`: via discovery); a change invalidates them.
    source: Option<Option<String>>,
    keys: Vec<VerifyKey>,
    fetched_at: Option<Instant>,
    /// Last refetch caused by an unknown `kid`.
    forced_at: Option<Instant>,
    /// Last failed fetch and why, to answer from memory while backing off.
    failed: Option<(Instant, TokenError)>,
}

/// Verifies ID tokens. Share one per process: the caches inside are synchronized.
pub struct OidcVerifier {
    http: reqwest::Client,
    config: OidcConfig,
    issuers: Mutex<HashMap<String, Arc<tokio::sync::Mutex<IssuerKeys>>>>,
    discoveries: Mutex<HashMap<String, (Discovery, Instant)>>,
}

impl std::fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl OidcVerifier {
    /// A verifier with production settings (1 h cache, 30 s refetch spacing, 60 s leeway).
    #[must_use]
    pub fn new(http: reqwest::Client) -> Self {
        Self::with_config(http, OidcConfig::default())
    }

    #[must_use]
    pub fn with_config(http: reqwest::Client, mut config: OidcConfig) -> Self {
        config.leeway = config.leeway.min(Duration::from_secs(60));
        Self {
            http,
            config,
            issuers: Mutex::new(HashMap::new()),
            discoveries: Mutex::new(HashMap::new()),
        }
    }

    /// Verifies an ID token against one configured IdP and returns its claims. Does not look at `enabled`
    /// or the nonce: see `check_nonce`.
    ///
    /// # Errors
    /// Any `TokenError`; `is_unavailable()` ones mean the IdP could not be consulted.
    pub async fn verify(
        &self,
        token: &str,
        idp: &IdentityProvider,
        now_s: i64,
    ) -> Result<Value, TokenError> {
        self.verify_inner(token, idp, now_s)
            .await
            .inspect_err(|e| tracing::debug!(idp = %idp.name, reason = %e, "ID token rejected"))
    }

    async fn verify_inner(
        &self,
        token: &str,
        idp: &IdentityProvider,
        now_s: i64,
    ) -> Result<Value, TokenError> {
        let header = jwt::header(token)?;
        // Judged before any key is looked up: `none`, HS256 (keyed with a public key) and the rest never
        // reach a verifier.
        let alg = KeyAlg::from_header(&header.alg)
            .ok_or_else(|| TokenError::UnsupportedAlgorithm(header.alg.clone()))?;
        let key = self.key_for(idp, header.kid.as_deref(), alg).await?;
        if key.alg != alg {
            return Err(TokenError::AlgorithmMismatch {
                header: header.alg,
                key: key.alg.name(),
            });
        }
        let claims = jwt::verify_signature(token, &key.key, key.alg.jwt())?;
        let leeway = i64::try_from(self.config.leeway.as_secs()).unwrap_or(60);
        check_claims(&claims, idp, now_s, leeway)?;
        Ok(claims)
    }

    /// The IdP's discovery document, cached for `jwks_ttl`.
    ///
    /// # Errors
    /// `InsecureUrl` for a plain-HTTP non-loopback issuer, `Discovery` when the fetch or document fails.
    pub async fn discovery(&self, issuer: &str) -> Result<Discovery, TokenError> {
        if let Some(doc) = self.cached_discovery(issuer) {
            return Ok(doc);
        }
        let doc = fetch::fetch_discovery(&self.http, issuer).await?;
        self.discoveries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(issuer.to_owned(), (doc.clone(), Instant::now()));
        Ok(doc)
    }

    /// Exchanges an authorization code at the provider's token endpoint (RFC 6749 §4.1.3 with the RFC 7636 verifier,
    /// as a public client) and returns the ID token it answers with, unverified: pass it to [`Self::verify`].
    ///
    /// # Errors
    /// `CodeRefused` when the provider refuses the code; `TokenEndpoint`, `Discovery` or `InsecureUrl` when it
    /// cannot be asked.
    pub async fn exchange_code(
        &self,
        idp: &IdentityProvider,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<String, TokenError> {
        let discovery = self.discovery(&idp.issuer).await?;
        let endpoint = discovery.token_endpoint.ok_or_else(|| {
            TokenError::Discovery("the discovery document names no token_endpoint".into())
        })?;
        let url = fetch::checked_url(&endpoint)?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", idp.audience.as_str()),
            ("code_verifier", verifier),
        ];
        let (status, answer) = fetch::post_form_json(&self.http, url, &form)
            .await
            .map_err(|e| TokenError::TokenEndpoint(e.to_string()))?;
        let text = |field: &str| answer.get(field).and_then(Value::as_str).map(str::to_owned);
        if !status.is_success() {
            let why = text("error").unwrap_or_else(|| format!("HTTP {status}"));
            return Err(if status.is_client_error() {
                TokenError::CodeRefused(why)
            } else {
                TokenError::TokenEndpoint(why)
            });
        }
        text("id_token").ok_or_else(|| {
            TokenError::TokenEndpoint(
                "the answer has no id_token (is `openid` in the scopes?)".into(),
            )
        })
    }

    fn cached_discovery(&self, issuer: &str) -> Option<Discovery> {
        let map = self
            .discoveries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(issuer)
            .filter(|(_, at)| at.elapsed() < self.config.jwks_ttl)
            .map(|(doc, _)| doc.clone())
    }

    fn issuer_state(&self, issuer: &str) -> Arc<tokio::sync::Mutex<IssuerKeys>> {
        self.issuers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(issuer.to_owned())
            .or_default()
            .clone()
    }

    async fn fetch_keys(&self, idp: &IdentityProvider) -> Result<Vec<VerifyKey>, TokenError> {
        let url = match idp.jwks_url.as_deref().filter(|u| !u.trim().is_empty()) {
            Some(url) => url.to_owned(),
            None => self.discovery(&idp.issuer).await?.jwks_uri,
        };
        let url = fetch::checked_url(&url)?;
        tracing::debug!(issuer = %idp.issuer, %url, "fetching JWKS");
        let doc = fetch::get_json(&self.http, url)
            .await
            .map_err(|e| TokenError::Jwks(e.to_string()))?;
        jwks::parse_jwks(&doc)
    }

    async fn key_for(
        &self,
        idp: &IdentityProvider,
        kid: Option<&str>,
        alg: KeyAlg,
    ) -> Result<VerifyKey, TokenError> {
        let state = self.issuer_state(&idp.issuer);
        let mut st = state.lock().await;
        let spacing = self.config.min_refetch_interval;
        let source = Some(idp.jwks_url.clone());
        let now = Instant::now();

        let same_source = st.source == source;
        let fresh = same_source
            && st
                .fetched_at
                .is_some_and(|at| now.duration_since(at) < self.config.jwks_ttl);
        let mut fetched_now = false;
        if !fresh {
            let usable_stale = same_source && !st.keys.is_empty();
            match &st.failed {
                Some((at, err)) if now.duration_since(*at) < spacing => {
                    if !usable_stale {
                        return Err(err.clone());
                    }
                }
                _ => match self.fetch_keys(idp).await {
                    Ok(keys) => {
                        *st = IssuerKeys {
                            source: source.clone(),
                            keys,
                            fetched_at: Some(now),
                            forced_at: st.forced_at.filter(|_| same_source),
                            failed: None,
                        };
                        fetched_now = true;
                    }
                    Err(err) => {
                        st.failed = Some((now, err.clone()));
                        if !usable_stale {
                            return Err(err);
                        }
                        tracing::warn!(issuer = %idp.issuer, reason = %err, "JWKS refresh failed; using cached keys");
                    }
                },
            }
        }

        if let Some(key) = jwks::find(&st.keys, kid, alg) {
            return Ok(key.clone());
        }
        let unknown = || TokenError::UnknownKey(kid.map(str::to_owned));
        if fetched_now {
            return Err(unknown());
        }
        if st
            .forced_at
            .is_some_and(|at| now.duration_since(at) < spacing)
        {
            tracing::debug!(issuer = %idp.issuer, "unknown kid; refetch suppressed (one per interval)");
            return Err(unknown());
        }
        st.forced_at = Some(now);
        match self.fetch_keys(idp).await {
            Ok(keys) => {
                st.keys = keys;
                st.fetched_at = Some(now);
                st.failed = None;
            }
            Err(err) => {
                tracing::warn!(issuer = %idp.issuer, reason = %err, "JWKS refetch for an unknown kid failed");
                st.failed = Some((now, err.clone()));
                return Err(err);
            }
        }
        jwks::find(&st.keys, kid, alg).cloned().ok_or_else(unknown)
    }
}

/// Issuer, audience, subject and times of a signature-checked ID token.
fn check_claims(
    claims: &Value,
    idp: &IdentityProvider,
    now_s: i64,
    leeway_s: i64,
) -> Result<(), TokenError> {
    match claims.get("iss").and_then(Value::as_str) {
        None => return Err(TokenError::MissingClaim("iss")),
        Some(iss) if iss != idp.issuer => return Err(TokenError::WrongIssuer),
        Some(_) => {}
    }
    let audience = idp.audience.as_str();
    let aud_ok = match claims.get("aud") {
        None => return Err(TokenError::MissingClaim("aud")),
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
        Some(_) => false,
    };
    // An empty configured audience matches nothing: fail closed rather than accept every client's tokens.
    if !aud_ok || audience.is_empty() {
        return Err(TokenError::WrongAudience);
    }
    // OIDC Core 3.1.3.7: when the authorized party is named it must be us.
    if claims
        .get("azp")
        .is_some_and(|azp| azp.as_str() != Some(audience))
    {
        return Err(TokenError::WrongAudience);
    }
    if claims
        .get("sub")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(TokenError::MissingClaim("sub"));
    }
    jwt::check_times(claims, now_s, leeway_s)
}

/// Checks that a verified ID token carries the nonce Sluice sent with the sign-in (replay protection CCAG
/// skipped).
///
/// # Errors
/// `MissingClaim("nonce")` or `NonceMismatch`.
pub fn check_nonce(claims: &Value, expected: &str) -> Result<(), TokenError> {
    let got = claims
        .get("nonce")
        .and_then(Value::as_str)
        .ok_or(TokenError::MissingClaim("nonce"))?;
    // Constant-time: the nonce is a secret of a sign-in still in flight.
    let same = got.len() == expected.len()
        && got
            .bytes()
            .zip(expected.bytes())
            .fold(0_u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if same && !expected.is_empty() {
        Ok(())
    } else {
        Err(TokenError::NonceMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sluice_core::identity::Role;

    fn idp() -> IdentityProvider {
        IdentityProvider {
            id: "i".into(),
            name: "Test".into(),
            issuer: "https://idp.example".into(),
            audience: "client-1".into(),
            jwks_url: None,
            user_claim: "auto".into(),
            emails_verified: false,
            allowed_domains: vec![],
            auto_provision: true,
            default_role: Role::Member,
            enabled: true,
            scopes: None,
            created_at_ms: 0,
            groups_claim: None,
        }
    }

    fn claims() -> Value {
        json!({"iss": "https://idp.example", "aud": "client-1", "sub": "s", "exp": 1000, "iat": 900})
    }

    #[test]
    fn claims_accept_a_string_or_listed_audience() {
        assert_eq!(check_claims(&claims(), &idp(), 950, 60), Ok(()));
        let mut c = claims();
        c["aud"] = json!(["other", "client-1"]);
        c["azp"] = json!("client-1");
        assert_eq!(check_claims(&c, &idp(), 950, 60), Ok(()));
    }

    #[test]
    fn claims_reject_other_audiences_azp_and_empty_configuration() {
        let mut c = claims();
        c["aud"] = json!(["other"]);
        assert_eq!(
            check_claims(&c, &idp(), 950, 60),
            Err(TokenError::WrongAudience)
        );
        let mut c = claims();
        c["azp"] = json!("someone-else");
        assert_eq!(
            check_claims(&c, &idp(), 950, 60),
            Err(TokenError::WrongAudience)
        );
        let mut i = idp();
        i.audience = String::new();
        let mut c = claims();
        c["aud"] = json!("");
        assert_eq!(
            check_claims(&c, &i, 950, 60),
            Err(TokenError::WrongAudience)
        );
    }

    #[test]
    fn claims_require_iss_aud_sub_exp() {
        for (name, err) in [
            ("iss", TokenError::MissingClaim("iss")),
            ("aud", TokenError::MissingClaim("aud")),
            ("sub", TokenError::MissingClaim("sub")),
            ("exp", TokenError::MissingClaim("exp")),
        ] {
            let mut c = claims();
            c.as_object_mut().map(|o| o.remove(name));
            assert_eq!(check_claims(&c, &idp(), 950, 60), Err(err), "{name}");
        }
        let mut c = claims();
        c["iss"] = json!("https://idp.example/");
        assert_eq!(
            check_claims(&c, &idp(), 950, 60),
            Err(TokenError::WrongIssuer)
        );
    }

    #[test]
    fn nonce_must_be_present_and_equal() {
        assert_eq!(check_nonce(&json!({"nonce": "n-1"}), "n-1"), Ok(()));
        assert_eq!(
            check_nonce(&json!({"nonce": "n-2"}), "n-1"),
            Err(TokenError::NonceMismatch)
        );
        assert_eq!(
            check_nonce(&json!({"nonce": "n-11"}), "n-1"),
            Err(TokenError::NonceMismatch)
        );
        assert_eq!(
            check_nonce(&json!({"nonce": ""}), ""),
            Err(TokenError::NonceMismatch)
        );
        assert_eq!(
            check_nonce(&json!({}), "n-1"),
            Err(TokenError::MissingClaim("nonce"))
        );
    }

    #[test]
    fn leeway_is_capped_at_sixty_seconds() {
        let v = OidcVerifier::with_config(
            reqwest::Client::new(),
            OidcConfig {
                leeway: Duration::from_secs(600),
                ..OidcConfig::default()
            },
        );
        assert_eq!(v.config.leeway, Duration::from_secs(60));
    }
}
