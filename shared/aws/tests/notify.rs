//! SNS and EventBridge delivery against moto, read back through SQS as a subscriber would see it.

use std::time::Duration;

use aws_config::SdkConfig;
use chrono::Utc;
use serde_json::Value;
use sluice_aws::notify::{EVENT_SOURCE, EventBridgeNotifier, SnsNotifier};
use sluice_core::notify::{
    BudgetDetail, BudgetPeriod, EventDetail, EventType, NotificationPayload, Notifier, NotifyError,
};
use sluice_testkit::messaging;
use sluice_testkit::poll::first_message;
use sluice_testkit::{MotoServer, aws_sdk_config, unique_name};

fn config() -> SdkConfig {
    let moto =
        MotoServer::shared().expect("moto (install with: python3 -m pip install 'moto[server]')");
    aws_sdk_config(moto.endpoint_url())
}

fn blocked_payload() -> NotificationPayload {
    let now = Utc::now();
    NotificationPayload::new(
        EventType::BudgetBlocked,
        Some("jane@corp.com".to_owned()),
        Some("team-1".to_owned()),
        Some("frontend".to_owned()),
        EventDetail::Budget(BudgetDetail::from_micros(
            100,
            50_250_000,
            50_000_000,
            BudgetPeriod::Monthly,
            now,
        )),
        now,
    )
}

/// How long a delivery may take to reach the subscriber's queue.
const ARRIVAL: Duration = Duration::from_secs(5);

#[tokio::test]
async fn sns_publishes_the_pretty_payload_with_a_subject_to_subscribers() {
    let config = config();
    let topic_arn = messaging::topic(&config, "sluice-notify").await;
    let queue = messaging::queue(&config, "sluice-notify-sns").await;
    messaging::subscribe_queue(&config, &topic_arn, &queue).await;
    let payload = blocked_payload();

    let receipt = SnsNotifier::new(&config, &topic_arn)
        .deliver(&payload)
        .await
        .expect("published");

    assert!(!receipt.reference.is_empty());
    let envelope: Value = serde_json::from_str(&first_message(&config, &queue.url, ARRIVAL).await)
        .expect("SNS envelope");
    assert_eq!(envelope["Type"], "Notification");
    assert_eq!(envelope["TopicArn"], topic_arn.as_str());
    assert_eq!(envelope["MessageId"], receipt.reference.as_str());
    assert_eq!(envelope["Subject"], "budget_blocked for jane@corp.com");
    let message = envelope["Message"].as_str().expect("Message");
    assert!(
        message.contains("\n  \"source\": \"sluice\""),
        "pretty-printed: {message}"
    );
    let delivered: NotificationPayload = serde_json::from_str(message).expect("payload");
    assert_eq!(delivered, payload);
}

#[tokio::test]
async fn sns_to_an_unknown_topic_is_a_permanent_error() {
    let config = config();
    let missing = format!(
        "arn:aws:sns:us-east-1:123456789012:{}",
        unique_name("absent")
    );

    let err = SnsNotifier::new(&config, missing)
        .deliver(&blocked_payload())
        .await
        .expect_err("no such topic");

    assert!(
        matches!(err, NotifyError::Rejected(ref m) if m.contains("NotFound")),
        "{err}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn eventbridge_puts_the_payload_on_the_bus_and_a_rule_routes_it_to_sqs() {
    let config = config();
    let bus = messaging::bus(&config, "sluice-bus").await;
    let queue = messaging::queue(&config, "sluice-notify-eb").await;
    messaging::route_to_queue(&config, &bus, EVENT_SOURCE, &queue).await;
    let payload = blocked_payload();

    let receipt = EventBridgeNotifier::new(&config, &bus.arn)
        .deliver(&payload)
        .await
        .expect("put");

    assert!(!receipt.reference.is_empty());
    let event: Value = serde_json::from_str(&first_message(&config, &queue.url, ARRIVAL).await)
        .expect("event JSON");
    assert_eq!(event["source"], EVENT_SOURCE);
    assert_eq!(event["detail-type"], "budget_blocked");
    assert_eq!(event["id"], receipt.reference.as_str());
    let detail: NotificationPayload =
        serde_json::from_value(event["detail"].clone()).expect("detail is the payload");
    assert_eq!(detail, payload);
}

#[tokio::test]
async fn eventbridge_to_an_unknown_bus_is_an_error() {
    let config = config();
    let missing = format!(
        "arn:aws:events:us-east-1:123456789012:event-bus/{}",
        unique_name("absent")
    );

    let err = EventBridgeNotifier::new(&config, missing)
        .deliver(&blocked_payload())
        .await
        .expect_err("no such bus");

    // The missing bus is a ResourceNotFoundException, whether reported for the call or for the entry
    // (FailedEntryCount 1); either way no retry can fix it.
    assert!(
        matches!(err, NotifyError::Rejected(ref m) if m.contains("NotFound")),
        "{err}"
    );
    assert!(!err.is_retryable());
}
