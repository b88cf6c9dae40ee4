//! One router, two hosts: the Lambda streaming runtime when `AWS_LAMBDA_RUNTIME_API` is set, `axum::serve` otherwise.

use std::net::SocketAddr;

use axum::Router;

/// Whether this process was started by the Lambda runtime.
#[must_use]
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
}

/// Logging for a function binary: JSON lines without ANSI or timestamps of our own under Lambda (CloudWatch adds
/// them), human-readable on stderr otherwise; `RUST_LOG` filters (default `info`).
pub fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    if in_lambda() {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .without_time()
            .with_ansi(false)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .init();
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
    lambda_http::run_with_streaming_response(router).await
}

/// Runs `router` under the buffered Lambda runtime (Function URL, InvokeMode `BUFFERED`): the admin API answers
/// small JSON bodies, and buffering lets Lambda report status and size exactly.
///
/// # Errors
/// When the runtime API fails.
pub async fn run_lambda_buffered(router: Router) -> Result<(), lambda_http::Error> {
    lambda_http::run(router).await
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
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
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
