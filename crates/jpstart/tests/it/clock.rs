//! The test clock (SPEC §9): `jpstart admin clock show|advance|set`, kept in
//! the database, followed at once by every server started with
//! `--test-clock` and ignored by the others.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::authorize::pending;
use crate::common::*;

/// Seconds since the epoch of an RFC 3339 time the clock printed.
fn secs(t: &Value) -> i64 {
    let t = humantime::parse_rfc3339(t.as_str().unwrap()).unwrap();
    t.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn system_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Asserts the printed clock stands `offset` seconds (give or take the
/// seconds a command takes) ahead of the system time.
fn assert_clock(clock: &Value, offset: i64) {
    assert_eq!(keys(clock), ["now", "offset_s"], "{clock}");
    let got = clock["offset_s"].as_i64().unwrap();
    assert!(
        (offset - 30..=offset + 30).contains(&got),
        "offset {got}, want ~{offset}: {clock}"
    );
    let ahead = secs(&clock["now"]) - system_secs();
    assert!(
        (got - 30..=got + 1).contains(&ahead),
        "now is {ahead} s ahead: {clock}"
    );
}

/// Live products of a site, as its status lists them.
async fn products(app: &TestApp, token: &str, site: &str) -> usize {
    let (status, st) = app.status(token, site).await;
    assert_eq!(status, 200, "{st}");
    st["products"].as_array().unwrap().len()
}

const DAY: i64 = 24 * 3600;

both_backends! {
    async fn admin_clock_moves_forward_only(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default().test_clock()).await;
        let clock = app.admin(&["clock", "show"]).unwrap();
        assert_clock(&clock, 0);
        assert_eq!(clock["offset_s"], 0, "{clock}");

        // The exact output line.
        let out = admin_output(&app.db.url, &["clock", "advance", "15d"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with(r#"{"now":""#) && text.ends_with(&format!("\",\"offset_s\":{}}}\n", 15 * DAY)), "{text:?}");
        let clock = app.advance_clock("2s");
        assert_eq!(clock["offset_s"], 15 * DAY + 2, "{clock}");
        assert_clock(&clock, 15 * DAY + 2);
        assert_eq!(app.admin(&["clock", "show"]).unwrap()["offset_s"], 15 * DAY + 2);
        assert_eq!(app.advance_clock("0s")["offset_s"], 15 * DAY + 2);

        // Back in time: refused, with the reason, and nothing moved.
        for earlier in ["2020-01-01T00:00:00Z", &humantime::format_rfc3339_seconds(SystemTime::now() + Duration::from_secs(DAY as u64)).to_string()] {
            let err = app.admin(&["clock", "set", earlier]).unwrap_err();
            assert!(err.starts_with("jpstart admin: the clock only moves forward:") && err.contains(earlier), "{err}");
        }
        assert_eq!(app.admin(&["clock", "show"]).unwrap()["offset_s"], 15 * DAY + 2);
        // Forward to a time, in UTC or with an offset.
        let target = SystemTime::now() + Duration::from_secs(30 * DAY as u64);
        let clock = app.admin(&["clock", "set", &humantime::format_rfc3339_seconds(target).to_string()]).unwrap();
        assert_clock(&clock, 30 * DAY);
        let later = humantime::format_rfc3339_seconds(target + Duration::from_secs(DAY as u64 + 7200)).to_string();
        let zoned = format!("{}+02:00", later.trim_end_matches('Z'));
        let clock = app.admin(&["clock", "set", &zoned]).unwrap();
        // (+02:00 is two hours before the same digits in UTC)
        assert_clock(&clock, 31 * DAY);

        // What the command line refuses before touching the database.
        for bad in [&["clock", "advance", "-1s"][..], &["clock", "advance", "soon"], &["clock", "set", "tomorrow"], &["clock", "advance", "500000d"]] {
            let err = app.admin(bad).unwrap_err();
            assert!(!err.is_empty(), "{bad:?}");
        }
        assert_clock(&app.admin(&["clock", "show"]).unwrap(), 31 * DAY);
    }

    /// A server without `--test-clock` ignores the kept offset (no query per
    /// request); one with it sees a move at once, on its next request.
    async fn only_test_clock_servers_follow_the_clock(db: Db) {
        let plain = TestApp::spawn(db).await;
        let moved = TestApp::spawn_with(plain.db.share(), Opts::default().test_clock()).await;
        let p = plain.partner("Acme").await;
        pending(&plain, &p.token, "https://clock.example", "premium").await;
        assert_eq!(products(&moved, &p.token, "clock.example").await, 1);
        plain.advance_clock("15d");
        assert_eq!(products(&moved, &p.token, "clock.example").await, 0, "expired at once on the test clock");
        assert_eq!(products(&plain, &p.token, "clock.example").await, 1, "the system time rules without --test-clock");
    }

    /// Two servers on one database (PostgreSQL: how jpstart scales out) run
    /// on one clock: a move through the operator CLI is seen by both at
    /// once, and what either records carries the moved time.
    async fn two_servers_agree_on_the_moved_clock(db: Db) {
        let a = TestApp::spawn_with(db, Opts::default().test_clock()).await;
        let b = TestApp::spawn_with(a.db.share(), Opts::default().test_clock()).await;
        let p = a.partner("Acme").await;
        pending(&a, &p.token, "https://a.example", "premium").await;
        pending(&b, &p.token, "https://b.example", "premium").await;
        a.advance_clock("13d");
        for app in [&a, &b] {
            for site in ["a.example", "b.example"] {
                assert_eq!(products(app, &p.token, site).await, 1, "{site} still pending after 13 days");
            }
        }
        // Moved once, through the CLI: both servers, both sites, at once.
        b.advance_clock("2d");
        for app in [&a, &b] {
            for site in ["a.example", "b.example"] {
                assert_eq!(products(app, &p.token, site).await, 0, "{site} expired after 15 days");
            }
        }
        // Records made by either server after the move carry the moved time.
        pending(&a, &p.token, "https://a2.example", "premium").await;
        pending(&b, &p.token, "https://b2.example", "premium").await;
        for site in ["a2.example", "b2.example"] {
            let list = a.admin(&["activations", "--site", site]).unwrap();
            let ahead = secs(&list[0]["created_at"]) - system_secs();
            assert!((15 * DAY - 30..=15 * DAY + 1).contains(&ahead), "{site} created {ahead} s ahead: {list}");
        }
    }
}
