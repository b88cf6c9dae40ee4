//! The core services the admin API and `sluice` share (`sluice_core::directory`, `sluice_core::keys::create_key`):
//! through the routes, and directly on the store with a fixed clock and predictable ids.

mod support;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sluice_core::clock::{FixedClock, Ids, SequenceIds};
use sluice_core::directory::{DirectoryError, NewPerson, create_person, create_team};
use sluice_core::identity::Role;
use sluice_core::keys::{CreateKeyError, NewKey, create_key};
use sluice_core::limits::SETTING_MAX_KEYS_PER_PERSON;
use support::Env;

/// The last second of a month: a "now" that used to make date-dependent tests flaky.
fn month_end() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-31T23:59:59Z")
        .expect("date")
        .with_timezone(&Utc)
}

#[tokio::test]
async fn blank_names_and_unknown_teams_are_refused_and_names_are_trimmed() {
    let env = Env::start().await;
    let admin = env.admin_session().await;

    for body in [json!({"name": "   "}), json!({})] {
        let (status, answer) = env.post("/admin/teams", Some(&admin), &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert!(answer.contains("name: "), "{answer}");
    }
    let (status, answer) = env
        .post(
            "/admin/teams",
            Some(&admin),
            &json!({"name": "  Platform "}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let team: Value = serde_json::from_str(&answer).expect("json");
    assert_eq!(team["name"], "Platform");

    for body in [json!({"email": " "}), json!({"role": "member"})] {
        let (status, answer) = env.post("/admin/users", Some(&admin), &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert!(answer.contains("email: "), "{answer}");
    }
    let (status, answer) = env
        .post(
            "/admin/users",
            Some(&admin),
            &json!({"email": "ann@example.com", "team_id": "team_nope"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer.contains("no team with id team_nope"), "{answer}");
    let (status, answer) = env
        .post(
            "/admin/users",
            Some(&admin),
            &json!({"email": " Ann@Example.com ", "team_id": team["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let person: Value = serde_json::from_str(&answer).expect("json");
    assert_eq!(person["email"], "ann@example.com");
    assert_eq!(person["team_id"], team["id"]);
}

#[tokio::test]
async fn the_services_take_now_and_ids_from_their_ports() {
    let env = Env::start().await;
    let store = env.app.store.as_ref();
    let clock = FixedClock::at(month_end());
    let ids = SequenceIds::new(42);

    let team = create_team(store, &ids, &clock, "Data")
        .await
        .expect("team");
    assert_eq!(team.created_at_ms, month_end().timestamp_millis());
    let new = |email: &str| NewPerson {
        email: email.to_owned(),
        role: Role::Member,
        team_id: Some(team.id.clone()),
    };
    let person = create_person(store, &ids, &clock, new("bo@example.com"))
        .await
        .expect("person");
    assert_eq!(person.created_at_ms, month_end().timestamp_millis());
    assert_eq!(person.idp, "admin");
    // The same seed gives the same ids, in the same order: a test can name them in advance.
    let again = SequenceIds::new(42);
    assert_eq!(team.id, again.new_id("team"));
    assert_eq!(person.id, again.new_id("usr"));
    assert!(matches!(
        create_person(store, &ids, &clock, new("bo@example.com")).await,
        Err(DirectoryError::Store(_))
    ));

    store
        .put_setting(SETTING_MAX_KEYS_PER_PERSON, "2")
        .await
        .expect("setting");
    let key = |name: &str| NewKey {
        name: name.to_owned(),
        user_id: Some(person.id.clone()),
        team_id: None,
        rate_limit_rpm: Some(0),
    };
    clock.advance(std::time::Duration::from_secs(1));
    let (first, secret) = create_key(store, &ids, &clock, key("one"))
        .await
        .expect("key");
    assert_eq!(first.created_at_ms, month_end().timestamp_millis() + 1000);
    assert_eq!(first.rate_limit_rpm, None, "0 is no limit of its own");
    assert_eq!(first.key_hash, sluice_core::keys::hash_secret(&secret));
    create_key(store, &ids, &clock, key("two"))
        .await
        .expect("key");
    match create_key(store, &ids, &clock, key("three")).await {
        Err(CreateKeyError::QuotaReached { active, quota }) => assert_eq!((active, quota), (2, 2)),
        other => panic!("expected the quota, got {other:?}"),
    }
}
