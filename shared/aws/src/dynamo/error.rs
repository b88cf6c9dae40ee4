//! SDK and (de)serialisation errors become `StoreError` here; no SDK type leaves the crate.

use std::error::Error;

use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use sluice_core::store::StoreError;

/// The error codes with which DynamoDB says it is shedding load rather than failing.
const THROTTLING_CODES: [&str; 4] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "LimitExceededException",
];

/// Timeouts, network and service failures (`Unavailable`) and throttling (`Throttled`): the caller may retry.
/// The SDK error is kept as the source, so logs show the whole chain; its message names the operation.
pub(crate) fn unavailable<E>(operation: &str, err: E) -> StoreError
where
    E: Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    let message = format!("DynamoDB {operation}: {}", DisplayErrorContext(&err));
    if err.code().is_some_and(|c| THROTTLING_CODES.contains(&c)) {
        StoreError::Throttled(message, Some(Box::new(err)))
    } else {
        StoreError::Unavailable(message, Some(Box::new(err)))
    }
}

/// A failure that carries no service error code (a waiter giving up): `Unavailable`, with its source.
pub(crate) fn unavailable_while<E>(operation: &str, err: E) -> StoreError
where
    E: Error + Send + Sync + 'static,
{
    let message = format!("DynamoDB {operation}: {}", DisplayErrorContext(&err));
    StoreError::Unavailable(message, Some(Box::new(err)))
}

/// An item that does not have the shape `layout` describes.
pub(crate) fn corrupt(what: &str, err: &serde_dynamo::Error) -> StoreError {
    StoreError::Corrupt(format!("{what}: {err}"))
}

/// A request builder rejected input that the adapter always sets; kept as an error rather than a panic.
pub(crate) fn invalid_request(err: &aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::unavailable(format!("DynamoDB request could not be built: {err}"))
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::SdkError;
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    fn service_error(code: &str) -> SdkError<GetItemError, ()> {
        SdkError::service_error(
            GetItemError::generic(ErrorMetadata::builder().code(code).message("m").build()),
            (),
        )
    }

    #[test]
    fn throttling_codes_are_throttled_other_failures_unavailable_and_both_keep_their_source() {
        for code in THROTTLING_CODES {
            let err = unavailable("GetItem", service_error(code));
            assert!(matches!(err, StoreError::Throttled(..)), "{code}: {err:?}");
            assert!(err.is_retryable() && Error::source(&err).is_some());
        }
        let err = unavailable("GetItem", service_error("InternalServerError"));
        assert!(matches!(err, StoreError::Unavailable(..)), "{err:?}");
        assert!(err.to_string().contains("DynamoDB GetItem"), "{err}");
        assert!(Error::source(&err).is_some());
    }
}
