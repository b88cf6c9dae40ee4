//! The HTTP side every provider shares: the two clients (public addresses only, or private allowed), the
//! endpoint's checks, one exchange under the time and size limits, and errors that never show the key.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderValue, USER_AGENT};
use sluice_core::notify::{DestinationError, WebhookPolicy, webhook_url_allowed};
use sluice_core::websearch::{SearchError, SearchErrorCode};
use url::Url;

use super::{MAX_RESPONSE_BYTES, unavailable};
use crate::public_address::PublicAddressesOnly;

/// Redirects followed at most.
const MAX_REDIRECTS: usize = 5;
/// The most of a failing provider's answer kept in the error.
const ERROR_BODY_CHARS: usize = 200;

/// The client for providers on public addresses (`allow_private` off) or for any address.
pub(super) fn build_client(
    allow_private: bool,
    timeout: Duration,
) -> Result<reqwest::Client, SearchError> {
    let mut client = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .default_headers(
            std::iter::once((
                USER_AGENT,
                HeaderValue::from_static(concat!(
                    "Mozilla/5.0 (compatible; sluice-websearch/",
                    env!("CARGO_PKG_VERSION"),
                    ")"
                )),
            ))
            .collect(),
        )
        // Through a proxy the connection would go wherever the proxy resolves the name, past the check.
        .no_proxy();
    if allow_private {
        client = client.redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS));
    } else {
        client = client
            .https_only(true)
            .dns_resolver(Arc::new(PublicAddressesOnly::SEARCH))
            // A redirect to a name goes through the resolver; one to a literal IP would not, so each hop is
            // checked as the configured URL was.
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    attempt.error(RefusedRedirect("too many redirects".to_owned()))
                } else if let Err(e) = public_url(attempt.url().as_str()) {
                    let refusal = RefusedRedirect(e.message);
                    attempt.error(refusal)
                } else {
                    attempt.follow()
                }
            }));
    }
    client
        .build()
        .map_err(|e| unavailable(format!("web search HTTP client: {e}")))
}

/// A redirect the public client would not follow.
#[derive(Debug, thiserror::Error)]
#[error("redirect refused: {0}")]
struct RefusedRedirect(String);

/// `url` if a provider without `allow_private` may use it: HTTPS, not a literal non-public IP nor `localhost`,
/// no user information (names are checked when resolved).
pub(super) fn public_url(url: &str) -> Result<Url, SearchError> {
    webhook_url_allowed(url, WebhookPolicy::PublicHttps).map_err(|e| {
        unavailable(match e {
            DestinationError::InsecureWebhook(_) => format!(
                "search provider URL {url} is not HTTPS (plain HTTP needs allow_private, admin only)"
            ),
            DestinationError::PrivateTarget(_) => format!(
                "search provider URL {url} is a private, loopback or link-local address (it needs \
                 allow_private, admin only)"
            ),
            DestinationError::AmbiguousAuthority(_) => {
                format!("search provider URL {url} holds user information or a backslash")
            }
            other => format!("search provider URL {url} is not usable: {other}"),
        })
    })
}

/// Where a provider sends its searches.
pub(super) struct Endpoint(Url);

impl Endpoint {
    /// `base` (the public default or the configured `api_url`) with `path` appended unless it already ends with
    /// it, checked for the address policy.
    pub(super) fn new(base: &str, path: &str, allow_private: bool) -> Result<Self, SearchError> {
        let base = base.trim();
        let joined = if path.is_empty()
            || base
                .trim_end_matches('/')
                .ends_with(path.trim_end_matches('/'))
        {
            base.to_owned()
        } else {
            format!("{}{path}", base.trim_end_matches('/'))
        };
        let url = if allow_private {
            let url = Url::parse(&joined)
                .map_err(|_| unavailable(format!("search provider URL {joined} is not a URL")))?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(unavailable(format!(
                    "search provider URL {joined} is not an http(s) URL"
                )));
            }
            url
        } else {
            public_url(&joined)?
        };
        Ok(Self(url))
    }

    pub(super) fn url(&self) -> Url {
        self.0.clone()
    }
}

/// One provider's client, endpoint and key.
pub(super) struct Http {
    pub(super) client: reqwest::Client,
    pub(super) endpoint: Endpoint,
    /// The provider's name in messages.
    pub(super) name: &'static str,
    /// Kept to scrub it from any message.
    pub(super) api_key: Option<String>,
    pub(super) timeout: Duration,
}

impl Http {
    /// Sends `request` and reads the answer's body, within the time and size limits.
    pub(super) async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Vec<u8>, SearchError> {
        let response = request.send().await.map_err(|e| self.transport(&e))?;
        let status = response.status();
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(SearchError::new(
                SearchErrorCode::TooManyRequests,
                format!("{} is rate limiting searches (HTTP 429)", self.name),
            ));
        }
        let body = self.read_bounded(response).await?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            let excerpt: String = text.trim().chars().take(ERROR_BODY_CHARS).collect();
            return Err(self.redacted(unavailable(format!(
                "{} answered HTTP {}: {excerpt}",
                self.name,
                status.as_u16()
            ))));
        }
        Ok(body)
    }

    async fn read_bounded(&self, mut response: reqwest::Response) -> Result<Vec<u8>, SearchError> {
        let too_large = || {
            unavailable(format!(
                "{} answered more than {} bytes",
                self.name, MAX_RESPONSE_BYTES
            ))
        };
        if response
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport(&e))? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn transport(&self, err: &reqwest::Error) -> SearchError {
        let message = if err.is_timeout() {
            format!(
                "{} did not answer within {} ms",
                self.name,
                self.timeout.as_millis()
            )
        } else {
            // The causes without the URL (a configured api_url may carry a token of its own); a refused address
            // is one of them ("search provider host ... resolves to ..., not a public address").
            format!("{} could not be reached: {}", self.name, causes(err))
        };
        self.redacted(unavailable(message))
    }

    /// `error` with the API key, should a provider echo it, replaced by `*****`.
    pub(super) fn redacted(&self, mut error: SearchError) -> SearchError {
        if let Some(key) = self.api_key.as_deref().filter(|k| !k.is_empty()) {
            error.message = error.message.replace(key, "*****");
        }
        error
    }
}

/// The error's causes (its own text names the URL, left out).
fn causes(err: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if text.is_empty() {
        text = if err.is_connect() {
            "connection failed".to_owned()
        } else if err.is_decode() {
            "unreadable answer".to_owned()
        } else {
            "request failed".to_owned()
        };
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_appended_once() {
        let e = Endpoint::new("https://api.example.com", "/res/v1/web/search", false).expect("ok");
        assert_eq!(
            e.url().as_str(),
            "https://api.example.com/res/v1/web/search"
        );
        let e = Endpoint::new(
            "https://api.example.com/res/v1/web/search",
            "/res/v1/web/search",
            false,
        )
        .expect("ok");
        assert_eq!(
            e.url().as_str(),
            "https://api.example.com/res/v1/web/search"
        );
        let e = Endpoint::new("https://searx.example.com/base/", "/search", false).expect("ok");
        assert_eq!(e.url().as_str(), "https://searx.example.com/base/search");
    }

    #[test]
    fn without_allow_private_only_public_https_urls_pass() {
        for refused in [
            "http://search.example.com",
            "https://127.0.0.1:8443",
            "https://localhost",
            "https://[::1]/",
            "https://169.254.169.254/",
            "https://10.0.0.8/",
            "https://user:pw@search.example.com/",
        ] {
            let err = Endpoint::new(refused, "/search", false)
                .err()
                .expect(refused);
            assert_eq!(err.code, SearchErrorCode::Unavailable, "{refused}");
        }
        assert!(Endpoint::new("https://search.example.com", "/search", false).is_ok());
        assert!(Endpoint::new("http://127.0.0.1:8080", "/search", true).is_ok());
        assert!(Endpoint::new("ftp://127.0.0.1/", "/search", true).is_err());
    }

    #[test]
    fn a_redirect_to_a_private_literal_address_is_refused() {
        assert!(public_url("https://search.example.com/next").is_ok());
        assert!(public_url("https://127.0.0.1/admin").is_err());
        assert!(public_url("https://[::ffff:10.0.0.1]/").is_err());
        assert!(public_url("http://search.example.com/next").is_err());
    }
}
