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

/// Files that configure type checking, not part of the site.
const NOT_PUBLISHED: [&str; 2] = ["tsconfig.json", "jsconfig.json"];

/// One file of a release as it is published: its key, bytes, type and caching.
#[derive(Debug, Clone)]
pub struct Published {
    pub key: String,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub cache_control: &'static str,
}

/// The portal as CloudFront serves it: every asset under `assets/<release>/` (the release is a digest of all the
/// files, so an asset's URL changes whenever any file does and it can be cached for a year), and `index.html`
/// pointing at that release, revalidated on every load. ES modules import each other by relative paths, so they
/// resolve inside the same release without any rewriting.
pub struct Release {
    pub id: String,
    pub files: Vec<Published>,
}

fn embedded_files(dir: &'static Dir<'static>, out: &mut Vec<&'static include_dir::File<'static>>) {
    for file in dir.files() {
        let name = file
            .path()
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if !NOT_PUBLISHED.contains(&name) {
            out.push(file);
        }
    }
    for sub in dir.dirs() {
        embedded_files(sub, out);
    }
}

/// The release of the embedded portal.
#[must_use]
pub fn release() -> Release {
    use sha2::{Digest, Sha256};
    let mut files = Vec::new();
    embedded_files(&PORTAL, &mut files);
    files.sort_by_key(|f| f.path());
    let mut digest = Sha256::new();
    for file in &files {
        let path = file.path().to_string_lossy();
        digest.update((path.len() as u64).to_be_bytes());
        digest.update(path.as_bytes());
        digest.update((file.contents().len() as u64).to_be_bytes());
        digest.update(file.contents());
    }
    let id = hex::encode(&digest.finalize()[..6]);
    let published = files
        .iter()
        .map(|file| {
            let path = file.path().to_string_lossy().into_owned();
            if path == "index.html" {
                let page = String::from_utf8_lossy(file.contents())
                    .replace("\"/assets/", &format!("\"/assets/{id}/"));
                Published {
                    key: path,
                    body: page.into_bytes(),
                    content_type: content_type("index.html"),
                    cache_control: "no-cache",
                }
            } else {
                let key = path
                    .strip_prefix("assets/")
                    .map_or_else(|| path.clone(), |rest| format!("assets/{id}/{rest}"));
                Published {
                    content_type: content_type(&path),
                    key,
                    body: file.contents().to_vec(),
                    cache_control: "public, max-age=31536000, immutable",
                }
            }
        })
        .collect();
    Release {
        id,
        files: published,
    }
}

/// The release an entry page points at (`/assets/<release>/…`), if any.
#[must_use]
pub fn release_of(index_html: &str) -> Option<String> {
    let start = index_html.find("\"/assets/")? + "\"/assets/".len();
    let rest = &index_html[start..];
    let (id, _) = rest.split_once('/')?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_owned())
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
    fn a_release_puts_assets_under_its_id_and_the_page_points_there() {
        let release = release();
        assert_eq!(release.id.len(), 12);
        let index = release
            .files
            .iter()
            .find(|f| f.key == "index.html")
            .expect("index.html");
        let page = String::from_utf8_lossy(&index.body);
        assert!(
            page.contains(&format!("\"/assets/{}/app.js\"", release.id)),
            "{page}"
        );
        assert!(!page.contains("\"/assets/app.js\""), "{page}");
        assert_eq!(index.cache_control, "no-cache");
        assert_eq!(release_of(&page).as_deref(), Some(release.id.as_str()));
        for file in release.files.iter().filter(|f| f.key != "index.html") {
            assert!(
                file.key.starts_with(&format!("assets/{}/", release.id)),
                "{}",
                file.key
            );
            assert!(file.cache_control.contains("immutable"));
        }
        assert!(
            release
                .files
                .iter()
                .all(|f| !f.key.ends_with("tsconfig.json"))
        );
        assert_eq!(
            release.id,
            super::release().id,
            "the same files make the same release"
        );
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
