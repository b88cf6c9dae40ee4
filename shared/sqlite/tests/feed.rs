//! The local change feed: every new usage record and event appears once, in write order, after a cursor.

use chrono::Utc;
use sluice_core::notify::{NotificationPayload, NotifyEvent};
use sluice_core::store::{EventStore, UsageStore};
use sluice_sqlite::{Change, FeedKind, SqliteStore};
use sluice_testkit::contract::builders::new_usage;

#[tokio::test]
async fn new_usage_and_events_reach_the_feed_once_in_order() {
    let store = SqliteStore::open_in_memory().expect("store");
    let first = new_usage(1_000);
    let second = new_usage(2_000);
    assert!(store.put_usage(&first).await.expect("put"));
    assert!(store.put_usage(&second).await.expect("put"));
    // A retried write stores nothing, so it adds nothing to the feed.
    assert!(!store.put_usage(&first).await.expect("put again"));
    let event = NotifyEvent {
        id: "budget#user#u#d2026-11-22#80".into(),
        created_at_ms: 5,
        payload: NotificationPayload::synthetic(Utc::now()),
    };
    assert!(store.put_event_if_new(&event).await.expect("event"));
    assert!(!store.put_event_if_new(&event).await.expect("event again"));

    let usage = store
        .changes_after(FeedKind::Usage, 0, 10)
        .await
        .expect("feed");
    let ids: Vec<String> = usage
        .iter()
        .map(|(_, change)| match change {
            Change::Usage(record) => record.request_id.clone(),
            other => panic!("unexpected change {other:?}"),
        })
        .collect();
    assert_eq!(ids, [first.request_id.clone(), second.request_id.clone()]);

    let cursor = usage[0].0;
    let rest = store
        .changes_after(FeedKind::Usage, cursor, 10)
        .await
        .expect("feed after cursor");
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].0, usage[1].0);

    let events = store
        .changes_after(FeedKind::Event, 0, 10)
        .await
        .expect("events");
    assert_eq!(events.len(), 1);
    assert!(matches!(&events[0].1, Change::Event(e) if e.id == event.id));
}
