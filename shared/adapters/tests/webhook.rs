//! `WebhookNotifier` against a local receiver that verifies signatures the way a customer's would.

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use chrono::Utc;
use sluice_adapters::{OsIds, WebhookNotifier};
use sluice_core::clock::FixedClock;
use sluice_core::notify::{
    AttemptOutcome, Backoff, NotificationPayload, Notifier, NotifyError, WebhookPolicy,
    deliver_with_retries,
};
use sluice_testkit::{LocalServer, WebhookReceiver};

const SECRET: &str = "whsec_receiver_test";

/// The receivers here are on loopback over plain HTTP, which only the test setting allows.
const LOCAL: WebhookPolicy = WebhookPolicy::AllowPrivate;

/// A receiver that verifies with `SECRET` and answers `script`'s statuses in order, then 200.
async fn start_receiver(script: &[u16]) -> WebhookReceiver {
    let receiver = WebhookReceiver::start(SECRET, 200).await;
    receiver.script(script);
    receiver
}

const QUICK: Backoff = Backoff {
    initial: Duration::from_millis(20),
    max: Duration::from_millis(100),
};

#[tokio::test]
async fn delivers_a_signed_payload_the_receiver_verifies() {
    let receiver = start_receiver(&[]).await;
    let notifier = WebhookNotifier::new(receiver.url(), SECRET, LOCAL).expect("notifier");
    let payload = NotificationPayload::synthetic(Utc::now());

    let receipt = notifier.deliver(&payload).await.expect("delivered");

    assert_eq!(receipt.reference, "HTTP 200");
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let (body, verified) = &received[0];
    assert!(verified, "signature did not verify");
    let parsed: NotificationPayload = serde_json::from_slice(body).expect("JSON body");
    assert_eq!(parsed, payload);
    assert_eq!(parsed.source, "sluice");
}

#[tokio::test]
async fn a_receiver_with_another_secret_refuses_the_signature() {
    let receiver = start_receiver(&[]).await;
    let notifier =
        WebhookNotifier::new(receiver.url(), "whsec_not_the_receivers", LOCAL).expect("notifier");

    let err = notifier
        .deliver(&NotificationPayload::synthetic(Utc::now()))
        .await
        .expect_err("refused");

    assert!(
        matches!(err, NotifyError::Status { status: 401, .. }),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert!(!receiver.received()[0].1);
}

#[tokio::test]
async fn server_errors_are_retried_until_the_third_attempt_delivers() {
    let receiver = start_receiver(&[500, 500]).await;
    let notifier = WebhookNotifier::new(receiver.url(), SECRET, LOCAL).expect("notifier");
    let payload = NotificationPayload::synthetic(Utc::now());

    let clock = FixedClock::at(Utc::now());
    let log = deliver_with_retries(&notifier, &payload, 5, &QUICK, &clock, &OsIds).await;

    assert!(log.delivered(), "{:?}", log.result);
    let outcomes: Vec<_> = log.attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        [
            AttemptOutcome::RetryableFailure,
            AttemptOutcome::RetryableFailure,
            AttemptOutcome::Delivered
        ]
    );
    assert!(
        log.attempts[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("500")),
        "{:?}",
        log.attempts[0]
    );
    assert!(log.attempts[0].next_retry_in_ms.is_some());
    assert!(log.attempts[1].started_at >= log.attempts[0].started_at);
    // The waits the log announces are the waits taken (on the clock, so the test spends no real time on them).
    let announced: Vec<u64> = log
        .attempts
        .iter()
        .filter_map(|a| a.next_retry_in_ms)
        .collect();
    let taken: Vec<u64> = clock
        .sleeps()
        .iter()
        .map(|d| u64::try_from(d.as_millis()).expect("small"))
        .collect();
    assert_eq!(announced, taken);
    let received = receiver.received();
    assert_eq!(received.len(), 3);
    assert!(
        received.iter().all(|(_, verified)| *verified),
        "every attempt is signed"
    );
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    let receiver = start_receiver(&[400]).await;
    let notifier = WebhookNotifier::new(receiver.url(), SECRET, LOCAL).expect("notifier");

    let log = deliver_with_retries(
        &notifier,
        &NotificationPayload::synthetic(Utc::now()),
        5,
        &QUICK,
        &FixedClock::at(Utc::now()),
        &OsIds,
    )
    .await;

    assert_eq!(log.attempts.len(), 1);
    assert_eq!(log.attempts[0].outcome, AttemptOutcome::PermanentFailure);
    assert!(
        matches!(log.result, Err(NotifyError::Status { status: 400, .. })),
        "{:?}",
        log.result
    );
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn an_unreachable_receiver_is_a_retryable_error() {
    // A port that was free a moment ago: nothing listens there, so the connection is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let notifier = WebhookNotifier::new(&format!("http://127.0.0.1:{port}/hook"), SECRET, LOCAL)
        .expect("notifier");

    let log = deliver_with_retries(
        &notifier,
        &NotificationPayload::synthetic(Utc::now()),
        2,
        &QUICK,
        &FixedClock::at(Utc::now()),
        &OsIds,
    )
    .await;

    let err = log.result.expect_err("unreachable");
    assert!(matches!(err, NotifyError::Unreachable(_)), "{err}");
    assert!(err.is_retryable());
    assert_eq!(log.attempts.len(), 2, "retried once, then gave up");
}

#[tokio::test]
async fn a_receiver_slower_than_the_timeout_is_a_retryable_timeout() {
    let app = Router::new().route(
        "/hook",
        post(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            StatusCode::OK
        }),
    );
    let server = LocalServer::start(app).await;
    let url = format!("{}/hook", server.url());
    let notifier = WebhookNotifier::with_timeout(&url, SECRET, LOCAL, Duration::from_millis(200))
        .expect("notifier");

    let err = notifier
        .deliver(&NotificationPayload::synthetic(Utc::now()))
        .await
        .expect_err("timeout");

    assert!(matches!(err, NotifyError::Timeout(_)), "{err}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_redirect_is_reported_not_followed() {
    let app = Router::new().route(
        "/hook",
        post(|| async {
            (
                StatusCode::MOVED_PERMANENTLY,
                [("location", "http://hooks.example.com/")],
            )
        }),
    );
    let server = LocalServer::start(app).await;
    let url = format!("{}/hook", server.url());
    let notifier = WebhookNotifier::new(&url, SECRET, LOCAL).expect("notifier");

    let err = notifier
        .deliver(&NotificationPayload::synthetic(Utc::now()))
        .await
        .expect_err("redirect");

    assert!(
        matches!(err, NotifyError::Status { status: 301, .. }),
        "{err}"
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn without_the_test_setting_private_targets_and_tricks_are_refused_before_any_request() {
    // GIVEN a receiver on loopback
    let receiver = start_receiver(&[]).await;
    let url = receiver.url().to_owned();
    let port = url
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next())
        .expect("port");
    // WHEN notifiers are built as deployed (PublicHttps) for it and for the usual SSRF targets
    for target in [
        url.clone(),
        format!("http://evil\\@127.0.0.1:{port}/hook"),
        format!("https://127.0.0.1:{port}/hook"),
        format!("https://localhost:{port}/hook"),
        format!("https://2130706433:{port}/hook"),
        format!("https://[::ffff:127.0.0.1]:{port}/hook"),
        format!("https://[::1]:{port}/hook"),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
        "https://10.0.0.1/".to_owned(),
        "http://hooks.example.com/".to_owned(),
    ] {
        // THEN each is refused as a configuration error, not retried
        let err =
            WebhookNotifier::new(&target, SECRET, WebhookPolicy::PublicHttps).expect_err(&target);
        assert!(matches!(err, NotifyError::Config(_)), "{target}: {err}");
        assert!(!err.is_retryable());
    }
    // AND the receiver saw nothing, while the test setting still delivers to it
    assert!(receiver.received().is_empty());
    let notifier = WebhookNotifier::new(receiver.url(), SECRET, LOCAL).expect("notifier");
    notifier
        .deliver(&NotificationPayload::synthetic(Utc::now()))
        .await
        .expect("delivered");
    assert_eq!(receiver.received().len(), 1);
}
