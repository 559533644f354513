//! The sandbox's magic sites (SPEC §9), as pure rules: which host is magic
//! ([`MagicSite::from_host`]), what it answers ([`MagicSite::error`],
//! [`flaky_fails`]), and the list `GET /sandbox` serves ([`listing`]),
//! all from the one error catalogue, so that a new code is a new magic site
//! without anyone writing it down. The server's hook
//! (`crate::sandbox::intercept`) applies these; nothing here does I/O.
//!
//! - `CODE.error.jpstart.test` (also with more labels before
//!   `.error.jpstart.test`, e.g. `invalid-input.shop.error.jpstart.test`):
//!   the first label, `-` read as `_`, is a catalogued code, answered with
//!   its status and its message (`%s` filled by [`arguments`]).
//! - `slow-MS.jpstart.test`: answered normally after MS milliseconds,
//!   at most [`MAX_SLOW_MS`] (a larger MS waits that long).
//! - `flaky-N.jpstart.test`: `service_unavailable` to the first N requests
//!   of each key for the site, then answered normally.
//!
//! Any other host, an unknown code included, is an ordinary site.

use std::time::Duration;

use jpstart_types::sandbox::{ClockParams, MagicSiteShown};
use jpstart_types::SiteIdentifier;

use super::errors::{ApiError, ErrorCode};
use crate::clock::Timestamp;

/// The domain under which every magic site lives (`.test` is reserved:
/// no real site can have it, RFC 2606).
pub const DOMAIN: &str = "jpstart.test";
/// What an error site's host ends with.
pub const ERROR_SUFFIX: &str = ".error.jpstart.test";
/// The longest a `slow-MS` site waits; larger values wait this long.
pub const MAX_SLOW_MS: u64 = 30_000;
/// Digits read from `slow-MS` / `flaky-N` (more is not a magic site).
const MAX_DIGITS: usize = 9;

/// The endpoints a magic site acts on.
pub const ENDPOINTS: &[&str] = &[
    "POST /rest/v1.3/jpphp/provision",
    "POST /rest/v1.3/jpphp/{blog_id}/partner-provision",
    "POST /rest/v1.3/jpphp/{site}/partner-cancel",
    "GET /rest/v1.4/jpphp/{site}/status (and v1.3)",
    "GET /rest/v1.3/jpphp/{site}/upgrade-paths",
];

/// A site the sandbox answers specially.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MagicSite {
    /// Always answers this catalogued error.
    Error(ErrorCode),
    /// Answers normally after this long (already capped at
    /// [`MAX_SLOW_MS`]).
    Slow { ms: u64 },
    /// Answers `service_unavailable` to the first `failures` requests of
    /// each key, then normally.
    Flaky { failures: u32 },
}

impl MagicSite {
    /// The magic site a host names, if any (any case; a `:port` is
    /// ignored).
    pub fn from_host(host: &str) -> Option<Self> {
        let host = host.to_ascii_lowercase();
        let host = strip_port(&host);
        if let Some(head) = host.strip_suffix(ERROR_SUFFIX) {
            let label = head.split('.').next().unwrap_or(head);
            let code = label.replace('-', "_");
            return ErrorCode::ALL
                .iter()
                .find(|c| c.code() == code)
                .map(|c| MagicSite::Error(*c));
        }
        let label = host.strip_suffix(DOMAIN)?.strip_suffix('.')?;
        if let Some(ms) = label.strip_prefix("slow-").and_then(number) {
            return Some(MagicSite::Slow {
                ms: ms.min(MAX_SLOW_MS),
            });
        }
        let failures = label.strip_prefix("flaky-").and_then(number)?;
        u32::try_from(failures)
            .ok()
            .map(|failures| MagicSite::Flaky { failures })
    }

    /// The magic site of a site identifier (its host decides).
    pub fn of(site: &SiteIdentifier) -> Option<Self> {
        Self::from_host(site.host())
    }

    /// What an error site answers: its code, its status, and its message
    /// with every `%s` filled ([`arguments`]). `None` for the others.
    pub fn error(self) -> Option<ApiError> {
        match self {
            MagicSite::Error(code) => Some(magic_error(code)),
            _ => None,
        }
    }

    /// The wait of a slow site.
    pub fn delay(self) -> Option<Duration> {
        match self {
            MagicSite::Slow { ms } => Some(Duration::from_millis(ms)),
            _ => None,
        }
    }
}

/// The host of the error site of `code`: `invalid-input.error.jpstart.test`.
pub fn error_host(code: ErrorCode) -> String {
    format!("{}{ERROR_SUFFIX}", code.code().replace('_', "-"))
}

/// The answer of the error site of `code`.
pub fn magic_error(code: ErrorCode) -> ApiError {
    let args = arguments(code);
    let args: Vec<&dyn std::fmt::Display> =
        args.iter().map(|a| a as &dyn std::fmt::Display).collect();
    ApiError::with_args(code, &args)
}

/// What a flaky site answers the `hit`-th request (from 1) of a key:
/// `true` for `service_unavailable`.
pub fn flaky_fails(failures: u32, hit: i64) -> bool {
    hit <= i64::from(failures)
}

/// The `%s` of each message, filled with what a real refusal would say
/// (the error site's own host where the message names a site). A code
/// added later without an entry here gets its site's host: still a full
/// sentence, never an empty hole.
fn arguments(code: ErrorCode) -> Vec<String> {
    use ErrorCode as C;
    let fixed: &[&str] = match code {
        C::InvalidBody => &["expected a JSON object"],
        C::RequestTooLarge => &["65536"],
        C::RequestTimeout => &["1m"],
        C::InvalidPlan => &["gold"],
        C::InvalidPartnerTrackingId | C::InvalidKeyName => &["255"],
        C::ProductAlreadyIncluded => &["jetpack-backup-daily", "premium"],
        C::ProductOwnedByAnotherPartner | C::ActivationLimitReached => &["premium"],
        C::InvalidCredentials => &["The \"ssh_port\" argument must be a number from 1 to 65535."],
        C::InvalidLimit => &["allowed_premium_plans must be a whole number from 0 to 1000000."],
        C::Forbidden => &["Another partner holds a live activation on this site."],
        C::MethodNotFound => &["remoteRegister", ""],
        C::InvalidClock => &["Send advance=DURATION or now=ISO8601."],
        C::ClockBackwards => &["2020-01-01T00:00:00Z", "2027-01-01T00:00:00Z"],
        _ => {
            let host = error_host(code);
            return code
                .template()
                .matches("%s")
                .map(|_| host.clone())
                .collect();
        }
    };
    fixed.iter().map(|s| s.to_string()).collect()
}

/// Every magic site with what it does: what `GET /sandbox` serves, in HTML
/// and JSON alike.
pub fn listing() -> Vec<MagicSiteShown> {
    let errors = ErrorCode::ALL.iter().map(|&code| {
        let answer = magic_error(code);
        MagicSiteShown {
            site: error_host(code),
            kind: "error".into(),
            does: format!(
                "Answers {} {}. Outside the sandbox: {}",
                code.status(),
                code,
                code.cause()
            ),
            status: Some(code.status()),
            code: Some(code.code().into()),
            message: Some(answer.message),
        }
    });
    let unavailable = ApiError::new(ErrorCode::ServiceUnavailable);
    let others = [
        MagicSiteShown {
            site: format!("slow-MS.{DOMAIN}"),
            kind: "slow".into(),
            does: format!(
                "Answers normally after MS milliseconds (slow-1500.{DOMAIN}: 1.5 s), at most {MAX_SLOW_MS} (a larger MS waits {MAX_SLOW_MS})."
            ),
            status: None,
            code: None,
            message: None,
        },
        MagicSiteShown {
            site: format!("flaky-N.{DOMAIN}"),
            kind: "flaky".into(),
            does: format!(
                "Answers 503 service_unavailable to the first N requests of each key for the site (flaky-2.{DOMAIN}: two), then normally. Each site (host and path) counts apart."
            ),
            status: Some(unavailable.status()),
            code: Some(unavailable.code.code().into()),
            message: Some(unavailable.message),
        },
    ];
    errors.chain(others).collect()
}

/// A move of the sandbox clock, read from `POST /sandbox/clock`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockMove {
    Advance(Duration),
    To(Timestamp),
}

impl ClockMove {
    /// Exactly one of `advance` (a duration: `15d`, `2h 30m`) and `now`
    /// (ISO 8601); anything else is `invalid_clock`.
    pub fn parse(p: &ClockParams) -> Result<Self, ApiError> {
        match (given(&p.advance), given(&p.now)) {
            (Some(by), None) => humantime::parse_duration(by)
                .map(ClockMove::Advance)
                .map_err(|e| {
                    ApiError::with_arg(
                        ErrorCode::InvalidClock,
                        format!("advance={by} is not a duration ({e}); send e.g. advance=15d."),
                    )
                }),
            (None, Some(to)) => Timestamp::parse_iso8601(to)
                .map(ClockMove::To)
                .ok_or_else(|| {
                    ApiError::with_arg(
                        ErrorCode::InvalidClock,
                        format!(
                            "now={to} is not an ISO 8601 time; send e.g. now=2027-01-01T00:00:00Z."
                        ),
                    )
                }),
            (Some(_), Some(_)) => Err(ApiError::with_arg(
                ErrorCode::InvalidClock,
                "Send advance or now, not both.",
            )),
            (None, None) => Err(ApiError::with_arg(
                ErrorCode::InvalidClock,
                "Send advance=DURATION (e.g. 15d) or now=ISO8601.",
            )),
        }
    }
}

/// A parameter sent with something in it.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port))
            if !name.contains(':')
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            name
        }
        _ => host,
    }
}

/// 1 to [`MAX_DIGITS`] ASCII digits.
fn number(s: &str) -> Option<u64> {
    let ok = !s.is_empty() && s.len() <= MAX_DIGITS && s.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| s.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_error_site() {
        for &code in ErrorCode::ALL {
            let host = error_host(code);
            assert_eq!(MagicSite::from_host(&host), Some(MagicSite::Error(code)));
            let err = MagicSite::Error(code).error().unwrap();
            assert_eq!((err.code, err.status()), (code, code.status()));
            assert!(
                !err.message.is_empty() && !err.message.contains("%s"),
                "{code}: {err}"
            );
            // The message is the template with its holes filled.
            let mut rest = err.message.as_str();
            for part in code.template().split("%s") {
                let at = rest.find(part).unwrap_or_else(|| panic!("{code}: {err}"));
                rest = &rest[at + part.len()..];
            }
        }
    }

    #[test]
    fn hosts() {
        let m = MagicSite::from_host;
        assert_eq!(
            m("Invalid-Input.error.jpstart.test"),
            Some(MagicSite::Error(ErrorCode::InvalidInput))
        );
        assert_eq!(
            m("internal-error.shop.error.jpstart.test:8443"),
            Some(MagicSite::Error(ErrorCode::InternalError))
        );
        assert_eq!(
            m("slow-250.jpstart.test"),
            Some(MagicSite::Slow { ms: 250 })
        );
        assert_eq!(
            m("slow-999999.jpstart.test"),
            Some(MagicSite::Slow { ms: MAX_SLOW_MS })
        );
        assert_eq!(
            m("flaky-3.jpstart.test"),
            Some(MagicSite::Flaky { failures: 3 })
        );
        for ordinary in [
            "example.com",
            "no-such-code.error.jpstart.test",
            "error.jpstart.test",
            "invalid-input.error.jpstart.test.example.com",
            "slow-.jpstart.test",
            "slow-1x.jpstart.test",
            "slow-1234567890.jpstart.test",
            "a.slow-5.jpstart.test",
            "flaky--1.jpstart.test",
            "jpstart.test",
            "xjpstart.test",
        ] {
            assert_eq!(m(ordinary), None, "{ordinary}");
        }
    }

    #[test]
    fn flaky_counts() {
        assert!(flaky_fails(2, 1) && flaky_fails(2, 2));
        assert!(!flaky_fails(2, 3) && !flaky_fails(0, 1));
    }

    #[test]
    fn the_listing_covers_the_catalogue() {
        let list = listing();
        assert_eq!(list.len(), ErrorCode::ALL.len() + 2);
        assert!(list
            .iter()
            .any(|s| s.site == "invalid-input.error.jpstart.test"
                && s.message.as_deref() == Some("Unable to delete subscription")));
    }

    #[test]
    fn clock_moves() {
        let p = |advance: Option<&str>, now: Option<&str>| {
            ClockMove::parse(&ClockParams {
                advance: advance.map(String::from),
                now: now.map(String::from),
            })
        };
        assert_eq!(
            p(Some("15d"), None),
            Ok(ClockMove::Advance(Duration::from_secs(15 * 86_400)))
        );
        assert_eq!(
            p(None, Some("2027-01-01T00:00:00Z")),
            Ok(ClockMove::To(Timestamp::from_millis(1_798_761_600_000)))
        );
        for (a, n) in [
            (None, None),
            (Some("1d"), Some("2027-01-01")),
            (Some("soon"), None),
            (None, Some("later")),
            (Some("-1s"), None),
        ] {
            assert_eq!(
                p(a, n).map_err(|e| e.code),
                Err(ErrorCode::InvalidClock),
                "{a:?} {n:?}"
            );
        }
    }
}
