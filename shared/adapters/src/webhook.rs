//! `WebhookNotifier`: the `Notifier` port as a signed JSON POST (`sluice_core::notify::signature`).
//!
//! Where a webhook may point is `sluice_core::notify::webhook_target`: the URL is checked when the notifier is
//! built, and under `WebhookPolicy::PublicHttps` every address its host resolves to is checked at each
//! connection by [`PublicAddressesOnly`], the client's DNS resolver, so the connection goes to the addresses that
//! passed (a name that answers a public address to the check and `127.0.0.1` to the connection — DNS rebinding —
//! gets no second answer). No proxy, so the checked address is the one connected to; no redirects.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use reqwest::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};
use sluice_core::notify::{
    DeliveryReceipt, Destination, DestinationError, NotificationPayload, Notifier, NotifierFactory,
    NotifyError, SIGNATURE_HEADER, WebhookPolicy, signature_header, webhook_url_allowed,
};

/// The webhook client's DNS resolver under `PublicHttps` (shared with the web search providers).
pub use crate::public_address::PublicAddressesOnly;
use crate::public_address::{error_chain, refused_address};

/// Set to `true` (or `1`) to allow webhooks over plain HTTP and to loopback, private and link-local addresses:
/// for tests and `sluice serve` with a local receiver, never for a deployment. Read once per process.
pub const ALLOW_PRIVATE_WEBHOOKS_ENV: &str = "SLUICE_ALLOW_PRIVATE_WEBHOOKS";

/// The policy `SLUICE_ALLOW_PRIVATE_WEBHOOKS` sets: `AllowPrivate` when `true` or `1`, else `PublicHttps`.
/// Read at the first call and kept, so the setting cannot change under a running process.
#[must_use]
#[expect(
    clippy::disallowed_methods,
    reason = "a process-wide switch, read once at the first call and kept"
)]
pub fn webhook_policy_from_env() -> WebhookPolicy {
    static POLICY: OnceLock<WebhookPolicy> = OnceLock::new();
    *POLICY.get_or_init(|| {
        let on = std::env::var(ALLOW_PRIVATE_WEBHOOKS_ENV)
            .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1"));
        if on {
            tracing::warn!(
                "{ALLOW_PRIVATE_WEBHOOKS_ENV} is on: webhooks may use plain HTTP and reach loopback and \
                 private addresses (tests and local development only)"
            );
            WebhookPolicy::AllowPrivate
        } else {
            WebhookPolicy::PublicHttps
        }
    })
}

/// CCAG's client timeout; a receiver slower than this is treated as down and retried.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// The most of a failing receiver's answer kept in the error (and so in the delivery log).
const ERROR_BODY_CHARS: usize = 200;

/// The notifier for any destination: webhooks here, SNS and EventBridge through the AWS factory
/// (`sluice_aws::notify::AwsNotifiers`) when one is given.
pub struct DestinationNotifiers {
    aws: Option<Arc<dyn NotifierFactory>>,
    webhook_timeout: Duration,
    webhook_policy: WebhookPolicy,
}

impl DestinationNotifiers {
    /// Webhooks under the policy of [`webhook_policy_from_env`] (public HTTPS unless
    /// `SLUICE_ALLOW_PRIVATE_WEBHOOKS` is on), so every binary honours the one setting.
    #[must_use]
    pub fn new(aws: Option<Arc<dyn NotifierFactory>>) -> Self {
        Self {
            aws,
            webhook_timeout: WEBHOOK_TIMEOUT,
            webhook_policy: webhook_policy_from_env(),
        }
    }

    /// Another webhook policy: tests with a receiver on loopback turn `AllowPrivate` on here.
    #[must_use]
    pub fn with_webhook_policy(mut self, policy: WebhookPolicy) -> Self {
        self.webhook_policy = policy;
        self
    }

    /// Another time limit per webhook attempt (tests of slow receivers).
    #[must_use]
    pub fn with_webhook_timeout(mut self, timeout: Duration) -> Self {
        self.webhook_timeout = timeout;
        self
    }
}

impl NotifierFactory for DestinationNotifiers {
    fn notifier(&self, destination: &Destination) -> Arc<dyn Notifier> {
        match destination {
            Destination::Webhook { url, secret } => {
                match WebhookNotifier::with_timeout(
                    url,
                    secret,
                    self.webhook_policy,
                    self.webhook_timeout,
                ) {
                    Ok(notifier) => Arc::new(notifier),
                    Err(e) => Arc::new(Refused(e)),
                }
            }
            other => match &self.aws {
                Some(aws) => aws.notifier(other),
                None => Arc::new(Refused(NotifyError::Config(format!(
                    "{} destinations need an AWS configuration",
                    other.kind()
                )))),
            },
        }
    }

    fn validate(&self, destination: &Destination) -> Result<(), DestinationError> {
        destination.validate_for(self.webhook_policy)
    }
}

/// Fails every delivery with the error that made the destination unusable.
struct Refused(NotifyError);

#[async_trait]
impl Notifier for Refused {
    async fn deliver(
        &self,
        _payload: &NotificationPayload,
    ) -> Result<DeliveryReceipt, NotifyError> {
        Err(self.0.clone())
    }
}

/// Posts payloads to one webhook URL, signed with its secret.
pub struct WebhookNotifier {
    client: reqwest::Client,
    url: reqwest::Url,
    secret: String,
}

impl std::fmt::Debug for WebhookNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookNotifier")
            .field("url", &self.url.as_str())
            .field("secret", &"*****")
            .finish()
    }
}

impl WebhookNotifier {
    /// # Errors
    /// `NotifyError::Config` for a URL `policy` refuses (`sluice_core::notify::webhook_url_allowed`).
    pub fn new(url: &str, secret: &str, policy: WebhookPolicy) -> Result<Self, NotifyError> {
        Self::with_timeout(url, secret, policy, WEBHOOK_TIMEOUT)
    }

    /// As `new`, with another time limit per attempt.
    ///
    /// # Errors
    /// As `new`.
    pub fn with_timeout(
        url: &str,
        secret: &str,
        policy: WebhookPolicy,
        timeout: Duration,
    ) -> Result<Self, NotifyError> {
        let url =
            webhook_url_allowed(url, policy).map_err(|e| NotifyError::Config(e.to_string()))?;
        let mut client = reqwest::Client::builder()
            .timeout(timeout)
            // A redirect could lead from the checked URL to plain HTTP or a private address; a receiver that moved
            // must be reconfigured, so a 3xx is reported (and not retried) instead of followed.
            .redirect(reqwest::redirect::Policy::none())
            // Through a proxy the connection would go wherever the proxy resolves the name, past the check.
            .no_proxy();
        if !policy.allows_private() {
            client = client
                .https_only(true)
                .dns_resolver(Arc::new(PublicAddressesOnly::WEBHOOK));
        }
        let client = client
            .build()
            .map_err(|e| NotifyError::Config(format!("HTTP client: {e}")))?;
        Ok(Self {
            client,
            url,
            secret: secret.to_owned(),
        })
    }
}

#[async_trait]
impl Notifier for WebhookNotifier {
    async fn deliver(&self, payload: &NotificationPayload) -> Result<DeliveryReceipt, NotifyError> {
        // Signed and sent as the same bytes: a receiver verifies the raw body, not a re-serialisation.
        let body = serde_json::to_vec(payload)
            .map_err(|e| NotifyError::Config(format!("payload: {e}")))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let timestamp = i64::try_from(now).unwrap_or(i64::MAX);
        let signature = signature_header(&self.secret, timestamp, &body);
        let response = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(
                USER_AGENT,
                concat!("sluice-notify/", env!("CARGO_PKG_VERSION")),
            )
            .header(SIGNATURE_HEADER, signature)
            .header("x-sluice-event-type", payload.event_type.as_str())
            .body(body)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(DeliveryReceipt {
                reference: format!("HTTP {}", status.as_u16()),
            });
        }
        let text = response.text().await.unwrap_or_default();
        let message: String = text.chars().take(ERROR_BODY_CHARS).collect();
        Err(NotifyError::Status {
            status: status.as_u16(),
            message,
        })
    }
}

fn transport_error(err: &reqwest::Error) -> NotifyError {
    // The URL is the configured one, not a secret; the chain names the cause (refused, DNS, TLS).
    let detail = error_chain(err);
    if refused_address(err) {
        // The same name will resolve the same way on the next attempt; an admin must change the destination.
        NotifyError::Config(detail)
    } else if err.is_timeout() {
        NotifyError::Timeout(detail)
    } else {
        NotifyError::Unreachable(detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::public_address::{PrivateAddress, public_only};
    use reqwest::dns::Resolve;
    use std::net::SocketAddr;

    const STRICT: WebhookPolicy = WebhookPolicy::PublicHttps;

    #[test]
    fn plain_http_and_private_targets_are_refused_unless_allowed() {
        let err = WebhookNotifier::new("http://hooks.example.com/x", "whsec_x", STRICT)
            .expect_err("insecure");
        assert!(
            matches!(err, NotifyError::Config(ref m) if m.contains("https")),
            "{err}"
        );
        assert!(!err.is_retryable());
        assert!(WebhookNotifier::new("https://hooks.example.com/x", "whsec_x", STRICT).is_ok());
        assert!(WebhookNotifier::new("http://127.0.0.1:9/x", "whsec_x", STRICT).is_err());
        assert!(
            WebhookNotifier::new(
                "http://127.0.0.1:9/x",
                "whsec_x",
                WebhookPolicy::AllowPrivate
            )
            .is_ok()
        );
    }

    #[test]
    fn the_factory_validates_under_its_policy() {
        let local = Destination::Webhook {
            url: "http://127.0.0.1:9/x".to_owned(),
            secret: "whsec_x".to_owned(),
        };
        let strict = DestinationNotifiers::new(None).with_webhook_policy(STRICT);
        assert!(matches!(
            strict.validate(&local),
            Err(DestinationError::InsecureWebhook(_))
        ));
        let allow =
            DestinationNotifiers::new(None).with_webhook_policy(WebhookPolicy::AllowPrivate);
        assert_eq!(allow.validate(&local), Ok(()));
    }

    #[test]
    fn a_resolved_address_that_is_not_public_refuses_the_whole_answer() {
        let public: SocketAddr = "93.184.215.14:0".parse().expect("addr");
        assert_eq!(
            public_only("webhook", "hooks.example.com", vec![public]).expect("public"),
            [public]
        );
        for private in [
            "127.0.0.1:0",
            "10.1.2.3:0",
            "169.254.169.254:0",
            "100.64.0.1:0",
            "[::1]:0",
            "[fd00:ec2::254]:0",
            "[::ffff:127.0.0.1]:0",
        ] {
            let private: SocketAddr = private.parse().expect("addr");
            let err = public_only("webhook", "rebind.example.com", vec![public, private])
                .expect_err("mixed");
            assert_eq!(err.ip, Some(private.ip()));
            assert!(err.to_string().contains("rebind.example.com"), "{err}");
        }
        assert!(public_only("webhook", "empty.example.com", Vec::new()).is_err());
    }

    #[tokio::test]
    async fn the_resolver_refuses_a_name_that_resolves_to_loopback() {
        let name: reqwest::dns::Name = "localhost".parse().expect("name");
        let err = match PublicAddressesOnly::WEBHOOK.resolve(name).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e,
        };
        assert!(err.is::<PrivateAddress>(), "{err}");
    }

    #[test]
    fn debug_hides_the_secret() {
        let notifier = WebhookNotifier::new("https://hooks.example.com/x", "whsec_hidden", STRICT)
            .expect("valid");
        assert!(!format!("{notifier:?}").contains("hidden"));
    }
}
