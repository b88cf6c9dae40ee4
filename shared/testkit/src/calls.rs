//! Counting DynamoDB round trips: a client whose every request is recorded by operation name, so tests and
//! benchmarks can state how many requests a Sluice operation costs.

use std::sync::{Arc, Mutex, PoisonError};

use aws_config::SdkConfig;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;

/// The operations (`GetItem`, `UpdateItem`, ...) sent so far, in order.
#[derive(Debug, Clone, Default)]
pub struct CallLog(Arc<Mutex<Vec<String>>>);

impl CallLog {
    /// Takes and clears the recorded operations.
    #[must_use]
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or_default();
        let operation = target.rsplit('.').next().unwrap_or_default().to_owned();
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(operation);
        Ok(())
    }
}

/// A DynamoDB client for `config` that records every request in the returned log.
#[must_use]
pub fn counting_dynamodb_client(config: &SdkConfig) -> (aws_sdk_dynamodb::Client, CallLog) {
    let log = CallLog::default();
    let conf = aws_sdk_dynamodb::config::Builder::from(config)
        .interceptor(log.clone())
        .build();
    (aws_sdk_dynamodb::Client::from_conf(conf), log)
}
