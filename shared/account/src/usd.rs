//! Money at the admin API's edge: CCAG sends and expects USD as JSON numbers; inside, amounts are integer
//! micro-dollars. A number is turned into micro-dollars through its shortest decimal form (`12.3` → `"12.3"`
//! → 12 300 000), never by multiplying a float, so what the admin typed is what is stored. Typed bodies read
//! amounts as [`Usd`]; typed answers show them as [`Cents`] (spend, limits), [`Exact`] (rates) or [`Percent`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use sluice_core::error::ApiError;
use sluice_core::spend::money::{MICROS_PER_USD, Rounding, format_usd, parse_usd};

/// A non-negative USD amount (number, or a string such as `"12.50"`) in micro-dollars, at most 6 decimals.
pub(super) fn micros(field: &str, value: &Value) -> Result<u64, ApiError> {
    amount(value, |why| ApiError::invalid(format!("{field}: {why}")))
}

/// [`micros`]' reading, its refusal (`why`) made into the caller's error.
fn amount<E>(value: &Value, bad: impl Fn(&str) -> E) -> Result<u64, E> {
    let text = match value {
        Value::Number(n) => {
            if let Some(whole) = n.as_u64() {
                return whole
                    .checked_mul(MICROS_PER_USD)
                    .ok_or_else(|| bad("the amount is too large"));
            }
            match n.as_f64() {
                Some(f) if f.is_finite() && f >= 0.0 => format!("{f}"),
                Some(_) => return Err(bad("must not be negative")),
                None => return Err(bad("must be an amount in USD")),
            }
        }
        Value::String(s) => s.clone(),
        _ => return Err(bad("must be an amount in USD (a number)")),
    };
    parse_usd(&text).map_err(|e| bad(&e.to_string()))
}

/// A USD amount in a typed request body, in micro-dollars, read as [`micros`] reads it; through
/// `views::body` a refusal reads `budget_amount_usd: must not be negative`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Usd(pub u64);

impl<'de> Deserialize<'de> for Usd {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        amount(&value, |why| serde::de::Error::custom(why)).map(Self)
    }
}

/// A decimal text (`"12.35"`) as a JSON number.
fn number(text: &str) -> Value {
    text.parse::<serde_json::Number>()
        .map_or(Value::Null, Value::Number)
}

/// Micro-dollars as a USD number rounded to the cent (spend, limits).
fn cents(micros: u64) -> Value {
    number(&format_usd(micros, Rounding::Nearest))
}

/// Micro-dollars as an exact USD number (rates per million tokens, e.g. `0.3`, `3.75`).
fn exact(micros: u64) -> Value {
    let whole = micros / MICROS_PER_USD;
    let fraction = micros % MICROS_PER_USD;
    if fraction == 0 {
        return Value::from(whole);
    }
    let digits = format!("{fraction:06}");
    number(&format!("{whole}.{}", digits.trim_end_matches('0')))
}

/// A share in basis points (as `Decision::percent_bp`) as a percentage number with two decimals, floored.
fn percent(basis_points: u64) -> Value {
    number(&format!("{}.{:02}", basis_points / 100, basis_points % 100))
}

/// Micro-dollars in a typed answer, as [`cents`] shows them (`Option<Cents>` is `null` for no amount).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cents(pub u64);

impl Serialize for Cents {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        cents(self.0).serialize(serializer)
    }
}

/// Micro-dollars in a typed answer, as [`exact`] shows them (rates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Exact(pub u64);

impl Serialize for Exact {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        exact(self.0).serialize(serializer)
    }
}

/// Basis points in a typed answer, as [`percent`] shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Percent(pub u64);

impl Serialize for Percent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        percent(self.0).serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_become_exact_micro_dollars() {
        assert_eq!(micros("x", &json!(12)).ok(), Some(12_000_000));
        assert_eq!(micros("x", &json!(12.3)).ok(), Some(12_300_000));
        assert_eq!(micros("x", &json!(0.1)).ok(), Some(100_000));
        assert_eq!(micros("x", &json!(0.000_001)).ok(), Some(1));
        assert_eq!(micros("x", &json!("7.25")).ok(), Some(7_250_000));
        assert_eq!(
            serde_json::from_value::<Usd>(json!("12.30")).ok(),
            Some(Usd(12_300_000))
        );
    }

    #[test]
    fn negative_overprecise_and_non_numbers_are_refused_with_the_field_name() {
        for bad in [
            json!(-1),
            json!(0.000_000_1),
            json!(true),
            json!("abc"),
            json!(1e30),
        ] {
            let e = micros("budget_amount_usd", &bad).expect_err("refused");
            assert!(
                e.message.starts_with("budget_amount_usd: "),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn amounts_go_out_as_cents_or_exact_rates() {
        assert_eq!(cents(12_345_000), json!(12.35));
        assert_eq!(cents(0), json!(0.0));
        assert_eq!(exact(300_000), json!(0.3));
        assert_eq!(exact(3_750_000), json!(3.75));
        assert_eq!(exact(15_000_000), json!(15));
        assert_eq!(percent(2_470), json!(24.7));
        let typed = json!({
            "cents": Cents(12_345_000),
            "none": Option::<Cents>::None,
            "exact": Exact(300_000),
            "percent": Percent(2_470),
        });
        assert_eq!(
            typed,
            json!({"cents": 12.35, "none": null, "exact": 0.3, "percent": 24.7})
        );
    }
}
