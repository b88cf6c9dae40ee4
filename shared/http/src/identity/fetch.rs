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
    /// Where an authorization code is exchanged (the portal's sign-in); providers used only with the implicit flow
    /// may leave it out.
    #[serde(default)]
    pub token_endpoint: Option<String>,
}

/// Redirects an IdP call may follow, all within the origin it started at.
const MAX_REDIRECTS: usize = 3;

/// A client suited to IdP calls: 5 s timeouts, rustls, redirects only within the origin ([`same_origin_only`]).
/// Build one per process.
///
/// # Errors
/// When the TLS backend cannot be initialised.
pub fn http_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(HTTP_TIMEOUT)
        .connect_timeout(HTTP_TIMEOUT)
        .redirect(same_origin_only())
        .build()
}

/// Follows a redirect only to the same scheme, host and port as the URL that was checked (up to three, e.g. a
/// trailing-slash fix), and fails the call on any other: the URL checked by [`checked_url`] is the only place the
/// metadata and keys may come from, and a redirect to another host (an internal address, the instance metadata
/// service), to plain HTTP or to `file:` would undo that check. Another port on the same host is another origin.
#[must_use]
pub fn same_origin_only() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let Some(first) = attempt.previous().first() else {
            return attempt.stop();
        };
        let next = attempt.url();
        let same = next.scheme() == first.scheme()
            && next.host() == first.host()
            && next.port_or_known_default() == first.port_or_known_default();
        if !same {
            let error = format!(
                "redirect to another origin refused: {}",
                next.origin().ascii_serialization()
            );
            attempt.error(error)
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else {
            attempt.follow()
        }
    })
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

/// Why a JSON document could not be fetched; the caller wraps it as a discovery or JWKS failure.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    /// The request failed (connection, timeout, a refused redirect); without the URL, which may carry a query.
    #[error("{0}")]
    Request(reqwest::Error),
    #[error("HTTP {0}")]
    Status(reqwest::StatusCode),
    #[error("response larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("not JSON: {0}")]
    NotJson(serde_json::Error),
}

/// GETs `url` as JSON.
pub(crate) async fn get_json(http: &reqwest::Client, url: Url) -> Result<Value, FetchError> {
    let resp = http
        .get(url)
        .timeout(HTTP_TIMEOUT)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| FetchError::Request(e.without_url()))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(FetchError::Status(status));
    }
    read_json(resp).await
}

/// POSTs a form to `url` and reads the JSON answer, whatever its status (a token endpoint explains a refusal in
/// its JSON body: `{"error": "invalid_grant", ...}`).
pub(crate) async fn post_form_json(
    http: &reqwest::Client,
    url: Url,
    form: &[(&str, &str)],
) -> Result<(reqwest::StatusCode, Value), FetchError> {
    let resp = http
        .post(url)
        .timeout(HTTP_TIMEOUT)
        .header(reqwest::header::ACCEPT, "application/json")
        .form(form)
        .send()
        .await
        .map_err(|e| FetchError::Request(e.without_url()))?;
    let status = resp.status();
    Ok((status, read_json(resp).await?))
}

/// The body of an answer as JSON, at most `MAX_BODY` bytes.
async fn read_json(mut resp: reqwest::Response) -> Result<Value, FetchError> {
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| FetchError::Request(e.without_url()))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(FetchError::NotJson)
}

/// Fetches and checks the discovery document of `issuer`.
pub(crate) async fn fetch_discovery(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<Discovery, TokenError> {
    checked_url(issuer)?;
    let url = checked_url(&discovery_url(issuer))?;
    let doc = get_json(http, url)
        .await
        .map_err(|e| TokenError::Discovery(e.to_string()))?;
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

    use std::collections::HashMap;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::extract::Query;
    use axum::http::{StatusCode, header::LOCATION};
    use axum::routing::get;

    /// Serves `router` on a free 127.0.0.1 port; returns the port.
    #[expect(
        clippy::disallowed_methods,
        reason = "test: a loopback identity provider served by its own task"
    )]
    async fn serve(router: axum::Router) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
        port
    }

    #[tokio::test]
    async fn metadata_and_keys_follow_no_redirect_to_another_origin() {
        // GIVEN another server that counts what reaches it, and an IdP that redirects wherever it is told
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&hits);
        let other = serve(axum::Router::new().fallback(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { axum::Json(serde_json::json!({"keys": []})) }
        }))
        .await;
        let idp = serve(
            axum::Router::new()
                .route(
                    "/go",
                    get(|Query(q): Query<HashMap<String, String>>| async move {
                        (StatusCode::FOUND, [(LOCATION, q["to"].clone())])
                    }),
                )
                .route(
                    "/jwks",
                    get(|| async { axum::Json(serde_json::json!({"keys": []})) }),
                ),
        )
        .await;
        let http = http_client().expect("client");
        let go = |to: &str| {
            let mut url = Url::parse(&format!("http://127.0.0.1:{idp}/go")).expect("url");
            url.query_pairs_mut().append_pair("to", to);
            url
        };

        // WHEN a fetch is redirected to another port, host or scheme THEN it fails and nothing is fetched there
        for to in [
            format!("http://127.0.0.1:{other}/jwks"),
            format!("http://localhost:{other}/jwks"),
            format!("http://localhost:{idp}/jwks"),
            format!("https://127.0.0.1:{idp}/jwks"),
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "file:///etc/passwd".to_owned(),
        ] {
            let err = get_json(&http, go(&to)).await.expect_err(&to).to_string();
            // reqwest itself does not follow to `file:`; the 3xx is then the (failed) answer.
            assert!(
                err.contains("redirect") || err.contains("302"),
                "{to}: {err}"
            );
        }
        let issuer = format!("http://127.0.0.1:{idp}/go?to=http://127.0.0.1:{other}/x");
        assert!(fetch_discovery(&http, &issuer).await.is_err());
        assert_eq!(hits.load(Ordering::SeqCst), 0, "the other origin was asked");

        // AND a redirect within the origin is followed
        let keys = get_json(&http, go("/jwks")).await.expect("same origin");
        assert_eq!(keys, serde_json::json!({"keys": []}));
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
