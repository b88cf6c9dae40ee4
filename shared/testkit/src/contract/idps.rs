//! `IdpStore` behaviours.

use std::sync::Arc;

use sluice_core::identity::{IdentityProvider, Role};
use sluice_core::store::{Store, StoreError};

use super::builders::new_idp;
use crate::fixtures::now_ms;

async fn create(store: &dyn Store, idp: &IdentityProvider) {
    store
        .create_idp(idp)
        .await
        .unwrap_or_else(|e| panic!("create_idp({}) failed: {e}", idp.id));
}

/// `list_idps` restricted to `ids`, in the store's order.
async fn listed_among(store: &dyn Store, ids: &[&str]) -> Vec<IdentityProvider> {
    store
        .list_idps()
        .await
        .expect("list_idps")
        .into_iter()
        .filter(|i| ids.contains(&i.id.as_str()))
        .collect()
}

pub async fn create_list_and_delete(store: Arc<dyn Store>) {
    let base = now_ms();
    let full = IdentityProvider {
        created_at_ms: base,
        ..new_idp("full")
    };
    // The other shape of every optional field: unset, empty, false, admin.
    let bare = IdentityProvider {
        jwks_url: None,
        scopes: None,
        groups_claim: None,
        allowed_domains: Vec::new(),
        emails_verified: false,
        auto_provision: false,
        enabled: false,
        default_role: Role::Admin,
        user_claim: "oid".into(),
        created_at_ms: base + 1_000,
        ..new_idp("bare")
    };
    create(&*store, &bare).await;
    create(&*store, &full).await;
    let ids = [full.id.as_str(), bare.id.as_str()];
    assert_eq!(
        listed_among(&*store, &ids).await,
        vec![full.clone(), bare.clone()]
    );

    assert!(store.delete_idp(&full.id).await.expect("delete_idp"));

    assert_eq!(listed_among(&*store, &ids).await, vec![bare]);
    assert!(
        !store.delete_idp(&full.id).await.expect("delete_idp"),
        "a second delete finds nothing"
    );
    // Deleting frees the issuer for a new provider.
    let successor = IdentityProvider {
        issuer: full.issuer.clone(),
        ..new_idp("successor")
    };
    create(&*store, &successor).await;
}

pub async fn duplicate_issuer_is_already_exists(store: Arc<dyn Store>) {
    let first = new_idp("first");
    create(&*store, &first).await;
    let same_issuer = IdentityProvider {
        issuer: first.issuer.clone(),
        ..new_idp("same-issuer")
    };

    let err = store
        .create_idp(&same_issuer)
        .await
        .expect_err("duplicate issuer must fail");
    assert!(matches!(err, StoreError::AlreadyExists(_)), "got {err:?}");
    let ids = [first.id.as_str(), same_issuer.id.as_str()];
    assert_eq!(listed_among(&*store, &ids).await, vec![first]);
}

pub async fn duplicate_id_is_already_exists(store: Arc<dyn Store>) {
    let first = new_idp("first");
    create(&*store, &first).await;
    let same_id = IdentityProvider {
        id: first.id.clone(),
        ..new_idp("same-id")
    };

    let err = store
        .create_idp(&same_id)
        .await
        .expect_err("duplicate id must fail");
    assert!(matches!(err, StoreError::AlreadyExists(_)), "got {err:?}");
    assert_eq!(
        listed_among(&*store, &[first.id.as_str()]).await,
        vec![first]
    );
}

pub async fn delete_of_unknown_id_is_false(store: Arc<dyn Store>) {
    assert!(
        !store
            .delete_idp(&new_idp("absent").id)
            .await
            .expect("delete_idp")
    );
}

pub async fn update_replaces_the_provider_and_moves_its_issuer(store: Arc<dyn Store>) {
    let mine = new_idp("mine");
    let other = IdentityProvider {
        created_at_ms: mine.created_at_ms + 1_000,
        ..new_idp("other")
    };
    create(&*store, &mine).await;
    create(&*store, &other).await;

    // Every field replaced, the unset ones included.
    let edited = IdentityProvider {
        name: format!("{} renamed", mine.name),
        audience: "another-client".into(),
        jwks_url: None,
        user_claim: "oid".into(),
        allowed_domains: Vec::new(),
        auto_provision: false,
        default_role: Role::Admin,
        enabled: false,
        scopes: None,
        groups_claim: None,
        ..mine.clone()
    };
    assert!(store.update_idp(&edited).await.expect("update_idp"));
    let ids = [mine.id.as_str(), other.id.as_str()];
    assert_eq!(
        listed_among(&*store, &ids).await,
        vec![edited.clone(), other.clone()]
    );

    // Another provider's issuer is refused and changes nothing.
    let taken = IdentityProvider {
        issuer: other.issuer.clone(),
        ..edited.clone()
    };
    let err = store
        .update_idp(&taken)
        .await
        .expect_err("another provider's issuer must be refused");
    assert!(matches!(err, StoreError::AlreadyExists(_)), "got {err:?}");
    assert_eq!(
        listed_among(&*store, &ids).await,
        vec![edited.clone(), other.clone()]
    );

    // A new issuer is claimed and the old one freed.
    let moved = IdentityProvider {
        issuer: format!("{}moved/", mine.issuer),
        ..edited.clone()
    };
    assert!(store.update_idp(&moved).await.expect("update_idp"));
    let reuse_old = IdentityProvider {
        issuer: mine.issuer.clone(),
        ..new_idp("reuses-old-issuer")
    };
    create(&*store, &reuse_old).await;
    let claim_new = IdentityProvider {
        issuer: moved.issuer.clone(),
        ..new_idp("claims-new-issuer")
    };
    let err = store
        .create_idp(&claim_new)
        .await
        .expect_err("the moved issuer is taken");
    assert!(matches!(err, StoreError::AlreadyExists(_)), "got {err:?}");

    // Deleting after a move frees the new issuer too.
    assert!(store.delete_idp(&moved.id).await.expect("delete_idp"));
    create(&*store, &claim_new).await;

    assert!(
        !store
            .update_idp(&new_idp("absent"))
            .await
            .expect("update of an absent provider"),
        "an absent provider is not created by an update"
    );
}

pub async fn groups_claim_round_trips_through_create_and_update(store: Arc<dyn Store>) {
    let idp = IdentityProvider {
        groups_claim: Some("https://example.com/claims/grüppen".into()),
        ..new_idp("groups-claim")
    };
    create(&*store, &idp).await;
    let ids = [idp.id.as_str()];
    assert_eq!(listed_among(&*store, &ids).await, vec![idp.clone()]);

    let renamed = IdentityProvider {
        groups_claim: Some("roles".into()),
        ..idp.clone()
    };
    assert!(store.update_idp(&renamed).await.expect("update_idp"));
    assert_eq!(listed_among(&*store, &ids).await, vec![renamed.clone()]);

    // Unset again: the default claim, not the last one kept.
    let unset = IdentityProvider {
        groups_claim: None,
        ..renamed
    };
    assert!(store.update_idp(&unset).await.expect("update_idp"));
    assert_eq!(listed_among(&*store, &ids).await, vec![unset]);
}
