//! The time every rule and scheduler reads: the real time in production, and
//! in tests the real time moved on by what the test says has passed, so a
//! test of expiry or of a schedule sets the clock instead of sleeping. It
//! travels with the storage handle (`Db::clock`), which every rule that reads
//! time also reads.

use chrono::{DateTime, TimeDelta, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// Microseconds added to the real time; zero unless a test moved it.
    offset: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + TimeDelta::microseconds(self.offset.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every copy of it) on by `by`.
    pub fn advance(&self, by: TimeDelta) {
        let micros = by.num_microseconds().unwrap_or(i64::MAX);
        self.offset.fetch_add(micros, Ordering::Relaxed);
    }

    /// Sets this clock (and every copy of it) to `at`, from where it runs on.
    pub fn set(&self, at: DateTime<Utc>) {
        let micros = (at - Utc::now()).num_microseconds().unwrap_or(0);
        self.offset.store(micros, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::Clock;
    use chrono::{TimeDelta, TimeZone, Utc};

    #[test]
    fn a_moved_clock_moves_every_copy() {
        let clock = Clock::default();
        let copy = clock.clone();
        let before = copy.now();
        clock.advance(TimeDelta::hours(3));
        let moved = copy.now() - before;
        assert!(
            moved >= TimeDelta::hours(3) && moved < TimeDelta::hours(3) + TimeDelta::seconds(5)
        );
        let at = Utc.with_ymd_and_hms(2026, 11, 27, 20, 0, 0).unwrap();
        clock.set(at);
        let off = copy.now() - at;
        assert!(
            off >= TimeDelta::zero() && off < TimeDelta::seconds(5),
            "{off}"
        );
    }
}
