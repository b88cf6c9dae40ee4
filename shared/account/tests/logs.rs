//! No key, token or password ever appears in logs: every credential path runs with logging at TRACE captured in
//! memory, then the capture is searched for each secret.

mod support;

use serde_json::json;
use sluice_testkit::LogCapture;
use support::{ADMIN_PASSWORD, AUDIENCE, Env};

#[tokio::test]
async fn credentials_never_reach_the_logs() {
    // The default test runtime runs every task on this thread, so the thread-local subscriber sees them all.
    let (capture, _guard) = LogCapture::install(tracing::Level::TRACE);

    let env = Env::start().await;
    let (key, _) = env.key("logged", None).await;
    let revoked_key = env.key("revoked", None).await.0;
    env.revoke(&revoked_key).await;
    let oidc = env.idp.mint_default("log.user@example.com", AUDIENCE);
    let bad_oidc = env
        .idp
        .mint_default("log.user@example.com", "wrong-audience");
    env.call("/v1/messages", Some(&key)).await;
    env.call("/v1/messages", Some(&revoked_key)).await;
    env.call(
        "/v1/messages",
        Some("sk-sluice-unknownkeyunknownkeyunknownkey1234"),
    )
    .await;
    env.call("/v1/messages", Some(&oidc)).await;
    env.call("/v1/messages", Some(&bad_oidc)).await;
    env.post(
        "/auth/login",
        None,
        &json!({"username": "admin", "password": "wrong-password-guess"}),
    )
    .await;
    let (_, body) = env
        .post(
            "/auth/login",
            None,
            &json!({"username": "admin", "password": ADMIN_PASSWORD}),
        )
        .await;
    let session: serde_json::Value = serde_json::from_str(&body).expect("json");
    let session = session["token"].as_str().expect("token").to_owned();
    env.call("/v1/messages", Some(&session)).await;
    env.call("/v1/messages", Some(&format!("{session}x"))).await;

    let logs = capture.text();
    assert!(
        logs.contains("request"),
        "logging was captured: {} bytes",
        logs.len()
    );
    for (what, secret) in [
        ("virtual key", key.as_str()),
        ("revoked key", revoked_key.as_str()),
        ("OIDC token", oidc.as_str()),
        ("refused OIDC token", bad_oidc.as_str()),
        ("session token", session.as_str()),
        ("admin password", ADMIN_PASSWORD),
        ("wrong password", "wrong-password-guess"),
    ] {
        assert!(!logs.contains(secret), "{what} appears in the logs");
        // Nor a recognisable part of a long credential (a 16-character slice from its middle).
        if secret.len() >= 32 {
            let middle = &secret[secret.len() / 2 - 8..secret.len() / 2 + 8];
            assert!(
                !logs.contains(middle),
                "part of the {what} appears in the logs"
            );
        }
    }
}
