//! `PolicyStore` behaviours. The document is one per store, so cases sharing a store (in sequence, or at once
//! on one table) all write it: each reads the current version first and works relative to it, and accepts a
//! newer version than its own where another case may have written since.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::json;
use sluice_core::store::{POLICIES_SETTING, PolicyChange, Store};
use uuid::Uuid;

use crate::fixtures::now_ms;

/// How often a case re-reads and tries again when another case replaced the document in between.
const ATTEMPTS: usize = 50;

/// The document at `version`, as the tests write it.
fn document(version: u64) -> String {
    json!({"version": version, "policies": []}).to_string()
}

fn change(from_version: u64, at_ms: i64) -> PolicyChange {
    PolicyChange {
        id: format!("pch_{at_ms}_{}", Uuid::new_v4().simple()),
        at_ms,
        actor: "user:user_contract ünï@example.com".to_owned(),
        from_version,
        to_version: from_version + 1,
        diff: json!({"added": ["ünïcode — policy"], "removed": [], "changed": []}).to_string(),
    }
}

async fn current_version(store: &dyn Store) -> u64 {
    store
        .policies()
        .await
        .expect("policies")
        .map_or(0, |(version, _)| version)
}

/// The version a document's text carries (the field the stores' versions come from).
fn version_in(text: &str) -> u64 {
    let value: serde_json::Value = serde_json::from_str(text).expect("the document is JSON");
    value
        .get("version")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0)
}

/// Replaces the document from the version read just before, trying again when another case got there first.
/// Returns the version written and its change.
async fn replace_from_current(store: &dyn Store, at_ms: i64) -> (u64, PolicyChange) {
    for _ in 0..ATTEMPTS {
        let expected = current_version(store).await;
        let change = change(expected, at_ms);
        if store
            .replace_policies(expected, &document(expected + 1), &change)
            .await
            .expect("replace_policies")
        {
            return (expected + 1, change);
        }
    }
    panic!("replace_policies from the current version failed {ATTEMPTS} times in a row");
}

/// `text` read back as the document is the one written at `version`, or a newer one written since.
fn assert_ours_or_newer(what: &str, text: &str, version: u64) {
    let read = version_in(text);
    if read == version {
        assert_eq!(text, document(version), "{what}");
    } else {
        assert!(
            read > version,
            "{what}: version {read} after writing {version}"
        );
    }
}

async fn changes(store: &dyn Store, limit: usize) -> Vec<PolicyChange> {
    store
        .policy_changes(limit)
        .await
        .unwrap_or_else(|e| panic!("policy_changes({limit}) failed: {e}"))
}

pub async fn replace_from_the_current_version_is_read_as_the_document_and_the_setting(
    store: Arc<dyn Store>,
) {
    let (version, _) = replace_from_current(&*store, now_ms()).await;

    let (read, text) = store
        .policies()
        .await
        .expect("policies")
        .expect("a document is stored");
    assert!(read >= version, "version {read} after writing {version}");
    assert_eq!(version_in(&text), read, "the version is the document's own");
    assert_ours_or_newer("policies()", &text, version);

    let setting = store
        .get_setting(POLICIES_SETTING)
        .await
        .expect("get_setting")
        .expect("the document is the policies setting");
    assert_ours_or_newer("get_setting", &setting, version);

    let (settings, counters) = store
        .budget_inputs(&[POLICIES_SETTING.to_owned()], &[])
        .await
        .expect("budget_inputs");
    assert!(counters.is_empty(), "{counters:?}");
    let budget = settings
        .get(POLICIES_SETTING)
        .expect("budget_inputs reads the policies setting");
    assert_ours_or_newer("budget_inputs", budget, version);
}

pub async fn replace_from_a_stale_or_future_version_is_false_and_changes_nothing(
    store: Arc<dyn Store>,
) {
    // At least one document is stored, so 0 ("none stored") is stale too.
    let (version, _) = replace_from_current(&*store, now_ms()).await;

    let mut refused = Vec::new();
    for expected in [0, version - 1, version + 1] {
        let change = change(expected, now_ms());
        // Different text from any document `document` makes, so a write of it would show.
        let text = format!("{{\"version\": {}, \"policies\": [] }}", expected + 1);
        assert!(
            !store
                .replace_policies(expected, &text, &change)
                .await
                .expect("replace_policies"),
            "replace from {expected} while {version} is stored"
        );
        refused.push(change.id);
    }

    let (read, text) = store
        .policies()
        .await
        .expect("policies")
        .expect("a document is stored");
    assert!(read >= version, "version {read} after writing {version}");
    assert_ours_or_newer("policies()", &text, version);
    let listed = changes(&*store, 1_000).await;
    for id in &refused {
        assert!(
            listed.iter().all(|c| &c.id != id),
            "refused change {id} was recorded"
        );
    }
}

pub async fn concurrent_replaces_from_one_version_give_exactly_one_true(store: Arc<dyn Store>) {
    const CALLERS: usize = 8;
    for _ in 0..ATTEMPTS {
        let expected = current_version(&*store).await;
        let calls: Vec<_> = (0..CALLERS)
            .map(|_| {
                let store = Arc::clone(&store);
                let change = change(expected, now_ms());
                tokio::spawn(async move {
                    let won = store
                        .replace_policies(expected, &document(expected + 1), &change)
                        .await
                        .expect("replace_policies");
                    (won, change.id)
                })
            })
            .collect();
        let mut winners = Vec::new();
        let mut losers = Vec::new();
        for call in calls {
            let (won, id) = call.await.expect("task ran");
            if won {
                winners.push(id);
            } else {
                losers.push(id);
            }
        }
        assert!(winners.len() <= 1, "several replaces won: {winners:?}");
        let Some(winner) = winners.pop() else {
            // Another case replaced the document between our read and our writes: read again.
            assert!(current_version(&*store).await > expected);
            continue;
        };

        let listed: HashSet<String> = changes(&*store, 1_000)
            .await
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert!(listed.contains(&winner), "the winner's change is recorded");
        for id in &losers {
            assert!(!listed.contains(id), "a losing change {id} was recorded");
        }
        assert!(current_version(&*store).await > expected);
        return;
    }
    panic!("no round of concurrent replaces ran undisturbed in {ATTEMPTS} attempts");
}

pub async fn changes_are_listed_newest_first_with_every_field_and_limited(store: Arc<dyn Store>) {
    let at = now_ms();
    let (_, older) = replace_from_current(&*store, at).await;
    let (_, newer) = replace_from_current(&*store, at + 1).await;

    let listed = changes(&*store, 1_000).await;
    let position = |id: &str| {
        listed
            .iter()
            .position(|c| c.id == id)
            .unwrap_or_else(|| panic!("change {id} is not listed"))
    };
    let (older_at, newer_at) = (position(&older.id), position(&newer.id));
    assert_eq!(listed[older_at], older, "every field round-trips");
    assert_eq!(listed[newer_at], newer, "every field round-trips");
    assert!(newer_at < older_at, "newest first: {listed:?}");
    assert!(
        listed
            .windows(2)
            .all(|w| (w[0].at_ms, &w[0].id) >= (w[1].at_ms, &w[1].id)),
        "by time then id, newest first: {listed:?}"
    );

    let one = changes(&*store, 1).await;
    assert_eq!(one.len(), 1, "{one:?}");
    assert!(
        one[0].at_ms >= newer.at_ms,
        "the newest change first: {one:?}"
    );
    assert_eq!(changes(&*store, 0).await, Vec::new());
}
