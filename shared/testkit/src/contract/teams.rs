//! `TeamStore` behaviours.

use std::sync::Arc;

use sluice_core::identity::Team;
use sluice_core::store::{Store, StoreError};

use super::builders::new_team;
use crate::fixtures::now_ms;

async fn create(store: &dyn Store, team: &Team) {
    store
        .create_team(team)
        .await
        .unwrap_or_else(|e| panic!("create_team({}) failed: {e}", team.id));
}

pub async fn create_then_find_and_list_oldest_first(store: Arc<dyn Store>) {
    let base = now_ms();
    let older = Team {
        created_at_ms: base,
        ..new_team("older")
    };
    let newer = Team {
        created_at_ms: base + 1_000,
        ..new_team("newer")
    };
    create(&*store, &newer).await;
    create(&*store, &older).await;

    assert_eq!(
        store.team_by_id(&older.id).await.expect("team_by_id"),
        Some(older.clone())
    );
    assert_eq!(
        store
            .team_by_id(&new_team("absent").id)
            .await
            .expect("team_by_id"),
        None
    );
    let listed: Vec<Team> = store
        .list_teams()
        .await
        .expect("list_teams")
        .into_iter()
        .filter(|t| t.id == older.id || t.id == newer.id)
        .collect();
    assert_eq!(listed, vec![older, newer]);
}

pub async fn duplicate_name_is_already_exists(store: Arc<dyn Store>) {
    let first = new_team("first");
    create(&*store, &first).await;
    let same_name = Team {
        name: first.name.clone(),
        ..new_team("same-name")
    };

    let err = store
        .create_team(&same_name)
        .await
        .expect_err("duplicate name must fail");
    assert!(matches!(err, StoreError::AlreadyExists(_)), "got {err:?}");
    assert_eq!(store.team_by_id(&same_name.id).await.expect("read"), None);
    assert_eq!(
        store.team_by_id(&first.id).await.expect("read"),
        Some(first)
    );
}

pub async fn duplicate_id_is_already_exists(store: Arc<dyn Store>) {
    let first = new_team("first");
    create(&*store, &first).await;
    let same_id = Team {
        id: first.id.clone(),
        ..new_team("same-id")
    };

    let err = store
        .create_team(&same_id)
        .await
        .expect_err("duplicate id must fail");
    assert!(matches!(err, StoreError::AlreadyExists(_)), "got {err:?}");
    assert_eq!(
        store.team_by_id(&first.id).await.expect("read"),
        Some(first)
    );
    // The failed create did not reserve its name: a later team may take it.
    let later = Team {
        name: same_id.name.clone(),
        ..new_team("later")
    };
    create(&*store, &later).await;
}

pub async fn delete_removes_the_team_and_frees_the_name(store: Arc<dyn Store>) {
    let team = new_team("deleted");
    let kept = new_team("kept");
    create(&*store, &team).await;
    create(&*store, &kept).await;

    assert!(store.delete_team(&team.id).await.expect("delete_team"));
    assert_eq!(store.team_by_id(&team.id).await.expect("read"), None);
    let listed = store.list_teams().await.expect("list_teams");
    assert!(listed.iter().all(|t| t.id != team.id));
    assert!(listed.iter().any(|t| t.id == kept.id));
    assert!(!store.delete_team(&team.id).await.expect("delete_team"));

    // No marker is left behind: a new team may take the name.
    let again = Team {
        name: team.name.clone(),
        ..new_team("again")
    };
    create(&*store, &again).await;
}

pub async fn delete_of_unknown_id_is_false(store: Arc<dyn Store>) {
    assert!(
        !store
            .delete_team(&new_team("absent").id)
            .await
            .expect("delete_team")
    );
}
