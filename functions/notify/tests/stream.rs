//! The notify handler on stream batches built from real event items (written by `DynamoStore` in moto and read
//! back): delivery to a loopback webhook that verifies signatures, to an SNS topic and an EventBridge bus read
//! back through SQS, categories, retries and partial batch failures.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use aws_lambda_events::dynamodb::Event;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use sluice_adapters::{DestinationNotifiers, OsIds, SystemClock};
use sluice_aws::DynamoStore;
use sluice_aws::notify::{AwsNotifiers, EVENT_SOURCE};
use sluice_core::notify::{
    ACTIVE_CONFIG_KEY, Backoff, BudgetDetail, BudgetPeriod, Categories, Destination, EventDetail,
    EventType, NotificationConfig, NotificationPayload, NotifyEvent, RetryPolicy, WebhookPolicy,
    budget_event_id,
};
use sluice_core::store::{EventStore, SettingsStore};
use sluice_notify::{BatchReport, process};
use sluice_testkit::poll::first_message;
use sluice_testkit::{MotoServer, WebhookReceiver, aws_sdk_config, messaging, unique_name};

const SECRET: &str = "whsec_notify_function_test";

/// Three attempts with millisecond waits.
const FAST: RetryPolicy = RetryPolicy {
    attempts: 3,
    backoff: Backoff {
        initial: Duration::from_millis(2),
        max: Duration::from_millis(5),
    },
};

fn now_s() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    i64::try_from(secs).expect("fits")
}

struct Fixture {
    config: SdkConfig,
    table: String,
    store: DynamoStore,
    notifiers: DestinationNotifiers,
}

async fn fixture() -> Fixture {
    let moto =
        MotoServer::shared().expect("moto (install with: python3 -m pip install 'moto[server]')");
    let config = aws_sdk_config(moto.endpoint_url());
    let table = unique_name("sluice-notify");
    sluice_aws::create_table(&config, &table)
        .await
        .expect("table");
    Fixture {
        store: sluice_aws::dynamo_store(&config, &table),
        // The webhook receiver is on loopback over plain HTTP: the test setting, on explicitly.
        notifiers: DestinationNotifiers::new(Some(Arc::new(AwsNotifiers::new(&config))))
            .with_webhook_policy(WebhookPolicy::AllowPrivate),
        config,
        table,
    }
}

fn budget_event(user: &str, event_type: EventType) -> NotifyEvent {
    let now = Utc::now();
    let period_start = Utc
        .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .expect("date");
    let payload = NotificationPayload::new(
        event_type,
        Some(format!("{user}@example.com")),
        Some("t_platform".to_owned()),
        Some("platform".to_owned()),
        EventDetail::Budget(BudgetDetail::from_micros(
            80,
            41_000_000,
            50_000_000,
            BudgetPeriod::Monthly,
            period_start,
        )),
        now,
    );
    NotifyEvent {
        id: budget_event_id("user", &unique_name(user), "m2026-11", 80),
        created_at_ms: now.timestamp_millis(),
        payload,
    }
}

impl Fixture {
    async fn activate(&self, destination: Destination, categories: Categories) {
        let config = NotificationConfig {
            id: unique_name("notif"),
            destination,
            categories,
            last_tested_at_ms: Some(1),
            last_test_success: Some(true),
            last_test_error: None,
            created_at_ms: 1,
            updated_at_ms: 1,
        };
        self.store
            .put_setting(
                ACTIVE_CONFIG_KEY,
                &serde_json::to_string(&config).expect("json"),
            )
            .await
            .expect("active config");
    }

    async fn activate_webhook(&self, url: &str) {
        self.activate(
            Destination::Webhook {
                url: url.to_owned(),
                secret: SECRET.to_owned(),
            },
            Categories::default(),
        )
        .await;
    }

    /// Stores `event` as the gateway's spend consumer would, and returns the item as it is in the table.
    async fn stored_image(&self, event: &NotifyEvent) -> serde_dynamo::Item {
        assert!(
            self.store.put_event_if_new(event).await.expect("put"),
            "new event"
        );
        let items = aws_sdk_dynamodb::Client::new(&self.config)
            .scan()
            .table_name(&self.table)
            .filter_expression("item_type = :t")
            .expression_attribute_values(":t", AttributeValue::S("notify_event".to_owned()))
            .send()
            .await
            .expect("scan")
            .items
            .unwrap_or_default();
        let item = items
            .into_iter()
            .find(|item| {
                sluice_aws::dynamo::notify_event_from_item(item).is_ok_and(|e| e.id == event.id)
            })
            .expect("the event item");
        item.into()
    }

    async fn process(&self, records: Vec<Value>, retry: RetryPolicy) -> BatchReport {
        let event: Event =
            serde_json::from_value(json!({ "Records": records })).expect("stream event");
        process(
            &self.store,
            &self.notifiers,
            event,
            retry,
            &SystemClock,
            &OsIds,
        )
        .await
    }
}

/// A stream record as Lambda hands it over.
fn record(event_name: &str, sequence: &str, image: &serde_dynamo::Item) -> Value {
    json!({
        "eventID": format!("id-{sequence}"),
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": now_s(),
            "NewImage": image,
            "SequenceNumber": sequence,
            "SizeBytes": 512,
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/sluice/stream/2026-11-01T00:00:00.000"
    })
}

fn failed_sequences(report: &BatchReport) -> Vec<String> {
    report
        .response()
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier.expect("sequence number"))
        .collect()
}

/// How long a delivery may take to reach the subscriber's queue.
const ARRIVAL: Duration = Duration::from_secs(5);

// ---- tests ----------------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_event_reaches_the_webhook_signed_is_logged_and_is_not_sent_twice() {
    let fx = fixture().await;
    let receiver = WebhookReceiver::start(SECRET, 204).await;
    fx.activate_webhook(receiver.url()).await;
    let event = budget_event("alice", EventType::BudgetWarning);
    let image = fx.stored_image(&event).await;

    let report = fx
        .process(vec![record("INSERT", "100", &image)], FAST)
        .await;

    assert_eq!(report.delivered, 1, "{report:?}");
    assert!(report.failures.is_empty(), "{report:?}");
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let (body, verified) = &received[0];
    assert!(
        verified,
        "x-sluice-signature verifies with the destination's secret"
    );
    let delivered: NotificationPayload = serde_json::from_slice(body).expect("payload");
    assert_eq!(delivered, event.payload);
    let log = fx.store.recent_deliveries(5).await.expect("log");
    assert_eq!(log[0].event_id, event.id);
    assert!(log[0].success);
    assert_eq!(log[0].attempts, 1);
    assert_eq!(log[0].destination_type, "webhook");

    // WHEN Lambda sends the record again (a later record of its batch failed) THEN it is not delivered twice.
    let again = fx
        .process(vec![record("INSERT", "100", &image)], FAST)
        .await;
    assert_eq!(again.already_delivered, 1, "{again:?}");
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn events_reach_an_sns_topic_and_an_eventbridge_bus_as_subscribers_see_them() {
    let fx = fixture().await;

    // SNS topic → SQS subscription
    let topic_arn = messaging::topic(&fx.config, "sluice-notify").await;
    let sns_queue = messaging::queue(&fx.config, "notify-sns").await;
    messaging::subscribe_queue(&fx.config, &topic_arn, &sns_queue).await;
    fx.activate(
        Destination::Sns {
            topic_arn: topic_arn.clone(),
        },
        Categories::default(),
    )
    .await;
    let blocked = budget_event("bob", EventType::BudgetBlocked);
    let image = fx.stored_image(&blocked).await;

    let report = fx
        .process(vec![record("INSERT", "200", &image)], FAST)
        .await;

    assert_eq!(report.delivered, 1, "{report:?}");
    let envelope: Value =
        serde_json::from_str(&first_message(&fx.config, &sns_queue.url, ARRIVAL).await)
            .expect("SNS envelope");
    assert_eq!(envelope["TopicArn"], topic_arn.as_str());
    assert_eq!(envelope["Subject"], "budget_blocked for bob@example.com");
    let message: NotificationPayload =
        serde_json::from_str(envelope["Message"].as_str().expect("Message")).expect("payload");
    assert_eq!(message, blocked.payload);

    // EventBridge bus → rule on our source → SQS target
    let bus = messaging::bus(&fx.config, "sluice-bus").await;
    let eb_queue = messaging::queue(&fx.config, "notify-eb").await;
    messaging::route_to_queue(&fx.config, &bus, EVENT_SOURCE, &eb_queue).await;
    fx.activate(
        Destination::EventBridge { bus_arn: bus.arn },
        Categories::default(),
    )
    .await;
    let shaped = budget_event("carol", EventType::TeamBudgetShaped);
    let image = fx.stored_image(&shaped).await;

    let report = fx
        .process(vec![record("INSERT", "201", &image)], FAST)
        .await;

    assert_eq!(report.delivered, 1, "{report:?}");
    let put: Value = serde_json::from_str(&first_message(&fx.config, &eb_queue.url, ARRIVAL).await)
        .expect("event JSON");
    assert_eq!(put["source"], EVENT_SOURCE);
    assert_eq!(put["detail-type"], "team_budget_shaped");
    let detail: NotificationPayload =
        serde_json::from_value(put["detail"].clone()).expect("detail");
    assert_eq!(detail, shaped.payload);
    let log = fx.store.recent_deliveries(5).await.expect("log");
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|r| r.success));
}

#[tokio::test]
async fn events_of_a_disabled_category_or_without_a_destination_are_skipped_not_failed() {
    let fx = fixture().await;
    let receiver = WebhookReceiver::start(SECRET, 200).await;
    let first = budget_event("dave", EventType::BudgetWarning);
    let image = fx.stored_image(&first).await;

    let report = fx
        .process(vec![record("INSERT", "300", &image)], FAST)
        .await;
    assert_eq!(report.skipped, 1, "no active destination: {report:?}");
    assert!(report.failures.is_empty());

    fx.activate(
        Destination::Webhook {
            url: receiver.url().to_owned(),
            secret: SECRET.to_owned(),
        },
        Categories {
            budget: false,
            rate_limit: true,
            policy_refusal: false,
        },
    )
    .await;
    let report = fx
        .process(vec![record("INSERT", "300", &image)], FAST)
        .await;

    assert_eq!(report.skipped, 1, "budget is off: {report:?}");
    assert!(report.failures.is_empty());
    assert!(receiver.received().is_empty());
    assert!(fx.store.recent_deliveries(5).await.expect("log").is_empty());
}

#[tokio::test]
async fn a_failing_webhook_is_retried_logged_and_its_record_handed_back_a_refusal_is_only_logged() {
    let fx = fixture().await;
    let receiver = WebhookReceiver::start(SECRET, 500).await;
    fx.activate_webhook(receiver.url()).await;
    let event = budget_event("erin", EventType::BudgetBlocked);
    let image = fx.stored_image(&event).await;

    let report = fx
        .process(vec![record("INSERT", "400", &image)], FAST)
        .await;

    assert_eq!(failed_sequences(&report), ["400"], "{report:?}");
    assert!(!report.failures[0].poison);
    assert!(report.failures[0].reason.contains("HTTP 500"), "{report:?}");
    assert_eq!(receiver.received().len(), 3, "every attempt was made");
    let log = fx.store.recent_deliveries(5).await.expect("log");
    assert_eq!(log[0].event_id, event.id);
    assert_eq!(log[0].attempts, 3);
    assert!(!log[0].success);
    assert!(
        log[0].error.as_deref().unwrap_or_default().contains("500"),
        "{log:?}"
    );

    // The receiver recovers: the stream's retry delivers the event.
    receiver.answer(200);
    receiver.script(&[503]);
    let retried = fx
        .process(vec![record("INSERT", "400", &image)], FAST)
        .await;
    assert_eq!(retried.delivered, 1, "{retried:?}");
    let log = fx.store.recent_deliveries(5).await.expect("log");
    assert!(log[0].success);
    assert_eq!(log[0].attempts, 2);

    // A receiver that answers 404 will not change its mind: logged once, not handed back.
    receiver.answer(404);
    let other = budget_event("frank", EventType::BudgetWarning);
    let image = fx.stored_image(&other).await;
    let refused = fx
        .process(vec![record("INSERT", "401", &image)], FAST)
        .await;
    assert_eq!(refused.refused, 1, "{refused:?}");
    assert!(refused.failures.is_empty());
    let log = fx.store.recent_deliveries(5).await.expect("log");
    assert_eq!(log[0].event_id, other.id);
    assert_eq!(log[0].attempts, 1);
}

#[tokio::test]
async fn a_record_that_does_not_decode_fails_alone_and_other_items_are_ignored() {
    let fx = fixture().await;
    let receiver = WebhookReceiver::start(SECRET, 200).await;
    fx.activate_webhook(receiver.url()).await;
    let good = budget_event("gina", EventType::BudgetWarning);
    let image = fx.stored_image(&good).await;
    let mut poison = image.clone();
    poison.insert(
        "event".to_owned(),
        serde_dynamo::AttributeValue::S("{not json".to_owned()),
    );
    let mut other_item = image.clone();
    other_item.insert(
        "item_type".to_owned(),
        serde_dynamo::AttributeValue::S("usage_applied".to_owned()),
    );

    let report = fx
        .process(
            vec![
                record("INSERT", "500", &poison),
                record("INSERT", "501", &image),
                record("INSERT", "502", &other_item),
                record("MODIFY", "503", &image),
                record("REMOVE", "504", &image),
            ],
            FAST,
        )
        .await;

    assert_eq!(failed_sequences(&report), ["500"], "{report:?}");
    assert!(report.failures[0].poison);
    assert_eq!(report.delivered, 1);
    assert_eq!(report.skipped_not_event, 1);
    assert_eq!(report.skipped_not_insert, 2);
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn the_sample_stream_event_in_events_is_delivered() {
    let fx = fixture().await;
    let receiver = WebhookReceiver::start(SECRET, 200).await;
    fx.activate_webhook(receiver.url()).await;
    let event: Event =
        serde_json::from_str(include_str!("../../../events/notify-event-insert.json"))
            .expect("events/notify-event-insert.json is a DynamoDB stream event");

    let report = process(&fx.store, &fx.notifiers, event, FAST, &SystemClock, &OsIds).await;

    assert_eq!(report.delivered, 1, "{report:?}");
    assert!(report.response().batch_item_failures.is_empty());
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert!(received[0].1, "signature verifies");
    let payload: NotificationPayload = serde_json::from_slice(&received[0].0).expect("payload");
    assert_eq!(payload.user_identity.as_deref(), Some("alice@example.com"));
    assert_eq!(payload.event_type, EventType::BudgetWarning);
}
