//! The one configured destination (CCAG's model: a single destination, with categories toggled on it).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::payload::Category;
use super::webhook_target::{WebhookPolicy, webhook_url_allowed};

/// Where notifications go. Serialized with a `type` tag: `{"type":"webhook","url":…,"secret":…}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Destination {
    /// HTTPS endpoint receiving a signed JSON POST (`signature` module).
    Webhook { url: String, secret: String },
    /// The customer's SNS topic (`arn:aws:sns:REGION:ACCOUNT:TOPIC`).
    Sns { topic_arn: String },
    /// The customer's EventBridge bus (`arn:aws:events:REGION:ACCOUNT:event-bus/NAME`).
    EventBridge { bus_arn: String },
}

// The webhook secret must never reach a log line.
impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Webhook { url, .. } => f
                .debug_struct("Webhook")
                .field("url", url)
                .field("secret", &"*****")
                .finish(),
            Self::Sns { topic_arn } => f.debug_struct("Sns").field("topic_arn", topic_arn).finish(),
            Self::EventBridge { bus_arn } => f
                .debug_struct("EventBridge")
                .field("bus_arn", bus_arn)
                .finish(),
        }
    }
}

/// Why a destination cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DestinationError {
    #[error("webhook URL must use https: {0}")]
    InsecureWebhook(String),
    #[error("webhook URL is not an absolute https URL with a host: {0}")]
    MalformedUrl(String),
    #[error(
        "webhook URL must not carry a user name, password or backslash before its host (parsers disagree on \
         which host that is): {0}"
    )]
    AmbiguousAuthority(String),
    #[error(
        "webhook URL must reach a public address, not localhost, a loopback, private, link-local or metadata \
         address: {0}"
    )]
    PrivateTarget(String),
    #[error("webhook secret must not be empty")]
    EmptySecret,
    #[error("not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC): {0}")]
    BadTopicArn(String),
    #[error("not an EventBridge bus ARN (arn:aws:events:REGION:ACCOUNT:event-bus/NAME): {0}")]
    BadBusArn(String),
}

impl Destination {
    /// The destination a bare URL or ARN names (the `BUDGET_NOTIFICATION_URL` convention, extended to
    /// EventBridge): `arn:aws:sns:` → SNS, `arn:aws:events:` → EventBridge, anything else → webhook.
    #[must_use]
    pub fn from_target(target: &str, webhook_secret: &str) -> Self {
        let target = target.trim();
        if target.starts_with("arn:aws:sns:") {
            Self::Sns {
                topic_arn: target.to_owned(),
            }
        } else if target.starts_with("arn:aws:events:") {
            Self::EventBridge {
                bus_arn: target.to_owned(),
            }
        } else {
            Self::Webhook {
                url: target.to_owned(),
                secret: webhook_secret.to_owned(),
            }
        }
    }

    /// Checks the shape of the URL or ARN, a webhook under [`WebhookPolicy::PublicHttps`]; whether it answers
    /// is the "test" step's job.
    ///
    /// # Errors
    /// The first problem found.
    pub fn validate(&self) -> Result<(), DestinationError> {
        self.validate_for(WebhookPolicy::PublicHttps)
    }

    /// As [`Destination::validate`], a webhook URL checked against `policy` ([`webhook_url_allowed`]).
    ///
    /// # Errors
    /// The first problem found.
    pub fn validate_for(&self, policy: WebhookPolicy) -> Result<(), DestinationError> {
        match self {
            Self::Webhook { url, secret } => {
                webhook_url_allowed(url, policy)?;
                if secret.is_empty() {
                    return Err(DestinationError::EmptySecret);
                }
                Ok(())
            }
            Self::Sns { topic_arn } => {
                let parts: Vec<&str> = topic_arn.split(':').collect();
                let ok = parts.len() == 6
                    && parts[..3] == ["arn", "aws", "sns"]
                    && parts[3..].iter().all(|p| !p.is_empty());
                if ok {
                    Ok(())
                } else {
                    Err(DestinationError::BadTopicArn(topic_arn.clone()))
                }
            }
            Self::EventBridge { bus_arn } => {
                let parts: Vec<&str> = bus_arn.splitn(6, ':').collect();
                let ok = parts.len() == 6
                    && parts[..3] == ["arn", "aws", "events"]
                    && parts[3..5].iter().all(|p| !p.is_empty())
                    && parts[5]
                        .strip_prefix("event-bus/")
                        .is_some_and(|name| !name.is_empty());
                if ok {
                    Ok(())
                } else {
                    Err(DestinationError::BadBusArn(bus_arn.clone()))
                }
            }
        }
    }

    /// `webhook`, `sns` or `event_bridge`, for logs and the delivery log.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Webhook { .. } => "webhook",
            Self::Sns { .. } => "sns",
            Self::EventBridge { .. } => "event_bridge",
        }
    }
}

/// Which categories are delivered. Budget events are on by default, rate-limit and policy-refusal events off
/// (they can be many).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Categories {
    pub budget: bool,
    pub rate_limit: bool,
    pub policy_refusal: bool,
}

impl Default for Categories {
    fn default() -> Self {
        Self {
            budget: true,
            rate_limit: false,
            policy_refusal: false,
        }
    }
}

impl Categories {
    #[must_use]
    pub const fn enabled(&self, category: Category) -> bool {
        match category {
            Category::Budget => self.budget,
            Category::RateLimit => self.rate_limit,
            Category::PolicyRefusal => self.policy_refusal,
        }
    }
}

/// A destination with its category toggles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationConfig {
    pub destination: Destination,
    #[serde(default)]
    pub categories: Categories,
}

impl DestinationConfig {
    /// Default categories (budget on, rate limit off).
    #[must_use]
    pub fn new(destination: Destination) -> Self {
        Self {
            destination,
            categories: Categories::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_recognised_by_their_arn_prefix() {
        assert_eq!(
            Destination::from_target("arn:aws:sns:us-east-1:123456789012:alerts", ""),
            Destination::Sns {
                topic_arn: "arn:aws:sns:us-east-1:123456789012:alerts".to_owned()
            }
        );
        assert_eq!(
            Destination::from_target("arn:aws:events:us-east-1:123456789012:event-bus/ops", ""),
            Destination::EventBridge {
                bus_arn: "arn:aws:events:us-east-1:123456789012:event-bus/ops".to_owned()
            }
        );
        assert_eq!(
            Destination::from_target("https://h.example.com", "s").kind(),
            "webhook"
        );
    }

    #[test]
    fn arns_and_secrets_are_validated() {
        assert!(
            Destination::Sns {
                topic_arn: "arn:aws:sns:us-east-1:123456789012:alerts".to_owned()
            }
            .validate()
            .is_ok()
        );
        assert!(
            Destination::Sns {
                topic_arn: "arn:aws:sns:us-east-1::alerts".to_owned()
            }
            .validate()
            .is_err()
        );
        assert!(
            Destination::EventBridge {
                bus_arn: "arn:aws:events:us-east-1:123456789012:event-bus/ops".to_owned()
            }
            .validate()
            .is_ok()
        );
        assert!(
            Destination::EventBridge {
                bus_arn: "arn:aws:events:us-east-1:123456789012:rule/x".to_owned()
            }
            .validate()
            .is_err()
        );
        assert_eq!(
            Destination::Webhook {
                url: "https://h.example.com".to_owned(),
                secret: String::new()
            }
            .validate(),
            Err(DestinationError::EmptySecret)
        );
    }

    #[test]
    fn webhooks_are_validated_against_the_policy() {
        let local = Destination::Webhook {
            url: "http://127.0.0.1:8080/hook".to_owned(),
            secret: "whsec_x".to_owned(),
        };
        assert_eq!(
            local.validate(),
            Err(DestinationError::InsecureWebhook(
                "http://127.0.0.1:8080/hook".to_owned()
            ))
        );
        assert_eq!(local.validate_for(WebhookPolicy::AllowPrivate), Ok(()));
    }

    #[test]
    fn debug_output_hides_the_webhook_secret() {
        let d = Destination::Webhook {
            url: "https://h.example.com".to_owned(),
            secret: "whsec_topsecret".to_owned(),
        };
        let shown = format!("{d:?}");
        assert!(!shown.contains("topsecret"), "{shown}");
        assert!(shown.contains("*****"));
    }

    #[test]
    fn budget_is_on_and_rate_limit_off_by_default_also_when_parsed() {
        let config: DestinationConfig = serde_json::from_str(
            r#"{"destination":{"type":"sns","topic_arn":"arn:aws:sns:us-east-1:1:t"}}"#,
        )
        .expect("parse");
        assert!(config.categories.enabled(Category::Budget));
        assert!(!config.categories.enabled(Category::RateLimit));
        let partial: Categories = serde_json::from_str(r#"{"rate_limit":true}"#).expect("parse");
        assert!(partial.budget && partial.rate_limit);
    }
}
