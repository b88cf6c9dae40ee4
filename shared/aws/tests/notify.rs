//! SNS and EventBridge delivery against moto, read back through SQS as a subscriber would see it.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::Utc;
use serde_json::Value;
use sluice_aws::notify::{EVENT_SOURCE, EventBridgeNotifier, SnsNotifier};
use sluice_core::notify::{
    BudgetDetail, BudgetPeriod, EventDetail, EventType, NotificationPayload, Notifier, NotifyError,
};
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

/// A new queue: (url, ARN).
async fn queue(sqs: &aws_sdk_sqs::Client, prefix: &str) -> (String, String) {
    let url = sqs
        .create_queue()
        .queue_name(unique_name(prefix))
        .send()
        .await
        .expect("create queue")
        .queue_url()
        .expect("queue url")
        .to_owned();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes");
    let arn = attributes
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .expect("QueueArn")
        .clone();
    (url, arn)
}

/// The first message body on the queue, polling for up to five seconds.
async fn first_message(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    for _ in 0..50 {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive");
        if let Some(body) = out.messages().first().and_then(|m| m.body()) {
            return body.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no message arrived on {url}");
}

#[tokio::test]
async fn sns_publishes_the_pretty_payload_with_a_subject_to_subscribers() {
    let config = config();
    let sns = aws_sdk_sns::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let topic_arn = sns
        .create_topic()
        .name(unique_name("sluice-notify"))
        .send()
        .await
        .expect("create topic")
        .topic_arn()
        .expect("topic arn")
        .to_owned();
    let (queue_url, queue_arn) = queue(&sqs, "sluice-notify-sns").await;
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .send()
        .await
        .expect("subscribe");
    let payload = blocked_payload();

    let receipt = SnsNotifier::new(&config, &topic_arn)
        .deliver(&payload)
        .await
        .expect("published");

    assert!(!receipt.reference.is_empty());
    let envelope: Value =
        serde_json::from_str(&first_message(&sqs, &queue_url).await).expect("SNS envelope");
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
    let events = aws_sdk_eventbridge::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let bus_name = unique_name("sluice-bus");
    let bus_arn = events
        .create_event_bus()
        .name(&bus_name)
        .send()
        .await
        .expect("create bus")
        .event_bus_arn()
        .expect("bus arn")
        .to_owned();
    let (queue_url, queue_arn) = queue(&sqs, "sluice-notify-eb").await;
    let rule = unique_name("sluice-rule");
    events
        .put_rule()
        .name(&rule)
        .event_bus_name(&bus_name)
        .event_pattern(format!(r#"{{"source":["{EVENT_SOURCE}"]}}"#))
        .send()
        .await
        .expect("put rule");
    events
        .put_targets()
        .rule(&rule)
        .event_bus_name(&bus_name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(&queue_arn)
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("put targets");
    let payload = blocked_payload();

    let receipt = EventBridgeNotifier::new(&config, &bus_arn)
        .deliver(&payload)
        .await
        .expect("put");

    assert!(!receipt.reference.is_empty());
    let event: Value =
        serde_json::from_str(&first_message(&sqs, &queue_url).await).expect("event JSON");
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
