//! Sluice's domain, pure: no AWS, Lambda or HTTP-server crate may be named here.
//!
//! - `clock`: the `Clock` and `Ids` ports (time and randomness come from the caller), with a fixed clock and
//!   predictable ids for tests.
//! - `device_flow`: Claude Code's own sign-in (RFC 8628 device grant, rotating refresh tokens, revocation).
//! - `directory`: creating people and teams (the admin API and the CLI call the same functions).
//! - `error`: the Anthropic error contract and the one mapping from upstream failures to it.
//! - `models`: the model catalogue and requested-id → Bedrock-id mapping.
//! - `model_access`: which raw Bedrock ids and ARNs a caller may invoke (the configured geography, an allowlist).
//! - `capabilities`: what each model accepts on Bedrock, and what Bedrock rejected at run time.
//! - `shape`: Anthropic request → Bedrock InvokeModel body.
//! - `translate`: Bedrock stream chunks → Anthropic SSE frames; non-streaming normalisation.
//! - `count`: count_tokens fallback estimate and its cache.
//! - `upstream`: the port to the model provider.
//! - `store`: persistence ports; `keys`: virtual key secrets.
//! - `identity`: users, teams, identity providers, and claims → identity rules (who a token is, who it may bind to).
//! - `signins`: linking and unlinking a sign-in to a person by hand (the admin API and the CLI).
//! - `limits`: org-wide limit settings (the per-person rate limit, the raw-model allowlist, the key quota).
//! - `settings_json`: settings that hold JSON documents, read and written one way everywhere.
//! - `ratelimit`: sliding-window arithmetic over conditional fixed-window counters.
//! - `spend`: prices and exact costs, budget periods, budget policies and their decisions, the usage record.
//! - `admission`: the gateway's admission decision: which rate limit or budget refuses a request, and how it reads.
//! - `analytics`: dashboard numbers summed from the spend rollups (windows, filters, percentiles, forecast).
//! - `scim`: SCIM 2.0 provisioning resources, PATCH operations, filters and the admin-group role rule.
//! - `policy`: which models, tools and limits each group gets: the policy document, its validation, first-match
//!   evaluation and what it does to a request.
//! - `notify`: budget / rate-limit notification payload, destinations, webhook signatures, the `Notifier` port and retries.
pub mod admission;
pub mod analytics;
pub mod capabilities;
pub mod clock;
pub mod count;
pub mod device_flow;
pub mod directory;
pub mod error;
pub mod identity;
pub mod keys;
pub mod limits;
pub mod model_access;
pub mod models;
pub mod notify;
pub mod policy;
pub mod ratelimit;
pub mod scim;
pub mod settings_json;
pub mod shape;
pub mod signins;
pub mod spend;
pub mod store;
pub mod translate;
pub mod upstream;
pub mod websearch;
