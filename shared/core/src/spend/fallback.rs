//! The price of a model no row prices. Such a model is never free: a budget that a priced model exhausts would
//! otherwise stay open on any model the price book does not list (a catalogued model without a row, a raw Bedrock
//! id, an application inference profile ARN).
//!
//! The rule: the record stays *unpriced* (its `cost_micros` is `None`, which is what finance sees in the CSV and
//! in the analytics' `unpriced_models`: "this model needs a price row"), and the spend counters budgets judge on
//! are charged at the **fallback price** — the highest rate of each kind among the rows of the family the Bedrock
//! id names (`opus`, `sonnet`, `haiku`, as a whole word of the id), or among every row of the book when it names
//! none. Only the Bedrock id counts, not the requested name: the requested name of a mapping is chosen by whoever
//! wrote the mapping, the Bedrock id is what runs. An id naming several families takes the highest of all of them.

use super::pricing::{ModelPrice, PriceTable, TokenUsage};

/// The families a model id can name.
pub const FAMILIES: [&str; 3] = ["opus", "sonnet", "haiku"];

/// The families named in `id` as whole words (split at anything that is not a letter or digit).
#[must_use]
pub fn families_named(id: &str) -> Vec<&'static str> {
    let lower = id.to_ascii_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    FAMILIES
        .into_iter()
        .filter(|family| words.contains(family))
        .collect()
}

/// What an unpriced model is charged at, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallbackPrice {
    pub price: ModelPrice,
    /// `family:opus` (the families named, joined by `+`) or `book` (no family named or none of its rows found).
    pub basis: String,
}

fn max_rates(rows: impl Iterator<Item = ModelPrice>) -> Option<ModelPrice> {
    rows.reduce(|a, b| ModelPrice {
        input: a.input.max(b.input),
        output: a.output.max(b.output),
        cache_read: a.cache_read.max(b.cache_read),
        cache_write_5m: a.cache_write_5m.max(b.cache_write_5m),
        cache_write_1h: a.cache_write_1h.max(b.cache_write_1h),
    })
}

/// The fallback price of `bedrock_model_id` in `table` (see the module doc).
#[must_use]
pub fn fallback_price(table: &PriceTable, bedrock_model_id: &str) -> FallbackPrice {
    let families = families_named(bedrock_model_id);
    let in_family = max_rates(
        table
            .rows()
            .iter()
            .filter(|row| {
                families_named(&row.prefix)
                    .iter()
                    .any(|f| families.contains(f))
            })
            .map(|row| row.price),
    );
    match in_family {
        Some(price) => FallbackPrice {
            price,
            basis: format!("family:{}", families.join("+")),
        },
        None => FallbackPrice {
            // The seeded rows are always in the table, so the book is never empty; the zero price is unreachable.
            price: max_rates(table.rows().iter().map(|row| row.price)).unwrap_or(ModelPrice {
                input: 0,
                output: 0,
                cache_read: 0,
                cache_write_5m: 0,
                cache_write_1h: 0,
            }),
            basis: "book".to_owned(),
        },
    }
}

/// What a record with these tokens is charged: its recorded cost, else its tokens at the fallback price.
#[must_use]
pub fn charged_micros(
    table: &PriceTable,
    cost_micros: Option<u64>,
    bedrock_model_id: &str,
    tokens: &TokenUsage,
) -> u64 {
    cost_micros.unwrap_or_else(|| {
        fallback_price(table, bedrock_model_id)
            .price
            .cost_micros(tokens)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(input: u64, output: u64) -> TokenUsage {
        TokenUsage {
            input,
            output,
            ..TokenUsage::default()
        }
    }

    #[test]
    fn families_are_whole_words_of_the_id() {
        assert_eq!(
            families_named("us.anthropic.claude-3-5-haiku-20241022-v1:0"),
            ["haiku"]
        );
        assert_eq!(families_named("anthropic.claude-OPUS-9"), ["opus"]);
        assert!(
            families_named("arn:aws:bedrock:us-east-1:1:application-inference-profile/abc")
                .is_empty()
        );
        assert!(families_named("claude-haikus-1").is_empty(), "not a word");
        assert_eq!(
            families_named("eu.anthropic.claude-opus-haiku"),
            ["opus", "haiku"]
        );
    }

    #[test]
    fn an_unknown_opus_is_charged_the_dearest_opus_rates() {
        let f = fallback_price(&PriceTable::seeded(), "us.anthropic.claude-opus-9-v1:0");
        assert_eq!(f.basis, "family:opus");
        // Opus 4 / 4.1 / 3: $15 in, $75 out per MTok.
        assert_eq!((f.price.input, f.price.output), (15_000_000, 75_000_000));
    }

    #[test]
    fn an_unknown_haiku_is_charged_the_dearest_haiku_rates() {
        let f = fallback_price(&PriceTable::seeded(), "global.anthropic.claude-haiku-9");
        assert_eq!(f.basis, "family:haiku");
        assert_eq!((f.price.input, f.price.output), (1_000_000, 5_000_000));
    }

    #[test]
    fn an_id_without_a_family_is_charged_the_dearest_rates_of_the_book() {
        let arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/x1";
        let f = fallback_price(&PriceTable::seeded(), arn);
        assert_eq!(f.basis, "book");
        assert_eq!((f.price.input, f.price.output), (15_000_000, 75_000_000));
    }

    #[test]
    fn an_admin_row_dearer_than_the_seed_raises_its_family_fallback() {
        let dear = ModelPrice {
            input: 20_000_000,
            output: 100_000_000,
            cache_read: 2_000_000,
            cache_write_5m: 25_000_000,
            cache_write_1h: 40_000_000,
        };
        let table = PriceTable::with_overrides([("claude-sonnet-9".to_owned(), dear)]);
        let f = fallback_price(&table, "us.anthropic.claude-sonnet-10");
        assert_eq!(f.price, dear);
    }

    #[test]
    fn an_unpriced_record_is_never_free_and_a_priced_one_keeps_its_cost() {
        let table = PriceTable::seeded();
        let charged = charged_micros(&table, None, "mystery-model", &tokens(10, 10));
        // 10 × $15 + 10 × $75 per MTok = 150 + 750 µ$.
        assert_eq!(charged, 900);
        assert_eq!(
            charged_micros(&table, Some(7), "mystery-model", &tokens(10, 10)),
            7
        );
    }
}
