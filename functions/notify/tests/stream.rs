//! The notify handler on stream batches built from real event items (written by `DynamoStore` in moto and read
//! back): delivery to a loopback webhook that verifies signatures, to an SNS topic and an EventBridge bus read
//! back through SQS, categories, retries and partial batch failures.

#![expect(
    clippy::disallowed_methods,
    reason = "test servers and receivers run on their own tasks"
)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use aws_lambda_events::dynamodb::Event;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sqs::types::QueueAttributeName;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use sluice_adapters::DestinationNotifiers;
use sluice_aws::DynamoStore;
use sluice_aws::notify::{AwsNotifiers, EVENT_SOURCE};
use sluice_core::notify::{
    ACTIVE_CONFIG_KEY, Backoff, BudgetDetail, BudgetPeriod, Categories, Destination, EventDetail,
    EventType, NotificationConfig, NotificationPayload, NotifyEvent, RetryPolicy, SIGNATURE_HEADER,
    WebhookPolicy, budget_event_id, verify_signature,
};
use sluice_core::store::{EventStore, SettingsStore};
use sluice_notify::{BatchReport, process};
use sluice_testkit::{MotoServer, aws_sdk_config, unique_name};

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
            tokio::time::sleep,
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

// ---- a webhook receiver on loopback -------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Inbox {
    answer: Arc<Mutex<u16>>,
    script: Arc<Mutex<VecDeque<u16>>>,
    received: Arc<Mutex<Vec<(Bytes, bool)>>>,
}

struct Receiver {
    url: String,
    inbox: Inbox,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = headers
        .get(SIGNATURE_HEADER)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let verified =
        verify_signature(SECRET, header, &body, now_s(), Duration::from_secs(300)).is_ok();
    inbox.received.lock().expect("lock").push((body, verified));
    if !verified {
        return StatusCode::UNAUTHORIZED;
    }
    let scripted = inbox.script.lock().expect("lock").pop_front();
    StatusCode::from_u16(scripted.unwrap_or_else(|| *inbox.answer.lock().expect("lock")))
        .expect("status")
}

impl Receiver {
    async fn start(answer: u16) -> Self {
        let inbox = Inbox::default();
        *inbox.answer.lock().expect("lock") = answer;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(inbox.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Self { url, inbox, task }
    }

    fn received(&self) -> Vec<(Bytes, bool)> {
        self.inbox.received.lock().expect("lock").clone()
    }
}

// ---- SQS read-back --------------------------------------------------------------------------------------------

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

// ---- tests ----------------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_event_reaches_the_webhook_signed_is_logged_and_is_not_sent_twice() {
    let fx = fixture().await;
    let receiver = Receiver::start(204).await;
    fx.activate_webhook(&receiver.url).await;
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
    let sns = aws_sdk_sns::Client::new(&fx.config);
    let sqs = aws_sdk_sqs::Client::new(&fx.config);

    // SNS topic → SQS subscription
    let topic_arn = sns
        .create_topic()
        .name(unique_name("sluice-notify"))
        .send()
        .await
        .expect("topic")
        .topic_arn()
        .expect("arn")
        .to_owned();
    let (sns_queue, sns_queue_arn) = queue(&sqs, "notify-sns").await;
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(&sns_queue_arn)
        .send()
        .await
        .expect("subscribe");
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
        serde_json::from_str(&first_message(&sqs, &sns_queue).await).expect("SNS envelope");
    assert_eq!(envelope["TopicArn"], topic_arn.as_str());
    assert_eq!(envelope["Subject"], "budget_blocked for bob@example.com");
    let message: NotificationPayload =
        serde_json::from_str(envelope["Message"].as_str().expect("Message")).expect("payload");
    assert_eq!(message, blocked.payload);

    // EventBridge bus → rule on our source → SQS target
    let events = aws_sdk_eventbridge::Client::new(&fx.config);
    let bus_name = unique_name("sluice-bus");
    let bus_arn = events
        .create_event_bus()
        .name(&bus_name)
        .send()
        .await
        .expect("bus")
        .event_bus_arn()
        .expect("arn")
        .to_owned();
    let (eb_queue, eb_queue_arn) = queue(&sqs, "notify-eb").await;
    let rule = unique_name("sluice-rule");
    events
        .put_rule()
        .name(&rule)
        .event_bus_name(&bus_name)
        .event_pattern(format!(r#"{{"source":["{EVENT_SOURCE}"]}}"#))
        .send()
        .await
        .expect("rule");
    events
        .put_targets()
        .rule(&rule)
        .event_bus_name(&bus_name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(&eb_queue_arn)
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("targets");
    fx.activate(Destination::EventBridge { bus_arn }, Categories::default())
        .await;
    let shaped = budget_event("carol", EventType::TeamBudgetShaped);
    let image = fx.stored_image(&shaped).await;

    let report = fx
        .process(vec![record("INSERT", "201", &image)], FAST)
        .await;

    assert_eq!(report.delivered, 1, "{report:?}");
    let put: Value =
        serde_json::from_str(&first_message(&sqs, &eb_queue).await).expect("event JSON");
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
    let receiver = Receiver::start(200).await;
    let first = budget_event("dave", EventType::BudgetWarning);
    let image = fx.stored_image(&first).await;

    let report = fx
        .process(vec![record("INSERT", "300", &image)], FAST)
        .await;
    assert_eq!(report.skipped, 1, "no active destination: {report:?}");
    assert!(report.failures.is_empty());

    fx.activate(
        Destination::Webhook {
            url: receiver.url.clone(),
            secret: SECRET.to_owned(),
        },
        Categories {
            budget: false,
            rate_limit: true,
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
    let receiver = Receiver::start(500).await;
    fx.activate_webhook(&receiver.url).await;
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
    *receiver.inbox.answer.lock().expect("lock") = 200;
    receiver.inbox.script.lock().expect("lock").push_back(503);
    let retried = fx
        .process(vec![record("INSERT", "400", &image)], FAST)
        .await;
    assert_eq!(retried.delivered, 1, "{retried:?}");
    let log = fx.store.recent_deliveries(5).await.expect("log");
    assert!(log[0].success);
    assert_eq!(log[0].attempts, 2);

    // A receiver that answers 404 will not change its mind: logged once, not handed back.
    *receiver.inbox.answer.lock().expect("lock") = 404;
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
    let receiver = Receiver::start(200).await;
    fx.activate_webhook(&receiver.url).await;
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
    let receiver = Receiver::start(200).await;
    fx.activate_webhook(&receiver.url).await;
    let event: Event =
        serde_json::from_str(include_str!("../../../events/notify-event-insert.json"))
            .expect("events/notify-event-insert.json is a DynamoDB stream event");

    let report = process(&fx.store, &fx.notifiers, event, FAST, tokio::time::sleep).await;

    assert_eq!(report.delivered, 1, "{report:?}");
    assert!(report.response().batch_item_failures.is_empty());
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert!(received[0].1, "signature verifies");
    let payload: NotificationPayload = serde_json::from_slice(&received[0].0).expect("payload");
    assert_eq!(payload.user_identity.as_deref(), Some("alice@example.com"));
    assert_eq!(payload.event_type, EventType::BudgetWarning);
}
