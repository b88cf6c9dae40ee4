//! Notification delivery to the customer's SNS topic or EventBridge bus (the `Notifier` port).

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::sync::Arc;

use sluice_core::notify::{
    DeliveryReceipt, Destination, NotificationPayload, Notifier, NotifierFactory, NotifyError,
};

/// EventBridge `Source` of every event; rules match on it.
pub const EVENT_SOURCE: &str = "sluice.notifications";

/// What to do when IAM refuses a delivery: the stack's role may publish only to the listed topics and buses.
const SNS_DENIED_HINT: &str = "the function's role may not publish to this topic: add its ARN to the stack's \
     NotifyTopicArns parameter (template.yaml) and deploy";
const EVENTBRIDGE_DENIED_HINT: &str = "the function's role may not put events on this bus: add its ARN to the \
     stack's NotifyEventBusArns parameter (template.yaml) and deploy";

/// SNS refuses longer subjects.
const SUBJECT_MAX_CHARS: usize = 100;

/// Builds SNS and EventBridge notifiers from one AWS configuration. Webhooks are not AWS: `sluice-adapters`'
/// `DestinationNotifiers` handles them and hands the rest to this factory.
#[derive(Debug, Clone)]
pub struct AwsNotifiers {
    config: SdkConfig,
}

impl AwsNotifiers {
    #[must_use]
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            config: config.clone(),
        }
    }
}

impl NotifierFactory for AwsNotifiers {
    fn notifier(&self, destination: &Destination) -> Arc<dyn Notifier> {
        match destination {
            Destination::Sns { topic_arn } => Arc::new(SnsNotifier::new(&self.config, topic_arn)),
            Destination::EventBridge { bus_arn } => {
                Arc::new(EventBridgeNotifier::new(&self.config, bus_arn))
            }
            Destination::Webhook { .. } => Arc::new(Misconfigured(
                "webhooks are delivered by sluice-adapters' DestinationNotifiers".to_owned(),
            )),
        }
    }
}

/// A notifier that always fails with a configuration error (a destination this factory cannot serve).
#[derive(Debug, Clone)]
pub struct Misconfigured(pub String);

#[async_trait]
impl Notifier for Misconfigured {
    async fn deliver(
        &self,
        _payload: &NotificationPayload,
    ) -> Result<DeliveryReceipt, NotifyError> {
        Err(NotifyError::Config(self.0.clone()))
    }
}

/// Publishes each payload to one SNS topic: subject `<event_type> for <who>`, message the pretty JSON payload.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsNotifier {
    #[must_use]
    pub fn new(config: &SdkConfig, topic_arn: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_sns::Client::new(config),
            topic_arn: topic_arn.into(),
        }
    }
}

#[async_trait]
impl Notifier for SnsNotifier {
    async fn deliver(&self, payload: &NotificationPayload) -> Result<DeliveryReceipt, NotifyError> {
        let message = serde_json::to_string_pretty(payload)
            .map_err(|e| NotifyError::Config(format!("payload: {e}")))?;
        let out = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(sns_subject(payload))
            .message(message)
            .send()
            .await
            .map_err(|e| with_denied_hint(classify_sdk(&e), SNS_DENIED_HINT))?;
        Ok(DeliveryReceipt {
            reference: out.message_id().unwrap_or("no MessageId").to_owned(),
        })
    }
}

/// `<event_type> for <who>`, cut to SNS's limit. SNS accepts printable ASCII only, so anything else
/// (a non-ASCII name, a control character) becomes `?` rather than failing the delivery.
#[must_use]
pub fn sns_subject(payload: &NotificationPayload) -> String {
    format!("{} for {}", payload.event_type, payload.who())
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(SUBJECT_MAX_CHARS)
        .collect()
}

/// Puts each payload on one EventBridge bus: `Source` `sluice.notifications`, `DetailType` the event type,
/// `Detail` the whole payload (so a rule target receives the same fields a webhook does).
#[derive(Debug, Clone)]
pub struct EventBridgeNotifier {
    client: aws_sdk_eventbridge::Client,
    bus_arn: String,
}

impl EventBridgeNotifier {
    #[must_use]
    pub fn new(config: &SdkConfig, bus_arn: impl Into<String>) -> Self {
        Self {
            client: aws_sdk_eventbridge::Client::new(config),
            bus_arn: bus_arn.into(),
        }
    }
}

#[async_trait]
impl Notifier for EventBridgeNotifier {
    async fn deliver(&self, payload: &NotificationPayload) -> Result<DeliveryReceipt, NotifyError> {
        let detail = serde_json::to_string(payload)
            .map_err(|e| NotifyError::Config(format!("payload: {e}")))?;
        let entry = PutEventsRequestEntry::builder()
            .source(EVENT_SOURCE)
            .detail_type(payload.event_type.as_str())
            .event_bus_name(&self.bus_arn)
            .time(aws_smithy_types::DateTime::from_secs(
                payload.timestamp.timestamp(),
            ))
            .detail(detail)
            .build();
        let out = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| with_denied_hint(classify_sdk(&e), EVENTBRIDGE_DENIED_HINT))?;
        // PutEvents answers 200 even when an entry was refused; the refusal is in the entry.
        let first = out.entries().first();
        if out.failed_entry_count() > 0 {
            let code = first.and_then(|e| e.error_code()).unwrap_or("unknown");
            let message = first
                .and_then(|e| e.error_message())
                .unwrap_or("no message");
            return Err(with_denied_hint(
                classify_code(
                    code,
                    None,
                    format!("PutEvents entry failed: {code}: {message}"),
                ),
                EVENTBRIDGE_DENIED_HINT,
            ));
        }
        let event_id = first.and_then(|e| e.event_id()).unwrap_or("no EventId");
        Ok(DeliveryReceipt {
            reference: event_id.to_owned(),
        })
    }
}

fn classify_sdk<E>(err: &SdkError<E, HttpResponse>) -> NotifyError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = DisplayErrorContext(err).to_string();
    match err {
        SdkError::ServiceError(ctx) => {
            let e = ctx.err();
            let code = e.code().unwrap_or("unknown");
            let message = format!("{code}: {}", e.message().unwrap_or("no message"));
            classify_code(code, Some(ctx.raw().status().as_u16()), message)
        }
        SdkError::TimeoutError(_) => NotifyError::Timeout(detail),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => NotifyError::Timeout(detail),
        // Missing credentials surface as a dispatch failure; no retry will find them.
        SdkError::DispatchFailure(_) if detail.to_ascii_lowercase().contains("credential") => {
            NotifyError::Config(detail)
        }
        SdkError::DispatchFailure(_) => NotifyError::Unreachable(detail),
        SdkError::ConstructionFailure(_) => NotifyError::Config(detail),
        // A response that could not be read, and any kind the SDK adds later: worth another try.
        _ => NotifyError::Unavailable(detail),
    }
}

/// An access-denied refusal (SNS `AuthorizationError`, `AccessDenied`, `AccessDeniedException`) is permanent
/// until the stack's permissions change; its message says which parameter to change.
fn with_denied_hint(err: NotifyError, hint: &str) -> NotifyError {
    match err {
        NotifyError::Rejected(message)
            if message.contains("AccessDenied") || message.contains("AuthorizationError") =>
        {
            NotifyError::Rejected(format!("{message} ({hint})"))
        }
        other => other,
    }
}

/// AWS error codes (SNS `Throttled`, EventBridge `ThrottlingException`, `InternalFailure`, …) → retryability.
fn classify_code(code: &str, status: Option<u16>, message: String) -> NotifyError {
    let lower = code.to_ascii_lowercase();
    if lower.contains("throttl") || lower == "toomanyrequestsexception" || status == Some(429) {
        NotifyError::Throttled(message)
    } else if status.is_some_and(|s| s >= 500)
        || lower.starts_with("internal")
        || lower.contains("unavailable")
    {
        NotifyError::Unavailable(message)
    } else {
        NotifyError::Rejected(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use sluice_core::notify::{BudgetDetail, BudgetPeriod, EventDetail, EventType};

    fn payload_for(user: &str) -> NotificationPayload {
        let at = Utc
            .with_ymd_and_hms(2026, 3, 19, 14, 30, 0)
            .single()
            .expect("date");
        NotificationPayload::new(
            EventType::BudgetBlocked,
            Some(user.to_owned()),
            None,
            None,
            EventDetail::Budget(BudgetDetail::from_micros(
                100,
                50_000_000,
                50_000_000,
                BudgetPeriod::Daily,
                at,
            )),
            at,
        )
    }

    #[test]
    fn subject_names_the_event_and_who_and_fits_sns() {
        assert_eq!(
            sns_subject(&payload_for("jane@corp.com")),
            "budget_blocked for jane@corp.com"
        );
        let long = sns_subject(&payload_for(&"x".repeat(300)));
        assert_eq!(long.chars().count(), 100);
        assert_eq!(
            sns_subject(&payload_for("zoë\nbad")),
            "budget_blocked for zo??bad"
        );
    }

    #[test]
    fn throttling_and_server_failures_are_retryable_refusals_are_not() {
        assert!(matches!(
            classify_code("Throttled", Some(400), String::new()),
            NotifyError::Throttled(_)
        ));
        assert!(matches!(
            classify_code("ThrottlingException", None, String::new()),
            NotifyError::Throttled(_)
        ));
        assert!(classify_code("InternalFailure", None, String::new()).is_retryable());
        assert!(classify_code("InternalError", Some(500), String::new()).is_retryable());
        assert!(!classify_code("NotFound", Some(404), String::new()).is_retryable());
        assert!(!classify_code("AuthorizationError", Some(403), String::new()).is_retryable());
        assert!(!classify_code("InvalidArgument", None, String::new()).is_retryable());
    }
}
