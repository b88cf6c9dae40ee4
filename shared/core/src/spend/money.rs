//! Money as integer micro-dollars (1 USD = 1 000 000). Counters and comparisons never see a float, so sums
//! are exact and the same on every host; strings are parsed and formatted by hand for the same reason.

/// Micro-dollars in one dollar.
pub const MICROS_PER_USD: u64 = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("an amount in USD must be digits with at most 6 decimals, got {0:?}")]
    Malformed(String),
    #[error("the amount {0:?} is too large")]
    TooLarge(String),
}

/// Parses a non-negative USD amount such as `"12"`, `"3.75"` or `"0.000001"` into micro-dollars.
///
/// # Errors
/// `Malformed` for signs, exponents, more than 6 decimals or anything but digits and one dot;
/// `TooLarge` when the amount does not fit in `u64` micro-dollars.
pub fn parse_usd(text: &str) -> Result<u64, MoneyError> {
    let malformed = || MoneyError::Malformed(text.to_owned());
    let trimmed = text.trim().strip_prefix('$').unwrap_or(text.trim());
    let (whole, fraction) = trimmed.split_once('.').unwrap_or((trimmed, ""));
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty())
        || !digits_only(whole)
        || !digits_only(fraction)
        || fraction.len() > 6
    {
        return Err(malformed());
    }
    let too_large = || MoneyError::TooLarge(text.to_owned());
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_large())?
    };
    let fraction_micros: u64 = format!("{fraction:0<6}").parse().map_err(|_| malformed())?;
    whole
        .checked_mul(MICROS_PER_USD)
        .and_then(|w| w.checked_add(fraction_micros))
        .ok_or_else(too_large)
}

/// How an amount is brought to whole cents for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Half a cent and more rounds up: for amounts spent and limits.
    Nearest,
    /// Always down: for what remains, so a header never promises money that is not there.
    Down,
}

/// Formats micro-dollars as USD with two decimals and no sign, e.g. `12.35`.
#[must_use]
pub fn format_usd(micros: u64, rounding: Rounding) -> String {
    let per_cent = MICROS_PER_USD / 100;
    let cents = match rounding {
        Rounding::Nearest => (u128::from(micros) + u128::from(per_cent / 2)) / u128::from(per_cent),
        Rounding::Down => u128::from(micros / per_cent),
    };
    format!("{}.{:02}", cents / 100, cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_whole_and_fractional_dollars_exactly() {
        assert_eq!(parse_usd("12"), Ok(12_000_000));
        assert_eq!(parse_usd("3.75"), Ok(3_750_000));
        assert_eq!(parse_usd("0.000001"), Ok(1));
        assert_eq!(parse_usd(".5"), Ok(500_000));
        assert_eq!(parse_usd(" $100.10 "), Ok(100_100_000));
        assert_eq!(parse_usd("0"), Ok(0));
    }

    #[test]
    fn rejects_negative_exponent_and_overprecise_amounts() {
        for bad in [
            "-1",
            "1e3",
            "1.0000001",
            "",
            ".",
            "1.2.3",
            "abc",
            "+5",
            "1,5",
        ] {
            assert!(
                matches!(parse_usd(bad), Err(MoneyError::Malformed(_))),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn rejects_amounts_that_overflow_the_counter() {
        assert!(matches!(
            parse_usd("99999999999999999999"),
            Err(MoneyError::TooLarge(_))
        ));
        assert!(matches!(
            parse_usd("18446744073709.551616"),
            Err(MoneyError::TooLarge(_))
        ));
    }

    #[test]
    fn formats_to_the_nearest_cent_or_down() {
        assert_eq!(format_usd(12_345_000, Rounding::Nearest), "12.35");
        assert_eq!(format_usd(12_345_000, Rounding::Down), "12.34");
        assert_eq!(format_usd(0, Rounding::Nearest), "0.00");
        assert_eq!(format_usd(4_999, Rounding::Nearest), "0.00");
        assert_eq!(format_usd(5_000, Rounding::Nearest), "0.01");
        assert_eq!(format_usd(u64::MAX, Rounding::Nearest), "18446744073709.55");
    }
}
