//! `WebhookReceiver`: a webhook endpoint on 127.0.0.1 that records each POST and whether its `x-sluice-signature`
//! verifies, the way a customer's receiver would; answers as scripted, and stops when dropped.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use sluice_core::notify::{SIGNATURE_HEADER, verify_signature};

use crate::serve::LocalServer;

/// How old a signature's timestamp may be, as a receiver following the documentation would allow.
const TOLERANCE: Duration = Duration::from_secs(300);

#[derive(Clone, Default)]
struct Inbox {
    /// The secret signatures are verified with.
    secret: Arc<Mutex<String>>,
    /// Statuses to answer to verified requests, in order; once empty, `answer`.
    script: Arc<Mutex<VecDeque<u16>>>,
    answer: Arc<Mutex<u16>>,
    /// Each request's body and whether its signature verified.
    received: Arc<Mutex<Vec<(Bytes, bool)>>>,
}

/// A running receiver at `url()`; stopped when dropped.
pub struct WebhookReceiver {
    url: String,
    inbox: Inbox,
    _server: LocalServer,
}

impl WebhookReceiver {
    /// Starts a receiver on a free loopback port, in the current tokio runtime, that verifies signatures with
    /// `secret` and answers `answer` to a verified request (401 to any other).
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(secret: &str, answer: u16) -> Self {
        let inbox = Inbox::default();
        secret.clone_into(&mut lock(&inbox.secret));
        *lock(&inbox.answer) = answer;
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(inbox.clone());
        let server = LocalServer::start(app).await;
        let url = format!("{}/hook", server.url());
        Self {
            url,
            inbox,
            _server: server,
        }
    }

    /// The URL to deliver to (plain HTTP to loopback: only `WebhookPolicy::AllowPrivate` allows it).
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Verifies signatures with `secret` from now on (one known only once the sender has made it).
    pub fn trust(&self, secret: &str) {
        secret.clone_into(&mut lock(&self.inbox.secret));
    }

    /// Answers `status` to verified requests from now on, once the scripted answers are used up.
    pub fn answer(&self, status: u16) {
        *lock(&self.inbox.answer) = status;
    }

    /// Answers the next verified requests with `statuses`, in order, before the standing answer.
    pub fn script(&self, statuses: &[u16]) {
        lock(&self.inbox.script).extend(statuses);
    }

    /// Every request so far: its body, and whether its signature verified.
    #[must_use]
    pub fn received(&self) -> Vec<(Bytes, bool)> {
        lock(&self.inbox.received).clone()
    }
}

async fn receive(State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let secret = lock(&inbox.secret).clone();
    let header = headers
        .get(SIGNATURE_HEADER)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let verified = verify_signature(&secret, header, &body, now_s(), TOLERANCE).is_ok();
    lock(&inbox.received).push((body, verified));
    if !verified {
        return StatusCode::UNAUTHORIZED;
    }
    let scripted = lock(&inbox.script).pop_front();
    let status = scripted.unwrap_or_else(|| *lock(&inbox.answer));
    StatusCode::from_u16(status).expect("a scripted status is an HTTP status")
}

fn now_s() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    i64::try_from(secs).expect("seconds fit i64")
}

/// A test that panicked mid-request still leaves what was recorded to read.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
