//! `KeyStore` behaviours. Each case creates its own keys and asserts only about them.

use futures::future::join_all;
use sluice_core::store::{KeyStore, KeyUpdate, StoreError, VirtualKey};

use crate::fixtures::{new_key, now_ms};

async fn create(store: &dyn KeyStore, key: &VirtualKey) {
    store
        .create_key(key)
        .await
        .unwrap_or_else(|e| panic!("create_key({}) failed: {e}", key.id));
}

async fn by_hash(store: &dyn KeyStore, key_hash: &str) -> Option<VirtualKey> {
    store
        .key_by_hash(key_hash)
        .await
        .unwrap_or_else(|e| panic!("key_by_hash failed: {e}"))
}

async fn by_id(store: &dyn KeyStore, id: &str) -> Option<VirtualKey> {
    store
        .key_by_id(id)
        .await
        .unwrap_or_else(|e| panic!("key_by_id({id}) failed: {e}"))
}

async fn revoke(store: &dyn KeyStore, id: &str, at_ms: i64) -> Option<VirtualKey> {
    store
        .revoke_key(id, at_ms)
        .await
        .unwrap_or_else(|e| panic!("revoke_key({id}) failed: {e}"))
}

/// The ids of `list_keys` that belong to `ours`, in the order the store returned them.
async fn listed_ids_among(store: &dyn KeyStore, ours: &[VirtualKey]) -> Vec<String> {
    let all = store
        .list_keys()
        .await
        .unwrap_or_else(|e| panic!("list_keys failed: {e}"));
    all.into_iter()
        .filter(|k| ours.iter().any(|o| o.id == k.id))
        .map(|k| k.id)
        .collect()
}

pub async fn create_then_find_by_hash_and_by_id(store: &dyn KeyStore) {
    let key = new_key("create-then-find");
    create(store, &key).await;

    assert_eq!(by_hash(store, &key.key_hash).await.as_ref(), Some(&key));
    assert_eq!(by_id(store, &key.id).await.as_ref(), Some(&key));
}

pub async fn unknown_hash_and_id_are_none(store: &dyn KeyStore) {
    let never_created = new_key("never-created");
    assert_eq!(by_hash(store, &never_created.key_hash).await, None);
    assert_eq!(by_id(store, &never_created.id).await, None);
}

pub async fn duplicate_id_is_already_exists(store: &dyn KeyStore) {
    let first = new_key("first");
    create(store, &first).await;
    let same_id = VirtualKey {
        id: first.id.clone(),
        ..new_key("same-id")
    };

    let err = store
        .create_key(&same_id)
        .await
        .expect_err("duplicate id must fail");
    assert!(matches!(err, StoreError::AlreadyExists(_)), "got {err:?}");
    // The failed write must leave nothing behind: neither a second key nor the new hash.
    assert_eq!(by_id(store, &first.id).await.as_ref(), Some(&first));
    assert_eq!(by_hash(store, &same_id.key_hash).await, None);
}

pub async fn duplicate_hash_is_already_exists(store: &dyn KeyStore) {
    let first = new_key("first");
    create(store, &first).await;
    let same_hash = VirtualKey {
        key_hash: first.key_hash.clone(),
        ..new_key("same-hash")
    };

    let err = store
        .create_key(&same_hash)
        .await
        .expect_err("duplicate hash must fail");
    assert!(matches!(err, StoreError::AlreadyExists(_)), "got {err:?}");
    assert_eq!(by_hash(store, &first.key_hash).await.as_ref(), Some(&first));
    assert_eq!(by_id(store, &same_hash.id).await, None);
}

pub async fn list_is_newest_first(store: &dyn KeyStore) {
    let base = now_ms();
    let at = |offset: i64, name: &str| VirtualKey {
        created_at_ms: base + offset,
        ..new_key(name)
    };
    let (old, middle, new) = (at(0, "old"), at(1_000, "middle"), at(2_000, "new"));
    // Created out of order, so insertion order cannot pass for creation-time order.
    for key in [&middle, &new, &old] {
        create(store, key).await;
    }

    let ids = listed_ids_among(store, &[old.clone(), middle.clone(), new.clone()]).await;
    assert_eq!(ids, vec![new.id, middle.id, old.id]);
}

pub async fn revoke_sets_the_revocation_time(store: &dyn KeyStore) {
    let key = new_key("to-revoke");
    create(store, &key).await;
    let at = key.created_at_ms + 5_000;

    let revoked = revoke(store, &key.id, at).await.expect("key exists");
    assert_eq!(revoked.revoked_at_ms, Some(at));
    assert_eq!(
        revoked,
        VirtualKey {
            revoked_at_ms: Some(at),
            ..key.clone()
        },
        "revoking changes nothing but the revocation time"
    );
    assert_eq!(by_id(store, &key.id).await, Some(revoked));
}

pub async fn second_revoke_keeps_the_first_time(store: &dyn KeyStore) {
    let key = new_key("revoked-twice");
    create(store, &key).await;
    let first = key.created_at_ms + 1_000;

    revoke(store, &key.id, first).await.expect("key exists");
    let again = revoke(store, &key.id, first + 60_000)
        .await
        .expect("key still exists");

    assert_eq!(again.revoked_at_ms, Some(first));
    let stored = by_hash(store, &key.key_hash).await.expect("key exists");
    assert_eq!(stored.revoked_at_ms, Some(first));
}

pub async fn revoke_of_unknown_id_is_none(store: &dyn KeyStore) {
    let never_created = new_key("never-created");
    assert_eq!(revoke(store, &never_created.id, now_ms()).await, None);
    assert_eq!(
        by_id(store, &never_created.id).await,
        None,
        "revoke must not create a key"
    );
}

pub async fn revoked_key_is_found_by_hash_but_inactive(store: &dyn KeyStore) {
    let key = new_key("revoked");
    create(store, &key).await;
    assert!(
        by_hash(store, &key.key_hash)
            .await
            .expect("created")
            .is_active()
    );

    revoke(store, &key.id, now_ms()).await.expect("key exists");

    let found = by_hash(store, &key.key_hash)
        .await
        .expect("revoked keys are still found");
    assert!(!found.is_active());
}

pub async fn owner_and_rate_limit_fields_round_trip(store: &dyn KeyStore) {
    let full = VirtualKey {
        user_id: Some("user_7f3a".into()),
        team_id: Some("team_platform".into()),
        rate_limit_rpm: Some(u32::MAX),
        ..new_key("with owner — and ünïcode")
    };
    let zero_limit = VirtualKey {
        rate_limit_rpm: Some(0),
        ..new_key("zero limit")
    };
    let bare = new_key("bare");
    for key in [&full, &zero_limit, &bare] {
        create(store, key).await;
    }

    for key in [&full, &zero_limit, &bare] {
        assert_eq!(by_hash(store, &key.key_hash).await.as_ref(), Some(key));
        assert_eq!(by_id(store, &key.id).await.as_ref(), Some(key));
    }
    let listed = store.list_keys().await.expect("list_keys");
    let listed_full = listed.iter().find(|k| k.id == full.id).expect("listed");
    assert_eq!(listed_full, &full);
}

pub async fn concurrent_creates_are_all_listed(store: &dyn KeyStore) {
    let keys: Vec<VirtualKey> = (0..50)
        .map(|i| new_key(&format!("concurrent-{i}")))
        .collect();

    let results = join_all(keys.iter().map(|k| store.create_key(k))).await;
    for (key, result) in keys.iter().zip(results) {
        result.unwrap_or_else(|e| panic!("concurrent create_key({}) failed: {e}", key.id));
    }

    let mut listed = listed_ids_among(store, &keys).await;
    listed.sort();
    let mut expected: Vec<String> = keys.iter().map(|k| k.id.clone()).collect();
    expected.sort();
    assert_eq!(listed, expected);
}

pub async fn update_changes_only_given_fields_and_clears_with_none(store: &dyn KeyStore) {
    let key = VirtualKey {
        user_id: Some("usr_before".into()),
        team_id: Some("team_before".into()),
        rate_limit_rpm: Some(60),
        ..new_key("before")
    };
    create(store, &key).await;

    // Only the team changes; everything else stays.
    let moved = store
        .update_key(
            &key.id,
            &KeyUpdate {
                team_id: Some(Some("team_after".into())),
                ..KeyUpdate::default()
            },
        )
        .await
        .expect("update_key");
    let expected = VirtualKey {
        team_id: Some("team_after".into()),
        ..key.clone()
    };
    assert_eq!(moved.as_ref(), Some(&expected));
    assert_eq!(by_id(store, &key.id).await.as_ref(), Some(&expected));

    // Rename, clear the owner and the limit, in one update.
    let cleared = store
        .update_key(
            &key.id,
            &KeyUpdate {
                name: Some("after".into()),
                user_id: Some(None),
                rate_limit_rpm: Some(None),
                team_id: None,
            },
        )
        .await
        .expect("update_key");
    let expected = VirtualKey {
        name: "after".into(),
        user_id: None,
        rate_limit_rpm: None,
        ..expected
    };
    assert_eq!(cleared.as_ref(), Some(&expected));
    assert_eq!(
        by_hash(store, &key.key_hash).await.as_ref(),
        Some(&expected)
    );

    // An empty update changes nothing and still answers the key.
    let same = store
        .update_key(&key.id, &KeyUpdate::default())
        .await
        .expect("update_key");
    assert_eq!(same.as_ref(), Some(&expected));
}

pub async fn update_keeps_the_revocation(store: &dyn KeyStore) {
    let key = new_key("revoked then renamed");
    create(store, &key).await;
    let revoked = revoke(store, &key.id, 1_234).await.expect("revoked");
    let renamed = store
        .update_key(
            &key.id,
            &KeyUpdate {
                name: Some("renamed".into()),
                ..KeyUpdate::default()
            },
        )
        .await
        .expect("update_key")
        .expect("found");
    assert_eq!(renamed.revoked_at_ms, revoked.revoked_at_ms);
    assert!(!renamed.is_active());
}

pub async fn update_of_unknown_id_is_none(store: &dyn KeyStore) {
    let never_created = new_key("never-created");
    let update = KeyUpdate {
        name: Some("x".into()),
        ..KeyUpdate::default()
    };
    assert_eq!(
        store
            .update_key(&never_created.id, &update)
            .await
            .expect("update_key"),
        None
    );
    assert_eq!(by_id(store, &never_created.id).await, None);
}

pub async fn delete_removes_the_key_by_id_and_by_hash(store: &dyn KeyStore) {
    let key = new_key("deleted");
    let kept = new_key("kept");
    create(store, &key).await;
    create(store, &kept).await;

    assert!(store.delete_key(&key.id).await.expect("delete_key"));
    assert_eq!(by_id(store, &key.id).await, None);
    assert_eq!(by_hash(store, &key.key_hash).await, None);
    assert!(
        listed_ids_among(store, std::slice::from_ref(&key))
            .await
            .is_empty()
    );
    assert_eq!(by_id(store, &kept.id).await.as_ref(), Some(&kept));
    // A second delete finds nothing.
    assert!(!store.delete_key(&key.id).await.expect("delete_key"));
    // Its id and hash are free again.
    create(store, &key).await;
}

pub async fn delete_of_unknown_id_is_false(store: &dyn KeyStore) {
    let never_created = new_key("never-created");
    assert!(
        !store
            .delete_key(&never_created.id)
            .await
            .expect("delete_key")
    );
}
