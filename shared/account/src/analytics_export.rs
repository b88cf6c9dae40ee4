//! `GET /admin/analytics/export?days=N` and `/admin/analytics/org/export` (admin): the usage ledger of the
//! last `N` days (default 30, up to 366), or of the UTC days `from=YYYY-MM-DD&to=YYYY-MM-DD` (both included, up
//! to 366 days), as CSV, one row per usage record, in the one ledger format of
//! `sluice_core::spend::csv_export` (the same as the daily S3 files and `sluice export`, which asks for one day
//! at a time with `--url`).
//!
//! The body is streamed: the records are read one UTC day at a time (`usage_between`) and each day's rows
//! are sent as one chunk, so memory holds one day, not the export. A store failure mid-way ends the body
//! with an error (the client sees a cut transfer, never a silently short file).
//!
//! The org export also takes the org filters (`team`, `user`, `model`), applied to each record exactly:
//! the team is the record's team at request time.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::NaiveDate;
use sluice_core::analytics::{Filters, NO_TEAM};
use sluice_core::error::ApiError;
use sluice_core::spend::UsageRecord;
use sluice_core::spend::csv_export::{Directory, LedgerCsv, day_bounds};
use sluice_core::store::Store;

use crate::analytics::{Params, filters};
use crate::roles::Admin;
use crate::{Reply, Shared, now_ms, store_error};

const DEFAULT_DAYS: u32 = 30;
const MAX_DAYS: u32 = 366;
const MS_PER_DAY: i64 = 86_400_000;

/// The exported span `[start_ms, end_ms)` and its name in the file name.
struct Span {
    start_ms: i64,
    end_ms: i64,
    label: String,
}

fn span(params: &HashMap<String, String>, now_ms: i64) -> Result<Span, ApiError> {
    let text = |k: &str| params.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let end_of_now = now_ms + 1;
    match (text("from"), text("to")) {
        (None, None) => {
            let days = match text("days") {
                None => DEFAULT_DAYS,
                Some(d) => match d.parse::<u32>() {
                    Ok(n) if (1..=MAX_DAYS).contains(&n) => n,
                    _ => {
                        return Err(ApiError::invalid(format!(
                            "days: must be a whole number from 1 to {MAX_DAYS}, got {d:?}"
                        )));
                    }
                },
            };
            Ok(Span {
                start_ms: end_of_now - i64::from(days) * MS_PER_DAY,
                end_ms: end_of_now,
                label: format!("{days}d"),
            })
        }
        (Some(from), Some(to)) => {
            let date = |field: &str, v: &str| {
                NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
                    ApiError::invalid(format!("{field}: expected a date as YYYY-MM-DD, got {v:?}"))
                })
            };
            let (from, to) = (date("from", from)?, date("to", to)?);
            if to < from {
                return Err(ApiError::invalid(format!(
                    "to: {to} is before from ({from})"
                )));
            }
            if (to - from).num_days() >= i64::from(MAX_DAYS) {
                return Err(ApiError::invalid(format!(
                    "from..to spans more than {MAX_DAYS} days; export a year at a time"
                )));
            }
            let (start_ms, _) = day_bounds(from);
            let (_, end_ms) = day_bounds(to);
            Ok(Span {
                start_ms,
                end_ms: end_ms.min(end_of_now),
                label: format!("{from}_{to}"),
            })
        }
        _ => Err(ApiError::invalid(
            "from and to: give both (YYYY-MM-DD, both days included) or neither",
        )),
    }
}

/// Whether a record passes the org filters, with names from `names`.
fn keeps(filters: &Filters, names: &Directory, record: &UsageRecord) -> bool {
    let team_ok = filters.teams.is_empty()
        || filters
            .teams
            .iter()
            .any(|want| match record.team_id.as_deref() {
                None => want == NO_TEAM,
                Some(id) => want == names.team(Some(id)) || want == id,
            });
    let user_ok = filters.users.is_empty()
        || record.user_id.as_deref().is_some_and(|id| {
            let email = names.user(Some(id));
            filters
                .users
                .iter()
                .any(|u| u.eq_ignore_ascii_case(email) || u == id)
        });
    let model_ok = filters.models.is_empty() || filters.models.contains(&record.requested_model);
    team_ok && user_ok && model_ok
}

/// State of the streamed body: the next day to read, and whether the header is out.
struct Pages {
    store: Arc<dyn Store>,
    names: Directory,
    filters: Filters,
    next_ms: i64,
    end_ms: i64,
    header_sent: bool,
}

impl Pages {
    /// The next chunk: the header (with the first day's rows), then one day's rows; `None` when done.
    async fn next(mut self) -> Option<(Result<Bytes, std::io::Error>, Self)> {
        while self.next_ms < self.end_ms || !self.header_sent {
            let to_ms = (self.next_ms + MS_PER_DAY).min(self.end_ms);
            let records = match self.store.usage_between(self.next_ms, to_ms).await {
                Ok(records) => records,
                Err(e) => {
                    tracing::error!(error = %e, "usage export: store read failed mid-stream");
                    self.next_ms = self.end_ms;
                    self.header_sent = true;
                    return Some((Err(std::io::Error::other("store read failed")), self));
                }
            };
            self.next_ms = to_ms;
            let buffer = Vec::with_capacity(256 * (records.len() + 1));
            let writer = if self.header_sent {
                Ok(LedgerCsv::without_header(buffer))
            } else {
                LedgerCsv::new(buffer)
            };
            let chunk = writer.and_then(|mut csv| {
                for record in records
                    .iter()
                    .filter(|r| keeps(&self.filters, &self.names, r))
                {
                    csv.write(record, &self.names)?;
                }
                csv.finish()
            });
            match chunk {
                Ok(bytes) if bytes.is_empty() => {}
                Ok(bytes) => {
                    self.header_sent = true;
                    return Some((Ok(Bytes::from(bytes)), self));
                }
                Err(e) => {
                    self.next_ms = self.end_ms;
                    self.header_sent = true;
                    return Some((Err(e), self));
                }
            }
        }
        None
    }
}

async fn export(
    state: &Shared,
    params: &HashMap<String, String>,
    filters: Filters,
    name: &str,
) -> Reply {
    let span = span(params, now_ms())?;
    let store = state.store.clone();
    let users = store.list_users().await.map_err(|e| store_error(&e))?;
    let teams = store.list_teams().await.map_err(|e| store_error(&e))?;
    let pages = Pages {
        store,
        names: Directory::new(&users, &teams),
        filters,
        next_ms: span.start_ms,
        end_ms: span.end_ms,
        header_sent: false,
    };
    let body = Body::from_stream(futures::stream::unfold(pages, Pages::next));
    let mut response: Response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let disposition = format!("attachment; filename=\"{name}-{}.csv\"", span.label);
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition)
            .map_err(|_| ApiError::internal("cannot name the export"))?,
    );
    Ok(response)
}

pub(super) async fn export_spend(
    State(state): State<Shared>,
    _: Admin,
    Query(params): Params,
) -> Reply {
    export(&state, &params, Filters::default(), "sluice-spend").await
}

pub(super) async fn export_org(
    State(state): State<Shared>,
    _: Admin,
    Query(params): Params,
) -> Reply {
    let filters = filters(&params);
    export(&state, &params, filters, "sluice-org-spend").await
}
