//! The export function's handler: an EventBridge schedule (or a hand-made event) in, one CSV of the usage ledger
//! per finished UTC day out, at `spend/dt=YYYY-MM-DD/spend.csv` in the export bucket. The CSV format and the day
//! loop are `sluice_core::spend::{csv_export, export}`, the same code `sluice export` runs; this crate only
//! decides which days an event asks for.
//!
//! - [`ExportRequest`]: the event. The scheduled event (`detail-type: Scheduled Event`) exports the day before
//!   its `time`; `{"day":"YYYY-MM-DD"}` one day; `{"from":"…","to":"…"}` a backfill (inclusive).
//! - [`handle`]: reads names once, exports the days one after another, answers what it wrote.
//!
//! Idempotent: a day's object is rewritten whole with the same bytes, so a retry (Lambda retries a failed
//! asynchronous invocation twice) or a manual re-run is harmless.
//!
//! Dependency rule: the store and the sink are ports; the function names no AWS type.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sluice_core::spend::export::{
    DayExport, ExportError, ExportSink, directory, export_day, finished_days, yesterday,
};
use sluice_core::store::{TeamStore, UsageStore, UserStore};

/// The ports one export needs.
pub trait ExportBackend: UsageStore + UserStore + TeamStore {}

impl<T> ExportBackend for T where T: UsageStore + UserStore + TeamStore + ?Sized {}

/// What an event may say. Every field is optional, so any JSON object is accepted; unknown fields (the rest of
/// an EventBridge event) are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ExportRequest {
    /// One day to export.
    pub day: Option<NaiveDate>,
    /// First day of a backfill (with `to`).
    pub from: Option<NaiveDate>,
    /// Last day of a backfill, inclusive.
    pub to: Option<NaiveDate>,
    /// The scheduled event's time: its day before is "yesterday", so a retry hours later still exports the day
    /// the schedule meant, not the one after.
    pub time: Option<DateTime<Utc>>,
}

/// The invocation's answer (shown by `aws lambda invoke` and in the log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    pub days: Vec<DayReport>,
    pub rows: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayReport {
    pub day: NaiveDate,
    pub key: String,
    pub rows: u64,
    pub bytes: usize,
}

impl From<DayExport> for DayReport {
    fn from(d: DayExport) -> Self {
        Self {
            day: d.day,
            key: d.key,
            rows: d.rows,
            bytes: d.bytes,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("the event is not an export request: {0}")]
    BadEvent(String),
    #[error(transparent)]
    Export(#[from] ExportError),
}

impl ExportRequest {
    /// Reads the request from any JSON event; `null` (an empty test invocation) means the default.
    ///
    /// # Errors
    /// `BadEvent` when a field is present but malformed (`"day": "yesterday"`).
    pub fn from_event(event: serde_json::Value) -> Result<Self, HandlerError> {
        if event.is_null() {
            return Ok(Self::default());
        }
        serde_json::from_value(event).map_err(|e| HandlerError::BadEvent(e.to_string()))
    }

    /// The days asked for, each finished by `now`.
    ///
    /// # Errors
    /// `BadEvent` for `day` together with `from`/`to`, or only one of `from` and `to`; `Range` for a day not
    /// finished yet, a reversed or too long range.
    pub fn days(&self, now: DateTime<Utc>) -> Result<Vec<NaiveDate>, HandlerError> {
        let today = now.date_naive();
        let (from, to) = match (self.day, self.from, self.to) {
            (Some(day), None, None) => (day, day),
            (None, Some(from), Some(to)) => (from, to),
            (None, None, None) => {
                let day = yesterday(self.time.unwrap_or(now).date_naive());
                (day, day)
            }
            (Some(_), _, _) => {
                return Err(HandlerError::BadEvent(
                    "give either \"day\" or \"from\" and \"to\", not both".to_owned(),
                ));
            }
            (None, _, _) => {
                return Err(HandlerError::BadEvent(
                    "a backfill needs both \"from\" and \"to\" (YYYY-MM-DD, inclusive)".to_owned(),
                ));
            }
        };
        Ok(finished_days(from, to, today)?)
    }
}

/// Exports the days the event asks for, one after another (memory bounded by the largest day).
///
/// # Errors
/// A malformed event, a day not finished, or the first store, CSV or sink failure (the days before it stay
/// written; the retry rewrites them identically).
pub async fn handle<S>(
    store: &S,
    sink: &dyn ExportSink,
    event: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<ExportSummary, HandlerError>
where
    S: ExportBackend + ?Sized,
{
    let days = ExportRequest::from_event(event)?.days(now)?;
    let names = directory(store).await.map_err(ExportError::from)?;
    let mut summary = ExportSummary {
        days: Vec::with_capacity(days.len()),
        rows: 0,
    };
    for day in days {
        let done = export_day(store, &names, sink, day).await?;
        tracing::info!(day = %done.day, key = %done.key, rows = done.rows, bytes = done.bytes, "day exported");
        summary.rows += done.rows;
        summary.days.push(done.into());
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn a_scheduled_event_exports_the_day_before_its_time() {
        let event =
            json!({"detail-type": "Scheduled Event", "time": "2026-11-04T00:15:00Z", "detail": {}});
        let request = ExportRequest::from_event(event).expect("parses");
        // A retry on the next day still means the schedule's day.
        let days = request.days(at("2026-11-05T02:00:00Z")).expect("days");
        assert_eq!(days, [d("2026-11-03")]);
    }

    #[test]
    fn an_empty_event_exports_yesterday() {
        for event in [json!(null), json!({})] {
            let days = ExportRequest::from_event(event)
                .expect("parses")
                .days(at("2026-11-04T00:15:00Z"))
                .expect("days");
            assert_eq!(days, [d("2026-11-03")]);
        }
    }

    #[test]
    fn one_day_and_backfills_are_taken_from_the_event() {
        let now = at("2026-11-04T09:00:00Z");
        let one = ExportRequest::from_event(json!({"day": "2026-10-31"})).expect("parses");
        assert_eq!(one.days(now).expect("days"), [d("2026-10-31")]);
        let range = ExportRequest::from_event(json!({"from": "2026-10-30", "to": "2026-11-01"}))
            .expect("parses");
        assert_eq!(range.days(now).expect("days").len(), 3);
    }

    #[test]
    fn malformed_or_unfinished_requests_are_refused() {
        let now = at("2026-11-04T09:00:00Z");
        assert!(ExportRequest::from_event(json!({"day": "yesterday"})).is_err());
        let today = ExportRequest::from_event(json!({"day": "2026-11-04"})).expect("parses");
        assert!(
            today
                .days(now)
                .expect_err("unfinished")
                .to_string()
                .contains("not finished")
        );
        let half = ExportRequest::from_event(json!({"from": "2026-11-01"})).expect("parses");
        assert!(
            half.days(now)
                .expect_err("half")
                .to_string()
                .contains("both")
        );
        let both = ExportRequest::from_event(json!({"day": "2026-11-01", "to": "2026-11-02"}))
            .expect("parses");
        assert!(both.days(now).is_err());
    }
}
