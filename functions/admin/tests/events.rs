//! Every sample Function URL event of the admin function goes through lambda_http's request conversion and the
//! admin router: the files `sam local invoke -e` would use route and answer as documented.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use serde_json::Value;
use sluice_account::admin_router;
use sluice_http::{AppState, AuthConfig};
use sluice_sqlite::SqliteStore;
use tower::ServiceExt;

macro_rules! event {
    ($name:literal) => {
        ($name, include_str!(concat!("../../../events/", $name)))
    };
}

const EVENTS: &[(&str, &str)] = &[
    event!("admin-login.json"),
    event!("admin-providers.json"),
    event!("admin-cli-token.json"),
    event!("admin-setup.json"),
];

#[tokio::test]
async fn sample_admin_events_route_and_answer() {
    let store = Arc::new(SqliteStore::open_in_memory().expect("sqlite"));
    let config = AuthConfig::from_lookup(
        |k| (k == "ADMIN_PASSWORD").then(|| "example-admin-password".to_owned()),
        Duration::ZERO,
    );
    let router = admin_router(Arc::new(AppState::build(store, config).await.expect("app")));

    let listed = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events"))
        .expect("events dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("admin-"))
        })
        .count();
    assert_eq!(
        listed,
        EVENTS.len(),
        "every admin event file is exercised here"
    );

    for (name, json) in EVENTS {
        let req = lambda_http::request::from_str(json)
            .unwrap_or_else(|e| panic!("{name}: not a Function URL event: {e}"));
        let resp = router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        assert!(resp.headers().contains_key("request-id"), "{name}");
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&body);
        // No sign-in is under way in a fresh store, so the helper's redemption is refused, in the envelope.
        let expected = if *name == "admin-cli-token.json" {
            401
        } else {
            200
        };
        assert_eq!(status, expected, "{name}: {text}");
        match *name {
            "admin-login.json" => {
                let v: Value = serde_json::from_str(&text).expect("json");
                assert_eq!(
                    (v["type"].as_str(), v["role"].as_str()),
                    (Some("session"), Some("admin")),
                    "{text}"
                );
            }
            "admin-providers.json" => {
                assert!(text.contains("\"admin_login_enabled\":true"), "{text}");
            }
            "admin-cli-token.json" => {
                assert!(text.contains("\"authentication_error\""), "{text}");
                assert!(text.contains("sign in again"), "{text}");
            }
            "admin-setup.json" => {
                // No identity provider configured: the key-based script, pointing at the function's own https URL.
                assert!(text.starts_with("#!/usr/bin/env bash"), "{text}");
                assert!(
                    text.contains(
                        "https://abcdefghijklmnopqrstuvwxyzadmin1.lambda-url.us-east-1.on.aws"
                    ),
                    "{text}"
                );
            }
            other => panic!("unexpected event {other}"),
        }
    }
}
