//! Time, for the runtime only: the engine never reads a clock.

use std::cell::Cell;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of "now" that can also wait.
pub trait Clock: std::fmt::Debug {
    /// Now, in epoch milliseconds.
    fn now_millis(&self) -> i64;
    /// Blocks until `millis` (or returns at once if it has passed).
    fn sleep_until(&self, millis: i64);
    /// How long, in real time, until the clock reads `millis` (zero when it has passed):
    /// what an asynchronous caller, which cannot block in `sleep_until`, sleeps instead.
    /// The default is right for clocks that run at real speed.
    fn real_time_until(&self, millis: i64) -> Duration {
        Duration::from_millis(millis.saturating_sub(self.now_millis()).max(0) as u64)
    }
}

/// The real clock: the only place in steppe that reads system time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as i64)
    }

    fn sleep_until(&self, millis: i64) {
        let wait = millis - self.now_millis();
        if wait > 0 {
            std::thread::sleep(Duration::from_millis(wait as u64));
        }
    }
}

/// A virtual clock that jumps straight to whatever time is awaited, so Waits, retry
/// back-offs and timeouts complete at once with consistent timestamps.
#[derive(Debug)]
pub struct FastClock {
    now: Cell<i64>,
}

impl FastClock {
    /// A fast clock starting at `start_millis`.
    pub fn new(start_millis: i64) -> FastClock {
        FastClock {
            now: Cell::new(start_millis),
        }
    }
}

impl Clock for FastClock {
    fn now_millis(&self) -> i64 {
        self.now.get()
    }

    fn sleep_until(&self, millis: i64) {
        if millis > self.now.get() {
            self.now.set(millis);
        }
    }
}

/// A clock that runs `factor` times faster than real time from `start_millis`, so that a
/// server under test sees Waits and retry back-offs of seconds pass in milliseconds while
/// everything still happens in the order it would in real time.
#[derive(Debug, Clone, Copy)]
pub struct ScaledClock {
    start_millis: i64,
    origin: Instant,
    factor: u32,
}

impl ScaledClock {
    /// A clock reading `start_millis` now and running `factor` (at least 1) times faster
    /// than real time.
    pub fn new(start_millis: i64, factor: u32) -> ScaledClock {
        ScaledClock {
            start_millis,
            origin: Instant::now(),
            factor: factor.max(1),
        }
    }
}

impl Clock for ScaledClock {
    fn now_millis(&self) -> i64 {
        let virtual_nanos = self.origin.elapsed().as_nanos() * u128::from(self.factor);
        self.start_millis + (virtual_nanos / 1_000_000) as i64
    }

    fn sleep_until(&self, millis: i64) {
        std::thread::sleep(self.real_time_until(millis));
    }

    fn real_time_until(&self, millis: i64) -> Duration {
        let virtual_millis = u128::try_from(millis.saturating_sub(self.start_millis)).unwrap_or(0);
        // Rounded up, so that a sleeper wakes when the clock reads `millis`, not just before.
        let real_nanos = (virtual_millis * 1_000_000).div_ceil(u128::from(self.factor));
        let real = Duration::from_nanos(u64::try_from(real_nanos).unwrap_or(u64::MAX));
        match self.origin.checked_add(real) {
            Some(due) => due.saturating_duration_since(Instant::now()),
            None => real,
        }
    }
}

/// A [`ScaledClock`] that can also be moved forward on demand ([`AdjustableClock::advance`]):
/// `steppe server --time-scale N`, for tests that run a server from outside.
#[derive(Debug)]
pub struct AdjustableClock {
    scaled: ScaledClock,
    /// Virtual milliseconds added by [`AdjustableClock::advance`].
    offset_millis: AtomicI64,
    factor: u32,
}

impl AdjustableClock {
    /// A clock reading `start_millis` now and running `factor` (at least 1) times faster
    /// than real time.
    pub fn new(start_millis: i64, factor: u32) -> AdjustableClock {
        AdjustableClock {
            scaled: ScaledClock::new(start_millis, factor),
            offset_millis: AtomicI64::new(0),
            factor: factor.max(1),
        }
    }

    /// Moves the clock `millis` forward at once. Whoever sleeps until a time must be woken
    /// to look at the clock again.
    pub fn advance(&self, millis: i64) {
        self.offset_millis
            .fetch_add(millis.max(0), Ordering::AcqRel);
    }

    /// How many times faster than real time it runs.
    pub fn factor(&self) -> u32 {
        self.factor
    }

    fn offset(&self) -> i64 {
        self.offset_millis.load(Ordering::Acquire)
    }
}

impl Clock for AdjustableClock {
    fn now_millis(&self) -> i64 {
        self.scaled.now_millis().saturating_add(self.offset())
    }

    fn sleep_until(&self, millis: i64) {
        std::thread::sleep(self.real_time_until(millis));
    }

    fn real_time_until(&self, millis: i64) -> Duration {
        self.scaled
            .real_time_until(millis.saturating_sub(self.offset()))
    }
}

#[cfg(test)]
mod tests {
    use super::{AdjustableClock, Clock, ScaledClock};
    use std::time::Duration;

    #[test]
    fn a_scaled_clock_runs_factor_times_faster_and_says_how_long_to_sleep() {
        let clock = ScaledClock::new(1_000_000, 1000);
        let until = clock.real_time_until(1_000_000 + 50_000);
        assert!(until <= Duration::from_millis(50), "{until:?}");
        assert_eq!(clock.real_time_until(0), Duration::ZERO);
        assert!(clock.real_time_until(i64::MAX) > Duration::from_secs(86_400));
        clock.sleep_until(1_000_000 + 50_000);
        assert!(clock.now_millis() >= 1_000_000 + 50_000);
        assert_eq!(clock.real_time_until(1_000_000 + 50_000), Duration::ZERO);
    }

    #[test]
    fn an_adjustable_clock_jumps_forward_and_sleepers_wait_less() {
        let clock = AdjustableClock::new(1_000_000, 1);
        let hour = 3_600_000;
        assert!(clock.real_time_until(1_000_000 + hour) > Duration::from_secs(3_000));
        clock.advance(hour);
        assert!(clock.now_millis() >= 1_000_000 + hour);
        assert!(clock.now_millis() < 1_000_000 + hour + 60_000);
        assert_eq!(clock.real_time_until(1_000_000 + hour), Duration::ZERO);
        clock.advance(-5);
        assert!(clock.now_millis() >= 1_000_000 + hour, "never backwards");
    }
}
