//! The usage record: one per request, written before the response ends and also when it ends badly, so
//! spend is never missing. It is stored as a DynamoDB item and as a SQLite row, and both stores reject some
//! strings (CCAG's Postgres pipeline wedged on one NUL byte), so [`UsageRecord::sanitize`] makes every
//! string safe for any store before it is written: control characters removed, lengths and counts capped.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::pricing::{PriceTable, TokenUsage};

/// The most characters kept in any string field (ids, names, models, stop reason, region).
pub const MAX_STRING_CHARS: usize = 256;
/// The most tool names kept per record.
pub const MAX_TOOL_NAMES: usize = 64;
/// The largest invocation-metrics document kept, serialized; larger ones are dropped, since they would push
/// the item towards DynamoDB's 400 KB limit for numbers nobody reads in bulk.
pub const MAX_METRICS_BYTES: usize = 4096;
/// Stands in for a required id that sanitizing left empty: DynamoDB refuses empty key attributes.
const EMPTY_ID: &str = "-";

/// How the request ended, which says how complete the token counts are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The whole response reached the client.
    Complete,
    /// The client went away mid-stream; counts are what was seen so far.
    ClientDisconnected,
    /// Bedrock failed mid-stream; counts are what was seen so far.
    UpstreamError,
    /// Nothing was streamed (refused or failed before the first byte); counts may be zero.
    ErrorBeforeStream,
    /// A gateway policy refused the request (`UsageRecord::policy_refusal` says which); nothing reached Bedrock.
    PolicyRefused,
}

/// A request a gateway policy refused: which policy, which rule, what was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRefusalNote {
    pub policy: String,
    /// `models`, `tools`, `context_1m`, `web_search`.
    pub rule: String,
    /// The model, tool or beta refused.
    pub refused: String,
}

/// One request's usage and cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    pub request_id: String,
    /// Unix time in milliseconds when the request arrived; it decides the budget period.
    pub time_ms: i64,
    pub key_id: String,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    /// The model id the client asked for, e.g. `claude-sonnet-4-5-20250929`.
    pub requested_model: String,
    /// The Bedrock model or inference-profile id invoked.
    pub bedrock_model_id: String,
    pub stream: bool,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    /// All cache-creation tokens; the split below when the upstream reported it.
    pub cache_write_tokens: u64,
    pub cache_write_5m_tokens: Option<u64>,
    pub cache_write_1h_tokens: Option<u64>,
    pub stop_reason: Option<String>,
    pub duration_ms: u64,
    pub ttfb_ms: Option<u64>,
    /// Bedrock's `amazon-bedrock-invocationMetrics`, as sent.
    pub invocation_metrics: Option<Value>,
    /// Tools the model called in this response, in order (not the history's earlier calls).
    pub tool_names: Vec<String>,
    pub thinking: bool,
    /// Claude Code's session id, from `metadata.user_id`.
    pub session_id: Option<String>,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub outcome: Outcome,
    /// The cost in micro-dollars; `None` means the model is unpriced.
    pub cost_micros: Option<u64>,
    /// Set when a policy refused the request (`outcome` is then `PolicyRefused`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_refusal: Option<PolicyRefusalNote>,
}

impl UsageRecord {
    /// The token counts, for pricing.
    #[must_use]
    pub fn tokens(&self) -> TokenUsage {
        TokenUsage {
            input: self.input_tokens,
            output: self.output_tokens,
            cache_read: self.cache_read_tokens,
            cache_write: self.cache_write_tokens,
            cache_write_5m: self.cache_write_5m_tokens,
            cache_write_1h: self.cache_write_1h_tokens,
        }
    }

    /// Sets `cost_micros` from `table`: the requested id is tried first (it names the model family), then
    /// the Bedrock id (an admin may price an inference profile apart). Neither matching leaves it unpriced.
    pub fn price_with(&mut self, table: &PriceTable) {
        let tokens = self.tokens();
        let by_bedrock = table.lookup(&self.bedrock_model_id);
        let by_requested = table.lookup(&self.requested_model);
        // The longer prefix is the more specific price, whichever id it matched.
        let row = match (by_requested, by_bedrock) {
            (Some(r), Some(b)) if b.prefix.len() > r.prefix.len() => Some(b),
            (Some(r), _) => Some(r),
            (None, b) => b,
        };
        self.cost_micros = row.map(|row| row.price.cost_micros(&tokens));
    }

    /// Makes every string safe to store: control characters (NUL included) removed, each string cut to
    /// [`MAX_STRING_CHARS`] characters, at most [`MAX_TOOL_NAMES`] tool names, metrics larger than
    /// [`MAX_METRICS_BYTES`] dropped. Optional strings left empty become `None`; required ids left empty
    /// become `-`. Idempotent.
    pub fn sanitize(&mut self) {
        for id in [
            &mut self.request_id,
            &mut self.key_id,
            &mut self.requested_model,
            &mut self.bedrock_model_id,
        ] {
            *id = clean(id);
            if id.is_empty() {
                EMPTY_ID.clone_into(id);
            }
        }
        if let Some(note) = &mut self.policy_refusal {
            for field in [&mut note.policy, &mut note.rule, &mut note.refused] {
                *field = clean(field);
            }
        }
        for optional in [
            &mut self.user_id,
            &mut self.team_id,
            &mut self.stop_reason,
            &mut self.session_id,
            &mut self.endpoint,
            &mut self.region,
        ] {
            *optional = optional.as_deref().map(clean).filter(|s| !s.is_empty());
        }
        if self.tool_names.len() > MAX_TOOL_NAMES {
            tracing::warn!(request_id = %self.request_id, count = self.tool_names.len(), "tool names capped");
        }
        self.tool_names.truncate(MAX_TOOL_NAMES);
        self.tool_names = self
            .tool_names
            .iter()
            .map(|name| clean(name))
            .filter(|n| !n.is_empty())
            .collect();
        self.invocation_metrics = self.invocation_metrics.take().map(clean_json).filter(|metrics| {
            let size = serde_json::to_vec(metrics).map_or(usize::MAX, |bytes| bytes.len());
            let fits = size <= MAX_METRICS_BYTES;
            if !fits {
                tracing::warn!(request_id = %self.request_id, size, "invocation metrics dropped: too large");
            }
            fits
        });
    }
}

/// Control characters out, length capped in characters (never splitting one).
fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_STRING_CHARS)
        .collect()
}

fn clean_json(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(clean(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(clean_json).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (clean(&k), clean_json(v)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record() -> UsageRecord {
        UsageRecord {
            request_id: "req_01".to_owned(),
            time_ms: 1_795_330_258_000,
            key_id: "key_a".to_owned(),
            user_id: Some("ada@example.com".to_owned()),
            team_id: Some("team_x".to_owned()),
            requested_model: "claude-sonnet-4-5-20250929".to_owned(),
            bedrock_model_id: "us.anthropic.claude-sonnet-4-5-20250929-v1:0".to_owned(),
            stream: true,
            input_tokens: 1000,
            output_tokens: 500,
            cache_read_tokens: 2000,
            cache_write_tokens: 500,
            cache_write_5m_tokens: Some(400),
            cache_write_1h_tokens: Some(100),
            stop_reason: Some("end_turn".to_owned()),
            duration_ms: 1200,
            ttfb_ms: Some(300),
            invocation_metrics: Some(json!({"inputTokenCount": 1000, "invocationLatency": 1100})),
            tool_names: vec!["Read".to_owned(), "Bash".to_owned()],
            thinking: false,
            session_id: Some("session-1".to_owned()),
            endpoint: Some("bedrock-runtime".to_owned()),
            region: Some("us-east-1".to_owned()),
            outcome: Outcome::Complete,
            cost_micros: None,
            policy_refusal: None,
        }
    }

    #[test]
    fn sanitize_leaves_a_clean_record_unchanged() {
        let mut r = record();
        r.sanitize();
        assert_eq!(r, record());
    }

    #[test]
    fn sanitize_removes_nul_and_other_control_characters_everywhere() {
        let mut r = record();
        r.request_id = "req\u{0}_01".to_owned();
        r.user_id = Some("ada\u{0}@exa\u{7}mple.com\n".to_owned());
        r.stop_reason = Some("end_turn\u{0}\u{1b}[31m".to_owned());
        r.tool_names = vec![
            "Re\u{0}ad".to_owned(),
            "\u{0}".to_owned(),
            "Bash\u{85}".to_owned(),
        ];
        r.invocation_metrics = Some(json!({"a\u{0}b": ["x\u{0}y", {"k": "\u{7f}v"}], "n": 3}));
        r.sanitize();
        assert_eq!(r.request_id, "req_01");
        assert_eq!(r.user_id.as_deref(), Some("ada@example.com"));
        assert_eq!(r.stop_reason.as_deref(), Some("end_turn[31m"));
        assert_eq!(
            r.tool_names,
            ["Read", "Bash"],
            "a name of only control characters is dropped"
        );
        assert_eq!(
            r.invocation_metrics,
            Some(json!({"ab": ["xy", {"k": "v"}], "n": 3}))
        );
        let stored = serde_json::to_string(&r).expect("serializes");
        assert!(
            !stored.contains("\\u0000"),
            "no NUL survives into the stored form: {stored}"
        );
    }

    #[test]
    fn sanitize_caps_huge_strings_and_tool_lists() {
        let mut r = record();
        r.session_id = Some("s".repeat(1_000_000));
        r.requested_model = "m".repeat(300);
        r.tool_names = (0..1000).map(|i| format!("tool_{i}")).collect();
        r.sanitize();
        assert_eq!(
            r.session_id.as_ref().map(|s| s.chars().count()),
            Some(MAX_STRING_CHARS)
        );
        assert_eq!(r.requested_model.chars().count(), MAX_STRING_CHARS);
        assert_eq!(r.tool_names.len(), MAX_TOOL_NAMES);
        assert_eq!(r.tool_names.first().map(String::as_str), Some("tool_0"));
    }

    #[test]
    fn sanitize_cuts_unicode_on_character_boundaries() {
        let mut r = record();
        // 300 four-byte characters, mixed with combining marks and right-to-left text.
        r.user_id = Some("𝄞".repeat(300));
        r.team_id = Some("équipe-עברית-名前".to_owned());
        r.sanitize();
        let user = r.user_id.expect("kept");
        assert_eq!(user.chars().count(), MAX_STRING_CHARS);
        assert!(user.chars().all(|c| c == '𝄞'));
        assert_eq!(
            r.team_id.as_deref(),
            Some("équipe-עברית-名前"),
            "printable unicode is kept as is"
        );
    }

    #[test]
    fn sanitize_turns_empty_optionals_into_none_and_empty_ids_into_a_placeholder() {
        let mut r = record();
        r.team_id = Some("\u{0}\u{0}".to_owned());
        r.region = Some(String::new());
        r.key_id = "\u{0}".to_owned();
        r.sanitize();
        assert_eq!(r.team_id, None);
        assert_eq!(r.region, None);
        assert_eq!(r.key_id, "-");
    }

    #[test]
    fn sanitize_drops_oversized_metrics_but_keeps_small_ones() {
        let mut r = record();
        let big: Vec<String> = (0..200).map(|i| format!("value-{i:040}")).collect();
        r.invocation_metrics = Some(json!({ "many": big }));
        r.sanitize();
        assert_eq!(r.invocation_metrics, None);
        let mut small = record();
        small.sanitize();
        assert!(small.invocation_metrics.is_some());
    }

    #[test]
    fn sanitize_is_idempotent() {
        let mut once = record();
        once.user_id = Some(format!("{}\u{0}", "é".repeat(400)));
        once.sanitize();
        let mut twice = once.clone();
        twice.sanitize();
        assert_eq!(once, twice);
    }

    #[test]
    fn prices_the_record_from_its_tokens() {
        let mut r = record();
        r.price_with(&PriceTable::seeded());
        // Same fixture as pricing's every-token-kind test: 13 200 µ$.
        assert_eq!(r.cost_micros, Some(13_200));
    }

    #[test]
    fn an_unknown_model_leaves_the_record_unpriced() {
        let mut r = record();
        r.requested_model = "my-fine-tune".to_owned();
        r.bedrock_model_id = "arn:aws:bedrock:us-east-1:1:custom-model/abc".to_owned();
        r.cost_micros = Some(5);
        r.price_with(&PriceTable::seeded());
        assert_eq!(r.cost_micros, None);
    }

    #[test]
    fn a_more_specific_bedrock_id_price_beats_the_requested_family_price() {
        let regional = crate::spend::pricing::ModelPrice {
            input: 3_300_000,
            output: 16_500_000,
            cache_read: 330_000,
            cache_write_5m: 4_125_000,
            cache_write_1h: 6_600_000,
        };
        let table =
            PriceTable::with_overrides([("us.anthropic.claude-sonnet-4-5".to_owned(), regional)]);
        let mut r = record();
        r.price_with(&table);
        // 10% more than the 13 200 µ$ global price.
        assert_eq!(r.cost_micros, Some(14_520));
    }

    #[test]
    fn round_trips_through_json_with_snake_case_outcomes() {
        let mut r = record();
        r.outcome = Outcome::ClientDisconnected;
        let json = serde_json::to_value(&r).expect("serializes");
        assert_eq!(json["outcome"], "client_disconnected");
        let back: UsageRecord = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, r);
    }
}
