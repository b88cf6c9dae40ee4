//! One router, two hosts: the Lambda streaming runtime when `AWS_LAMBDA_RUNTIME_API` is set, `axum::serve` otherwise.
//!
//! This is the hosting code, the one place that decides what runs on which task (`tokio::spawn` is for here and
//! tests). A streamed response can outlive its handler and end early when the client goes away; what its body
//! still owes then (the usage record) is handed to the host through a [`BodyGuard`]:
//! - under Lambda the invocation itself owns it. The runtime (lambda_runtime 1.5) sends a streamed body to the
//!   Runtime API from a task it spawns and does not await: it asks for the next event as soon as its POST returns,
//!   and the Runtime API may answer that POST before the body ends (`cargo lambda watch` does, at once). Lambda may
//!   freeze the process once the next event is asked for, so nothing may be left running. [`run_lambda`] wraps
//!   each invocation so it returns only after every body of it has ended — read to its end, or dropped by the
//!   runtime when sending failed (the client went away) — and the work a dropped body left has run, on the
//!   invocation's own task, before the next event;
//! - under `axum::serve` the process keeps running, and such work runs on a task of the server's, which shutdown
//!   waits for.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sluice_core::error::{ApiError, ApiErrorKind};

use crate::reply::ErrorReply;

/// Whether this process was started by the Lambda runtime.
#[must_use]
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// The `Host` names a local server answers to, against DNS rebinding: a web page on `evil.example` whose name
/// is re-pointed at 127.0.0.1 makes the browser send `Host: evil.example` to this server, and is refused.
/// Accepted: IP literals (a page served from an IP address is not a rebinding), `localhost`, and the host of
/// `SLUICE_PUBLIC_URL` (how people reach this server by name).
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    public_host: Option<String>,
    public_url: Option<String>,
}

impl AllowedHosts {
    #[must_use]
    pub fn new(public_url: Option<&str>) -> Self {
        let public_host = public_url.and_then(|u| {
            let rest = u.split_once("://").map_or(u, |(_, r)| r);
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
            host_name(authority)
        });
        Self {
            public_host,
            public_url: public_url.map(str::to_owned),
        }
    }

    /// Whether a request with this `Host` (or `:authority`) value is answered.
    #[must_use]
    pub fn allows(&self, host: &str) -> bool {
        let Some(name) = host_name(host) else {
            return false;
        };
        name.trim_matches(['[', ']']).parse::<IpAddr>().is_ok()
            || name == "localhost"
            || self.public_host.as_deref() == Some(name.as_str())
    }
}

/// The lower-case name of `host[:port]` (IPv6 kept in brackets), without a trailing dot; `None` when malformed.
fn host_name(authority: &str) -> Option<String> {
    let a = authority.trim();
    let name = if let Some(rest) = a.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        format!("[{inside}]")
    } else {
        match a.rsplit_once(':') {
            Some((name, port)) if is_port(port) => name.to_owned(),
            Some(_) => return None,
            None => a.to_owned(),
        }
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    (!name.is_empty()).then_some(name)
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

/// Middleware for a local server: refuses a request whose `Host` is not one of `allowed` with 403 and the
/// Anthropic error envelope (`permission_error`), before anything else looks at it. A request without any host
/// (HTTP/1.0 tools) passes: browsers, the only clients a rebinding page can drive, always send one.
pub async fn check_host(
    State(allowed): State<Arc<AllowedHosts>>,
    req: Request,
    next: Next,
) -> Response {
    let host = req
        .headers()
        .get(axum::http::header::HOST)
        .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
        .or_else(|| req.uri().authority().map(ToString::to_string));
    match host {
        Some(host) if !allowed.allows(&host) => {
            tracing::warn!(
                ?host,
                "request for a host this server is not; refused (DNS rebinding)"
            );
            let fix = match &allowed.public_url {
                Some(url) => format!("reach Sluice at {url}"),
                None => "reach Sluice at its IP address or localhost, or set SLUICE_PUBLIC_URL to the address \
                         clients use"
                    .to_owned(),
            };
            ErrorReply(ApiError::new(
                ApiErrorKind::Permission,
                format!("Host {host:?} is not an address of this server; {fix}"),
            ))
            .into_response()
        }
        _ => next.run(req).await,
    }
}

/// How a function answers under Lambda.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvokeMode {
    /// Function URL `RESPONSE_STREAM` (the gateway).
    Stream,
    /// Function URL `BUFFERED` (the admin API).
    Buffered,
}

/// Hosts a function's router: under the Lambda runtime when `AWS_LAMBDA_RUNTIME_API` is set, else on
/// `SLUICE_LISTEN` (default `default_listen`) so the same binary can be tried locally.
///
/// # Errors
/// When the runtime API or the listener fails.
pub async fn run_function(
    router: Router,
    mode: InvokeMode,
    default_listen: &str,
) -> Result<(), lambda_http::Error> {
    if in_lambda() {
        return match mode {
            InvokeMode::Stream => run_lambda(router).await,
            InvokeMode::Buffered => run_lambda_buffered(router).await,
        };
    }
    let addr = std::env::var("SLUICE_LISTEN").unwrap_or_else(|_| default_listen.to_owned());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tracing::info!(%addr, "listening");
    Ok(run_local(listener, router).await?)
}

/// Runs `router` under the Lambda streaming runtime (Function URL, InvokeMode `RESPONSE_STREAM`).
///
/// # Errors
/// When the runtime API fails.
pub async fn run_lambda(router: Router) -> Result<(), lambda_http::Error> {
    // `run_with_streaming_response` is this runtime with the tracing layer; the settle layer goes inside it so the
    // work it waits for logs under the invocation's span.
    lambda_http::streaming_runtime(router)
        .layer(SettleLayer)
        .layer(lambda_http::lambda_runtime::layers::TracingLayer::new())
        .run()
        .await
}

/// Runs `router` under the buffered Lambda runtime (Function URL, InvokeMode `BUFFERED`): the admin API answers
/// small JSON bodies, and buffering lets Lambda report status and size exactly.
///
/// # Errors
/// When the runtime API fails.
pub async fn run_lambda_buffered(router: Router) -> Result<(), lambda_http::Error> {
    lambda_http::run(router).await
}

tokio::task_local! {
    /// The Lambda invocation whose handler is running.
    static INVOCATION: Arc<Invocation>;
}

/// What one invocation still owes once its handler has answered: response bodies still alive, and the work bodies
/// left when they were dropped before their end.
#[derive(Default)]
struct Invocation {
    state: Mutex<Owed>,
    /// Woken whenever `state` changes.
    changed: tokio::sync::Notify,
}

#[derive(Default)]
struct Owed {
    live_bodies: usize,
    left: Vec<futures::future::BoxFuture<'static, ()>>,
}

impl Invocation {
    fn owed(&self) -> std::sync::MutexGuard<'_, Owed> {
        // The lock is never held across a panic-prone call; a poisoned one still holds a consistent count.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until every body has ended and all they left has run.
    async fn settle(&self) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let (left, live) = {
                let mut owed = self.owed();
                (std::mem::take(&mut owed.left), owed.live_bodies)
            };
            if !left.is_empty() {
                futures::future::join_all(left).await;
                continue;
            }
            if live == 0 {
                return;
            }
            changed.await;
        }
    }
}

/// Runs `invocation` (a handler call and the sending of its response) as one Lambda invocation: it returns only
/// once every response body created inside it has ended and the work they left is done. [`run_lambda`] wraps each
/// invocation in this; tests call it directly.
pub async fn within_invocation<F: Future>(invocation: F) -> F::Output {
    settled(Arc::new(Invocation::default()), invocation).await
}

async fn settled<F: Future>(invocation: Arc<Invocation>, fut: F) -> F::Output {
    let out = INVOCATION.scope(Arc::clone(&invocation), fut).await;
    invocation.settle().await;
    out
}

/// The runtime layer of [`within_invocation`].
struct SettleLayer;

impl<S> tower::Layer<S> for SettleLayer {
    type Service = Settle<S>;

    fn layer(&self, inner: S) -> Settle<S> {
        Settle { inner }
    }
}

struct Settle<S> {
    inner: S,
}

impl<S> tower::Service<lambda_http::lambda_runtime::LambdaInvocation> for Settle<S>
where
    S: tower::Service<
            lambda_http::lambda_runtime::LambdaInvocation,
            Response = (),
            Error = lambda_http::Error,
        >,
    S::Future: 'static,
{
    type Response = ();
    type Error = lambda_http::Error;
    // The runtime's invocation future is not `Send`; the sequential runtime polls it on its own task.
    type Future = futures::future::LocalBoxFuture<'static, Result<(), lambda_http::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: lambda_http::lambda_runtime::LambdaInvocation) -> Self::Future {
        let invocation = Arc::new(Invocation::default());
        let fut = INVOCATION.sync_scope(Arc::clone(&invocation), || self.inner.call(req));
        Box::pin(settled(invocation, fut))
    }
}

/// A response body's tie to its host, taken when the body is created (in the handler). Under Lambda it keeps the
/// invocation open until the body has ended (it is dropped with the body); under a local server it is inert.
pub struct BodyGuard {
    invocation: Option<Arc<Invocation>>,
}

impl BodyGuard {
    /// The guard for a body created now: tied to the current Lambda invocation, if any.
    #[must_use]
    pub fn current() -> Self {
        match INVOCATION.try_with(Arc::clone) {
            Ok(invocation) => {
                invocation.owed().live_bodies += 1;
                Self {
                    invocation: Some(invocation),
                }
            }
            Err(_) => Self { invocation: None },
        }
    }

    /// Hands the host `work` a body could not finish because it was dropped before its end (the client went away).
    /// Under Lambda the invocation runs it before it returns, so before the runtime asks for the next event; under
    /// a local server it runs on a task of the server's, which shutdown waits for.
    pub fn finish_later(&self, work: impl Future<Output = ()> + Send + 'static) {
        match &self.invocation {
            Some(invocation) => {
                invocation.owed().left.push(Box::pin(work));
                invocation.changed.notify_waiters();
            }
            None => detached::run(work),
        }
    }
}

impl Drop for BodyGuard {
    fn drop(&mut self) {
        if let Some(invocation) = &self.invocation {
            invocation.owed().live_bodies -= 1;
            invocation.changed.notify_waiters();
        }
    }
}

/// Work left by dropped bodies under a local server.
mod detached {
    use std::future::Future;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static RUNNING: AtomicUsize = AtomicUsize::new(0);
    static DONE: tokio::sync::Notify = tokio::sync::Notify::const_new();

    pub(super) fn run(work: impl Future<Output = ()> + Send + 'static) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!("work left by a response body dropped outside any runtime; it is lost");
            return;
        };
        RUNNING.fetch_add(1, Ordering::SeqCst);
        runtime.spawn(async move {
            work.await;
            RUNNING.fetch_sub(1, Ordering::SeqCst);
            DONE.notify_waiters();
        });
    }

    /// Waits until no such work is running.
    pub(super) async fn drain() {
        loop {
            let done = DONE.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            if RUNNING.load(Ordering::SeqCst) == 0 {
                return;
            }
            done.await;
        }
    }
}

/// How long a stopping local server waits for work left by dropped response bodies (a usage write retries for
/// about a second before it falls back to the file).
const DRAIN_AT_SHUTDOWN: Duration = Duration::from_secs(10);

/// Middleware for a local server: a refusal (4xx/5xx) of a request that came with a body says
/// `connection: close`. Refusals are answered before the body is read (an unauthenticated client never makes
/// Sluice read it), and the server then drops the connection rather than read the rest; saying so keeps a
/// keep-alive client from sending its next request down a connection that is gone. Under Lambda the Function URL
/// owns connections, so this is for `axum::serve` only.
pub async fn close_after_refusal(req: Request, next: Next) -> Response {
    let headers = req.headers();
    let has_body = headers.contains_key(axum::http::header::TRANSFER_ENCODING)
        || headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0);
    let mut resp = next.run(req).await;
    if has_body && (resp.status().is_client_error() || resp.status().is_server_error()) {
        resp.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    resp
}

/// Serves `router` on `listener` until ctrl-c / SIGTERM.
///
/// # Errors
/// When the listener fails.
pub async fn run_local(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    // SSE frames are small writes that must not wait for the client's delayed ACK (Nagle).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let router = router.layer(axum::middleware::from_fn(close_after_refusal));
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    if tokio::time::timeout(DRAIN_AT_SHUTDOWN, detached::drain())
        .await
        .is_err()
    {
        tracing::warn!("stopped before the work of abandoned responses finished");
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::StatusCode;
    use tower::ServiceExt;

    #[test]
    fn loopback_names_ip_literals_and_the_public_host_are_allowed() {
        let allowed = AllowedHosts::new(Some("https://sluice.example.com:8443/base"));
        for host in [
            "localhost",
            "localhost:8080",
            "LOCALHOST.:8080",
            "127.0.0.1:8080",
            "127.0.0.1",
            "[::1]:8080",
            "[::1]",
            "10.0.0.5:8080",
            "sluice.example.com",
            "sluice.example.com:8443",
        ] {
            assert!(allowed.allows(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.1.nip.io:8080",
            "sluice.example.com.evil.example",
            "localhost:80:80",
            "[::1]x",
            "",
        ] {
            assert!(!allowed.allows(host), "{host}");
        }
        assert!(!AllowedHosts::new(None).allows("sluice.example.com"));
    }

    async fn status_for(host: &str) -> (StatusCode, String) {
        let router = Router::new()
            .route(
                "/v1/messages",
                axum::routing::post(|| async { "inference" }),
            )
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(AllowedHosts::new(None)),
                check_host,
            ));
        let req = axum::http::Request::post("/v1/messages")
            .header("host", host)
            .body(Body::empty())
            .expect("req");
        let resp = router.oneshot(req).await.expect("infallible");
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_rebound_host_is_refused_with_the_anthropic_envelope() {
        let (status, body) = status_for("evil.example:8080").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "permission_error", "{body}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("SLUICE_PUBLIC_URL")),
            "{body}"
        );
        for host in ["localhost:8080", "127.0.0.1:8080", "[::1]:8080"] {
            assert_eq!(
                status_for(host).await,
                (StatusCode::OK, "inference".to_owned()),
                "{host}"
            );
        }
    }
}
