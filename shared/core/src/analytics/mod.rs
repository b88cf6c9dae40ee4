//! Analytics, pure: the answers of `/admin/analytics` and `/admin/analytics/org/*` summed from the hourly and
//! daily rollups the spend consumer keeps (never from raw usage). Callers read the rollup families the window
//! names and pass them in with names for ids; nothing here does I/O.
//!
//! - `window`: the window and buckets a query asks for (days, from/to, granularity) and the rollups to read.
//! - `rollup`: rollup keys taken apart, field sums, names for ids, the multi-select filters.
//! - `metrics`: the formulas (cache hit rate, histogram percentiles, forecast, new vs returning, heatmap).
//! - `person`: the per-person view; `org`: the org views.
pub mod metrics;
pub mod org;
pub mod person;
pub mod rollup;
pub mod window;

pub use org::{Org, activity, models, overview, policy_refusals, spend, tools};
pub use person::person_view;
pub use rollup::{Filters, NO_TEAM, People, Rollup, Sums, split_list};
pub use window::{Audience, Bucketing, Window, WindowQuery};
