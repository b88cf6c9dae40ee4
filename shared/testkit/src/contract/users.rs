//! `UserStore` behaviours. Each case creates its own users and asserts only about them.

use std::sync::Arc;

use sluice_core::identity::{PersonGroups, Role, User};
use sluice_core::store::{Store, StoreError};

use super::builders::new_user;
use crate::fixtures::now_ms;

async fn create(store: &dyn Store, user: &User) {
    store
        .create_user(user)
        .await
        .unwrap_or_else(|e| panic!("create_user({}) failed: {e}", user.id));
}

async fn by_id(store: &dyn Store, id: &str) -> Option<User> {
    store
        .user_by_id(id)
        .await
        .unwrap_or_else(|e| panic!("user_by_id({id}) failed: {e}"))
}

async fn by_email(store: &dyn Store, email: &str) -> Option<User> {
    store
        .user_by_email(email)
        .await
        .unwrap_or_else(|e| panic!("user_by_email({email}) failed: {e}"))
}

pub async fn create_then_find_by_id_and_email(store: Arc<dyn Store>) {
    let user = User {
        team_id: Some("team_x".into()),
        role: Role::Admin,
        ..new_user("found")
    };
    create(&*store, &user).await;

    assert_eq!(by_id(&*store, &user.id).await.as_ref(), Some(&user));
    assert_eq!(by_email(&*store, &user.email).await.as_ref(), Some(&user));
    let absent = new_user("absent");
    assert_eq!(by_id(&*store, &absent.id).await, None);
    assert_eq!(by_email(&*store, &absent.email).await, None);
}

pub async fn duplicate_email_is_already_exists(store: Arc<dyn Store>) {
    let first = new_user("first");
    create(&*store, &first).await;
    let same_email = User {
        email: first.email.clone(),
        ..new_user("same-email")
    };

    let err = store
        .create_user(&same_email)
        .await
        .expect_err("duplicate email must fail");
    assert!(matches!(err, StoreError::AlreadyExists(_)), "got {err:?}");
    // Nothing of the failed user is left behind, and the email still names the first one.
    assert_eq!(by_id(&*store, &same_email.id).await, None);
    assert_eq!(by_email(&*store, &first.email).await, Some(first));
}

pub async fn duplicate_id_is_already_exists(store: Arc<dyn Store>) {
    let first = new_user("first");
    create(&*store, &first).await;
    let same_id = User {
        id: first.id.clone(),
        ..new_user("same-id")
    };

    let err = store
        .create_user(&same_id)
        .await
        .expect_err("duplicate id must fail");
    assert!(matches!(err, StoreError::AlreadyExists(_)), "got {err:?}");
    assert_eq!(by_email(&*store, &same_id.email).await, None);
    assert_eq!(by_id(&*store, &first.id).await, Some(first));
}

pub async fn update_replaces_role_team_and_active(store: Arc<dyn Store>) {
    let user = new_user("updated");
    create(&*store, &user).await;
    let changed = User {
        role: Role::Admin,
        team_id: Some("team_platform".into()),
        active: false,
        ..user.clone()
    };

    assert!(store.update_user(&changed).await.expect("update_user"));
    assert_eq!(by_id(&*store, &user.id).await.as_ref(), Some(&changed));
    assert_eq!(
        by_email(&*store, &user.email).await.as_ref(),
        Some(&changed)
    );

    // Back to no team: the team is cleared, not kept.
    let back = User {
        team_id: None,
        active: true,
        ..changed
    };
    assert!(store.update_user(&back).await.expect("update_user"));
    assert_eq!(by_id(&*store, &user.id).await.as_ref(), Some(&back));
    assert_eq!(by_email(&*store, &user.email).await, Some(back));
}

pub async fn groups_round_trip_through_create_and_update(store: Arc<dyn Store>) {
    let user = User {
        groups: PersonGroups {
            idp: vec!["eng".into(), "ünïcode — team".into()],
            scim: vec!["Platform Team".into()],
        },
        ..new_user("grouped")
    };
    create(&*store, &user).await;
    assert_eq!(by_id(&*store, &user.id).await.as_ref(), Some(&user));
    assert_eq!(by_email(&*store, &user.email).await.as_ref(), Some(&user));
    let listed = store.list_users().await.expect("list_users");
    assert_eq!(listed.iter().find(|u| u.id == user.id), Some(&user));

    // Groups are replaced whole: a list missing from the update is emptied, not kept.
    let moved = User {
        groups: PersonGroups {
            idp: Vec::new(),
            scim: vec!["Data Team".into(), "Platform Team".into()],
        },
        ..user.clone()
    };
    assert!(store.update_user(&moved).await.expect("update_user"));
    assert_eq!(by_id(&*store, &user.id).await.as_ref(), Some(&moved));
    assert_eq!(by_email(&*store, &user.email).await.as_ref(), Some(&moved));

    let none = User {
        groups: PersonGroups::default(),
        ..moved
    };
    assert!(store.update_user(&none).await.expect("update_user"));
    assert_eq!(by_id(&*store, &user.id).await.as_ref(), Some(&none));
    assert_eq!(by_email(&*store, &user.email).await, Some(none));
}

pub async fn update_of_unknown_id_is_false(store: Arc<dyn Store>) {
    let never_created = new_user("never-created");

    assert!(
        !store
            .update_user(&never_created)
            .await
            .expect("update_user")
    );
    assert_eq!(
        by_id(&*store, &never_created.id).await,
        None,
        "update must not create"
    );
    assert_eq!(by_email(&*store, &never_created.email).await, None);
}

pub async fn list_is_oldest_first(store: Arc<dyn Store>) {
    let base = now_ms();
    let at = |offset: i64, label: &str| User {
        created_at_ms: base + offset,
        ..new_user(label)
    };
    let (old, middle, new) = (at(0, "old"), at(1_000, "middle"), at(2_000, "new"));
    // Created out of order, so insertion order cannot pass for creation-time order.
    for user in [&middle, &new, &old] {
        create(&*store, user).await;
    }

    let listed: Vec<User> = store
        .list_users()
        .await
        .expect("list_users")
        .into_iter()
        .filter(|u| [&old.id, &middle.id, &new.id].contains(&&u.id))
        .collect();
    assert_eq!(listed, vec![old, middle, new]);
}

pub async fn delete_removes_the_user_and_frees_the_email(store: Arc<dyn Store>) {
    let user = new_user("deleted");
    let kept = new_user("kept");
    create(&*store, &user).await;
    create(&*store, &kept).await;

    assert!(store.delete_user(&user.id).await.expect("delete_user"));
    assert_eq!(by_id(&*store, &user.id).await, None);
    assert_eq!(by_email(&*store, &user.email).await, None);
    let listed = store.list_users().await.expect("list_users");
    assert!(listed.iter().all(|u| u.id != user.id));
    assert!(listed.iter().any(|u| u.id == kept.id));
    assert!(!store.delete_user(&user.id).await.expect("delete_user"));

    // No marker is left behind: a new user may take the email.
    let again = User {
        email: user.email.clone(),
        ..new_user("again")
    };
    create(&*store, &again).await;
    assert_eq!(by_email(&*store, &user.email).await, Some(again));
}

pub async fn delete_of_unknown_id_is_false(store: Arc<dyn Store>) {
    assert!(
        !store
            .delete_user(&new_user("absent").id)
            .await
            .expect("delete_user")
    );
}
