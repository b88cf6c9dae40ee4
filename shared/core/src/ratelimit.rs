//! Rate-limit arithmetic: a sliding window approximated from the current and previous fixed windows.
//!
//! The estimate is `previous_count × (1 − elapsed/window) + current_count`. A request is admitted when the
//! estimate after it stays within the limit, i.e. when `current_count < limit − floor(previous × (1 − elapsed))`.
//! That bound is what the store's conditional increment checks atomically, so concurrent admissions across any
//! number of instances never exceed it. The previous window is closed, so its count can be cached for the whole
//! current window: the steady state costs one conditional write per request.

/// What one conditional increment said: admitted (the count after it), or refused until the window moves on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted { count: u64 },
    Refused { retry_after_secs: u64 },
}

/// Where `now` falls: the current window's start, the previous window's start, and the elapsed fraction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowPosition {
    pub start_s: i64,
    pub previous_start_s: i64,
    pub elapsed_s: f64,
    pub window_s: i64,
}

#[must_use]
pub fn position(now_ms: i64, window_s: i64) -> WindowPosition {
    let window_ms = window_s.max(1) * 1000;
    let start_ms = now_ms.div_euclid(window_ms) * window_ms;
    WindowPosition {
        start_s: start_ms / 1000,
        previous_start_s: start_ms / 1000 - window_s,
        elapsed_s: (now_ms - start_ms) as f64 / 1000.0,
        window_s,
    }
}

/// Requests carried over from the previous window at this position.
#[must_use]
pub fn carry(previous_count: u64, pos: &WindowPosition) -> u64 {
    let remaining = 1.0 - (pos.elapsed_s / pos.window_s as f64).clamp(0.0, 1.0);
    (previous_count as f64 * remaining).floor() as u64
}

/// The largest current-window count that still admits one more request (`count < bound`).
#[must_use]
pub fn admit_bound(limit: u64, previous_count: u64, pos: &WindowPosition) -> u64 {
    limit.saturating_sub(carry(previous_count, pos))
}

/// Whole seconds until a refused request would be admitted (at least 1), for `retry-after`.
#[must_use]
pub fn retry_after_secs(
    limit: u64,
    previous_count: u64,
    current_count: u64,
    pos: &WindowPosition,
) -> u64 {
    let w = pos.window_s as f64;
    let wait = if current_count < limit && previous_count > 0 {
        // Blocked by the carry: wait until it decays below `limit - current`.
        let needed_fraction = 1.0 - (limit - current_count) as f64 / previous_count as f64;
        w * needed_fraction - pos.elapsed_s
    } else {
        // The current window is full: wait for the next one, and for this window's carry to decay there.
        let rest = w - pos.elapsed_s;
        let decay = if current_count == 0 {
            0.0
        } else {
            w * (1.0 - limit as f64 / current_count as f64).max(0.0)
        };
        rest + decay
    };
    (wait.ceil().max(1.0)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_splits_time_into_windows() {
        let p = position(125_500, 60);
        assert_eq!((p.start_s, p.previous_start_s), (120, 60));
        assert!((p.elapsed_s - 5.5).abs() < 1e-9);
    }

    #[test]
    fn carry_decays_linearly_over_the_window() {
        assert_eq!(carry(100, &position(120_000, 60)), 100);
        assert_eq!(carry(100, &position(150_000, 60)), 50);
        assert_eq!(carry(100, &position(179_999, 60)), 0);
    }

    #[test]
    fn bound_never_admits_past_the_limit() {
        let p = position(150_000, 60);
        assert_eq!(admit_bound(60, 100, &p), 10);
        assert_eq!(admit_bound(10, 100, &p), 0);
        assert_eq!(admit_bound(10, 0, &p), 10);
    }

    #[test]
    fn retry_after_is_honest_and_at_least_one_second() {
        // Full current window at second 0 of 60 with limit 10: the next window opens in 60 s.
        assert_eq!(retry_after_secs(10, 0, 10, &position(120_000, 60)), 60);
        // Blocked by carry only: 100 from before, 5 now, limit 10 at half time → carry 50; need carry < 5 → 94.5% → 27 s.
        assert_eq!(retry_after_secs(10, 100, 5, &position(150_000, 60)), 27);
        assert_eq!(retry_after_secs(10, 0, 10, &position(179_900, 60)), 1);
    }
}
