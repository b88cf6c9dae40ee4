//! SCIM 2.0 provisioning through the real routers, as an identity provider drives it (Entra ID's quirks included):
//! the administrator turns SCIM on and makes a token; the provider creates, finds, updates, deactivates and
//! deletes people and groups; sign-in and keys follow (an unprovisioned person is refused, a deactivated one
//! too), and admin groups decide roles.

mod support;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sluice_core::identity::Role;
use sluice_testkit::idp::TestIdp;
use support::{Env, now_s};

const SCIM_JSON: &str = "application/scim+json; charset=utf-8";

struct Scim {
    env: Env,
    admin: String,
    idp: TestIdp,
    idp_id: String,
    token: String,
}

impl Scim {
    async fn start() -> Self {
        let env = Env::start().await;
        let boss = env.user("root@example.com", Role::Admin).await;
        let admin = env.app.auth.sessions.issue(&boss, now_s());
        let idp = TestIdp::start().await.expect("idp");
        let (s, _, b) = env
            .request(
                Method::POST,
                "/admin/idps",
                Some(&admin),
                Some(
                    &json!({"name": "Entra", "issuer_url": idp.issuer(), "client_id": "scim-app"}),
                ),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let idp_id = json_of(&b)["id"].as_str().expect("id").to_owned();
        let (s, _, b) = env
            .request(
                Method::POST,
                &format!("/admin/idps/{idp_id}/scim-tokens"),
                Some(&admin),
                Some(&json!({"name": "entra"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let created = json_of(&b);
        let token = created["token"].as_str().expect("token").to_owned();
        assert!(token.starts_with("scim-sluice-"), "{token}");
        assert!(
            created["token_prefix"]
                .as_str()
                .expect("prefix")
                .ends_with("...")
        );
        Self {
            env,
            admin,
            idp,
            idp_id,
            token,
        }
    }

    async fn scim(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (s, h, b) = self
            .env
            .request(
                method.clone(),
                &format!("/scim/v2{path}"),
                Some(&self.token),
                body.as_ref(),
            )
            .await;
        if s == StatusCode::NO_CONTENT {
            assert!(b.is_empty(), "{b}");
            return (s, Value::Null);
        }
        assert_eq!(h["content-type"], SCIM_JSON, "{method} {path}: {b}");
        (s, json_of(&b))
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (s, _, b) = self
            .env
            .request(method, path, Some(&self.admin), body.as_ref())
            .await;
        (s, json_of(&b))
    }

    /// `/auth/me` with an ID token of the provider for `email`.
    async fn sign_in(&self, email: &str) -> (StatusCode, Value) {
        let token = self.idp.mint_default(email, "scim-app");
        let (s, b) = self.env.get("/auth/me", Some(&token)).await;
        (s, serde_json::from_str(&b).unwrap_or(Value::Null))
    }

    async fn enable(&self, on: bool) {
        let (s, b) = self
            .admin(
                Method::PUT,
                &format!("/admin/idps/{}/scim", self.idp_id),
                Some(json!({"enabled": on})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

fn scim_error(body: &Value) -> (&str, Option<&str>) {
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"]),
        "{body}"
    );
    (
        body["status"].as_str().expect("status as a string"),
        body["scimType"].as_str(),
    )
}

fn new_user(user_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "externalId": external_id,
        "name": {"givenName": "Ann", "familyName": "Lee"},
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "active": true,
    })
}

#[tokio::test]
async fn tokens_and_the_switch_guard_the_endpoint_and_discovery_is_open() {
    let t = Scim::start().await;
    let (s, body) = t.scim(Method::GET, "/Users", None).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "SCIM is off until switched on: {body}"
    );
    assert_eq!(scim_error(&body).0, "403");
    t.enable(true).await;
    assert_eq!(t.scim(Method::GET, "/Users", None).await.0, StatusCode::OK);

    for credential in [
        None,
        Some("scim-sluice-not-a-token"),
        Some("sk-sluice-whatever"),
    ] {
        let (s, h, b) = t
            .env
            .request(Method::GET, "/scim/v2/Users", credential, None)
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{credential:?}: {b}");
        assert_eq!(h["content-type"], SCIM_JSON);
        assert_eq!(scim_error(&json_of(&b)).0, "401");
    }

    let (s, h, b) = t
        .env
        .request(Method::GET, "/scim/v2/ServiceProviderConfig", None, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["content-type"], SCIM_JSON);
    let config = json_of(&b);
    assert_eq!(config["patch"]["supported"], true);
    assert_eq!(config["filter"]["maxResults"], 100);
    let (_, _, b) = t
        .env
        .request(Method::GET, "/scim/v2/ResourceTypes", None, None)
        .await;
    assert_eq!(json_of(&b)["totalResults"], 2);

    // The token list shows when it was last used, never the token; a deleted token stops working.
    let (_, listed) = t
        .admin(
            Method::GET,
            &format!("/admin/idps/{}/scim-tokens", t.idp_id),
            None,
        )
        .await;
    let row = &listed["tokens"][0];
    assert_eq!(row["name"], "entra");
    assert!(row["last_used_at"].is_string(), "{row}");
    assert!(!listed.to_string().contains(&t.token));
    let (s, b) = t
        .admin(
            Method::DELETE,
            &format!(
                "/admin/idps/{}/scim-tokens/{}",
                t.idp_id,
                row["id"].as_str().expect("id")
            ),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        t.scim(Method::GET, "/Users", None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn people_are_provisioned_found_updated_deactivated_and_deprovisioned() {
    let t = Scim::start().await;
    t.enable(true).await;
    // Not provisioned yet: the provider's ID token alone does not make an account.
    let (s, me) = t.sign_in("ann@example.com").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{me}");

    let (s, ann) = t
        .scim(
            Method::POST,
            "/Users",
            Some(new_user("Ann@Example.com", "e-ann")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{ann}");
    let id = ann["id"].as_str().expect("id").to_owned();
    assert_eq!(ann["userName"], "ann@example.com");
    assert_eq!(ann["name"]["familyName"], "Lee");
    assert_eq!(ann["active"], true);
    let (s, me) = t.sign_in("ann@example.com").await;
    assert_eq!(
        (s, me["role"].clone()),
        (StatusCode::OK, json!("member")),
        "{me}"
    );
    assert_eq!(me["user_id"], id.as_str());

    // Uniqueness: the same userName, or the same externalId.
    for body in [
        new_user("ann@example.com", "e-other"),
        new_user("zed@example.com", "e-ann"),
    ] {
        let (s, err) = t.scim(Method::POST, "/Users", Some(body)).await;
        assert_eq!(s, StatusCode::CONFLICT, "{err}");
        assert_eq!(scim_error(&err), ("409", Some("uniqueness")));
    }

    // Lookups the providers make before creating.
    for (filter, total) in [
        (r#"userName eq "ANN@example.com""#, 1),
        (r#"externalId eq "e-ann""#, 1),
        (r#"emails[type eq "work"].value eq "ann@example.com""#, 1),
        (r#"userName eq "nobody@example.com""#, 0),
    ] {
        let path = format!("/Users?filter={}", urlencoding(filter));
        let (s, list) = t.scim(Method::GET, &path, None).await;
        assert_eq!(s, StatusCode::OK, "{filter}: {list}");
        assert_eq!(list["totalResults"], total, "{filter}: {list}");
    }
    let (s, err) = t
        .scim(
            Method::GET,
            &format!("/Users?filter={}", urlencoding(r#"userName gt "a""#)),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(scim_error(&err).1, Some("invalidFilter"));

    // Entra deactivates with a capitalised op and a boolean in a string: sign-in and keys stop.
    let (key, _) = t.env.key("ann's laptop", Some(&id)).await;
    assert_eq!(
        t.env.call("/v1/messages", Some(&key)).await.0,
        StatusCode::OK
    );
    let (s, patched) = t
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{patched}");
    assert_eq!(patched["active"], false);
    assert_eq!(t.sign_in("ann@example.com").await.0, StatusCode::FORBIDDEN);
    assert_eq!(
        t.env.call("/v1/messages", Some(&key)).await.0,
        StatusCode::FORBIDDEN
    );
    // Okta reactivates with an object value and no path.
    let (s, _) = t
        .scim(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({"Operations": [{"op": "replace", "value": {"active": true, "displayName": "Ann L."}}]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        t.env.call("/v1/messages", Some(&key)).await.0,
        StatusCode::OK
    );
    let (_, read) = t.scim(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(read["displayName"], "Ann L.");
    assert_eq!(read["externalId"], "e-ann");

    // An email cannot change in place.
    let (s, err) = t
        .scim(
            Method::PUT,
            &format!("/Users/{id}"),
            Some(new_user("ann.lee@example.com", "e-ann")),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{err}");
    assert_eq!(scim_error(&err).1, Some("mutability"));

    // DELETE: gone for SCIM, deactivated in Sluice (spend keeps its attribution).
    let (s, _) = t.scim(Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, err) = t.scim(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!((s, scim_error(&err).0), (StatusCode::NOT_FOUND, "404"));
    let user = t
        .env
        .app
        .store
        .user_by_id(&id)
        .await
        .expect("store")
        .expect("user row kept");
    assert!(!user.active);
    assert_eq!(
        t.env.call("/v1/messages", Some(&key)).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn existing_people_are_adopted_and_admin_groups_decide_roles() {
    let t = Scim::start().await;
    t.enable(true).await;
    // Someone the administrator added before SCIM was turned on.
    let (s, bo) = t
        .admin(
            Method::POST,
            "/admin/users",
            Some(json!({"email": "bo@example.com"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{bo}");
    // Not the provider's yet: its lookup finds no one, so it creates, and Sluice adopts.
    let lookup = format!(
        "/Users?filter={}",
        urlencoding(r#"userName eq "bo@example.com""#)
    );
    assert_eq!(
        t.scim(Method::GET, &lookup, None).await.1["totalResults"],
        0
    );
    let (s, adopted) = t
        .scim(
            Method::POST,
            "/Users",
            Some(new_user("bo@example.com", "e-bo")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{adopted}");
    assert_eq!(
        adopted["id"], bo["id"],
        "the same person, now managed by SCIM"
    );
    let bo_id = adopted["id"].as_str().expect("id").to_owned();
    assert_eq!(
        t.scim(Method::GET, &lookup, None).await.1["totalResults"],
        1
    );
    let (_, cy) = t
        .scim(
            Method::POST,
            "/Users",
            Some(new_user("cy@example.com", "e-cy")),
        )
        .await;
    let cy_id = cy["id"].as_str().expect("id").to_owned();

    let (s, b) = t
        .admin(
            Method::PUT,
            &format!("/admin/idps/{}/scim-admin-groups", t.idp_id),
            Some(json!({"groups": ["Sluice Admins"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, group) = t
        .scim(
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "Sluice Admins", "members": [{"value": bo_id}]})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{group}");
    let gid = group["id"].as_str().expect("id").to_owned();
    assert_eq!(group["members"][0]["display"], "bo@example.com");
    let role = |me: Value| me["role"].clone();
    assert_eq!(role(t.sign_in("bo@example.com").await.1), json!("admin"));
    assert_eq!(role(t.sign_in("cy@example.com").await.1), json!("member"));
    // Each person's SCIM groups are remembered for policies.
    let scim_groups = |id: String| {
        let store = std::sync::Arc::clone(&t.env.app.store);
        async move {
            store
                .user_by_id(&id)
                .await
                .expect("read")
                .expect("person")
                .groups
                .scim
        }
    };
    assert_eq!(scim_groups(bo_id.clone()).await, ["Sluice Admins"]);
    assert!(scim_groups(cy_id.clone()).await.is_empty());

    // Entra's group PATCH: add cy, remove bo → 204, roles follow.
    let (s, _) = t
        .scim(
            Method::PATCH,
            &format!("/Groups/{gid}"),
            Some(json!({"Operations": [
                {"op": "Add", "path": "members", "value": [{"value": cy_id}]},
                {"op": "Remove", "path": format!("members[value eq \"{bo_id}\"]")},
            ]})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(role(t.sign_in("bo@example.com").await.1), json!("member"));
    assert_eq!(role(t.sign_in("cy@example.com").await.1), json!("admin"));
    assert!(scim_groups(bo_id.clone()).await.is_empty());
    assert_eq!(scim_groups(cy_id.clone()).await, ["Sluice Admins"]);

    // Lookups by name, members excluded on request; a duplicate name and an unknown member are refused.
    let path = format!(
        "/Groups?filter={}&excludedAttributes=members",
        urlencoding(r#"displayName eq "sluice admins""#)
    );
    let (_, list) = t.scim(Method::GET, &path, None).await;
    assert_eq!(list["totalResults"], 1);
    assert!(list["Resources"][0].get("members").is_none(), "{list}");
    let (s, err) = t
        .scim(
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "SLUICE ADMINS"})),
        )
        .await;
    assert_eq!(
        (s, scim_error(&err).1),
        (StatusCode::CONFLICT, Some("uniqueness"))
    );
    let (s, err) = t
        .scim(
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "Eng", "members": [{"value": "usr_nobody"}]})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{err}");

    // The IdP row shows the SCIM state; deleting the group makes cy a member again.
    let (_, idps) = t.admin(Method::GET, "/admin/idps", None).await;
    let row = idps["idps"]
        .as_array()
        .expect("idps")
        .iter()
        .find(|i| i["id"] == t.idp_id.as_str())
        .expect("row")
        .clone();
    assert_eq!(
        (
            row["scim_enabled"].clone(),
            row["scim_admin_groups"].clone()
        ),
        (json!(true), json!(["Sluice Admins"]))
    );
    let (s, _) = t
        .scim(Method::DELETE, &format!("/Groups/{gid}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(role(t.sign_in("cy@example.com").await.1), json!("member"));
    assert!(scim_groups(cy_id).await.is_empty());
}

/// Percent-encodes a query value (enough for SCIM filters).
fn urlencoding(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// SCIM creates or adopts only its own provider's people (or people an administrator made that nobody signs in
/// as yet): never the break-glass admin, never a person of another provider or one bound to another sign-in.
#[tokio::test]
async fn scim_never_adopts_the_break_glass_admin_or_another_providers_people() {
    let t = Scim::start().await;
    t.enable(true).await;
    // The break-glass admin, signed in once with the password (so its row exists), and by name alone.
    t.env.admin_session().await;
    let (s, refused) = t
        .scim(Method::POST, "/Users", Some(new_user("admin", "e-admin")))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{refused}");
    // A person the configured provider signed in (bound to its sign-in).
    let first = t
        .env
        .idp
        .mint_default("first@example.com", support::AUDIENCE);
    assert_eq!(
        t.env.call("/v1/messages", Some(&first)).await.0,
        StatusCode::OK
    );
    let (s, refused) = t
        .scim(
            Method::POST,
            "/Users",
            Some(new_user("first@example.com", "e-first")),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{refused}");
    // A person another provider created.
    let other = sluice_http::auth::new_user("elsewhere@example.com", Role::Member, "Okta");
    t.env.app.store.create_user(&other).await.expect("user");
    let (s, refused) = t
        .scim(
            Method::POST,
            "/Users",
            Some(new_user("elsewhere@example.com", "e-else")),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{refused}");
    // None of them became the provider's: they are not managed by it, and it still signs none of them in.
    for id in [&other.id] {
        assert!(
            t.env
                .app
                .store
                .scim_record(sluice_core::store::ScimKind::User, id)
                .await
                .expect("store")
                .is_none()
        );
    }
    assert_eq!(
        t.sign_in("elsewhere@example.com").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        t.sign_in("first@example.com").await.0,
        StatusCode::FORBIDDEN
    );
}
