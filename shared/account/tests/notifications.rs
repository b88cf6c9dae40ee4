//! `/admin/notifications/*` through the admin router on SQLite: who may call it, what it refuses, and the draft →
//! test → activate workflow against a loopback webhook receiver that verifies `x-sluice-signature` the way a
//! customer's receiver would, with the secret the API handed out.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sluice_account::admin_router;
use sluice_adapters::DestinationNotifiers;
use sluice_core::identity::Role;
use sluice_core::notify::{
    Backoff, NotificationPayload, RetryPolicy, WebhookPolicy, active_config,
};
use sluice_core::store::Store;
use sluice_http::{AppState, AuthConfig};
use sluice_sqlite::SqliteStore;
use sluice_testkit::WebhookReceiver;
use tower::ServiceExt;

fn now_s() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    i64::try_from(secs).expect("fits")
}

/// The admin router on an in-memory store, an admin's and a member's session token.
struct Admin {
    router: Router,
    store: Arc<dyn Store>,
    admin: String,
    member: String,
}

impl Admin {
    /// With the test setting on: the receivers here are on loopback over plain HTTP.
    async fn start() -> Self {
        Self::start_with(WebhookPolicy::AllowPrivate).await
    }

    async fn start_with(policy: WebhookPolicy) -> Self {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().expect("sqlite"));
        let app = AppState::build(
            store.clone(),
            AuthConfig::from_lookup(|_| None, Duration::ZERO),
        )
        .await
        .expect("app")
        .with_notifiers(Arc::new(
            DestinationNotifiers::new(None).with_webhook_policy(policy),
        ))
        // Millisecond waits between attempts, so a failing receiver costs the test nothing.
        .with_notify_test_retry(RetryPolicy {
            attempts: 3,
            backoff: Backoff {
                initial: Duration::from_millis(2),
                max: Duration::from_millis(5),
            },
        });
        let app = Arc::new(app);
        let admin = sluice_http::auth::new_user("boss@example.com", Role::Admin, "test");
        let member = sluice_http::auth::new_user("ann@example.com", Role::Member, "test");
        store.create_user(&admin).await.expect("admin");
        store.create_user(&member).await.expect("member");
        let now = now_s();
        Self {
            router: admin_router(app.clone()),
            admin: app.auth.sessions.issue(&admin, now),
            member: app.auth.sessions.issue(&member, now),
            store,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let req = match body {
            Some(body) => req
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes)));
        (status, value)
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call(method, path, Some(&self.admin), body).await
    }

    async fn config(&self) -> Value {
        let (status, body) = self
            .admin(Method::GET, "/admin/notifications/config", None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Saves a webhook draft for `url`; returns the answer.
    async fn save_webhook(&self, url: &str) -> Value {
        let (status, body) = self
            .admin(
                Method::PUT,
                "/admin/notifications/config",
                Some(json!({"destination_type": "webhook", "destination_value": url})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

/// Status 400 with an `invalid_request_error` whose message contains `needle`.
fn assert_invalid(answer: &(StatusCode, Value), needle: &str) {
    let (status, body) = answer;
    assert_eq!(*status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains(needle), "{needle:?} not in {message:?}");
}

/// A webhook receiver on 127.0.0.1 (plain HTTP is allowed to loopback) answering `answer`; it verifies with the
/// secret the API hands out, trusted once the draft is saved (`WebhookReceiver::trust`).
async fn start_receiver(answer: u16) -> WebhookReceiver {
    WebhookReceiver::start("", answer).await
}

#[tokio::test]
async fn members_are_refused_and_callers_without_credentials_must_sign_in() {
    let api = Admin::start().await;
    let routes = [
        (Method::GET, "/admin/notifications/config", None),
        (
            Method::PUT,
            "/admin/notifications/config",
            Some(
                json!({"destination_type": "sns", "destination_value": "arn:aws:sns:us-east-1:123456789012:t"}),
            ),
        ),
        (Method::DELETE, "/admin/notifications/config", None),
        (Method::DELETE, "/admin/notifications/draft", None),
        (Method::POST, "/admin/notifications/test", None),
        (Method::POST, "/admin/notifications/activate", None),
        (
            Method::PUT,
            "/admin/notifications/categories",
            Some(json!({"event_categories": ["budget"]})),
        ),
    ];
    for (method, path, body) in routes {
        let (status, answer) = api
            .call(method.clone(), path, Some(&api.member), body.clone())
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["type"], "permission_error", "{answer}");
        let (status, answer) = api.call(method.clone(), path, None, body).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {answer}"
        );
        assert_eq!(answer["error"]["type"], "authentication_error", "{answer}");
    }
    // Nothing was saved by the refused calls.
    assert_eq!(api.config().await["draft"], Value::Null);
}

#[tokio::test]
async fn webhooks_to_private_addresses_and_userinfo_tricks_are_refused_unless_the_test_setting_is_on()
 {
    // GIVEN the admin API as deployed (no test setting)
    let api = Admin::start_with(WebhookPolicy::PublicHttps).await;
    let put = |url: &str| {
        api.admin(
            Method::PUT,
            "/admin/notifications/config",
            Some(json!({"destination_type": "webhook", "destination_value": url})),
        )
    };
    // WHEN an admin points the webhook at the metadata service, the runtime API, loopback or a private network
    // THEN it is refused with the reason, and nothing is saved
    for (url, needle) in [
        (
            "http://evil\\@127.0.0.1/",
            "user name, password or backslash",
        ),
        (
            "https://user@hooks.example.com/",
            "user name, password or backslash",
        ),
        ("http://127.0.0.1/", "must use https"),
        (
            "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
            "must use https",
        ),
        ("http://hooks.example.com/", "must use https"),
        (
            "https://169.254.169.254/latest/meta-data/",
            "public address",
        ),
        ("https://[::1]/", "public address"),
        ("https://10.0.0.1/", "public address"),
        ("https://localhost/", "public address"),
        ("https://2130706433/", "public address"),
        ("https://[::ffff:127.0.0.1]/", "public address"),
        ("https://[fd00:ec2::254]/", "public address"),
        ("file:///etc/passwd", "not an absolute https URL"),
    ] {
        assert_invalid(&put(url).await, needle);
    }
    assert_eq!(api.config().await["draft"], Value::Null);
    // A public HTTPS receiver is accepted.
    let (status, body) = put("https://hooks.example.com/sluice").await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // With the test setting on, a loopback receiver over plain HTTP is accepted, the backslash trick still not.
    let local = Admin::start().await;
    let (status, body) = local
        .admin(
            Method::PUT,
            "/admin/notifications/config",
            Some(json!({"destination_type": "webhook", "destination_value": "http://127.0.0.1:9/hook"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_invalid(
        &local
            .admin(
                Method::PUT,
                "/admin/notifications/config",
                Some(json!({"destination_type": "webhook", "destination_value": "http://evil\\@127.0.0.1/"})),
            )
            .await,
        "backslash",
    );
}

#[tokio::test]
async fn bad_destinations_and_categories_are_refused_with_a_message_that_says_why() {
    let api = Admin::start_with(WebhookPolicy::PublicHttps).await;
    let put = |body: Value| api.admin(Method::PUT, "/admin/notifications/config", Some(body));

    let cases = [
        (
            json!({"destination_type": "webhook", "destination_value": "http://hooks.example.com/x"}),
            "must use https",
        ),
        (
            json!({"destination_type": "webhook", "destination_value": "hooks.example.com"}),
            "not an absolute https URL",
        ),
        (
            json!({"destination_type": "sns", "destination_value": "arn:aws:sns:us-east-1::alerts"}),
            "not an SNS topic ARN",
        ),
        (
            json!({"destination_type": "eventbridge", "destination_value": "arn:aws:events:us-east-1:123456789012:rule/x"}),
            "not an EventBridge bus ARN",
        ),
        (
            json!({"destination_type": "email", "destination_value": "ops@example.com"}),
            "must be webhook, sns or eventbridge",
        ),
        (
            json!({"destination_type": "sns", "destination_value": "  "}),
            "destination_value: must not be empty",
        ),
        (
            json!({"destination_type": "sns", "destination_value": "arn:aws:sns:us-east-1:123456789012:t", "event_categories": []}),
            "non-empty subset",
        ),
        (
            json!({"destination_type": "sns", "destination_value": "arn:aws:sns:us-east-1:123456789012:t", "event_categories": ["budget", "usage"]}),
            "unknown category \"usage\"",
        ),
        (json!({"destination_type": "sns"}), "invalid JSON body"),
    ];
    for (body, needle) in cases {
        assert_invalid(&put(body).await, needle);
    }
    assert_eq!(api.config().await["draft"], Value::Null);

    // Without a draft there is nothing to test or activate.
    assert_invalid(
        &api.admin(Method::POST, "/admin/notifications/test", None)
            .await,
        "no draft",
    );
    assert_invalid(
        &api.admin(Method::POST, "/admin/notifications/activate", None)
            .await,
        "no draft",
    );
}

#[tokio::test]
async fn draft_test_activate_delivers_a_signed_synthetic_event_and_promotes_the_draft() {
    // GIVEN a receiver that verifies signatures, and a webhook draft pointing at it
    let api = Admin::start().await;
    let receiver = start_receiver(204).await;
    let empty = api.config().await;
    assert_eq!(
        empty,
        json!({"active": null, "draft": null, "delivery_history": [], "env_fallback": null})
    );
    let saved = api.save_webhook(receiver.url()).await;
    let secret = saved["webhook_secret"]
        .as_str()
        .expect("the secret is shown once");
    assert!(secret.starts_with("whsec_"), "{secret}");
    receiver.trust(secret);
    assert_eq!(saved["slot"], "draft");
    assert_eq!(saved["destination_type"], "webhook");
    assert_eq!(saved["destination_value"], receiver.url());
    assert_eq!(saved["event_categories"], json!(["budget"]));
    assert_eq!(saved["last_test_success"], Value::Null);
    for stamp in ["created_at", "updated_at"] {
        let text = saved[stamp].as_str().expect("timestamp");
        chrono::DateTime::parse_from_rfc3339(text).expect("RFC 3339");
    }

    // WHEN activated before any test THEN it is refused
    assert_invalid(
        &api.admin(Method::POST, "/admin/notifications/activate", None)
            .await,
        "has not been tested",
    );

    // WHEN tested THEN the receiver gets one signed synthetic budget warning
    let (status, tested) = api
        .admin(Method::POST, "/admin/notifications/test", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{tested}");
    assert_eq!(tested["success"], true, "{tested}");
    assert_eq!(tested["error"], Value::Null);
    assert!(tested["duration_ms"].is_u64(), "{tested}");
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let (body, verified) = &received[0];
    assert!(verified, "the signature verifies with the returned secret");
    let payload: NotificationPayload = serde_json::from_slice(body).expect("payload");
    assert_eq!(payload.event_type.as_str(), "budget_warning");
    let raw: Value = serde_json::from_slice(body).expect("json");
    assert_eq!(raw["source"], "sluice");

    // THEN the draft and the delivery log show the result, and the secret appears nowhere
    let config = api.config().await;
    assert_eq!(config["draft"]["last_test_success"], true, "{config}");
    assert!(config["draft"]["last_tested_at"].is_string(), "{config}");
    let row = &config["delivery_history"][0];
    assert_eq!(row["event_id"], "test", "{config}");
    assert_eq!(row["event_type"], "budget_warning");
    assert_eq!(row["destination_type"], "webhook");
    assert_eq!(row["success"], true);
    assert_eq!(row["attempts"], 1);
    assert!(!config.to_string().contains(secret), "{config}");

    // WHEN activated THEN the draft becomes the active configuration
    let (status, active) = api
        .admin(Method::POST, "/admin/notifications/activate", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{active}");
    assert_eq!(active["slot"], "active");
    assert_eq!(active["id"], saved["id"]);
    assert_eq!(active["last_test_success"], true);
    let config = api.config().await;
    assert_eq!(config["draft"], Value::Null, "{config}");
    assert_eq!(config["active"]["destination_value"], receiver.url());
    let stored = active_config(api.store.as_ref())
        .await
        .expect("store")
        .expect("the consumer sees the active destination");
    assert!(
        matches!(&stored.destination, sluice_core::notify::Destination::Webhook { secret: s, .. } if s == secret)
    );

    // WHEN the same URL is saved again THEN the secret is kept (and not shown again), and the new draft needs
    // its own test
    let again = api.save_webhook(receiver.url()).await;
    assert!(again.get("webhook_secret").is_none(), "{again}");
    assert_ne!(again["id"], saved["id"]);
    assert_invalid(
        &api.admin(Method::POST, "/admin/notifications/activate", None)
            .await,
        "has not been tested",
    );
    let (_, tested) = api
        .admin(Method::POST, "/admin/notifications/test", None)
        .await;
    assert_eq!(
        tested["success"], true,
        "old secret still verifies: {tested}"
    );
    let rotated = api
        .admin(
            Method::PUT,
            "/admin/notifications/config",
            Some(json!({"destination_type": "webhook", "destination_value": receiver.url(), "rotate_secret": true})),
        )
        .await;
    let fresh = rotated.1["webhook_secret"].as_str().expect("rotated");
    assert_ne!(fresh, secret);
}

#[tokio::test]
async fn a_failing_receiver_is_retried_logged_and_its_draft_cannot_be_activated() {
    let api = Admin::start().await;
    let receiver = start_receiver(500).await;
    let saved = api.save_webhook(receiver.url()).await;
    receiver.trust(saved["webhook_secret"].as_str().expect("secret"));

    let (status, tested) = api
        .admin(Method::POST, "/admin/notifications/test", None)
        .await;

    assert_eq!(
        status,
        StatusCode::OK,
        "a failed test is an answer, not an error"
    );
    assert_eq!(tested["success"], false, "{tested}");
    let error = tested["error"].as_str().expect("error");
    assert!(error.contains("HTTP 500"), "{error}");
    assert_eq!(tested["attempts"], 3, "{tested}");
    assert_eq!(receiver.received().len(), 3);
    assert!(receiver.received().iter().all(|(_, verified)| *verified));
    let config = api.config().await;
    let row = &config["delivery_history"][0];
    assert!(row["attempts"].as_u64().expect("attempts") > 1, "{config}");
    assert_eq!(row["success"], false);
    assert!(
        row["error"].as_str().expect("error").contains("HTTP 500"),
        "{row}"
    );
    assert_eq!(config["draft"]["last_test_success"], false);
    assert!(
        config["draft"]["last_test_error"]
            .as_str()
            .expect("error")
            .contains("HTTP 500")
    );
    assert_invalid(
        &api.admin(Method::POST, "/admin/notifications/activate", None)
            .await,
        "its last test failed: destination answered HTTP 500",
    );

    // A receiver that recovers on the second attempt passes the test; the log shows both attempts.
    receiver.script(&[503]);
    receiver.answer(200);
    let (_, tested) = api
        .admin(Method::POST, "/admin/notifications/test", None)
        .await;
    assert_eq!(tested["success"], true, "{tested}");
    assert_eq!(tested["attempts"], 2, "{tested}");
    let config = api.config().await;
    assert_eq!(config["delivery_history"][0]["attempts"], 2, "{config}");
    assert_eq!(
        config["delivery_history"].as_array().expect("rows").len(),
        2
    );
    let (status, _) = api
        .admin(Method::POST, "/admin/notifications/activate", None)
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn sns_needs_the_aws_factory_so_the_default_one_fails_the_test_without_retrying() {
    let api = Admin::start().await;
    let (status, saved) = api
        .admin(
            Method::PUT,
            "/admin/notifications/config",
            Some(json!({"destination_type": "sns", "destination_value": "arn:aws:sns:us-east-1:123456789012:alerts", "event_categories": ["budget", "rate_limit"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert!(saved.get("webhook_secret").is_none());
    assert_eq!(saved["event_categories"], json!(["budget", "rate_limit"]));

    let (_, tested) = api
        .admin(Method::POST, "/admin/notifications/test", None)
        .await;

    assert_eq!(tested["success"], false, "{tested}");
    assert_eq!(
        tested["attempts"], 1,
        "a configuration error is not retried"
    );
    assert!(
        tested["error"]
            .as_str()
            .expect("error")
            .contains("need an AWS configuration"),
        "{tested}"
    );
}

#[tokio::test]
async fn categories_of_the_active_destination_change_and_deletes_report_what_they_removed() {
    let api = Admin::start().await;
    let categories = |list: Value| {
        api.admin(
            Method::PUT,
            "/admin/notifications/categories",
            Some(json!({"event_categories": list})),
        )
    };
    let (status, body) = categories(json!(["rate_limit"])).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["type"], "not_found_error");

    let receiver = start_receiver(200).await;
    let saved = api.save_webhook(receiver.url()).await;
    receiver.trust(saved["webhook_secret"].as_str().expect("secret"));
    api.admin(Method::POST, "/admin/notifications/test", None)
        .await;
    let (status, _) = api
        .admin(Method::POST, "/admin/notifications/activate", None)
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = categories(json!(["rate_limit"])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"updated": true}));
    assert_eq!(
        api.config().await["active"]["event_categories"],
        json!(["rate_limit"])
    );
    let stored = active_config(api.store.as_ref())
        .await
        .expect("store")
        .expect("active");
    assert!(!stored.categories.budget && stored.categories.rate_limit);
    assert_invalid(&categories(json!([])).await, "non-empty subset");
    assert_invalid(&categories(json!(["spam"])).await, "unknown category");

    // Deleting: the draft (one was saved again), then the active configuration; a second delete finds nothing.
    api.save_webhook(receiver.url()).await;
    let delete = |path: &'static str| api.admin(Method::DELETE, path, None);
    assert_eq!(
        delete("/admin/notifications/draft").await.1,
        json!({"draft_deleted": true})
    );
    assert_eq!(
        delete("/admin/notifications/draft").await.1,
        json!({"draft_deleted": false})
    );
    assert_eq!(
        delete("/admin/notifications/config").await.1,
        json!({"active_deleted": true})
    );
    assert_eq!(
        delete("/admin/notifications/config").await.1,
        json!({"active_deleted": false})
    );
    let config = api.config().await;
    assert_eq!(config["active"], Value::Null);
    assert_eq!(config["draft"], Value::Null);
    assert!(
        active_config(api.store.as_ref())
            .await
            .expect("a deleted configuration reads as none")
            .is_none()
    );
}
