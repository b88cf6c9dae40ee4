//! What the store keeps for notifications: events waiting to be delivered, the configured destination
//! (draft and active, CCAG's draft → test → activate workflow) and the delivery log.

use serde::{Deserialize, Serialize};

use super::destination::{Categories, Destination};
use super::payload::NotificationPayload;

/// Settings key of the destination being prepared.
pub const DRAFT_CONFIG_KEY: &str = "notify.draft";
/// Settings key of the destination events are delivered to.
pub const ACTIVE_CONFIG_KEY: &str = "notify.active";

/// One event to deliver. The id names what it is about, so writing it again is a no-op: a budget event is
/// `budget#<user|team>#<id>#<period key>#<threshold>`, a rate-limit event `rate_limit#<key id>#<minute>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifyEvent {
    pub id: String,
    /// Unix milliseconds.
    pub created_at_ms: i64,
    pub payload: NotificationPayload,
}

#[must_use]
pub fn budget_event_id(scope: &str, id: &str, period_key: &str, threshold: u32) -> String {
    format!("budget#{scope}#{id}#{period_key}#{threshold}")
}

#[must_use]
pub fn rate_limit_event_id(key_id: &str, window_start_s: i64) -> String {
    format!("rate_limit#{key_id}#{window_start_s}")
}

/// The id of a `policy_refused` event: one per person (or key), policy, rule and minute window, so a client
/// retrying a refused request does not flood the destinations.
#[must_use]
pub fn policy_refusal_event_id(who: &str, policy: &str, rule: &str, window_start_s: i64) -> String {
    format!("policy_refusal#{who}#{policy}#{rule}#{window_start_s}")
}

/// A destination as configured: CCAG's `Config` (`id, slot, destination_type, destination_value,
/// event_categories, last_tested_at, last_test_success, last_test_error, created_at, updated_at`) is the
/// admin API's view of this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationConfig {
    pub id: String,
    pub destination: Destination,
    #[serde(default)]
    pub categories: Categories,
    /// Unix milliseconds of the last test delivery, if any.
    #[serde(default)]
    pub last_tested_at_ms: Option<i64>,
    #[serde(default)]
    pub last_test_success: Option<bool>,
    #[serde(default)]
    pub last_test_error: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// One delivery (with all its attempts) in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// Unique; sorts by time (`<unix ms, zero padded>#<random>`).
    pub id: String,
    /// The event delivered (`test` for the test step).
    pub event_id: String,
    pub event_type: String,
    /// `webhook`, `sns` or `event_bridge`.
    pub destination_type: String,
    /// URL or ARN; never the webhook secret.
    pub destination_value: String,
    pub at_ms: i64,
    pub attempts: u32,
    pub success: bool,
    /// Receipt (HTTP status, message id) on success.
    #[serde(default)]
    pub reference: Option<String>,
    /// The last error on failure.
    #[serde(default)]
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// The URL or ARN of a destination, safe to show and log.
#[must_use]
pub fn destination_value(destination: &Destination) -> &str {
    match destination {
        Destination::Webhook { url, .. } => url,
        Destination::Sns { topic_arn } => topic_arn,
        Destination::EventBridge { bus_arn } => bus_arn,
    }
}
