//! The HTTP host both routers stand on: who is calling, how a refusal reads, configuration, and the hosts a
//! router runs under. The inference routes are `sluice-inference`, the admin API and sign-in `sluice-account`;
//! neither links the other, and both link this crate.
//!
//! - `auth`: who is calling — virtual keys, session tokens, OIDC ID tokens — with warm-instance caches.
//! - `app`: state shared by both routers (store, authenticator, rate limiter, price book, sign-in configuration).
//! - `identity`: token verification for sign-in — Sluice session tokens (HS256) and OIDC ID tokens (RS256/ES256).
//! - `ratelimit`: exact per-scope limits on the store's conditional counters (keys, people, login throttling).
//! - `prices`: the price table usage is priced with (seeded rows plus admin overrides, refreshed every few minutes).
//! - `reply`: Anthropic error envelope responses, request ids.
//! - `config`: gateway settings from the environment.
//! - `serve`: a Router under `lambda_http` (when `AWS_LAMBDA_RUNTIME_API` is set) or `axum::serve`, and the
//!   guard that lets a response's remaining work finish inside the invocation.
//!
//! Depends on `sluice-core` ports only; adapters are handed in by the binaries (the one default, webhook delivery
//! when no notifier factory is given, is `sluice_adapters::DestinationNotifiers`).
pub mod app;
pub mod auth;
pub mod config;
pub mod identity;
pub mod prices;
pub mod ratelimit;
pub mod reply;
#[expect(
    clippy::disallowed_methods,
    reason = "the hosting code: it chooses Lambda or a socket from the environment and owns every task that runs beside a response"
)]
pub mod serve;

pub use app::{AppState, AuthConfig};
pub use config::GatewayConfig;
