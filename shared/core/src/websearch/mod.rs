//! Web search: what a search is asked and answers, the port a search provider implements, and the stored provider
//! configuration (CCAG's `/admin/websearch-mode` and `/admin/search-providers` shapes).
//!
//! Anthropic runs its `web_search_*` server tool itself; Bedrock does not. Sluice gives the model a client tool of
//! the same name, runs each search it asks for through a [`WebSearch`] provider (`sluice_adapters::websearch`),
//! and hands the results back. A provider failure is a [`SearchError`] the model sees as
//! `web_search_tool_result_error` (its [`SearchErrorCode`]), never a failed request.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub mod content;
pub mod tool;
pub mod turns;

/// The setting naming the mode: `disabled` (the tool is removed), `global` (the org's provider for everyone) or
/// `per_user` (each person's own provider, else the org's).
pub const SETTING_MODE: &str = "websearch_mode";
/// The setting holding the org's provider ([`ProviderConfig`] as JSON).
pub const SETTING_GLOBAL_PROVIDER: &str = "websearch_global_provider";
/// Per person: `websearch.providers.<user id>`, a JSON array of [`ProviderConfig`].
pub const USER_PROVIDERS_PREFIX: &str = "websearch.providers.";

/// The provider types Sluice can search with.
pub const PROVIDER_TYPES: [&str; 7] = [
    "duckduckgo",
    "brave",
    "tavily",
    "serper",
    "searxng",
    "exa",
    "custom",
];

/// A search provider as stored. API keys are stored and used, never shown (`has_api_key` in the admin API; `Debug`
/// prints `*****`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderConfig {
    pub id: String,
    /// One of [`PROVIDER_TYPES`].
    pub provider_type: String,
    #[serde(default)]
    pub api_key: Option<String>,
    /// The provider's base URL: required for `searxng` and `custom`, optional for the others (their public
    /// endpoint otherwise).
    #[serde(default)]
    pub api_url: Option<String>,
    pub max_results: u32,
    pub enabled: bool,
    /// Whether `api_url` may be a private, loopback or link-local address (a company's own SearXNG). Off by
    /// default: such addresses are refused after DNS resolution. Only an admin sets it.
    #[serde(default)]
    pub allow_private: bool,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("id", &self.id)
            .field("provider_type", &self.provider_type)
            .field("api_key", &self.api_key.as_ref().map(|_| "*****"))
            .field("api_url", &self.api_url)
            .field("max_results", &self.max_results)
            .field("enabled", &self.enabled)
            .field("allow_private", &self.allow_private)
            .finish_non_exhaustive()
    }
}

/// Where the person searching is, as Anthropic's `user_location` gives it (providers that support it use it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserLocation {
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[serde(default)]
    pub country: Option<String>,
    /// IANA time zone.
    #[serde(default)]
    pub timezone: Option<String>,
}

/// One search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    pub query: String,
    pub max_results: u32,
    /// Only results from these domains (and their subdomains), when not empty.
    pub allowed_domains: Vec<String>,
    /// Never results from these domains (and their subdomains).
    pub blocked_domains: Vec<String>,
    pub user_location: Option<UserLocation>,
}

/// One result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResult {
    pub url: String,
    pub title: String,
    /// How old the page is, as the provider says it (`2 days ago`, `2025-04-01`), when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_age: Option<String>,
    /// The text the model reads: the provider's snippet or extracted content.
    pub content: String,
}

/// Anthropic's `web_search_tool_result_error` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchErrorCode {
    InvalidToolInput,
    Unavailable,
    MaxUsesExceeded,
    TooManyRequests,
    QueryTooLong,
}

/// Why a search gave no results; `message` is for logs and the model, never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct SearchError {
    pub code: SearchErrorCode,
    pub message: String,
}

impl SearchError {
    #[must_use]
    pub fn new(code: SearchErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// A search provider.
#[async_trait]
pub trait WebSearch: Send + Sync {
    /// Runs one search; results already filtered by the query's domain rules and cut to `max_results`.
    ///
    /// # Errors
    /// A [`SearchError`] the model is shown instead of results.
    async fn search(&self, query: &SearchQuery) -> Result<Vec<SearchResult>, SearchError>;
}

/// One page to fetch (Anthropic's `web_fetch_*` server tool).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchRequest {
    pub url: String,
    /// Only these domains (and their subdomains), when not empty.
    pub allowed_domains: Vec<String>,
    /// Never these domains (and their subdomains).
    pub blocked_domains: Vec<String>,
    /// Longest text handed back, in characters (the page's text is cut there); 0 means the fetcher's default
    /// (100,000).
    pub max_chars: usize,
}

/// A fetched page as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchedPage {
    /// The URL finally read (after redirects).
    pub url: String,
    /// The page's `<title>`, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Always `text/plain`: HTML is converted to text, other text types are kept, anything else is refused
    /// (`unsupported_content_type`).
    pub media_type: String,
    pub text: String,
}

/// Anthropic's `web_fetch_tool_error` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FetchErrorCode {
    InvalidToolInput,
    UrlTooLong,
    UrlNotAllowed,
    UrlNotAccessible,
    TooManyRequests,
    UnsupportedContentType,
    MaxUsesExceeded,
    Unavailable,
}

/// Why a page could not be fetched; `message` is for logs and the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct FetchError {
    pub code: FetchErrorCode,
    pub message: String,
}

impl FetchError {
    #[must_use]
    pub fn new(code: FetchErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Fetches pages for the model.
#[async_trait]
pub trait WebFetch: Send + Sync {
    /// Fetches one page: HTTPS to public addresses only (after DNS resolution, every redirect checked), the
    /// request's domain rules applied, bounded in time and size, HTML turned into text.
    ///
    /// # Errors
    /// A [`FetchError`] the model is shown instead of the page.
    async fn fetch(&self, request: &FetchRequest) -> Result<FetchedPage, FetchError>;
}

/// Builds providers from their stored configuration (the adapters implement it; binaries hand one to the routers).
pub trait WebSearchProviders: Send + Sync {
    /// The provider a configuration describes.
    ///
    /// # Errors
    /// An `unavailable` [`SearchError`] for a configuration that cannot search (unknown type, missing URL or key).
    fn provider(&self, config: &ProviderConfig) -> Result<Box<dyn WebSearch>, SearchError>;
}

/// Whether `host` is `domain` or one of its subdomains (ASCII case-insensitive; a leading `*.` or `.` on the
/// domain is ignored).
#[must_use]
pub fn host_in_domain(host: &str, domain: &str) -> bool {
    let domain = domain
        .trim()
        .trim_start_matches("*.")
        .trim_start_matches('.')
        .trim_end_matches('.');
    let host = host.trim_end_matches('.');
    if domain.is_empty() {
        return false;
    }
    host.eq_ignore_ascii_case(domain)
        || (host.len() > domain.len()
            && host[host.len() - domain.len()..].eq_ignore_ascii_case(domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
}

/// Whether a result's URL passes the query's domain rules (a URL without a host passes neither).
#[must_use]
pub fn domain_allowed(url: &str, query: &SearchQuery) -> bool {
    let Some(host) = url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
    else {
        return false;
    };
    if query
        .blocked_domains
        .iter()
        .any(|d| host_in_domain(&host, d))
    {
        return false;
    }
    query.allowed_domains.is_empty()
        || query
            .allowed_domains
            .iter()
            .any(|d| host_in_domain(&host, d))
}

/// Applies the query's domain rules and result limit.
#[must_use]
pub fn filter_results(results: Vec<SearchResult>, query: &SearchQuery) -> Vec<SearchResult> {
    results
        .into_iter()
        .filter(|r| domain_allowed(&r.url, query))
        .take(usize::try_from(query.max_results.max(1)).unwrap_or(usize::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(url: &str) -> SearchResult {
        SearchResult {
            url: url.into(),
            title: "t".into(),
            page_age: None,
            content: "c".into(),
        }
    }

    #[test]
    fn domains_match_themselves_and_their_subdomains_only() {
        assert!(host_in_domain("example.com", "example.com"));
        assert!(host_in_domain("docs.Example.com", "example.com"));
        assert!(host_in_domain("docs.example.com", "*.example.com"));
        assert!(!host_in_domain("badexample.com", "example.com"));
        assert!(!host_in_domain("example.com.evil.net", "example.com"));
        assert!(!host_in_domain("example.com", ""));
    }

    #[test]
    fn blocked_domains_win_and_allowed_domains_restrict() {
        let query = SearchQuery {
            max_results: 10,
            allowed_domains: vec!["rust-lang.org".into()],
            blocked_domains: vec!["blog.rust-lang.org".into()],
            ..SearchQuery::default()
        };
        let kept = filter_results(
            vec![
                result("https://doc.rust-lang.org/std/"),
                result("https://blog.rust-lang.org/2025/"),
                result("https://example.com/"),
                result("not a url"),
            ],
            &query,
        );
        assert_eq!(kept, vec![result("https://doc.rust-lang.org/std/")]);
    }

    #[test]
    fn results_are_cut_to_the_limit() {
        let query = SearchQuery {
            max_results: 2,
            ..SearchQuery::default()
        };
        let all = (0..5)
            .map(|i| result(&format!("https://e{i}.example/")))
            .collect();
        assert_eq!(filter_results(all, &query).len(), 2);
    }

    #[test]
    fn stored_providers_read_without_the_new_fields() {
        let stored = r#"{"id":"p1","provider_type":"tavily","api_key":"k","max_results":5,"enabled":true,
                         "created_at_ms":1,"updated_at_ms":2}"#;
        let p: ProviderConfig = serde_json::from_str(stored).expect("stored provider");
        assert!(!p.allow_private);
        assert_eq!(p.api_url, None);
        let shown = format!("{p:?}");
        assert!(!shown.contains("\"k\""), "the key leaks: {shown}");
    }
}
