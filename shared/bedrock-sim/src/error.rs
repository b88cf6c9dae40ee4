//! Errors Bedrock answers before the first byte of a reply, in its restJson1 shape:
//! an HTTP status, `x-amzn-errortype: <Name>:<namespace>` and `{"message": ...}`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The namespace suffix Bedrock puts after the error name; the SDK only reads the part before `:`.
const ERROR_NAMESPACE: &str = "http://internal.amazon.com/coral/com.amazon.bedrock/";

/// The error shapes Bedrock Runtime models for InvokeModel, InvokeModelWithResponseStream and CountTokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Validation,
    AccessDenied,
    ResourceNotFound,
    Throttling,
    ServiceQuotaExceeded,
    ModelNotReady,
    ServiceUnavailable,
    InternalServer,
    ModelTimeout,
    ModelError,
}

impl ErrorKind {
    /// The shape name the SDK matches on (`is_throttling_exception()` etc.).
    pub fn name(self) -> &'static str {
        match self {
            Self::Validation => "ValidationException",
            Self::AccessDenied => "AccessDeniedException",
            Self::ResourceNotFound => "ResourceNotFoundException",
            Self::Throttling => "ThrottlingException",
            Self::ServiceQuotaExceeded => "ServiceQuotaExceededException",
            Self::ModelNotReady => "ModelNotReadyException",
            Self::ServiceUnavailable => "ServiceUnavailableException",
            Self::InternalServer => "InternalServerException",
            Self::ModelTimeout => "ModelTimeoutException",
            Self::ModelError => "ModelErrorException",
        }
    }

    /// The HTTP status Bedrock's model assigns to the shape.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Validation | Self::ServiceQuotaExceeded => StatusCode::BAD_REQUEST,
            Self::AccessDenied => StatusCode::FORBIDDEN,
            Self::ResourceNotFound => StatusCode::NOT_FOUND,
            Self::Throttling | Self::ModelNotReady => StatusCode::TOO_MANY_REQUESTS,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::InternalServer => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ModelTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::ModelError => StatusCode::FAILED_DEPENDENCY,
        }
    }
}

/// One error reply, written before any byte of a model answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.name())]
pub struct BedrockError {
    pub kind: ErrorKind,
    pub message: String,
}

impl BedrockError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, message)
    }

    /// Bedrock's JSON-schema wording for a body that does not match the schema.
    pub fn malformed(detail: impl std::fmt::Display) -> Self {
        Self::validation(format!(
            "Malformed input request: {detail}, please reformat your input and try again."
        ))
    }
}

impl IntoResponse for BedrockError {
    fn into_response(self) -> Response {
        tracing::debug!(error = %self, "bedrock-sim answers an error");
        let body = serde_json::json!({ "message": self.message });
        let mut response = (self.kind.status(), axum::Json(body)).into_response();
        let errortype = format!("{}:{ERROR_NAMESPACE}", self.kind.name());
        if let Ok(value) = HeaderValue::from_str(&errortype) {
            response.headers_mut().insert("x-amzn-errortype", value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_response_carries_status_errortype_header_and_message() {
        let response = BedrockError::new(ErrorKind::ModelError, "boom").into_response();
        assert_eq!(response.status(), StatusCode::FAILED_DEPENDENCY);
        let header = response
            .headers()
            .get("x-amzn-errortype")
            .map(|v| v.to_str().ok());
        assert_eq!(
            header,
            Some(Some(
                "ModelErrorException:http://internal.amazon.com/coral/com.amazon.bedrock/"
            ))
        );
    }
}
