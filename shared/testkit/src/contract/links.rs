//! `IdentityLinkStore` behaviours: a sign-in `(issuer, subject)` is bound once, found exactly (subjects are
//! case-sensitive, issuers may hold any character), listed per person oldest first, and deleted.

use std::sync::Arc;

use sluice_core::identity::IdentityLink;
use sluice_core::store::{Store, StoreError};

use super::builders::new_scope;
use crate::fixtures::now_ms;

fn link(issuer: &str, subject: &str, user_id: &str, at: i64) -> IdentityLink {
    IdentityLink {
        issuer: issuer.to_owned(),
        subject: subject.to_owned(),
        user_id: user_id.to_owned(),
        linked_by: "sign-in".to_owned(),
        created_at_ms: at,
    }
}

pub async fn create_find_list_and_delete(store: Arc<dyn Store>) {
    let issuer = format!("https://{}.idp.example/tenant#x/", new_scope("iss"));
    let user = new_scope("usr");
    let base = now_ms();
    let first = link(&issuer, "Sub-1", &user, base);
    let second = IdentityLink {
        linked_by: "admin:usr_boss".into(),
        ..link("https://other.example", "sub 2 ünïcode", &user, base + 1)
    };
    store.create_link(&second).await.expect("create second");
    store.create_link(&first).await.expect("create first");
    assert_eq!(
        store.link(&issuer, "Sub-1").await.expect("get"),
        Some(first.clone())
    );
    assert_eq!(
        store.link(&issuer, "sub-1").await.expect("get"),
        None,
        "subjects are case-sensitive"
    );
    assert_eq!(
        store
            .link("https://other.example/", "sub 2 ünïcode")
            .await
            .expect("get"),
        None
    );
    assert_eq!(
        store.links_of(&user).await.expect("list"),
        vec![first.clone(), second.clone()],
        "oldest first"
    );
    assert!(
        store
            .links_of(&new_scope("usr"))
            .await
            .expect("list")
            .is_empty()
    );
    assert!(store.delete_link(&issuer, "Sub-1").await.expect("delete"));
    assert!(
        !store
            .delete_link(&issuer, "Sub-1")
            .await
            .expect("delete again")
    );
    assert_eq!(store.link(&issuer, "Sub-1").await.expect("get"), None);
    assert_eq!(store.links_of(&user).await.expect("list"), vec![second]);
}

pub async fn a_sign_in_is_bound_once(store: Arc<dyn Store>) {
    let issuer = format!("https://{}.idp.example", new_scope("iss"));
    let first = link(&issuer, "s", &new_scope("usr"), now_ms());
    store.create_link(&first).await.expect("create");
    let other = link(&issuer, "s", &new_scope("usr"), now_ms());
    assert!(matches!(
        store.create_link(&other).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(store.link(&issuer, "s").await.expect("get"), Some(first));
    // Racing first sign-ins: exactly one binding wins.
    let subject = new_scope("racer");
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = Arc::clone(&store);
            let l = link(&issuer, &subject, &format!("usr_{i}"), now_ms());
            tokio::spawn(async move { store.create_link(&l).await.is_ok() })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.expect("task"));
    }
    assert_eq!(won, 1);
}
