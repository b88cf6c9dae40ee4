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
