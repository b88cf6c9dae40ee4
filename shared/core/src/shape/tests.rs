use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;
use crate::capabilities::LearnedFamily;
use crate::models::ModelResolver;

fn shape(model: &str, beta: Option<&str>, body: Value) -> (Value, ShapeReport) {
    shape_learned(model, beta, body, &LearnedFamily::default())
}

fn shape_learned(
    model: &str,
    beta: Option<&str>,
    body: Value,
    learned: &LearnedFamily,
) -> (Value, ShapeReport) {
    let mut body = body;
    body["model"] = json!(model);
    let req = ClientRequest::parse(body.to_string().as_bytes(), beta, true).expect("parse");
    let m = ModelResolver::new("us", BTreeMap::new())
        .resolve(model)
        .expect("model");
    let (bytes, report) = shape_for_bedrock(&req, &m, learned).expect("shape");
    (serde_json::from_slice(&bytes).expect("json"), report)
}

fn base() -> Value {
    json!({"max_tokens": 2048, "stream": true, "messages": [{"role": "user", "content": "hi"}]})
}

#[test]
fn bedrock_body_has_version_and_no_model_or_stream() {
    let (out, report) = shape("claude-opus-4-8", None, base());
    assert_eq!(out["anthropic_version"], "bedrock-2023-05-31");
    assert!(out.get("model").is_none() && out.get("stream").is_none());
    assert!(report.stream);
}

#[test]
fn unknown_top_level_fields_are_dropped_and_reported() {
    let mut body = base();
    body["service_tier"] = json!("auto");
    body["container"] = json!("c");
    body["mcp_servers"] = json!([]);
    let (out, report) = shape("claude-opus-4-8", None, body);
    for k in ["service_tier", "container", "mcp_servers"] {
        assert!(out.get(k).is_none(), "{k} leaked");
        assert!(
            report.dropped_fields.iter().any(|d| d == k),
            "{k} not reported"
        );
    }
}

#[test]
fn header_and_body_betas_merge_and_are_filtered_per_model() {
    let mut body = base();
    body["anthropic_beta"] = json!(["interleaved-thinking-2025-05-14", "oauth-2025-04-20"]);
    let header =
        "claude-code-20250219, context-management-2025-06-27,prompt-caching-scope-2026-01-05";
    let (out, report) = shape("claude-opus-4-8", Some(header), body);
    assert_eq!(
        out["anthropic_beta"],
        json!([
            "context-management-2025-06-27",
            "interleaved-thinking-2025-05-14"
        ])
    );
    assert_eq!(
        report.dropped_betas,
        [
            "claude-code-20250219",
            "prompt-caching-scope-2026-01-05",
            "oauth-2025-04-20"
        ]
    );
}

#[test]
fn learned_beta_rejections_are_dropped_next_time() {
    let learned = LearnedFamily {
        rejected_betas: ["interleaved-thinking-2025-05-14".to_owned()].into(),
        ..LearnedFamily::default()
    };
    let (out, _) = shape_learned(
        "claude-opus-4-8",
        Some("interleaved-thinking-2025-05-14"),
        base(),
        &learned,
    );
    assert!(out.get("anthropic_beta").is_none());
}

#[test]
fn adaptive_thinking_becomes_a_budget_on_models_before_4_6() {
    let mut body = base();
    body["max_tokens"] = json!(64000);
    body["thinking"] = json!({"type": "adaptive"});
    let (out, _) = shape("claude-sonnet-4-5", None, body.clone());
    assert_eq!(
        out["thinking"],
        json!({"type": "enabled", "budget_tokens": 31999})
    );
    let (out, _) = shape("claude-opus-4-8", None, body);
    assert_eq!(out["thinking"], json!({"type": "adaptive"}));
}

#[test]
fn enabled_thinking_becomes_adaptive_on_opus_4_7_and_budget_stays_below_max_tokens() {
    let mut body = base();
    body["thinking"] = json!({"type": "enabled", "budget_tokens": 5000});
    let (out, _) = shape("claude-opus-4-7", None, body.clone());
    assert_eq!(out["thinking"], json!({"type": "adaptive"}));
    let (out, _) = shape("claude-sonnet-4", None, body);
    assert_eq!(
        out["thinking"],
        json!({"type": "enabled", "budget_tokens": 2047})
    );
}

#[test]
fn adaptive_thinking_with_tiny_max_tokens_is_dropped_on_old_models() {
    let mut body = base();
    body["max_tokens"] = json!(512);
    body["thinking"] = json!({"type": "adaptive"});
    let (out, report) = shape("claude-haiku-4-5", None, body);
    assert!(out.get("thinking").is_none());
    assert!(!report.thinking);
}

#[test]
fn output_config_kept_on_4_6_plus_with_effort_only_and_dropped_before() {
    let mut body = base();
    body["output_config"] = json!({"effort": "high", "format": {"type": "json_schema"}});
    let (out, report) = shape("claude-opus-4-8", Some("effort-2025-11-24"), body.clone());
    assert_eq!(out["output_config"], json!({"effort": "high"}));
    assert_eq!(out["anthropic_beta"], json!(["effort-2025-11-24"]));
    assert!(
        report
            .dropped_fields
            .contains(&"output_config.format".to_owned())
    );
    let (out, _) = shape("claude-sonnet-4-5", Some("effort-2025-11-24"), body);
    assert!(out.get("output_config").is_none());
    assert!(out.get("anthropic_beta").is_none());
}

#[test]
fn context_management_needs_its_beta_and_thinking_for_clear_thinking() {
    let mut body = base();
    body["thinking"] = json!({"type": "adaptive"});
    body["context_management"] =
        json!({"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]});
    let (out, _) = shape(
        "claude-opus-4-8",
        Some("context-management-2025-06-27"),
        body.clone(),
    );
    assert_eq!(
        out["context_management"]["edits"][0]["type"],
        "clear_thinking_20251015"
    );
    let (out, _) = shape("claude-opus-4-8", None, body.clone());
    assert!(
        out.get("context_management").is_none(),
        "field without beta must go"
    );
    body.as_object_mut().expect("obj").remove("thinking");
    let (out, _) = shape(
        "claude-opus-4-8",
        Some("context-management-2025-06-27"),
        body,
    );
    assert!(
        out.get("context_management").is_none(),
        "clear_thinking without thinking must go"
    );
}

#[test]
fn metadata_keeps_only_user_id() {
    let mut body = base();
    body["metadata"] = json!({"user_id": "u1", "extra": 1});
    let (out, _) = shape("claude-opus-4-8", None, body);
    assert_eq!(out["metadata"], json!({"user_id": "u1"}));
}

#[test]
fn system_role_message_is_folded_into_the_user_turn_before_it() {
    let mut body = base();
    body["messages"] = json!([
        {"role": "user", "content": [{"type": "text", "text": "hello"}]},
        {"role": "system", "content": "Remember: be brief."}
    ]);
    let (out, report) = shape("claude-opus-4-8", None, body);
    assert_eq!(
        out["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "hello"}, {"type": "text", "text": "Remember: be brief."}]}])
    );
    assert!(report.notes.iter().any(|n| n.contains("folded")));
}

#[test]
fn system_role_after_assistant_goes_after_the_tool_results_of_the_next_user_turn() {
    let mut body = base();
    body["messages"] = json!([
        {"role": "user", "content": "run it"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]},
        {"role": "system", "content": [{"type": "text", "text": "note", "cache_control": {"type": "ephemeral", "scope": "x"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}, {"type": "text", "text": "go on"}]}
    ]);
    let (out, _) = shape("claude-opus-4-8", None, body);
    assert_eq!(out["messages"].as_array().expect("arr").len(), 3);
    assert_eq!(
        out["messages"][2]["content"],
        json!([
            {"type": "tool_result", "tool_use_id": "t1", "content": "ok"},
            {"type": "text", "text": "note", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "go on"}
        ])
    );
}

#[test]
fn trailing_system_message_after_assistant_becomes_a_user_turn() {
    let mut body = base();
    body["messages"] = json!([
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "system", "content": "c"}
    ]);
    let (out, _) = shape("claude-opus-4-8", None, body);
    assert_eq!(
        out["messages"][2],
        json!({"role": "user", "content": [{"type": "text", "text": "c"}]})
    );
}

#[test]
fn cache_control_keeps_type_and_ttl_where_supported_and_never_1h_after_5m() {
    let mut body = base();
    body["system"] = json!([
        {"type": "text", "text": "a", "cache_control": {"type": "ephemeral", "ttl": "1h", "scope": "global"}},
        {"type": "text", "text": "b", "cache_control": {"type": "ephemeral"}}
    ]);
    body["messages"] = json!([{"role": "user", "content": [
        {"type": "text", "text": "c", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
        {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "d", "cache_control": {"type": "ephemeral", "scope": "s"}}]}
    ]}]);
    let (out, _) = shape("claude-opus-4-8", None, body.clone());
    assert_eq!(
        out["system"][0]["cache_control"],
        json!({"type": "ephemeral", "ttl": "1h"})
    );
    assert_eq!(
        out["system"][1]["cache_control"],
        json!({"type": "ephemeral"})
    );
    assert_eq!(
        out["messages"][0]["content"][0]["cache_control"],
        json!({"type": "ephemeral"}),
        "1h after 5m"
    );
    assert_eq!(
        out["messages"][0]["content"][1]["content"][0]["cache_control"],
        json!({"type": "ephemeral"})
    );
    let (out, _) = shape("claude-sonnet-4", None, body);
    assert_eq!(
        out["system"][0]["cache_control"],
        json!({"type": "ephemeral"}),
        "no ttl before 4.5"
    );
}

#[test]
fn thinking_blocks_pass_through_byte_for_byte() {
    let thinking = json!({"type": "thinking", "thinking": "Let me think  \n about it", "signature": "c2lnbmF0dXJl==", "cache_control": {"type": "ephemeral", "scope": "x"}});
    let redacted = json!({"type": "redacted_thinking", "data": "ZW5jcnlwdGVk"});
    let mut body = base();
    body["messages"] = json!([
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [thinking.clone(), redacted.clone(), {"type": "text", "text": "a"}]},
        {"role": "user", "content": "more"}
    ]);
    let (out, _) = shape("claude-opus-4-8", None, body);
    assert_eq!(out["messages"][1]["content"][0], thinking);
    assert_eq!(out["messages"][1]["content"][1], redacted);
}

#[test]
fn tool_hints_are_stripped_and_server_tools_removed() {
    let mut body = base();
    body["tools"] = json!([
        {"name": "Bash", "description": "d", "input_schema": {"type": "object"}, "defer_loading": true, "eager_input_streaming": true},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
    ]);
    let (out, report) = shape("claude-opus-4-8", None, body);
    assert_eq!(
        out["tools"],
        json!([{"name": "Bash", "description": "d", "input_schema": {"type": "object"}}])
    );
    assert!(report.notes.iter().any(|n| n.contains("web_search")));
}

#[test]
fn tool_choice_naming_a_removed_server_tool_is_a_clear_400() {
    let mut body = base();
    body["model"] = json!("claude-opus-4-8");
    body["tools"] = json!([{"type": "web_search_20250305", "name": "web_search"}]);
    body["tool_choice"] = json!({"type": "tool", "name": "web_search"});
    let req = ClientRequest::parse(body.to_string().as_bytes(), None, true).expect("parse");
    let m = ModelResolver::new("us", BTreeMap::new())
        .resolve("claude-opus-4-8")
        .expect("model");
    let err = shape_for_bedrock(&req, &m, &LearnedFamily::default()).expect_err("400");
    assert_eq!(err.status(), 400);
}

#[test]
fn parse_rejects_bad_bodies_with_field_names() {
    let cases: [(&[u8], &str); 5] = [
        (b"{not json", "not valid JSON"),
        (b"[1]", "JSON object"),
        (br#"{"messages":[]}"#, "model: Field required"),
        (
            br#"{"model":"m","max_tokens":5}"#,
            "messages: Field required",
        ),
        (
            br#"{"model":"m","messages":[]}"#,
            "max_tokens: Field required",
        ),
    ];
    for (body, needle) in cases {
        let err = ClientRequest::parse(body, None, true).expect_err("must fail");
        assert_eq!(err.status(), 400);
        assert!(
            err.message.contains(needle),
            "{} lacks {needle}",
            err.message
        );
    }
    assert!(
        ClientRequest::parse(br#"{"model":"m","messages":[]}"#, None, false).is_ok(),
        "count_tokens needs no max_tokens"
    );
}

#[test]
fn rejection_target_finds_named_betas_and_droppable_fields() {
    let body = json!({"output_config": {}, "metadata": {}})
        .as_object()
        .cloned()
        .expect("obj");
    let betas = vec!["effort-2025-11-24".to_owned()];
    assert_eq!(
        rejection_target("invalid beta flag: effort-2025-11-24", &betas, &body),
        Some(Rejected::Beta("effort-2025-11-24".into()))
    );
    assert_eq!(
        rejection_target(
            "extraneous key [output_config] is not permitted",
            &[],
            &body
        ),
        Some(Rejected::Field("output_config".into()))
    );
    assert_eq!(
        rejection_target(
            "metadata.user_id: Extra inputs are not permitted",
            &[],
            &body
        ),
        Some(Rejected::Field("metadata".into()))
    );
    assert_eq!(rejection_target("messages.0: bad", &betas, &body), None);
}

#[test]
fn count_body_needs_no_max_tokens_and_drops_thinking() {
    let body = json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}], "thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}});
    let req = ClientRequest::parse(body.to_string().as_bytes(), None, false).expect("parse");
    let m = ModelResolver::new("us", BTreeMap::new())
        .resolve("claude-sonnet-4-5")
        .expect("model");
    let out: Value = serde_json::from_slice(
        &shape_for_count(&req, &m, &LearnedFamily::default()).expect("shape"),
    )
    .expect("json");
    assert_eq!(
        out,
        json!({"anthropic_version": "bedrock-2023-05-31", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1})
    );
}
