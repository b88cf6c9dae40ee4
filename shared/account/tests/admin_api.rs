//! The CCAG-compatible admin API for keys, users and teams, through the real routers: every path for each kind of
//! caller (administrator, member, virtual key, nobody), the shapes CCAG's CLI reads, partial updates, bad bodies
//! (400 with a message) and unknown ids (404), always with a JSON body.

mod support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sluice_core::identity::Role;
use support::{Env, now_s};
use tower::ServiceExt;

/// The people of one test: an administrator and a member signed in with sessions, and a virtual key of the member.
struct Org {
    env: Env,
    admin: String,
    admin_id: String,
    member: String,
    member_id: String,
    key: String,
}

impl Org {
    async fn start() -> Self {
        let env = Env::start().await;
        let admin = env.user("root@example.com", Role::Admin).await;
        let member = env.user("mia@example.com", Role::Member).await;
        let (key, _) = env.key("mia's key", Some(&member.id)).await;
        Self {
            admin: env.app.auth.sessions.issue(&admin, now_s()),
            member: env.app.auth.sessions.issue(&member, now_s()),
            admin_id: admin.id,
            member_id: member.id,
            key,
            env,
        }
    }

    /// One call; the answer must be JSON (CCAG's CLI parses every body).
    async fn call(
        &self,
        method: Method,
        path: &str,
        credential: Option<&str>,
        body: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method.clone()).uri(path);
        if let Some(c) = credential {
            req = req.header("authorization", format!("Bearer {c}"));
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(Body::from(body.unwrap_or_default().to_owned()))
            .expect("request");
        let resp = self
            .env
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("infallible");
        let status = resp.status();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "{method} {path} answered {status} without a JSON body: {:?}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (status, json)
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let body = body.map(|b| b.to_string());
        self.call(method, path, Some(&self.admin), body.as_deref())
            .await
    }

    async fn member(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let body = body.map(|b| b.to_string());
        self.call(method, path, Some(&self.member), body.as_deref())
            .await
    }

    async fn team(&self, name: &str) -> String {
        let (s, t) = self
            .admin(Method::POST, "/admin/teams", Some(json!({"name": name})))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{t}");
        t["id"].as_str().expect("team id").to_owned()
    }

    /// `/auth/me` with a virtual key: 200 while it works.
    async fn key_works(&self, secret: &str) -> bool {
        self.call(Method::GET, "/auth/me", Some(secret), None)
            .await
            .0
            == StatusCode::OK
    }
}

fn error_of(body: &Value) -> (&str, &str) {
    assert_eq!(body["type"], "error", "{body}");
    (
        body["error"]["type"].as_str().expect("error type"),
        body["error"]["message"].as_str().expect("error message"),
    )
}

/// Every path of this API, with a body that would be accepted, and whether a member may call it.
fn every_path(key_id: &str, team_id: &str, user_id: &str) -> Vec<(Method, String, Value, bool)> {
    vec![
        (Method::GET, "/admin/keys".into(), json!(null), true),
        (
            Method::POST,
            "/admin/keys".into(),
            json!({"name": "k"}),
            true,
        ),
        (
            Method::POST,
            format!("/admin/keys/{key_id}/revoke"),
            json!({}),
            true,
        ),
        (
            Method::DELETE,
            format!("/admin/keys/{key_id}"),
            json!(null),
            true,
        ),
        (
            Method::PATCH,
            format!("/admin/keys/{key_id}"),
            json!({"name": "n"}),
            false,
        ),
        (
            Method::POST,
            format!("/admin/keys/{key_id}/setup-token"),
            json!({"raw_key": "x"}),
            true,
        ),
        (Method::GET, "/admin/users".into(), json!(null), false),
        (
            Method::POST,
            "/admin/users".into(),
            json!({"email": "new@example.com"}),
            false,
        ),
        (
            Method::PUT,
            format!("/admin/users/{user_id}"),
            json!({"role": "member"}),
            false,
        ),
        (
            Method::PATCH,
            format!("/admin/users/{user_id}"),
            json!({"active": true}),
            false,
        ),
        (
            Method::DELETE,
            format!("/admin/users/{user_id}"),
            json!(null),
            false,
        ),
        (
            Method::PUT,
            format!("/admin/users/{user_id}/team"),
            json!({"team_id": null}),
            false,
        ),
        (Method::GET, "/admin/teams".into(), json!(null), false),
        (
            Method::POST,
            "/admin/teams".into(),
            json!({"name": "t"}),
            false,
        ),
        (
            Method::DELETE,
            format!("/admin/teams/{team_id}"),
            json!(null),
            false,
        ),
        (
            Method::GET,
            format!("/admin/teams/{team_id}/members"),
            json!(null),
            false,
        ),
        (
            Method::POST,
            format!("/admin/teams/{team_id}/members"),
            json!({"user_id": user_id}),
            false,
        ),
        (
            Method::DELETE,
            format!("/admin/teams/{team_id}/members/{user_id}"),
            json!(null),
            false,
        ),
        (
            Method::GET,
            format!("/admin/teams/{team_id}/keys"),
            json!(null),
            false,
        ),
        (
            Method::GET,
            format!("/admin/teams/{team_id}/endpoints"),
            json!(null),
            false,
        ),
        (
            Method::PUT,
            format!("/admin/teams/{team_id}/endpoints"),
            json!({"endpoints": []}),
            false,
        ),
        (
            Method::GET,
            format!("/admin/teams/{team_id}/analytics"),
            json!(null),
            false,
        ),
        (Method::GET, "/admin/idps".into(), json!(null), false),
        (
            Method::PUT,
            "/admin/idps/idp_any/scim".into(),
            json!({"enabled": true}),
            false,
        ),
        (
            Method::GET,
            "/admin/idps/idp_any/scim-tokens".into(),
            json!(null),
            false,
        ),
        (
            Method::POST,
            "/admin/idps/idp_any/scim-tokens".into(),
            json!({"name": "entra"}),
            false,
        ),
        (
            Method::DELETE,
            "/admin/idps/idp_any/scim-tokens/tok_any".into(),
            json!(null),
            false,
        ),
        (
            Method::GET,
            "/admin/idps/idp_any/scim-admin-groups".into(),
            json!(null),
            false,
        ),
        (
            Method::PUT,
            "/admin/idps/idp_any/scim-admin-groups".into(),
            json!({"groups": ["Admins"]}),
            false,
        ),
        (
            Method::POST,
            "/admin/idps".into(),
            json!({"name": "i", "issuer_url": "https://login.example.com", "client_id": "c"}),
            false,
        ),
        (
            Method::PUT,
            "/admin/idps/idp_any".into(),
            json!({"enabled": false}),
            false,
        ),
        (
            Method::DELETE,
            "/admin/idps/idp_any".into(),
            json!(null),
            false,
        ),
    ]
}

fn body_of(v: &Value) -> Option<String> {
    (!v.is_null()).then(|| v.to_string())
}

#[tokio::test]
async fn virtual_keys_and_anonymous_callers_are_refused_on_every_path() {
    let org = Org::start().await;
    let team = org.team("refusals").await;
    let (_, key_id) = org.env.key("target", Some(&org.member_id)).await;
    for (method, path, body, _) in every_path(&key_id, &team, &org.member_id) {
        let (s, b) = org
            .call(
                method.clone(),
                &path,
                Some(&org.key),
                body_of(&body).as_deref(),
            )
            .await;
        assert_eq!(
            s,
            StatusCode::FORBIDDEN,
            "virtual key on {method} {path}: {b}"
        );
        let (kind, message) = error_of(&b);
        assert_eq!(kind, "permission_error");
        assert!(message.contains("virtual keys"), "{message}");

        let (s, b) = org
            .call(method.clone(), &path, None, body_of(&body).as_deref())
            .await;
        assert_eq!(
            s,
            StatusCode::UNAUTHORIZED,
            "no credential on {method} {path}: {b}"
        );
        assert_eq!(error_of(&b).0, "authentication_error");
    }
    // Nothing was changed by the refused calls.
    assert!(org.key_works(&org.key).await);
    let (_, keys) = org.admin(Method::GET, "/admin/keys", None).await;
    assert!(
        keys["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .all(|k| k["name"] != "k")
    );
}

#[tokio::test]
async fn members_are_refused_on_admin_only_paths() {
    let org = Org::start().await;
    let team = org.team("admins only").await;
    let (_, key_id) = org.env.key("target", Some(&org.member_id)).await;
    for (method, path, body, member_may) in every_path(&key_id, &team, &org.admin_id) {
        if member_may {
            continue;
        }
        let (s, b) = org
            .call(
                method.clone(),
                &path,
                Some(&org.member),
                body_of(&body).as_deref(),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "member on {method} {path}: {b}");
        assert_eq!(error_of(&b).0, "permission_error");
    }
}

/// The refusals' wording is part of the API (CCAG's CLI and the docs show it).
#[tokio::test]
async fn a_member_on_an_admin_route_is_told_it_needs_the_admin_role() {
    let org = Org::start().await;
    let (s, b) = org.member(Method::GET, "/admin/users", None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(
        error_of(&b),
        ("permission_error", "this route needs the admin role")
    );
}

/// `/auth/logout` is outside `/admin/`, so no middleware has checked the caller before its handler: the
/// handler's own person check answers as the admin routes do.
#[tokio::test]
async fn sign_out_refuses_virtual_keys_and_anonymous_callers_and_lets_a_member_out() {
    let org = Org::start().await;
    let (s, b) = org
        .call(Method::POST, "/auth/logout", Some(&org.key), Some("{}"))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(
        error_of(&b),
        (
            "permission_error",
            "virtual keys cannot use the admin API; sign in instead"
        )
    );
    let (s, b) = org
        .call(Method::POST, "/auth/logout", None, Some("{}"))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{b}");
    assert_eq!(error_of(&b).0, "authentication_error");

    let (s, b) = org
        .member(Method::POST, "/auth/logout", Some(json!({})))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["user_id"], org.member_id.as_str());
}

#[tokio::test]
async fn admin_creates_lists_updates_revokes_and_deletes_a_key() {
    let org = Org::start().await;
    let team = org.team("platform").await;

    // CCAG's CLI sends rate_limit_rpm 0 for "unlimited".
    let (s, created) = org
        .admin(
            Method::POST,
            "/admin/keys",
            Some(json!({"name": "ci", "rate_limit_rpm": 0})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let secret = created["key"].as_str().expect("key");
    let id = created["id"].as_str().expect("id").to_owned();
    assert!(secret.starts_with("sk-sluice-"), "{secret}");
    assert!(secret.starts_with(created["prefix"].as_str().expect("prefix")));
    assert_eq!(created["name"], "ci");
    assert!(
        created["created_at"]
            .as_str()
            .expect("created_at")
            .ends_with('Z')
    );
    assert_eq!(created["rate_limit_rpm"], Value::Null);
    assert_eq!(created["user_id"], org.admin_id.as_str());
    assert!(org.key_works(secret).await);

    let (s, listed) = org.admin(Method::GET, "/admin/keys", None).await;
    assert_eq!(s, StatusCode::OK);
    let row = listed["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["id"] == id.as_str())
        .expect("listed")
        .clone();
    for field in [
        "id",
        "prefix",
        "name",
        "user_id",
        "team_id",
        "is_active",
        "rate_limit_rpm",
        "created_at",
        "expires_at",
    ] {
        assert!(row.get(field).is_some(), "{field} missing from {row}");
    }
    assert_eq!(row["is_active"], true);
    assert!(
        row.get("key").is_none() && row.get("key_hash").is_none(),
        "{row}"
    );

    // Partial updates: only what is sent changes; null clears.
    let path = format!("/admin/keys/{id}");
    let (s, b) = org
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"team_id": team, "rate_limit_rpm": 30})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["updated"], true);
    assert_eq!(b["key"]["team_id"], team.as_str());
    assert_eq!(b["key"]["rate_limit_rpm"], 30);
    assert_eq!(b["key"]["name"], "ci");
    let (_, b) = org
        .admin(
            Method::PATCH,
            &path,
            Some(json!({"name": "ci-2", "user_id": null})),
        )
        .await;
    assert_eq!(b["key"]["name"], "ci-2");
    assert_eq!(b["key"]["user_id"], Value::Null);
    assert_eq!(b["key"]["team_id"], team.as_str());
    assert_eq!(b["key"]["rate_limit_rpm"], 30);
    let (_, b) = org
        .admin(Method::PATCH, &path, Some(json!({"rate_limit_rpm": 0})))
        .await;
    assert_eq!(b["key"]["rate_limit_rpm"], Value::Null);
    let (_, team_keys) = org
        .admin(Method::GET, &format!("/admin/teams/{team}/keys"), None)
        .await;
    assert_eq!(team_keys["keys"][0]["id"], id.as_str());

    let (s, b) = org
        .admin(
            Method::POST,
            &format!("/admin/keys/{id}/revoke"),
            Some(json!({})),
        )
        .await;
    assert_eq!((s, &b["revoked"]), (StatusCode::OK, &json!(true)), "{b}");
    assert!(!org.key_works(secret).await);
    let (_, listed) = org.admin(Method::GET, "/admin/keys", None).await;
    let row = listed["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["id"] == id.as_str())
        .cloned();
    assert_eq!(row.expect("still listed")["is_active"], false);

    let (s, b) = org.admin(Method::DELETE, &path, None).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"deleted": true})));
    let (s, b) = org.admin(Method::DELETE, &path, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&b).0, "not_found_error");
}

#[tokio::test]
async fn members_own_their_keys_and_see_no_one_elses() {
    let org = Org::start().await;
    let team = org.team("members").await;
    let (_, b) = org
        .admin(
            Method::PUT,
            &format!("/admin/users/{}/team", org.member_id),
            Some(json!({"team_id": team})),
        )
        .await;
    assert_eq!(b["updated"], true, "{b}");
    let (_, admins_key) = org.env.key("admin's", Some(&org.admin_id)).await;

    let (s, mine) = org
        .member(
            Method::POST,
            "/admin/keys",
            Some(json!({"name": "laptop", "rate_limit_rpm": 10})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{mine}");
    assert_eq!(mine["user_id"], org.member_id.as_str());
    // The team defaults to the owner's.
    assert_eq!(mine["team_id"], team.as_str());
    assert_eq!(mine["rate_limit_rpm"], 10);
    let mine_id = mine["id"].as_str().expect("id");

    let (_, listed) = org.member(Method::GET, "/admin/keys", None).await;
    let keys = listed["keys"].as_array().expect("keys");
    assert!(!keys.is_empty());
    assert!(
        keys.iter().all(|k| k["user_id"] == org.member_id.as_str()),
        "{listed}"
    );
    assert!(keys.iter().any(|k| k["id"] == mine_id));

    // Someone else's key does not exist for a member.
    for (method, path) in [
        (Method::POST, format!("/admin/keys/{admins_key}/revoke")),
        (Method::DELETE, format!("/admin/keys/{admins_key}")),
        (
            Method::POST,
            format!("/admin/keys/{admins_key}/setup-token"),
        ),
    ] {
        let (s, b) = org.member(method.clone(), &path, Some(json!({}))).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {path}: {b}");
    }
    // Nor may a member make keys for someone else or another team.
    let (s, b) = org
        .member(
            Method::POST,
            "/admin/keys",
            Some(json!({"name": "x", "user_id": org.admin_id})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    let other = org.team("other").await;
    let (s, b) = org
        .member(
            Method::POST,
            "/admin/keys",
            Some(json!({"name": "x", "team_id": other})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");

    let (s, b) = org
        .member(Method::POST, &format!("/admin/keys/{mine_id}/revoke"), None)
        .await;
    assert_eq!((s, &b["revoked"]), (StatusCode::OK, &json!(true)), "{b}");
    let (s, b) = org
        .member(Method::DELETE, &format!("/admin/keys/{mine_id}"), None)
        .await;
    assert_eq!((s, b), (StatusCode::OK, json!({"deleted": true})));
}

#[tokio::test]
async fn admin_gives_keys_to_other_people_with_their_team() {
    let org = Org::start().await;
    let team = org.team("owners").await;
    org.admin(
        Method::PUT,
        &format!("/admin/users/{}/team", org.member_id),
        Some(json!({"team_id": team})),
    )
    .await;
    let (s, k) = org
        .admin(
            Method::POST,
            "/admin/keys",
            Some(json!({"name": "for mia", "user_id": org.member_id, "team_id": null})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{k}");
    assert_eq!(k["user_id"], org.member_id.as_str());
    assert_eq!(k["team_id"], team.as_str());
    let (_, listed) = org.member(Method::GET, "/admin/keys", None).await;
    assert!(
        listed["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .any(|x| x["id"] == k["id"])
    );

    for body in [
        json!({"user_id": "usr_nobody"}),
        json!({"team_id": "team_nothing"}),
    ] {
        let (s, b) = org
            .admin(Method::POST, "/admin/keys", Some(body.clone()))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {b}");
        assert!(error_of(&b).1.contains("no "), "{b}");
        let (s, b) = org
            .admin(
                Method::PATCH,
                &format!("/admin/keys/{}", k["id"].as_str().expect("id")),
                Some(body.clone()),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {b}");
    }
}

#[tokio::test]
async fn users_are_created_listed_updated_moved_and_deleted() {
    let org = Org::start().await;
    let team = org.team("people").await;

    let (s, u) = org
        .admin(
            Method::POST,
            "/admin/users",
            Some(json!({"email": "Zed@Example.com", "team_id": team})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    assert_eq!(
        (u["email"].as_str(), u["role"].as_str()),
        (Some("zed@example.com"), Some("member"))
    );
    assert_eq!(u["team_id"], team.as_str());
    let id = u["id"].as_str().expect("id").to_owned();
    let (s, b) = org
        .admin(
            Method::POST,
            "/admin/users",
            Some(json!({"email": "zed@example.com"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "duplicate email: {b}");

    let (_, listed) = org.admin(Method::GET, "/admin/users", None).await;
    let emails: Vec<&str> = listed["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["email"].as_str())
        .collect();
    let mut sorted = emails.clone();
    sorted.sort_unstable();
    assert_eq!(emails, sorted, "listed by email");
    let row = listed["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["id"] == id.as_str())
        .cloned()
        .expect("listed");
    for field in ["id", "email", "role", "team_id", "created_at", "active"] {
        assert!(row.get(field).is_some(), "{field} missing from {row}");
    }

    let path = format!("/admin/users/{id}");
    let (s, b) = org
        .admin(Method::PUT, &path, Some(json!({"role": "admin"})))
        .await;
    assert_eq!((s, &b["updated"]), (StatusCode::OK, &json!(true)), "{b}");
    assert_eq!(b["role"], "admin");
    assert_eq!(b["team_id"], team.as_str(), "a role change keeps the team");
    let (s, b) = org
        .admin(Method::PUT, &path, Some(json!({"role": "owner"})))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(error_of(&b).1.contains("role"), "{b}");

    let team_path = format!("{path}/team");
    let (_, b) = org
        .admin(Method::PUT, &team_path, Some(json!({"team_id": null})))
        .await;
    assert_eq!(b["updated"], true);
    assert_eq!(b["user"]["team_id"], Value::Null);
    assert_eq!(b["user"]["role"], "admin", "a team change keeps the role");
    let (s, b) = org.admin(Method::PUT, &team_path, Some(json!({}))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(error_of(&b).1.contains("team_id"), "{b}");

    // Deleting a person revokes their keys and frees the email.
    let (secret, _) = org.env.key("zed's", Some(&id)).await;
    assert!(org.key_works(&secret).await);
    let (s, b) = org.admin(Method::DELETE, &path, None).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"deleted": true})));
    assert!(!org.key_works(&secret).await);
    let (s, _) = org.admin(Method::DELETE, &path, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = org
        .admin(
            Method::POST,
            "/admin/users",
            Some(json!({"email": "zed@example.com"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    // An administrator cannot delete themselves.
    let (s, b) = org
        .admin(
            Method::DELETE,
            &format!("/admin/users/{}", org.admin_id),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
}

#[tokio::test]
async fn teams_members_and_keys_and_team_deletion() {
    let org = Org::start().await;
    let (s, t) = org
        .admin(
            Method::POST,
            "/admin/teams",
            Some(json!({"name": "Search"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    assert_eq!(t["name"], "Search");
    let team = t["id"].as_str().expect("id").to_owned();
    org.team("Alpha").await;
    let (s, b) = org
        .admin(
            Method::POST,
            "/admin/teams",
            Some(json!({"name": "Search"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "duplicate name: {b}");

    let (_, listed) = org.admin(Method::GET, "/admin/teams", None).await;
    let names: Vec<&str> = listed["teams"]
        .as_array()
        .expect("teams")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["Alpha", "Search"], "listed by name");
    assert!(listed["teams"][0]["created_at"].is_string());

    // Members: by id, and by email.
    let members = format!("/admin/teams/{team}/members");
    let (s, b) = org
        .admin(
            Method::POST,
            &members,
            Some(json!({"user_id": org.member_id})),
        )
        .await;
    assert_eq!((s, &b["added"]), (StatusCode::OK, &json!(true)), "{b}");
    let (_, b) = org
        .admin(
            Method::POST,
            &members,
            Some(json!({"user_id": "root@example.com"})),
        )
        .await;
    assert_eq!(b["added"], true, "{b}");
    let (_, listed) = org.admin(Method::GET, &members, None).await;
    let rows = listed["members"].as_array().expect("members");
    assert_eq!(rows.len(), 2, "{listed}");
    assert_eq!(rows[0]["email"], "mia@example.com");
    for field in ["id", "email", "role", "active"] {
        assert!(rows[0].get(field).is_some(), "{field} missing");
    }
    // The team may be named instead of its id.
    let (_, by_name) = org
        .admin(Method::GET, "/admin/teams/Search/members", None)
        .await;
    assert_eq!(by_name, listed);

    let (s, b) = org
        .admin(Method::DELETE, &format!("{members}/{}", org.admin_id), None)
        .await;
    assert_eq!((s, b), (StatusCode::OK, json!({"removed": true})));
    let (s, b) = org
        .admin(Method::DELETE, &format!("{members}/{}", org.admin_id), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not a member any more: {b}");

    // A key of the team; deleting the team clears it from the key and from the remaining member.
    let (_, k) = org
        .admin(
            Method::POST,
            "/admin/keys",
            Some(json!({"name": "team key", "team_id": team})),
        )
        .await;
    let (_, keys) = org
        .admin(Method::GET, &format!("/admin/teams/{team}/keys"), None)
        .await;
    assert_eq!(keys["keys"].as_array().expect("keys").len(), 1);
    let (s, b) = org
        .admin(Method::DELETE, &format!("/admin/teams/{team}"), None)
        .await;
    assert_eq!((s, b), (StatusCode::OK, json!({"deleted": true})));
    let (_, users) = org.admin(Method::GET, "/admin/users", None).await;
    assert!(
        users["users"]
            .as_array()
            .expect("users")
            .iter()
            .all(|u| u["team_id"].is_null()),
        "{users}"
    );
    let (_, keys) = org.admin(Method::GET, "/admin/keys", None).await;
    let key = keys["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|x| x["id"] == k["id"])
        .cloned()
        .expect("key");
    assert_eq!(key["team_id"], Value::Null);
    // The name is free again.
    org.team("Search").await;
}

#[tokio::test]
async fn bad_bodies_are_400_with_a_message() {
    let org = Org::start().await;
    let team = org.team("bodies").await;
    let (_, key_id) = org.env.key("k", Some(&org.admin_id)).await;
    let user = &org.member_id;
    let cases: Vec<(Method, String, &str)> = vec![
        (Method::POST, "/admin/keys".into(), "{not json"),
        (Method::POST, "/admin/keys".into(), "[1, 2]"),
        (
            Method::POST,
            "/admin/keys".into(),
            r#"{"rate_limit_rpm": -1}"#,
        ),
        (
            Method::POST,
            "/admin/keys".into(),
            r#"{"rate_limit_rpm": "ten"}"#,
        ),
        (Method::POST, "/admin/keys".into(), r#"{"name": 7}"#),
        (
            Method::PATCH,
            format!("/admin/keys/{key_id}"),
            r#"{"team_id": 5}"#,
        ),
        (
            Method::PATCH,
            format!("/admin/keys/{key_id}"),
            r#"{"name": null}"#,
        ),
        (Method::POST, "/admin/users".into(), r"{}"),
        (Method::POST, "/admin/users".into(), r#"{"email": ""}"#),
        (
            Method::POST,
            "/admin/users".into(),
            r#"{"email": "a@example.com", "role": "root"}"#,
        ),
        (
            Method::POST,
            "/admin/users".into(),
            r#"{"email": "a@example.com", "team_id": "team_missing"}"#,
        ),
        (
            Method::PUT,
            format!("/admin/users/{user}"),
            r#"{"active": "yes"}"#,
        ),
        (
            Method::PUT,
            format!("/admin/users/{user}/team"),
            r#"{"team_id": "team_missing"}"#,
        ),
        (Method::PUT, format!("/admin/users/{user}/team"), "nope"),
        (Method::POST, "/admin/teams".into(), r"{}"),
        (Method::POST, "/admin/teams".into(), r#"{"name": "   "}"#),
        (Method::POST, format!("/admin/teams/{team}/members"), r"{}"),
        (
            Method::PUT,
            format!("/admin/teams/{team}/endpoints"),
            r#"{"endpoints": [{"endpoint_id": "e1"}]}"#,
        ),
        (
            Method::POST,
            "/admin/idps".into(),
            r#"{"issuer_url": "https://login.example.com", "client_id": "c"}"#,
        ),
        (
            Method::POST,
            "/admin/idps".into(),
            r#"{"name": "n", "issuer_url": "http://login.example.com", "client_id": "c"}"#,
        ),
        (
            Method::POST,
            "/admin/idps".into(),
            r#"{"name": "n", "issuer_url": "https://login.example.com"}"#,
        ),
        (
            Method::POST,
            "/admin/idps".into(),
            r#"{"name": "n", "issuer_url": "https://a.example.com", "client_id": "c", "flow_type": "magic"}"#,
        ),
        (
            Method::POST,
            "/admin/idps".into(),
            r#"{"name": "n", "issuer_url": "https://a.example.com", "client_id": "c", "audience": "d"}"#,
        ),
        (
            Method::POST,
            "/admin/idps".into(),
            r#"{"name": "n", "issuer_url": "https://a.example.com", "client_id": "c", "enabled": "yes"}"#,
        ),
        (
            Method::POST,
            "/admin/idps".into(),
            r#"{"name": "n", "issuer_url": "https://a.example.com", "client_id": "c", "allowed_domains": [1]}"#,
        ),
        (
            Method::POST,
            format!("/admin/keys/{key_id}/setup-token"),
            r#"{"raw_key": "x"}"#,
        ),
    ];
    for (method, path, body) in cases {
        let (s, b) = org
            .call(method.clone(), &path, Some(&org.admin), Some(body))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{method} {path} {body}: {b}");
        let (kind, message) = error_of(&b);
        assert_eq!(kind, "invalid_request_error");
        assert!(message.len() > 8, "{message}");
    }
}

#[tokio::test]
async fn unknown_ids_are_404() {
    let org = Org::start().await;
    let team = org.team("known").await;
    let cases: Vec<(Method, String, Value)> = vec![
        (
            Method::POST,
            "/admin/keys/key_nope/revoke".into(),
            json!({}),
        ),
        (Method::DELETE, "/admin/keys/key_nope".into(), json!(null)),
        (
            Method::PATCH,
            "/admin/keys/key_nope".into(),
            json!({"name": "x"}),
        ),
        (
            Method::POST,
            "/admin/keys/key_nope/setup-token".into(),
            json!({"raw_key": "x"}),
        ),
        (
            Method::PUT,
            "/admin/users/usr_nope".into(),
            json!({"role": "admin"}),
        ),
        (
            Method::PATCH,
            "/admin/users/usr_nope".into(),
            json!({"active": false}),
        ),
        (Method::DELETE, "/admin/users/usr_nope".into(), json!(null)),
        (
            Method::PUT,
            "/admin/users/usr_nope/team".into(),
            json!({"team_id": null}),
        ),
        (Method::DELETE, "/admin/teams/team_nope".into(), json!(null)),
        (
            Method::GET,
            "/admin/teams/team_nope/members".into(),
            json!(null),
        ),
        (
            Method::POST,
            "/admin/teams/team_nope/members".into(),
            json!({"user_id": org.member_id}),
        ),
        (
            Method::POST,
            format!("/admin/teams/{team}/members"),
            json!({"user_id": "usr_nope"}),
        ),
        (
            Method::DELETE,
            format!("/admin/teams/team_nope/members/{}", org.member_id),
            json!(null),
        ),
        (
            Method::DELETE,
            format!("/admin/teams/{team}/members/usr_nope"),
            json!(null),
        ),
        (
            Method::GET,
            "/admin/teams/team_nope/keys".into(),
            json!(null),
        ),
        (
            Method::GET,
            "/admin/teams/team_nope/endpoints".into(),
            json!(null),
        ),
        (
            Method::PUT,
            "/admin/idps/idp_nope".into(),
            json!({"enabled": false}),
        ),
        (Method::DELETE, "/admin/idps/idp_nope".into(), json!(null)),
        (
            Method::PUT,
            "/admin/teams/team_nope/endpoints".into(),
            json!({"endpoints": []}),
        ),
        (
            Method::GET,
            "/admin/teams/team_nope/analytics".into(),
            json!(null),
        ),
        (
            Method::PUT,
            "/admin/idps/idp_nope/scim".into(),
            json!({"enabled": true}),
        ),
        (
            Method::GET,
            "/admin/idps/idp_nope/scim-tokens".into(),
            json!(null),
        ),
        (
            Method::POST,
            "/admin/idps/idp_nope/scim-tokens".into(),
            json!({"name": "entra"}),
        ),
        (
            Method::DELETE,
            "/admin/idps/idp_nope/scim-tokens/tok_nope".into(),
            json!(null),
        ),
        (
            Method::GET,
            "/admin/idps/idp_nope/scim-admin-groups".into(),
            json!(null),
        ),
        (
            Method::PUT,
            "/admin/idps/idp_nope/scim-admin-groups".into(),
            json!({"groups": ["Admins"]}),
        ),
    ];
    for (method, path, body) in cases {
        let (s, b) = org
            .call(
                method.clone(),
                &path,
                Some(&org.admin),
                body_of(&body).as_deref(),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {path}: {b}");
        let (kind, message) = error_of(&b);
        assert_eq!(kind, "not_found_error");
        assert!(message.contains("not found"), "{message}");
    }
}

#[tokio::test]
async fn identity_providers_are_created_updated_in_part_and_deleted_and_sign_in_follows() {
    let org = Org::start().await;
    let second = sluice_testkit::idp::TestIdp::start().await.expect("idp");
    let (s, created) = org
        .admin(
            Method::POST,
            "/admin/idps",
            Some(json!({
                "name": "Okta",
                "issuer_url": second.issuer(),
                "client_id": "first-client",
                "flow_type": "device_code",
                "allowed_domains": ["example.com"],
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    // CCAG's row names, which `ccag idps list` prints.
    assert_eq!(created["issuer_url"], second.issuer().trim_end_matches('/'));
    assert_eq!(created["client_id"], "first-client");
    assert_eq!(created["flow_type"], "implicit");
    assert_eq!(created["enabled"], true);
    assert_eq!(created["source"], "admin");

    let me = |token: String| {
        let org = &org;
        async move {
            org.call(Method::GET, "/auth/me", Some(&token), None)
                .await
                .0
        }
    };
    assert_eq!(
        me(second.mint_default("ada@example.com", "first-client")).await,
        StatusCode::OK
    );

    // A partial update: only the client id changes; the name, domains and issuer stay.
    let (s, b) = org
        .admin(
            Method::PUT,
            &format!("/admin/idps/{id}"),
            Some(json!({"client_id": "second-client"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["updated"], true);
    let (_, listed) = org.admin(Method::GET, "/admin/idps", None).await;
    let row = listed["idps"]
        .as_array()
        .expect("idps")
        .iter()
        .find(|i| i["id"] == id.as_str())
        .expect("listed")
        .clone();
    assert_eq!(row["client_id"], "second-client");
    assert_eq!(row["name"], "Okta");
    assert_eq!(row["allowed_domains"], json!(["example.com"]));
    assert_eq!(row["created_at"], created["created_at"]);
    assert_eq!(
        me(second.mint_default("ada@example.com", "first-client")).await,
        StatusCode::UNAUTHORIZED,
        "the old client id no longer signs in"
    );
    assert_eq!(
        me(second.mint_default("bob@example.com", "second-client")).await,
        StatusCode::OK
    );

    // Disabled: its tokens are refused; enabled again: accepted.
    for (enabled, expect) in [(false, StatusCode::UNAUTHORIZED), (true, StatusCode::OK)] {
        let (s, b) = org
            .admin(
                Method::PUT,
                &format!("/admin/idps/{id}"),
                Some(json!({"enabled": enabled})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(
            me(second.mint_default("cy@example.com", "second-client")).await,
            expect,
            "enabled = {enabled}"
        );
    }

    // Another provider's issuer is refused.
    let (s, b) = org
        .admin(
            Method::POST,
            "/admin/idps",
            Some(json!({"name": "Other", "issuer_url": "https://other.example.com/", "audience": "o"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = org
        .admin(
            Method::PUT,
            &format!("/admin/idps/{id}"),
            Some(json!({"issuer_url": "https://other.example.com"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(error_of(&b).1.contains("already exists"), "{b}");

    let (s, b) = org
        .admin(Method::DELETE, &format!("/admin/idps/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["deleted"], true);
    assert_eq!(
        me(second.mint_default("dee@example.com", "second-client")).await,
        StatusCode::UNAUTHORIZED
    );
    let (s, _) = org
        .admin(Method::DELETE, &format!("/admin/idps/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_identity_providers_groups_claim_is_set_kept_by_partial_updates_and_cleared_by_null() {
    let org = Org::start().await;
    let (s, created) = org
        .admin(
            Method::POST,
            "/admin/idps",
            Some(json!({
                "name": "Entra",
                "issuer_url": "https://login.groups.example.com/",
                "client_id": "c",
                "groups_claim": " roles ",
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert_eq!(created["groups_claim"], "roles");
    let id = created["id"].as_str().expect("id").to_owned();
    let listed_claim = || async {
        let (_, listed) = org.admin(Method::GET, "/admin/idps", None).await;
        listed["idps"]
            .as_array()
            .expect("idps")
            .iter()
            .find(|i| i["id"] == id.as_str())
            .expect("listed")["groups_claim"]
            .clone()
    };

    // Another field changes; the claim stays.
    let (s, b) = org
        .admin(
            Method::PUT,
            &format!("/admin/idps/{id}"),
            Some(json!({"name": "Entra ID"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["idp"]["groups_claim"], "roles");
    assert_eq!(listed_claim().await, "roles");

    let (s, b) = org
        .admin(
            Method::PUT,
            &format!("/admin/idps/{id}"),
            Some(json!({"groups_claim": null})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        listed_claim().await,
        json!(null),
        "unset: the groups claim is read"
    );

    let (s, b) = org
        .admin(
            Method::PUT,
            &format!("/admin/idps/{id}"),
            Some(json!({"groups_claim": "  "})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a blank claim is refused: {b}");
}
