//! Rules about the source that no compiler checks, over every `.rs` file of `shared/`, `functions/` and `cli/`
//! outside tests (`tests/`, `benches/`, `#[cfg(test)]` blocks):
//! - no `Result<_, String>`: a failure is a typed error (a `thiserror` enum or struct named for what failed), so
//!   callers can match on it and `?` can carry it;
//! - the test doubles of the `Clock` and `Ids` ports (`FixedClock`, `SequenceIds`: a clock that does not move, ids
//!   anyone can predict) are used by tests only, never wired into a binary.

use std::path::{Path, PathBuf};

const ROOTS: [&str; 3] = ["shared", "functions", "cli"];
const SKIPPED_DIRS: [&str; 3] = ["tests", "benches", "target"];

fn workspace_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("dir entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !SKIPPED_DIRS.contains(&name) {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// The source with each `#[cfg(test)]` item (up to its matching `}`, or `;`) blanked; lines keep their numbers.
fn without_test_code(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let (mut depth, mut opened, mut in_test) = (0_usize, false, false);
    for line in source.lines() {
        if !in_test && line.trim_start().starts_with("#[cfg(test)]") {
            (depth, opened, in_test) = (0, false, true);
        }
        if in_test {
            for c in line.chars() {
                match c {
                    '{' => (depth, opened) = (depth + 1, true),
                    '}' => depth = depth.saturating_sub(1),
                    _ => {}
                }
            }
            let ended = (opened && depth == 0) || (!opened && line.trim_end().ends_with(';'));
            in_test = !ended;
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// The byte offsets of every `Result<T, String>`.
fn string_results(code: &str) -> Vec<usize> {
    code.match_indices("Result<")
        .map(|(start, _)| start)
        .filter(|&start| {
            let word_start = code[..start]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            word_start
                && error_type(&code[start + "Result<".len()..])
                    .is_some_and(|e| e.trim() == "String")
        })
        .collect()
}

/// The second type argument of the list `rest` starts inside (just after its `<`), if it has one.
fn error_type(rest: &str) -> Option<&str> {
    let (mut depth, mut prev, mut comma) = (1_usize, '<', None);
    for (i, c) in rest.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' if prev == '-' => {}
            '>' | ')' | ']' => depth -= 1,
            ',' if depth == 1 => comma = Some(i + 1),
            _ => {}
        }
        if depth == 0 {
            return comma.map(|from| &rest[from..i]);
        }
        prev = c;
    }
    None
}

#[test]
fn no_result_with_a_string_error_outside_tests() {
    let root = workspace_root();
    let mut files = Vec::new();
    for dir in ROOTS {
        rust_files(&root.join(dir), &mut files);
    }
    let mut offenders = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(&file).expect("read source");
        let code = without_test_code(&source);
        for offset in string_results(&code) {
            let line = code[..offset].matches('\n').count() + 1;
            let shown = file.strip_prefix(root).unwrap_or(&file).display();
            offenders.push(format!("{shown}:{line}"));
        }
    }
    assert!(
        offenders.is_empty(),
        "Result<_, String> outside tests; use a typed error (thiserror) named for what failed:\n  {}",
        offenders.join("\n  ")
    );
}

/// Where the test doubles may be named outside tests: only where they are defined.
const TEST_DOUBLES: [&str; 2] = ["FixedClock", "SequenceIds"];
const DOUBLES_HOME: &str = "shared/core/src/clock.rs";

#[test]
fn the_test_clock_and_predictable_ids_stay_in_tests() {
    let root = workspace_root();
    let mut files = Vec::new();
    for dir in ROOTS {
        rust_files(&root.join(dir), &mut files);
    }
    let mut offenders = Vec::new();
    for file in files {
        let shown = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        if shown == DOUBLES_HOME {
            continue;
        }
        let code = without_test_code(&std::fs::read_to_string(&file).expect("read source"));
        for (number, line) in code.lines().enumerate() {
            let comment = line.trim_start().starts_with("//");
            if !comment && TEST_DOUBLES.iter().any(|double| line.contains(double)) {
                offenders.push(format!("{shown}:{}", number + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "a test clock or predictable ids outside tests; binaries use sluice_adapters::{{SystemClock, OsIds}}:\n  {}",
        offenders.join("\n  ")
    );
}

#[test]
fn the_scan_sees_nested_types_and_skips_test_modules() {
    let code = "fn a() -> Result<HashMap<String, String>, E> {} fn e() -> anyhow::Result<String> {}\n\
                fn b() -> Result<Vec<(String, bool)>, String> {}\n\
                #[cfg(test)]\nmod tests {\n    fn c() -> Result<(), String> { Ok(()) }\n}\n\
                fn d() -> Result<impl Fn() -> u8, String> {}\n";
    let code = without_test_code(code);
    let lines: Vec<usize> = string_results(&code)
        .into_iter()
        .map(|o| code[..o].matches('\n').count() + 1)
        .collect();
    assert_eq!(lines, [2, 7]);
}
