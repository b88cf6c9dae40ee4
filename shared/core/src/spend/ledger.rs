//! What one usage record adds to the counters: period spend per user, team and org, and hourly / daily
//! rollups per key, user, team and model for analytics.
//!
//! The spend consumer applies a [`SpendDelta`] through `SpendStore::apply_spend`, which stores a marker named
//! after the request id in the same atomic write as the additions: a replayed or duplicated stream record
//! finds the marker and changes nothing.
//!
//! Counter keys (stable: stores and analytics read them back):
//! - period spend: `spend#<user|team|org>#<id>#<period key>` in family `spend#<period key>` (the org's id is
//!   `org`), fields [`COST`], [`REQUESTS`], [`UNPRICED_REQUESTS`], [`UNPRICED_TOKENS`];
//! - rollups: `rollup#<h|d>#<key|user|team|model>#<id>#<bucket>` in family `rollup#<h|d>#<dimension>#<bucket>`,
//!   where the bucket is `2026-11-22T09` (hour) or `2026-11-22` (day); fields: the period fields plus tokens,
//!   outcome, latency sums, a fixed-bucket latency histogram and one `tool.<name>` count per tool called;
//! - person × model rollups: `rollup#<h|d>#person_model#<user id>#<model>#<bucket>` with the rollup fields, in
//!   one family per person and bucket, `rollup#<h|d>#person_model#<user id>#<bucket>` (a person's own view reads
//!   only their family, however large the organisation).

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::fallback::charged_micros;
use super::period::{Period, PeriodWindow};
use super::pricing::PriceTable;
use super::usage::{Outcome, UsageRecord};

pub const COST: &str = "cost_micros";
pub const REQUESTS: &str = "requests";
pub const UNPRICED_REQUESTS: &str = "unpriced_requests";
pub const UNPRICED_TOKENS: &str = "unpriced_tokens";
pub const INPUT_TOKENS: &str = "input_tokens";
pub const OUTPUT_TOKENS: &str = "output_tokens";
pub const CACHE_READ_TOKENS: &str = "cache_read_tokens";
pub const CACHE_WRITE_TOKENS: &str = "cache_write_tokens";
pub const INCOMPLETE: &str = "incomplete";
pub const DURATION_SUM: &str = "duration_ms_sum";
pub const TTFB_SUM: &str = "ttfb_ms_sum";
pub const TTFB_COUNT: &str = "ttfb_count";
pub const STREAMED: &str = "streamed";
pub const THINKING: &str = "thinking";
/// Prefix of the per-tool call counts.
pub const TOOL_PREFIX: &str = "tool.";
/// Requests a gateway policy refused (rollups only: a refusal is not a request served, and costs nothing).
pub const POLICY_REFUSALS: &str = "policy_refusals";
/// Refusals by policy: `policy_refused.<policy name>`.
pub const POLICY_REFUSED_PREFIX: &str = "policy_refused.";
/// Upper bounds (inclusive, milliseconds) of the latency histogram buckets; a last bucket holds the rest.
/// Percentiles are read from these buckets (the bound of the bucket holding the rank), which is exact to
/// the bucket width and adds up across hours, keys and models, unlike stored percentiles.
pub const LATENCY_BOUNDS_MS: [u64; 12] = [
    250, 500, 1_000, 2_000, 3_000, 5_000, 10_000, 20_000, 30_000, 60_000, 120_000, 300_000,
];
/// How long the applied-record marker is kept: beyond any stream or queue replay.
pub const MARKER_TTL_S: i64 = 35 * 24 * 3600;

/// The id of the org-wide counters.
pub const ORG_ID: &str = "org";

/// Whose period spend a counter holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpendOwner {
    User,
    Team,
    Org,
}

impl SpendOwner {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Team => "team",
            Self::Org => "org",
        }
    }
}

/// Rollup granularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    Hour,
    Day,
}

impl Granularity {
    const fn tag(self) -> &'static str {
        match self {
            Self::Hour => "h",
            Self::Day => "d",
        }
    }

    /// The bucket containing a Unix time in milliseconds: `2026-11-22T09` or `2026-11-22`.
    #[must_use]
    pub fn bucket(self, unix_ms: i64) -> String {
        let at = Utc
            .timestamp_millis_opt(unix_ms)
            .single()
            .unwrap_or_default();
        match self {
            Self::Hour => at.format("%Y-%m-%dT%H").to_string(),
            Self::Day => at.format("%Y-%m-%d").to_string(),
        }
    }
}

/// What a rollup is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Key,
    User,
    Team,
    Model,
    /// One person's use of one model (id `<user id>#<model>`).
    PersonModel,
}

impl Dimension {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::User => "user",
            Self::Team => "team",
            Self::Model => "model",
            Self::PersonModel => "person_model",
        }
    }
}

/// The counter key of one owner's spend in one period.
#[must_use]
pub fn period_counter_key(owner: SpendOwner, id: &str, window: &PeriodWindow) -> String {
    format!("spend#{}#{id}#{}", owner.as_str(), window.key)
}

/// The family of all period counters of one period (listing: `sluice spend`, analytics).
#[must_use]
pub fn period_family(window: &PeriodWindow) -> String {
    format!("spend#{}", window.key)
}

/// The family of all rollups of one dimension in one bucket.
#[must_use]
pub fn rollup_family(granularity: Granularity, dimension: Dimension, bucket: &str) -> String {
    format!(
        "rollup#{}#{}#{bucket}",
        granularity.tag(),
        dimension.as_str()
    )
}

/// The family of one person's person × model rollups in one bucket.
#[must_use]
pub fn person_model_family(granularity: Granularity, user_id: &str, bucket: &str) -> String {
    format!(
        "rollup#{}#{}#{user_id}#{bucket}",
        granularity.tag(),
        Dimension::PersonModel.as_str()
    )
}

#[must_use]
pub fn rollup_key(
    granularity: Granularity,
    dimension: Dimension,
    id: &str,
    bucket: &str,
) -> String {
    format!(
        "rollup#{}#{}#{id}#{bucket}",
        granularity.tag(),
        dimension.as_str()
    )
}

/// Additions to one counter item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterAdd {
    pub key: String,
    /// Groups counters for listing (a GSI partition on DynamoDB).
    pub family: String,
    /// Field name → amount to add; absent fields start at 0.
    pub adds: BTreeMap<String, u64>,
}

/// A counter item as read back.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counter {
    pub key: String,
    pub family: String,
    pub values: BTreeMap<String, u64>,
}

impl Counter {
    /// A field's value, 0 when absent.
    #[must_use]
    pub fn get(&self, field: &str) -> u64 {
        self.values.get(field).copied().unwrap_or(0)
    }
}

/// Everything one usage record adds, applied at most once (keyed by `request_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendDelta {
    pub request_id: String,
    /// When the store may drop the applied marker (Unix seconds).
    pub marker_expires_at_s: i64,
    pub counters: Vec<CounterAdd>,
}

/// The additions one usage record makes, an unpriced record charged at the fallback price of the seeded
/// table (see [`spend_delta_with`]).
#[must_use]
pub fn spend_delta(record: &UsageRecord) -> SpendDelta {
    spend_delta_with(record, &PriceTable::seeded())
}

/// The additions one usage record makes. An unpriced record (no price row for its model when the gateway
/// wrote it) is never free: it adds its tokens at the fallback price of `prices` (`super::fallback`) to
/// [`COST`], and counts in [`UNPRICED_REQUESTS`] / [`UNPRICED_TOKENS`], so budgets block on it and finance
/// sees which models need a price row.
#[must_use]
pub fn spend_delta_with(record: &UsageRecord, prices: &PriceTable) -> SpendDelta {
    if let Some(note) = &record.policy_refusal {
        return refusal_delta(record, &note.policy);
    }
    let tokens = record.input_tokens
        + record.output_tokens
        + record.cache_read_tokens
        + record.cache_write_tokens;
    let mut money = BTreeMap::new();
    money.insert(REQUESTS.to_owned(), 1);
    let cost = charged_micros(
        prices,
        record.cost_micros,
        &record.bedrock_model_id,
        &record.tokens(),
    );
    money.insert(COST.to_owned(), cost);
    if record.cost_micros.is_none() {
        money.insert(UNPRICED_REQUESTS.to_owned(), 1);
        money.insert(UNPRICED_TOKENS.to_owned(), tokens);
    }

    let mut counters = Vec::new();
    for period in [Period::Daily, Period::Weekly, Period::Monthly] {
        let window = period.window_at_ms(record.time_ms);
        let owners = [
            (SpendOwner::User, record.user_id.as_deref()),
            (SpendOwner::Team, record.team_id.as_deref()),
            (SpendOwner::Org, Some(ORG_ID)),
        ];
        for (owner, id) in owners {
            if let Some(id) = id {
                counters.push(CounterAdd {
                    key: period_counter_key(owner, id, &window),
                    family: period_family(&window),
                    adds: money.clone(),
                });
            }
        }
    }

    let fields = rollup_fields(record, &money);
    for granularity in [Granularity::Hour, Granularity::Day] {
        let bucket = granularity.bucket(record.time_ms);
        rollups(
            &mut counters,
            record,
            granularity,
            &bucket,
            Some(record.requested_model.as_str()),
            &fields,
        );
        if let Some(user_id) = record.user_id.as_deref() {
            let id = format!("{user_id}#{}", record.requested_model);
            counters.push(CounterAdd {
                key: rollup_key(granularity, Dimension::PersonModel, &id, &bucket),
                family: person_model_family(granularity, user_id, &bucket),
                adds: fields.clone(),
            });
        }
    }

    SpendDelta {
        request_id: record.request_id.clone(),
        marker_expires_at_s: record.time_ms / 1000 + MARKER_TTL_S,
        counters,
    }
}

/// Adds `fields` to the rollups of one bucket: the record's key, person and team, and `model` when given.
fn rollups(
    counters: &mut Vec<CounterAdd>,
    record: &UsageRecord,
    granularity: Granularity,
    bucket: &str,
    model: Option<&str>,
    fields: &BTreeMap<String, u64>,
) {
    let dimensions = [
        (Dimension::Key, Some(record.key_id.as_str())),
        (Dimension::User, record.user_id.as_deref()),
        (Dimension::Team, record.team_id.as_deref()),
        (Dimension::Model, model),
    ];
    for (dimension, id) in dimensions {
        if let Some(id) = id {
            counters.push(CounterAdd {
                key: rollup_key(granularity, dimension, id, bucket),
                family: rollup_family(granularity, dimension, bucket),
                adds: fields.clone(),
            });
        }
    }
}

/// A policy refusal adds to the hourly and daily rollups of its key, person and team only: no spend, no request.
fn refusal_delta(record: &UsageRecord, policy: &str) -> SpendDelta {
    let fields: BTreeMap<String, u64> = [
        (POLICY_REFUSALS.to_owned(), 1),
        (format!("{POLICY_REFUSED_PREFIX}{policy}"), 1),
    ]
    .into();
    let mut counters = Vec::new();
    for granularity in [Granularity::Hour, Granularity::Day] {
        let bucket = granularity.bucket(record.time_ms);
        rollups(&mut counters, record, granularity, &bucket, None, &fields);
    }
    SpendDelta {
        request_id: record.request_id.clone(),
        marker_expires_at_s: record.time_ms / 1000 + MARKER_TTL_S,
        counters,
    }
}

fn rollup_fields(record: &UsageRecord, money: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    let mut fields = money.clone();
    let mut add = |name: &str, value: u64| {
        if value > 0 {
            *fields.entry(name.to_owned()).or_insert(0) += value;
        }
    };
    add(INPUT_TOKENS, record.input_tokens);
    add(OUTPUT_TOKENS, record.output_tokens);
    add(CACHE_READ_TOKENS, record.cache_read_tokens);
    add(CACHE_WRITE_TOKENS, record.cache_write_tokens);
    add(INCOMPLETE, u64::from(record.outcome != Outcome::Complete));
    add(STREAMED, u64::from(record.stream));
    add(THINKING, u64::from(record.thinking));
    add(DURATION_SUM, record.duration_ms);
    if let Some(ttfb) = record.ttfb_ms {
        add(TTFB_SUM, ttfb);
        add(TTFB_COUNT, 1);
    }
    add(&latency_bucket_field(record.duration_ms), 1);
    for tool in &record.tool_names {
        add(&format!("{TOOL_PREFIX}{tool}"), 1);
    }
    fields
}

/// The histogram field a request of `duration_ms` counts in: `lat_le_<bound>` or `lat_gt_<last bound>`.
#[must_use]
pub fn latency_bucket_field(duration_ms: u64) -> String {
    match LATENCY_BOUNDS_MS
        .iter()
        .find(|bound| duration_ms <= **bound)
    {
        Some(bound) => format!("lat_le_{bound}"),
        None => format!("lat_gt_{}", LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.len() - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(cost: Option<u64>) -> UsageRecord {
        UsageRecord {
            request_id: "req_1".into(),
            // 2026-11-22T09:30:00Z, a Sunday.
            time_ms: 1_795_339_800_000,
            key_id: "key_a".into(),
            user_id: Some("u1".into()),
            team_id: Some("t1".into()),
            requested_model: "claude-sonnet-4-5".into(),
            bedrock_model_id: "us.anthropic.claude-sonnet-4-5-v1:0".into(),
            stream: true,
            input_tokens: 10,
            output_tokens: 20,
            cache_read_tokens: 30,
            cache_write_tokens: 40,
            cache_write_5m_tokens: None,
            cache_write_1h_tokens: None,
            stop_reason: Some("end_turn".into()),
            duration_ms: 1_200,
            ttfb_ms: Some(300),
            invocation_metrics: None,
            tool_names: vec!["Bash".into(), "Read".into(), "Bash".into()],
            thinking: false,
            session_id: None,
            endpoint: None,
            region: None,
            outcome: Outcome::Complete,
            cost_micros: cost,
            policy_refusal: None,
        }
    }

    fn find<'a>(delta: &'a SpendDelta, key: &str) -> &'a CounterAdd {
        delta
            .counters
            .iter()
            .find(|c| c.key == key)
            .unwrap_or_else(|| panic!("no counter {key} in {:#?}", delta.counters))
    }

    #[test]
    fn a_priced_record_adds_its_cost_to_every_period_of_user_team_and_org() {
        let delta = spend_delta(&record(Some(1_234)));
        for key in [
            "spend#user#u1#d2026-11-22",
            "spend#user#u1#w2026-11-16",
            "spend#user#u1#m2026-11",
            "spend#team#t1#d2026-11-22",
            "spend#team#t1#m2026-11",
            "spend#org#org#w2026-11-16",
        ] {
            let counter = find(&delta, key);
            assert_eq!(counter.adds.get(COST), Some(&1_234), "{key}");
            assert_eq!(counter.adds.get(REQUESTS), Some(&1), "{key}");
            assert_eq!(counter.adds.get(UNPRICED_REQUESTS), None, "{key}");
        }
        assert_eq!(
            find(&delta, "spend#user#u1#m2026-11").family,
            "spend#m2026-11"
        );
        // 9 period counters + 2 granularities × (4 dimensions + person × model).
        assert_eq!(delta.counters.len(), 19);
        assert_eq!(delta.request_id, "req_1");
    }

    #[test]
    fn an_unpriced_record_is_charged_at_its_family_fallback_and_counted_as_unpriced() {
        let mut r = record(None);
        r.bedrock_model_id = "us.anthropic.claude-sonnet-9-v1:0".into();
        let delta = spend_delta(&r);
        let counter = find(&delta, "spend#user#u1#d2026-11-22");
        // Sonnet's dearest seeded rates: 10 in × $3 + 20 out × $15 + 30 read × $0.30 + 40 write × $3.75 per MTok
        // = 30 + 300 + 9 + 150 µ$.
        assert_eq!(counter.adds.get(COST), Some(&489));
        assert_eq!(counter.adds.get(UNPRICED_REQUESTS), Some(&1));
        assert_eq!(counter.adds.get(UNPRICED_TOKENS), Some(&100));
    }

    #[test]
    fn rollups_carry_tokens_latency_bucket_and_tools_of_this_turn() {
        let delta = spend_delta(&record(Some(5)));
        let hour = find(&delta, "rollup#h#model#claude-sonnet-4-5#2026-11-22T09");
        assert_eq!(hour.family, "rollup#h#model#2026-11-22T09");
        assert_eq!(hour.adds.get(INPUT_TOKENS), Some(&10));
        assert_eq!(hour.adds.get(CACHE_WRITE_TOKENS), Some(&40));
        assert_eq!(hour.adds.get("lat_le_2000"), Some(&1));
        assert_eq!(hour.adds.get("tool.Bash"), Some(&2));
        assert_eq!(hour.adds.get("tool.Read"), Some(&1));
        assert_eq!(hour.adds.get(TTFB_SUM), Some(&300));
        assert_eq!(hour.adds.get(INCOMPLETE), None);
        let day = find(&delta, "rollup#d#key#key_a#2026-11-22");
        assert_eq!(day.adds.get(COST), Some(&5));
        let mine = find(
            &delta,
            "rollup#h#person_model#u1#claude-sonnet-4-5#2026-11-22T09",
        );
        assert_eq!(mine.family, "rollup#h#person_model#u1#2026-11-22T09");
        assert_eq!(mine.adds, hour.adds);
    }

    #[test]
    fn records_without_user_or_team_skip_those_counters() {
        let mut r = record(Some(5));
        r.user_id = None;
        r.team_id = None;
        r.outcome = Outcome::ClientDisconnected;
        let delta = spend_delta(&r);
        assert!(delta.counters.iter().all(|c| !c.key.contains("#user#")
            && !c.key.contains("#team#")
            && !c.key.contains("#person_model#")));
        assert_eq!(delta.counters.len(), 3 + 4);
        let day = find(&delta, "rollup#d#key#key_a#2026-11-22");
        assert_eq!(day.adds.get(INCOMPLETE), Some(&1));
    }

    #[test]
    fn latency_buckets_are_inclusive_upper_bounds_with_an_overflow_bucket() {
        assert_eq!(latency_bucket_field(0), "lat_le_250");
        assert_eq!(latency_bucket_field(250), "lat_le_250");
        assert_eq!(latency_bucket_field(251), "lat_le_500");
        assert_eq!(latency_bucket_field(300_001), "lat_gt_300000");
    }
}
