//! `EventStore` behaviours: events deduplicated by id, newest-first listings of events and deliveries. Cases
//! create their own items with times later than any other case's, so "newest" is theirs on a shared store.

use std::sync::Arc;

use chrono::Utc;
use sluice_core::notify::{DeliveryRecord, NotificationPayload, NotifyEvent};
use sluice_core::store::Store;
use uuid::Uuid;

fn event(id: &str, created_at_ms: i64) -> NotifyEvent {
    NotifyEvent {
        id: id.to_owned(),
        created_at_ms,
        payload: NotificationPayload::synthetic(Utc::now()),
    }
}

fn delivery(at_ms: i64, success: bool) -> DeliveryRecord {
    DeliveryRecord {
        id: format!("{at_ms:015}#{}", &Uuid::new_v4().simple().to_string()[..8]),
        event_id: format!("budget#user#{}#d2026-11-22#80", Uuid::new_v4().simple()),
        event_type: "budget_warning".into(),
        destination_type: "webhook".into(),
        destination_value: "https://hooks.example.com/sluice".into(),
        at_ms,
        attempts: if success { 1 } else { 3 },
        success,
        reference: success.then(|| "HTTP 204".to_owned()),
        error: (!success).then(|| "destination answered HTTP 500: boom".to_owned()),
        duration_ms: 12,
    }
}

/// A time after everything the other cases write (they use the present), unique per call.
fn future_ms(offset: i64) -> i64 {
    4_000_000_000_000 + i64::from(Uuid::new_v4().as_fields().1) * 1_000 + offset
}

pub async fn an_event_is_stored_once_and_found_by_id(store: Arc<dyn Store>) {
    let id = format!("budget#user#{}#m2026-11#80", Uuid::new_v4().simple());
    let first = event(&id, 1_000);
    assert!(
        store.put_event_if_new(&first).await.expect("put"),
        "stored the first time"
    );
    let mut again = event(&id, 2_000);
    again.payload.team_name = Some("changed".into());
    assert!(
        !store.put_event_if_new(&again).await.expect("put again"),
        "the same id is refused"
    );
    assert_eq!(store.event_by_id(&id).await.expect("get"), Some(first));
    assert_eq!(
        store.event_by_id("budget#none").await.expect("get absent"),
        None
    );
}

pub async fn recent_events_are_newest_first_and_limited(store: Arc<dyn Store>) {
    let base = future_ms(0);
    let ids: Vec<String> = (0..3)
        .map(|i| format!("rate_limit#{}#{i}", Uuid::new_v4().simple()))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let at = base + i64::try_from(i).expect("small") * 10;
        assert!(store.put_event_if_new(&event(id, at)).await.expect("put"));
    }
    let recent = store.recent_events(2).await.expect("recent");
    let got: Vec<&str> = recent.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(got, [ids[2].as_str(), ids[1].as_str()]);
}

pub async fn deliveries_are_logged_newest_first_and_limited(store: Arc<dyn Store>) {
    let base = future_ms(0);
    let older = delivery(base, false);
    let newer = delivery(base + 5, true);
    store.put_delivery(&older).await.expect("older");
    store.put_delivery(&newer).await.expect("newer");
    let recent = store.recent_deliveries(2).await.expect("recent");
    assert_eq!(recent, [newer.clone(), older]);
    assert_eq!(store.recent_deliveries(1).await.expect("one"), [newer]);
}
