//! `CliSessionStore` behaviours.

use std::sync::Arc;

use sluice_core::identity::CliSession;
use sluice_core::store::{Store, StoreError};

use super::builders::new_cli_session;
use crate::fixtures::now_ms;

/// Far enough ahead that no case outlives it.
fn in_an_hour() -> i64 {
    now_ms() + 3_600_000
}

async fn get(store: &dyn Store, id: &str) -> Option<CliSession> {
    store
        .cli_session(id)
        .await
        .unwrap_or_else(|e| panic!("cli_session({id}) failed: {e}"))
}

pub async fn create_get_complete_and_delete(store: Arc<dyn Store>) {
    let session = new_cli_session();
    store
        .create_cli_session(&session, in_an_hour())
        .await
        .expect("create_cli_session");
    assert_eq!(get(&*store, &session.id).await.as_ref(), Some(&session));

    assert!(
        store
            .complete_cli_session(&session.id, "sluice-session-token", "c0de")
            .await
            .expect("complete_cli_session")
    );
    let completed = CliSession {
        token: Some("sluice-session-token".into()),
        code_hash: Some("c0de".into()),
        ..session.clone()
    };
    assert_eq!(get(&*store, &session.id).await, Some(completed));

    store
        .delete_cli_session(&session.id)
        .await
        .expect("delete_cli_session");
    assert_eq!(get(&*store, &session.id).await, None);
    // Deleting what is gone is not an error: the poll and the clean-up may race.
    store
        .delete_cli_session(&session.id)
        .await
        .expect("second delete_cli_session");
}

pub async fn duplicate_id_is_already_exists(store: Arc<dyn Store>) {
    let session = new_cli_session();
    store
        .create_cli_session(&session, in_an_hour())
        .await
        .expect("create_cli_session");
    let same_id = CliSession {
        nonce: "another nonce".into(),
        ..session.clone()
    };

    let err = store
        .create_cli_session(&same_id, in_an_hour())
        .await
        .expect_err("duplicate id must fail");
    assert!(matches!(err, StoreError::AlreadyExists(_)), "got {err:?}");
    assert_eq!(get(&*store, &session.id).await, Some(session));
}

pub async fn complete_of_unknown_id_is_false(store: Arc<dyn Store>) {
    let never_created = new_cli_session();

    assert!(
        !store
            .complete_cli_session(&never_created.id, "token", "c0de")
            .await
            .expect("complete_cli_session")
    );
    assert_eq!(
        get(&*store, &never_created.id).await,
        None,
        "complete must not create"
    );
}

pub async fn expired_session_reads_as_none(store: Arc<dyn Store>) {
    let session = new_cli_session();
    store
        .create_cli_session(&session, now_ms() - 1_000)
        .await
        .expect("create_cli_session");

    assert_eq!(get(&*store, &session.id).await, None);
    assert!(
        !store
            .complete_cli_session(&session.id, "token", "c0de")
            .await
            .expect("complete_cli_session"),
        "an expired sign-in cannot be completed"
    );
}
