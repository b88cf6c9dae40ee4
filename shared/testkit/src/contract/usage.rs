//! `UsageStore` behaviours. Range cases work in a random UTC day of their own and only look at their own
//! request ids, so they pass on a store shared with other cases.

use std::sync::Arc;

use serde_json::json;
use sluice_core::spend::UsageRecord;
use sluice_core::store::Store;

use super::builders::{new_full_usage, new_usage, new_usage_day_start};

const MS_PER_DAY: i64 = 86_400_000;

async fn put(store: &dyn Store, record: &UsageRecord) -> bool {
    store
        .put_usage(record)
        .await
        .unwrap_or_else(|e| panic!("put_usage({}) failed: {e}", record.request_id))
}

async fn get(store: &dyn Store, request_id: &str) -> Option<UsageRecord> {
    store
        .usage_by_request(request_id)
        .await
        .unwrap_or_else(|e| panic!("usage_by_request({request_id}) failed: {e}"))
}

pub async fn put_then_get_by_request_id(store: Arc<dyn Store>) {
    let record = new_full_usage(new_usage_day_start() + 1_000);
    assert!(put(&*store, &record).await, "first put stores");

    assert_eq!(get(&*store, &record.request_id).await, Some(record));
    assert_eq!(get(&*store, "req_never_stored").await, None);
}

pub async fn second_put_of_a_request_id_is_false_and_keeps_the_first(store: Arc<dyn Store>) {
    let first = new_full_usage(new_usage_day_start() + 5_000);
    assert!(put(&*store, &first).await);
    let mut retry = new_usage(first.time_ms + 60_000);
    retry.request_id.clone_from(&first.request_id);
    retry.output_tokens = 999;

    assert!(!put(&*store, &retry).await, "second put reports not stored");
    assert_eq!(get(&*store, &first.request_id).await, Some(first));
}

pub async fn between_is_from_inclusive_to_exclusive_oldest_first_across_two_days(
    store: Arc<dyn Store>,
) {
    let midnight = new_usage_day_start() + MS_PER_DAY;
    let (from, to) = (midnight - 3_600_000, midnight + 3_600_000);
    let before = new_usage(from - 1);
    let at_from = new_usage(from);
    let last_of_day = new_usage(midnight - 1);
    let first_of_next = new_full_usage(midnight);
    let before_to = new_usage(to - 1);
    let at_to = new_usage(to);
    // Written out of order, so the order read back is the store's doing.
    for record in [
        &before_to,
        &at_to,
        &first_of_next,
        &before,
        &last_of_day,
        &at_from,
    ] {
        assert!(put(&*store, record).await);
    }

    let ours: Vec<String> = [
        &before,
        &at_from,
        &last_of_day,
        &first_of_next,
        &before_to,
        &at_to,
    ]
    .iter()
    .map(|r| r.request_id.clone())
    .collect();
    let found: Vec<UsageRecord> = store
        .usage_between(from, to)
        .await
        .expect("usage_between")
        .into_iter()
        .filter(|r| ours.contains(&r.request_id))
        .collect();

    assert_eq!(found, [at_from, last_of_day, first_of_next, before_to]);
    assert!(
        store
            .usage_between(to, from)
            .await
            .expect("usage_between")
            .iter()
            .all(|r| !ours.contains(&r.request_id)),
        "an empty range finds none"
    );
}

pub async fn records_with_every_optional_field_and_with_none_round_trip(store: Arc<dyn Store>) {
    let day = new_usage_day_start();
    let full = new_full_usage(day + 10_000);
    let bare = new_usage(day + 20_000);
    assert!(put(&*store, &full).await);
    assert!(put(&*store, &bare).await);

    assert_eq!(get(&*store, &full.request_id).await.as_ref(), Some(&full));
    assert_eq!(get(&*store, &bare.request_id).await.as_ref(), Some(&bare));
    let listed: Vec<UsageRecord> = store
        .usage_between(day, day + MS_PER_DAY)
        .await
        .expect("usage_between")
        .into_iter()
        .filter(|r| r.request_id == full.request_id || r.request_id == bare.request_id)
        .collect();
    assert_eq!(listed, [full, bare], "listing decodes the same records");
}

pub async fn sanitized_record_with_former_nuls_and_unicode_round_trips(store: Arc<dyn Store>) {
    let mut record = new_full_usage(new_usage_day_start() + 30_000);
    record.request_id = format!("{}\u{0}-ü", record.request_id);
    record.user_id = Some("ada\u{0}@exämple.com".to_owned());
    record.team_id = Some("équipe-עברית-名前-𝄞\u{0}".to_owned());
    record.stop_reason = Some("\u{0}\u{0}".to_owned());
    record.tool_names = vec!["Re\u{0}ad".to_owned(), "写入🛠".to_owned()];
    record.invocation_metrics = Some(json!({"k\u{0}ey": "v\u{0}alué", "n": 1}));
    record.sanitize();
    assert!(record.request_id.ends_with("-ü"), "{}", record.request_id);

    assert!(put(&*store, &record).await);

    let stored = get(&*store, &record.request_id).await.expect("stored");
    assert_eq!(stored.team_id.as_deref(), Some("équipe-עברית-名前-𝄞"));
    assert_eq!(stored.stop_reason, None);
    assert_eq!(
        stored.invocation_metrics,
        Some(json!({"key": "valué", "n": 1}))
    );
    assert_eq!(stored, record);
}
