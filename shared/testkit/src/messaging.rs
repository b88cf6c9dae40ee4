//! SNS topics, EventBridge buses and SQS queues for a test (unique names, made through the given config, moto's
//! in the suites), and the wiring a subscriber would add so that what reaches a topic or a bus lands on a queue.

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;

use crate::unique_name;

/// A new SQS queue.
#[derive(Clone, Debug)]
pub struct Queue {
    pub url: String,
    pub arn: String,
}

/// A new EventBridge bus.
#[derive(Clone, Debug)]
pub struct Bus {
    pub name: String,
    pub arn: String,
}

/// Creates a queue named `prefix-<unique>`.
///
/// # Panics
/// When the endpoint refuses to create it or to give its ARN.
pub async fn queue(config: &SdkConfig, prefix: &str) -> Queue {
    let sqs = aws_sdk_sqs::Client::new(config);
    let url = sqs
        .create_queue()
        .queue_name(unique_name(prefix))
        .send()
        .await
        .expect("create queue")
        .queue_url()
        .expect("queue url")
        .to_owned();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .expect("QueueArn")
        .clone();
    Queue { url, arn }
}

/// Creates an SNS topic named `prefix-<unique>`; returns its ARN.
///
/// # Panics
/// When the endpoint refuses to create it.
pub async fn topic(config: &SdkConfig, prefix: &str) -> String {
    aws_sdk_sns::Client::new(config)
        .create_topic()
        .name(unique_name(prefix))
        .send()
        .await
        .expect("create topic")
        .topic_arn()
        .expect("topic arn")
        .to_owned()
}

/// Creates an EventBridge bus named `prefix-<unique>`.
///
/// # Panics
/// When the endpoint refuses to create it.
pub async fn bus(config: &SdkConfig, prefix: &str) -> Bus {
    let name = unique_name(prefix);
    let arn = aws_sdk_eventbridge::Client::new(config)
        .create_event_bus()
        .name(&name)
        .send()
        .await
        .expect("create bus")
        .event_bus_arn()
        .expect("bus arn")
        .to_owned();
    Bus { name, arn }
}

/// Subscribes `queue` to the topic `topic_arn`: each message published there arrives on the queue in SNS's
/// JSON envelope.
///
/// # Panics
/// When the endpoint refuses the subscription.
pub async fn subscribe_queue(config: &SdkConfig, topic_arn: &str, queue: &Queue) {
    aws_sdk_sns::Client::new(config)
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(&queue.arn)
        .send()
        .await
        .expect("subscribe");
}

/// Routes the events put on `bus` with `source` to `queue`: a rule matching the source, with the queue as its
/// target, so each arrives as the event's JSON.
///
/// # Panics
/// When the endpoint refuses the rule or the target.
pub async fn route_to_queue(config: &SdkConfig, bus: &Bus, source: &str, queue: &Queue) {
    let events = aws_sdk_eventbridge::Client::new(config);
    let rule = unique_name("sluice-rule");
    let pattern = serde_json::json!({ "source": [source] });
    events
        .put_rule()
        .name(&rule)
        .event_bus_name(&bus.name)
        .event_pattern(pattern.to_string())
        .send()
        .await
        .expect("put rule");
    events
        .put_targets()
        .rule(&rule)
        .event_bus_name(&bus.name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(&queue.arn)
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("put targets");
}
