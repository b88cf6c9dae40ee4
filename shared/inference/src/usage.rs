//! The usage ledger, gateway side: one record per request, priced, sanitized and written before the response
//! ends (Lambda freezes the instance once the response is complete, so nothing may be left to a background task).
//!
//! Writes are retried with backoff, then the record goes to the durable fallback (an SQS queue on Lambda, a JSON-lines
//! file locally: `sluice_adapters::FileUsageFallback`) from which `sluice usage replay` puts it into the store. Only
//! if that fails too is the record logged whole at error level with the marker `usage_record_unwritten`, so it can
//! still be recovered from the logs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sluice_core::spend::usage::Outcome;
use sluice_core::spend::{PriceTable, UsageRecord};
use sluice_core::store::{Store, UsageFallback};

use sluice_core::translate::UsageSeen;
use sluice_http::prices::PriceBook;

/// Waits before the 2nd, 3rd and 4th attempt.
const RETRY_BACKOFF: [Duration; 3] = [
    Duration::from_millis(50),
    Duration::from_millis(200),
    Duration::from_millis(800),
];

/// Writes usage records to the store.
pub struct UsageLedger {
    store: Arc<dyn Store>,
    prices: Arc<PriceBook>,
    fallback: Option<Arc<dyn UsageFallback>>,
}

impl UsageLedger {
    /// A ledger pricing with a fixed table.
    #[must_use]
    pub fn new(store: Arc<dyn Store>, prices: PriceTable) -> Self {
        Self::with_price_book(store, Arc::new(PriceBook::fixed(prices)))
    }

    /// A ledger pricing with the process's price book (admin overrides, refreshed).
    #[must_use]
    pub fn with_price_book(store: Arc<dyn Store>, prices: Arc<PriceBook>) -> Self {
        Self {
            store,
            prices,
            fallback: None,
        }
    }

    /// Where records go when the store keeps refusing them.
    #[must_use]
    pub fn with_fallback(mut self, fallback: Arc<dyn UsageFallback>) -> Self {
        self.fallback = Some(fallback);
        self
    }

    /// Prices, sanitizes and stores `record`, retrying transient failures. Never fails the request: a record that
    /// cannot be stored is logged whole instead (see the module doc).
    pub async fn write(&self, mut record: UsageRecord) {
        let prices = self.prices.table(self.store.as_ref()).await;
        record.price_with(&prices);
        record.sanitize();
        let mut last_error = String::new();
        for attempt in 0..=RETRY_BACKOFF.len() {
            if attempt > 0 {
                tokio::time::sleep(RETRY_BACKOFF[attempt - 1]).await;
            }
            match self.store.put_usage(&record).await {
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(request_id = %record.request_id, attempt = attempt + 1, error = %e, "usage record write failed");
                    last_error = e.to_string();
                }
            }
        }
        if let Some(fallback) = &self.fallback {
            match fallback.stash(&record).await {
                Ok(()) => {
                    tracing::warn!(request_id = %record.request_id, error = %last_error, "usage record kept in the fallback for replay");
                    return;
                }
                Err(e) => last_error = format!("{last_error}; fallback: {e}"),
            }
        }
        let json = serde_json::to_string(&record).unwrap_or_default();
        tracing::error!(
            request_id = %record.request_id,
            error = %last_error,
            usage_record_unwritten = %json,
            "usage record could not be stored; it is logged here for recovery"
        );
    }
}

/// What the gateway knows about a request before the answer: everything the usage record needs except the usage.
#[derive(Debug, Clone)]
pub struct UsageContext {
    pub request_id: String,
    pub time_ms: i64,
    pub started: Instant,
    pub key_id: Option<String>,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub requested_model: String,
    pub bedrock_model_id: String,
    pub stream: bool,
    pub thinking: bool,
    pub session_id: Option<String>,
    pub region: Option<String>,
}

impl UsageContext {
    /// The record for this request with the usage seen so far.
    #[must_use]
    pub fn record(&self, usage: &UsageSeen, outcome: Outcome, ttfb_ms: Option<u64>) -> UsageRecord {
        UsageRecord {
            request_id: self.request_id.clone(),
            time_ms: self.time_ms,
            key_id: self.key_id.clone().unwrap_or_else(|| "-".into()),
            user_id: self.user_id.clone(),
            team_id: self.team_id.clone(),
            requested_model: self.requested_model.clone(),
            bedrock_model_id: self.bedrock_model_id.clone(),
            stream: self.stream,
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cache_read_tokens: usage.cache_read_input_tokens,
            cache_write_tokens: usage.cache_creation_input_tokens,
            cache_write_5m_tokens: usage.cache_creation_5m_input_tokens,
            cache_write_1h_tokens: usage.cache_creation_1h_input_tokens,
            stop_reason: usage.stop_reason.clone(),
            duration_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            ttfb_ms,
            invocation_metrics: usage.invocation_metrics.clone(),
            tool_names: usage.tool_names.clone(),
            thinking: self.thinking,
            session_id: self.session_id.clone(),
            endpoint: Some("bedrock-runtime".into()),
            region: self.region.clone(),
            outcome,
            cost_micros: None,
            policy_refusal: None,
        }
    }
}
