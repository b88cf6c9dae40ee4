//! Spend counters, applied markers, events and deliveries on DynamoDB: the one transaction and the one batch
//! read the layout promises, the items as stored, and the stream-image decoders the Lambda consumers call.

use std::collections::BTreeMap;

use serde_json::json;
use sluice_core::notify::{DeliveryRecord, NotificationPayload, NotifyEvent};
use sluice_core::spend::ledger::{CounterAdd, SpendDelta};
use sluice_core::store::{EventStore, SpendStore, StoreError, UsageStore};
use sluice_testkit::contract::builders::{new_scope, new_usage};

use crate::support::{CallRecorder, fresh_store, moto_client, n, raw_item, s};

fn add(key: &str, family: &str, adds: &[(&str, u64)]) -> CounterAdd {
    CounterAdd {
        key: key.to_owned(),
        family: family.to_owned(),
        adds: adds.iter().map(|(f, v)| ((*f).to_owned(), *v)).collect(),
    }
}

fn delta(request_id: &str, counters: Vec<CounterAdd>) -> SpendDelta {
    SpendDelta {
        request_id: request_id.to_owned(),
        marker_expires_at_s: 1_800_000_000,
        counters,
    }
}

async fn values(store: &dyn SpendStore, key: &str) -> BTreeMap<String, u64> {
    let (_, counters) = store
        .budget_inputs(&[], &[key.to_owned()])
        .await
        .expect("budget_inputs");
    counters
        .get(key)
        .map(|c| c.values.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn apply_spend_is_one_transaction_marker_first_fields_through_placeholders() {
    let recorder = CallRecorder::default();
    let store = fresh_store(moto_client(Some(recorder.clone()))).await;
    let (request_id, key) = (new_scope("req"), new_scope("rollup#h#key"));
    let d = delta(
        &request_id,
        vec![
            add(&key, "fam", &[("requests", 1), ("tool.Bash", 2)]),
            add(&format!("{key}#other"), "fam", &[("requests", 1)]),
        ],
    );
    recorder.take();

    assert!(store.apply_spend(&d).await.expect("apply"));

    let (operation, body) = recorder.take_single();
    assert_eq!(operation, "TransactWriteItems");
    let items = body["TransactItems"].as_array().expect("TransactItems");
    assert_eq!(items.len(), 3, "the marker and one update per counter");
    let marker = &items[0]["Put"];
    assert_eq!(
        marker["ConditionExpression"],
        json!("attribute_not_exists(pk)")
    );
    assert_eq!(
        marker["Item"]["pk"],
        json!({"S": format!("APPLIED#{request_id}")})
    );
    let update = &items[1]["Update"];
    assert_eq!(update["Key"]["pk"], json!({"S": format!("SPEND#{key}")}));
    assert_eq!(
        update["UpdateExpression"],
        json!("ADD #f0 :v0, #f1 :v1 SET gsi1pk = :fam, gsi1sk = :key, item_type = :t")
    );
    assert_eq!(
        update["ExpressionAttributeNames"],
        json!({"#f0": "c_requests", "#f1": "c_tool.Bash"})
    );
    assert_eq!(
        update["ExpressionAttributeValues"][":v1"],
        json!({"N": "2"})
    );

    assert!(
        !store.apply_spend(&d).await.expect("replay"),
        "the marker's failed condition reads as already applied"
    );
    assert_eq!(recorder.take_operations(), ["TransactWriteItems"]);
}

#[tokio::test]
async fn counter_and_marker_items_carry_the_documented_attributes() {
    let client = moto_client(None);
    let store = fresh_store(client.clone()).await;
    let (request_id, key, family) = (
        new_scope("req"),
        new_scope("spend#user"),
        new_scope("spend#m"),
    );
    store
        .apply_spend(&delta(
            &request_id,
            vec![add(&key, &family, &[("cost_micros", 7), ("tool.Bash", 1)])],
        ))
        .await
        .expect("apply");

    let counter = raw_item(&client, store.table(), format!("SPEND#{key}"), "SPEND")
        .await
        .expect("counter item");
    assert_eq!(counter.get("item_type"), Some(&s("spend_counter")));
    assert_eq!(counter.get("gsi1pk"), Some(&s(&family)));
    assert_eq!(counter.get("gsi1sk"), Some(&s(&key)));
    assert_eq!(counter.get("c_cost_micros"), Some(&n(7)));
    assert_eq!(
        counter.get("c_tool.Bash"),
        Some(&n(1)),
        "a dotted field is one top-level attribute, not a path"
    );
    assert_eq!(counter.get("expires_at"), None, "counters do not expire");

    let marker = raw_item(
        &client,
        store.table(),
        format!("APPLIED#{request_id}"),
        "APPLIED",
    )
    .await
    .expect("marker item");
    assert_eq!(marker.get("item_type"), Some(&s("spend_applied")));
    assert_eq!(marker.get("expires_at"), Some(&n(1_800_000_000)));
}

#[tokio::test]
async fn one_counter_twice_in_a_delta_is_one_update_that_adds_both() {
    let recorder = CallRecorder::default();
    let store = fresh_store(moto_client(Some(recorder.clone()))).await;
    let key = new_scope("spend#org");
    let d = delta(
        &new_scope("req"),
        vec![
            add(&key, "fam", &[("requests", 1), ("cost_micros", 5)]),
            add(&key, "fam", &[("requests", 1)]),
            add(&new_scope("empty"), "fam", &[]),
        ],
    );
    recorder.take();

    assert!(store.apply_spend(&d).await.expect("apply"));

    let (_, body) = recorder.take_single();
    assert_eq!(
        body["TransactItems"].as_array().map(Vec::len),
        Some(2),
        "one update for the repeated counter (DynamoDB refuses two on one item), none for empty additions"
    );
    assert_eq!(
        values(&store, &key).await,
        BTreeMap::from([("cost_micros".to_owned(), 5), ("requests".to_owned(), 2)])
    );
}

#[tokio::test]
async fn more_counters_than_a_transaction_holds_are_refused_without_a_request() {
    let recorder = CallRecorder::default();
    let store = fresh_store(moto_client(Some(recorder.clone()))).await;
    let counters = |count: usize| {
        (0..count)
            .map(|i| {
                add(
                    &format!("{}#{i}", new_scope("k")),
                    "fam",
                    &[("requests", 1)],
                )
            })
            .collect::<Vec<_>>()
    };
    recorder.take();

    let refused = store
        .apply_spend(&delta(&new_scope("req"), counters(100)))
        .await;
    assert!(
        matches!(&refused, Err(StoreError::Corrupt(m)) if m.contains("100 counters")),
        "{refused:?}"
    );
    assert_eq!(recorder.take_operations(), Vec::<String>::new());

    assert!(
        store
            .apply_spend(&delta(&new_scope("req"), counters(99)))
            .await
            .expect("99 counters and the marker fit"),
    );
}

#[tokio::test]
async fn a_failed_counter_update_is_unavailable_and_applies_nothing() {
    let client = moto_client(None);
    let store = fresh_store(client.clone()).await;
    let (request_id, key) = (new_scope("req"), new_scope("spend#user"));
    // GIVEN a counter whose field is not a number, so ADD fails inside the transaction
    client
        .put_item()
        .table_name(store.table())
        .item("pk", s(&format!("SPEND#{key}")))
        .item("sk", s("SPEND"))
        .item("c_requests", s("not a number"))
        .send()
        .await
        .expect("PutItem");

    let outcome = store
        .apply_spend(&delta(
            &request_id,
            vec![add(&key, "fam", &[("requests", 1)])],
        ))
        .await;

    assert!(
        matches!(outcome, Err(StoreError::Unavailable(..))),
        "only the marker's condition means already applied: {outcome:?}"
    );
    assert_eq!(
        raw_item(
            &client,
            store.table(),
            format!("APPLIED#{request_id}"),
            "APPLIED"
        )
        .await,
        None,
        "the marker is written with the counters or not at all"
    );
}

#[tokio::test]
async fn budget_inputs_is_one_consistent_batch_get_asking_each_key_once() {
    let recorder = CallRecorder::default();
    let store = fresh_store(moto_client(Some(recorder.clone()))).await;
    let (setting, counter) = (new_scope("budget.user"), new_scope("spend#user"));
    recorder.take();

    store
        .budget_inputs(
            &[setting.clone(), setting.clone()],
            &[counter.clone(), counter, new_scope("spend#team")],
        )
        .await
        .expect("budget_inputs");

    let (operation, body) = recorder.take_single();
    assert_eq!(operation, "BatchGetItem");
    let request = &body["RequestItems"][store.table()];
    assert_eq!(request["ConsistentRead"], json!(true));
    assert_eq!(request["Keys"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        request["Keys"][0],
        json!({"pk": {"S": format!("SETTING#{setting}")}, "sk": {"S": "SETTING"}})
    );
}

fn event(id: &str, created_at_ms: i64) -> NotifyEvent {
    NotifyEvent {
        id: id.to_owned(),
        created_at_ms,
        payload: NotificationPayload::synthetic(chrono::Utc::now()),
    }
}

#[tokio::test]
async fn event_items_are_listed_by_time_and_decode_from_their_image() {
    let client = moto_client(None);
    let store = fresh_store(client.clone()).await;
    let e = event(&new_scope("budget#user"), 1_795_339_800_123);
    assert!(store.put_event_if_new(&e).await.expect("put"));

    let item = raw_item(&client, store.table(), format!("EVENT#{}", e.id), "EVENT")
        .await
        .expect("event item");
    assert_eq!(
        item.get("item_type"),
        Some(&s("notify_event")),
        "the notify function's stream filter matches this value"
    );
    assert_eq!(
        sluice_aws::dynamo::layout::item_type::NOTIFY_EVENT,
        "notify_event"
    );
    assert_eq!(item.get("gsi1pk"), Some(&s("EVENTS")));
    assert_eq!(
        item.get("gsi1sk"),
        Some(&s(&format!("00000001795339800123#{}", e.id)))
    );
    assert_eq!(sluice_aws::dynamo::notify_event_from_item(&item), Ok(e));
    assert!(
        sluice_aws::dynamo::notify_event_from_item(&raw_item_without_type(item)).is_err(),
        "an image of another family is refused"
    );
}

fn raw_item_without_type(
    mut item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    item.insert("item_type".to_owned(), s("usage"));
    item
}

#[tokio::test]
async fn usage_items_decode_from_their_image() {
    let client = moto_client(None);
    let store = fresh_store(client.clone()).await;
    let record = new_usage(1_795_339_800_000);
    assert!(store.put_usage(&record).await.expect("put"));

    let item = raw_item(
        &client,
        store.table(),
        format!("USAGE#{}", record.request_id),
        "USAGE",
    )
    .await
    .expect("usage item");
    assert_eq!(item.get("item_type"), Some(&s("usage")));
    assert_eq!(
        sluice_aws::dynamo::layout::item_type::USAGE,
        "usage",
        "the spend function's stream filter matches this value"
    );
    assert_eq!(sluice_aws::dynamo::usage_record_from_item(item), Ok(record));
}

#[tokio::test]
async fn delivery_items_expire_after_90_days_and_listings_are_one_descending_query() {
    let recorder = CallRecorder::default();
    let client = moto_client(Some(recorder.clone()));
    let store = fresh_store(client.clone()).await;
    let record = DeliveryRecord {
        id: format!("{:015}#{}", 1_795_339_800_500_i64, new_scope("d")),
        event_id: "test".into(),
        event_type: "test".into(),
        destination_type: "webhook".into(),
        destination_value: "https://hooks.example.com/sluice".into(),
        at_ms: 1_795_339_800_500,
        attempts: 1,
        success: true,
        reference: Some("HTTP 204".into()),
        error: None,
        duration_ms: 9,
    };
    store.put_delivery(&record).await.expect("put");

    let item = raw_item(
        &client,
        store.table(),
        format!("DELIVERY#{}", record.id),
        "DELIVERY",
    )
    .await
    .expect("delivery item");
    assert_eq!(item.get("item_type"), Some(&s("notify_delivery")));
    assert_eq!(item.get("gsi1pk"), Some(&s("DELIVERIES")));
    assert_eq!(
        item.get("expires_at"),
        Some(&n(1_795_339_800 + 90 * 86_400))
    );
    recorder.take();

    assert_eq!(store.recent_deliveries(5).await.expect("recent"), [record]);
    let (operation, body) = recorder.take_single();
    assert_eq!(operation, "Query");
    assert_eq!(body["IndexName"], json!("gsi1"));
    assert_eq!(body["ScanIndexForward"], json!(false));
    assert_eq!(body["Limit"], json!(5));

    assert!(store.recent_events(0).await.expect("none").is_empty());
    assert_eq!(
        recorder.take_operations(),
        Vec::<String>::new(),
        "a zero limit asks nothing"
    );
}
