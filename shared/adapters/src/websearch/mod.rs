//! The web search providers behind `sluice_core::websearch::WebSearch`, and [`SearchProviders`], the
//! `WebSearchProviders` factory that builds one from its stored `ProviderConfig`.
//!
//! One file per provider type; each says which public documentation its request and answer shapes come from:
//! - `duckduckgo` (no key): the HTML endpoint, its result blocks read with a WHATWG tokenizer (`html5gum`);
//! - `brave`, `tavily`, `serper`, `exa`: their JSON APIs, with the key in the header each documents;
//! - `searxng`: an instance's `/search?format=json` (JSON output must be enabled in its `search.formats`);
//! - `custom`: a company's own endpoint, under this contract:
//!
//! ```text
//! POST <api_url>
//! Authorization: Bearer <api_key>            (only when the provider has a key)
//! Content-Type: application/json
//! {"query": "...", "max_results": 5, "allowed_domains": ["..."], "blocked_domains": ["..."],
//!  "user_location": {"city": "...", "region": "...", "country": "US", "timezone": "..."} | null}
//!
//! 200 OK
//! {"results": [{"title": "...", "url": "https://...", "content": "...", "page_age": "2025-04-01"}]}
//! ```
//!
//! where each result's text is `content` or, failing that, `snippet`, `page_age` is optional, and other fields are
//! ignored. Plain text is expected; HTML tags and entities are turned into text anyway.
//!
//! For every provider:
//! - `api_url` replaces the public base URL (the provider's path is appended unless the URL already ends with
//!   it; for `custom` it is the whole endpoint);
//! - addresses: unless the configuration says `allow_private` (admin only), the URL must be HTTPS, a literal IP
//!   or `localhost` that is not public is refused when the provider is built, every name is resolved by
//!   [`PublicAddressesOnly`](crate::public_address::PublicAddressesOnly) (which refuses private, loopback,
//!   link-local and other non-public answers) and a redirect is followed only to a URL passing the same checks;
//!   no proxy, so the checked address is the one connected to;
//! - a query that is empty is `invalid_tool_input`, one over [`MAX_QUERY_CHARS`] is `query_too_long`, both
//!   before any request;
//! - [`DEFAULT_TIMEOUT`] for the whole exchange and [`MAX_RESPONSE_BYTES`] of answer; HTTP 429 is
//!   `too_many_requests`, any other failure `unavailable`, with a message that never holds the API key;
//! - titles and snippets are plain text (tags dropped, entities decoded), cut to [`MAX_CONTENT_CHARS`];
//! - results go through `sluice_core::websearch::filter_results` (the query's domain rules and result limit).

mod brave;
mod custom;
mod duckduckgo;
mod exa;
mod http;
mod searxng;
mod serper;
mod tavily;
mod text;

use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;
use sluice_core::websearch::{
    ProviderConfig, SearchError, SearchErrorCode, SearchQuery, SearchResult, WebSearch,
    WebSearchProviders, filter_results,
};

pub use duckduckgo::parse_results_page as parse_duckduckgo_page;

use http::{Endpoint, Http};

/// The time one search may take, connection to last byte.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from a provider; a larger one is `unavailable`.
pub const MAX_RESPONSE_BYTES: usize = 2 * 1024 * 1024;
/// The longest query sent (Anthropic's `query_too_long` past it).
pub const MAX_QUERY_CHARS: usize = 400;
/// The most of one result's text kept.
pub const MAX_CONTENT_CHARS: usize = 8_000;
/// The most results asked of a provider (Brave's and Tavily's own limit).
pub const MAX_RESULTS: u32 = 20;

/// Builds providers from their stored configuration. The two HTTP clients (public addresses only, or private
/// allowed) are built once and shared by every provider it makes, so a search pays no TLS set-up.
#[derive(Debug)]
pub struct SearchProviders {
    timeout: Duration,
    public: OnceLock<reqwest::Client>,
    private: OnceLock<reqwest::Client>,
}

impl Default for SearchProviders {
    fn default() -> Self {
        Self::new()
    }
}

impl SearchProviders {
    /// Providers with the [`DEFAULT_TIMEOUT`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_timeout(DEFAULT_TIMEOUT)
    }

    /// Providers with another time limit per search (tests of slow providers).
    #[must_use]
    pub fn with_timeout(timeout: Duration) -> Self {
        Self {
            timeout,
            public: OnceLock::new(),
            private: OnceLock::new(),
        }
    }

    fn client(&self, allow_private: bool) -> Result<reqwest::Client, SearchError> {
        let cell = if allow_private {
            &self.private
        } else {
            &self.public
        };
        if let Some(client) = cell.get() {
            return Ok(client.clone());
        }
        let client = http::build_client(allow_private, self.timeout)?;
        Ok(cell.get_or_init(|| client).clone())
    }
}

impl WebSearchProviders for SearchProviders {
    fn provider(&self, config: &ProviderConfig) -> Result<Box<dyn WebSearch>, SearchError> {
        let kind = config.provider_type.trim();
        let api_key = config
            .api_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned);
        let api_url = config
            .api_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty());
        let needs_key = |name: &str| {
            api_key
                .clone()
                .ok_or_else(|| unavailable(format!("{name} has no API key configured")))
        };
        let needs_url =
            |name: &str| api_url.ok_or_else(|| unavailable(format!("{name} needs an api_url")));
        let endpoint = |default_base: &str, path: &str, base: Option<&str>| {
            Endpoint::new(base.unwrap_or(default_base), path, config.allow_private)
        };
        let http = |endpoint: Endpoint, name: &'static str| -> Result<Http, SearchError> {
            Ok(Http {
                client: self.client(config.allow_private)?,
                endpoint,
                name,
                api_key: api_key.clone(),
                timeout: self.timeout,
            })
        };
        let max_results = config.max_results;
        let provider: Box<dyn WebSearch> = match kind {
            "duckduckgo" => Box::new(Searcher {
                http: http(
                    endpoint(duckduckgo::BASE, duckduckgo::PATH, api_url)?,
                    duckduckgo::NAME,
                )?,
                provider: duckduckgo::DuckDuckGo,
                max_results,
            }),
            "brave" => Box::new(Searcher {
                provider: brave::Brave {
                    key: needs_key(brave::NAME)?,
                },
                http: http(endpoint(brave::BASE, brave::PATH, api_url)?, brave::NAME)?,
                max_results,
            }),
            "tavily" => Box::new(Searcher {
                provider: tavily::Tavily {
                    key: needs_key(tavily::NAME)?,
                },
                http: http(endpoint(tavily::BASE, tavily::PATH, api_url)?, tavily::NAME)?,
                max_results,
            }),
            "serper" => Box::new(Searcher {
                provider: serper::Serper {
                    key: needs_key(serper::NAME)?,
                },
                http: http(endpoint(serper::BASE, serper::PATH, api_url)?, serper::NAME)?,
                max_results,
            }),
            "searxng" => Box::new(Searcher {
                http: http(
                    endpoint("", searxng::PATH, Some(needs_url(searxng::NAME)?))?,
                    searxng::NAME,
                )?,
                provider: searxng::Searxng,
                max_results,
            }),
            "exa" => Box::new(Searcher {
                provider: exa::Exa {
                    key: needs_key(exa::NAME)?,
                },
                http: http(endpoint(exa::BASE, exa::PATH, api_url)?, exa::NAME)?,
                max_results,
            }),
            "custom" => Box::new(Searcher {
                provider: custom::Custom {
                    key: api_key.clone(),
                },
                http: http(
                    endpoint("", "", Some(needs_url(custom::NAME)?))?,
                    custom::NAME,
                )?,
                max_results,
            }),
            other => {
                return Err(unavailable(format!(
                    "unknown search provider type {other:?}"
                )));
            }
        };
        Ok(provider)
    }
}

/// What differs between providers: the request for one search and how its answer reads.
trait Provider: Send + Sync {
    /// Whether the provider applies the query's domain rules itself (else more results are asked for, so that
    /// enough are left after Sluice's filter).
    const FILTERS_DOMAINS: bool;
    /// Whether titles and snippets may hold HTML (tags, entities) to turn into text. `false` for text already
    /// decoded, so that a snippet about `&lt;b&gt;` keeps its `<b>`.
    const MAY_HOLD_HTML: bool = true;

    /// The request for `query`, asking for `count` results, on `http`'s client and endpoint.
    fn request(&self, http: &Http, query: &SearchQuery, count: u32) -> reqwest::RequestBuilder;

    /// The results in an answer (raw: text cleaning and filtering come after).
    ///
    /// # Errors
    /// An answer that does not read as the provider's shape (`unavailable`), or one saying the search was refused.
    fn parse(&self, body: &[u8]) -> Result<Vec<SearchResult>, SearchError>;
}

/// One provider with its client: the steps every search takes, in order.
struct Searcher<P> {
    http: Http,
    provider: P,
    /// The configuration's limit (0: none).
    max_results: u32,
}

#[async_trait]
impl<P: Provider> WebSearch for Searcher<P> {
    async fn search(&self, query: &SearchQuery) -> Result<Vec<SearchResult>, SearchError> {
        check_query(&query.query)?;
        let limit = result_limit(query.max_results, self.max_results);
        let query = SearchQuery {
            query: query.query.trim().to_owned(),
            max_results: limit,
            ..query.clone()
        };
        let has_domain_rules =
            !query.allowed_domains.is_empty() || !query.blocked_domains.is_empty();
        let count = if has_domain_rules && !P::FILTERS_DOMAINS {
            MAX_RESULTS
        } else {
            limit
        };
        let body = self
            .http
            .send(self.provider.request(&self.http, &query, count))
            .await?;
        let results = self
            .provider
            .parse(&body)
            .map_err(|e| self.http.redacted(e))?;
        let results = results
            .into_iter()
            .filter_map(|r| clean(r, P::MAY_HOLD_HTML))
            .collect();
        Ok(filter_results(results, &query))
    }
}

/// The query's limit within the configuration's (0 on either side: the other; 0 on both: 5), at most
/// [`MAX_RESULTS`].
fn result_limit(asked: u32, configured: u32) -> u32 {
    let limit = match (asked, configured) {
        (0, 0) => 5,
        (0, n) | (n, 0) => n,
        (a, c) => a.min(c),
    };
    limit.clamp(1, MAX_RESULTS)
}

/// Anthropic's refusals of a query, before any request.
fn check_query(query: &str) -> Result<(), SearchError> {
    let query = query.trim();
    if query.is_empty() {
        return Err(SearchError::new(
            SearchErrorCode::InvalidToolInput,
            "the search query is empty",
        ));
    }
    let chars = query.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(SearchError::new(
            SearchErrorCode::QueryTooLong,
            format!("the search query has {chars} characters, more than {MAX_QUERY_CHARS}"),
        ));
    }
    Ok(())
}

/// A result as the model reads it: plain text (`html`: decoded from HTML where it looks like HTML), on one line,
/// bounded; `None` for one without an `http(s)` URL.
fn clean(result: SearchResult, html: bool) -> Option<SearchResult> {
    let text = |s: &str| {
        if html {
            text::plain_text(s)
        } else {
            text::collapse_whitespace(s)
        }
    };
    let url = result.url.trim();
    let parsed = url::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return None;
    }
    let title = text(&result.title);
    Some(SearchResult {
        title: if title.is_empty() {
            url.to_owned()
        } else {
            title
        },
        url: url.to_owned(),
        page_age: result
            .page_age
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty()),
        content: text::truncate_chars(&text(&result.content), MAX_CONTENT_CHARS),
    })
}

fn unavailable(message: impl Into<String>) -> SearchError {
    SearchError::new(SearchErrorCode::Unavailable, message)
}

/// Reads a JSON answer, `unavailable` naming the provider when it does not fit `T`.
fn json<T: serde::de::DeserializeOwned>(name: &str, body: &[u8]) -> Result<T, SearchError> {
    serde_json::from_slice(body)
        .map_err(|e| unavailable(format!("{name} answered JSON Sluice cannot read: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_the_smaller_of_the_query_and_the_configuration() {
        assert_eq!(result_limit(3, 10), 3);
        assert_eq!(result_limit(10, 3), 3);
        assert_eq!(result_limit(0, 7), 7);
        assert_eq!(result_limit(7, 0), 7);
        assert_eq!(result_limit(0, 0), 5);
        assert_eq!(result_limit(500, 0), MAX_RESULTS);
    }

    #[test]
    fn queries_are_refused_empty_or_too_long() {
        assert_eq!(
            check_query("  ").expect_err("empty").code,
            SearchErrorCode::InvalidToolInput
        );
        assert_eq!(
            check_query(&"é".repeat(401)).expect_err("long").code,
            SearchErrorCode::QueryTooLong
        );
        assert!(check_query(&"é".repeat(400)).is_ok());
    }

    #[test]
    fn results_without_a_web_url_are_dropped_and_text_is_plain() {
        let result = |url: &str| SearchResult {
            url: url.to_owned(),
            title: "<b>Rust</b> &amp; Cargo".to_owned(),
            page_age: Some("  ".to_owned()),
            content: "x".repeat(MAX_CONTENT_CHARS + 10),
        };
        assert!(clean(result("javascript:alert(1)"), true).is_none());
        assert!(clean(result("not a url"), true).is_none());
        let kept = clean(result("https://doc.rust-lang.org/"), true).expect("kept");
        assert_eq!(kept.title, "Rust & Cargo");
        let decoded = clean(result("https://doc.rust-lang.org/"), false).expect("kept");
        assert_eq!(decoded.title, "<b>Rust</b> &amp; Cargo");
        assert_eq!(kept.page_age, None);
        assert_eq!(kept.content.chars().count(), MAX_CONTENT_CHARS);
    }
}
