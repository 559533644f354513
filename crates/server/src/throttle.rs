//! The one throttling mechanism behind every abuse limit.
//!
//! A [`KeyedLimiter`] holds one GCRA bucket per key (crate `governor`):
//! a sustained rate plus a burst. Callers check a key and, when refused, get
//! a [`Throttled`] carrying how long to wait; each endpoint renders that in
//! its own error shape (the token endpoint: RFC 6749 body, status 429,
//! `Retry-After`). Per-address limits key on [`address_bucket`] of the peer
//! address `serve` inserts in each request (axum's `ConnectInfo`).
//!
//! Limits are per process: several servers behind a load balancer each
//! enforce their own.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};

/// A rate limit as configured: `N/UNIT[:BURST]` (`10/s:20`, `5/h`), or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateSpec {
    /// No limit.
    Off,
    /// A sustained rate with a burst allowance.
    Rate {
        /// Requests per `period`, sustained.
        count: u32,
        period: Duration,
        /// Requests allowed at once after a quiet spell.
        burst: u32,
    },
}

impl RateSpec {
    /// Parses `0` / `off` or `N/UNIT[:BURST]`, UNIT one of `s`, `min`, `h`
    /// (burst defaults to N). `N` = 0 also turns the limit off.
    pub fn parse(s: &str) -> Result<RateSpec, String> {
        let s = s.trim();
        if s == "0" || s.eq_ignore_ascii_case("off") {
            return Ok(RateSpec::Off);
        }
        let bad = || {
            format!("{s:?}: expected N/UNIT[:BURST] (UNIT s, min or h; e.g. 10/s:20), or 0 to turn the limit off")
        };
        let (rate, burst) = match s.split_once(':') {
            Some((r, b)) => (r, Some(b.trim().parse::<u32>().map_err(|_| bad())?)),
            None => (s, None),
        };
        let (count, unit) = rate.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let period = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        if count == 0 {
            return Ok(RateSpec::Off);
        }
        if (period / count).is_zero() {
            return Err(format!(
                "{s:?}: more than one request per nanosecond; use 0 to turn the limit off"
            ));
        }
        let burst = burst.unwrap_or(count);
        if burst == 0 {
            return Err(format!("{s:?}: the burst must be at least 1"));
        }
        Ok(RateSpec::Rate {
            count,
            period,
            burst,
        })
    }

    fn quota(self) -> Option<Quota> {
        let RateSpec::Rate {
            count,
            period,
            burst,
        } = self
        else {
            return None;
        };
        let every = period / count;
        Some(Quota::with_period(every)?.allow_burst(NonZeroU32::new(burst)?))
    }
}

impl std::str::FromStr for RateSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        RateSpec::parse(s)
    }
}

/// A refusal: the caller may try again after `retry_after`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Throttled {
    /// When the key's next request would be allowed.
    pub retry_after: Duration,
}

impl Throttled {
    /// Whole seconds for a `Retry-After` header, rounded up (at least 1:
    /// "0" would invite an immediate retry that is refused again).
    pub fn retry_after_secs(&self) -> u64 {
        let d = self.retry_after;
        (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
    }
}

/// Forget idle keys after this many checks, so that a flood of distinct keys
/// (made-up client ids) cannot grow the map without bound.
const PRUNE_EVERY: u64 = 4096;

/// One bucket per key; a limiter built from [`RateSpec::Off`] allows all.
pub struct KeyedLimiter<K: Hash + Eq + Clone> {
    limiter: Option<DefaultKeyedRateLimiter<K>>,
    checks: AtomicU64,
}

impl<K: Hash + Eq + Clone> KeyedLimiter<K> {
    /// A limiter with one bucket of `spec` per key.
    pub fn new(spec: RateSpec) -> Self {
        KeyedLimiter {
            limiter: spec.quota().map(DefaultKeyedRateLimiter::keyed),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one request for `key`; refuses it when the key is over its rate.
    pub fn check(&self, key: &K) -> Result<(), Throttled> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        limiter.check_key(key).map_err(|not_until| Throttled {
            retry_after: not_until.wait_time_from(limiter.clock().now()),
        })
    }
}

/// The key of an address: IPv4 as is; IPv6 by its /64, since one host
/// usually holds a whole /64 and could otherwise rotate through it.
pub fn address_bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mut s = v6.segments();
            s[4..].fill(0);
            IpAddr::V6(s.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates() {
        let one = Duration::from_secs(1);
        assert_eq!(
            RateSpec::parse("10/s:20"),
            Ok(RateSpec::Rate {
                count: 10,
                period: one,
                burst: 20
            })
        );
        assert_eq!(
            RateSpec::parse("5/h"),
            Ok(RateSpec::Rate {
                count: 5,
                period: Duration::from_secs(3600),
                burst: 5
            })
        );
        for off in ["0", "off", "0/s", "0/min:3"] {
            assert_eq!(RateSpec::parse(off), Ok(RateSpec::Off), "{off}");
        }
        for bad in [
            "",
            "10",
            "10/d",
            "x/s",
            "10/s:",
            "10/s:0",
            "-1/s",
            "10/s:x",
            "4000000000/s",
        ] {
            assert!(RateSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn burst_then_refusal_per_key() {
        let l = KeyedLimiter::new(RateSpec::parse("1/h:3").unwrap());
        for _ in 0..3 {
            assert!(l.check(&"a").is_ok());
        }
        let refused = l.check(&"a").unwrap_err();
        assert!(
            refused.retry_after > Duration::from_secs(3000),
            "{refused:?}"
        );
        assert!(refused.retry_after_secs() <= 3600);
        // Another key has its own bucket.
        assert!(l.check(&"b").is_ok());
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_and_round_trips(
            s in "\\PC{0,20}",
            n in 1u32..100_000,
            b in 1u32..100_000,
            huge in proptest::num::u32::ANY,
        ) {
            // Anything accepted is usable: off, or a rate that makes a
            // limiter (never a silent "off" from a zero period).
            for text in [s, format!("{huge}/s"), format!("{huge}/h:{huge}")] {
                if let Ok(r) = RateSpec::parse(&text) {
                    proptest::prop_assert!(r == RateSpec::Off || r.quota().is_some(), "{text}");
                }
            }
            let spec = RateSpec::parse(&format!("{n}/min:{b}")).unwrap();
            proptest::prop_assert_eq!(
                spec,
                RateSpec::Rate { count: n, period: Duration::from_secs(60), burst: b }
            );
        }
    }

    #[test]
    fn off_allows_everything() {
        let l = KeyedLimiter::new(RateSpec::Off);
        for _ in 0..10_000 {
            assert!(l.check(&1u8).is_ok());
        }
    }

    #[test]
    fn ipv6_addresses_share_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_bucket(a), address_bucket(b));
        assert_ne!(address_bucket(a), address_bucket(c));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(address_bucket(v4), v4);
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_bucket(mapped), v4);
    }

    #[test]
    fn retry_after_rounds_up() {
        let t = |ms| Throttled {
            retry_after: Duration::from_millis(ms),
        };
        assert_eq!(t(0).retry_after_secs(), 1);
        assert_eq!(t(100).retry_after_secs(), 1);
        assert_eq!(t(1000).retry_after_secs(), 1);
        assert_eq!(t(1001).retry_after_secs(), 2);
    }
}
