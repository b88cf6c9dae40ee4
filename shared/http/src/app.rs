//! State shared by the gateway and the admin/auth routers: the store, authentication, rate limits, sign-in settings,
//! the notifier factory.

use std::sync::Arc;
use std::time::Duration;

use sluice_adapters::{DestinationNotifiers, OsIds, SystemClock};
use sluice_core::clock::{Clock, Ids};
use sluice_core::identity::{IdentityProvider, Role};
use sluice_core::notify::{Backoff, NotifierFactory, RetryPolicy};
use sluice_core::store::{Store, StoreError};

use crate::auth::{AuthSettings, Authenticator};
use crate::identity::{OidcVerifier, SessionTokens};
use crate::prices::{PriceBook, REFRESH_EVERY};
use crate::ratelimit::RateLimiter;

/// A secret value: `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("*****")
    }
}

/// Sign-in configuration, from the environment (secrets resolved by the binary, e.g. from Secrets Manager).
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub admin_username: String,
    pub admin_password: Secret,
    /// `ADMIN_PASSWORD_ENABLE=true`: password login stays on even if the setting turned it off (break-glass).
    pub admin_password_force: bool,
    pub admin_users: Vec<String>,
    pub env_idp: Option<IdentityProvider>,
    /// `SLUICE_SESSION_SECRET`; when absent a secret is generated once and kept in the store.
    pub session_secret: Option<Secret>,
    /// `SLUICE_PUBLIC_URL`: the address of these sign-in routes as people reach them (redirects, helper script).
    pub public_url: Option<String>,
    /// `SLUICE_GATEWAY_URL`: where Claude Code sends inference (`ANTHROPIC_BASE_URL` in setup scripts), when the
    /// gateway has its own address (two Function URLs); defaults to the sign-in address.
    pub gateway_url: Option<String>,
    /// `SLUICE_TRUSTED_PROXY=cloudfront`: requests arrive through CloudFront, whose `CloudFront-Viewer-Address`
    /// header then names the client for login throttling. Only safe when the Function URL cannot be reached
    /// except through CloudFront (origin access control), since a direct caller could set the header.
    pub trust_cloudfront_viewer_address: bool,
    /// `SLUICE_ORIGIN_SECRET` (or the secret `SLUICE_ORIGIN_SECRET_ARN` names, read by the binary): the value
    /// CloudFront adds as `x-sluice-origin-verify` to every request it forwards. When set, the admin router answers
    /// nothing else (a direct call to the Function URL is refused) and takes the public host from the
    /// `x-forwarded-host` CloudFront's viewer-request function writes.
    pub origin_secret: Option<Secret>,
    /// Warm-instance cache time for keys and users.
    pub cache_ttl: Duration,
    /// The model names `SLUICE_MODEL_MAP` adds to the catalogue, so policies may name them.
    pub model_names: Vec<String>,
    /// Lifetime of the access tokens Claude Code's own sign-in gets (`SLUICE_GATEWAY_TOKEN_SECS`, 1 hour).
    pub gateway_token_ttl_s: i64,
}

pub const DEFAULT_ADMIN_PASSWORD: &str = "admin";

impl AuthConfig {
    /// Reads `ADMIN_USERNAME`, `ADMIN_PASSWORD`, `ADMIN_PASSWORD_ENABLE`, `ADMIN_USERS`, `OIDC_ISSUER`, `OIDC_AUDIENCE`,
    /// `OIDC_JWKS_URL`, `OIDC_NAME`, `OIDC_USER_CLAIM`, `OIDC_ALLOWED_DOMAINS`, `OIDC_SCOPES`, `OIDC_GROUPS_CLAIM`, `SLUICE_SESSION_SECRET`,
    /// `SLUICE_PUBLIC_URL`, `SLUICE_GATEWAY_URL`, `SLUICE_TRUSTED_PROXY`, `SLUICE_ORIGIN_SECRET` through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>, cache_ttl: Duration) -> Self {
        let non_empty = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let list = |k: &str| {
            non_empty(k)
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_ascii_lowercase())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        let env_idp = non_empty("OIDC_ISSUER").map(|issuer| IdentityProvider {
            id: "idp_env".into(),
            name: non_empty("OIDC_NAME").unwrap_or_else(|| idp_display_name(&issuer)),
            audience: non_empty("OIDC_AUDIENCE").unwrap_or_default(),
            jwks_url: non_empty("OIDC_JWKS_URL"),
            user_claim: non_empty("OIDC_USER_CLAIM").unwrap_or_else(|| "auto".into()),
            emails_verified: non_empty("OIDC_EMAILS_VERIFIED")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            allowed_domains: list("OIDC_ALLOWED_DOMAINS"),
            auto_provision: true,
            default_role: Role::Member,
            enabled: true,
            scopes: non_empty("OIDC_SCOPES"),
            groups_claim: non_empty("OIDC_GROUPS_CLAIM"),
            created_at_ms: 0,
            issuer,
        });
        Self {
            admin_username: non_empty("ADMIN_USERNAME")
                .unwrap_or_else(|| "admin".into())
                .to_ascii_lowercase(),
            admin_password: Secret(
                non_empty("ADMIN_PASSWORD").unwrap_or_else(|| DEFAULT_ADMIN_PASSWORD.into()),
            ),
            admin_password_force: non_empty("ADMIN_PASSWORD_ENABLE")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            admin_users: list("ADMIN_USERS"),
            env_idp,
            session_secret: non_empty("SLUICE_SESSION_SECRET").map(Secret),
            public_url: non_empty("SLUICE_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_owned()),
            gateway_url: non_empty("SLUICE_GATEWAY_URL")
                .map(|u| u.trim_end_matches('/').to_owned()),
            trust_cloudfront_viewer_address: non_empty("SLUICE_TRUSTED_PROXY")
                .is_some_and(|v| v.eq_ignore_ascii_case("cloudfront")),
            origin_secret: non_empty("SLUICE_ORIGIN_SECRET").map(Secret),
            cache_ttl,
            model_names: non_empty("SLUICE_MODEL_MAP")
                .and_then(|raw| crate::config::parse_model_map(&raw).ok())
                .map(|map| map.into_keys().collect())
                .unwrap_or_default(),
            gateway_token_ttl_s: non_empty("SLUICE_GATEWAY_TOKEN_SECS")
                .and_then(|v| v.parse::<i64>().ok())
                .filter(|s| (30..=86_400).contains(s))
                .unwrap_or(sluice_core::device_flow::ACCESS_TTL_S),
        }
    }
}

impl AuthConfig {
    /// From the process environment, with secrets resolved by the caller (e.g. from Secrets Manager) taking the
    /// place of their variables.
    #[must_use]
    #[expect(
        clippy::disallowed_methods,
        reason = "start-up configuration, called once from a binary's main"
    )]
    pub fn from_env_with_secrets(
        session_secret: Option<String>,
        admin_password: Option<String>,
        cache_ttl: Duration,
    ) -> Self {
        let mut config = Self::from_lookup(|k| std::env::var(k).ok(), cache_ttl);
        if let Some(secret) = session_secret.filter(|s| !s.is_empty()) {
            config.session_secret = Some(Secret(secret));
        }
        if let Some(password) = admin_password.filter(|p| !p.is_empty()) {
            config.admin_password = Secret(password);
        }
        config
    }
}

fn idp_display_name(issuer: &str) -> String {
    let lower = issuer.to_ascii_lowercase();
    if lower.contains("okta") {
        "Okta".into()
    } else if lower.contains("microsoftonline") {
        "Azure AD".into()
    } else if lower.contains("accounts.google") {
        "Google".into()
    } else {
        "SSO".into()
    }
}

pub const SETTING_SESSION_KEY: &str = "session_signing_key";
pub const SETTING_SESSION_TTL_HOURS: &str = "session_token_ttl_hours";
pub const SETTING_ADMIN_LOGIN_ENABLED: &str = "admin_login_enabled";

/// Shared by every router in a process (one per warm Lambda instance).
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub auth: Authenticator,
    pub limiter: RateLimiter,
    pub config: AuthConfig,
    /// Builds the notifier for a destination (the admin API's "test" step). Webhooks only unless the binary
    /// hands in the AWS-capable factory (`with_notifiers`).
    pub notifiers: Arc<dyn NotifierFactory>,
    /// Retries of the "test" step: shorter than the stream consumer's, since an admin waits for the answer.
    pub notify_test_retry: RetryPolicy,
    /// Model prices with the admin overrides: the gateway prices usage with it, the pricing routes update it.
    pub prices: Arc<PriceBook>,
    /// "Now" and waits for the core services the routes call (the system clock; tests may fix it).
    pub clock: Arc<dyn Clock>,
    /// Ids, key and webhook secrets, jitter (the system's random source).
    pub ids: Arc<dyn Ids>,
    /// Encodes and verifies web search results' `encrypted_content` (a key derived from the session secret, so
    /// every instance reads what another wrote).
    pub search_content: sluice_core::websearch::content::ContentCodec,
    /// Builds web search providers (`sluice_adapters::SearchProviders`, handed in by the binaries). Without it the
    /// gateway removes the `web_search_*` tool, as Bedrock cannot run it, and the provider test says so.
    pub search_providers: Option<Arc<dyn sluice_core::websearch::WebSearchProviders>>,
    /// Fetches pages for the `web_fetch_*` tool (`sluice_adapters::Fetcher`); without it the tool is removed.
    pub web_fetch: Option<Arc<dyn sluice_core::websearch::WebFetch>>,
}

/// Three attempts within about two seconds (plus the receiver's own time): enough to show that retries
/// happen and to ride out one hiccup, short enough for a person waiting on the test button.
pub const NOTIFY_TEST_RETRY: RetryPolicy = RetryPolicy {
    attempts: 3,
    backoff: Backoff {
        initial: Duration::from_millis(500),
        max: Duration::from_secs(2),
    },
};

impl AppState {
    /// Builds the state: resolves the session signing key (configured, or generated once and shared through the
    /// store so every instance signs alike), the session lifetime setting and the price overrides.
    ///
    /// # Errors
    /// When the store cannot be read or written.
    pub async fn build(store: Arc<dyn Store>, config: AuthConfig) -> Result<Self, StoreError> {
        let secret = match &config.session_secret {
            Some(s) => s.0.clone(),
            None => {
                let mut fresh = [0_u8; 32];
                OsIds.fill(&mut fresh);
                store
                    .put_setting_if_absent(SETTING_SESSION_KEY, &hex::encode(fresh))
                    .await?
            }
        };
        let ttl_hours = store
            .get_setting(SETTING_SESSION_TTL_HOURS)
            .await?
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|h| (1..=8760).contains(h))
            .unwrap_or(24);
        if config.admin_password.0 == DEFAULT_ADMIN_PASSWORD {
            tracing::warn!(
                "ADMIN_PASSWORD is the default; anyone can sign in as {} — set ADMIN_PASSWORD (or ADMIN_PASSWORD_SECRET_ARN on Lambda)",
                config.admin_username
            );
        }
        let prices = Arc::new(PriceBook::load(store.as_ref(), REFRESH_EVERY).await?);
        // The IdP client: discovery and JWKS follow no redirect off the checked origin.
        let http = crate::identity::http_client()
            .map_err(|e| StoreError::unavailable(format!("http client: {e}")))?;
        let auth = Authenticator::new(
            SessionTokens::new(secret.as_bytes(), Duration::from_secs(ttl_hours * 3600)),
            OidcVerifier::new(http),
            AuthSettings {
                admin_users: config.admin_users.clone(),
                env_idp: config.env_idp.clone(),
                admin_username: config.admin_username.clone(),
            },
            config.cache_ttl,
        );
        Ok(Self {
            store,
            auth,
            limiter: RateLimiter::default(),
            config,
            notifiers: Arc::new(DestinationNotifiers::new(None)),
            notify_test_retry: NOTIFY_TEST_RETRY,
            prices,
            clock: Arc::new(SystemClock),
            ids: Arc::new(OsIds),
            search_content: sluice_core::websearch::content::ContentCodec::from_secret(
                secret.as_bytes(),
            ),
            search_providers: None,
            web_fetch: None,
        })
    }

    /// Searches the web with `providers` (the gateway's web search tool, the admin API's provider test).
    #[must_use]
    pub fn with_web_search(
        mut self,
        providers: Arc<dyn sluice_core::websearch::WebSearchProviders>,
    ) -> Self {
        self.search_providers = Some(providers);
        self
    }

    /// Another notifier factory, e.g. `DestinationNotifiers` with `sluice_aws::notify::AwsNotifiers` for SNS and
    /// EventBridge destinations.
    #[must_use]
    pub fn with_notifiers(mut self, notifiers: Arc<dyn NotifierFactory>) -> Self {
        self.notifiers = notifiers;
        self
    }

    /// Fetches pages for the web fetch tool with `fetcher`.
    #[must_use]
    pub fn with_web_fetch(mut self, fetcher: Arc<dyn sluice_core::websearch::WebFetch>) -> Self {
        self.web_fetch = Some(fetcher);
        self
    }

    /// Other retries for the "test" step (tests use millisecond waits).
    #[must_use]
    pub fn with_notify_test_retry(mut self, retry: RetryPolicy) -> Self {
        self.notify_test_retry = retry;
        self
    }
}
