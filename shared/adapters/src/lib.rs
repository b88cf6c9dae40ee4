//! Outbound adapters that are not AWS: the ports of `sluice-core` over plain HTTP and the local file system.
//!
//! - `webhook`: `WebhookNotifier`, the notification `Notifier` port as a signed JSON POST (10 s timeout), its
//!   target policy and the public-address DNS resolver; `DestinationNotifiers`, the notifier factory for every
//!   destination (webhooks here, SNS and EventBridge handed to `sluice_aws::notify::AwsNotifiers`).
//! - `websearch`: the web search providers behind core's `WebSearch` port (DuckDuckGo, Brave, Tavily, Serper,
//!   SearXNG, Exa, a custom JSON endpoint) and `SearchProviders`, the factory that builds one from its stored
//!   configuration.
//! - `webfetch`: `Fetcher`, core's `WebFetch` port (the `web_fetch_*` server tool): HTTPS pages on public
//!   addresses, redirects re-checked, HTML turned into text.
//! - `public_address`: `PublicAddressesOnly`, the DNS resolver the webhook, search and fetch clients share, refusing
//!   private, loopback and link-local answers.
//! - `usage_file`: `FileUsageFallback`, the usage ledger's durable fallback for `sluice serve` (JSON lines in a
//!   file) and its replay.
//! - `system`: `SystemClock` and `OsIds`, the real clock and random source behind core's `Clock` and `Ids` ports.
//!
//! Dependency rule (checked by `shared/testkit/tests/layers.rs`): `sluice-core`, `reqwest`, `tokio`, `rand` and small
//! libraries only; never axum, a Lambda crate, an AWS SDK crate or `sluice-http`, so a function that is not an
//! HTTP host (notify) links the webhook without the web stack. The AWS adapters are in `sluice-aws`.
pub mod public_address;
pub mod system;
pub mod usage_file;
pub mod webfetch;
pub mod webhook;
pub mod websearch;

pub use system::{OsIds, SystemClock};
pub use usage_file::FileUsageFallback;
pub use webfetch::Fetcher;
pub use webhook::{DestinationNotifiers, WebhookNotifier};
pub use websearch::SearchProviders;
