//! Every sample stream event in `events/` for the two stream functions parses as the Lambda DynamoDB event type,
//! and its item images decode with the store's own decoders, so `cargo lambda invoke --data-file` and the
//! functions' tests use files the runtime would accept.

use std::collections::HashMap;

use aws_lambda_events::dynamodb::Event;
use serde_dynamo::AttributeValue;

macro_rules! event {
    ($name:literal) => {
        ($name, include_str!(concat!("../../../events/", $name)))
    };
}

const SPEND_EVENTS: &[(&str, &str)] = &[event!("spend-usage-batch.json")];
const NOTIFY_EVENT: (&str, &str) = event!("notify-event-insert.json");

fn parse(name: &str, json: &str) -> Event {
    serde_json::from_str(json)
        .unwrap_or_else(|e| panic!("{name}: not a DynamoDB stream event: {e}"))
}

fn item_type(image: &serde_dynamo::Item) -> Option<&str> {
    match image.get("item_type") {
        Some(AttributeValue::S(t)) => Some(t),
        _ => None,
    }
}

fn count_files(prefix: &str) -> usize {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events"))
        .expect("events dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with(prefix))
        })
        .count()
}

#[test]
fn every_spend_event_file_is_listed_here() {
    assert_eq!(count_files("spend-"), SPEND_EVENTS.len());
    assert_eq!(count_files("notify-"), 1);
}

#[test]
fn spend_events_parse_and_their_usage_images_decode_except_the_poison_one() {
    for (name, json) in SPEND_EVENTS {
        let event = parse(name, json);
        assert!(!event.records.is_empty(), "{name}");
        let mut sequence_numbers = Vec::new();
        for record in &event.records {
            let sequence = record.change.sequence_number.clone().unwrap_or_else(|| {
                panic!("{name}: record {} without SequenceNumber", record.event_id)
            });
            sequence_numbers.push(sequence);
            assert_eq!(
                record.event_source.as_deref(),
                Some("aws:dynamodb"),
                "{name}"
            );
            if item_type(&record.change.new_image) != Some("usage") {
                continue;
            }
            let image: HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
                record.change.new_image.clone().into();
            let decoded = sluice_aws::dynamo::usage_record_from_item(image);
            let poison = record.change.new_image.get("pk")
                == Some(&AttributeValue::S("USAGE#req_011CV1p0ison".into()));
            assert_eq!(
                decoded.is_err(),
                poison,
                "{name} {}: {decoded:?}",
                record.event_id
            );
        }
        let mut sorted = sequence_numbers.clone();
        sorted.sort_by_key(|s| (s.len(), s.clone()));
        sorted.dedup();
        assert_eq!(
            sorted, sequence_numbers,
            "{name}: sequence numbers ascend, unique"
        );
    }
}

#[test]
fn notify_event_file_carries_one_event_item_that_decodes() {
    let (name, json) = NOTIFY_EVENT;
    let event = parse(name, json);
    assert_eq!(event.records.len(), 1, "{name}");
    let record = &event.records[0];
    assert_eq!(record.event_name, "INSERT");
    assert_eq!(item_type(&record.change.new_image), Some("notify_event"));
    let image: HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
        record.change.new_image.clone().into();
    let decoded = sluice_aws::dynamo::notify_event_from_item(&image).expect("event decodes");
    assert_eq!(decoded.id, "budget#user#u_alice#d2026-11-22#80");
    assert_eq!(
        record.change.new_image.get("pk"),
        Some(&AttributeValue::S(format!("EVENT#{}", decoded.id)))
    );
}
