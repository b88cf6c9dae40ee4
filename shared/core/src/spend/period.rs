//! Budget periods in UTC: a day from midnight, a week from Monday 00:00, a month from the 1st 00:00.
//!
//! Every host computes the same period from the same instant, whatever its local zone, so counters written by
//! Lambda and by `sluice serve` agree. The key names the period in storage (`d2026-11-22`, `w2026-11-16`
//! for the week starting that Monday, `m2026-11`); it sorts in time order within one kind.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Daily,
    Weekly,
    Monthly,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a budget period is daily, weekly or monthly, got {0:?}")]
pub struct UnknownPeriod(pub String);

impl std::str::FromStr for Period {
    type Err = UnknownPeriod;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "daily" => Ok(Self::Daily),
            "weekly" => Ok(Self::Weekly),
            "monthly" => Ok(Self::Monthly),
            _ => Err(UnknownPeriod(text.to_owned())),
        }
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One period around an instant: where it starts, its storage key and when the next one begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodWindow {
    pub period: Period,
    pub start: DateTime<Utc>,
    pub key: String,
    pub next_reset: DateTime<Utc>,
}

impl PeriodWindow {
    /// The next reset as RFC 3339 in UTC with whole seconds, e.g. `2026-11-23T00:00:00Z`.
    #[must_use]
    pub fn resets_rfc3339(&self) -> String {
        self.next_reset.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

impl Period {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
        }
    }

    /// The first day of the period containing `day`.
    fn first_day(self, day: NaiveDate) -> NaiveDate {
        match self {
            Self::Daily => day,
            Self::Weekly => day
                .checked_sub_days(Days::new(u64::from(day.weekday().num_days_from_monday())))
                .unwrap_or(day),
            Self::Monthly => day.with_day(1).unwrap_or(day),
        }
    }

    /// The first day of the period after the one starting on `first`.
    fn next_first_day(self, first: NaiveDate) -> NaiveDate {
        let next = match self {
            Self::Daily => first.checked_add_days(Days::new(1)),
            Self::Weekly => first.checked_add_days(Days::new(7)),
            Self::Monthly => first.checked_add_months(Months::new(1)),
        };
        // Only the last representable date (year 262143) has no successor; stay there rather than panic.
        next.unwrap_or(first)
    }

    /// The start of the period containing `at`.
    #[must_use]
    pub fn start(self, at: DateTime<Utc>) -> DateTime<Utc> {
        midnight(self.first_day(at.date_naive()))
    }

    /// When the period containing `at` ends and the next begins.
    #[must_use]
    pub fn next_reset(self, at: DateTime<Utc>) -> DateTime<Utc> {
        midnight(self.next_first_day(self.first_day(at.date_naive())))
    }

    /// The storage key of the period containing `at`.
    #[must_use]
    pub fn key(self, at: DateTime<Utc>) -> String {
        let first = self.first_day(at.date_naive());
        match self {
            Self::Daily => format!("d{}", first.format("%Y-%m-%d")),
            Self::Weekly => format!("w{}", first.format("%Y-%m-%d")),
            Self::Monthly => format!("m{}", first.format("%Y-%m")),
        }
    }

    /// Start, key and next reset of the period containing `at`.
    #[must_use]
    pub fn window(self, at: DateTime<Utc>) -> PeriodWindow {
        PeriodWindow {
            period: self,
            start: self.start(at),
            key: self.key(at),
            next_reset: self.next_reset(at),
        }
    }

    /// The window containing a Unix time in milliseconds (the usage record's clock). Times outside chrono's
    /// range are clamped to it, which no real clock reaches.
    #[must_use]
    pub fn window_at_ms(self, unix_ms: i64) -> PeriodWindow {
        let at = Utc
            .timestamp_millis_opt(unix_ms)
            .single()
            .unwrap_or(if unix_ms < 0 {
                DateTime::<Utc>::MIN_UTC
            } else {
                DateTime::<Utc>::MAX_UTC
            });
        self.window(at)
    }
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("test timestamps are valid")
            .with_timezone(&Utc)
    }

    #[test]
    fn a_day_runs_from_utc_midnight_to_the_next() {
        let w = Period::Daily.window(at("2026-11-22T06:50:58Z"));
        assert_eq!(w.start, at("2026-11-22T00:00:00Z"));
        assert_eq!(w.key, "d2026-11-22");
        assert_eq!(w.resets_rfc3339(), "2026-11-23T00:00:00Z");
    }

    #[test]
    fn a_day_is_taken_in_utc_not_in_the_callers_zone() {
        // 23:30 in New York on the 21st is already the 22nd in UTC.
        let new_york = DateTime::parse_from_rfc3339("2026-11-21T23:30:00-05:00").expect("valid");
        assert_eq!(
            Period::Daily.key(new_york.with_timezone(&Utc)),
            "d2026-11-22"
        );
    }

    #[test]
    fn a_week_starts_on_monday_even_when_asked_on_sunday() {
        // 2026-11-22 is a Sunday; its week began Monday 2026-11-16.
        let w = Period::Weekly.window(at("2026-11-22T23:59:59Z"));
        assert_eq!(w.start, at("2026-11-16T00:00:00Z"));
        assert_eq!(w.key, "w2026-11-16");
        assert_eq!(w.resets_rfc3339(), "2026-11-23T00:00:00Z");
    }

    #[test]
    fn monday_midnight_opens_a_new_week() {
        let w = Period::Weekly.window(at("2026-11-23T00:00:00Z"));
        assert_eq!(w.key, "w2026-11-23");
        assert_eq!(w.resets_rfc3339(), "2026-11-30T00:00:00Z");
    }

    #[test]
    fn a_week_can_span_two_years() {
        // 2027-01-01 is a Friday: its week began Monday 2026-12-28.
        let w = Period::Weekly.window(at("2027-01-01T12:00:00Z"));
        assert_eq!(w.key, "w2026-12-28");
        assert_eq!(w.resets_rfc3339(), "2027-01-04T00:00:00Z");
    }

    #[test]
    fn a_month_starts_on_the_first_and_resets_on_the_next_first() {
        let w = Period::Monthly.window(at("2026-11-22T06:50:58Z"));
        assert_eq!(w.start, at("2026-11-01T00:00:00Z"));
        assert_eq!(w.key, "m2026-11");
        assert_eq!(w.resets_rfc3339(), "2026-12-01T00:00:00Z");
    }

    #[test]
    fn december_resets_into_january_and_february_knows_leap_years() {
        assert_eq!(
            Period::Monthly
                .window(at("2026-12-31T23:59:59Z"))
                .resets_rfc3339(),
            "2027-01-01T00:00:00Z"
        );
        assert_eq!(
            Period::Monthly
                .window(at("2028-02-29T10:00:00Z"))
                .resets_rfc3339(),
            "2028-03-01T00:00:00Z"
        );
        assert_eq!(
            Period::Daily
                .window(at("2028-02-28T10:00:00Z"))
                .resets_rfc3339(),
            "2028-02-29T00:00:00Z"
        );
    }

    #[test]
    fn the_last_millisecond_belongs_to_the_old_period_and_the_next_to_the_new() {
        let end_of_day = at("2026-11-22T23:59:59.999Z").timestamp_millis();
        assert_eq!(Period::Daily.window_at_ms(end_of_day).key, "d2026-11-22");
        assert_eq!(
            Period::Daily.window_at_ms(end_of_day + 1).key,
            "d2026-11-23"
        );
    }

    #[test]
    fn window_at_ms_matches_window_at_the_same_instant() {
        let t = at("2026-11-22T06:50:58.123Z");
        for period in [Period::Daily, Period::Weekly, Period::Monthly] {
            assert_eq!(period.window_at_ms(t.timestamp_millis()), period.window(t));
        }
    }

    #[test]
    fn out_of_range_milliseconds_do_not_panic() {
        assert!(Period::Monthly.window_at_ms(i64::MAX).key.starts_with('m'));
        assert!(Period::Daily.window_at_ms(i64::MIN).key.starts_with('d'));
    }

    #[test]
    fn parses_and_prints_period_names() {
        assert_eq!(" Weekly ".parse::<Period>(), Ok(Period::Weekly));
        assert_eq!(
            "yearly".parse::<Period>(),
            Err(UnknownPeriod("yearly".to_owned()))
        );
        assert_eq!(Period::Monthly.to_string(), "monthly");
        assert_eq!(
            serde_json::to_string(&Period::Daily).expect("serializes"),
            "\"daily\""
        );
    }
}
