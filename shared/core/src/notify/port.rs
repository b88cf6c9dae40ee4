//! The `Notifier` port: one delivery attempt to one destination.

use async_trait::async_trait;
use thiserror::Error;

use super::payload::NotificationPayload;

/// Proof of delivery, for the delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReceipt {
    /// What the destination gave back: `HTTP 204`, an SNS `MessageId`, an EventBridge event id.
    pub reference: String,
}

/// A failed delivery. Each variant decides whether another attempt can help (`is_retryable`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NotifyError {
    /// The destination answered with a non-success HTTP status.
    #[error("destination answered HTTP {status}: {message}")]
    Status { status: u16, message: String },
    /// No answer within the time limit.
    #[error("destination timed out: {0}")]
    Timeout(String),
    /// No connection (refused, DNS, TLS handshake).
    #[error("destination unreachable: {0}")]
    Unreachable(String),
    /// The service asked us to slow down.
    #[error("destination throttled the delivery: {0}")]
    Throttled(String),
    /// The service failed on its side (AWS 5xx, internal failure).
    #[error("destination failed: {0}")]
    Unavailable(String),
    /// The service refused the request itself (unknown topic, no permission, invalid parameter).
    #[error("destination rejected the delivery: {0}")]
    Rejected(String),
    /// The configuration cannot work (bad URL, bad ARN).
    #[error("destination is misconfigured: {0}")]
    Config(String),
}

impl NotifyError {
    /// Whether the same request may succeed later: 5xx, 408, 429, timeouts, throttling, lost connections.
    /// Other 4xx answers and configuration errors will fail the same way again.
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            Self::Timeout(_) | Self::Unreachable(_) | Self::Throttled(_) | Self::Unavailable(_) => {
                true
            }
            Self::Rejected(_) | Self::Config(_) => false,
        }
    }
}

/// Delivers one payload to one destination, once. Retries belong to `deliver_with_retries`.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// # Errors
    /// Why this attempt failed, and through `is_retryable` whether another may succeed.
    async fn deliver(&self, payload: &NotificationPayload) -> Result<DeliveryReceipt, NotifyError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_throttling_and_timeouts_are_retryable_client_errors_are_not() {
        let status = |status| NotifyError::Status {
            status,
            message: String::new(),
        };
        for retryable in [
            status(500),
            status(502),
            status(503),
            status(429),
            status(408),
        ] {
            assert!(retryable.is_retryable(), "{retryable}");
        }
        for permanent in [
            status(400),
            status(401),
            status(403),
            status(404),
            status(301),
        ] {
            assert!(!permanent.is_retryable(), "{permanent}");
        }
        assert!(NotifyError::Timeout("t".into()).is_retryable());
        assert!(NotifyError::Unreachable("u".into()).is_retryable());
        assert!(NotifyError::Throttled("x".into()).is_retryable());
        assert!(NotifyError::Unavailable("x".into()).is_retryable());
        assert!(!NotifyError::Rejected("x".into()).is_retryable());
        assert!(!NotifyError::Config("x".into()).is_retryable());
    }
}
