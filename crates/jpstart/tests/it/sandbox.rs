//! The sandbox (SPEC §9): magic sites for every catalogued code (walked
//! from the catalogue, so a new code is covered without touching this
//! file), slow and flaky sites, the clock moved over HTTP, the `/sandbox`
//! pages (JSON, and HTML in a real headless Chromium), and the same names
//! as ordinary sites without `--sandbox`.

use std::time::{Duration, Instant};

use jpstart_server::domain::ErrorCode;
use jpstart_types::admin::MailShown;
use jpstart_types::sandbox::{SandboxMail, SandboxSites};
use jpstart_types::wire::ClockState;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::authorize::pending;
use crate::cli::jpstart;
use crate::common::*;
use crate::webdriver::Driver;

const DAY: i64 = 24 * 3600;
const WAIT: Duration = Duration::from_secs(20);

fn sandbox() -> Opts {
    Opts::default().arg("--sandbox")
}

/// The host of the error site of a code, as SPEC §9 writes it.
fn error_host(code: ErrorCode) -> String {
    format!("{}.error.jpstart.test", code.code().replace('_', "-"))
}

/// `GET /sandbox?format=json`, decoded strictly.
async fn sites(app: &TestApp) -> SandboxSites {
    let (status, body) = json(
        app.request(Method::GET, "/sandbox?format=json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    ok(status, &body)
}

/// The four site endpoints (status in both shapes) for `site`: each
/// answer's status and body.
async fn site_calls(
    app: &TestApp,
    token: &str,
    site: &str,
) -> Vec<(&'static str, StatusCode, Value)> {
    let mut out = Vec::new();
    let (s, b) = app.cancel(token, site, &[]).await;
    out.push(("cancel", s, b));
    let (s, b) = app.status(token, site).await;
    out.push(("status v1.4", s, b));
    for (name, path) in [
        ("status v1.3", format!("/rest/v1.3/jpphp/{site}/status")),
        (
            "upgrade-paths",
            format!("/rest/v1.3/jpphp/{site}/upgrade-paths"),
        ),
    ] {
        let (s, b) = json(app.get(&path, token).send().await.unwrap()).await;
        out.push((name, s, b));
    }
    out
}

/// Asserts an answer is exactly the magic error of `code`.
fn assert_magic(what: &str, status: StatusCode, body: &Value, code: ErrorCode, message: &str) {
    let err = assert_error(status, body, code.status(), code.code());
    assert_eq!(err.message, message, "{what} of {}", error_host(code));
}

/// The message is the catalogue's template with each `%s` filled.
fn fills_template(message: &str, template: &str) -> bool {
    let mut rest = message;
    for part in template.split("%s") {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    !message.contains("%s")
}

/// `POST /sandbox/clock` with form fields, as sent.
async fn move_clock(app: &TestApp, token: &str, fields: &[(&str, &str)]) -> (StatusCode, Value) {
    json(
        app.post("/sandbox/clock", token)
            .form(fields)
            .send()
            .await
            .unwrap(),
    )
    .await
}

both_backends! {
    /// Every code of the catalogue, on each endpoint that takes a site:
    /// its status, its code and the message `GET /sandbox` lists for it.
    async fn every_catalogued_code_answers_on_its_magic_site(db: Db) {
        let app = TestApp::spawn_with(db, sandbox()).await;
        let p = app.partner("Magic").await;
        let listed = sites(&app).await;
        assert_eq!(listed.sites.len(), ErrorCode::ALL.len() + 2, "{listed:?}");
        for &code in ErrorCode::ALL {
            let host = error_host(code);
            let entry = listed.sites.iter().find(|s| s.site == host).unwrap_or_else(|| panic!("{host} not listed"));
            let message = entry.message.clone().unwrap();
            assert!(fills_template(&message, code.template()), "{code}: {message:?}");
            assert_eq!((entry.status, entry.code.as_deref()), (Some(code.status()), Some(code.code())));

            let fields = [("siteurl", format!("https://{host}")), ("local_user", "admin".into()), ("plan", "premium".into())];
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (status, body) = app.provision(&p.token, &fields).await;
            assert_magic("provision", status, &body, code, &message);
            for (what, status, body) in site_calls(&app, &p.token, &host).await {
                assert_magic(what, status, &body, code, &message);
            }
        }
        // No row for any of them: an error site is answered before the store.
        assert!(app.admin(&["site", "show", "invalid-input.error.jpstart.test"]).is_err());
        // An unknown code is an ordinary site.
        let res = app.provision_ok(&p.token, &[("siteurl", "https://no-such-code.error.jpstart.test"), ("local_user", "admin")]).await;
        assert!(res.success);
    }

    /// Without `--sandbox` the magic names are ordinary sites and
    /// `/sandbox` does not exist; a sandbox on the same database answers
    /// the magic error for that site by blog id too.
    async fn magic_names_are_ordinary_outside_the_sandbox_and_magic_by_blog_id(db: Db) {
        let plain = TestApp::spawn(db).await;
        let p = plain.partner("Plain").await;
        let host = error_host(ErrorCode::InvalidInput);
        let res = plain.provision_ok(&p.token, &[("siteurl", &format!("https://{host}")), ("local_user", "admin"), ("plan", "premium")]).await;
        assert!(res.success && res.auth_required, "{res:?}");
        for (what, status, body) in site_calls(&plain, &p.token, &host).await {
            assert_eq!(status, 200, "{what}: {body}");
        }
        // Nor do slow and flaky names do anything: no 503, no wait.
        let started = Instant::now();
        let res = plain.provision_ok(&p.token, &[("siteurl", "https://flaky-1.jpstart.test"), ("local_user", "admin")]).await;
        assert!(res.success);
        let (status, body) = json(plain.get("/rest/v1.3/jpphp/slow-20000.jpstart.test/upgrade-paths", &p.token).send().await.unwrap()).await;
        assert_eq!(status, 200, "{body}");
        assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
        for (method, path) in [(Method::GET, "/sandbox"), (Method::GET, "/sandbox/clock"), (Method::POST, "/sandbox/clock"), (Method::GET, "/sandbox/mail")] {
            let (status, _, text) = raw(plain.request(method.clone(), path).bearer_auth(&p.token).send().await.unwrap()).await;
            assert_eq!(status, 404, "{method} {path}");
            assert!(text.contains("--sandbox") && text.contains("\"not_a_sandbox\""), "{text:?}");
        }

        let sb = TestApp::spawn_with(plain.db.share(), sandbox()).await;
        let blog_id = plain.blog_id(&host).to_string();
        let message = "Unable to delete subscription";
        for (what, status, body) in site_calls(&sb, &p.token, &blog_id).await {
            assert_magic(what, status, &body, ErrorCode::InvalidInput, message);
        }
        let (status, body) = json(sb.post(&format!("/rest/v1.3/jpphp/{blog_id}/partner-provision"), &p.token).json(&serde_json::json!({"plan": "premium"})).send().await.unwrap()).await;
        assert_magic("partner-provision", status, &body, ErrorCode::InvalidInput, message);
        // The plain server still answers it as the ordinary site it is.
        assert_eq!(plain.status(&p.token, &blog_id).await.0, 200);
        // A blog id no site has: the endpoint's own answer.
        let (status, body) = sb.status(&p.token, "987654321").await;
        assert_error(status, &body, 403, "invalid_blog");
    }

    /// `slow-MS` answers normally, no sooner than MS milliseconds later,
    /// by URL, identifier and blog id.
    async fn slow_sites_answer_after_their_wait(db: Db) {
        let app = TestApp::spawn_with(db, sandbox()).await;
        let p = app.partner("Slow").await;
        let ms = 300;
        let site = format!("slow-{ms}.jpstart.test");
        let started = Instant::now();
        let res = app.provision_ok(&p.token, &[("siteurl", &format!("https://{site}")), ("local_user", "admin"), ("plan", "premium")]).await;
        assert!(started.elapsed() >= Duration::from_millis(ms), "{:?}", started.elapsed());
        assert!(res.success && res.auth_required, "{res:?}");
        let blog_id = app.blog_id(&site).to_string();
        for named in [site.as_str(), blog_id.as_str()] {
            let started = Instant::now();
            let st = app.status_ok(&p.token, named).await;
            assert!(started.elapsed() >= Duration::from_millis(ms), "{named}: {:?}", started.elapsed());
            assert!(st.products[0].is_pending, "{st:?}");
        }
        // An ordinary site does not wait.
        let started = Instant::now();
        let (status, body) = app.status(&p.token, "quick.example").await;
        assert_error(status, &body, 403, "invalid_blog");
        assert!(started.elapsed() < Duration::from_millis(ms), "{:?}", started.elapsed());
    }

    /// `flaky-N`: `service_unavailable` to the first N requests of each
    /// key (per site), then the real answer; a retrying client gets through.
    async fn flaky_sites_fail_n_times_per_key(db: Db) {
        let app = TestApp::spawn_with(db, sandbox()).await;
        let a = app.partner("Flaky A").await;
        let b = app.partner("Flaky B").await;
        let site = "flaky-2.jpstart.test";
        let fields = [("siteurl", "https://flaky-2.jpstart.test"), ("local_user", "admin"), ("plan", "premium")];
        for _ in 0..2 {
            let (status, body) = app.provision(&a.token, &fields).await;
            let err = assert_error(status, &body, 503, "service_unavailable");
            assert_eq!(err.message, "The service is temporarily unavailable. Please try again.");
        }
        let res = app.provision_ok(&a.token, &fields).await;
        assert!(res.success, "{res:?}");
        // Used up for key A (on every endpoint); key B counts its own.
        assert_eq!(app.status(&a.token, site).await.0, 200);
        assert_eq!(app.status(&b.token, site).await.0, 503);
        // Another path of the host is another site, counted apart.
        assert_eq!(app.status(&a.token, "flaky-2.jpstart.test::shop").await.0, 503);

        // The typed client retries 503s: two failures, then the answer.
        let client = jpstart_client::Client::builder()
            .base_url(&app.base)
            .token(&a.token)
            .retry(jpstart_client::RetryPolicy { max_attempts: 4, ..Default::default() })
            .build()
            .unwrap();
        let site = jpstart_client::parse_site("flaky-2.jpstart.test::retried").unwrap();
        let paths = client.upgrade_paths(&site).await.unwrap();
        assert!(!paths.0.is_empty(), "{paths:?}");
    }

    /// A pending activation expires at once after `advance=15d`, no sleep;
    /// the clock never moves back; bad moves are refused, nothing moved.
    async fn the_clock_moves_forward_over_http(db: Db) {
        let app = TestApp::spawn_with(db, sandbox()).await;
        let p = app.partner("Clock").await;
        pending(&app, &p.token, "https://later.example", "premium").await;
        assert!(app.status_ok(&p.token, "later.example").await.products[0].is_pending);

        let (status, body) = move_clock(&app, &p.token, &[("advance", "15d")]).await;
        let clock: ClockState = ok(status, &body);
        assert_eq!(keys(&body), ["now", "offset_s"]);
        assert_eq!(clock.offset_s, 15 * DAY, "{body}");
        assert!(app.status_ok(&p.token, "later.example").await.products.is_empty(), "expired at once");
        let (status, body) = json(app.request(Method::GET, "/sandbox/clock").send().await.unwrap()).await;
        assert_eq!(ok::<ClockState>(status, &body).offset_s, 15 * DAY);
        assert_eq!(app.admin(&["clock", "show"]).unwrap()["offset_s"], 15 * DAY, "the operator's CLI agrees");

        let (status, body) = move_clock(&app, &p.token, &[("now", "2020-01-01T00:00:00Z")]).await;
        let err = assert_error(status, &body, 400, "clock_backwards");
        assert!(err.message.starts_with("The sandbox clock only moves forward: 2020-01-01T00:00:00Z is before its now, "), "{}", err.message);
        for bad in [&[][..], &[("advance", "soon")], &[("now", "tomorrow")], &[("advance", "1d"), ("now", "2030-01-01")], &[("advance", "500000d")]] {
            let (status, body) = move_clock(&app, &p.token, bad).await;
            assert_error(status, &body, 400, "invalid_clock");
        }
        let (status, body) = json(app.request(Method::POST, "/sandbox/clock").form(&[("advance", "1d")]).send().await.unwrap()).await;
        assert_error(status, &body, 403, "authorization_required");
        assert_eq!(app.admin(&["clock", "show"]).unwrap()["offset_s"], 15 * DAY, "nothing moved");

        // JSON body, a time ahead; then the partner CLI.
        let (status, body) = json(app.post("/sandbox/clock", &p.token).json(&serde_json::json!({"advance": "1d"})).send().await.unwrap()).await;
        assert_eq!(ok::<ClockState>(status, &body).offset_s, 16 * DAY);
        let env = [("JPSTART_API_URL", app.base.as_str()), ("JPSTART_TOKEN", p.token.as_str())];
        let run = jpstart(&["sandbox", "clock", "advance", "1d"], &env).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        let clock: ClockState = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(clock.offset_s, 17 * DAY);
        let run = jpstart(&["sandbox", "clock", "--api-url", &app.base], &[]).await;
        assert_eq!(serde_json::from_str::<ClockState>(&run.stdout).unwrap().offset_s, 17 * DAY, "{}", run.stderr);
        let run = jpstart(&["sandbox", "clock", "set", "2020-01-01T00:00:00Z"], &env).await;
        assert_eq!(run.code, 1, "{}", run.stdout);
        assert!(run.stderr.contains("clock_backwards"), "{}", run.stderr);
        let run = jpstart(&["sandbox", "sites", "--api-url", &app.base], &[]).await;
        let listed: SandboxSites = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(listed, sites(&app).await);
    }

    /// Two sandbox servers on one database (PostgreSQL: how jpstart scales
    /// out) share one clock and one flaky count.
    async fn two_sandbox_servers_agree(db: Db) {
        let a = TestApp::spawn_with(db, sandbox()).await;
        let b = TestApp::spawn_with(a.db.share(), sandbox()).await;
        let p = a.partner("Two").await;
        pending(&a, &p.token, "https://shared.example", "premium").await;
        let (status, body) = move_clock(&a, &p.token, &[("advance", "15d")]).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = json(b.request(Method::GET, "/sandbox/clock").send().await.unwrap()).await;
        assert_eq!(ok::<ClockState>(status, &body).offset_s, 15 * DAY);
        assert!(b.status_ok(&p.token, "shared.example").await.products.is_empty(), "expired on b too");

        let paths = "/rest/v1.3/jpphp/flaky-2.jpstart.test/upgrade-paths";
        for (app, want) in [(&a, 503), (&b, 503), (&a, 200), (&b, 200)] {
            let (status, body) = json(app.get(paths, &p.token).send().await.unwrap()).await;
            assert_eq!(status, want, "{body}");
        }
    }

    /// `/sandbox` and `/sandbox/mail` in a real headless Chromium, and the
    /// outbox as JSON.
    async fn sandbox_pages_in_headless_chromium(db: Db) {
        let app = TestApp::spawn_with(db, sandbox()).await;
        let p = app.partner("Pages").await;
        let (status, _, text) = crate::magic_link::magic_link(&app, &p.token, "jane@example.com").await;
        assert_eq!(status, 200, "{text}");
        let (status, body) = json(app.request(Method::GET, "/sandbox/mail").header("accept", "application/json").send().await.unwrap()).await;
        let outbox: SandboxMail = ok(status, &body);
        let mail: &MailShown = &outbox.mail[0];
        assert_eq!(mail.to, "jane@example.com");
        assert!(mail.body.contains("wordpress://magic-login?token="), "{}", mail.body);
        let (status, body) = json(app.request(Method::GET, "/sandbox/mail?format=json&to=nobody@example.com").send().await.unwrap()).await;
        assert!(ok::<SandboxMail>(status, &body).mail.is_empty());

        let Some(driver) = Driver::start().await else { return };
        let browser = driver.session().await;
        browser.goto(&app.url("/sandbox")).await;
        assert_eq!(browser.title().await, "jpstart sandbox");
        browser.wait_for("table#sites", WAIT).await;
        let source = browser.source().await;
        assert_eq!(source.matches("<tr class=\"error\">").count(), ErrorCode::ALL.len(), "one row per code");
        assert!(source.contains("slow-MS.jpstart.test") && source.contains("flaky-N.jpstart.test"));
        let row = browser.wait_for("tr.error td.message", WAIT).await;
        assert_eq!(browser.text(&row).await, "Method not allowed", "the first code's message");
        let clock = browser.wait_for("#clock time", WAIT).await;
        assert!(browser.text(&clock).await.ends_with('Z'));

        let to_mail = browser.wait_for("a[href='/sandbox/mail']", WAIT).await;
        browser.click(&to_mail).await;
        let to = browser.wait_for("#mail td.to", WAIT).await;
        assert_eq!(browser.text(&to).await, "jane@example.com");
        let link = browser.wait_for("pre.body a[href^='wordpress://magic-login?token=']", WAIT).await;
        assert!(mail.body.contains(&browser.text(&link).await), "the link is the mail's own");
        browser.quit().await;
    }
}
