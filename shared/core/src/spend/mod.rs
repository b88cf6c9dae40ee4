//! Spend and budget rules, pure: no I/O, no store, no clock. Callers pass the time, the spend and the
//! settings in; the functions here say what it costs, which period it falls in and what the budget decides.
//!
//! - `ledger`: what a usage record adds to period spend counters and analytics rollups.
//! - `csv_export`: the usage ledger as CSV (one writer for S3 exports, `sluice export` and admin downloads).
//! - `export`: daily ledger exports (one CSV per finished UTC day) to an `ExportSink` (S3, a folder).
//! - `consumer`: what happens to each stored usage record: counters once, then threshold events.
//! - `fallback`: what a model without a price row is charged (never free): its family's dearest rates.
//! - `budget`: budgets as stored (user, team, org default) and the state a request is judged on.
//! - `money`: integer micro-dollars, parsed from and formatted as USD strings (never floats in counters).
//! - `pricing`: per-model prices, the seeded table and admin overrides, longest-prefix lookup, exact cost.
//! - `period`: daily / weekly / monthly budget periods in UTC: start, storage key, next reset.
//! - `policy`: budget policies (rules, presets, validation), evaluation, crossed thresholds.
//! - `scope`: which limit applies to a user, which policy applies, and how user and team decisions combine.
//! - `usage`: the per-request usage record and its sanitizer.
pub mod budget;
pub mod consumer;
pub mod csv_export;
pub mod export;
pub mod fallback;
pub mod ledger;
pub mod money;
pub mod period;
pub mod policy;
pub mod pricing;
pub mod scope;
pub mod usage;

pub use money::{MoneyError, Rounding, format_usd, parse_usd};
pub use period::{Period, PeriodWindow, UnknownPeriod};
pub use policy::{Action, BudgetStatus, Decision, Policy, PolicyError, Rule, crossed, evaluate};
pub use pricing::{ModelPrice, PriceMatch, PriceSource, PriceTable, Priced, TokenUsage};
pub use scope::{
    BudgetScope, LimitSetting, LimitSource, ScopedDecision, most_severe, resolve_policy,
    resolve_user_limit,
};
pub use usage::{Outcome, UsageRecord};
