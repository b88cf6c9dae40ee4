//! Every contract case written is listed, so every backend runs it: each `pub async fn` of a contract module
//! that takes a store (`&dyn KeyStore` in `keys.rs`, `Arc<dyn Store>` elsewhere) is in `KEY_STORE_CASES` or
//! `STORE_CASES`, and nothing is listed twice. The lists themselves come from one macro each, so a case
//! listed is also a generated test.

use std::collections::BTreeSet;
use std::path::Path;

use sluice_testkit::contract::{KEY_STORE_CASES, STORE_CASES};

/// `module::name` of each `pub async fn` in `src/contract/<module>.rs` whose parameters are `store: <store>`.
fn written_cases(store: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/contract");
    let mut cases = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("src/contract") {
        let path = entry.expect("entry").path();
        let module = path.file_stem().and_then(|s| s.to_str()).expect("name");
        if path.extension().is_none_or(|e| e != "rs") || module == "mod" {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("source");
        for (_, rest) in source
            .match_indices("pub async fn ")
            .map(|(i, _)| source.split_at(i + 13))
        {
            let (name, after) = rest.split_once('(').expect("parameters");
            let (parameters, _) = after.split_once(')').expect("parameters end");
            // rustfmt may put the parameter on its own line, with a trailing comma.
            if parameters.trim().trim_end_matches(',') == format!("store: {store}") {
                cases.insert(format!("{module}::{name}"));
            }
        }
    }
    cases
}

fn listed(names: impl Iterator<Item = String>) -> BTreeSet<String> {
    let names: Vec<String> = names.collect();
    let set: BTreeSet<String> = names.iter().cloned().collect();
    assert_eq!(set.len(), names.len(), "a case is listed twice: {names:?}");
    set
}

#[test]
fn every_key_store_case_written_is_listed() {
    let listed = listed(
        KEY_STORE_CASES
            .iter()
            .map(|(name, _)| format!("keys::{name}")),
    );
    assert_eq!(written_cases("&dyn KeyStore"), listed);
}

#[test]
fn every_store_case_written_is_listed() {
    let listed = listed(STORE_CASES.iter().map(|(name, _)| (*name).to_owned()));
    assert_eq!(written_cases("Arc<dyn Store>"), listed);
}
