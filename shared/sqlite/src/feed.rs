//! The local change feed: SQLite triggers append every new usage record and event to `changes`, in commit
//! order; `sluice serve` reads it from a cursor it keeps in the settings table, the way the Lambda functions
//! read the DynamoDB stream. A change is read again after a restart until its consumer moves the cursor.

use rusqlite::params;
use sluice_core::notify::NotifyEvent;
use sluice_core::spend::UsageRecord;
use sluice_core::store::StoreError;

use crate::error::to_store_error;
use crate::events::decode;
use crate::store::SqliteStore;

/// What a change carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Usage(Box<UsageRecord>),
    Event(NotifyEvent),
    /// The row it points at cannot be decoded (kept in the feed so its consumer can report it).
    Unreadable {
        kind: String,
        reference: String,
        error: String,
    },
}

/// Which changes a consumer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    Usage,
    Event,
}

impl FeedKind {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Usage => "usage",
            Self::Event => "event",
        }
    }
}

const AFTER: &str = "SELECT c.seq, c.kind, c.ref, COALESCE(u.record, e.event)
     FROM changes c
     LEFT JOIN usage u ON c.kind = 'usage' AND u.request_id = c.ref
     LEFT JOIN events e ON c.kind = 'event' AND e.id = c.ref
     WHERE c.seq > ?1 AND c.kind = ?2 ORDER BY c.seq LIMIT ?3";

impl SqliteStore {
    /// Up to `limit` changes of `kind` after sequence number `after`, oldest first, each with its sequence
    /// number (the next cursor).
    ///
    /// # Errors
    /// The database failed.
    pub async fn changes_after(
        &self,
        kind: FeedKind,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Change)>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.call(move |conn| {
            let rows: Vec<(i64, String, String, Option<String>)> = conn
                .prepare_cached(AFTER)
                .and_then(|mut stmt| {
                    stmt.query_map(params![after, kind.as_str(), limit], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                    })?
                    .collect()
                })
                .map_err(to_store_error)?;
            Ok(rows
                .into_iter()
                .map(|(seq, kind, reference, body)| {
                    let unreadable = |error: String| Change::Unreadable {
                        kind: kind.clone(),
                        reference: reference.clone(),
                        error,
                    };
                    let change = match (kind.as_str(), body) {
                        (_, None) => unreadable("the row is gone".to_owned()),
                        ("usage", Some(json)) => decode(&json).map_or_else(
                            |e| unreadable(e.to_string()),
                            |r| Change::Usage(Box::new(r)),
                        ),
                        (_, Some(json)) => {
                            decode(&json).map_or_else(|e| unreadable(e.to_string()), Change::Event)
                        }
                    };
                    (seq, change)
                })
                .collect())
        })
        .await
    }
}
