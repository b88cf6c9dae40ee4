//! Policies: which models and tools each group of people may use, and the ceilings on what they ask for.
//!
//! The policy document is an ordered list, evaluated first match wins. Each policy names who it is for (`match`:
//! identity-provider groups, SCIM groups, Sluice teams, people, key ids; any one matching is enough, `{}` matches
//! everyone) and what it does (`rules`). A caller no policy matches is not restricted.
//!
//! - [`document`]: the document as stored and edited, its validation (every error names its path) and the
//!   change record (`diff`).
//! - [`eval`]: the compiled document and first-match evaluation of a caller ([`Subject`]).
//! - [`enforce`]: what a matched policy does to one request: refusals (400 `invalid_request_error`, which
//!   Claude Code shows verbatim), denied tools removed, ceilings applied.
//! - [`service`]: reading, replacing (validated, versioned, audited) and testing the stored document, for the
//!   admin API and the CLI.
//!
//! The gateway reads the document with the other org limits (one store round trip, cached for the budget cache
//! time) and never adds a round trip to a warm request.

pub mod document;
pub mod enforce;
pub mod eval;
pub mod service;

pub use document::{Match, ModelRules, Policy, PolicyDocument, Rules, ToolRules, ValidationError};
pub use enforce::{Applied, Refusal, RefusalRule, RequestFacts};
pub use eval::{Matched, PolicySet, Subject};

#[cfg(test)]
mod tests;
