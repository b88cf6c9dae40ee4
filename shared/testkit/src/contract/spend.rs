//! `SpendStore` behaviours: counters applied once per request id, whatever the concurrency; the budget read;
//! counter families. Cases use counter keys and families of their own (a fresh id in each).

use std::collections::BTreeMap;
use std::sync::Arc;

use sluice_core::spend::ledger::{CounterAdd, SpendDelta};
use sluice_core::store::Store;
use uuid::Uuid;

fn fresh() -> String {
    Uuid::new_v4().simple().to_string()
}

/// A counter to add to: key, family, field additions.
type Adds<'a> = (&'a str, &'a str, &'a [(&'a str, u64)]);

fn delta(request_id: &str, counters: &[Adds<'_>]) -> SpendDelta {
    SpendDelta {
        request_id: request_id.to_owned(),
        marker_expires_at_s: 4_000_000_000,
        counters: counters
            .iter()
            .map(|(key, family, adds)| CounterAdd {
                key: (*key).to_owned(),
                family: (*family).to_owned(),
                adds: adds.iter().map(|(f, v)| ((*f).to_owned(), *v)).collect(),
            })
            .collect(),
    }
}

async fn apply(store: &dyn Store, d: &SpendDelta) -> bool {
    store
        .apply_spend(d)
        .await
        .unwrap_or_else(|e| panic!("apply_spend({}) failed: {e}", d.request_id))
}

async fn values(store: &dyn Store, key: &str) -> BTreeMap<String, u64> {
    let (_, counters) = store
        .budget_inputs(&[], &[key.to_owned()])
        .await
        .unwrap_or_else(|e| panic!("budget_inputs failed: {e}"));
    counters
        .get(key)
        .map(|c| c.values.clone())
        .unwrap_or_default()
}

fn map(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(f, v)| ((*f).to_owned(), *v)).collect()
}

pub async fn applied_once_then_a_replay_changes_nothing(store: Arc<dyn Store>) {
    let (key, family) = (
        format!("spend#user#{}#m2026-11", fresh()),
        format!("fam-{}", fresh()),
    );
    let d = delta(
        &format!("req_{}", fresh()),
        &[(&key, &family, &[("cost_micros", 1_234), ("requests", 1)])],
    );
    assert!(apply(&*store, &d).await, "the first application applies");
    assert_eq!(
        values(&*store, &key).await,
        map(&[("cost_micros", 1_234), ("requests", 1)])
    );
    assert!(
        !apply(&*store, &d).await,
        "a replay reports already applied"
    );
    assert_eq!(
        values(&*store, &key).await,
        map(&[("cost_micros", 1_234), ("requests", 1)]),
        "a replay adds nothing"
    );
}

pub async fn different_records_add_up_and_fields_with_dots_round_trip(store: Arc<dyn Store>) {
    let (key, family) = (
        format!("rollup#h#key#{}#2026-11-22T09", fresh()),
        format!("fam-{}", fresh()),
    );
    let first = delta(
        &format!("req_{}", fresh()),
        &[(&key, &family, &[("requests", 1), ("tool.Bash", 2)])],
    );
    let second = delta(
        &format!("req_{}", fresh()),
        &[(&key, &family, &[("requests", 1), ("tool.mcp__git__log", 1)])],
    );
    assert!(apply(&*store, &first).await);
    assert!(apply(&*store, &second).await);
    assert_eq!(
        values(&*store, &key).await,
        map(&[("requests", 2), ("tool.Bash", 2), ("tool.mcp__git__log", 1)])
    );
}

pub async fn concurrent_applications_count_each_record_exactly_once(store: Arc<dyn Store>) {
    let (key, family) = (
        format!("spend#org#{}#d2026-11-22", fresh()),
        format!("fam-{}", fresh()),
    );
    let distinct: Vec<SpendDelta> = (0..20)
        .map(|_| {
            delta(
                &format!("req_{}", fresh()),
                &[(&key, &family, &[("cost_micros", 7)])],
            )
        })
        .collect();
    // Each distinct record three times over, all at once: duplicated stream records racing each other.
    let mut tasks = Vec::new();
    for d in distinct.iter().chain(&distinct).chain(&distinct) {
        let (store, d) = (Arc::clone(&store), d.clone());
        tasks.push(tokio::spawn(async move { apply(&*store, &d).await }));
    }
    let mut applied = 0;
    for task in tasks {
        if task.await.expect("task") {
            applied += 1;
        }
    }
    assert_eq!(
        applied, 20,
        "each record applied by exactly one of its three deliveries"
    );
    assert_eq!(values(&*store, &key).await, map(&[("cost_micros", 140)]));
}

pub async fn budget_inputs_returns_present_settings_and_counters_only(store: Arc<dyn Store>) {
    let id = fresh();
    let (setting, counter) = (
        format!("budget.user.{id}"),
        format!("spend#user#{id}#d2026-11-22"),
    );
    store
        .put_setting(&setting, r#"{"limit_micros":5,"period":"daily"}"#)
        .await
        .expect("setting");
    let family = format!("spend#d-{id}");
    assert!(
        apply(
            &*store,
            &delta(
                &format!("req_{id}"),
                &[(&counter, &family, &[("cost_micros", 3)])]
            )
        )
        .await
    );
    let (settings, counters) = store
        .budget_inputs(
            &[setting.clone(), format!("budget.team.{id}")],
            &[counter.clone(), format!("spend#team#{id}#d2026-11-22")],
        )
        .await
        .expect("budget_inputs");
    assert_eq!(
        settings.len(),
        1,
        "absent settings are left out: {settings:?}"
    );
    assert_eq!(
        settings.get(&setting).map(String::as_str),
        Some(r#"{"limit_micros":5,"period":"daily"}"#)
    );
    assert_eq!(counters.len(), 1, "absent counters are left out");
    let found = &counters[&counter];
    assert_eq!(found.key, counter);
    assert_eq!(found.family, family);
    assert_eq!(found.get("cost_micros"), 3);
}

pub async fn counters_in_lists_one_family_in_key_order(store: Arc<dyn Store>) {
    let id = fresh();
    let (family, other) = (format!("fam-{id}"), format!("other-{id}"));
    let d = delta(
        &format!("req_{id}"),
        &[
            (&format!("{id}#b"), &family, &[("requests", 2)]),
            (&format!("{id}#a"), &family, &[("requests", 1)]),
            (&format!("{id}#c"), &other, &[("requests", 9)]),
        ],
    );
    assert!(apply(&*store, &d).await);
    let listed = store.counters_in(&family).await.expect("counters_in");
    let keys: Vec<(String, u64)> = listed
        .iter()
        .map(|c| (c.key.clone(), c.get("requests")))
        .collect();
    assert_eq!(keys, [(format!("{id}#a"), 1), (format!("{id}#b"), 2)]);
    assert!(
        store
            .counters_in(&format!("none-{id}"))
            .await
            .expect("empty family")
            .is_empty()
    );
}
