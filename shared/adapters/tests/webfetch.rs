//! The web fetch client against a local server that answers each case (HTML, text, PDF, redirects, 429, 404, a body
//! over the limit, a slow page) and counts the requests it receives, so a refusal "before any request" is checked.
//!
//! The local server is plain HTTP on 127.0.0.1, which the production fetcher refuses by design: these tests use
//! the test-only constructors (`allowing_private_for_tests`, `allowing_test_server_for_tests`), and check the
//! production one refuses the same server without a connection.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use sluice_adapters::Fetcher;
use sluice_adapters::webfetch::{MAX_BODY_BYTES, MAX_REDIRECTS, MAX_URL_CHARS};
use sluice_core::websearch::{FetchErrorCode, FetchRequest, FetchedPage, WebFetch};
use sluice_testkit::LocalServer;

const PAGE: &str = r#"<!doctype html>
<html><head>
  <title>The  Rust
   Book</title>
  <style>body { color: #c0ffee; } .hidden-style-marker {}</style>
  <script>var trackingMarker = "script-must-not-show";</script>
</head>
<body>
  <h1>Ownership</h1>
  <p>Each value in Rust has an <b>owner</b>.</p>
  <p>There can only be one owner at a time &amp; that is all.</p>
  <script>document.write("also-not-shown")</script>
</body></html>"#;

/// Paths the server has answered.
#[derive(Clone, Default)]
struct Hits(Arc<std::sync::Mutex<Vec<String>>>, Arc<AtomicUsize>);

impl Hits {
    fn count(&self) -> usize {
        self.1.load(Ordering::SeqCst)
    }

    fn paths(&self) -> Vec<String> {
        self.0.lock().expect("hits").clone()
    }
}

async fn answer(State(hits): State<Hits>, uri: Uri) -> Response {
    hits.1.fetch_add(1, Ordering::SeqCst);
    hits.0.lock().expect("hits").push(uri.path().to_owned());
    let query = uri.query().unwrap_or_default().to_owned();
    match uri.path() {
        "/page" => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE).into_response(),
        "/plain" => (
            [(header::CONTENT_TYPE, "text/plain")],
            "line one\n  <b>not a tag</b> & more\n",
        )
            .into_response(),
        "/json" => (
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"a": [1, 2]}"#,
        )
            .into_response(),
        "/pdf" => (
            [(header::CONTENT_TYPE, "application/pdf")],
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec(),
        )
            .into_response(),
        "/octets" => b"\x00\x01\x02".to_vec().into_response(),
        // `/redirect?to=<url>`: a 302 to `url` (relative or absolute).
        "/redirect" => {
            let to = query.strip_prefix("to=").unwrap_or("/page").to_owned();
            (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
        }
        "/loop" => (StatusCode::FOUND, [(header::LOCATION, "/loop")]).into_response(),
        "/busy" => StatusCode::TOO_MANY_REQUESTS.into_response(),
        "/broken" => StatusCode::BAD_GATEWAY.into_response(),
        "/big" => (
            [(header::CONTENT_TYPE, "text/plain")],
            vec![b'a'; MAX_BODY_BYTES + 1],
        )
            .into_response(),
        // The same, streamed without Content-Length: the limit holds while reading.
        "/big-chunked" => {
            let chunk = Bytes::from(vec![b'a'; 1024 * 1024]);
            let chunks = (0..6).map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
            (
                [(header::CONTENT_TYPE, "text/plain")],
                Body::from_stream(futures::stream::iter(chunks)),
            )
                .into_response()
        }
        "/long" => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "é".repeat(50),
        )
            .into_response(),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            ([(header::CONTENT_TYPE, "text/plain")], "late").into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn server() -> (LocalServer, Hits) {
    let hits = Hits::default();
    let router = Router::new().fallback(answer).with_state(hits.clone());
    (LocalServer::start(router).await, hits)
}

fn request(url: impl Into<String>) -> FetchRequest {
    FetchRequest {
        url: url.into(),
        max_chars: 10_000,
        ..FetchRequest::default()
    }
}

async fn fetch_ok(fetcher: &Fetcher, request: &FetchRequest) -> FetchedPage {
    match fetcher.fetch(request).await {
        Ok(page) => page,
        Err(e) => panic!("{} not fetched: {e}", request.url),
    }
}

async fn fetch_err(
    fetcher: &Fetcher,
    request: &FetchRequest,
) -> sluice_core::websearch::FetchError {
    match fetcher.fetch(request).await {
        Ok(page) => panic!("{} fetched: {page:?}", request.url),
        Err(e) => e,
    }
}

fn loopback() -> IpAddr {
    IpAddr::from([127, 0, 0, 1])
}

#[tokio::test]
async fn html_becomes_text_with_its_title_and_without_scripts_or_styles() {
    let (server, _) = server().await;
    let url = format!("{}/page", server.url());
    let page = fetch_ok(&Fetcher::allowing_private_for_tests(), &request(&url)).await;
    assert_eq!(page.url, url);
    assert_eq!(page.title.as_deref(), Some("The Rust Book"));
    assert_eq!(page.media_type, "text/plain");
    for shown in [
        "Ownership",
        "Each value in Rust has an",
        "owner",
        "one owner at a time & that is all.",
    ] {
        assert!(
            page.text.contains(shown),
            "{shown:?} missing: {}",
            page.text
        );
    }
    for hidden in [
        "script-must-not-show",
        "also-not-shown",
        "c0ffee",
        "hidden-style-marker",
        "<p>",
        "&amp;",
    ] {
        assert!(
            !page.text.contains(hidden),
            "{hidden:?} shown: {}",
            page.text
        );
    }
}

#[tokio::test]
async fn text_and_json_are_kept_as_they_are() {
    let (server, _) = server().await;
    let fetcher = Fetcher::allowing_private_for_tests();
    let page = fetch_ok(&fetcher, &request(format!("{}/plain", server.url()))).await;
    assert_eq!(page.text, "line one\n  <b>not a tag</b> & more");
    assert_eq!(page.title, None);
    assert_eq!(page.media_type, "text/plain");
    let page = fetch_ok(&fetcher, &request(format!("{}/json", server.url()))).await;
    assert_eq!(page.text, r#"{"a": [1, 2]}"#);
}

#[tokio::test]
async fn pdfs_and_binaries_are_an_unsupported_content_type() {
    let (server, _) = server().await;
    let fetcher = Fetcher::allowing_private_for_tests();
    for path in ["/pdf", "/octets"] {
        let err = fetch_err(&fetcher, &request(format!("{}{path}", server.url()))).await;
        assert_eq!(
            err.code,
            FetchErrorCode::UnsupportedContentType,
            "{path}: {err}"
        );
    }
}

#[tokio::test]
async fn a_redirect_to_an_allowed_page_is_followed_and_the_final_url_given() {
    let (server, hits) = server().await;
    let fetcher = Fetcher::allowing_test_server_for_tests(loopback());
    let page = fetch_ok(
        &fetcher,
        &request(format!("{}/redirect?to=/page", server.url())),
    )
    .await;
    assert_eq!(page.url, format!("{}/page", server.url()));
    assert_eq!(page.title.as_deref(), Some("The Rust Book"));
    assert_eq!(hits.paths(), ["/redirect", "/page"]);
}

#[tokio::test]
async fn a_redirect_to_a_blocked_or_not_allowed_domain_is_not_followed() {
    let (server, hits) = server().await;
    let port = server.url().rsplit(':').next().expect("port").to_owned();
    let fetcher = Fetcher::allowing_private_for_tests();
    let to_localhost = format!("{}/redirect?to=http://localhost:{port}/page", server.url());
    let blocked = FetchRequest {
        blocked_domains: vec!["localhost".into()],
        ..request(&to_localhost)
    };
    let err = fetch_err(&fetcher, &blocked).await;
    assert_eq!(err.code, FetchErrorCode::UrlNotAllowed, "{err}");
    assert!(err.message.contains("localhost is blocked"), "{err}");
    let only_the_first = FetchRequest {
        allowed_domains: vec!["127.0.0.1".into()],
        ..request(&to_localhost)
    };
    let err = fetch_err(&fetcher, &only_the_first).await;
    assert_eq!(err.code, FetchErrorCode::UrlNotAllowed, "{err}");
    assert_eq!(
        hits.paths(),
        ["/redirect", "/redirect"],
        "the target was read"
    );
}

#[tokio::test]
async fn a_redirect_to_loopback_is_refused_when_private_addresses_are_not_allowed() {
    let (server, hits) = server().await;
    let port = server.url().rsplit(':').next().expect("port").to_owned();
    // Only the test server's literal address is reachable; every other non-public one is refused as in production.
    let fetcher = Fetcher::allowing_test_server_for_tests(loopback());
    for target in [
        format!("http://localhost:{port}/page"),
        format!("http://[::1]:{port}/page"),
        format!("http://127.0.0.2:{port}/page"),
    ] {
        let err = fetch_err(
            &fetcher,
            &request(format!("{}/redirect?to={target}", server.url())),
        )
        .await;
        assert_eq!(err.code, FetchErrorCode::UrlNotAllowed, "{target}: {err}");
    }
    assert!(
        !hits.paths().contains(&"/page".to_owned()),
        "{:?}",
        hits.paths()
    );
}

#[tokio::test]
async fn more_than_five_redirects_are_not_followed() {
    let (server, hits) = server().await;
    let err = fetch_err(
        &Fetcher::allowing_private_for_tests(),
        &request(format!("{}/loop", server.url())),
    )
    .await;
    assert_eq!(err.code, FetchErrorCode::UrlNotAccessible, "{err}");
    assert!(err.message.contains("redirects"), "{err}");
    assert_eq!(hits.count(), MAX_REDIRECTS + 1);
}

#[tokio::test]
async fn rate_limits_and_failing_statuses_have_their_codes_and_hide_the_query() {
    let (server, _) = server().await;
    let fetcher = Fetcher::allowing_private_for_tests();
    let err = fetch_err(&fetcher, &request(format!("{}/busy", server.url()))).await;
    assert_eq!(err.code, FetchErrorCode::TooManyRequests, "{err}");
    for (path, status) in [("/missing", "404"), ("/broken", "502")] {
        let err = fetch_err(
            &fetcher,
            &request(format!("{}{path}?token=s3cr3t-token&x=1", server.url())),
        )
        .await;
        assert_eq!(err.code, FetchErrorCode::UrlNotAccessible, "{err}");
        assert!(err.message.contains(status), "{err}");
        assert!(err.message.contains(path), "{err}");
        assert!(!err.message.contains("s3cr3t"), "the query leaks: {err}");
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_not_read() {
    let (server, _) = server().await;
    let fetcher = Fetcher::allowing_private_for_tests();
    for path in ["/big", "/big-chunked"] {
        let err = fetch_err(&fetcher, &request(format!("{}{path}", server.url()))).await;
        assert_eq!(err.code, FetchErrorCode::UrlNotAccessible, "{path}: {err}");
        assert!(err.message.contains("larger than"), "{path}: {err}");
    }
}

#[tokio::test]
async fn a_slow_page_times_out_at_the_configured_limit() {
    let (server, _) = server().await;
    let fetcher = Fetcher::allowing_private_for_tests().with_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let err = fetch_err(
        &fetcher,
        &request(format!("{}/slow?key=hidden", server.url())),
    )
    .await;
    assert_eq!(err.code, FetchErrorCode::UrlNotAccessible, "{err}");
    assert!(err.message.contains("within 300 ms"), "{err}");
    assert!(!err.message.contains("hidden"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn domain_rules_are_checked_before_any_request() {
    let (server, hits) = server().await;
    let fetcher = Fetcher::allowing_private_for_tests();
    let url = format!("{}/page", server.url());
    let blocked = FetchRequest {
        blocked_domains: vec!["127.0.0.1".into()],
        ..request(&url)
    };
    assert_eq!(
        fetch_err(&fetcher, &blocked).await.code,
        FetchErrorCode::UrlNotAllowed
    );
    let elsewhere = FetchRequest {
        allowed_domains: vec!["docs.rs".into()],
        ..request(&url)
    };
    assert_eq!(
        fetch_err(&fetcher, &elsewhere).await.code,
        FetchErrorCode::UrlNotAllowed
    );
    assert_eq!(hits.count(), 0);
    let allowed = FetchRequest {
        allowed_domains: vec!["127.0.0.1".into()],
        ..request(&url)
    };
    fetch_ok(&fetcher, &allowed).await;
    assert_eq!(hits.count(), 1);
}

#[tokio::test]
async fn the_production_fetcher_refuses_loopback_without_connecting() {
    let (server, hits) = server().await;
    let port = server.url().rsplit(':').next().expect("port").to_owned();
    let fetcher = Fetcher::new();
    for url in [
        format!("{}/page", server.url()),
        format!("https://127.0.0.1:{port}/page"),
        format!("https://localhost:{port}/page"),
        format!("https://[::1]:{port}/page"),
    ] {
        let err = fetch_err(&fetcher, &request(&url)).await;
        assert_eq!(err.code, FetchErrorCode::UrlNotAllowed, "{url}: {err}");
    }
    assert_eq!(hits.count(), 0);
}

#[tokio::test]
async fn long_and_invalid_urls_are_refused_with_their_codes() {
    let fetcher = Fetcher::new();
    let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
    assert_eq!(
        fetch_err(&fetcher, &request(long)).await.code,
        FetchErrorCode::UrlTooLong
    );
    for invalid in [
        "not a url",
        "ftp://example.com/file",
        "mailto:a@example.com",
        "",
    ] {
        assert_eq!(
            fetch_err(&fetcher, &request(invalid)).await.code,
            FetchErrorCode::InvalidToolInput,
            "{invalid:?}"
        );
    }
}

#[tokio::test]
async fn text_is_cut_at_max_chars_on_a_character_boundary_with_a_note() {
    let (server, _) = server().await;
    let fetcher = Fetcher::allowing_private_for_tests();
    let cut = FetchRequest {
        max_chars: 7,
        ..request(format!("{}/long", server.url()))
    };
    let page = fetch_ok(&fetcher, &cut).await;
    assert_eq!(
        page.text,
        format!("{}\n\n[… cut at 7 characters]", "é".repeat(7))
    );
    let whole = FetchRequest {
        max_chars: 50,
        ..request(format!("{}/long", server.url()))
    };
    assert_eq!(fetch_ok(&fetcher, &whole).await.text, "é".repeat(50));
}
