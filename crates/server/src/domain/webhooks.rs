//! The rules of webhooks (SPEC §10), without I/O: which addresses a
//! webhook may reach (the SSRF guard), what a registration may name, and
//! when a failed delivery is tried again.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use jpstart_types::webhooks::EventType;

/// How long a delivery is retried, from the event, on the server's clock.
pub const RETRY_WINDOW: Duration = Duration::from_secs(3 * 24 * 3600);
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// The default first retry (`--webhook-retry-base`).
pub const DEFAULT_RETRY_BASE: Duration = Duration::from_secs(10);
/// A 2xx within this time counts as delivered (SPEC §10).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Endpoints a partner may register (bounded growth, SPEC §11).
pub const MAX_ENDPOINTS: i64 = 16;
/// Longest URL an endpoint may have.
pub const MAX_URL_LENGTH: usize = 2048;

/// Why an address may not be reached; `None`: a public unicast address.
pub fn forbidden_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) => "a cloud metadata address",
        (0, _, _) => "an unspecified address",
        (127, _, _) => "a loopback address",
        (10, _, _) => "a private address",
        (172, 16..=31, _) => "a private address",
        (192, 168, _) => "a private address",
        (169, 254, _) => "a link-local address",
        (100, 64..=127, _) => "a shared (CGNAT) address",
        (192, 0, 0) => "an IETF protocol address",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, 18..=19, _) => "a benchmarking address",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "a reserved address",
        _ => return None,
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    // An IPv4 address carried in IPv6 (mapped, compatible, NAT64, 6to4)
    // reaches that IPv4 address: judged as it.
    if let Some(v4) = embedded_v4(ip) {
        return forbidden_v4(v4);
    }
    let s = ip.segments();
    Some(match s[0] {
        _ if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) => "a cloud metadata address",
        _ if ip.is_unspecified() => "an unspecified address",
        _ if ip.is_loopback() => "a loopback address",
        x if x & 0xffc0 == 0xfe80 => "a link-local address",
        x if x & 0xffc0 == 0xfec0 => "a site-local address",
        x if x & 0xfe00 == 0xfc00 => "a unique-local address",
        x if x & 0xff00 == 0xff00 => "a multicast address",
        0x2001 if s[1] == 0x0db8 => "a documentation address",
        // Teredo tunnels to an address the guard cannot see.
        0x2001 if s[1] == 0 => "a Teredo address",
        0x0100 if s[1..4] == [0, 0, 0] => "a discard-only address",
        _ => return None,
    })
}

fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail()),
        // IPv4-compatible (deprecated), but not :: and ::1.
        [0, 0, 0, 0, 0, 0, hi, _] if hi != 0 => Some(tail()),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail()),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

/// What is wrong with an endpoint URL (the message of `invalid_webhook_url`).
pub fn check_url(text: &str) -> Result<reqwest::Url, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("The required \"url\" argument is missing.".into());
    }
    if text.len() > MAX_URL_LENGTH {
        return Err(format!(
            "The URL is longer than {MAX_URL_LENGTH} characters."
        ));
    }
    let url = reqwest::Url::parse(text).map_err(|e| format!("{text} is not a URL: {e}."))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{text}: only http and https URLs are accepted."));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{text} has no host."));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{text}: credentials in the URL are not accepted."));
    }
    if url.fragment().is_some() {
        return Err(format!("{text}: a fragment is not sent; leave it out."));
    }
    Ok(url)
}

/// The events of a registration: every type when none is named, otherwise
/// those named, each once. `Err(name)`: not an event type.
pub fn parse_events(names: &[String]) -> Result<Vec<EventType>, String> {
    let names: Vec<&str> = names
        .iter()
        .flat_map(|n| n.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() || names == ["*"] {
        return Ok(EventType::ALL.to_vec());
    }
    let mut out = Vec::new();
    for name in names {
        let t = EventType::parse(name).ok_or_else(|| name.to_string())?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    // Documentation order, whatever order they came in.
    out.sort_by_key(|t| EventType::ALL.iter().position(|a| a == t));
    Ok(out)
}

/// The stored form of an event list (comma-separated).
pub fn events_text(events: &[EventType]) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The stored form read back; unknown names (none are written) are skipped.
pub fn events_from_text(text: &str) -> Vec<EventType> {
    text.split(',').filter_map(EventType::parse).collect()
}

/// Wait before the attempt after `attempts` failed ones: `base`, doubling,
/// at most [`MAX_BACKOFF`].
pub fn backoff(base: Duration, attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.clamp(1, 40) - 1).unwrap_or(0);
    base.checked_mul(1u32.checked_shl(exp).unwrap_or(u32::MAX))
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF)
}

/// After a failed attempt at `now_ms`: retry at the returned time, or give
/// up (`None`) once the window (ending at `give_up_at_ms`) has run out. The
/// last retry falls at the window's end.
pub fn next_attempt(now_ms: i64, give_up_at_ms: i64, base: Duration, attempts: i64) -> Option<i64> {
    if now_ms >= give_up_at_ms {
        return None;
    }
    let wait = i64::try_from(backoff(base, attempts).as_millis()).unwrap_or(i64::MAX);
    Some(now_ms.saturating_add(wait).min(give_up_at_ms))
}

/// The Monitor receiver's answer (upstream: `ok`, or a full UTC ISO 8601
/// time after which the site is expected back): the time to stay quiet
/// until, if it named one.
pub fn monitor_quiet_until(body: &str) -> Option<&str> {
    let body = body.trim();
    (!body.eq_ignore_ascii_case("ok") && !body.is_empty()).then_some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Option<&'static str> {
        forbidden_address(s.parse().unwrap())
    }

    #[test]
    fn refused_addresses() {
        for bad in [
            "127.0.0.1",
            "127.255.0.3",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "fd00:ec2::254",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "::127.0.0.1",
        ] {
            assert!(v(bad).is_some(), "{bad} should be refused");
        }
        assert_eq!(v("169.254.169.254"), Some("a cloud metadata address"));
        assert_eq!(v("fd00:ec2::254"), Some("a cloud metadata address"));
        assert_eq!(v("::ffff:127.0.0.1"), Some("a loopback address"));
        assert_eq!(v("100.64.0.1"), Some("a shared (CGNAT) address"));
    }

    #[test]
    fn public_addresses_pass() {
        for good in [
            "1.1.1.1",
            "8.8.8.8",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "192.169.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "2002:0808:0808::",
        ] {
            assert_eq!(v(good), None, "{good} should pass");
        }
    }

    #[test]
    fn urls() {
        assert!(check_url("https://hooks.example.com/jp?x=1").is_ok());
        assert!(check_url("http://example.com:8443/").is_ok());
        for bad in [
            "",
            "   ",
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://x/",
            "https://user:pw@example.com/",
            "not a url",
            "https:///path",
            "https://example.com/#frag",
        ] {
            assert!(check_url(bad).is_err(), "{bad:?}");
        }
        assert!(check_url(&format!("https://e.com/{}", "a".repeat(3000))).is_err());
    }

    #[test]
    fn events() {
        let all = EventType::ALL.to_vec();
        assert_eq!(parse_events(&[]), Ok(all.clone()));
        assert_eq!(parse_events(&["".into()]), Ok(all));
        assert_eq!(
            parse_events(&["site.connected".into(), "activation.pending".into()]),
            Ok(vec![EventType::ActivationPending, EventType::SiteConnected])
        );
        assert_eq!(
            parse_events(&["activation.active,activation.active".into()]),
            Ok(vec![EventType::ActivationActive])
        );
        assert_eq!(
            parse_events(&["activation.paid".into()]),
            Err("activation.paid".into())
        );
        let text = events_text(&[EventType::ActivationExpired, EventType::SiteDisconnected]);
        assert_eq!(text, "activation.expired,site.disconnected");
        assert_eq!(
            events_from_text(&text),
            vec![EventType::ActivationExpired, EventType::SiteDisconnected]
        );
    }

    #[test]
    fn backoff_doubles_to_an_hour() {
        let base = Duration::from_secs(10);
        assert_eq!(backoff(base, 1), Duration::from_secs(10));
        assert_eq!(backoff(base, 2), Duration::from_secs(20));
        assert_eq!(backoff(base, 4), Duration::from_secs(80));
        assert_eq!(backoff(base, 10), MAX_BACKOFF);
        assert_eq!(backoff(base, 1000), MAX_BACKOFF);
        assert_eq!(backoff(base, -1), base);
        assert_eq!(
            backoff(Duration::from_millis(100), 3),
            Duration::from_millis(400)
        );
    }

    #[test]
    fn retries_end_with_the_window() {
        let base = Duration::from_secs(10);
        assert_eq!(next_attempt(0, 100_000, base, 1), Some(10_000));
        // The last retry falls at the window's end, then none.
        assert_eq!(next_attempt(95_000, 100_000, base, 3), Some(100_000));
        assert_eq!(next_attempt(100_000, 100_000, base, 4), None);
    }

    #[test]
    fn monitor_answers() {
        assert_eq!(monitor_quiet_until("ok"), None);
        assert_eq!(monitor_quiet_until(" OK\n"), None);
        assert_eq!(monitor_quiet_until(""), None);
        assert_eq!(
            monitor_quiet_until("2017-11-05T13:15:30Z"),
            Some("2017-11-05T13:15:30Z")
        );
    }
}
