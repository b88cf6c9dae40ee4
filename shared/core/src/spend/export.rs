//! Daily ledger exports: each finished UTC day's usage records as one CSV object (`spend/dt=YYYY-MM-DD/spend.csv`,
//! format in [`super::csv_export`]) handed to an [`ExportSink`] — S3 for `functions/export`, a folder for
//! `sluice export`.
//!
//! Idempotent by construction: a day's object is a pure function of that day's records (ordered by time, then
//! request id, by `UsageStore::usage_between`) and the names of people and teams, so exporting a day again rewrites
//! the same bytes unless a record arrived late or someone was renamed — and then the new file is the right one.
//! Days are exported one at a time, so memory is bounded by the largest day, not by the range.

use async_trait::async_trait;
use chrono::{Days, NaiveDate};

use super::csv_export::{Directory, LedgerCsv, day_bounds, object_key};
use crate::store::{StoreError, TeamStore, UsageStore, UserStore};

/// Where day files go.
#[async_trait]
pub trait ExportSink: Send + Sync {
    /// Writes (or overwrites) the object `key` with `body`.
    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StoreError>;
}

/// The most days one export covers: a year and a day, so a backfill stays within one Lambda run.
pub const MAX_DAYS: usize = 366;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("reading the ledger: {0}")]
    Store(#[from] StoreError),
    #[error("writing CSV: {0}")]
    Csv(#[from] std::io::Error),
    #[error("storing {key}: {source}")]
    Sink { key: String, source: StoreError },
    #[error("{0}")]
    Range(String),
}

/// What exporting one day wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayExport {
    pub day: NaiveDate,
    pub key: String,
    pub rows: u64,
    pub bytes: usize,
}

/// The days `from..=to`, checked: `to` not before `from`, every day finished by `today` (UTC; an unfinished day
/// would be exported incomplete and never again by the schedule), at most [`MAX_DAYS`].
///
/// # Errors
/// `Range` naming what is wrong.
pub fn finished_days(
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
) -> Result<Vec<NaiveDate>, ExportError> {
    if to < from {
        return Err(ExportError::Range(format!("{to} is before {from}")));
    }
    if to >= today {
        return Err(ExportError::Range(format!(
            "{to} is not finished yet (today is {today} UTC); the last day that can be exported is the day before"
        )));
    }
    let count = usize::try_from((to - from).num_days()).unwrap_or(usize::MAX) + 1;
    if count > MAX_DAYS {
        return Err(ExportError::Range(format!(
            "{count} days from {from} to {to}: at most {MAX_DAYS} per run"
        )));
    }
    Ok(from
        .iter_days()
        .take_while(|d| *d <= to)
        .take(count)
        .collect())
}

/// The day before `today`: what the daily schedule exports.
#[must_use]
pub fn yesterday(today: NaiveDate) -> NaiveDate {
    today.checked_sub_days(Days::new(1)).unwrap_or(today)
}

/// Names for the CSV, read once per export.
///
/// # Errors
/// The store's.
pub async fn directory<S>(store: &S) -> Result<Directory, StoreError>
where
    S: UserStore + TeamStore + ?Sized,
{
    let users = store.list_users().await?;
    let teams = store.list_teams().await?;
    Ok(Directory::new(&users, &teams))
}

/// One day's records as a whole CSV file (header included) and its row count.
///
/// # Errors
/// The store's, or the CSV writer's.
pub async fn day_csv<S>(
    store: &S,
    names: &Directory,
    day: NaiveDate,
) -> Result<(Vec<u8>, u64), ExportError>
where
    S: UsageStore + ?Sized,
{
    let (from_ms, to_ms) = day_bounds(day);
    let records = store.usage_between(from_ms, to_ms).await?;
    let mut csv = LedgerCsv::new(Vec::with_capacity(256 * (records.len() + 1)))?;
    for record in &records {
        csv.write(record, names)?;
    }
    let rows = csv.rows();
    Ok((csv.finish()?, rows))
}

/// Exports one day to the sink under [`object_key`].
///
/// # Errors
/// The store's, the CSV writer's, or the sink's.
pub async fn export_day<S>(
    store: &S,
    names: &Directory,
    sink: &dyn ExportSink,
    day: NaiveDate,
) -> Result<DayExport, ExportError>
where
    S: UsageStore + ?Sized,
{
    let (body, rows) = day_csv(store, names, day).await?;
    let key = object_key(day);
    let bytes = body.len();
    sink.put(&key, body)
        .await
        .map_err(|source| ExportError::Sink {
            key: key.clone(),
            source,
        })?;
    Ok(DayExport {
        day,
        key,
        rows,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn finished_days_lists_the_inclusive_range() {
        let days = finished_days(d("2026-10-30"), d("2026-11-02"), d("2026-11-03")).expect("ok");
        assert_eq!(
            days,
            [
                d("2026-10-30"),
                d("2026-10-31"),
                d("2026-11-01"),
                d("2026-11-02")
            ]
        );
    }

    #[test]
    fn finished_days_refuses_today_reversed_ranges_and_huge_ranges() {
        let today = d("2026-11-03");
        let err = finished_days(today, today, today).expect_err("today");
        assert!(err.to_string().contains("not finished"), "{err}");
        let err = finished_days(d("2026-11-02"), d("2026-11-01"), today).expect_err("reversed");
        assert!(err.to_string().contains("before"), "{err}");
        let err = finished_days(d("2020-01-01"), d("2026-11-01"), today).expect_err("huge");
        assert!(err.to_string().contains("at most 366"), "{err}");
    }

    #[test]
    fn yesterday_is_the_day_before() {
        assert_eq!(yesterday(d("2026-03-01")), d("2026-02-28"));
    }
}
