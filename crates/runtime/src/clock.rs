//! Time, for the runtime only: the engine never reads a clock.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of "now" that can also wait.
pub trait Clock {
    /// Now, in epoch milliseconds.
    fn now_millis(&self) -> i64;
    /// Blocks until `millis` (or returns at once if it has passed).
    fn sleep_until(&self, millis: i64);
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
