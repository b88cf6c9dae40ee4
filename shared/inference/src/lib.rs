//! The inference routes: what Claude Code and the Anthropic SDK call. `gateway_router(state)` serves
//! `/v1/messages`, `/v1/messages/count_tokens`, `/v1/models`, `HEAD /` and `/health`.
//!
//! - `gateway`: the handlers and the admission step (caller, rate limits, budget, org limits from the headers alone).
//! - `relay`: the upstream call with learn-and-retry-once, and the streaming body (SSE frames, pings, errors).
//! - `usage`: the usage ledger, gateway side (priced, sanitized, written before the response ends).
//! - `budget`: the budget state of a caller, cached per warm instance, and the headers and refusals it gives.
//! - `limits`: the org-wide limits (`sluice_core::limits`) and the policy document, read once per cache time in the
//!   admission step.
//! - `policy`: the caller's policy on the request path (model check, tools, ceilings) and the record of a refusal.
//! - `search`: web search — the loop of Bedrock calls and searches behind Anthropic's `web_search_*` server tool.
//!
//! Stands on `sluice-http` (authentication, replies, configuration, the hosts) and `sluice-core`; never links
//! the admin API (`sluice-account`). On Lambda it runs in `functions/gateway` (streaming Function URL); locally
//! `sluice serve` merges it with the admin router.
pub mod budget;
pub mod gateway;
pub mod limits;
pub mod policy;
pub mod relay;
pub mod search;
pub mod usage;

pub use gateway::{GatewayState, gateway_router};
