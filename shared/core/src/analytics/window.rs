//! The time window of an analytics answer and its buckets: which rollups to read and how their buckets map to
//! the answer's buckets.
//!
//! - `days=N` (default 7): with hourly buckets the last `N × 24` hours up to and including the current hour;
//!   with daily or weekly buckets the last `N` UTC days including today. Rollups are whole hours or days, so
//!   the window is aligned to them rather than starting at "now − N days" to the millisecond.
//! - `from=YYYY-MM-DD&to=YYYY-MM-DD`: those UTC days, `to` included (CCAG ignores `to`; Sluice honours it).
//!   `from` alone runs to today.
//! - granularity `auto`: org views hourly up to 7 days, daily up to 90, else weekly; the per-person view
//!   hourly up to 3 days. Weekly buckets start on Monday and are summed from daily rollups. Hourly buckets are
//!   refused beyond [`MAX_HOURLY_DAYS`] days (one read per hour and dimension).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::Serialize;

use crate::spend::ledger::Granularity;

pub const DEFAULT_DAYS: u32 = 7;
pub const MAX_DAYS: u32 = 366;
/// The longest window answered with hourly buckets.
pub const MAX_HOURLY_DAYS: u32 = 31;
/// How far before the window the active-users view looks for a person's first day.
pub const FIRST_SEEN_LOOKBACK_DAYS: u32 = 90;
/// The heatmap covers at most the window's last this-many days (four of each weekday).
pub const HEATMAP_MAX_DAYS: u32 = 28;

const MS_PER_HOUR: i64 = 3_600_000;
const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;

/// The buckets of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucketing {
    Hour,
    Day,
    Week,
}

impl Bucketing {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Week => "week",
        }
    }

    /// The rollups these buckets are summed from.
    #[must_use]
    pub const fn source(self) -> Granularity {
        match self {
            Self::Hour => Granularity::Hour,
            Self::Day | Self::Week => Granularity::Day,
        }
    }
}

/// Who the answer is for; `auto` granularity differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// `/admin/analytics`: hourly up to 3 days.
    Person,
    /// `/admin/analytics/org/*`: hourly up to 7 days.
    Org,
}

/// The query parameters that choose the window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowQuery {
    pub days: Option<u32>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub granularity: Option<String>,
}

/// A resolved window: `[from_ms, to_ms)`, aligned to its rollups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from_ms: i64,
    pub to_ms: i64,
    pub days: u32,
    pub bucketing: Bucketing,
}

/// Why a window query is refused (answered 400, the message as the reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("{name}: expected a date YYYY-MM-DD, got {text:?}")]
    Date { name: &'static str, text: String },
    #[error("to ({to}) is before from ({from})")]
    ToBeforeFrom { from: NaiveDate, to: NaiveDate },
    #[error("to: needs from")]
    ToWithoutFrom,
    #[error("days: must be 1 to {MAX_DAYS}, got {0}")]
    Days(u32),
    #[error("granularity: must be auto, hour, day or week, got {0:?}")]
    Granularity(String),
    #[error("granularity: hourly buckets cover at most {MAX_HOURLY_DAYS} days; use day or week")]
    TooManyHours,
}

fn parse_day(name: &'static str, text: &str) -> Result<NaiveDate, WindowError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| WindowError::Date {
        name,
        text: text.to_owned(),
    })
}

fn day_start_ms(day: NaiveDate) -> i64 {
    day.and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .timestamp_millis()
}

fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl Window {
    /// The window the query asks for at `now`.
    ///
    /// # Errors
    /// A message for a 400 answer: a bad date, days out of range, an unknown granularity, hourly buckets over
    /// too long a window, `to` without `from` or before it.
    pub fn resolve(
        query: &WindowQuery,
        audience: Audience,
        now: DateTime<Utc>,
    ) -> Result<Self, WindowError> {
        let today = now.date_naive();
        let (first_day, last_day, days) = match (&query.from, &query.to) {
            (Some(from), to) => {
                let from = parse_day("from", from)?;
                let to = match to {
                    Some(to) => parse_day("to", to)?,
                    None => today,
                };
                if to < from {
                    return Err(WindowError::ToBeforeFrom { from, to });
                }
                let days = u32::try_from((to - from).num_days() + 1).unwrap_or(u32::MAX);
                (Some(from), Some(to), days)
            }
            (None, Some(_)) => return Err(WindowError::ToWithoutFrom),
            (None, None) => (None, None, query.days.unwrap_or(DEFAULT_DAYS)),
        };
        if days == 0 || days > MAX_DAYS {
            return Err(WindowError::Days(days));
        }
        let bucketing = match query.granularity.as_deref().map(str::trim) {
            None | Some("" | "auto") => {
                let hourly_up_to = match audience {
                    Audience::Person => 3,
                    Audience::Org => 7,
                };
                if days <= hourly_up_to {
                    Bucketing::Hour
                } else if days <= 90 {
                    Bucketing::Day
                } else {
                    Bucketing::Week
                }
            }
            Some("hour") => Bucketing::Hour,
            Some("day") => Bucketing::Day,
            Some("week") => Bucketing::Week,
            Some(other) => {
                return Err(WindowError::Granularity(other.to_owned()));
            }
        };
        if bucketing == Bucketing::Hour && days > MAX_HOURLY_DAYS {
            return Err(WindowError::TooManyHours);
        }
        let (from_ms, to_ms) = match (first_day, last_day) {
            (Some(first), Some(last)) => (day_start_ms(first), day_start_ms(last) + MS_PER_DAY),
            _ if bucketing == Bucketing::Hour => {
                let hour_end =
                    now.timestamp_millis().div_euclid(MS_PER_HOUR) * MS_PER_HOUR + MS_PER_HOUR;
                (hour_end - i64::from(days) * MS_PER_DAY, hour_end)
            }
            _ => {
                let end = day_start_ms(today) + MS_PER_DAY;
                (end - i64::from(days) * MS_PER_DAY, end)
            }
        };
        Ok(Self {
            from_ms,
            to_ms,
            days,
            bucketing,
        })
    }

    /// The window of the same length just before this one (the prior-period comparison).
    #[must_use]
    pub const fn prior(&self) -> Self {
        let length = self.to_ms - self.from_ms;
        Self {
            from_ms: self.from_ms - length,
            to_ms: self.from_ms,
            days: self.days,
            bucketing: self.bucketing,
        }
    }

    /// The rollup buckets (`2026-11-22T09` or `2026-11-22`) covering the window, oldest first.
    #[must_use]
    pub fn rollup_buckets(&self) -> Vec<String> {
        buckets(self.bucketing.source(), self.from_ms, self.to_ms)
    }

    /// The hour buckets of the heatmap: the window's last [`HEATMAP_MAX_DAYS`] days at most.
    #[must_use]
    pub fn heatmap_buckets(&self) -> Vec<String> {
        let from = self
            .from_ms
            .max(self.to_ms - i64::from(HEATMAP_MAX_DAYS) * MS_PER_DAY);
        buckets(Granularity::Hour, from, self.to_ms)
    }

    /// The day buckets searched for each person's first day: [`FIRST_SEEN_LOOKBACK_DAYS`] before the window
    /// through its end.
    #[must_use]
    pub fn first_seen_buckets(&self) -> Vec<String> {
        let from = self.from_ms.div_euclid(MS_PER_DAY) * MS_PER_DAY
            - i64::from(FIRST_SEEN_LOOKBACK_DAYS) * MS_PER_DAY;
        buckets(Granularity::Day, from, self.to_ms)
    }

    /// The day buckets of the window's last `days` days (e.g. "unpriced models, last 7 days").
    #[must_use]
    pub fn last_days_buckets(&self, days: u32) -> Vec<String> {
        let end = self.to_ms;
        buckets(Granularity::Day, end - i64::from(days) * MS_PER_DAY, end)
    }

    /// The answer's label of the bucket a rollup starting at `start_ms` falls in: `2026-11-22T09:00:00Z`
    /// (hour), `2026-11-22` (day), or the Monday of its week (week).
    #[must_use]
    pub fn label(&self, start_ms: i64) -> String {
        let t = at(start_ms);
        match self.bucketing {
            Bucketing::Hour => t.format("%Y-%m-%dT%H:00:00Z").to_string(),
            Bucketing::Day => t.format("%Y-%m-%d").to_string(),
            Bucketing::Week => {
                let day = t.date_naive();
                let monday = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
                monday.format("%Y-%m-%d").to_string()
            }
        }
    }

    /// Every label of the window in order, so series have a point for quiet buckets too.
    #[must_use]
    pub fn labels(&self) -> Vec<String> {
        let step = match self.bucketing {
            Bucketing::Hour => MS_PER_HOUR,
            Bucketing::Day | Bucketing::Week => MS_PER_DAY,
        };
        let mut labels: Vec<String> = Vec::new();
        let mut t = self.from_ms;
        while t < self.to_ms {
            let label = self.label(t);
            if labels.last() != Some(&label) {
                labels.push(label);
            }
            t += step;
        }
        labels
    }

    /// The first UTC day a label covers (the day of an hour, the day, the week's Monday).
    #[must_use]
    pub fn label_first_day(&self, label: &str) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(label.get(..10)?, "%Y-%m-%d").ok()
    }
}

/// The rollup bucket names of `granularity` between two times, oldest first.
fn buckets(granularity: Granularity, from_ms: i64, to_ms: i64) -> Vec<String> {
    let step = match granularity {
        Granularity::Hour => MS_PER_HOUR,
        Granularity::Day => MS_PER_DAY,
    };
    let mut out = Vec::new();
    let mut t = from_ms.div_euclid(step) * step;
    while t < to_ms {
        out.push(granularity.bucket(t));
        t += step;
    }
    out
}

/// The start (Unix ms) of a rollup bucket name: `2026-11-22T09` or `2026-11-22`.
#[must_use]
pub fn bucket_start_ms(bucket: &str) -> Option<i64> {
    if bucket.len() == 13 {
        NaiveDateTime::parse_from_str(&format!("{bucket}:00"), "%Y-%m-%dT%H:%M")
            .ok()
            .map(|t| t.and_utc().timestamp_millis())
    } else {
        NaiveDate::parse_from_str(bucket, "%Y-%m-%d")
            .ok()
            .map(day_start_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        // Sunday 2026-11-22 09:30 UTC.
        Utc.with_ymd_and_hms(2026, 11, 22, 9, 30, 0)
            .single()
            .expect("time")
    }

    fn resolve(days: Option<u32>, granularity: Option<&str>, audience: Audience) -> Window {
        let query = WindowQuery {
            days,
            granularity: granularity.map(str::to_owned),
            ..WindowQuery::default()
        };
        Window::resolve(&query, audience, now()).expect("window")
    }

    #[test]
    fn auto_granularity_follows_ccag_per_audience() {
        assert_eq!(
            resolve(Some(7), None, Audience::Org).bucketing,
            Bucketing::Hour
        );
        assert_eq!(
            resolve(Some(8), None, Audience::Org).bucketing,
            Bucketing::Day
        );
        assert_eq!(
            resolve(Some(4), None, Audience::Person).bucketing,
            Bucketing::Day
        );
        assert_eq!(
            resolve(Some(3), None, Audience::Person).bucketing,
            Bucketing::Hour
        );
        assert_eq!(
            resolve(Some(90), Some("auto"), Audience::Org).bucketing,
            Bucketing::Day
        );
        assert_eq!(
            resolve(Some(91), None, Audience::Org).bucketing,
            Bucketing::Week
        );
        assert_eq!(resolve(None, None, Audience::Org).days, 7);
    }

    #[test]
    fn hourly_window_ends_after_the_current_hour() {
        let w = resolve(Some(1), Some("hour"), Audience::Org);
        let buckets = w.rollup_buckets();
        assert_eq!(buckets.len(), 24);
        assert_eq!(buckets[0], "2026-11-21T10");
        assert_eq!(buckets[23], "2026-11-22T09");
        assert_eq!(w.labels()[23], "2026-11-22T09:00:00Z");
    }

    #[test]
    fn daily_window_counts_today_and_weeks_start_on_monday() {
        let w = resolve(Some(10), Some("week"), Audience::Org);
        assert_eq!(
            w.rollup_buckets().first().map(String::as_str),
            Some("2026-11-13")
        );
        assert_eq!(
            w.rollup_buckets().last().map(String::as_str),
            Some("2026-11-22")
        );
        // 13-15 Nov in the week of Monday 9 Nov, 16-22 in the week of the 16th.
        assert_eq!(w.labels(), vec!["2026-11-09", "2026-11-16"]);
        let start = bucket_start_ms("2026-11-15").expect("day");
        assert_eq!(w.label(start), "2026-11-09");
    }

    #[test]
    fn from_and_to_are_whole_days_with_to_included() {
        let query = WindowQuery {
            from: Some("2026-11-01".into()),
            to: Some("2026-11-03".into()),
            ..WindowQuery::default()
        };
        let w = Window::resolve(&query, Audience::Org, now()).expect("window");
        assert_eq!(w.days, 3);
        assert_eq!(w.bucketing, Bucketing::Hour);
        assert_eq!(w.rollup_buckets().len(), 72);
        assert_eq!(w.prior().to_ms, w.from_ms);
        assert_eq!(w.prior().rollup_buckets()[0], "2026-10-29T00");
    }

    #[test]
    fn bad_queries_are_refused_with_a_reason() {
        let bad = |q: WindowQuery| {
            Window::resolve(&q, Audience::Org, now())
                .expect_err("bad")
                .to_string()
        };
        assert!(
            bad(WindowQuery {
                days: Some(0),
                ..WindowQuery::default()
            })
            .contains("days")
        );
        assert!(
            bad(WindowQuery {
                to: Some("2026-11-01".into()),
                ..WindowQuery::default()
            })
            .contains("from")
        );
        assert!(
            bad(WindowQuery {
                from: Some("yesterday".into()),
                ..WindowQuery::default()
            })
            .contains("YYYY-MM-DD")
        );
        assert!(
            bad(WindowQuery {
                granularity: Some("minute".into()),
                ..WindowQuery::default()
            })
            .contains("granularity")
        );
        assert!(
            bad(WindowQuery {
                days: Some(60),
                granularity: Some("hour".into()),
                ..WindowQuery::default()
            })
            .contains("31")
        );
    }

    #[test]
    fn lookback_and_heatmap_spans() {
        let w = resolve(Some(60), None, Audience::Org);
        assert_eq!(w.heatmap_buckets().len(), 28 * 24);
        assert_eq!(w.first_seen_buckets().len(), 150);
        assert_eq!(w.last_days_buckets(7).len(), 7);
    }
}
