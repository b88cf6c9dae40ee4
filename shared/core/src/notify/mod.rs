//! Notifications for budget and rate-limit events: what is sent, where, how it is signed and retried.
//!
//! - `payload`: the event body every destination receives (CCAG's schema, `source: "sluice"`).
//! - `destination`: the configured destination (webhook, SNS topic, EventBridge bus) and its categories.
//! - `webhook_target`: where a webhook may point (HTTPS to a public address; SSRF) and the test setting lifting it.
//! - `signature`: the `x-sluice-signature` webhook header — signing and verification for receivers.
//! - `event`: stored events (deduplicated by id), the draft / active configuration and the delivery log.
//! - `consumer`: delivering one stored event to the active destination, logged.
//! - `port`: the `Notifier` port, its receipt and an error that says whether retrying can help.
//! - `retry`: `deliver_with_retries`, capped exponential backoff with jitter and the attempt log.
//!
//! Delivery adapters live at the edges: SNS and EventBridge in `sluice-aws`, the webhook in `sluice-adapters`.
pub mod consumer;
pub mod destination;
pub mod event;
pub mod payload;
pub mod port;
pub mod retry;
pub mod signature;
pub mod webhook_target;

pub use consumer::{
    Delivery, NotifierFactory, RetryPolicy, active_config, config_at, deliver_event,
};
pub use destination::{Categories, Destination, DestinationConfig, DestinationError};
pub use event::{
    ACTIVE_CONFIG_KEY, DRAFT_CONFIG_KEY, DeliveryRecord, NotificationConfig, NotifyEvent,
    budget_event_id, destination_value, policy_refusal_event_id, rate_limit_event_id,
};
pub use payload::{
    BudgetDetail, BudgetPeriod, Category, EventDetail, EventType, NotificationPayload,
    PAYLOAD_SOURCE, PAYLOAD_VERSION, PolicyRefusalDetail, RateLimitDetail, Severity,
};
pub use port::{DeliveryReceipt, Notifier, NotifyError};
pub use retry::{AttemptOutcome, Backoff, DeliveryAttempt, DeliveryLog, deliver_with_retries};
pub use signature::{
    SIGNATURE_HEADER, SignatureError, generate_webhook_secret, sign, signature_header,
    verify_signature,
};
pub use webhook_target::{WebhookPolicy, is_public_ip, webhook_url_allowed};
