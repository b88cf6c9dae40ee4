//! Delivery with retries: capped exponential backoff with jitter, and a log of every attempt.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::clock::{Clock, Ids};

use super::payload::NotificationPayload;
use super::port::{DeliveryReceipt, Notifier, NotifyError};

/// Waits between attempts: the n-th retry waits between half and all of `min(initial × 2^(n-1), max)`.
///
/// "Equal jitter" keeps the lower half fixed so waits never shrink from one retry to the next (until the
/// cap), while the random upper half spreads out many instances retrying the same failed receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(20),
        }
    }
}

impl Backoff {
    /// The wait before retry number `retry` (1 = the second attempt), for a jitter draw `unit` in `[0, 1]`.
    #[must_use]
    pub fn delay(&self, retry: u32, unit: f64) -> Duration {
        let doublings = retry.saturating_sub(1).min(31);
        let ceiling = self
            .initial
            .saturating_mul(1_u32 << doublings)
            .min(self.max);
        let half = ceiling / 2;
        half + half.mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Delivered,
    RetryableFailure,
    PermanentFailure,
}

/// One line of the delivery log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryAttempt {
    /// 1-based.
    pub number: u32,
    pub started_at: DateTime<Utc>,
    pub elapsed_ms: u64,
    pub outcome: AttemptOutcome,
    /// The receipt's reference when delivered.
    pub reference: Option<String>,
    /// The error's text when not.
    pub error: Option<String>,
    /// The wait before the next attempt, when there is one.
    pub next_retry_in_ms: Option<u64>,
}

/// Every attempt, and how the delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryLog {
    pub attempts: Vec<DeliveryAttempt>,
    pub result: Result<DeliveryReceipt, NotifyError>,
}

impl DeliveryLog {
    #[must_use]
    pub const fn delivered(&self) -> bool {
        self.result.is_ok()
    }
}

/// Delivers `payload`, retrying retryable failures up to `attempts` attempts in all (at least one).
///
/// `clock` stamps and times each attempt and waits between them (tokio's timer in the functions, a fixed
/// clock that records the waits in tests); `ids` draws the jitter.
pub async fn deliver_with_retries(
    notifier: &dyn Notifier,
    payload: &NotificationPayload,
    attempts: u32,
    backoff: &Backoff,
    clock: &dyn Clock,
    ids: &dyn Ids,
) -> DeliveryLog {
    let attempts = attempts.max(1);
    let mut log = Vec::new();
    let mut number = 1;
    loop {
        let started_at = clock.now();
        let start = clock.monotonic();
        let result = notifier.deliver(payload).await;
        let elapsed = clock.monotonic().saturating_sub(start);
        let elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        let (outcome, reference, error) = match &result {
            Ok(receipt) => (
                AttemptOutcome::Delivered,
                Some(receipt.reference.clone()),
                None,
            ),
            Err(e) if e.is_retryable() => {
                (AttemptOutcome::RetryableFailure, None, Some(e.to_string()))
            }
            Err(e) => (AttemptOutcome::PermanentFailure, None, Some(e.to_string())),
        };
        let retry = outcome == AttemptOutcome::RetryableFailure && number < attempts;
        let wait = retry.then(|| backoff.delay(number, ids.unit()));
        log.push(DeliveryAttempt {
            number,
            started_at,
            elapsed_ms,
            outcome,
            reference,
            error,
            next_retry_in_ms: wait.map(|w| u64::try_from(w.as_millis()).unwrap_or(u64::MAX)),
        });
        match (&result, wait) {
            (Ok(receipt), _) => {
                tracing::info!(event_type = %payload.event_type, attempt = number, reference = %receipt.reference, "notification delivered");
            }
            (Err(e), None) => {
                tracing::warn!(event_type = %payload.event_type, attempt = number, error = %e, "notification not delivered");
            }
            (Err(e), Some(wait)) => {
                tracing::info!(event_type = %payload.event_type, attempt = number, error = %e, wait_ms = wait.as_millis(), "notification attempt failed; retrying");
                clock.sleep(wait).await;
                number += 1;
                continue;
            }
        }
        return DeliveryLog {
            attempts: log,
            result,
        };
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::clock::{FixedClock, SequenceIds};

    /// Answers from a script, one entry per call; the last entry repeats.
    struct Scripted {
        script: Vec<Result<DeliveryReceipt, NotifyError>>,
        calls: Mutex<usize>,
    }

    impl Scripted {
        fn new(script: Vec<Result<DeliveryReceipt, NotifyError>>) -> Self {
            Self {
                script,
                calls: Mutex::new(0),
            }
        }
        fn calls(&self) -> usize {
            *self.calls.lock().expect("lock")
        }
    }

    #[async_trait]
    impl Notifier for Scripted {
        async fn deliver(&self, _: &NotificationPayload) -> Result<DeliveryReceipt, NotifyError> {
            let mut calls = self.calls.lock().expect("lock");
            let answer = self.script[(*calls).min(self.script.len() - 1)].clone();
            *calls += 1;
            answer
        }
    }

    fn ok() -> Result<DeliveryReceipt, NotifyError> {
        Ok(DeliveryReceipt {
            reference: "HTTP 200".to_owned(),
        })
    }

    fn status(status: u16) -> Result<DeliveryReceipt, NotifyError> {
        Err(NotifyError::Status {
            status,
            message: "scripted".to_owned(),
        })
    }

    const FAST: Backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(1_000),
    };

    async fn run(notifier: &Scripted, attempts: u32) -> (DeliveryLog, Vec<Duration>) {
        let start = DateTime::parse_from_rfc3339("2026-03-31T23:59:59Z")
            .expect("date")
            .with_timezone(&Utc);
        let clock = FixedClock::at(start);
        let payload = NotificationPayload::synthetic(clock.now());
        let ids = SequenceIds::new(u64::from(attempts));
        let log = deliver_with_retries(notifier, &payload, attempts, &FAST, &clock, &ids).await;
        let waits = clock.sleeps();
        // Each attempt is stamped with the clock's time: the start plus every wait before it.
        let mut expected = start;
        for (attempt, wait) in log
            .attempts
            .iter()
            .zip(std::iter::once(&Duration::ZERO).chain(&waits))
        {
            expected += chrono::TimeDelta::from_std(*wait).expect("small");
            assert_eq!(attempt.started_at, expected);
        }
        (log, waits)
    }

    #[tokio::test]
    async fn retryable_failures_are_retried_until_delivered() {
        let notifier = Scripted::new(vec![
            status(503),
            Err(NotifyError::Timeout("slow".into())),
            ok(),
        ]);
        let (log, waits) = run(&notifier, 5).await;
        assert!(log.delivered());
        assert_eq!(notifier.calls(), 3);
        let outcomes: Vec<_> = log.attempts.iter().map(|a| a.outcome).collect();
        assert_eq!(
            outcomes,
            [
                AttemptOutcome::RetryableFailure,
                AttemptOutcome::RetryableFailure,
                AttemptOutcome::Delivered
            ]
        );
        assert_eq!(
            log.attempts.iter().map(|a| a.number).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(waits.len(), 2);
        assert_eq!(log.attempts[2].reference.as_deref(), Some("HTTP 200"));
        assert!(
            log.attempts[0]
                .error
                .as_deref()
                .is_some_and(|e| e.contains("503"))
        );
        assert_eq!(log.attempts[2].next_retry_in_ms, None);
    }

    #[tokio::test]
    async fn client_errors_are_not_retried() {
        let notifier = Scripted::new(vec![status(400), ok()]);
        let (log, waits) = run(&notifier, 5).await;
        assert!(!log.delivered());
        assert_eq!(notifier.calls(), 1);
        assert!(waits.is_empty());
        assert_eq!(log.attempts.len(), 1);
        assert_eq!(log.attempts[0].outcome, AttemptOutcome::PermanentFailure);
        assert_eq!(log.result, status(400));
    }

    #[tokio::test]
    async fn attempts_are_capped_and_the_last_error_is_returned() {
        let notifier = Scripted::new(vec![status(500), status(502), status(429)]);
        let (log, waits) = run(&notifier, 3).await;
        assert_eq!(notifier.calls(), 3);
        assert_eq!(log.attempts.len(), 3);
        assert_eq!(waits.len(), 2, "no wait after the last attempt");
        assert_eq!(log.result, status(429));
        assert!(
            log.attempts
                .iter()
                .all(|a| a.outcome == AttemptOutcome::RetryableFailure)
        );
    }

    #[tokio::test]
    async fn zero_attempts_still_tries_once() {
        let notifier = Scripted::new(vec![ok()]);
        let (log, _) = run(&notifier, 0).await;
        assert!(log.delivered());
        assert_eq!(notifier.calls(), 1);
    }

    #[tokio::test]
    async fn waits_grow_between_retries_and_stay_under_the_cap() {
        let notifier = Scripted::new(vec![status(500)]);
        let (log, waits) = run(&notifier, 8).await;
        assert_eq!(waits.len(), 7);
        // Ceilings 100, 200, 400, 800 ms, then the 1 s cap: below the cap no wait is shorter than the last.
        for pair in waits[..4].windows(2) {
            assert!(pair[1] >= pair[0], "waits shrank below the cap: {waits:?}");
        }
        assert!(waits.iter().all(|w| *w <= FAST.max), "{waits:?}");
        assert!(
            waits[4..].iter().all(|w| *w >= FAST.max / 2),
            "capped waits keep half the cap: {waits:?}"
        );
        assert!(
            waits[0] >= FAST.initial / 2 && waits[0] <= FAST.initial,
            "{waits:?}"
        );
        assert!(
            waits[3] >= Duration::from_millis(400),
            "fourth retry waits at least half of 800 ms: {waits:?}"
        );
        let logged: Vec<_> = log
            .attempts
            .iter()
            .filter_map(|a| a.next_retry_in_ms)
            .collect();
        assert_eq!(
            logged,
            waits
                .iter()
                .map(|w| u64::try_from(w.as_millis()).expect("small"))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn delay_is_exponential_with_equal_jitter_and_capped() {
        let b = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(20),
        };
        assert_eq!(b.delay(1, 0.0), Duration::from_millis(500));
        assert_eq!(b.delay(1, 1.0), Duration::from_secs(1));
        assert_eq!(b.delay(2, 1.0), Duration::from_secs(2));
        assert_eq!(b.delay(3, 0.0), Duration::from_secs(2));
        assert_eq!(b.delay(5, 1.0), Duration::from_secs(16));
        assert_eq!(b.delay(6, 1.0), Duration::from_secs(20));
        assert_eq!(b.delay(60, 0.0), Duration::from_secs(10));
    }
}
