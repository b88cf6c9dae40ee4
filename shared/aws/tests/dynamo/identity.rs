//! What only DynamoDB has for users, teams, IdPs, settings, the policy document and CLI sessions: the calls
//! each operation makes and the items it leaves.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use sluice_core::identity::{PersonGroups, User};
use sluice_core::store::{
    CliSessionStore, IdpStore, POLICIES_SETTING, PolicyChange, PolicyStore, SettingsStore,
    TeamStore, UserStore,
};
use sluice_testkit::contract::builders::{new_cli_session, new_idp, new_team, new_user};
use sluice_testkit::fixtures::now_ms;

use crate::support::{CallRecorder, fresh_store, moto_client, n, raw_item, s};

fn assert_consistent_get(recorder: &CallRecorder, what: &str) {
    let (operation, body) = recorder.take_single();
    assert_eq!(operation, "GetItem", "{what}");
    assert_eq!(body["ConsistentRead"], Value::Bool(true), "{what}: {body}");
}

#[tokio::test]
async fn request_path_lookups_are_single_consistent_get_items() {
    let recorder = CallRecorder::default();
    let store = fresh_store(moto_client(Some(recorder.clone()))).await;
    let user = new_user("hot-path");
    let session = new_cli_session();
    store.create_user(&user).await.expect("create_user");
    store.put_setting("k", "v").await.expect("put_setting");
    store
        .create_cli_session(&session, now_ms() + 60_000)
        .await
        .expect("create_cli_session");
    recorder.take();

    // Right after the writes: no eventually consistent index is involved.
    assert_eq!(
        store.user_by_id(&user.id).await.expect("by id"),
        Some(user.clone())
    );
    assert_consistent_get(&recorder, "user_by_id");
    assert_eq!(
        store.user_by_email(&user.email).await.expect("by email"),
        Some(user)
    );
    assert_consistent_get(&recorder, "user_by_email");
    assert_eq!(
        store.get_setting("k").await.expect("get").as_deref(),
        Some("v")
    );
    assert_consistent_get(&recorder, "get_setting");
    assert_eq!(
        store.cli_session(&session.id).await.expect("get"),
        Some(session)
    );
    assert_consistent_get(&recorder, "cli_session");
}

#[tokio::test]
async fn admin_operations_make_the_documented_calls() {
    let recorder = CallRecorder::default();
    let store = fresh_store(moto_client(Some(recorder.clone()))).await;
    let (user, team, idp, session) = (
        new_user("calls"),
        new_team("calls"),
        new_idp("calls"),
        new_cli_session(),
    );
    recorder.take();

    store.create_user(&user).await.expect("create_user");
    assert_eq!(recorder.take_operations(), ["TransactWriteItems"]);
    store
        .update_user(&User {
            active: false,
            ..user
        })
        .await
        .expect("update_user");
    assert_eq!(
        recorder.take_operations(),
        ["GetItem", "TransactWriteItems"]
    );
    store.list_users().await.expect("list_users");
    assert_eq!(recorder.take_operations(), ["Query"]);

    store.create_team(&team).await.expect("create_team");
    assert_eq!(recorder.take_operations(), ["TransactWriteItems"]);
    store.list_teams().await.expect("list_teams");
    assert_eq!(recorder.take_operations(), ["Query"]);

    store.create_idp(&idp).await.expect("create_idp");
    assert_eq!(recorder.take_operations(), ["TransactWriteItems"]);
    store.delete_idp(&idp.id).await.expect("delete_idp");
    assert_eq!(
        recorder.take_operations(),
        ["GetItem", "TransactWriteItems"]
    );

    store.put_setting_if_absent("s", "1").await.expect("first");
    assert_eq!(recorder.take_operations(), ["PutItem"]);
    store.put_setting_if_absent("s", "2").await.expect("second");
    assert_eq!(recorder.take_operations(), ["PutItem", "GetItem"]);

    store
        .create_cli_session(&session, now_ms() + 60_000)
        .await
        .expect("create_cli_session");
    assert_eq!(recorder.take_operations(), ["PutItem"]);
    store
        .complete_cli_session(&session.id, "t", "h")
        .await
        .expect("complete");
    assert_eq!(recorder.take_operations(), ["UpdateItem"]);
}

#[tokio::test]
async fn user_items_carry_item_type_and_the_documented_keys() {
    let client = moto_client(None);
    let store = fresh_store(client.clone()).await;
    let user = new_user("layout");
    store.create_user(&user).await.expect("create_user");

    let by_id = raw_item(&client, store.table(), format!("USER#{}", user.id), "USER")
        .await
        .expect("user item");
    assert_eq!(by_id.get("item_type"), Some(&s("user")));
    assert_eq!(by_id.get("gsi1pk"), Some(&s("USERS")));
    assert_eq!(
        by_id.get("gsi1sk"),
        Some(&s(&format!("{:020}#{}", user.created_at_ms, user.id)))
    );
    assert_eq!(by_id.get("role"), Some(&s("member")));
    assert!(
        !by_id.contains_key("team_id"),
        "unset team is absent: {by_id:?}"
    );

    let by_email = raw_item(
        &client,
        store.table(),
        format!("USEREMAIL#{}", user.email),
        "USEREMAIL",
    )
    .await
    .expect("email item");
    assert_eq!(by_email.get("item_type"), Some(&s("user_email")));
    assert_eq!(by_email.get("id"), Some(&s(&user.id)));
    assert!(
        !by_email.contains_key("gsi1pk"),
        "the email copy stays out of the listing"
    );
}

#[tokio::test]
async fn team_and_idp_items_and_their_markers() {
    let client = moto_client(None);
    let store = fresh_store(client.clone()).await;
    let (team, idp) = (new_team("layout"), new_idp("layout"));
    store.create_team(&team).await.expect("create_team");
    store.create_idp(&idp).await.expect("create_idp");

    let team_item = raw_item(&client, store.table(), format!("TEAM#{}", team.id), "TEAM")
        .await
        .expect("team item");
    assert_eq!(team_item.get("item_type"), Some(&s("team")));
    assert_eq!(team_item.get("gsi1pk"), Some(&s("TEAMS")));
    let name = raw_item(
        &client,
        store.table(),
        format!("TEAMNAME#{}", team.name),
        "TEAMNAME",
    )
    .await
    .expect("name marker");
    assert_eq!(name.get("item_type"), Some(&s("team_name")));
    assert_eq!(name.get("id"), Some(&s(&team.id)));

    let idp_item = raw_item(&client, store.table(), format!("IDP#{}", idp.id), "IDP")
        .await
        .expect("idp item");
    assert_eq!(idp_item.get("item_type"), Some(&s("idp")));
    assert_eq!(idp_item.get("gsi1pk"), Some(&s("IDPS")));
    let issuer_key = format!("IDPISSUER#{}", idp.issuer);
    let issuer = raw_item(&client, store.table(), issuer_key.clone(), "IDPISSUER")
        .await
        .expect("issuer marker");
    assert_eq!(issuer.get("item_type"), Some(&s("idp_issuer")));
    assert_eq!(issuer.get("id"), Some(&s(&idp.id)));

    assert!(store.delete_idp(&idp.id).await.expect("delete_idp"));
    assert_eq!(
        raw_item(&client, store.table(), issuer_key, "IDPISSUER").await,
        None,
        "deleting a provider frees its issuer"
    );
}

#[tokio::test]
async fn user_groups_are_a_map_of_lists_and_the_groups_claim_a_string() {
    let client = moto_client(None);
    let store = fresh_store(client.clone()).await;
    let user = User {
        groups: PersonGroups {
            idp: vec!["eng".into()],
            scim: Vec::new(),
        },
        ..new_user("groups")
    };
    let idp = new_idp("groups");
    store.create_user(&user).await.expect("create_user");
    store.create_idp(&idp).await.expect("create_idp");

    for (pk, sk) in [
        (format!("USER#{}", user.id), "USER"),
        (format!("USEREMAIL#{}", user.email), "USEREMAIL"),
    ] {
        let item = raw_item(&client, store.table(), pk, sk)
            .await
            .expect("user item");
        let groups = item.get("groups").expect("groups").as_m().expect("a Map");
        assert_eq!(groups.get("idp"), Some(&AttributeValue::L(vec![s("eng")])));
        assert!(
            !groups.contains_key("scim"),
            "an empty list is absent: {groups:?}"
        );
    }
    let idp_item = raw_item(&client, store.table(), format!("IDP#{}", idp.id), "IDP")
        .await
        .expect("idp item");
    assert_eq!(idp_item.get("groups_claim"), Some(&s("groups")));
}

#[tokio::test]
async fn a_policy_replace_is_one_transaction_and_the_changes_one_backward_query() {
    let recorder = CallRecorder::default();
    let client = moto_client(Some(recorder.clone()));
    let store = fresh_store(client.clone()).await;
    let change = PolicyChange {
        id: "pch_1_a".into(),
        at_ms: 1,
        actor: "cli:local".into(),
        from_version: 0,
        to_version: 1,
        diff: "{}".into(),
    };
    let document = json!({"version": 1, "policies": []}).to_string();
    recorder.take();

    assert!(
        store
            .replace_policies(0, &document, &change)
            .await
            .expect("replace_policies")
    );
    let (operation, body) = recorder.take_single();
    assert_eq!(operation, "TransactWriteItems");
    let puts = body["TransactItems"].as_array().expect("items");
    assert_eq!(puts.len(), 2, "{body}");
    assert_eq!(puts[1]["Put"]["Item"]["pk"]["S"], "POLICYCHANGE", "{body}");

    assert!(
        !store
            .replace_policies(0, &document, &change)
            .await
            .expect("a stale replace is an answer, not an error")
    );
    recorder.take();

    let item = raw_item(
        &client,
        store.table(),
        format!("SETTING#{POLICIES_SETTING}"),
        "SETTING",
    )
    .await
    .expect("the document is the policies setting item");
    assert_eq!(item.get("item_type"), Some(&s("setting")));
    assert_eq!(item.get("value"), Some(&s(&document)));
    assert_eq!(item.get("policy_version"), Some(&n(1)));
    let change_item = raw_item(
        &client,
        store.table(),
        "POLICYCHANGE".into(),
        &format!("{:020}#pch_1_a", 1),
    )
    .await
    .expect("change item");
    assert_eq!(change_item.get("item_type"), Some(&s("policy_change")));
    recorder.take();

    assert_eq!(
        store.policy_changes(5).await.expect("changes"),
        vec![change]
    );
    let (operation, body) = recorder.take_single();
    assert_eq!(operation, "Query");
    assert_eq!(body["ScanIndexForward"], Value::Bool(false), "{body}");
    assert_eq!(body["Limit"], json!(5), "{body}");
    assert!(body.get("IndexName").is_none(), "{body}");
}

#[tokio::test]
async fn setting_and_cli_session_items() {
    let client = moto_client(None);
    let store = fresh_store(client.clone()).await;
    let session = new_cli_session();
    let expires_at_ms = now_ms() + 60_500;
    store
        .put_setting("theme", "dark")
        .await
        .expect("put_setting");
    store
        .create_cli_session(&session, expires_at_ms)
        .await
        .expect("create_cli_session");

    let setting = raw_item(&client, store.table(), "SETTING#theme".into(), "SETTING")
        .await
        .expect("setting item");
    assert_eq!(setting.get("item_type"), Some(&s("setting")));
    assert_eq!(setting.get("value"), Some(&s("dark")));
    assert!(!setting.contains_key("expires_at"), "settings never expire");

    let item = raw_item(
        &client,
        store.table(),
        format!("CLISESSION#{}", session.id),
        "CLISESSION",
    )
    .await
    .expect("session item");
    assert_eq!(item.get("item_type"), Some(&s("cli_session")));
    assert_eq!(item.get("expires_at_ms"), Some(&n(expires_at_ms)));
    // TTL in whole seconds, rounded up so TTL never deletes a session that reads as live.
    let ttl_s = (expires_at_ms + 999) / 1000;
    assert_eq!(item.get("expires_at"), Some(&n(ttl_s)));
    assert!(
        !item.contains_key("token"),
        "pending sessions have no token"
    );
}

#[tokio::test]
async fn cli_session_complete_sends_the_token_under_a_liveness_condition() {
    let recorder = CallRecorder::default();
    let store = fresh_store(moto_client(Some(recorder.clone()))).await;
    let session = new_cli_session();
    store
        .create_cli_session(&session, now_ms() + 60_000)
        .await
        .expect("create_cli_session");
    recorder.take();

    assert!(
        store
            .complete_cli_session(&session.id, "tok", "code-hash")
            .await
            .expect("complete")
    );

    let (operation, body) = recorder.take_single();
    assert_eq!(operation, "UpdateItem");
    assert_eq!(
        body["ExpressionAttributeValues"][":token"],
        json!({"S": "tok"})
    );
    let condition = body["ConditionExpression"].as_str().unwrap_or_default();
    assert!(condition.contains("expires_at_ms > :now"), "{body}");
}
