//! `WebhookNotifier`: the `Notifier` port as a signed JSON POST (`sluice_core::notify::signature`).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use reqwest::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};
use sluice_core::notify::{
    DeliveryReceipt, Destination, NotificationPayload, Notifier, NotifierFactory, NotifyError,
    SIGNATURE_HEADER, signature_header, webhook_url_allowed,
};

/// CCAG's client timeout; a receiver slower than this is treated as down and retried.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// The most of a failing receiver's answer kept in the error (and so in the delivery log).
const ERROR_BODY_CHARS: usize = 200;

/// The notifier for any destination: webhooks here, SNS and EventBridge through the AWS factory
/// (`sluice_aws::notify::AwsNotifiers`) when one is given.
pub struct DestinationNotifiers {
    aws: Option<Arc<dyn NotifierFactory>>,
    webhook_timeout: Duration,
}

impl DestinationNotifiers {
    #[must_use]
    pub fn new(aws: Option<Arc<dyn NotifierFactory>>) -> Self {
        Self {
            aws,
            webhook_timeout: WEBHOOK_TIMEOUT,
        }
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
                match WebhookNotifier::with_timeout(url, secret, self.webhook_timeout) {
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
    /// `NotifyError::Config` for a URL that is not HTTPS (plain HTTP is allowed to loopback only).
    pub fn new(url: &str, secret: &str) -> Result<Self, NotifyError> {
        Self::with_timeout(url, secret, WEBHOOK_TIMEOUT)
    }

    /// As `new`, with another time limit per attempt.
    ///
    /// # Errors
    /// As `new`.
    pub fn with_timeout(url: &str, secret: &str, timeout: Duration) -> Result<Self, NotifyError> {
        webhook_url_allowed(url).map_err(|e| NotifyError::Config(e.to_string()))?;
        let url =
            reqwest::Url::parse(url).map_err(|e| NotifyError::Config(format!("{url}: {e}")))?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            // A redirect could lead from the checked HTTPS URL to plain HTTP elsewhere; a receiver that moved
            // must be reconfigured, so a 3xx is reported (and not retried) instead of followed.
            .redirect(reqwest::redirect::Policy::none())
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
    if err.is_timeout() {
        NotifyError::Timeout(detail)
    } else {
        NotifyError::Unreachable(detail)
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_to_a_remote_host_is_refused() {
        let err =
            WebhookNotifier::new("http://hooks.example.com/x", "whsec_x").expect_err("insecure");
        assert!(
            matches!(err, NotifyError::Config(ref m) if m.contains("https")),
            "{err}"
        );
        assert!(!err.is_retryable());
        assert!(WebhookNotifier::new("https://hooks.example.com/x", "whsec_x").is_ok());
        assert!(WebhookNotifier::new("http://127.0.0.1:9/x", "whsec_x").is_ok());
    }

    #[test]
    fn debug_hides_the_secret() {
        let notifier =
            WebhookNotifier::new("https://hooks.example.com/x", "whsec_hidden").expect("valid");
        assert!(!format!("{notifier:?}").contains("hidden"));
    }
}
