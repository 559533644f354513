//! Time, injected: the one source of "now" for every rule, record and sweep.
//!
//! [`Clock`] lives in the application state (and in the operator's
//! [`crate::admin::Admin`]); nothing else reads the system time for business
//! purposes. A clock is the system time plus an offset: zero in production,
//! moved forward by a test (or, later, the sandbox's test clock) so that a
//! pending activation can be seen expiring without waiting for it. A
//! [`Clock::manual`] clock only moves when told, for unit tests.
//!
//! Rate limiters and request deadlines measure elapsed wall time with their own
//! monotonic clocks: they protect the server, they are not business time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time: milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const EPOCH: Timestamp = Timestamp(0);

    pub const fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded down).
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// `self + d`, saturating instead of overflowing.
    pub fn saturating_add(self, d: Duration) -> Self {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Timestamp(self.0.saturating_add(ms))
    }

    /// RFC 3339 text to the second (`2026-12-01T08:00:00Z`), as the API and
    /// the operator's tools print times. Times before the epoch print as it.
    pub fn rfc3339(self) -> String {
        let t = UNIX_EPOCH + Duration::from_millis(self.0.max(0).unsigned_abs());
        humantime::format_rfc3339_seconds(t).to_string()
    }
}

/// Where "now" comes from. Cheap to clone; clones share one offset.
#[derive(Clone, Debug)]
pub struct Clock(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    /// `None`: the system time is the base. `Some`: a manual clock's base.
    manual_base: Option<AtomicI64>,
    /// Added to the base, in milliseconds; never negative.
    offset_ms: AtomicI64,
}

impl Clock {
    /// The system time, with no offset until one is set.
    pub fn system() -> Self {
        Clock(Arc::new(Inner {
            manual_base: None,
            offset_ms: AtomicI64::new(0),
        }))
    }

    /// A clock standing at `start` that moves only through
    /// [`Clock::advance`] / [`Clock::set_offset`] (unit tests).
    pub fn manual(start: Timestamp) -> Self {
        Clock(Arc::new(Inner {
            manual_base: Some(AtomicI64::new(start.as_millis())),
            offset_ms: AtomicI64::new(0),
        }))
    }

    pub fn now(&self) -> Timestamp {
        let base = match &self.0.manual_base {
            Some(b) => b.load(Ordering::Relaxed),
            None => system_millis(),
        };
        Timestamp(base.saturating_add(self.offset_ms()))
    }

    /// How far this clock runs ahead of its base, in milliseconds.
    pub fn offset_ms(&self) -> i64 {
        self.0.offset_ms.load(Ordering::Relaxed)
    }

    /// Sets the offset (negative values count as zero: time never runs
    /// behind its base).
    pub fn set_offset(&self, ms: i64) {
        self.0.offset_ms.store(ms.max(0), Ordering::Relaxed);
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        self.0.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

fn system_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let c = Clock::manual(Timestamp::from_millis(1_000));
        assert_eq!(c.now(), Timestamp::from_millis(1_000));
        c.advance(Duration::from_secs(2));
        assert_eq!(c.now(), Timestamp::from_millis(3_000));
        let shared = c.clone();
        shared.set_offset(10);
        assert_eq!(c.now(), Timestamp::from_millis(1_010));
        c.set_offset(-5);
        assert_eq!(c.now(), Timestamp::from_millis(1_000));
    }

    #[test]
    fn the_system_clock_follows_the_system_time() {
        let c = Clock::system();
        let before = system_millis();
        let now = c.now().as_millis();
        assert!(now >= before && now - before < 60_000);
        c.advance(Duration::from_secs(3600));
        assert!(c.now().as_millis() - system_millis() > 3_500_000);
    }

    #[test]
    fn timestamps_print_as_rfc3339() {
        assert_eq!(
            Timestamp::from_millis(1_764_576_000_999).rfc3339(),
            "2025-12-01T08:00:00Z"
        );
        assert_eq!(Timestamp::from_millis(-5).rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp::from_millis(1999).as_secs(), 1);
        assert_eq!(
            Timestamp::from_millis(i64::MAX - 1).saturating_add(Duration::from_secs(9)),
            Timestamp::from_millis(i64::MAX)
        );
    }
}
