//! Policy evaluation's cost on the request path, for a 50-policy document: first-match evaluation of a caller who
//! matches the last policy (the worst case: every policy is tried), the model check, and applying the policy to a
//! Claude Code-sized request body (20 tools, some denied, a history with tool calls), over copies of the body made
//! before the clock starts.
//!
//! `cargo bench -p sluice-core --bench policy` — prints nanoseconds per operation (median of 15 runs).

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures")]
#![expect(
    clippy::disallowed_methods,
    reason = "a benchmark times itself with the system clock"
)]

use std::hint::black_box;
use std::time::Instant;

use serde_json::{Map, Value, json};
use sluice_core::policy::enforce::{apply, check_model};
use sluice_core::policy::{PolicyDocument, PolicySet, Subject};

fn document() -> PolicyDocument {
    let mut policies: Vec<Value> = (0..49)
        .map(|i| {
            json!({
                "name": format!("group {i}"),
                "match": {"idp_groups": [format!("g{i}"), format!("g{i}-b")], "scim_groups": [format!("S{i}")],
                          "people": [format!("p{i}@example.com")], "keys": [format!("key_{i}")]},
                "rules": {"models": {"allow": ["claude-haiku-*", "sonnet"]},
                          "tools": {"deny": ["Bash", "mcp__computer*", format!("mcp__tool{i}__*")]},
                          "max_tokens": 8192}
            })
        })
        .collect();
    policies.push(json!({
        "name": "contractors",
        "match": {"idp_groups": ["contractors"]},
        "rules": {"models": {"allow": ["claude-haiku-*", "sonnet"], "deny": ["claude-sonnet-4"]},
                  "tools": {"deny": ["Bash", "mcp__computer*", "WebFetch"]}, "max_tokens": 8192,
                  "thinking_budget_tokens": 4096, "web_search": false, "context_1m": false}
    }));
    PolicyDocument::from_value(json!({"version": 1, "policies": policies})).expect("document")
}

fn request() -> Map<String, Value> {
    let mut tools: Vec<Value> = [
        "Bash",
        "Read",
        "Edit",
        "Write",
        "Glob",
        "Grep",
        "WebFetch",
        "TodoWrite",
        "Task",
    ]
    .iter()
    .map(|n| json!({"name": n, "description": "a tool", "input_schema": {"type": "object"}}))
    .collect();
    for i in 0..10 {
        tools.push(
            json!({"name": format!("mcp__server{i}__tool"), "input_schema": {"type": "object"}}),
        );
    }
    tools.push(json!({"type": "web_search_20250305", "name": "web_search"}));
    json!({
        "model": "claude-haiku-4-5", "max_tokens": 32000, "stream": true,
        "thinking": {"type": "enabled", "budget_tokens": 16000},
        "tools": tools,
        "messages": [
            {"role": "user", "content": "fix the build"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "make"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t2", "name": "Read", "input": {"path": "a"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t2", "content": "text"}]},
        ]
    })
    .as_object()
    .cloned()
    .expect("object")
}

fn median_ns(runs: usize, iterations: u32, mut f: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(iterations)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let set = PolicySet::compile(&document()).expect("compiles");
    assert_eq!(set.len(), 50);
    let groups = vec!["staff".to_owned(), "contractors".to_owned()];
    let subject = Subject {
        user_id: Some("usr_1"),
        email: Some("someone@example.com"),
        team_id: Some("team_1"),
        key_id: Some("key_x"),
        idp_groups: &groups,
        scim_groups: &[],
    };
    let body = request();
    let allowed = vec![
        "claude-haiku-4-5".to_owned(),
        "claude-sonnet-4-6".to_owned(),
    ];

    let evaluate = median_ns(15, 20_000, || {
        black_box(set.evaluate(black_box(&subject)));
    });
    let matched = set.evaluate(&subject).expect("the last policy matches");
    assert_eq!(matched.index, 49);
    let model = median_ns(15, 20_000, || {
        black_box(check_model(
            &matched,
            black_box("claude-haiku-4-5"),
            &allowed,
        ))
        .ok();
    });
    // Applying changes the body: time it over fresh copies made before the clock starts.
    // A few at a time, so they stay in the cache as a request body just parsed would be.
    let mut applied_runs: Vec<f64> = (0..301)
        .map(|_| {
            let mut bodies: Vec<Map<String, Value>> = (0..32).map(|_| body.clone()).collect();
            let start = Instant::now();
            for b in &mut bodies {
                black_box(apply(&matched, b, &[], false)).ok();
            }
            let elapsed = start.elapsed().as_nanos() as f64 / 32.0;
            drop(black_box(bodies));
            elapsed
        })
        .collect();
    applied_runs.sort_by(f64::total_cmp);
    let applied = applied_runs[applied_runs.len() / 2];
    println!("policy evaluation, 50-policy document, caller matching the last policy:");
    println!("  first-match evaluation        {evaluate:>8.0} ns");
    println!("  model check                   {model:>8.0} ns");
    println!("  apply to a 20-tool request    {applied:>8.0} ns");
    println!(
        "  total                         {:>8.0} ns",
        evaluate + model + applied
    );
}
