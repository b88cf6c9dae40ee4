//! Per-model prices and the exact cost of a request.
//!
//! Rates are integer micro-dollars per million tokens, so `tokens × rate / 10⁶` is micro-dollars; the products
//! are summed in `u128` and rounded once, which makes a cost exact, deterministic and free of float drift.
//! A model is priced by the longest prefix in the table that matches its id (requested id or Bedrock id, with
//! the Bedrock `us.anthropic.` style prefix also tried stripped), so `claude-sonnet-4-5…` takes a
//! `claude-sonnet-4-5` row over `claude-sonnet-4`. Every catalogued model has a row (tested). A model no row
//! matches is `Unpriced` on its usage record, so admins see it needs a row, but it is never free: the spend
//! counters budgets judge on charge it at the fallback price of `super::fallback`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The date of the seeded figures below.
pub const SEED_PRICES_AS_OF: &str = "2025-11-24";

/// One model's rates, in micro-dollars per million tokens (`3_000_000` = $3 / MTok).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelPrice {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write_5m: u64,
    pub cache_write_1h: u64,
}

/// Where a price row came from; an admin row replaces a seeded row with the same prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceSource {
    Seed,
    Admin,
}

const fn usd(input: u64, output: u64, cache_read: u64, write_5m: u64, write_1h: u64) -> ModelPrice {
    ModelPrice {
        input,
        output,
        cache_read,
        cache_write_5m: write_5m,
        cache_write_1h: write_1h,
    }
}

/// Seeded prices: the on-demand list prices of Anthropic models on Amazon Bedrock (standard tier, global
/// cross-region inference) as of [`SEED_PRICES_AS_OF`], from the Amazon Bedrock pricing page, which matches
/// Anthropic's own price list. Cache writes cost 1.25× input for a 5-minute TTL and 2× input for 1 hour; cache
/// reads 0.1× input. Not modelled: the regional-endpoint premium and long-context (> 200k input) rates; an
/// admin override with a longer prefix (e.g. `us.anthropic.claude-sonnet-4-5`) covers the first.
const SEED: &[(&str, ModelPrice)] = &[
    // Opus 4.5 and later 4.x: $5 / $25.
    (
        "claude-opus-4",
        usd(5_000_000, 25_000_000, 500_000, 6_250_000, 10_000_000),
    ),
    // Opus 4 and 4.1 kept the original Opus price: $15 / $75. `claude-opus-4-2…` is Opus 4's dated id.
    (
        "claude-opus-4-1",
        usd(15_000_000, 75_000_000, 1_500_000, 18_750_000, 30_000_000),
    ),
    (
        "claude-opus-4-2",
        usd(15_000_000, 75_000_000, 1_500_000, 18_750_000, 30_000_000),
    ),
    (
        "claude-sonnet-4",
        usd(3_000_000, 15_000_000, 300_000, 3_750_000, 6_000_000),
    ),
    (
        "claude-3-7-sonnet",
        usd(3_000_000, 15_000_000, 300_000, 3_750_000, 6_000_000),
    ),
    (
        "claude-haiku-4",
        usd(1_000_000, 5_000_000, 100_000, 1_250_000, 2_000_000),
    ),
    // Claude 3.x, still reachable by raw Bedrock id: Anthropic's list prices for those models.
    (
        "claude-3-opus",
        usd(15_000_000, 75_000_000, 1_500_000, 18_750_000, 30_000_000),
    ),
    (
        "claude-3-5-sonnet",
        usd(3_000_000, 15_000_000, 300_000, 3_750_000, 6_000_000),
    ),
    (
        "claude-3-5-haiku",
        usd(800_000, 4_000_000, 80_000, 1_000_000, 1_600_000),
    ),
    (
        "claude-3-haiku",
        usd(250_000, 1_250_000, 30_000, 300_000, 500_000),
    ),
    // Fable 5 has no published price: it is charged as the dearest row of the book (Opus 4 / 4.1 rates) until
    // an admin row (`PUT /admin/pricing/claude-fable-5`) says otherwise.
    (
        "claude-fable-5",
        usd(15_000_000, 75_000_000, 1_500_000, 18_750_000, 30_000_000),
    ),
];

/// Token counts of one request, by kind. `cache_write` is the total of cache-creation tokens; the
/// 5-minute / 1-hour split is given when the upstream reported it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenUsage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub cache_write_5m: Option<u64>,
    pub cache_write_1h: Option<u64>,
}

impl TokenUsage {
    /// Cache-write tokens as (5-minute, 1-hour). Without a split, every write is priced at the 5-minute rate
    /// (the default TTL); with a partial split the unexplained remainder of the total goes to 5 minutes too.
    #[must_use]
    pub fn cache_write_split(&self) -> (u64, u64) {
        let one_hour = match (self.cache_write_5m, self.cache_write_1h) {
            (_, Some(h)) => h,
            (Some(f), None) => self.cache_write.saturating_sub(f),
            (None, None) => 0,
        };
        let five_min = self
            .cache_write_5m
            .unwrap_or(0)
            .max(self.cache_write.saturating_sub(one_hour));
        (five_min, one_hour)
    }
}

/// The row that priced a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceMatch {
    pub prefix: String,
    pub price: ModelPrice,
    pub source: PriceSource,
}

/// The cost of a request, or the fact that its model has no price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Priced {
    Priced { micros: u64, prefix: String },
    Unpriced,
}

impl Priced {
    /// The cost in micro-dollars, `None` when unpriced.
    #[must_use]
    pub fn micros(&self) -> Option<u64> {
        match self {
            Self::Priced { micros, .. } => Some(*micros),
            Self::Unpriced => None,
        }
    }
}

impl ModelPrice {
    /// The exact cost of `usage` at these rates, in micro-dollars rounded half up (saturating at `u64::MAX`).
    #[must_use]
    pub fn cost_micros(&self, usage: &TokenUsage) -> u64 {
        let (write_5m, write_1h) = usage.cache_write_split();
        let scaled: u128 = [
            (usage.input, self.input),
            (usage.output, self.output),
            (usage.cache_read, self.cache_read),
            (write_5m, self.cache_write_5m),
            (write_1h, self.cache_write_1h),
        ]
        .iter()
        .map(|&(tokens, rate)| u128::from(tokens) * u128::from(rate))
        .sum();
        u64::try_from((scaled + 500_000) / 1_000_000).unwrap_or(u64::MAX)
    }
}

/// The settings key holding the admin price overrides: a JSON object from model prefix to [`PriceOverride`].
/// Written by the admin API (`PUT/DELETE /admin/pricing/{prefix}`); the gateway reads it at start and every
/// few minutes, so each instance prices with the admin's rows soon after a change.
pub const OVERRIDES_KEY: &str = "pricing.overrides";

/// One admin price row as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceOverride {
    pub price: ModelPrice,
    /// Unix milliseconds of the last change (the row's "as of").
    pub updated_at_ms: i64,
    /// The AWS price-list SKU the admin copied the rates from, if given (CCAG keeps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_sku: Option<String>,
}

/// Every admin price row by prefix (lower-case, trimmed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PriceOverrides(pub BTreeMap<String, PriceOverride>);

impl PriceOverrides {
    /// Parses the stored setting; `null` (a cleared setting) is no overrides.
    ///
    /// # Errors
    /// When the text is not the JSON this type writes.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        Ok(serde_json::from_str::<Option<Self>>(text)?.unwrap_or_default())
    }

    /// The form prefixes are stored and compared in.
    #[must_use]
    pub fn normalize(prefix: &str) -> String {
        prefix.trim().to_ascii_lowercase()
    }

    /// The seeded table with these rows applied.
    #[must_use]
    pub fn table(&self) -> PriceTable {
        PriceTable::with_overrides(
            self.0
                .iter()
                .map(|(prefix, row)| (prefix.clone(), row.price)),
        )
    }
}

/// Seeded rows with admin overrides applied, searched by longest prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceTable {
    /// Longest prefix first, so the first match is the best one.
    rows: Vec<PriceMatch>,
}

impl Default for PriceTable {
    fn default() -> Self {
        Self::seeded()
    }
}

impl PriceTable {
    /// The seeded table alone.
    #[must_use]
    pub fn seeded() -> Self {
        Self::with_overrides(std::iter::empty())
    }

    /// The seeded table with admin rows added; an admin row with a seeded prefix replaces it. Prefixes are
    /// compared lower-case, as model ids are.
    #[must_use]
    pub fn with_overrides(overrides: impl IntoIterator<Item = (String, ModelPrice)>) -> Self {
        let mut rows: Vec<PriceMatch> = SEED
            .iter()
            .map(|(prefix, price)| PriceMatch {
                prefix: (*prefix).to_owned(),
                price: *price,
                source: PriceSource::Seed,
            })
            .collect();
        for (prefix, price) in overrides {
            let prefix = prefix.trim().to_ascii_lowercase();
            if prefix.is_empty() {
                // An empty prefix would price every unknown model silently; unknown must stay visible.
                tracing::warn!("ignoring a price override with an empty model prefix");
                continue;
            }
            rows.retain(|row| row.prefix != prefix);
            rows.push(PriceMatch {
                prefix,
                price,
                source: PriceSource::Admin,
            });
        }
        rows.sort_by(|a, b| {
            b.prefix
                .len()
                .cmp(&a.prefix.len())
                .then_with(|| a.prefix.cmp(&b.prefix))
        });
        Self { rows }
    }

    /// Every row, longest prefix first.
    #[must_use]
    pub fn rows(&self) -> &[PriceMatch] {
        &self.rows
    }

    /// The row pricing `model`: the longest prefix of the id as given or of its form without the Bedrock
    /// routing prefix (`us.anthropic.claude-…` → `claude-…`).
    #[must_use]
    pub fn lookup(&self, model: &str) -> Option<&PriceMatch> {
        let full = model.trim().to_ascii_lowercase();
        let bare = strip_bedrock_prefix(&full);
        self.rows
            .iter()
            .find(|row| full.starts_with(&row.prefix) || bare.starts_with(&row.prefix))
    }

    /// The cost of `usage` on `model`, or `Unpriced` when no row matches.
    #[must_use]
    pub fn price(&self, model: &str, usage: &TokenUsage) -> Priced {
        match self.lookup(model) {
            Some(row) => Priced::Priced {
                micros: row.price.cost_micros(usage),
                prefix: row.prefix.clone(),
            },
            None => Priced::Unpriced,
        }
    }
}

/// `global.anthropic.claude-x` / `anthropic.claude-x` / ARN tails → `claude-x`.
fn strip_bedrock_prefix(id: &str) -> &str {
    let tail = id.rsplit('/').next().unwrap_or(id);
    match tail.find("anthropic.") {
        Some(at) => &tail[at + "anthropic.".len()..],
        None => tail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input: u64, output: u64, cache_read: u64, cache_write: u64) -> TokenUsage {
        TokenUsage {
            input,
            output,
            cache_read,
            cache_write,
            ..TokenUsage::default()
        }
    }

    fn prefix_of(table: &PriceTable, model: &str) -> Option<String> {
        table.lookup(model).map(|row| row.prefix.clone())
    }

    #[test]
    fn costs_every_token_kind_exactly_for_sonnet() {
        // 1000 in × $3 + 500 out × $15 + 2000 read × $0.30 + 400 5m-write × $3.75 + 100 1h-write × $6, per MTok:
        // 3000 + 7500 + 600 + 1500 + 600 = 13 200 µ$.
        let u = TokenUsage {
            input: 1000,
            output: 500,
            cache_read: 2000,
            cache_write: 500,
            cache_write_5m: Some(400),
            cache_write_1h: Some(100),
        };
        let priced = PriceTable::seeded().price("claude-sonnet-4-5-20250929", &u);
        assert_eq!(
            priced,
            Priced::Priced {
                micros: 13_200,
                prefix: "claude-sonnet-4".to_owned()
            }
        );
    }

    #[test]
    fn costs_opus_4_5_at_the_new_price_and_opus_4_1_at_the_old_one() {
        let u = usage(1_000_000, 1_000_000, 1_000_000, 1_000_000);
        let table = PriceTable::seeded();
        // $5 + $25 + $0.50 + $6.25 = $36.75
        assert_eq!(
            table.price("claude-opus-4-5-20251101", &u).micros(),
            Some(36_750_000)
        );
        // $15 + $75 + $1.50 + $18.75 = $110.25
        assert_eq!(
            table.price("claude-opus-4-1-20250805", &u).micros(),
            Some(110_250_000)
        );
        assert_eq!(
            table.price("claude-opus-4-20250514", &u).micros(),
            Some(110_250_000)
        );
    }

    #[test]
    fn costs_haiku_4_5_including_one_hour_writes() {
        let u = TokenUsage {
            cache_write: 1_000_000,
            cache_write_1h: Some(1_000_000),
            ..TokenUsage::default()
        };
        assert_eq!(
            PriceTable::seeded().price("claude-haiku-4-5", &u).micros(),
            Some(2_000_000)
        );
    }

    #[test]
    fn prices_all_cache_writes_at_the_five_minute_rate_when_the_split_is_unknown() {
        let u = usage(0, 0, 0, 1_000_000);
        assert_eq!(
            PriceTable::seeded().price("claude-sonnet-4-5", &u).micros(),
            Some(3_750_000)
        );
    }

    #[test]
    fn splits_a_partial_report_against_the_total() {
        let only_1h = TokenUsage {
            cache_write: 10,
            cache_write_1h: Some(4),
            ..TokenUsage::default()
        };
        assert_eq!(only_1h.cache_write_split(), (6, 4));
        let only_5m = TokenUsage {
            cache_write: 10,
            cache_write_5m: Some(7),
            ..TokenUsage::default()
        };
        assert_eq!(only_5m.cache_write_split(), (7, 3));
        let short = TokenUsage {
            cache_write: 10,
            cache_write_5m: Some(2),
            cache_write_1h: Some(3),
            ..TokenUsage::default()
        };
        assert_eq!(
            short.cache_write_split(),
            (7, 3),
            "unexplained writes go to the 5-minute rate"
        );
    }

    #[test]
    fn rounds_to_the_nearest_micro_dollar_once_over_the_sum() {
        let table = PriceTable::seeded();
        // 1 haiku cache-read token = 0.1 µ$; alone it rounds to 0, ten of them are exactly 1 µ$.
        assert_eq!(
            table.price("claude-haiku-4-5", &usage(0, 0, 1, 0)).micros(),
            Some(0)
        );
        assert_eq!(
            table
                .price("claude-haiku-4-5", &usage(0, 0, 10, 0))
                .micros(),
            Some(1)
        );
        // 5 cache reads + 0 = 0.5 µ$ rounds half up to 1.
        assert_eq!(
            table.price("claude-haiku-4-5", &usage(0, 0, 5, 0)).micros(),
            Some(1)
        );
        // Rounding once: 3 tokens of 0.1 µ$ plus 1 input (1 µ$) is 1.3 → 1, not 0 + 0 + 0 + 1.
        assert_eq!(
            table.price("claude-haiku-4-5", &usage(1, 0, 3, 0)).micros(),
            Some(1)
        );
    }

    #[test]
    fn saturates_instead_of_overflowing_on_absurd_counts() {
        let u = usage(u64::MAX, u64::MAX, u64::MAX, u64::MAX);
        let cost = PriceTable::seeded().price("claude-opus-4-1", &u).micros();
        assert_eq!(cost, Some(u64::MAX));
    }

    #[test]
    fn matches_the_longest_prefix_only() {
        let table = PriceTable::with_overrides([(
            "claude-sonnet-4-5".to_owned(),
            usd(6_000_000, 22_500_000, 600_000, 7_500_000, 12_000_000),
        )]);
        assert_eq!(
            prefix_of(&table, "claude-sonnet-4-5-20250929").as_deref(),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(
            prefix_of(&table, "claude-sonnet-4-20250514").as_deref(),
            Some("claude-sonnet-4")
        );
        assert_eq!(
            prefix_of(&table, "claude-opus-4-1").as_deref(),
            Some("claude-opus-4-1")
        );
        assert_eq!(
            prefix_of(&table, "claude-opus-4-6").as_deref(),
            Some("claude-opus-4")
        );
    }

    #[test]
    fn prices_bedrock_ids_and_arns_like_their_anthropic_names() {
        let table = PriceTable::seeded();
        for id in [
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "Claude-Sonnet-4-5[1m]",
        ] {
            assert_eq!(
                prefix_of(&table, id).as_deref(),
                Some("claude-sonnet-4"),
                "{id}"
            );
        }
    }

    #[test]
    fn an_admin_override_with_the_full_bedrock_id_beats_the_bare_name() {
        let regional = usd(3_300_000, 16_500_000, 330_000, 4_125_000, 6_600_000);
        let table =
            PriceTable::with_overrides([("US.anthropic.claude-sonnet-4-5".to_owned(), regional)]);
        let row = table.lookup("us.anthropic.claude-sonnet-4-5-20250929-v1:0");
        assert_eq!(
            row.map(|r| (r.price, r.source)),
            Some((regional, PriceSource::Admin))
        );
        let global = table.lookup("global.anthropic.claude-sonnet-4-5-20250929-v1:0");
        assert_eq!(global.map(|r| r.source), Some(PriceSource::Seed));
    }

    #[test]
    fn an_admin_override_replaces_the_seeded_row_with_the_same_prefix() {
        let cheap = usd(1, 1, 1, 1, 1);
        let table = PriceTable::with_overrides([("claude-haiku-4".to_owned(), cheap)]);
        let row = table.lookup("claude-haiku-4-5");
        assert_eq!(
            row.map(|r| (r.price, r.source)),
            Some((cheap, PriceSource::Admin))
        );
        assert_eq!(
            table
                .rows
                .iter()
                .filter(|r| r.prefix == "claude-haiku-4")
                .count(),
            1
        );
    }

    #[test]
    fn an_empty_override_prefix_is_ignored_so_unknown_models_stay_unpriced() {
        let table = PriceTable::with_overrides([("  ".to_owned(), usd(1, 1, 1, 1, 1))]);
        assert_eq!(
            table.price("mistral-large", &usage(10, 10, 0, 0)),
            Priced::Unpriced
        );
    }

    #[test]
    fn stored_overrides_round_trip_and_replace_seeded_rows() {
        let mut overrides = PriceOverrides::default();
        overrides.0.insert(
            PriceOverrides::normalize(" Claude-Haiku-4 "),
            PriceOverride {
                price: usd(2, 2, 2, 2, 2),
                updated_at_ms: 1,
                aws_sku: None,
            },
        );
        let text = serde_json::to_string(&overrides).expect("encodes");
        let back = PriceOverrides::parse(&text).expect("parses");
        assert_eq!(back, overrides);
        assert_eq!(
            PriceOverrides::parse("null").expect("null"),
            PriceOverrides::default()
        );
        let table = back.table();
        assert_eq!(
            table.lookup("claude-haiku-4-5").map(|r| r.source),
            Some(PriceSource::Admin)
        );
        assert_eq!(table.rows().len(), PriceTable::seeded().rows().len());
    }

    #[test]
    fn every_catalogued_model_has_a_price_row_by_any_of_its_ids() {
        let table = PriceTable::seeded();
        for entry in crate::models::CATALOG {
            let ids = [entry.id, entry.bedrock_base]
                .into_iter()
                .chain(entry.aliases.iter().copied())
                .map(str::to_owned)
                .chain(["us", "eu", "global"].map(|geo| format!("{geo}.{}", entry.bedrock_base)));
            for id in ids {
                assert!(table.lookup(&id).is_some(), "{id} has no price row");
            }
        }
    }

    #[test]
    fn claude_3_5_haiku_by_raw_bedrock_id_is_priced_at_its_list_price() {
        let u = usage(1_000_000, 1_000_000, 0, 0);
        // $0.80 + $4.00
        assert_eq!(
            PriceTable::seeded()
                .price("us.anthropic.claude-3-5-haiku-20241022-v1:0", &u)
                .micros(),
            Some(4_800_000)
        );
    }

    #[test]
    fn an_unknown_model_is_unpriced() {
        let table = PriceTable::seeded();
        assert_eq!(
            table.price("claude-instant-1", &usage(1000, 1000, 0, 0)),
            Priced::Unpriced
        );
        assert_eq!(table.price("", &usage(1, 1, 1, 1)), Priced::Unpriced);
        assert_eq!(Priced::Unpriced.micros(), None);
    }
}
