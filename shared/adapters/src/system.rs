//! The real clock and the system's random source behind core's `Clock` and `Ids` ports.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sluice_core::clock::{Clock, Ids};

/// The system clock; `sleep` is tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

/// The origin of [`SystemClock::monotonic`]: the first reading in this process.
static ORIGIN: LazyLock<Instant> = LazyLock::new(Instant::now);

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn monotonic(&self) -> Duration {
        ORIGIN.elapsed()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// The operating system's CSPRNG (through `rand`'s thread-local generator, seeded from it).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsIds;

impl Ids for OsIds {
    fn fill(&self, buf: &mut [u8]) {
        rand::rng().fill_bytes(buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_system_clock_moves_and_ids_do_not_repeat() {
        let before = SystemClock.monotonic();
        SystemClock.sleep(Duration::from_millis(5)).await;
        assert!(SystemClock.monotonic() >= before + Duration::from_millis(5));
        assert!((Utc::now() - SystemClock.now()).num_seconds().abs() < 5);
        assert_ne!(OsIds.new_id("usr"), OsIds.new_id("usr"));
    }
}
