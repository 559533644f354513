//! The portal's request log and webhooks pages (SPEC §8, §9, §10; issues
//! 15 and 16): in headless Chromium (sign in, read the log and filter it,
//! register an endpoint and see its secret once, see a delivery, replay
//! it, delete the endpoint), and over plain HTTP the refusals: forged
//! forms, another partner's ids, the secret on any later page.

use std::time::{Duration, Instant};

use jpstart_types::webhooks::{DeliveryStatus, WebhookList};
use reqwest::header::{HeaderMap, COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;

use crate::common::*;
use crate::receiver::Receiver;
use crate::webdriver::Driver;
use crate::webhooks::{deliveries, hooks, opts, register, wait_log};

const WAIT: Duration = Duration::from_secs(20);

/// A partner user of `p` (the operator's `admin user create`): e-mail and
/// password.
fn user(app: &TestApp, p: &Partner, email: &str) -> (String, String) {
    let v = app
        .admin(&[
            "user",
            "create",
            "--partner",
            &p.partner_id.to_string(),
            "--email",
            email,
        ])
        .expect("user create");
    (
        email.to_string(),
        v["password"].as_str().unwrap().to_string(),
    )
}

/// The first `csrf_token` of a page.
fn csrf(html: &str) -> String {
    let at = html
        .find("name=\"csrf_token\" value=\"")
        .unwrap_or_else(|| panic!("no csrf_token in {html}"));
    let rest = &html[at + "name=\"csrf_token\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// Text as the portal's templates escape it.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn cookie_of(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

/// A signed-in portal session over plain HTTP (no redirects followed).
struct Portal {
    http: reqwest::Client,
    base: String,
    cookie: String,
}

impl Portal {
    async fn sign_in(app: &TestApp, email: &str, password: &str) -> Portal {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let res = http.get(app.url("/portal/login")).send().await.unwrap();
        let login = cookie_of(res.headers(), "jpstart_login").expect("login cookie");
        let token = csrf(&res.text().await.unwrap());
        let res = http
            .post(app.url("/portal/login"))
            .header(COOKIE, login)
            .form(&[
                ("email", email),
                ("password", password),
                ("csrf_token", &token),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let cookie = cookie_of(res.headers(), "jpstart_session").expect("session cookie");
        Portal {
            http,
            base: app.base.clone(),
            cookie,
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap();
        (res.status(), res.text().await.unwrap())
    }

    /// A form POST; the status and where a 303 goes.
    async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, String, String) {
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap();
        let to = res
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (res.status(), to, res.text().await.unwrap())
    }

    /// This session's anti-forgery token.
    async fn token(&self) -> String {
        let (status, html) = self.get("/portal/webhooks").await;
        assert_eq!(status, 200, "{html}");
        csrf(&html)
    }
}

async fn endpoints(app: &TestApp, p: &Partner) -> Vec<i64> {
    let (status, body) = json(app.get(&hooks(p), &p.token).send().await.unwrap()).await;
    ok::<WebhookList>(status, &body)
        .webhooks
        .iter()
        .map(|w| w.id)
        .collect()
}

/// A provision for a new site of `p` (one webhook event at least).
async fn provision(app: &TestApp, p: &Partner, name: &str) {
    let url = format!("https://{name}.example.com");
    app.provision_ok(
        &p.token,
        &[
            ("siteurl", &url),
            ("local_user", "admin"),
            ("plan", "personal"),
        ],
    )
    .await;
}

/// An endpoint of `p` on `rx` with one delivered delivery: (endpoint, delivery).
async fn delivered(app: &TestApp, p: &Partner, rx: &Receiver, name: &str) -> (i64, i64) {
    let hook = register(app, p, &rx.url, &[]).await;
    provision(app, p, name).await;
    let log = wait_log(app, p, hook.id, |l| {
        !l.is_empty() && l.iter().all(|d| d.status == DeliveryStatus::Delivered)
    })
    .await;
    (hook.id, log[0].id)
}

both_backends! {
    async fn request_log_and_webhooks_in_headless_chromium(db: Db) {
        let Some(driver) = Driver::start().await else { return };
        let rx = Receiver::start().await;
        let app = TestApp::spawn_with(db, opts().arg("--request-log")).await;
        let p = app.partner("Portal Extras").await;
        let (email, password) = user(&app, &p, "extras@example.com");
        provision(&app, &p, "logged").await;
        // A refused request: 400 in the log.
        let (status, _) = app.provision(&p.token, &[("local_user", "admin")]).await;
        assert_eq!(status, 400);

        let browser = driver.session().await;
        browser.goto(&app.url("/portal/requests")).await;
        let field = browser.wait_for("#email", WAIT).await;
        browser.send_keys(&field, &email).await;
        let field = browser.wait_for("#password", WAIT).await;
        browser.send_keys(&field, &password).await;
        let button = browser.wait_for("#sign-in", WAIT).await;
        browser.click(&button).await;
        browser.wait_for("#who", WAIT).await;
        assert!(browser.current_url().await.ends_with("/portal/requests"));

        // The log is written off the request's path: reload until it shows.
        let deadline = Instant::now() + WAIT;
        loop {
            let html = browser.source().await;
            if html.contains("/rest/v1.3/jpphp/provision") && html.contains("data-status=\"400\"") {
                break;
            }
            assert!(Instant::now() < deadline, "no entries: {html}");
            tokio::time::sleep(Duration::from_millis(200)).await;
            browser.goto(&app.url("/portal/requests")).await;
        }
        let html = browser.source().await;
        assert!(html.contains("<details>"), "{html}");
        assert!(html.contains("[redacted]"), "the token request's secret: {html}");
        assert!(!html.contains(&p.client_secret), "{html}");
        assert!(!html.contains(&p.token), "{html}");

        let field = browser.wait_for("#status", WAIT).await;
        browser.send_keys(&field, "400").await;
        let button = browser.wait_for("#filter", WAIT).await;
        browser.click(&button).await;
        // The old page has a table too: wait for the new one's URL.
        let deadline = Instant::now() + WAIT;
        while !browser.current_url().await.contains("status=400") {
            assert!(Instant::now() < deadline, "not filtered: {}", browser.current_url().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        browser.wait_for("#requests", WAIT).await;
        let html = browser.source().await;
        assert!(html.contains("data-status=\"400\""), "{html}");
        assert!(!html.contains("data-status=\"200\""), "{html}");

        // Register an endpoint for one event type; the secret shows once.
        let nav = browser.wait_for("nav a[href='/portal/webhooks']", WAIT).await;
        browser.click(&nav).await;
        let field = browser.wait_for("#url", WAIT).await;
        browser.send_keys(&field, &rx.url).await;
        let boxed = browser.wait_for("input[value='activation.pending']", WAIT).await;
        browser.click(&boxed).await;
        let button = browser.wait_for("#register", WAIT).await;
        browser.click(&button).await;
        let shown = browser.wait_for("#webhook-secret", WAIT).await;
        let secret = browser.text(&shown).await;
        assert!(secret.starts_with("whsec_"), "{secret}");
        assert!(!browser.current_url().await.contains("whsec_"));
        browser.goto(&app.url("/portal/webhooks")).await;
        browser.wait_for("#webhooks", WAIT).await;
        assert!(browser.try_find("#webhook-secret").await.is_none());
        assert!(!browser.source().await.contains(&secret));
        let ids = endpoints(&app, &p).await;
        assert_eq!(ids.len(), 1);
        let id = ids[0];

        provision(&app, &p, "hooked").await;
        rx.wait_until(WAIT, |h| h.len() == 1).await;
        let link = browser.wait_for(&format!("#deliveries-{id}"), WAIT).await;
        browser.click(&link).await;
        let deadline = Instant::now() + WAIT;
        let delivery = loop {
            let log = deliveries(&app, &p, id).await;
            let html = browser.source().await;
            if let Some(d) = log.first().filter(|_| html.contains("<td class=\"status\">delivered</td>")) {
                break d.id;
            }
            assert!(Instant::now() < deadline, "not delivered: {html}");
            tokio::time::sleep(Duration::from_millis(200)).await;
            browser.goto(&app.url(&format!("/portal/webhooks/{id}"))).await;
        };
        assert!(browser.source().await.contains("activation.pending"));
        let replay = browser.wait_for(&format!("#replay-{delivery}"), WAIT).await;
        browser.click(&replay).await;
        let hits = rx.wait_until(WAIT, |h| h.len() == 2).await;
        assert_eq!(hits[0].event_id(), hits[1].event_id());
        browser.wait_for("#deliveries", WAIT).await;
        assert!(browser.current_url().await.ends_with(&format!("/portal/webhooks/{id}")));

        browser.goto(&app.url("/portal/webhooks")).await;
        let delete = browser.wait_for(&format!("#delete-{id}"), WAIT).await;
        browser.click(&delete).await;
        browser.wait_for("#no-webhooks", WAIT).await;
        assert!(endpoints(&app, &p).await.is_empty());
        browser.quit().await;
    }

    async fn forged_forms_are_refused_and_change_nothing(db: Db) {
        let rx = Receiver::start().await;
        let app = TestApp::spawn_with(db, opts()).await;
        let p = app.partner("Forgeries").await;
        let (email, password) = user(&app, &p, "victim@example.com");
        let victim = Portal::sign_in(&app, &email, &password).await;
        let other = Portal::sign_in(&app, &email, &password).await;
        let theirs = other.token().await;
        let (id, delivery) = delivered(&app, &p, &rx, "forged").await;
        let del_path = format!("/portal/webhooks/{id}/delete");
        let replay_path = format!("/portal/webhooks/{id}/deliveries/{delivery}/replay");
        for token in [None, Some(""), Some(theirs.as_str()), Some("x")] {
            let mut base = vec![];
            if let Some(t) = token {
                base.push(("csrf_token", t));
            }
            let mut reg = base.clone();
            reg.extend([("url", rx.url.as_str()), ("events", "site.connected")]);
            let mut mon = base.clone();
            mon.push(("url", rx.url.as_str()));
            for (path, form) in [
                ("/portal/webhooks", reg),
                ("/portal/webhooks/monitor", mon),
                (del_path.as_str(), base.clone()),
                (replay_path.as_str(), base.clone()),
                ("/portal/logout", base.clone()),
            ] {
                let (status, _, html) = victim.post(path, &form).await;
                assert_eq!(status, 403, "{path} with {token:?}: {html}");
                assert!(!html.contains("whsec_"), "{html}");
            }
        }
        // A forged origin with the real token: refused too.
        let mine = victim.token().await;
        let res = victim
            .http
            .post(app.url(&del_path))
            .header(COOKIE, &victim.cookie)
            .header("Origin", "https://evil.example")
            .form(&[("csrf_token", mine.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
        // Nothing changed: one endpoint, its delivery delivered once, no
        // replay pending, and the session still signed in.
        assert_eq!(endpoints(&app, &p).await, [id]);
        let log = deliveries(&app, &p, id).await;
        assert_eq!(log.len(), 1, "{log:?}");
        assert_eq!(log[0].status, DeliveryStatus::Delivered);
        assert_eq!(log[0].attempts, 1);
        assert_eq!(rx.hits().len(), 1);
        let (status, _) = victim.get("/portal/webhooks").await;
        assert_eq!(status, 200);
        // The real token works (the forms are not simply broken).
        let (status, to, _) = victim.post(&replay_path, &[("csrf_token", &mine)]).await;
        assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, format!("/portal/webhooks/{id}").as_str()));
        rx.wait_until(WAIT, |h| h.len() == 2).await;
        let (status, to, _) = victim.post(&del_path, &[("csrf_token", &mine)]).await;
        assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/portal/webhooks"));
        assert!(endpoints(&app, &p).await.is_empty());
    }

    async fn another_partners_endpoints_are_not_found(db: Db) {
        let rx = Receiver::start().await;
        let app = TestApp::spawn_with(db, opts().arg("--request-log")).await;
        let mine = app.partner("Mine").await;
        let theirs = app.partner("Theirs").await;
        let (email, password) = user(&app, &mine, "mine@example.com");
        let portal = Portal::sign_in(&app, &email, &password).await;
        let token = portal.token().await;
        let their_url = format!("{}?theirs", rx.url);
        let hook = register(&app, &theirs, &their_url, &[]).await;
        provision(&app, &theirs, "theirs").await;
        let log = wait_log(&app, &theirs, hook.id, |l| {
            l.first().is_some_and(|d| d.status == DeliveryStatus::Delivered)
        })
        .await;
        let (id, delivery) = (hook.id, log[0].id);

        let (status, html) = portal.get(&format!("/portal/webhooks/{id}")).await;
        assert_eq!(status, 404, "{html}");
        assert!(!html.contains("theirs"), "{html}");
        let (status, html) = portal.get("/portal/webhooks").await;
        assert_eq!(status, 200);
        assert!(!html.contains("theirs") && html.contains("no-webhooks"), "{html}");
        let (status, _, html) = portal
            .post(&format!("/portal/webhooks/{id}/deliveries/{delivery}/replay"), &[("csrf_token", &token)])
            .await;
        assert_eq!(status, 404, "{html}");
        let (status, _, html) = portal
            .post(&format!("/portal/webhooks/{id}/delete"), &[("csrf_token", &token)])
            .await;
        assert_eq!(status, 404, "{html}");
        for bad in ["0", "x", "-1", "99999999999999999999"] {
            let (status, _) = portal.get(&format!("/portal/webhooks/{bad}")).await;
            assert_eq!(status, 404, "{bad}");
        }
        // Theirs untouched: listed, delivered once, no replay.
        assert_eq!(endpoints(&app, &theirs).await, [id]);
        let after = deliveries(&app, &theirs, id).await;
        assert_eq!((after[0].status, after[0].attempts), (DeliveryStatus::Delivered, 1));
        assert_eq!(rx.hits().len(), 1);

        // Their requests are not in my log, even when I name their key.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (status, html) = portal.get(&format!("/portal/requests?key={}", theirs.key_id)).await;
        assert_eq!(status, 200);
        assert!(html.contains("no-requests"), "{html}");
        let (_, html) = portal.get("/portal/requests").await;
        assert!(!html.contains("theirs.example.com"), "{html}");
        let (status, html) = portal.get("/portal/requests?status=abc").await;
        assert_eq!(status, 400);
        assert!(html.contains("id=\"error\""), "{html}");
    }

    async fn the_secret_is_shown_on_the_answer_alone(db: Db) {
        let rx = Receiver::start().await;
        let app = TestApp::spawn_with(db, opts().arg("--request-log")).await;
        let p = app.partner("Once").await;
        let (email, password) = user(&app, &p, "once@example.com");
        let portal = Portal::sign_in(&app, &email, &password).await;
        let token = portal.token().await;
        let (status, to, html) = portal
            .post(
                "/portal/webhooks",
                &[("csrf_token", token.as_str()), ("url", rx.url.as_str()), ("events", "site.connected"), ("events", "activation.pending")],
            )
            .await;
        assert_eq!(status, 200, "{html}");
        assert!(to.is_empty(), "no redirect: {to}");
        let at = html.find("whsec_").expect("the secret");
        let secret: String = html[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        assert!(secret.len() > 20, "{secret}");
        assert!(html.contains("activation.pending, site.connected"), "{html}");
        let id = endpoints(&app, &p).await[0];
        provision(&app, &p, "once").await;
        wait_log(&app, &p, id, |l| !l.is_empty()).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        for path in [
            "/portal/webhooks".to_string(),
            format!("/portal/webhooks/{id}"),
            "/portal/requests".to_string(),
            "/portal/".to_string(),
        ] {
            let (status, html) = portal.get(&path).await;
            assert_eq!(status, 200, "{path}: {html}");
            assert!(!html.contains(&secret), "{path}: {html}");
            assert!(!html.contains("whsec_"), "{path}: {html}");
        }
        let (_, body) = json(app.get(&hooks(&p), &p.token).send().await.unwrap()).await;
        assert!(!body.to_string().contains(&secret), "{body}");
        let path = format!("/wpcom/v2/jetpack-partners/{}/requests", p.partner_id);
        let (_, body) = json(app.get(&path, &p.token).send().await.unwrap()).await;
        assert!(!body.to_string().contains(&secret), "{body}");
    }

    async fn refusals_are_the_apis_and_the_log_can_be_off(db: Db) {
        // No --webhook-allow-private, no --request-log.
        let app = TestApp::spawn(db).await;
        let p = app.partner("Refused").await;
        let (email, password) = user(&app, &p, "refused@example.com");
        let portal = Portal::sign_in(&app, &email, &password).await;
        let token = portal.token().await;
        let (api_status, api_body) = json(
            app.post(&hooks(&p), &p.token)
                .form(&[("url", "http://127.0.0.1:9/hook")])
                .send()
                .await
                .unwrap(),
        )
        .await;
        let code = api_body["error"].as_str().unwrap().to_string();
        let message = api_body["message"].as_str().unwrap().to_string();
        for (url, events) in [("http://127.0.0.1:9/hook", "site.connected"), ("ftp://x.example/", "site.connected"), ("https://x.example/", "no.such")] {
            let (status, _, html) = portal
                .post("/portal/webhooks", &[("csrf_token", token.as_str()), ("url", url), ("events", events)])
                .await;
            assert_eq!(status, 400, "{url}: {html}");
            assert!(html.contains("id=\"error\""), "{html}");
            if url.contains("127.0.0.1") {
                assert_eq!(api_status, status);
                assert!(html.contains(&format!("({code})")), "{code}: {html}");
                assert!(html.contains(&escaped(&message)), "{message}: {html}");
                // The form keeps what was sent.
                assert!(html.contains("value=\"site.connected\" checked"), "{html}");
            }
        }
        let (status, _, html) = portal
            .post("/portal/webhooks/monitor", &[("csrf_token", token.as_str()), ("url", "http://10.0.0.1/")])
            .await;
        assert_eq!(status, 400, "{html}");
        assert!(html.contains(&format!("({code})")), "{html}");
        assert!(endpoints(&app, &p).await.is_empty());
        let (status, html) = portal.get("/portal/requests").await;
        assert_eq!(status, 200);
        assert!(html.contains("id=\"request-log-off\"") && !html.contains("<table"), "{html}");

        // Without a session (a key's bearer token is none): to the sign-in
        // page, nothing registered.
        let anonymous = Portal { cookie: "jpstart_session=nothing".into(), ..portal };
        for path in ["/portal/requests", "/portal/webhooks", "/portal/webhooks/1"] {
            let res = anonymous.http.get(app.url(path)).bearer_auth(&p.token).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
            let to = res.headers().get(LOCATION).unwrap().to_str().unwrap().to_string();
            assert!(to.starts_with("/portal/login?next="), "{path}: {to}");
        }
        let (status, to, _) = anonymous
            .post("/portal/webhooks", &[("csrf_token", token.as_str()), ("url", "https://x.example/")])
            .await;
        assert_eq!((status, to.as_str()), (StatusCode::SEE_OTHER, "/portal/login"));
        assert!(endpoints(&app, &p).await.is_empty());
    }
}
