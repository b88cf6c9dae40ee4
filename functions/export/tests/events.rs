//! Every sample event of the export function in `events/` is an export request the handler accepts, so
//! `cargo lambda invoke --data-file` and `aws lambda invoke` use files the function understands.

use chrono::{DateTime, NaiveDate, Utc};
use sluice_export::ExportRequest;

macro_rules! event {
    ($name:literal) => {
        ($name, include_str!(concat!("../../../events/", $name)))
    };
}

const EVENTS: &[(&str, &str)] = &[
    event!("export-schedule.json"),
    event!("export-backfill.json"),
];

fn request(name: &str, json: &str) -> ExportRequest {
    let value: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{name}: not JSON: {e}"));
    ExportRequest::from_event(value).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn d(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

#[test]
fn every_export_event_file_is_listed_here() {
    let count = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events"))
        .expect("events dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("export-"))
        })
        .count();
    assert_eq!(count, EVENTS.len());
}

#[test]
fn the_schedule_event_is_an_eventbridge_scheduled_event_for_the_day_before() {
    let (name, json) = EVENTS[0];
    let value: serde_json::Value = serde_json::from_str(json).expect("json");
    assert_eq!(value["detail-type"], "Scheduled Event", "{name}");
    assert_eq!(value["source"], "aws.events", "{name}");
    let now: DateTime<Utc> = "2026-11-04T00:20:03Z".parse().expect("time");
    assert_eq!(
        request(name, json).days(now).expect("days"),
        [d("2026-11-03")]
    );
}

#[test]
fn the_backfill_event_asks_for_a_whole_month() {
    let (name, json) = EVENTS[1];
    let now: DateTime<Utc> = "2026-11-04T09:00:00Z".parse().expect("time");
    let days = request(name, json).days(now).expect("days");
    assert_eq!(days.len(), 31, "{name}");
    assert_eq!(days.first(), Some(&d("2026-10-01")));
    assert_eq!(days.last(), Some(&d("2026-10-31")));
}
