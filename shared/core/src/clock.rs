//! Time and randomness as ports, so the domain stays deterministic: core never reads the system clock or a
//! random source itself. The binaries hand in `sluice_adapters::{SystemClock, OsIds}`; tests hand in
//! [`FixedClock`] and [`SequenceIds`], which make "now" and every generated id an input (no flakes at midnight
//! or a month's end, and retry waits that take no real time).

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

/// Where core gets "now", measures how long something took, and waits.
#[async_trait]
pub trait Clock: Send + Sync {
    /// Wall-clock time.
    fn now(&self) -> DateTime<Utc>;
    /// A monotonic reading from an arbitrary origin: only differences between two readings mean anything.
    fn monotonic(&self) -> Duration;
    /// Waits `duration` (a retry's back-off).
    async fn sleep(&self, duration: Duration);
}

/// Where core gets unpredictable bytes: ids, key secrets, webhook secrets, retry jitter.
pub trait Ids: Send + Sync {
    /// Fills `buf` with bytes nobody can predict (the system's CSPRNG in production).
    fn fill(&self, buf: &mut [u8]);

    /// A fresh identifier such as `usr_3f9a0c1d2e4b5a69` (8 random bytes in hex after the prefix).
    fn new_id(&self, prefix: &str) -> String {
        let mut bytes = [0_u8; 8];
        self.fill(&mut bytes);
        format!("{prefix}_{}", hex::encode(bytes))
    }

    /// A uniform draw in `[0, 1]` (retry jitter).
    fn unit(&self) -> f64 {
        let mut bytes = [0_u8; 4];
        self.fill(&mut bytes);
        f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX)
    }

    /// A uniform random `u32`.
    fn next_u32(&self) -> u32 {
        let mut bytes = [0_u8; 4];
        self.fill(&mut bytes);
        u32::from_le_bytes(bytes)
    }
}

/// A clock that moves only when told to: `sleep` advances it at once and is recorded.
#[derive(Debug)]
pub struct FixedClock {
    state: Mutex<FixedState>,
}

#[derive(Debug)]
struct FixedState {
    now: DateTime<Utc>,
    since_start: Duration,
    sleeps: Vec<Duration>,
}

impl FixedClock {
    #[must_use]
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            state: Mutex::new(FixedState {
                now,
                since_start: Duration::ZERO,
                sleeps: Vec::new(),
            }),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut state = self.lock();
        state.now += TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
        state.since_start += by;
    }

    /// Every wait asked of the clock so far, in order.
    #[must_use]
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().sleeps.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FixedState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.lock().now
    }

    fn monotonic(&self) -> Duration {
        self.lock().since_start
    }

    async fn sleep(&self, duration: Duration) {
        self.lock().sleeps.push(duration);
        self.advance(duration);
    }
}

/// Predictable "random" bytes: a counter run through SHA-256, so ids differ from each other and from run to run
/// of the same seed they are the same.
#[derive(Debug)]
pub struct SequenceIds {
    seed: u64,
    next: Mutex<u64>,
}

impl SequenceIds {
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self {
            seed,
            next: Mutex::new(0),
        }
    }
}

impl Ids for SequenceIds {
    fn fill(&self, buf: &mut [u8]) {
        use sha2::{Digest, Sha256};
        for chunk in buf.chunks_mut(32) {
            let n = {
                let mut next = self
                    .next
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                *next += 1;
                *next
            };
            let digest = Sha256::new()
                .chain_update(self.seed.to_le_bytes())
                .chain_update(n.to_le_bytes())
                .finalize();
            chunk.copy_from_slice(&digest[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_fixed_clock_moves_only_when_told_and_records_its_sleeps() {
        let start = DateTime::parse_from_rfc3339("2026-01-31T23:59:59Z")
            .expect("date")
            .with_timezone(&Utc);
        let clock = FixedClock::at(start);
        assert_eq!((clock.now(), clock.monotonic()), (start, Duration::ZERO));
        clock.sleep(Duration::from_secs(2)).await;
        assert_eq!(clock.now().to_rfc3339(), "2026-02-01T00:00:01+00:00");
        assert_eq!(clock.monotonic(), Duration::from_secs(2));
        assert_eq!(clock.sleeps(), [Duration::from_secs(2)]);
    }

    #[test]
    fn sequence_ids_differ_from_each_other_and_repeat_for_the_same_seed() {
        let (a, b) = (SequenceIds::new(7), SequenceIds::new(7));
        let first = a.new_id("usr");
        assert!(
            first.starts_with("usr_") && first.len() == 4 + 16,
            "{first}"
        );
        assert_ne!(first, a.new_id("usr"));
        assert_eq!(first, b.new_id("usr"));
        let unit = a.unit();
        assert!((0.0..=1.0).contains(&unit));
        let mut long = [0_u8; 70];
        a.fill(&mut long);
        assert_ne!(&long[..32], &long[32..64]);
    }
}
