//! [`Fetcher`]: core's `WebFetch` port over HTTPS, for the `web_fetch_*` server tool Sluice runs itself.
//!
//! A fetch, in order:
//! - the URL: over [`MAX_URL_CHARS`] is `url_too_long`; not an `https` URL with a host is `invalid_tool_input`
//!   (`http` is `url_not_allowed`: pages are read over TLS only); user information, a literal IP that is not
//!   public, `localhost`, or a host outside the request's `allowed_domains` / inside its `blocked_domains` is
//!   `url_not_allowed`, all before any request;
//! - the request: `GET`, no cookies, no proxy (the checked address is the one connected to), names resolved by
//!   [`PublicAddressesOnly::FETCH`] (a name answering a private, loopback or link-local address is
//!   `url_not_allowed`); redirects are followed here, at most [`MAX_REDIRECTS`], each target checked as the first
//!   URL was (address and domain rules);
//! - the answer: [`DEFAULT_TIMEOUT`] for the whole fetch, redirects included, and [`MAX_BODY_BYTES`] of body; HTTP
//!   429 is `too_many_requests`; any other failing status, a connection failure or a timeout is
//!   `url_not_accessible`; a failure of Sluice's own (the client cannot be built) is `unavailable`;
//! - the content: HTML becomes text (`html2text`) and its `<title>` the page's title; plain text, Markdown, JSON
//!   and CSV are kept as they are; anything else (PDF, images, binaries) is `unsupported_content_type`; the text is
//!   cut to the request's `max_chars` ([`DEFAULT_MAX_CHARS`] when 0) with a note saying so. Bodies are decoded
//!   by their `Content-Type` charset (`encoding_rs`; UTF-8 when none is named, invalid bytes replaced). A page
//!   nesting elements deeper than `html2text` lays out in good time (its cost grows with the square of the
//!   depth) is read in one pass by a plainer extraction instead.
//!
//! Messages name the URL without its query string or fragment, which may carry tokens.

mod content;

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue, LOCATION, USER_AGENT};
use sluice_core::notify::is_public_ip;
use sluice_core::websearch::{
    FetchError, FetchErrorCode, FetchRequest, FetchedPage, WebFetch, host_in_domain,
};
use url::{Host, Url};

use crate::public_address::{PublicAddressesOnly, refused_address};

/// The time one fetch may take, first connection to last byte, redirects included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest body read; a larger page is `url_not_accessible`.
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
/// The longest URL fetched (`url_too_long` past it).
pub const MAX_URL_CHARS: usize = 2_000;
/// Redirects followed at most.
pub const MAX_REDIRECTS: usize = 5;
/// The text kept when a request gives no `max_chars` (0).
pub const DEFAULT_MAX_CHARS: usize = 100_000;

const USER_AGENT_VALUE: &str = concat!(
    "Sluice/",
    env!("CARGO_PKG_VERSION"),
    " (+web fetch for Claude)"
);
const ACCEPT_VALUE: &str = "text/html, application/xhtml+xml, text/plain;q=0.9, text/markdown;q=0.9, \
                            application/json;q=0.8, text/csv;q=0.8";

/// Which addresses and schemes a [`Fetcher`] reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// HTTPS to public addresses only: production.
    Public,
    /// Tests only: plain HTTP as well, and this literal address (a local test server) besides public ones.
    TestServer(IpAddr),
    /// Tests only: plain HTTP and any address.
    Anything,
}

/// Fetches pages for the model. Build it once and share it: its HTTP client is made on first use and reused.
#[derive(Debug)]
pub struct Fetcher {
    reach: Reach,
    timeout: Duration,
    client: OnceLock<reqwest::Client>,
}

impl Default for Fetcher {
    fn default() -> Self {
        Self::new()
    }
}

impl Fetcher {
    /// The production fetcher: HTTPS to public addresses only, [`DEFAULT_TIMEOUT`].
    #[must_use]
    pub fn new() -> Self {
        Self::with_reach(Reach::Public)
    }

    /// **Tests only**: a fetcher that also reads plain HTTP and private, loopback and link-local addresses, so it
    /// can reach a local test server. Never build it in production code: it is exactly what the checks refuse.
    #[must_use]
    pub fn allowing_private_for_tests() -> Self {
        Self::with_reach(Reach::Anything)
    }

    /// **Tests only**: a fetcher that also reads plain HTTP, and may reach the literal address `server` (a local
    /// test server's `127.0.0.1`) besides public ones; any other private address, `localhost` included, is
    /// refused as in production. Tests of the address checks on redirects use it.
    #[must_use]
    pub fn allowing_test_server_for_tests(server: IpAddr) -> Self {
        Self::with_reach(Reach::TestServer(server))
    }

    /// The same fetcher with another time limit per fetch (tests of slow pages).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.client = OnceLock::new();
        self
    }

    fn with_reach(reach: Reach) -> Self {
        Self {
            reach,
            timeout: DEFAULT_TIMEOUT,
            client: OnceLock::new(),
        }
    }

    fn client(&self) -> Result<reqwest::Client, FetchError> {
        if let Some(client) = self.client.get() {
            return Ok(client.clone());
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(self.timeout)
            .timeout(self.timeout)
            .default_headers(
                [
                    (USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE)),
                    (ACCEPT, HeaderValue::from_static(ACCEPT_VALUE)),
                ]
                .into_iter()
                .collect(),
            )
            // Each hop is checked here (address and the request's domain rules) before it is followed.
            .redirect(reqwest::redirect::Policy::none())
            // Through a proxy the connection would go wherever the proxy resolves the name, past the check.
            .no_proxy();
        if self.reach != Reach::Anything {
            builder = builder.dns_resolver(Arc::new(PublicAddressesOnly::FETCH));
        }
        if self.reach == Reach::Public {
            builder = builder.https_only(true);
        }
        let client = builder.build().map_err(|e| {
            FetchError::new(
                FetchErrorCode::Unavailable,
                format!("web fetch HTTP client: {e}"),
            )
        })?;
        Ok(self.client.get_or_init(|| client).clone())
    }

    /// `url` if it may be requested: scheme, address and the request's domain rules.
    fn check(&self, url: &Url, request: &FetchRequest) -> Result<(), FetchError> {
        let shown = shown(url);
        let not_allowed =
            |why: String| FetchError::new(FetchErrorCode::UrlNotAllowed, format!("{shown}: {why}"));
        match url.scheme() {
            "https" => {}
            "http" if self.reach != Reach::Public => {}
            "http" => return Err(not_allowed("only HTTPS pages are fetched".to_owned())),
            other => {
                return Err(FetchError::new(
                    FetchErrorCode::InvalidToolInput,
                    format!("{shown}: not an http(s) URL (scheme {other})"),
                ));
            }
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(not_allowed(
                "a URL with user information is not fetched".to_owned(),
            ));
        }
        let Some(host) = url.host() else {
            return Err(FetchError::new(
                FetchErrorCode::InvalidToolInput,
                format!("{shown}: the URL has no host"),
            ));
        };
        let ip = match host {
            Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
            Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
            Host::Domain(_) => None,
        };
        let reachable = match (self.reach, ip) {
            (Reach::Anything, _) => true,
            (Reach::TestServer(server), Some(ip)) => ip == server || is_public_ip(ip),
            (_, Some(ip)) => is_public_ip(ip),
            // Names are resolved by `PublicAddressesOnly`; `localhost` is refused here already, as the client
            // might never ask the resolver for it.
            (_, None) => !is_localhost(url.host_str().unwrap_or_default()),
        };
        if !reachable {
            return Err(not_allowed(
                "a private, loopback or link-local address is not fetched".to_owned(),
            ));
        }
        let host = url.host_str().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Some(domain) = request
            .blocked_domains
            .iter()
            .find(|d| host_in_domain(host, d))
        {
            return Err(not_allowed(format!("the domain {domain} is blocked")));
        }
        if !request.allowed_domains.is_empty()
            && !request
                .allowed_domains
                .iter()
                .any(|d| host_in_domain(host, d))
        {
            return Err(not_allowed(format!(
                "{host} is not among the allowed domains"
            )));
        }
        Ok(())
    }

    /// Follows redirects to the page and reads its body: the final URL, `Content-Type` and body.
    async fn get(
        &self,
        first: Url,
        request: &FetchRequest,
    ) -> Result<(Url, Option<String>, Vec<u8>), FetchError> {
        let client = self.client()?;
        let mut url = first;
        let mut redirects = 0;
        loop {
            self.check(&url, request)?;
            let response = client
                .get(url.clone())
                .send()
                .await
                .map_err(|e| transport(&url, &e, self.timeout))?;
            let status = response.status();
            if status.is_redirection()
                && let Some(location) = response.headers().get(LOCATION)
            {
                if redirects >= MAX_REDIRECTS {
                    return Err(FetchError::new(
                        FetchErrorCode::UrlNotAccessible,
                        format!("{}: more than {MAX_REDIRECTS} redirects", shown(&url)),
                    ));
                }
                let next = location
                    .to_str()
                    .ok()
                    .and_then(|l| url.join(l).ok())
                    .ok_or_else(|| {
                        FetchError::new(
                            FetchErrorCode::UrlNotAccessible,
                            format!("{}: redirect to an unreadable location", shown(&url)),
                        )
                    })?;
                url = next;
                redirects += 1;
                continue;
            }
            if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                return Err(FetchError::new(
                    FetchErrorCode::TooManyRequests,
                    format!("{} is rate limiting (HTTP 429)", shown(&url)),
                ));
            }
            if !status.is_success() {
                return Err(FetchError::new(
                    FetchErrorCode::UrlNotAccessible,
                    format!("{} answered HTTP {}", shown(&url), status.as_u16()),
                ));
            }
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            // Refused before the body is read: a PDF or a video is not downloaded only to be dropped.
            content::kind(content_type.as_deref())?;
            let body = read_bounded(&url, response, self.timeout).await?;
            return Ok((url, content_type, body));
        }
    }
}

#[async_trait]
impl WebFetch for Fetcher {
    async fn fetch(&self, request: &FetchRequest) -> Result<FetchedPage, FetchError> {
        let raw = request.url.trim();
        if raw.chars().count() > MAX_URL_CHARS {
            return Err(FetchError::new(
                FetchErrorCode::UrlTooLong,
                format!("the URL is longer than {MAX_URL_CHARS} characters"),
            ));
        }
        let url = Url::parse(raw).map_err(|e| {
            FetchError::new(
                FetchErrorCode::InvalidToolInput,
                format!("not a valid URL: {e}"),
            )
        })?;
        // The whole fetch, redirects and body included; the client's own limit covers each request.
        let (url, content_type, body) =
            match tokio::time::timeout(self.timeout, self.get(url.clone(), request)).await {
                Ok(result) => result?,
                Err(_) => return Err(timed_out(&url, self.timeout)),
            };
        let kind = content::kind(content_type.as_deref())?;
        let body = content::decode(content_type.as_deref(), &body);
        let (text, title) = content::read(kind, &body)?;
        let max_chars = if request.max_chars == 0 {
            DEFAULT_MAX_CHARS
        } else {
            request.max_chars
        };
        Ok(FetchedPage {
            url: url.to_string(),
            title,
            media_type: "text/plain".to_owned(),
            text: content::cut_with_note(&text, max_chars),
        })
    }
}

/// Reads the body, refusing one over [`MAX_BODY_BYTES`] as soon as it is known to be.
async fn read_bounded(
    url: &Url,
    mut response: reqwest::Response,
    timeout: Duration,
) -> Result<Vec<u8>, FetchError> {
    let too_large = || {
        FetchError::new(
            FetchErrorCode::UrlNotAccessible,
            format!(
                "{}: the page is larger than {MAX_BODY_BYTES} bytes",
                shown(url)
            ),
        )
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport(url, &e, timeout))?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A failed exchange: a refused address is `url_not_allowed`, anything else `url_not_accessible`.
fn transport(url: &Url, err: &reqwest::Error, timeout: Duration) -> FetchError {
    if err.is_timeout() {
        return timed_out(url, timeout);
    }
    if refused_address(err) {
        // Not the address itself: behind a company's DNS it would tell the model the internal network's layout.
        return FetchError::new(
            FetchErrorCode::UrlNotAllowed,
            format!(
                "{}: the host resolves to a private, loopback or link-local address (or none), which is not \
                 fetched",
                shown(url)
            ),
        );
    }
    FetchError::new(
        FetchErrorCode::UrlNotAccessible,
        format!("{} could not be reached: {}", shown(url), causes(err)),
    )
}

fn timed_out(url: &Url, timeout: Duration) -> FetchError {
    FetchError::new(
        FetchErrorCode::UrlNotAccessible,
        format!(
            "{} did not answer within {} ms",
            shown(url),
            timeout.as_millis()
        ),
    )
}

/// The error's causes; its own text holds the whole URL, query string included, so it is left out.
fn causes(err: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    if parts.is_empty() {
        if err.is_connect() {
            "connection failed".to_owned()
        } else {
            "request failed".to_owned()
        }
    } else {
        parts.join(": ")
    }
}

/// `url` as messages show it: without user information, query string or fragment.
fn shown(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    // Fails only for URLs that cannot have a password (no host), which have none to hide.
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}

/// `localhost` and its subdomains (RFC 6761: always loopback).
fn is_localhost(host: &str) -> bool {
    host_in_domain(host, "localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(allowed: &[&str], blocked: &[&str]) -> FetchRequest {
        FetchRequest {
            url: String::new(),
            allowed_domains: allowed.iter().map(|d| (*d).to_owned()).collect(),
            blocked_domains: blocked.iter().map(|d| (*d).to_owned()).collect(),
            max_chars: 100,
        }
    }

    fn code(fetcher: &Fetcher, url: &str, request: &FetchRequest) -> Option<FetchErrorCode> {
        let url = Url::parse(url).expect("url");
        fetcher.check(&url, request).err().map(|e| e.code)
    }

    #[test]
    fn production_refuses_plain_http_and_non_public_addresses_on_every_hop() {
        let fetcher = Fetcher::new();
        let any = request(&[], &[]);
        assert_eq!(code(&fetcher, "https://docs.rs/serde", &any), None);
        for refused in [
            "http://docs.rs/serde",
            "https://127.0.0.1/",
            "https://localhost:8443/",
            "https://api.localhost/",
            "https://[::1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://169.254.169.254/latest/meta-data/",
            "https://192.168.1.1/",
            "https://user:pw@docs.rs/",
        ] {
            assert_eq!(
                code(&fetcher, refused, &any),
                Some(FetchErrorCode::UrlNotAllowed),
                "{refused}"
            );
        }
        assert_eq!(
            code(&fetcher, "ftp://docs.rs/", &any),
            Some(FetchErrorCode::InvalidToolInput)
        );
    }

    #[test]
    fn the_test_server_reach_allows_only_that_address_besides_public_ones() {
        let fetcher = Fetcher::allowing_test_server_for_tests(IpAddr::from([127, 0, 0, 1]));
        let any = request(&[], &[]);
        assert_eq!(code(&fetcher, "http://127.0.0.1:8080/", &any), None);
        assert_eq!(
            code(&fetcher, "http://127.0.0.2:8080/", &any),
            Some(FetchErrorCode::UrlNotAllowed)
        );
        assert_eq!(
            code(&fetcher, "http://localhost:8080/", &any),
            Some(FetchErrorCode::UrlNotAllowed)
        );
    }

    #[test]
    fn blocked_domains_win_and_allowed_domains_restrict() {
        let fetcher = Fetcher::new();
        let rules = request(&["rust-lang.org"], &["blog.rust-lang.org"]);
        assert_eq!(
            code(&fetcher, "https://doc.rust-lang.org/std/", &rules),
            None
        );
        assert_eq!(
            code(&fetcher, "https://blog.rust-lang.org/", &rules),
            Some(FetchErrorCode::UrlNotAllowed)
        );
        assert_eq!(
            code(&fetcher, "https://example.com/", &rules),
            Some(FetchErrorCode::UrlNotAllowed)
        );
    }

    #[tokio::test]
    async fn a_name_resolving_to_a_private_address_is_not_allowed_and_the_address_not_shown() {
        // Straight to the client, past `check` (which refuses `localhost` by name), so the resolver answers.
        let fetcher = Fetcher::allowing_test_server_for_tests(IpAddr::from([127, 0, 0, 1]));
        let url = Url::parse("http://localhost:9/x?token=t0k").expect("url");
        let client = fetcher.client().expect("client");
        let err = match client.get(url.clone()).send().await {
            Ok(response) => panic!("answered {}", response.status()),
            Err(e) => transport(&url, &e, DEFAULT_TIMEOUT),
        };
        assert_eq!(err.code, FetchErrorCode::UrlNotAllowed, "{err}");
        for hidden in ["127.0.0.1", "::1", "t0k"] {
            assert!(!err.message.contains(hidden), "{hidden} shown: {err}");
        }
    }

    #[test]
    fn messages_show_the_url_without_query_fragment_or_credentials() {
        let url = Url::parse("https://u:secret@example.com/a/b?token=abc#frag").expect("url");
        assert_eq!(shown(&url), "https://example.com/a/b");
    }
}
