use serde_json::{Map, Value, json};

use super::document::{Known, diff};
use super::enforce::{RefusalRule, allowed_models, apply, check_model};
use super::{PolicyDocument, PolicySet, Subject};

fn doc(value: Value) -> PolicyDocument {
    let mut document = Map::new();
    document.insert("version".into(), json!(1));
    document.insert("policies".into(), value);
    PolicyDocument::from_value(Value::Object(document)).expect("document")
}

fn set(value: Value) -> PolicySet {
    let mut d = doc(value);
    let teams = [("team_eng".to_owned(), "Engineering".to_owned())];
    d.validate(Known {
        teams: &teams,
        extra_models: &[],
    })
    .expect("valid");
    PolicySet::compile(&d).expect("compiles")
}

fn groups(g: &[&str]) -> Vec<String> {
    g.iter().map(|s| (*s).to_owned()).collect()
}

fn rollout() -> PolicySet {
    set(json!([
        {"name": "contractors", "match": {"idp_groups": ["contractors"], "scim_groups": ["Vendors"]},
         "rules": {"models": {"allow": ["haiku"]}, "tools": {"deny": ["Bash", "mcp__computer*"]},
                   "max_tokens": 8192, "thinking_budget_tokens": 0, "web_search": false, "requests_per_minute": 20}},
        {"name": "pilot", "match": {"people": ["Ada@Example.com"], "keys": ["key_pilot"]},
         "rules": {"models": {"allow": ["claude-fable-5", "claude-opus-*"]}}},
        {"name": "engineering", "match": {"teams": ["Engineering"]}, "rules": {}},
        {"name": "everyone else", "match": {}, "rules": {"models": {"deny": ["opus", "claude-fable-5"]}, "context_1m": false}},
    ]))
}

fn name_of(set: &PolicySet, s: &Subject<'_>) -> Option<String> {
    set.evaluate(s).map(|m| m.policy.name.clone())
}

#[test]
fn first_match_wins_in_document_order() {
    let set = rollout();
    let contractor = groups(&["contractors"]);
    // Ada is a pilot and in the contractors group: contractors come first.
    let s = Subject {
        email: Some("ada@example.com"),
        idp_groups: &contractor,
        ..Subject::default()
    };
    assert_eq!(name_of(&set, &s).as_deref(), Some("contractors"));
    let s = Subject {
        email: Some("ada@example.com"),
        team_id: Some("team_eng"),
        ..Subject::default()
    };
    assert_eq!(name_of(&set, &s).as_deref(), Some("pilot"));
    let s = Subject {
        team_id: Some("team_eng"),
        ..Subject::default()
    };
    assert_eq!(name_of(&set, &s).as_deref(), Some("engineering"));
    assert_eq!(
        name_of(&set, &Subject::default()).as_deref(),
        Some("everyone else")
    );
}

#[test]
fn no_policy_matches_when_none_has_an_empty_match() {
    let set = set(json!([{"name": "c", "match": {"idp_groups": ["contractors"]}, "rules": {}}]));
    assert!(set.evaluate(&Subject::default()).is_none());
    let g = groups(&["CONTRACTORS"]);
    let s = Subject {
        idp_groups: &g,
        ..Subject::default()
    };
    assert!(
        set.evaluate(&s).is_none(),
        "identity-provider groups are exact"
    );
}

#[test]
fn a_person_in_several_groups_matches_on_any_of_them() {
    let set = rollout();
    let scim = groups(&["Everyone", "vendors"]);
    let idp = groups(&["staff", "oncall"]);
    let s = Subject {
        idp_groups: &idp,
        scim_groups: &scim,
        ..Subject::default()
    };
    let (m, why) = set.explain(&s).expect("matches");
    assert_eq!(m.policy.name, "contractors");
    assert_eq!(m.index, 0);
    assert!(why.contains("SCIM group \"vendors\""), "{why}");
}

#[test]
fn people_match_by_email_case_insensitively_or_by_id_and_keys_by_id() {
    let set = rollout();
    let s = Subject {
        email: Some("ADA@example.COM"),
        ..Subject::default()
    };
    assert_eq!(name_of(&set, &s).as_deref(), Some("pilot"));
    let s = Subject {
        key_id: Some("key_pilot"),
        ..Subject::default()
    };
    let (_, why) = set.explain(&s).expect("matches");
    assert_eq!(why, "key key_pilot");
}

#[test]
fn models_by_family_id_and_glob() {
    let set = rollout();
    let contractor = groups(&["contractors"]);
    let s = Subject {
        idp_groups: &contractor,
        ..Subject::default()
    };
    let m = set.evaluate(&s).expect("contractors");
    assert!(check_model(&m, "claude-haiku-4-5", &[]).is_ok());
    let refused =
        check_model(&m, "claude-opus-4-8", &["claude-haiku-4-5".into()]).expect_err("refused");
    assert_eq!(refused.rule, RefusalRule::Models);
    assert!(
        refused.message.contains("\"contractors\"")
            && refused
                .message
                .contains("Models you may use: claude-haiku-4-5"),
        "{}",
        refused.message
    );
    let pilot = set
        .evaluate(&Subject {
            key_id: Some("key_pilot"),
            ..Subject::default()
        })
        .expect("pilot");
    assert!(check_model(&pilot, "claude-opus-4-7", &[]).is_ok());
    assert!(check_model(&pilot, "claude-fable-5", &[]).is_ok());
    assert!(check_model(&pilot, "claude-sonnet-4-5", &[]).is_err());
    let rest = set.evaluate(&Subject::default()).expect("everyone");
    let e = check_model(&rest, "claude-opus-4-1", &[]).expect_err("refused");
    assert!(
        e.message.contains("models.deny entry \"opus\""),
        "{}",
        e.message
    );
    assert!(check_model(&rest, "claude-sonnet-4-6", &[]).is_ok());
    let ids = ["claude-opus-4-8", "claude-sonnet-4-6", "claude-haiku-4-5"];
    assert_eq!(
        allowed_models(rest.policy, ids),
        ["claude-sonnet-4-6", "claude-haiku-4-5"]
    );
}

fn body(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn denied_tools_are_removed_and_earlier_results_withheld() {
    let set = rollout();
    let contractor = groups(&["contractors"]);
    let m = set
        .evaluate(&Subject {
            idp_groups: &contractor,
            ..Subject::default()
        })
        .expect("contractors");
    let mut b = body(json!({
        "model": "claude-haiku-4-5", "max_tokens": 32000,
        "thinking": {"type": "enabled", "budget_tokens": 4000},
        "tools": [{"name": "Bash"}, {"name": "Read"}, {"name": "mcp__computer_use__click"},
                  {"type": "web_search_20250305", "name": "web_search"}],
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}},
                                               {"type": "tool_use", "id": "t2", "name": "Read", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "secret output"},
                                          {"type": "tool_result", "tool_use_id": "t2", "content": "file"}]}
        ]
    }));
    let applied = apply(&m, &mut b, &[], false).expect("goes on");
    assert_eq!(
        applied.removed_tools,
        ["Bash", "mcp__computer_use__click", "web_search"]
    );
    assert_eq!(b["tools"], json!([{"name": "Read"}]));
    assert_eq!(applied.withheld_results, 1);
    let results = &b["messages"][2]["content"];
    assert_eq!(results[0]["is_error"], json!(true));
    assert!(
        results[0]["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("withheld") && !t.contains("secret"))
    );
    assert_eq!(results[1]["content"], json!("file"));
    assert_eq!(b["max_tokens"], json!(8192));
    assert_eq!(applied.max_tokens_lowered, Some((32000, 8192)));
    assert!(b.get("thinking").is_none(), "thinking 0 turns it off");
}

#[test]
fn tool_choice_naming_a_denied_tool_is_refused() {
    let set = rollout();
    let contractor = groups(&["contractors"]);
    let m = set
        .evaluate(&Subject {
            idp_groups: &contractor,
            ..Subject::default()
        })
        .expect("contractors");
    let mut b = body(
        json!({"tools": [{"name": "Bash"}], "tool_choice": {"type": "tool", "name": "Bash"}, "messages": []}),
    );
    let e = apply(&m, &mut b, &[], false).expect_err("refused");
    assert_eq!(e.rule, RefusalRule::Tools);
    assert!(
        e.message.contains("Bash")
            && e.message.contains("\"contractors\"")
            && e.message.contains("\"Bash\""),
        "{}",
        e.message
    );
    let mut b = body(
        json!({"tools": [{"type": "web_search_20250305", "name": "web_search"}],
                             "tool_choice": {"type": "tool", "name": "web_search"}, "messages": []}),
    );
    assert_eq!(
        apply(&m, &mut b, &[], false).expect_err("refused").rule,
        RefusalRule::WebSearch
    );
}

#[test]
fn thinking_budget_is_lowered_and_kept_below_max_tokens() {
    let set = set(
        json!([{"name": "small", "rules": {"max_tokens": 4000, "thinking_budget_tokens": 8000}}]),
    );
    let m = set.evaluate(&Subject::default()).expect("everyone");
    let mut b = body(
        json!({"max_tokens": 32000, "thinking": {"type": "enabled", "budget_tokens": 10000}, "messages": []}),
    );
    let applied = apply(&m, &mut b, &[], false).expect("goes on");
    assert_eq!(b["max_tokens"], json!(4000));
    assert_eq!(b["thinking"]["budget_tokens"], json!(3999));
    assert_eq!(applied.thinking_budget, Some(3999));
    // Under both ceilings: untouched.
    let mut b = body(
        json!({"max_tokens": 3000, "thinking": {"type": "enabled", "budget_tokens": 2000}, "messages": []}),
    );
    assert_eq!(
        apply(&m, &mut b, &[], false).expect("goes on"),
        super::Applied::default()
    );
}

#[test]
fn the_1m_context_is_refused_by_model_suffix_or_beta() {
    let set = rollout();
    let m = set.evaluate(&Subject::default()).expect("everyone");
    let mut b = body(json!({"messages": []}));
    assert_eq!(
        apply(&m, &mut b, &[], true).expect_err("refused").rule,
        RefusalRule::Context1m
    );
    let e = apply(&m, &mut b, &["context-1m-2025-08-07".into()], false).expect_err("refused");
    assert_eq!(e.subject, "context-1m-2025-08-07");
    assert!(
        apply(
            &m,
            &mut b,
            &["interleaved-thinking-2025-05-14".into()],
            false
        )
        .is_ok()
    );
}

#[test]
fn validation_names_the_path_of_each_error() {
    let err = |v: Value| {
        let mut d = match PolicyDocument::from_value(json!({"version": 0, "policies": v})) {
            Ok(d) => d,
            Err(e) => return e.to_string(),
        };
        d.validate(Known::default())
            .expect_err("refused")
            .to_string()
    };
    let e = err(json!([{"name": "a", "rules": {"modles": {}}}]));
    assert!(
        e.starts_with("policies[0].rules.modles: unknown field `modles`"),
        "{e}"
    );
    let e = err(json!([{"name": "a", "rules": {"models": {"allow": ["claude-opsu-4"]}}}]));
    assert!(
        e.starts_with("policies[0].rules.models.allow[0]: \"claude-opsu-4\" is not a model"),
        "{e}"
    );
    let e = err(
        json!([{"name": "a"}, {"name": "b", "rules": {"tools": {"deny": ["Bash", "mcp__[x"]}}}]),
    );
    assert!(
        e.starts_with("policies[1].rules.tools.deny[1]: \"mcp__[x\" is not a valid glob"),
        "{e}"
    );
    let e = err(json!([{"name": "a"}, {"name": "A"}]));
    assert!(e.starts_with("policies[1].name: another policy"), "{e}");
    let e = err(json!([{"name": "a", "match": {"teams": ["nope"]}}]));
    assert_eq!(
        e,
        "policies[0].match.teams[0]: no team has the id or name \"nope\""
    );
    let e = err(json!([{"name": "a", "rules": {"models": {"deny": ["claude-zzz-*"]}}}]));
    assert!(e.contains("is not a model this gateway serves"), "{e}");
    let e = err(json!([{"name": "a", "rules": {"thinking_budget_tokens": 100}}]));
    assert!(
        e.starts_with("policies[0].rules.thinking_budget_tokens:"),
        "{e}"
    );
    let e = err(json!([{"name": "a", "rules": {"max_tokens": "many"}}]));
    assert!(
        e.starts_with("policies[0].rules.max_tokens: invalid type"),
        "{e}"
    );
    let e = err(json!([{"name": "a", "rules": {"models": {"allow": []}}}]));
    assert!(e.contains("allows no model"), "{e}");
}

#[test]
fn team_names_are_stored_as_ids() {
    let mut d = doc(json!([{"name": "eng", "match": {"teams": ["engineering", "team_eng"]}}]));
    let teams = [("team_eng".to_owned(), "Engineering".to_owned())];
    d.validate(Known {
        teams: &teams,
        extra_models: &[],
    })
    .expect("valid");
    assert_eq!(d.policies[0].matches.teams, ["team_eng", "team_eng"]);
}

#[test]
fn mapped_names_and_raw_ids_are_known_models() {
    let mut d = doc(
        json!([{"name": "a", "rules": {"models": {"allow": ["my-model", "us.anthropic.claude-opus-4-8", "claude-sonnet-4-5-20250929"]}}}]),
    );
    let extra = ["my-model".to_owned()];
    d.validate(Known {
        teams: &[],
        extra_models: &extra,
    })
    .expect("valid");
    let set = PolicySet::compile(&d).expect("compiles");
    let m = set.evaluate(&Subject::default()).expect("everyone");
    assert!(
        check_model(&m, "claude-sonnet-4-5", &[]).is_ok(),
        "aliases mean their catalogue id"
    );
}

#[test]
fn permission_denies_are_what_claude_code_can_express() {
    let set = set(
        json!([{"name": "a", "rules": {"tools": {"deny": ["Bash", "mcp__computer__*", "mcp__x*"]}, "web_search": false}}]),
    );
    let m = set.evaluate(&Subject::default()).expect("everyone");
    assert_eq!(
        m.policy.permission_denies(),
        ["Bash", "mcp__computer__*", "WebSearch"]
    );
}

#[test]
fn diff_lists_added_removed_changed_and_order() {
    let before = doc(json!([{"name": "a"}, {"name": "b", "rules": {"max_tokens": 10}}]));
    let after = doc(json!([{"name": "b", "rules": {"max_tokens": 20}}, {"name": "c"}]));
    let d = diff(&before, &after);
    assert_eq!(d["added"][0]["name"], "c");
    assert_eq!(d["removed"][0]["name"], "a");
    assert_eq!(d["changed"][0]["before"]["rules"]["max_tokens"], 10);
    assert_eq!(d["changed"][0]["after"]["rules"]["max_tokens"], 20);
    assert_eq!(d["reordered"], false);
    let swapped = doc(json!([{"name": "b", "rules": {"max_tokens": 10}}, {"name": "a"}]));
    assert_eq!(diff(&before, &swapped)["reordered"], true);
}
