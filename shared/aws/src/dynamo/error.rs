//! SDK and (de)serialisation errors become `StoreError` here; no SDK type leaves the crate.

use std::error::Error;

use aws_smithy_types::error::display::DisplayErrorContext;
use sluice_core::store::StoreError;

/// Throttling, timeouts, network and service failures: the caller may retry.
/// Takes any error so SDK errors (`SdkError`) and waiter errors (`WaiterError`) share one format.
pub(crate) fn unavailable<E: Error>(operation: &str, err: &E) -> StoreError {
    StoreError::Unavailable(format!(
        "DynamoDB {operation}: {}",
        DisplayErrorContext(err)
    ))
}

/// An item that does not have the shape `layout` describes.
pub(crate) fn corrupt(what: &str, err: &serde_dynamo::Error) -> StoreError {
    StoreError::Corrupt(format!("{what}: {err}"))
}

/// A request builder rejected input that the adapter always sets; kept as an error rather than a panic.
pub(crate) fn invalid_request(err: &aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Unavailable(format!("DynamoDB request could not be built: {err}"))
}
