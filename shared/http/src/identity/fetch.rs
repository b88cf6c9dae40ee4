//! Fetching IdP metadata: HTTPS only (plain HTTP to loopback for tests), bounded in time and size.

use std::time::Duration;

use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::TokenError;

/// Bound on every discovery / JWKS call so a slow IdP cannot hold a request (or a cache lock) for long.
pub(crate) const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// Discovery documents and key sets are a few KiB; anything near this is not one.
const MAX_BODY: usize = 512 * 1024;

/// The parts of an IdP's `/.well-known/openid-configuration` Sluice uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub jwks_uri: String,
}

/// A client suited to IdP calls: 5 s timeouts, few redirects, rustls. Build one per process.
///
/// # Errors
/// When the TLS backend cannot be initialised.
pub fn http_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .connect_timeout(HTTP_TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
}

/// Accepts `https://` anywhere and `http://` only to loopback names, so keys cannot be swapped in transit.
pub(crate) fn checked_url(raw: &str) -> Result<Url, TokenError> {
    let url = Url::parse(raw).map_err(|_| TokenError::InsecureUrl(raw.to_owned()))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(TokenError::InsecureUrl(raw.to_owned())),
    }
}

/// The discovery URL of `issuer` (a trailing slash on the issuer is tolerated, as OIDC Discovery allows).
pub(crate) fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// GETs `url` as JSON. Errors are plain strings; the caller wraps them as discovery or JWKS failures.
pub(crate) async fn get_json(http: &reqwest::Client, url: Url) -> Result<Value, String> {
    let mut resp = http
        .get(url)
        .timeout(HTTP_TIMEOUT)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| e.without_url().to_string())?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("response larger than {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))
}

/// Fetches and checks the discovery document of `issuer`.
pub(crate) async fn fetch_discovery(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<Discovery, TokenError> {
    checked_url(issuer)?;
    let url = checked_url(&discovery_url(issuer))?;
    let doc = get_json(http, url).await.map_err(TokenError::Discovery)?;
    let doc: Discovery = serde_json::from_value(doc)
        .map_err(|e| TokenError::Discovery(format!("unusable document: {e}")))?;
    // OIDC Discovery §4.3: the document must name the issuer it was fetched for, or its keys mean nothing.
    if doc.issuer != issuer {
        return Err(TokenError::Discovery(format!(
            "document names issuer {:?}, expected {issuer:?}",
            doc.issuer
        )));
    }
    checked_url(&doc.jwks_uri)?;
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_is_required_except_for_loopback() {
        assert!(checked_url("https://login.example.com/keys").is_ok());
        assert!(checked_url("http://127.0.0.1:8080/jwks").is_ok());
        assert!(checked_url("http://localhost:1/jwks").is_ok());
        assert!(checked_url("http://login.example.com/keys").is_err());
        assert!(checked_url("http://localhost.evil.example/keys").is_err());
        assert!(checked_url("http://127.0.0.1.evil.example/keys").is_err());
        assert!(checked_url("http://evil.example/?localhost").is_err());
        assert!(checked_url("file:///etc/passwd").is_err());
        assert!(checked_url("not a url").is_err());
    }

    #[test]
    fn discovery_url_tolerates_a_trailing_slash() {
        assert_eq!(
            discovery_url("https://idp.example/tenant/"),
            "https://idp.example/tenant/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("https://idp.example"),
            "https://idp.example/.well-known/openid-configuration"
        );
    }
}
