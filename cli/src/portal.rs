//! The portal's files (`portal-static/`, embedded at build time so the binary works from any folder), served by
//! `sluice serve` beside the API as CloudFront serves them from S3 on AWS: `GET /` from a browser (`Accept:
//! text/html`) is `index.html`, `/assets/…` the rest. Every other path goes on to the API unchanged, so a
//! client's `GET /` probe still gets the gateway's own answer.
//!
//! Each file carries the same security headers the CloudFront response-headers policy sets (`template.yaml`):
//! a Content-Security-Policy that allows only this origin's scripts and styles (no inline script), no framing,
//! no referrer, no MIME sniffing.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use include_dir::{Dir, include_dir};

static PORTAL: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../portal-static");

/// The policy for every portal file; keep it equal to the one in `template.yaml`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json" | "map") => "application/json",
        Some("woff2") => "font/woff2",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// The embedded file a request names, if it names one of the portal's.
fn portal_file(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Option<&'static include_dir::File<'static>> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let name = match path {
        "/" | "/index.html" if wants_html(headers) => "index.html",
        _ => path
            .strip_prefix('/')
            .filter(|p| p.starts_with("assets/"))?,
    };
    // `include_dir` only knows the embedded tree, so `..` and absolute paths find nothing.
    PORTAL.get_file(name)
}

fn answer(path: &str, body: &'static [u8], head: bool) -> Response {
    let mut response = if head {
        StatusCode::OK.into_response()
    } else {
        body.into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // Files are not content-hashed: a browser revalidates each load, so a new binary's portal is seen at once.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Serves the portal's files; anything else goes on to the API.
pub async fn serve(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if let Some(file) = portal_file(req.method(), path, req.headers()) {
        let name = file.path().to_string_lossy().into_owned();
        return answer(&name, file.contents(), req.method() == Method::HEAD);
    }
    if path.starts_with("/assets/") && matches!(*req.method(), Method::GET | Method::HEAD) {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml"),
        );
        h
    }

    #[test]
    fn a_browser_gets_the_index_and_a_probe_does_not() {
        let index = portal_file(&Method::GET, "/", &html()).expect("index");
        assert!(String::from_utf8_lossy(index.contents()).contains("<html"));
        assert!(portal_file(&Method::GET, "/", &HeaderMap::new()).is_none());
        assert!(portal_file(&Method::POST, "/", &html()).is_none());
    }

    #[test]
    fn only_embedded_assets_are_found() {
        assert!(portal_file(&Method::GET, "/assets/../index.html", &HeaderMap::new()).is_none());
        assert!(portal_file(&Method::GET, "/assets/nope.js", &HeaderMap::new()).is_none());
        assert!(portal_file(&Method::GET, "/v1/models", &HeaderMap::new()).is_none());
        assert!(portal_file(&Method::GET, "/Cargo.toml", &HeaderMap::new()).is_none());
    }

    #[test]
    fn every_portal_file_has_a_known_type() {
        fn walk(dir: &Dir<'static>) {
            for file in dir.files() {
                let name = file.path().to_string_lossy();
                assert_ne!(
                    content_type(&name),
                    "application/octet-stream",
                    "{name}: add its type to content_type"
                );
            }
            for sub in dir.dirs() {
                walk(sub);
            }
        }
        walk(&PORTAL);
    }
}
