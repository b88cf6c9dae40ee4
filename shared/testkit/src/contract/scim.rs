//! `ScimStore` behaviours: records are found by kind and id, replaced whole, listed per kind and identity
//! provider in id order, and deleted.

use std::sync::Arc;

use sluice_core::store::{ScimKind, ScimRecord, Store};

use super::builders::new_scope;

fn record(kind: ScimKind, id: &str, idp_id: &str, data: &str) -> ScimRecord {
    ScimRecord {
        kind,
        id: id.to_owned(),
        idp_id: idp_id.to_owned(),
        data: data.to_owned(),
    }
}

async fn put(store: &dyn Store, r: &ScimRecord) {
    store.put_scim(r).await.expect("put_scim");
}

pub async fn put_get_replace_list_and_delete(store: Arc<dyn Store>) {
    let idp = new_scope("idp");
    let (a, b) = (
        format!("{}-a", new_scope("g")),
        format!("{}-b", new_scope("g")),
    );
    let first = record(
        ScimKind::Group,
        &b,
        &idp,
        r#"{"displayName":"Ops, \"night\" ünïcode"}"#,
    );
    put(&*store, &first).await;
    put(&*store, &record(ScimKind::Group, &a, &idp, "{}")).await;
    assert_eq!(
        store.scim_record(ScimKind::Group, &b).await.expect("get"),
        Some(first.clone())
    );

    let replaced = record(ScimKind::Group, &b, &idp, r#"{"displayName":"Ops"}"#);
    put(&*store, &replaced).await;
    let mut ids: Vec<String> = vec![a.clone(), b.clone()];
    ids.sort();
    let listed = store
        .scim_records(ScimKind::Group, &idp)
        .await
        .expect("list");
    assert_eq!(
        listed.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        ids,
        "one record per id, in id order"
    );
    assert!(listed.contains(&replaced));

    assert!(
        store
            .delete_scim(ScimKind::Group, &b)
            .await
            .expect("delete")
    );
    assert!(
        !store
            .delete_scim(ScimKind::Group, &b)
            .await
            .expect("delete again")
    );
    assert_eq!(
        store.scim_record(ScimKind::Group, &b).await.expect("get"),
        None
    );
    assert_eq!(
        store
            .scim_records(ScimKind::Group, &idp)
            .await
            .expect("list")
            .len(),
        1
    );
}

pub async fn kinds_and_providers_are_apart(store: Arc<dyn Store>) {
    let (idp1, idp2) = (new_scope("idp1"), new_scope("idp2"));
    let id = new_scope("same-id");
    put(
        &*store,
        &record(ScimKind::User, &id, &idp1, r#"{"k":"user"}"#),
    )
    .await;
    put(
        &*store,
        &record(ScimKind::Token, &id, &idp1, r#"{"k":"token"}"#),
    )
    .await;
    put(
        &*store,
        &record(ScimKind::User, &new_scope("other"), &idp2, "{}"),
    )
    .await;
    let user = store
        .scim_record(ScimKind::User, &id)
        .await
        .expect("get")
        .expect("user record");
    assert_eq!(user.data, r#"{"k":"user"}"#);
    let users = store
        .scim_records(ScimKind::User, &idp1)
        .await
        .expect("list");
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].id, id);
    assert_eq!(
        store
            .scim_records(ScimKind::Token, &idp1)
            .await
            .expect("list")[0]
            .data,
        r#"{"k":"token"}"#
    );
    assert!(
        store
            .delete_scim(ScimKind::Token, &id)
            .await
            .expect("delete")
    );
    assert!(
        store
            .scim_record(ScimKind::User, &id)
            .await
            .expect("get")
            .is_some()
    );
    assert_eq!(
        store.scim_record(ScimKind::Group, &id).await.expect("get"),
        None
    );
}
