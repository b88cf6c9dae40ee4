//! The OTLP telemetry relay: Claude Code signed in to Sluice sends its OpenTelemetry to `POST /v1/metrics`,
//! `/v1/logs` and `/v1/traces` (OTLP/HTTP, protobuf or JSON, perhaps gzip) with its bearer.
//!
//! - Any Sluice credential (key, session, ID token); without one, 401 before the body is read.
//! - An authenticated request is always answered 200 (`{}` to JSON, an empty body to protobuf), relayed or not:
//!   an exporter that sees an error logs it on the developer's screen, and there is nothing the client could do.
//! - With the org setting `telemetry_forward_url` (a collector's OTLP/HTTP base URL), the bytes go unchanged with
//!   their `content-type` and `content-encoding` to `<url>/v1/<signal>`, plus the headers of
//!   `telemetry_forward_headers` (an API key of the collector). No other client header is forwarded, the
//!   client's `Authorization` least of all. Claude Code stamps the person's identity in the data itself.
//! - The forward happens before the answer (a Lambda is frozen once it has answered) with a 2 s limit; a failure
//!   is logged, never retried or buffered. After [`PAUSE_AFTER`] consecutive failures a destination is skipped for
//!   [`PAUSE_FOR`], then tried again (a failure pauses it again, a success clears the count).
//! - The two settings are read through a 5 s cache, so a warm instance does not ask the store on every export; a
//!   change applies within that time.
//!
//! The cache, the HTTP client and the failure count live in this router's own state ([`Relay`]), made when the
//! admin router is: one per process on Lambda and in `sluice serve` (so the pause is per instance, which is enough
//! to stop hammering a dead collector), and separate for each router a test builds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use bytes::Bytes;
use serde_json::Value;
use sluice_core::error::{ApiError, ApiErrorKind};
use sluice_http::auth::TtlCache;

use crate::{Reply, Shared, store_error};

/// The org setting naming the collector's OTLP/HTTP base URL; empty or absent: telemetry is discarded.
pub(super) const SETTING_FORWARD_URL: &str = "telemetry_forward_url";
/// The org setting with headers sent to the collector: a JSON object of string values.
pub(super) const SETTING_FORWARD_HEADERS: &str = "telemetry_forward_headers";

/// The largest export accepted (Claude Code's batches are far smaller).
const BODY_LIMIT: usize = 4 * 1024 * 1024;
/// How long one forward may take: the client waits for it.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the two settings are trusted before they are read again.
const SETTINGS_TTL: Duration = Duration::from_secs(5);
/// Consecutive failures after which a destination is paused.
const PAUSE_AFTER: u32 = 5;
/// How long a paused destination is skipped.
const PAUSE_FOR: Duration = Duration::from_secs(30);
/// The most headers `telemetry_forward_headers` may hold.
const MAX_HEADERS: usize = 20;
/// Headers the relay sets from the request itself, or that the HTTP client owns.
const RESERVED_HEADERS: [&str; 6] = [
    "content-type",
    "content-encoding",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
];

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/v1/metrics", post(metrics))
        .route("/v1/logs", post(logs))
        .route("/v1/traces", post(traces))
        .layer(Extension(Arc::new(Relay::new())))
}

/// This router's own state: the settings cache, the HTTP client and each destination's failures.
struct Relay {
    settings: TtlCache<Option<Arc<Destination>>>,
    /// `None` when no client could be built (logged; telemetry is then discarded).
    client: Option<reqwest::Client>,
    /// By destination base URL, so changing the setting starts afresh.
    health: Mutex<HashMap<String, Health>>,
}

/// Where telemetry goes, as the settings say.
struct Destination {
    /// The base URL, without a trailing `/`.
    base: String,
    headers: HeaderMap,
}

#[derive(Default)]
struct Health {
    failures: u32,
    paused_until: Option<Instant>,
}

/// The one key of the settings cache.
const SETTINGS_KEY: &str = "telemetry";

impl Relay {
    fn new() -> Self {
        let client = reqwest::Client::builder()
            .timeout(FORWARD_TIMEOUT)
            .connect_timeout(FORWARD_TIMEOUT)
            // The collector is the one the admin named; a redirect elsewhere is a misconfiguration to see in logs.
            .redirect(reqwest::redirect::Policy::none())
            // A collector is usually on the company network, which a proxy from the environment would not reach.
            .no_proxy()
            .build()
            .inspect_err(|e| tracing::error!(error = %e, "telemetry relay: no HTTP client"))
            .ok();
        Self {
            settings: TtlCache::new(SETTINGS_TTL),
            client,
            health: Mutex::new(HashMap::new()),
        }
    }

    async fn destination(&self, state: &Shared) -> Result<Option<Arc<Destination>>, ApiError> {
        let now = Instant::now();
        if let Some(d) = self.settings.get(SETTINGS_KEY, now) {
            return Ok(d);
        }
        let store = state.store.as_ref();
        let url = store
            .get_setting(SETTING_FORWARD_URL)
            .await
            .map_err(|e| store_error(&e))?;
        let destination = match url.as_deref().map(forward_url) {
            None | Some(Ok(None)) => None,
            Some(Err(e)) => {
                tracing::warn!(error = %e.message, "telemetry relay: stored URL refused; discarded");
                None
            }
            Some(Ok(Some(base))) => {
                let raw = store
                    .get_setting(SETTING_FORWARD_HEADERS)
                    .await
                    .map_err(|e| store_error(&e))?;
                let headers = match raw.as_deref().map(forward_headers).transpose() {
                    Ok(h) => h.flatten().unwrap_or_default(),
                    Err(e) => {
                        tracing::warn!(error = %e.message, "telemetry relay: stored headers refused");
                        HeaderMap::new()
                    }
                };
                Some(Arc::new(Destination { base, headers }))
            }
        };
        self.settings
            .put(SETTINGS_KEY.to_owned(), destination.clone(), now);
        Ok(destination)
    }

    fn health(&self) -> std::sync::MutexGuard<'_, HashMap<String, Health>> {
        self.health.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `url` is paused now.
    fn paused(&self, url: &str, now: Instant) -> bool {
        self.health()
            .get(url)
            .and_then(|h| h.paused_until)
            .is_some_and(|until| now < until)
    }

    fn succeeded(&self, url: &str) {
        self.health().remove(url);
    }

    /// Counts a failure; pauses `url` once [`PAUSE_AFTER`] have come in a row (and again after each failure that
    /// follows a pause). Whether it is now paused.
    fn failed(&self, url: &str, now: Instant) -> bool {
        let mut health = self.health();
        let h = health.entry(url.to_owned()).or_default();
        h.failures = h.failures.saturating_add(1);
        if h.failures >= PAUSE_AFTER {
            h.paused_until = Some(now + PAUSE_FOR);
            return true;
        }
        false
    }

    /// Sends one export to the destination; failures are logged and counted, never returned.
    async fn forward(
        &self,
        destination: &Destination,
        signal: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) {
        let Some(client) = &self.client else {
            return;
        };
        // A collector that is down is down for every signal: its failures are counted by base URL.
        let base = destination.base.as_str();
        if self.paused(base, Instant::now()) {
            tracing::debug!(%base, "telemetry relay: destination paused; export discarded");
            return;
        }
        let url = format!("{base}/v1/{signal}");
        let mut request = client.post(&url).headers(destination.headers.clone());
        for name in [header::CONTENT_TYPE, header::CONTENT_ENCODING] {
            if let Some(value) = headers.get(&name) {
                request = request.header(name, value.clone());
            }
        }
        let why = match request.body(body).send().await {
            Ok(r) if r.status().is_success() => {
                self.succeeded(base);
                return;
            }
            Ok(r) => format!("answered {}", r.status()),
            Err(e) if e.is_timeout() => format!("no answer within {FORWARD_TIMEOUT:?}"),
            Err(e) => e.to_string(),
        };
        if self.failed(base, Instant::now()) {
            let pause_secs = PAUSE_FOR.as_secs();
            tracing::warn!(%url, error = %why, pause_secs, "telemetry relay: failed; destination paused");
        } else {
            tracing::warn!(%url, error = %why, "telemetry relay: export failed");
        }
    }
}

async fn metrics(
    State(state): State<Shared>,
    Extension(relay): Extension<Arc<Relay>>,
    headers: HeaderMap,
    body: Body,
) -> Reply {
    export(&state, &relay, "metrics", headers, body).await
}

async fn logs(
    State(state): State<Shared>,
    Extension(relay): Extension<Arc<Relay>>,
    headers: HeaderMap,
    body: Body,
) -> Reply {
    export(&state, &relay, "logs", headers, body).await
}

async fn traces(
    State(state): State<Shared>,
    Extension(relay): Extension<Arc<Relay>>,
    headers: HeaderMap,
    body: Body,
) -> Reply {
    export(&state, &relay, "traces", headers, body).await
}

fn too_large() -> ApiError {
    ApiError::new(
        ApiErrorKind::RequestTooLarge,
        format!(
            "a telemetry export may be at most {} MiB",
            BODY_LIMIT / 1024 / 1024
        ),
    )
}

/// One OTLP export: authenticate (before reading the body), read at most [`BODY_LIMIT`], relay if configured,
/// answer 200.
async fn export(
    state: &Shared,
    relay: &Relay,
    signal: &str,
    headers: HeaderMap,
    body: Body,
) -> Reply {
    state
        .auth
        .authenticate(state.store.as_ref(), &headers)
        .await?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT) {
        return Err(too_large().into());
    }
    let body = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| too_large())?;
    match relay.destination(state).await {
        Ok(Some(destination)) => relay.forward(&destination, signal, &headers, body).await,
        Ok(None) => {}
        // Telemetry is not worth an error to the client: the export is dropped as when the collector fails.
        Err(e) => {
            tracing::warn!(error = %e.message, "telemetry relay: settings unreadable; discarded");
        }
    }
    Ok(answer(&headers))
}

/// 200 in the request's encoding: `{}` to JSON, an empty `Export*ServiceResponse` to protobuf.
fn answer(headers: &HeaderMap) -> Response {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if json {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{}",
        )
            .into_response()
    } else {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            Bytes::new(),
        )
            .into_response()
    }
}

/// `telemetry_forward_url` as stored: an http(s) URL without credentials, query or fragment, its trailing `/`
/// removed; `None` for empty (relay off).
///
/// # Errors
/// 400 saying what is wrong.
pub(super) fn forward_url(raw: &str) -> Result<Option<String>, ApiError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let invalid = |why: &str| {
        ApiError::invalid(format!(
            "{SETTING_FORWARD_URL}: {why} (an OTLP/HTTP collector's base URL such as http://collector:4318, or \"\" to turn the relay off)"
        ))
    };
    let url = url::Url::parse(raw).map_err(|e| invalid(&format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("needs a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "must not hold credentials; put them in telemetry_forward_headers",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query or fragment"));
    }
    Ok(Some(url.as_str().trim_end_matches('/').to_owned()))
}

/// `telemetry_forward_headers` as stored (a JSON object of string values) as headers; `None` for empty.
///
/// # Errors
/// 400 saying what is wrong.
pub(super) fn forward_headers(raw: &str) -> Result<Option<HeaderMap>, ApiError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let invalid = |why: String| {
        ApiError::invalid(format!(
            "{SETTING_FORWARD_HEADERS}: {why} (a JSON object of header names to string values, such as {{\"x-api-key\": \"…\"}}, or \"\" for none)"
        ))
    };
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(raw) else {
        return Err(invalid("must be a JSON object".to_owned()));
    };
    if object.len() > MAX_HEADERS {
        return Err(invalid(format!("at most {MAX_HEADERS} headers")));
    }
    let mut headers = HeaderMap::new();
    for (name, value) in object {
        let Value::String(value) = value else {
            return Err(invalid(format!("the value of {name:?} must be a string")));
        };
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| invalid(format!("{name:?} is not a header name")))?;
        if RESERVED_HEADERS.contains(&name.as_str()) {
            return Err(invalid(format!(
                "{name} is set by the relay itself and cannot be configured"
            )));
        }
        let mut value = HeaderValue::from_str(value.trim())
            .map_err(|_| invalid(format!("the value of {name} is not a valid header value")))?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    Ok(Some(headers))
}

/// The masked value [`masked_headers`] shows; sent back (the portal saves what it shows), it keeps the stored one.
const MASK: &str = "*****";

/// `telemetry_forward_headers` to store from what an admin sent: checked, each value sent as `*****` replaced by
/// the one stored under that name (refused when there is none).
///
/// # Errors
/// 400 saying what is wrong.
pub(super) fn headers_to_store(sent: &str, stored: Option<&str>) -> Result<String, ApiError> {
    let sent = sent.trim();
    if forward_headers(sent)?.is_none() {
        return Ok(String::new());
    }
    let Ok(Value::Object(mut object)) = serde_json::from_str::<Value>(sent) else {
        return Ok(String::new());
    };
    let previous = stored
        .and_then(|s| forward_headers(s).ok().flatten())
        .unwrap_or_default();
    for (name, value) in &mut object {
        if value.as_str().is_some_and(|v| v.trim() == MASK) {
            let kept = previous
                .get(name.trim().to_ascii_lowercase().as_str())
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    ApiError::invalid(format!(
                        "{SETTING_FORWARD_HEADERS}: {name} is {MASK:?}, the masked value, and none is stored; send the real value"
                    ))
                })?;
            *value = Value::String(kept.to_owned());
        }
    }
    Ok(Value::Object(object).to_string())
}

/// `telemetry_forward_headers` as shown: each name with `*****` for its value (which may be the collector's API
/// key); empty when none or unreadable.
pub(super) fn masked_headers(raw: Option<&str>) -> serde_json::Map<String, Value> {
    raw.and_then(|r| forward_headers(r).ok().flatten())
        .map(|h| {
            h.keys()
                .map(|k| (k.as_str().to_owned(), Value::String(MASK.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forward_url_is_http_without_credentials_and_loses_its_trailing_slash() {
        assert_eq!(
            forward_url(" http://collector:4318/ ")
                .ok()
                .flatten()
                .as_deref(),
            Some("http://collector:4318")
        );
        assert_eq!(
            forward_url("https://otel.example.com/base/")
                .ok()
                .flatten()
                .as_deref(),
            Some("https://otel.example.com/base")
        );
        assert!(matches!(forward_url(""), Ok(None)));
        for bad in [
            "collector:4318",
            "ftp://collector",
            "http://user:pw@collector:4318",
            "http://collector:4318/?a=b",
            "not a url",
        ] {
            assert!(forward_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn forward_headers_are_an_object_of_strings_without_the_relays_own() {
        let Ok(Some(h)) = forward_headers(r#"{"X-Api-Key": "abc"}"#) else {
            panic!("refused");
        };
        assert_eq!(
            h.get("x-api-key").map(HeaderValue::as_bytes),
            Some(&b"abc"[..])
        );
        assert!(matches!(forward_headers("  "), Ok(None)));
        for bad in [
            r#"["x"]"#,
            r#"{"x-api-key": 3}"#,
            r#"{"content-type": "text/plain"}"#,
            r#"{"bad name": "v"}"#,
            r#"{"x": "line\nbreak"}"#,
        ] {
            assert!(forward_headers(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_masked_header_value_sent_back_keeps_the_stored_one() {
        let stored = r#"{"x-api-key": "secret", "x-team": "a"}"#;
        let Ok(kept) = headers_to_store(r#"{"X-Api-Key": "*****", "x-team": "b"}"#, Some(stored))
        else {
            panic!("refused");
        };
        let Ok(Some(h)) = forward_headers(&kept) else {
            panic!("unreadable: {kept}");
        };
        assert_eq!(
            h.get("x-api-key").map(HeaderValue::as_bytes),
            Some(&b"secret"[..])
        );
        assert_eq!(h.get("x-team").map(HeaderValue::as_bytes), Some(&b"b"[..]));
        assert!(headers_to_store(r#"{"x-new": "*****"}"#, Some(stored)).is_err());
        assert!(matches!(
            headers_to_store(" ", Some(stored)).as_deref(),
            Ok("")
        ));
    }

    #[test]
    fn a_destination_is_paused_after_five_failures_in_a_row_and_a_success_clears_the_count() {
        let relay = Relay::new();
        let now = Instant::now();
        for _ in 0..4 {
            assert!(!relay.failed("u", now));
        }
        relay.succeeded("u");
        for _ in 0..4 {
            assert!(!relay.failed("u", now));
        }
        assert!(!relay.paused("u", now));
        assert!(relay.failed("u", now));
        assert!(relay.paused("u", now + Duration::from_secs(29)));
        assert!(!relay.paused("u", now + PAUSE_FOR));
        // The try after the pause fails: paused again at once.
        assert!(relay.failed("u", now + PAUSE_FOR));
        assert!(!relay.paused("other", now));
    }
}
