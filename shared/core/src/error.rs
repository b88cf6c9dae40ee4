//! The Anthropic error contract and the one exhaustive mapping from every failure Sluice knows to it.
//!
//! Every answer that is not a success leaves Sluice as `{"type":"error","error":{"type":..,"message":..}}` with the status
//! Anthropic uses for that type. Upstream (Bedrock) failures are classified by the adapter into `UpstreamErrorKind`;
//! `ApiError::from_upstream` is the only place that decides what a client sees for each of them.

use serde_json::json;

/// Anthropic's error types, each with its fixed HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiErrorKind {
    InvalidRequest,
    Authentication,
    Permission,
    NotFound,
    RequestTooLarge,
    RateLimit,
    /// A spend budget is exhausted. Sent as 429 with `x-should-retry: false` (what Claude Code's own
    /// gateway code answers for a reached spend limit), so the client shows it at once instead of retrying.
    Billing,
    Api,
    Overloaded,
    /// The admin API's optimistic concurrency: the document changed since the version the caller read (409
    /// `conflict_error`, never on the inference path).
    Conflict,
}

impl ApiErrorKind {
    #[must_use]
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidRequest => 400,
            Self::Authentication => 401,
            Self::Permission => 403,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::RequestTooLarge => 413,
            Self::RateLimit | Self::Billing => 429,
            Self::Api => 500,
            Self::Overloaded => 529,
        }
    }

    #[must_use]
    pub fn type_name(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request_error",
            Self::Authentication => "authentication_error",
            Self::Permission => "permission_error",
            Self::NotFound => "not_found_error",
            Self::RequestTooLarge => "request_too_large",
            Self::RateLimit => "rate_limit_error",
            Self::Billing => "billing_error",
            Self::Api => "api_error",
            Self::Overloaded => "overloaded_error",
            Self::Conflict => "conflict_error",
        }
    }
}

/// An error as the client will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub kind: ApiErrorKind,
    pub message: String,
    /// Whole seconds for the `retry-after` header (Claude Code gives up at once above 60).
    pub retry_after_secs: Option<u64>,
    /// Further response headers (`x-should-retry`, `x-sluice-budget-*`), name and value.
    pub headers: Vec<(String, String)>,
}

impl ApiError {
    pub fn new(kind: ApiErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry_after_secs: None,
            headers: Vec::new(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ApiErrorKind::InvalidRequest, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ApiErrorKind::Api, message)
    }

    /// The answer when the store failed while `doing` something: throttling is 529 `overloaded_error` with
    /// `retry-after: 1` (clients retry it), any other failure 500 `api_error` saying the request can be retried.
    /// The store's message and source chain are logged, never shown.
    #[must_use]
    pub fn from_store(err: &crate::store::StoreError, doing: &str) -> Self {
        use crate::store::StoreError;
        let source = std::error::Error::source(err).map(ToString::to_string);
        tracing::error!(error = %err, source = ?source, doing, "store failed");
        match err {
            StoreError::Throttled(..) => Self::new(
                ApiErrorKind::Overloaded,
                format!("Sluice's store is busy and could not {doing}; retry shortly"),
            )
            .with_retry_after(1),
            StoreError::Unavailable(..) | StoreError::Corrupt(_) | StoreError::AlreadyExists(_) => {
                Self::internal(format!(
                    "Sluice could not {doing}; the request can be retried"
                ))
            }
        }
    }

    #[must_use]
    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// Adds a response header.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    #[must_use]
    pub fn status(&self) -> u16 {
        self.kind.status()
    }

    /// The Anthropic error envelope.
    #[must_use]
    pub fn body(&self) -> serde_json::Value {
        json!({"type": "error", "error": {"type": self.kind.type_name(), "message": self.message}})
    }

    /// The same envelope as one SSE `error` event, for failures after the stream has started.
    #[must_use]
    pub fn sse_frame(&self) -> String {
        format!("event: error\ndata: {}\n\n", self.body())
    }

    /// What the client sees for an upstream failure. `requested_model` lets messages name what the client asked for.
    #[must_use]
    pub fn from_upstream(err: &UpstreamError, requested_model: &str) -> Self {
        use ApiErrorKind as K;
        let msg = err.message.as_str();
        match err.kind {
            UpstreamErrorKind::Validation => {
                Self::invalid(validation_message(msg, requested_model))
            }
            UpstreamErrorKind::AccessDenied => Self::new(
                K::Permission,
                format!(
                    "Amazon Bedrock denied access to {requested_model}: {msg} \
                     (check that model access is granted in the Bedrock console for this account and region)"
                ),
            ),
            UpstreamErrorKind::ResourceNotFound => Self::new(
                K::NotFound,
                format!("model: {requested_model} was not found on Amazon Bedrock: {msg}"),
            ),
            UpstreamErrorKind::Throttling | UpstreamErrorKind::ServiceQuotaExceeded => Self::new(
                K::RateLimit,
                format!("Amazon Bedrock is throttling requests: {msg}"),
            )
            .with_retry_after(5),
            UpstreamErrorKind::ServiceUnavailable | UpstreamErrorKind::ModelNotReady => Self::new(
                K::Overloaded,
                format!("Amazon Bedrock is overloaded: {msg}"),
            ),
            UpstreamErrorKind::ModelTimeout => {
                Self::new(K::Api, format!("The model timed out: {msg}"))
            }
            UpstreamErrorKind::InternalServer | UpstreamErrorKind::ModelError => {
                Self::new(K::Api, format!("Amazon Bedrock failed: {msg}"))
            }
            UpstreamErrorKind::ModelStreamError { original_status } => match original_status {
                Some(429) => Self::new(
                    K::RateLimit,
                    format!("Amazon Bedrock is throttling requests: {msg}"),
                )
                .with_retry_after(5),
                Some(503 | 529) => Self::new(
                    K::Overloaded,
                    format!("Amazon Bedrock is overloaded: {msg}"),
                ),
                Some(400) => Self::invalid(validation_message(msg, requested_model)),
                Some(_) | None => Self::new(K::Api, format!("The model stream failed: {msg}")),
            },
            UpstreamErrorKind::Transport => Self::new(
                K::Api,
                "Sluice could not reach Amazon Bedrock; the request can be retried",
            ),
            UpstreamErrorKind::Credentials => Self::new(
                K::Api,
                "Sluice has no usable AWS credentials for Amazon Bedrock; ask the administrator to check its role",
            ),
        }
    }
}

/// Bedrock validation messages, reworded where Claude Code keys on Anthropic's wording or a hint helps.
fn validation_message(msg: &str, requested_model: &str) -> String {
    let lower = msg.to_ascii_lowercase();
    if lower.contains("too long")
        || lower.contains("too many input tokens")
        || lower.contains("exceeds the context")
    {
        // Claude Code compacts and retries only when the message starts with Anthropic's phrase.
        return format!("prompt is too long: {msg}");
    }
    if lower.contains("model identifier is invalid") {
        return format!(
            "{requested_model} is not available through Amazon Bedrock here ({msg}). The model may not be offered in this \
             geography or model access may not be granted; use /model to pick another model or ask your administrator."
        );
    }
    if lower.contains("on-demand throughput") {
        return format!(
            "{requested_model} must be invoked through an inference profile ({msg}); ask your administrator to configure \
             SLUICE_MODEL_PREFIX or a model mapping."
        );
    }
    msg.to_owned()
}

/// How an upstream call failed, as classified by the adapter that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamErrorKind {
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
    ModelStreamError {
        original_status: Option<u16>,
    },
    /// The request never got a Bedrock answer (connection, timeout, unparseable response).
    Transport,
    /// No credentials could be resolved or they were rejected before reaching Bedrock.
    Credentials,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {message}")]
pub struct UpstreamError {
    pub kind: UpstreamErrorKind,
    pub message: String,
}

impl UpstreamError {
    pub fn new(kind: UpstreamErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod store_failure_tests {
    use super::*;
    use crate::store::StoreError;

    #[test]
    fn a_throttled_store_is_a_retryable_overload_and_other_failures_a_retryable_500() {
        let busy = ApiError::from_store(
            &StoreError::Throttled("x".into(), None),
            "check the rate limit",
        );
        assert_eq!((busy.status(), busy.retry_after_secs), (529, Some(1)));
        assert!(busy.message.contains("check the rate limit") && !busy.message.contains('x'));
        let down = ApiError::from_store(
            &StoreError::unavailable("secret detail"),
            "verify the credential",
        );
        assert_eq!((down.status(), down.retry_after_secs), (500, None));
        assert!(!down.message.contains("secret detail"), "{}", down.message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(kind: UpstreamErrorKind, m: &str) -> ApiError {
        ApiError::from_upstream(&UpstreamError::new(kind, m), "claude-opus-4-8")
    }

    #[test]
    fn every_upstream_kind_maps_to_the_anthropic_status_and_type() {
        use UpstreamErrorKind as U;
        let cases = [
            (U::Validation, 400, "invalid_request_error"),
            (U::AccessDenied, 403, "permission_error"),
            (U::ResourceNotFound, 404, "not_found_error"),
            (U::Throttling, 429, "rate_limit_error"),
            (U::ServiceQuotaExceeded, 429, "rate_limit_error"),
            (U::ModelNotReady, 529, "overloaded_error"),
            (U::ServiceUnavailable, 529, "overloaded_error"),
            (U::InternalServer, 500, "api_error"),
            (U::ModelTimeout, 500, "api_error"),
            (U::ModelError, 500, "api_error"),
            (
                U::ModelStreamError {
                    original_status: Some(429),
                },
                429,
                "rate_limit_error",
            ),
            (
                U::ModelStreamError {
                    original_status: Some(503),
                },
                529,
                "overloaded_error",
            ),
            (
                U::ModelStreamError {
                    original_status: None,
                },
                500,
                "api_error",
            ),
            (U::Transport, 500, "api_error"),
            (U::Credentials, 500, "api_error"),
        ];
        for (kind, status, ty) in cases {
            let e = up(kind, "x");
            assert_eq!((e.status(), e.kind.type_name()), (status, ty), "{kind:?}");
        }
    }

    #[test]
    fn throttling_carries_retry_after_in_whole_seconds() {
        assert_eq!(
            up(UpstreamErrorKind::Throttling, "Too many requests").retry_after_secs,
            Some(5)
        );
    }

    #[test]
    fn too_long_input_is_reworded_so_claude_code_compacts() {
        let e = up(
            UpstreamErrorKind::Validation,
            "Input is too long for requested model.",
        );
        assert!(e.message.starts_with("prompt is too long"), "{}", e.message);
    }

    #[test]
    fn invalid_model_identifier_names_the_requested_model() {
        let e = up(
            UpstreamErrorKind::Validation,
            "The provided model identifier is invalid.",
        );
        assert!(
            e.message.starts_with("claude-opus-4-8 is not available"),
            "{}",
            e.message
        );
    }

    #[test]
    fn envelope_and_sse_frame_have_the_anthropic_shape() {
        let e = ApiError::invalid("bad");
        assert_eq!(
            e.body(),
            json!({"type":"error","error":{"type":"invalid_request_error","message":"bad"}})
        );
        assert_eq!(
            e.sse_frame(),
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"bad\"}}\n\n"
        );
    }
}
