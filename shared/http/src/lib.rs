//! HTTP for Sluice: the axum routers and the hosts they run under.
//!
//! - `gateway`: `gateway_router(state)` — `/v1/messages`, `/v1/messages/count_tokens`, `/v1/models`, `HEAD /`, `/health`.
//! - `relay`: the upstream call with learn-and-retry-once, and the streaming body (SSE frames, pings, errors).
//! - `auth`: who is calling — virtual keys, session tokens, OIDC ID tokens — with warm-instance caches.
//! - `app`: state shared by both routers (store, authenticator, rate limiter, sign-in configuration).
//! - `account`: `admin_router(state)` — `/auth/*` sign-in and setup, and the first `/admin/*` routes.
//! - `ratelimit`: exact per-key limits on the store's conditional counters.
//! - `limits`: org limits covering every credential — the per-person rate limit, the raw-model allowlist, the key quota.
//! - `reply`: Anthropic error envelope responses, request ids.
//! - `config`: gateway settings from the environment.
//! - `identity`: token verification for sign-in — Sluice session tokens (HS256) and OIDC ID tokens (RS256/ES256).
//! - `prices`: the price table usage is priced with (seeded rows plus admin overrides, refreshed every few minutes).
//! - `usage`: the usage ledger, gateway side (priced, sanitized, written before the response ends).
//! - `serve`: the same Router under `lambda_http` (when `AWS_LAMBDA_RUNTIME_API` is set) or `axum::serve`.
//!
//! Depends on `sluice-core` ports only; adapters are handed in by the binaries (the one default, webhook delivery
//! when no notifier factory is given, is `sluice_adapters::DestinationNotifiers`).
pub mod account;
pub mod app;
pub mod auth;
pub mod budget;
pub mod config;
pub mod gateway;
pub mod identity;
pub mod limits;
pub mod prices;
pub mod ratelimit;
pub mod relay;
pub mod reply;
#[expect(
    clippy::disallowed_methods,
    reason = "the hosting code: it chooses Lambda or a socket from the environment and owns every task that runs beside a response"
)]
pub mod serve;
pub mod usage;

pub use account::admin_router;
pub use app::{AppState, AuthConfig};
pub use config::GatewayConfig;
pub use gateway::{GatewayState, gateway_router};
