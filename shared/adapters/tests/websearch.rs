//! The web search providers against local fakes that answer each provider's documented response shape and record
//! the request they receive (method, path, headers, body), so each test checks both directions.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sluice_adapters::SearchProviders;
use sluice_adapters::websearch::{MAX_RESPONSE_BYTES, parse_duckduckgo_page};
use sluice_core::websearch::{
    ProviderConfig, SearchErrorCode, SearchQuery, SearchResult, UserLocation, WebSearchProviders,
};
use sluice_testkit::LocalServer;

const KEY: &str = "sk-test-do-not-show-7f3a";
const DUCKDUCKGO_PAGE: &str = include_str!("fixtures/duckduckgo.html");
const DUCKDUCKGO_CHALLENGE: &str = include_str!("fixtures/duckduckgo-challenge.html");

/// What the fake received.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Seen {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON request body")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How the fake answers.
#[derive(Clone)]
struct Reply {
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
    delay: Duration,
    /// Sent as a stream of chunks, without `Content-Length`.
    chunked: bool,
}

impl Reply {
    fn json(body: &Value) -> Self {
        Self::raw(
            StatusCode::OK,
            "application/json",
            serde_json::to_vec(body).expect("json"),
        )
    }

    fn raw(status: StatusCode, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            content_type,
            body: body.into(),
            delay: Duration::ZERO,
            chunked: false,
        }
    }
}

/// A provider on loopback; stops when dropped (its `LocalServer`).
struct Fake {
    server: LocalServer,
    seen: Arc<Mutex<Vec<Seen>>>,
}

type FakeState = (Arc<Mutex<Vec<Seen>>>, Arc<Reply>);

impl Fake {
    async fn start(reply: Reply) -> Self {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let router = Router::new()
            .fallback(answer)
            .with_state((Arc::clone(&seen), Arc::new(reply)));
        Self {
            server: LocalServer::start(router).await,
            seen,
        }
    }

    fn url(&self) -> &str {
        self.server.url()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    fn only_request(&self) -> Seen {
        let seen = self.seen();
        assert_eq!(seen.len(), 1, "requests: {seen:?}");
        seen[0].clone()
    }
}

async fn answer(
    State((seen, reply)): State<FakeState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    seen.lock().expect("lock").push(Seen {
        method,
        path: uri.path().to_owned(),
        query,
        headers,
        body: body.to_vec(),
    });
    tokio::time::sleep(reply.delay).await;
    let body = if reply.chunked {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = reply
            .body
            .chunks(64 * 1024)
            .map(|c| Ok(c.to_vec()))
            .collect();
        Body::from_stream(futures::stream::iter(chunks))
    } else {
        Body::from(reply.body.clone())
    };
    (
        reply.status,
        [(header::CONTENT_TYPE, reply.content_type)],
        body,
    )
        .into_response()
}

/// A provider of `kind` at `url` (loopback, so `allow_private`).
fn config(kind: &str, url: &str, key: Option<&str>) -> ProviderConfig {
    ProviderConfig {
        id: "p1".to_owned(),
        provider_type: kind.to_owned(),
        api_key: key.map(str::to_owned),
        api_url: Some(url.to_owned()),
        max_results: 10,
        enabled: true,
        allow_private: true,
        created_at_ms: 0,
        updated_at_ms: 0,
    }
}

fn query(text: &str) -> SearchQuery {
    SearchQuery {
        query: text.to_owned(),
        max_results: 5,
        ..SearchQuery::default()
    }
}

async fn search(
    config: &ProviderConfig,
    query: &SearchQuery,
) -> Result<Vec<SearchResult>, sluice_core::websearch::SearchError> {
    SearchProviders::new()
        .provider(config)
        .expect("provider")
        .search(query)
        .await
}

fn urls(results: &[SearchResult]) -> Vec<&str> {
    results.iter().map(|r| r.url.as_str()).collect()
}

// ---- DuckDuckGo ----

#[test]
fn the_duckduckgo_page_gives_its_results_unwrapped_without_ads() {
    let results = parse_duckduckgo_page(DUCKDUCKGO_PAGE);

    assert_eq!(
        urls(&results),
        [
            "https://tokio.rs/tokio/tutorial?section=async&lang=en",
            "https://rust-lang.github.io/async-book/",
            "https://docs.rs/async-std/latest/async_std/",
        ]
    );
    assert_eq!(
        results[0].title,
        "Tutorial | Tokio - An asynchronous Rust runtime"
    );
    assert!(
        results[0]
            .content
            .starts_with("Tokio is an asynchronous runtime for the Rust programming language."),
        "{:?}",
        results[0].content
    );
    assert!(
        results[0]
            .content
            .ends_with("network applications & services.")
    );
    assert!(results[1].content.contains("advanced \u{2014} it's a work"));
    // A snippet element holding another element of its own kind is read to its own end.
    assert_eq!(
        results[2].content,
        "Async version of the Rust standard library. Modules: fs, io, net. Tasks, channels & <b>bold</b> docs."
    );
}

#[tokio::test]
async fn duckduckgo_posts_the_query_as_a_form_and_answers_plain_text() {
    let fake = Fake::start(Reply::raw(
        StatusCode::OK,
        "text/html; charset=UTF-8",
        DUCKDUCKGO_PAGE,
    ))
    .await;

    let results = search(
        &config("duckduckgo", fake.url(), None),
        &query("rust async runtime"),
    )
    .await
    .expect("results");

    let seen = fake.only_request();
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.path, "/html/");
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        url::form_urlencoded::parse(&seen.body)
            .into_owned()
            .collect::<Vec<_>>(),
        [("q".to_owned(), "rust async runtime".to_owned())]
    );
    assert_eq!(results.len(), 3);
    assert_eq!(results[1].title, "Asynchronous Programming in Rust");
    assert_eq!(
        results[1].content,
        "This book aims to be a thorough guide to asynchronous programming in Rust, from beginner to \
         advanced \u{2014} it's a work in progress."
    );
    assert_eq!(results[1].page_age, None);
    // Text the page escaped stays as written, not decoded a second time.
    assert_eq!(
        results[2].content,
        "Async version of the Rust standard library. Modules: fs, io, net. Tasks, channels & <b>bold</b> docs."
    );
}

#[tokio::test]
async fn a_duckduckgo_challenge_page_is_too_many_requests() {
    let fake = Fake::start(Reply::raw(
        StatusCode::ACCEPTED,
        "text/html",
        DUCKDUCKGO_CHALLENGE,
    ))
    .await;

    let err = search(&config("duckduckgo", fake.url(), None), &query("rust"))
        .await
        .expect_err("challenged");

    assert_eq!(err.code, SearchErrorCode::TooManyRequests, "{err}");
}

// ---- Brave ----

#[tokio::test]
async fn brave_sends_a_get_with_its_token_and_reads_web_results() {
    // Brave's answer: `web.results[]`, descriptions with <strong> around matched words.
    let fake = Fake::start(Reply::json(&json!({
        "type": "search",
        "query": {"original": "rust book"},
        "web": {"type": "search", "results": [
            {"title": "The Rust Programming Language", "url": "https://doc.rust-lang.org/book/",
             "description": "The <strong>Rust</strong> book &amp; its examples", "age": "3 days ago",
             "page_age": "2025-04-01T00:00:00", "language": "en", "family_friendly": true},
            {"title": "Rust by Example", "url": "https://doc.rust-lang.org/rust-by-example/",
             "description": "A collection of runnable examples", "page_age": "2025-01-02T00:00:00"}
        ]}
    })))
    .await;

    let results = search(&config("brave", fake.url(), Some(KEY)), &query("rust book"))
        .await
        .expect("results");

    let seen = fake.only_request();
    assert_eq!(seen.method, Method::GET);
    assert_eq!(seen.path, "/res/v1/web/search");
    assert_eq!(seen.param("q"), Some("rust book"));
    assert_eq!(seen.param("count"), Some("5"));
    assert_eq!(seen.header("x-subscription-token"), Some(KEY));
    assert_eq!(seen.header("accept"), Some("application/json"));
    assert_eq!(
        results,
        [
            SearchResult {
                url: "https://doc.rust-lang.org/book/".to_owned(),
                title: "The Rust Programming Language".to_owned(),
                page_age: Some("3 days ago".to_owned()),
                content: "The Rust book & its examples".to_owned(),
            },
            SearchResult {
                url: "https://doc.rust-lang.org/rust-by-example/".to_owned(),
                title: "Rust by Example".to_owned(),
                page_age: Some("2025-01-02T00:00:00".to_owned()),
                content: "A collection of runnable examples".to_owned(),
            },
        ]
    );
}

#[tokio::test]
async fn brave_without_web_results_is_an_empty_answer() {
    let fake = Fake::start(Reply::json(
        &json!({"type": "search", "query": {"original": "zz"}}),
    ))
    .await;

    let results = search(&config("brave", fake.url(), Some(KEY)), &query("zz"))
        .await
        .expect("no results is not an error");

    assert_eq!(results, []);
}

// ---- Tavily ----

#[tokio::test]
async fn tavily_posts_json_with_a_bearer_key_and_the_domain_lists() {
    let fake = Fake::start(Reply::json(&json!({
        "query": "tokio", "answer": null, "images": [], "response_time": "1.2",
        "results": [
            {"title": "Tokio", "url": "https://tokio.rs/", "content": "An asynchronous runtime.",
             "score": 0.91, "raw_content": null},
            {"title": "Tokio news", "url": "https://tokio.rs/blog/", "content": "Release notes.",
             "score": 0.8, "published_date": "Mon, 03 Mar 2025 10:00:00 GMT"}
        ]
    })))
    .await;
    let mut q = query("tokio");
    q.allowed_domains = vec!["tokio.rs".to_owned()];
    q.blocked_domains = vec!["spam.example".to_owned()];

    let results = search(&config("tavily", fake.url(), Some(KEY)), &q)
        .await
        .expect("results");

    let seen = fake.only_request();
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.path, "/search");
    assert_eq!(
        seen.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    let body = seen.json();
    assert_eq!(body["query"], "tokio");
    assert_eq!(body["max_results"], 5);
    assert_eq!(body["include_domains"], json!(["tokio.rs"]));
    assert_eq!(body["exclude_domains"], json!(["spam.example"]));
    assert_eq!(
        urls(&results),
        ["https://tokio.rs/", "https://tokio.rs/blog/"]
    );
    assert_eq!(results[0].content, "An asynchronous runtime.");
    assert_eq!(
        results[1].page_age.as_deref(),
        Some("Mon, 03 Mar 2025 10:00:00 GMT")
    );
}

// ---- Serper ----

#[tokio::test]
async fn serper_posts_q_num_and_the_country_with_its_key_header() {
    let fake = Fake::start(Reply::json(&json!({
        "searchParameters": {"q": "axum", "gl": "de", "type": "search", "engine": "google"},
        "knowledgeGraph": {"title": "Axum"},
        "organic": [
            {"title": "axum - Rust", "link": "https://docs.rs/axum/latest/axum/",
             "snippet": "axum is a web application framework...", "position": 1},
            {"title": "Announcing axum 0.8", "link": "https://tokio.rs/blog/2025-01-01-announcing-axum-0-8-0",
             "snippet": "Today we are happy to announce...", "date": "Jan 1, 2025", "position": 2}
        ],
        "peopleAlsoAsk": [], "relatedSearches": []
    })))
    .await;
    let mut q = query("axum");
    q.user_location = Some(UserLocation {
        country: Some("DE".to_owned()),
        city: Some("Berlin".to_owned()),
        ..UserLocation::default()
    });

    let results = search(&config("serper", fake.url(), Some(KEY)), &q)
        .await
        .expect("results");

    let seen = fake.only_request();
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.path, "/search");
    assert_eq!(seen.header("x-api-key"), Some(KEY));
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(seen.json(), json!({"q": "axum", "num": 5, "gl": "de"}));
    assert_eq!(
        urls(&results),
        [
            "https://docs.rs/axum/latest/axum/",
            "https://tokio.rs/blog/2025-01-01-announcing-axum-0-8-0"
        ]
    );
    assert_eq!(results[1].page_age.as_deref(), Some("Jan 1, 2025"));
    assert_eq!(results[0].content, "axum is a web application framework...");
}

// ---- SearXNG ----

#[tokio::test]
async fn searxng_gets_the_json_format_from_the_configured_instance() {
    let fake = Fake::start(Reply::json(&json!({
        "query": "hyper", "number_of_results": 0,
        "results": [
            {"url": "https://hyper.rs/", "title": "hyper", "content": "Fast and <em>correct</em> HTTP",
             "engine": "duckduckgo", "engines": ["duckduckgo"], "score": 2.0, "category": "general",
             "publishedDate": null},
            {"url": "https://github.com/hyperium/hyper", "title": "hyperium/hyper",
             "engine": "github", "publishedDate": "2025-02-03T04:05:06"}
        ],
        "answers": [], "corrections": [], "infoboxes": [], "suggestions": [], "unresponsive_engines": []
    })))
    .await;

    let results = search(&config("searxng", fake.url(), None), &query("hyper"))
        .await
        .expect("results");

    let seen = fake.only_request();
    assert_eq!(seen.method, Method::GET);
    assert_eq!(seen.path, "/search");
    assert_eq!(seen.param("q"), Some("hyper"));
    assert_eq!(seen.param("format"), Some("json"));
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(
        urls(&results),
        ["https://hyper.rs/", "https://github.com/hyperium/hyper"]
    );
    assert_eq!(results[0].content, "Fast and correct HTTP");
    assert_eq!(results[0].page_age, None);
    assert_eq!(results[1].content, "");
    assert_eq!(results[1].page_age.as_deref(), Some("2025-02-03T04:05:06"));
}

#[tokio::test]
async fn a_searxng_instance_without_json_output_is_unavailable() {
    let fake = Fake::start(Reply::raw(
        StatusCode::FORBIDDEN,
        "text/html",
        "403 Forbidden",
    ))
    .await;

    let err = search(&config("searxng", fake.url(), None), &query("hyper"))
        .await
        .expect_err("refused");

    assert_eq!(err.code, SearchErrorCode::Unavailable);
    assert!(err.message.contains("HTTP 403"), "{err}");
}

// ---- Exa ----

#[tokio::test]
async fn exa_posts_num_results_domains_and_text_contents_with_its_key_header() {
    let fake = Fake::start(Reply::json(&json!({
        "requestId": "b5947044c4b78efa9552a7c89b306d95",
        "resolvedSearchType": "neural",
        "results": [
            {"id": "https://serde.rs/", "title": "Overview · Serde", "url": "https://serde.rs/",
             "publishedDate": "2024-05-01T00:00:00.000Z", "author": null,
             "text": "Serde is a framework for serializing and deserializing Rust data structures."},
            {"id": "https://docs.rs/serde", "title": null, "url": "https://docs.rs/serde"}
        ],
        "costDollars": {"total": 0.005}
    })))
    .await;
    let mut q = query("serde");
    q.allowed_domains = vec!["serde.rs".to_owned(), "docs.rs".to_owned()];

    let results = search(&config("exa", fake.url(), Some(KEY)), &q)
        .await
        .expect("results");

    let seen = fake.only_request();
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.path, "/search");
    assert_eq!(seen.header("x-api-key"), Some(KEY));
    assert_eq!(
        seen.json(),
        json!({"query": "serde", "numResults": 5, "includeDomains": ["serde.rs", "docs.rs"],
               "contents": {"text": {"maxCharacters": 1500}}})
    );
    assert_eq!(
        urls(&results),
        ["https://serde.rs/", "https://docs.rs/serde"]
    );
    assert_eq!(
        results[0].page_age.as_deref(),
        Some("2024-05-01T00:00:00.000Z")
    );
    assert!(results[0].content.starts_with("Serde is a framework"));
    // A result without a title is shown by its URL.
    assert_eq!(results[1].title, "https://docs.rs/serde");
}

// ---- custom ----

#[tokio::test]
async fn the_custom_endpoint_gets_the_documented_body_and_reads_content_or_snippet() {
    let fake = Fake::start(Reply::json(&json!({"results": [
        {"title": "Internal wiki: deploys", "url": "https://wiki.corp.example/deploys",
         "content": "How we deploy.", "page_age": "2025-03-01"},
        {"title": "Runbook", "url": "https://runbooks.corp.example/r1", "snippet": "Page the on-call."}
    ]})))
    .await;
    let mut q = query("deploy");
    q.blocked_domains = vec!["old.corp.example".to_owned()];
    q.user_location = Some(UserLocation {
        country: Some("GB".to_owned()),
        ..UserLocation::default()
    });
    let endpoint = format!("{}/v1/websearch", fake.url());

    let results = search(&config("custom", &endpoint, Some(KEY)), &q)
        .await
        .expect("results");

    let seen = fake.only_request();
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.path, "/v1/websearch");
    assert_eq!(
        seen.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(
        seen.json(),
        json!({"query": "deploy", "max_results": 5, "allowed_domains": [],
               "blocked_domains": ["old.corp.example"],
               "user_location": {"city": null, "region": null, "country": "GB", "timezone": null}})
    );
    assert_eq!(results[0].content, "How we deploy.");
    assert_eq!(results[0].page_age.as_deref(), Some("2025-03-01"));
    assert_eq!(results[1].content, "Page the on-call.");
}

#[tokio::test]
async fn the_custom_endpoint_without_a_key_gets_no_authorization() {
    let fake = Fake::start(Reply::json(&json!({"results": []}))).await;

    search(&config("custom", fake.url(), None), &query("x"))
        .await
        .expect("results");

    assert_eq!(fake.only_request().header("authorization"), None);
}

// ---- errors ----

#[tokio::test]
async fn http_429_is_too_many_requests() {
    let fake = Fake::start(Reply::raw(
        StatusCode::TOO_MANY_REQUESTS,
        "application/json",
        r#"{"error":"rate limited"}"#,
    ))
    .await;

    let err = search(&config("brave", fake.url(), Some(KEY)), &query("x"))
        .await
        .expect_err("limited");

    assert_eq!(err.code, SearchErrorCode::TooManyRequests, "{err}");
}

#[tokio::test]
async fn a_server_error_is_unavailable_and_never_shows_the_key() {
    // A provider that echoes the key it refused, as some do.
    let fake = Fake::start(Reply::raw(
        StatusCode::INTERNAL_SERVER_ERROR,
        "application/json",
        format!(r#"{{"detail":"key {KEY} failed"}}"#),
    ))
    .await;

    let err = search(&config("tavily", fake.url(), Some(KEY)), &query("x"))
        .await
        .expect_err("failed");

    assert_eq!(err.code, SearchErrorCode::Unavailable);
    assert!(err.message.contains("HTTP 500"), "{err}");
    assert!(!err.message.contains(KEY), "the key leaks: {err}");
    assert!(!format!("{err:?}").contains(KEY), "the key leaks: {err:?}");
}

#[tokio::test]
async fn an_answer_that_is_not_the_providers_json_is_unavailable() {
    for kind in ["brave", "tavily", "serper", "searxng", "exa", "custom"] {
        let fake = Fake::start(Reply::raw(
            StatusCode::OK,
            "application/json",
            "{\"results\": [",
        ))
        .await;

        let err = search(&config(kind, fake.url(), Some(KEY)), &query("x"))
            .await
            .expect_err(kind);

        assert_eq!(err.code, SearchErrorCode::Unavailable, "{kind}: {err}");
        assert_eq!(fake.seen().len(), 1, "{kind}");
    }
}

#[tokio::test]
async fn an_oversized_answer_is_unavailable_with_or_without_a_length() {
    let huge = format!(
        r#"{{"results": [], "padding": "{}"}}"#,
        "x".repeat(MAX_RESPONSE_BYTES)
    );
    for chunked in [false, true] {
        let mut reply = Reply::raw(StatusCode::OK, "application/json", huge.clone());
        reply.chunked = chunked;
        let fake = Fake::start(reply).await;

        let err = search(&config("custom", fake.url(), None), &query("x"))
            .await
            .expect_err("too large");

        assert_eq!(err.code, SearchErrorCode::Unavailable);
        assert!(
            err.message.contains("more than"),
            "chunked {chunked}: {err}"
        );
    }
}

#[tokio::test]
async fn a_provider_slower_than_the_timeout_is_unavailable() {
    let mut reply = Reply::json(&json!({"results": []}));
    reply.delay = Duration::from_secs(5);
    let fake = Fake::start(reply).await;
    let providers = SearchProviders::with_timeout(Duration::from_millis(200));
    let provider = providers
        .provider(&config("custom", fake.url(), None))
        .expect("provider");

    let started = Instant::now();
    let err = provider.search(&query("x")).await.expect_err("timed out");

    assert_eq!(err.code, SearchErrorCode::Unavailable);
    assert!(
        err.message.contains("did not answer within 200 ms"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

// ---- queries and domain rules ----

#[tokio::test]
async fn empty_and_too_long_queries_are_refused_before_any_request() {
    let fake = Fake::start(Reply::json(&json!({"results": []}))).await;
    let provider = SearchProviders::new()
        .provider(&config("custom", fake.url(), None))
        .expect("provider");

    let empty = provider.search(&query("   ")).await.expect_err("empty");
    let long = provider
        .search(&query(&"q".repeat(401)))
        .await
        .expect_err("long");

    assert_eq!(empty.code, SearchErrorCode::InvalidToolInput);
    assert_eq!(long.code, SearchErrorCode::QueryTooLong);
    assert_eq!(fake.seen().len(), 0);
    provider
        .search(&query(&"q".repeat(400)))
        .await
        .expect("400 characters pass");
    assert_eq!(fake.seen().len(), 1);
}

#[tokio::test]
async fn results_follow_the_domain_rules_and_the_limit() {
    let fake = Fake::start(Reply::json(&json!({"results": [
        {"title": "a", "url": "https://docs.rust-lang.org/a", "content": "a"},
        {"title": "b", "url": "https://blog.rust-lang.org/b", "content": "b"},
        {"title": "c", "url": "https://example.com/c", "content": "c"},
        {"title": "d", "url": "https://rust-lang.org/d", "content": "d"},
        {"title": "e", "url": "https://www.rust-lang.org/e", "content": "e"},
        {"title": "f", "url": "ftp://rust-lang.org/f", "content": "f"}
    ]})))
    .await;
    let mut q = query("rust");
    q.max_results = 2;
    q.allowed_domains = vec!["rust-lang.org".to_owned()];
    q.blocked_domains = vec!["blog.rust-lang.org".to_owned()];

    let results = search(&config("custom", fake.url(), None), &q)
        .await
        .expect("results");

    assert_eq!(
        urls(&results),
        ["https://docs.rust-lang.org/a", "https://rust-lang.org/d"]
    );
}

#[tokio::test]
async fn providers_that_cannot_filter_domains_are_asked_for_more_results() {
    let fake = Fake::start(Reply::json(&json!({"web": {"results": [
        {"title": "x", "url": "https://other.example/", "description": "x"},
        {"title": "y", "url": "https://tokio.rs/y", "description": "y"}
    ]}})))
    .await;
    let mut q = query("tokio");
    q.allowed_domains = vec!["tokio.rs".to_owned()];

    let results = search(&config("brave", fake.url(), Some(KEY)), &q)
        .await
        .expect("results");

    assert_eq!(fake.only_request().param("count"), Some("20"));
    assert_eq!(urls(&results), ["https://tokio.rs/y"]);
}

// ---- addresses and configuration ----

#[tokio::test]
async fn a_loopback_address_without_allow_private_is_refused_before_connecting() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    let providers = SearchProviders::new();

    for (kind, url) in [
        ("searxng", format!("https://127.0.0.1:{port}")),
        ("custom", format!("https://localhost:{port}/search")),
        ("brave", format!("https://[::1]:{port}")),
        ("searxng", format!("http://127.0.0.1:{port}")),
        ("exa", "https://169.254.169.254/latest".to_owned()),
    ] {
        let mut strict = config(kind, &url, Some(KEY));
        strict.allow_private = false;
        let err = match providers.provider(&strict) {
            Ok(provider) => provider.search(&query("x")).await.expect_err(&url),
            Err(e) => e,
        };
        assert_eq!(err.code, SearchErrorCode::Unavailable, "{url}");
        assert!(err.message.contains("allow_private"), "{url}: {err}");
    }

    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("a provider connected: {other:?}"),
    }
}

#[test]
fn a_provider_on_its_public_endpoint_needs_no_allow_private() {
    let providers = SearchProviders::new();
    for kind in ["duckduckgo", "brave", "tavily", "serper", "exa"] {
        let mut public = config(kind, "", Some(KEY));
        public.api_url = None;
        public.allow_private = false;
        assert!(providers.provider(&public).is_ok(), "{kind}");
    }
}

#[test]
fn configurations_that_cannot_search_are_unavailable() {
    let providers = SearchProviders::new();
    let mut no_key = config("brave", "https://api.search.brave.com", None);
    no_key.allow_private = false;
    let mut no_url = config("searxng", "", None);
    no_url.api_url = None;
    let unknown = config("bing", "https://api.example.com", Some(KEY));
    let not_a_url = config("custom", "not a url", None);

    for (case, config, says) in [
        ("no key", no_key, "no API key"),
        ("no url", no_url, "needs an api_url"),
        ("unknown", unknown, "unknown search provider type \"bing\""),
        ("not a url", not_a_url, "is not a URL"),
    ] {
        match providers.provider(&config) {
            Ok(_) => panic!("{case}: built"),
            Err(e) => {
                assert_eq!(e.code, SearchErrorCode::Unavailable, "{case}");
                assert!(e.message.contains(says), "{case}: {e}");
            }
        }
    }
}

#[tokio::test]
async fn an_unreachable_provider_is_unavailable_without_its_url_in_the_message() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let url = format!("http://127.0.0.1:{port}/search?token=url-secret-91c");

    let err = search(&config("custom", &url, Some(KEY)), &query("x"))
        .await
        .expect_err("nothing listens");

    assert_eq!(err.code, SearchErrorCode::Unavailable);
    assert!(err.message.contains("could not be reached"), "{err}");
    assert!(!err.message.contains("url-secret-91c"), "{err}");
    assert!(!err.message.contains(KEY), "{err}");
}

/// GIVEN a name that is not `localhost` but resolves to a loopback or private address (this machine's own host
/// name, as containers and VMs resolve it), WHEN a provider without `allow_private` searches it, THEN the search
/// client's resolver refuses the answer and nothing connects: the check is wired into the client, not only into
/// the URL's syntax.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_name_resolving_to_a_private_address_is_refused_at_the_search() {
    let Ok(hostname) = std::fs::read_to_string("/proc/sys/kernel/hostname") else {
        return;
    };
    let hostname = hostname.trim().to_owned();
    let resolved: Vec<std::net::SocketAddr> =
        match tokio::net::lookup_host((hostname.as_str(), 0)).await {
            Ok(addrs) => addrs.collect(),
            Err(_) => Vec::new(),
        };
    let private = |ip: std::net::IpAddr| match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        std::net::IpAddr::V6(v6) => v6.is_loopback(),
    };
    if hostname.is_empty()
        || hostname == "localhost"
        || resolved.is_empty()
        || !resolved.iter().all(|a| private(a.ip()))
    {
        eprintln!("skipped: {hostname:?} resolves to {resolved:?}, not only to private addresses");
        return;
    }
    let listener = std::net::TcpListener::bind((resolved[0].ip(), 0)).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    let mut strict = config("custom", &format!("https://{hostname}:{port}/search"), None);
    strict.allow_private = false;

    let err = search(&strict, &query("x")).await.expect_err("refused");

    assert_eq!(err.code, SearchErrorCode::Unavailable);
    assert!(err.message.contains("not a public address"), "{err}");
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the provider connected: {other:?}"),
    }
}
