//! The log of received requests behind `GET /_sim/requests`, so tests can check what a gateway
//! actually sent to Bedrock.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use serde::Serialize;
use serde_json::Value;

/// How many requests are kept; older ones are dropped first.
const CAPACITY: usize = 200;

/// One received request.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    /// `InvokeModel`, `InvokeModelWithResponseStream` or `CountTokens`.
    pub operation: &'static str,
    /// The model id from the path, percent-decoded.
    pub model_id: String,
    /// The body as JSON (a JSON string holding the raw text when it was not JSON).
    pub body: Value,
    /// For CountTokens: the decoded InvokeModel body inside `input.invokeModel.body`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoke_body: Option<Value>,
}

#[derive(Debug, Default)]
pub struct Recorder {
    requests: Mutex<VecDeque<Recorded>>,
}

impl Recorder {
    pub fn record(&self, request: Recorded) {
        // A panic elsewhere while holding the lock leaves the log usable; it is only a list.
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        if requests.len() == CAPACITY {
            requests.pop_front();
        }
        requests.push_back(request);
    }

    pub fn snapshot(&self) -> Vec<Recorded> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    pub fn clear(&self) {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_newest_requests() {
        let recorder = Recorder::default();
        for i in 0..(CAPACITY + 5) {
            recorder.record(Recorded {
                operation: "InvokeModel",
                model_id: i.to_string(),
                body: Value::Null,
                invoke_body: None,
            });
        }
        let all = recorder.snapshot();
        assert_eq!(all.len(), CAPACITY);
        assert_eq!(all.first().map(|r| r.model_id.as_str()), Some("5"));
        assert_eq!(
            all.last().map(|r| r.model_id.clone()),
            Some((CAPACITY + 4).to_string())
        );
        recorder.clear();
        assert!(recorder.snapshot().is_empty());
    }
}
