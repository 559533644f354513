//! Time, injected: the one source of "now" for every rule, record and sweep.
//!
//! [`Clock`] lives in the application state (and in the operator's
//! [`crate::admin::Admin`]); nothing else reads the system time for business
//! purposes. A clock is the system time plus an offset: zero in production,
//! moved forward by a test (or, later, the sandbox's test clock) so that a
//! pending activation can be seen expiring without waiting for it. A
//! [`Clock::manual`] clock only moves when told, for unit tests.
//!
//! [`TestClock`] keeps the offset in the database instead (the test clock,
//! SPEC §9): `jpstart admin clock` moves it, and a server started with
//! `--test-clock` reads it at the start of every request and before every
//! expiry sweep, so a move is seen at once by every server on that database.
//! A server without the flag never reads it (no query per request) and runs
//! on the system time whatever the table says.
//!
//! Rate limiters and request deadlines measure elapsed wall time with their own
//! monotonic clocks: they protect the server, they are not business time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
pub use jpstart_types::wire::ClockState;

use crate::domain::{ApiError, ErrorCode};
use crate::store::{Store, StoreError};

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

    /// Reads an ISO 8601 date-time in UTC (`2027-01-01T00:00:00Z`, a space
    /// for the `T`, fractions of a second, no `Z`), with a numeric offset
    /// (`+02:00`), or a bare date (midnight UTC). `None` for anything else.
    pub fn parse_iso8601(text: &str) -> Option<Timestamp> {
        let text = text.trim();
        let (local, offset_s) = split_utc_offset(text)?;
        let full;
        let local = if local.len() == "YYYY-MM-DD".len() {
            full = format!("{local}T00:00:00");
            &full
        } else {
            local
        };
        let t = humantime::parse_rfc3339_weak(local).ok()?;
        let ms = i64::try_from(t.duration_since(UNIX_EPOCH).ok()?.as_millis()).ok()?;
        ms.checked_sub(offset_s.checked_mul(1000)?).map(Timestamp)
    }
}

/// Splits `...Z` or `...+HH:MM` / `...-HH:MM` into the local part and the
/// offset east of UTC in seconds (humantime reads UTC only).
fn split_utc_offset(text: &str) -> Option<(&str, i64)> {
    if let Some(local) = text.strip_suffix(['Z', 'z']) {
        return Some((local, 0));
    }
    let cut = text.len().checked_sub("+HH:MM".len())?;
    // A date alone ends in `-DD`, not an offset: an offset needs a time.
    let (local, zone) = (text.get(..cut), text.get(cut..));
    let (Some(local), Some(zone)) = (local, zone) else {
        return Some((text, 0));
    };
    let sign = match zone.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') if local.contains(['T', 't', ' ']) => -1,
        _ => return Some((text, 0)),
    };
    let (h, m) = zone.get(1..)?.split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    if h > 23 || m > 59 || h < 0 || m < 0 {
        return None;
    }
    Some((local, sign * (h * 3600 + m * 60)))
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

    /// Raises the offset to `ms` if that is ahead of it (a refresh from the
    /// database racing an older one cannot move the clock back).
    pub fn raise_offset(&self, ms: i64) {
        self.0.offset_ms.fetch_max(ms, Ordering::Relaxed);
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

/// The largest offset the test clock accepts: far enough for any test,
/// short of overflowing the millisecond arithmetic anywhere.
const MAX_OFFSET: Duration = Duration::from_secs(1000 * 366 * 24 * 3600);

/// Why the test clock was not moved.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the clock only moves forward: {asked} is before its now, {now}")]
    Backwards { asked: String, now: String },
    #[error("the clock may run at most {max} ahead of the system time", max = humantime::format_duration(MAX_OFFSET))]
    TooFar,
}

/// A [`Clock`] whose offset is kept in the database (see the module docs):
/// what `jpstart admin clock` and a server in test-clock mode share, and
/// what the sandbox's `POST /sandbox/clock` will move. Cheap to clone.
#[derive(Clone)]
pub struct TestClock {
    store: Arc<dyn Store>,
    clock: Clock,
}

impl TestClock {
    /// `clock` should run on the system time: its offset becomes the
    /// database's at each [`TestClock::refresh`].
    pub fn new(store: Arc<dyn Store>, clock: Clock) -> Self {
        TestClock { store, clock }
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Reads the kept offset into the clock.
    pub async fn refresh(&self) -> Result<ClockState, StoreError> {
        self.clock.raise_offset(self.store.clock_offset().await?);
        Ok(self.state())
    }

    /// Moves the clock forward by `by`, for every server on the database.
    pub async fn advance(&self, by: Duration) -> Result<ClockState, ClockError> {
        let current = self.store.clock_offset().await?;
        let by_ms = i64::try_from(by.as_millis()).map_err(|_| ClockError::TooFar)?;
        if current.saturating_add(by_ms) > max_offset_ms() {
            return Err(ClockError::TooFar);
        }
        let offset = self.store.advance_clock_offset(by_ms).await?;
        self.clock.raise_offset(offset);
        Ok(self.state())
    }

    /// Moves the clock forward to `to`; refused if `to` is before its now.
    pub async fn set(&self, to: Timestamp) -> Result<ClockState, ClockError> {
        let offset = to.as_millis().saturating_sub(system_millis());
        if offset > max_offset_ms() {
            return Err(ClockError::TooFar);
        }
        match self.store.raise_clock_offset(offset).await? {
            Ok(offset) => {
                self.clock.raise_offset(offset);
                Ok(self.state())
            }
            Err(current) => {
                self.clock.raise_offset(current);
                Err(ClockError::Backwards {
                    asked: to.rfc3339(),
                    now: self.clock.now().rfc3339(),
                })
            }
        }
    }

    fn state(&self) -> ClockState {
        ClockState {
            now: self.clock.now().rfc3339(),
            offset_s: self.clock.offset_ms().div_euclid(1000),
        }
    }
}

fn max_offset_ms() -> i64 {
    i64::try_from(MAX_OFFSET.as_millis()).unwrap_or(i64::MAX)
}

/// Middleware of a server in test-clock mode: every request runs on the
/// offset the database holds when it starts, so a move made a moment ago
/// (by any operator, through any server) applies to it. A server not in
/// that mode has no such layer and pays no query.
pub async fn refresh_per_request(
    State(tc): State<TestClock>,
    req: Request,
    next: Next,
) -> Response {
    match tc.refresh().await {
        Ok(_) => next.run(req).await,
        Err(e) => {
            tracing::error!(error = %e, "reading the test clock failed");
            ApiError::new(ErrorCode::InternalError).into_response()
        }
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
    fn iso8601_times_parse_in_utc_or_with_an_offset() {
        let t = |s| Timestamp::parse_iso8601(s).map(Timestamp::as_millis);
        let midnight = Some(1_798_761_600_000); // 2027-01-01T00:00:00Z
        assert_eq!(t("2027-01-01T00:00:00Z"), midnight);
        assert_eq!(t("2027-01-01 00:00:00"), midnight);
        assert_eq!(t("2027-01-01"), midnight);
        assert_eq!(t(" 2027-01-01T02:30:00+02:30 "), midnight);
        assert_eq!(t("2026-12-31T22:00:00-02:00"), midnight);
        assert_eq!(t("2027-01-01T00:00:00.250Z"), midnight.map(|m| m + 250));
        for bad in [
            "",
            "tomorrow",
            "2027-13-01",
            "2027-01-01T00:00:00+25:00",
            "2027-01-01T00:00:00+é:00",
        ] {
            assert_eq!(t(bad), None, "{bad:?}");
        }
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
