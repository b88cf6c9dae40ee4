//! Golden tests: fixture files in, exact bytes out.
//!
//! - `fixtures/shape/<case>.request.json` holds `{"prefix", "beta_header", "body"}`; the Bedrock body Sluice builds must equal
//!   `<case>.bedrock.json` (compact, key order included) and the invoke id `<case>.model.txt`.
//! - `fixtures/stream/<case>.chunks.jsonl` holds Bedrock chunks, one event per line (a line `!error <Kind> <message>` stands for an
//!   exception frame, `!end` for the end of the upstream stream); the SSE text must equal `<case>.sse` byte for byte.
//!
//! `UPDATE_GOLDEN=1 cargo test -p sluice-core --test golden` rewrites the expected files; review the diff before committing.

#![expect(
    clippy::disallowed_methods,
    reason = "UPDATE_GOLDEN=1 rewrites the expected files instead of comparing"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sluice_core::capabilities::LearnedFamily;
use sluice_core::error::{ApiError, UpstreamError, UpstreamErrorKind};
use sluice_core::models::ModelResolver;
use sluice_core::shape::{ClientRequest, shape_for_bedrock};
use sluice_core::translate::StreamTranslator;

fn fixtures(dir: &str, suffix: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("fixture dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", root.display());
    files
}

fn check(expected_path: &Path, actual: &str) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(expected_path, actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(expected_path).unwrap_or_else(|_| {
        panic!(
            "missing {}; run with UPDATE_GOLDEN=1",
            expected_path.display()
        )
    });
    assert_eq!(
        actual,
        expected,
        "golden mismatch for {}",
        expected_path.display()
    );
}

fn sibling(p: &Path, from: &str, to: &str) -> PathBuf {
    PathBuf::from(p.to_string_lossy().replace(from, to))
}

#[test]
fn request_shaping_matches_golden_bedrock_bodies() {
    for path in fixtures("shape", ".request.json") {
        let case: Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("fixture json");
        let body = serde_json::to_vec(&case["body"]).expect("body");
        let req = ClientRequest::parse(&body, case["beta_header"].as_str(), true).expect("parse");
        let resolver = ModelResolver::new(case["prefix"].as_str().unwrap_or("us"), BTreeMap::new());
        let model = resolver.resolve(&req.model).expect("model");
        let (bytes, _) = shape_for_bedrock(&req, &model, &LearnedFamily::default()).expect("shape");
        // Pretty-printed for reviewable diffs; key order is kept (serde_json preserve_order), so order is pinned too.
        let value: Value = serde_json::from_slice(&bytes).expect("json");
        let pretty = serde_json::to_string_pretty(&value).expect("pretty") + "\n";
        check(&sibling(&path, ".request.json", ".bedrock.json"), &pretty);
        check(
            &sibling(&path, ".request.json", ".model.txt"),
            &(model.invoke_id + "\n"),
        );
        assert_eq!(
            serde_json::to_vec(&value).expect("compact"),
            bytes,
            "compact output must round-trip exactly"
        );
    }
}

fn kind(name: &str) -> UpstreamErrorKind {
    match name {
        "Throttling" => UpstreamErrorKind::Throttling,
        "InternalServer" => UpstreamErrorKind::InternalServer,
        "ModelStreamError429" => UpstreamErrorKind::ModelStreamError {
            original_status: Some(429),
        },
        "ServiceUnavailable" => UpstreamErrorKind::ServiceUnavailable,
        other => panic!("unknown error kind {other} in fixture"),
    }
}

#[test]
fn stream_translation_matches_golden_sse() {
    for path in fixtures("stream", ".chunks.jsonl") {
        let text = std::fs::read_to_string(&path).expect("read");
        let mut t = StreamTranslator::new("claude-opus-4-8");
        let mut sse = String::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let frame = if let Some(rest) = line.strip_prefix("!error ") {
                let (k, msg) = rest.split_once(' ').expect("!error Kind message");
                t.on_error(&ApiError::from_upstream(
                    &UpstreamError::new(kind(k), msg),
                    "claude-opus-4-8",
                ))
            } else if line.trim() == "!end" {
                t.on_upstream_end()
            } else {
                t.on_chunk(line.as_bytes())
            };
            sse.push_str(&frame.unwrap_or_default());
        }
        sse.push_str(&t.on_upstream_end().unwrap_or_default());
        check(&sibling(&path, ".chunks.jsonl", ".sse"), &sse);
    }
}
