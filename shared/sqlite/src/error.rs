//! rusqlite errors become `StoreError` here, so no rusqlite type leaves the crate.

use rusqlite::ErrorCode;
use sluice_core::store::StoreError;

/// Unique/primary-key violations mean the item exists; decoding failures mean the row is corrupt;
/// everything else (I/O, locks past the busy timeout, a closed connection) may succeed if retried.
pub(crate) fn to_store_error(err: rusqlite::Error) -> StoreError {
    match err {
        rusqlite::Error::SqliteFailure(failure, message)
            if failure.code == ErrorCode::ConstraintViolation =>
        {
            StoreError::AlreadyExists(message.unwrap_or_else(|| failure.to_string()))
        }
        corrupt @ (rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..)) => StoreError::Corrupt(corrupt.to_string()),
        // Another writer held the database past the busy timeout: load, not failure.
        busy if matches!(
            busy.sqlite_error_code(),
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
        ) =>
        {
            StoreError::Throttled(busy.to_string(), Some(Box::new(busy)))
        }
        other => StoreError::Unavailable(other.to_string(), Some(Box::new(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_is_throttled_and_other_failures_unavailable_both_retryable_with_their_source() {
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("database is locked".into()),
        );
        let err = to_store_error(busy);
        assert!(matches!(err, StoreError::Throttled(..)), "{err:?}");
        assert!(err.is_retryable());
        assert!(std::error::Error::source(&err).is_some());
        let closed = to_store_error(rusqlite::Error::InvalidQuery);
        assert!(matches!(closed, StoreError::Unavailable(..)), "{closed:?}");
        assert!(closed.is_retryable() && std::error::Error::source(&closed).is_some());
    }

    #[test]
    fn out_of_range_integer_is_corrupt_not_retryable() {
        let err = rusqlite::Error::IntegralValueOutOfRange(0, -1);
        assert!(matches!(to_store_error(err), StoreError::Corrupt(_)));
    }

    #[test]
    fn other_failures_are_unavailable() {
        let err = rusqlite::Error::InvalidQuery;
        assert!(matches!(to_store_error(err), StoreError::Unavailable(..)));
    }
}
