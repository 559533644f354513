//! Issue 14: partner users (`admin user`), portal sign-in and sessions,
//! anti-forgery tokens and cookie flags, over HTTP on both backends. The
//! OAuth code flow is in `portal_oauth.rs`, the browser in
//! `portal_browser.rs`.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Stdio;

use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::*;

/// A browser without a browser: follows no redirect, keeps cookies.
pub struct Agent<'a> {
    pub app: &'a TestApp,
    http: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
    /// The `Set-Cookie` headers of the last answer.
    pub set_cookies: Vec<String>,
}

/// An answer: status, `Location`, body.
pub struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

impl<'a> Agent<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Agent {
            app,
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
            set_cookies: Vec::new(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        self.send(Method::GET, path, &[], None).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        self.send(Method::POST, path, form, None).await
    }

    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Answer {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            self.app.url(path)
        };
        let mut req = self.http.request(method.clone(), url);
        if !self.cookies.is_empty() {
            let header: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header(COOKIE, header.join("; "));
        }
        if let Some(o) = origin {
            req = req.header(ORIGIN, o);
        }
        if method == Method::POST {
            req = req.form(form);
        }
        let res = req.send().await.unwrap();
        self.set_cookies = res
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        for c in &self.set_cookies {
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        let status = res.status();
        let location = res
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_string());
        let body = res.text().await.unwrap();
        Answer {
            status,
            location,
            body,
        }
    }

    /// Opens the sign-in page and signs in; the answer to the POST.
    pub async fn sign_in(&mut self, email: &str, password: &str) -> Answer {
        self.sign_in_to(email, password, None).await
    }

    pub async fn sign_in_to(&mut self, email: &str, password: &str, next: Option<&str>) -> Answer {
        let page = self.get("/portal/login").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let csrf = csrf_of(&page.body).expect("the form's token");
        let mut form = vec![
            ("email", email),
            ("password", password),
            ("csrf_token", &csrf),
        ];
        if let Some(n) = next {
            form.push(("next", n));
        }
        self.post("/portal/login", &form).await
    }
}

/// The `csrf_token` of the first form of a page.
pub fn csrf_of(html: &str) -> Option<String> {
    let (_, rest) = html.split_once("name=\"csrf_token\" value=\"")?;
    rest.split_once('"').map(|(t, _)| t.to_string())
}

/// A partner user: `(user_id, password)`.
pub fn user(app: &TestApp, partner_id: u64, email: &str) -> (i64, String) {
    let v = app
        .admin(&[
            "user",
            "create",
            "--partner",
            &partner_id.to_string(),
            "--email",
            email,
        ])
        .expect("user create");
    (
        v["user_id"].as_i64().unwrap(),
        v["password"].as_str().unwrap().to_string(),
    )
}

const WRONG: &str = "Wrong e-mail address or password.";

both_backends! {
    async fn admin_user_commands(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Users Host").await;
        let pid = p.partner_id.to_string();
        let v = app
            .admin(&["user", "create", "--partner", &pid, "--email", "Jane@Example.com", "--name", "Jane"])
            .unwrap();
        assert_eq!(keys(&v), ["user_id", "partner_id", "email", "password"], "{v}");
        assert_eq!(v["partner_id"], p.partner_id);
        assert_eq!(v["email"], "Jane@Example.com");
        let password = v["password"].as_str().unwrap();
        assert!(password.len() >= 20 && password.bytes().all(|b| b.is_ascii_alphanumeric()), "{v}");
        // One address, one user, whatever its case.
        let e = app.admin(&["user", "create", "--partner", &pid, "--email", "jane@example.COM"]).unwrap_err();
        assert!(e.contains("already"), "{e}");
        let e = app.admin(&["user", "create", "--partner", "999", "--email", "x@example.com"]).unwrap_err();
        assert!(e.contains("no partner 999"), "{e}");
        let e = app.admin(&["user", "create", "--partner", &pid, "--email", "not-an-address"]).unwrap_err();
        assert!(e.contains("not an e-mail address"), "{e}");

        // --password-stdin: no password printed, and it signs in.
        let mut child = std::process::Command::new(BIN)
            .args(["admin", "--database-url", &app.db.url, "user", "create", "--partner", &pid, "--email", "bob@example.com", "--password-stdin"])
            .env_remove("JPSTART_DATABASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(b"bob's long password\n").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let bob: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(keys(&bob), ["user_id", "partner_id", "email"], "{bob}");
        let mut agent = Agent::new(&app);
        assert_eq!(agent.sign_in("BOB@example.com", "bob's long password").await.status, 303);

        let other = app.partner("Other Host").await;
        user(&app, other.partner_id, "carol@example.com");
        let all = app.admin(&["user", "list"]).unwrap();
        assert_eq!(all.as_array().unwrap().len(), 3, "{all}");
        let mine = app.admin(&["user", "list", "--partner", &pid]).unwrap();
        let emails: Vec<&str> = mine.as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
        assert_eq!(emails, ["Jane@Example.com", "bob@example.com"]);
        assert_eq!(keys(&mine[0]), ["user_id", "partner_id", "email", "name", "disabled", "created_at"]);
        assert_eq!(mine[0]["name"], "Jane");
        assert!(!all.to_string().contains(password), "no password or hash in the list");
        assert!(!all.to_string().contains("argon2"), "no password or hash in the list");

        let id = v["user_id"].to_string();
        let d = app.admin(&["user", "disable", &id]).unwrap();
        assert_eq!(d["disabled"], true, "{d}");
        assert_eq!(app.admin(&["user", "list", "--partner", &pid]).unwrap()[0]["disabled"], true);
        let d = app.admin(&["user", "enable", &id]).unwrap();
        assert_eq!(d["disabled"], false, "{d}");
        assert!(app.admin(&["user", "disable", "999"]).unwrap_err().contains("no partner user 999"));
    }

    async fn sign_in_session_and_sign_out(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Portal Host").await;
        let (_, password) = user(&app, p.partner_id, "jane@example.com");
        let mut agent = Agent::new(&app);
        // Without a session: to the sign-in page, and back after it.
        let a = agent.get("/portal/apps").await;
        assert_eq!(a.status, 303);
        assert_eq!(a.location.as_deref(), Some("/portal/login?next=%2Fportal%2Fapps"));

        let a = agent.sign_in_to("Jane@Example.com", &password, Some("/portal/apps")).await;
        assert_eq!(a.status, 303, "{}", a.body);
        assert_eq!(a.location.as_deref(), Some("/portal/apps"));
        let cookie = agent.set_cookies.iter().find(|c| c.starts_with("jpstart_session=")).unwrap().clone();
        for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
            assert!(cookie.contains(flag), "{cookie}");
        }
        assert!(!cookie.contains("Secure"), "plain http: {cookie}");
        let token = agent.cookies["jpstart_session"].clone();
        assert_eq!(token.len(), 64);

        let home = agent.get("/portal/").await;
        assert_eq!(home.status, 200, "{}", home.body);
        assert!(home.body.contains("id=\"who\">jane@example.com<"), "{}", home.body);
        assert!(home.body.contains("/portal/style.css"));
        let css = app.client.get(app.url("/portal/style.css")).send().await.unwrap();
        assert_eq!(css.status(), 200);
        assert!(css.headers()["content-type"].to_str().unwrap().starts_with("text/css"));

        // A sign-out without the token (a forged form) changes nothing.
        let a = agent.post("/portal/logout", &[]).await;
        assert_eq!(a.status, 403, "{}", a.body);
        let a = agent.post("/portal/logout", &[("csrf_token", "0".repeat(64).as_str())]).await;
        assert_eq!(a.status, 403);
        assert_eq!(agent.get("/portal/").await.status, 200, "still signed in");

        let csrf = csrf_of(&home.body).unwrap();
        let a = agent.post("/portal/logout", &[("csrf_token", &csrf)]).await;
        assert_eq!(a.status, 303);
        assert_eq!(a.location.as_deref(), Some("/portal/login"));
        assert!(!agent.cookies.contains_key("jpstart_session"));
        // The revoked session is refused even when the cookie is sent again.
        agent.cookies.insert("jpstart_session".into(), token.clone());
        let a = agent.get("/portal/").await;
        assert_eq!(a.status, 303);
        assert!(a.location.unwrap().starts_with("/portal/login"));
        // Nothing secret in the log.
        let logs = app.logs();
        assert!(!logs.contains(&token) && !logs.contains(&password), "{logs}");
    }

    async fn a_second_server_serves_the_session(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Two Servers").await;
        let (_, password) = user(&app, p.partner_id, "jane@example.com");
        let mut agent = Agent::new(&app);
        assert_eq!(agent.sign_in("jane@example.com", &password).await.status, 303);
        let second = TestApp::spawn(app.db.share()).await;
        let mut there = Agent::new(&second);
        there.cookies = agent.cookies.clone();
        let a = there.get("/portal/").await;
        assert_eq!(a.status, 200, "{}", a.body);
        let csrf = csrf_of(&a.body).unwrap();
        assert_eq!(there.post("/portal/logout", &[("csrf_token", &csrf)]).await.status, 303);
        assert_eq!(agent.get("/portal/").await.status, 303, "signed out on every server");
    }

    async fn wrong_password_and_unknown_address_answer_alike(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Alike Host").await;
        let (id, password) = user(&app, p.partner_id, "jane@example.com");
        let mut agent = Agent::new(&app);
        let wrong = agent.sign_in("jane@example.com", "not the password").await;
        let unknown = agent.sign_in("nobody@example.com", "not the password").await;
        app.admin(&["user", "disable", &id.to_string()]).unwrap();
        let disabled = agent.sign_in("jane@example.com", &password).await;
        for a in [&wrong, &unknown, &disabled] {
            assert_eq!(a.status, 401, "{}", a.body);
            assert!(a.body.contains(WRONG), "{}", a.body);
            assert!(a.location.is_none());
        }
        let strip = |a: &Answer, email: &str| {
            let csrf = csrf_of(&a.body).unwrap();
            a.body.replace(&csrf, "").replace(email, "")
        };
        assert_eq!(strip(&wrong, "jane@example.com"), strip(&unknown, "nobody@example.com"));
        assert!(!agent.cookies.contains_key("jpstart_session"));
    }

    async fn sign_in_is_throttled_per_address_and_email(db: Db) {
        let opts = Opts::default()
            .arg("--portal-login-rate-limit").arg("1/h:3")
            .arg("--portal-login-rate-limit-per-address").arg("1/h:6");
        let app = TestApp::spawn_with(db, opts).await;
        let p = app.partner("Throttle Host").await;
        let (_, password) = user(&app, p.partner_id, "jane@example.com");
        let (_, bob_password) = user(&app, p.partner_id, "bob@example.com");
        let mut agent = Agent::new(&app);
        for _ in 0..3 {
            assert_eq!(agent.sign_in("jane@example.com", "guess guess guess").await.status, 401);
        }
        // The e-mail's budget is spent: even the right password waits.
        let a = agent.sign_in("JANE@example.com", &password).await;
        assert_eq!(a.status, 429, "{}", a.body);
        assert!(a.body.contains("Too many sign-in attempts"), "{}", a.body);
        assert!(!agent.cookies.contains_key("jpstart_session"));
        let res = agent.http.post(app.url("/portal/login")).send().await.unwrap();
        assert_eq!(res.status(), 403, "no form token: refused before counting");
        // Another e-mail from this address still has budget left (6 per
        // address, 4 spent).
        assert_eq!(Agent::new(&app).sign_in("bob@example.com", &bob_password).await.status, 303);
        assert_eq!(Agent::new(&app).sign_in("bob@example.com", "x").await.status, 401);
        // The address's budget is spent too now.
        let a = Agent::new(&app).sign_in("bob@example.com", &bob_password).await;
        assert_eq!(a.status, 429, "{}", a.body);
    }

    async fn forged_forms_change_nothing(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Forgery Host").await;
        let (_, password) = user(&app, p.partner_id, "jane@example.com");
        let mut agent = Agent::new(&app);
        // Sign-in without the form's token, with a wrong one, from another origin.
        let page = agent.get("/portal/login").await;
        let csrf = csrf_of(&page.body).unwrap();
        let creds = [("email", "jane@example.com"), ("password", password.as_str())];
        let a = agent.post("/portal/login", &creds).await;
        assert_eq!(a.status, 403, "{}", a.body);
        let mut form = creds.to_vec();
        form.push(("csrf_token", "f".repeat(64).leak()));
        assert_eq!(agent.post("/portal/login", &form).await.status, 403);
        let mut form = creds.to_vec();
        form.push(("csrf_token", &csrf));
        let a = agent.send(Method::POST, "/portal/login", &form, Some("https://evil.example")).await;
        assert_eq!(a.status, 403);
        assert!(!agent.cookies.contains_key("jpstart_session"));
        // The token of one browser's form is no good with another's cookie.
        let mut other = Agent::new(&app);
        other.get("/portal/login").await;
        assert_eq!(other.post("/portal/login", &form).await.status, 403);

        assert_eq!(agent.sign_in("jane@example.com", &password).await.status, 303);
        let apps = agent.get("/portal/apps").await;
        let csrf = csrf_of(&apps.body).unwrap();
        let fields = [("name", "Evil"), ("redirect_uri", "https://evil.example/cb")];
        let a = agent.post("/portal/apps", &fields).await;
        assert_eq!(a.status, 403, "{}", a.body);
        let mut form = fields.to_vec();
        form.push(("csrf_token", &csrf));
        let a = agent.send(Method::POST, "/portal/apps", &form, Some("https://evil.example")).await;
        assert_eq!(a.status, 403);
        // Another session's token is refused too.
        let mut second = Agent::new(&app);
        second.sign_in("jane@example.com", &password).await;
        let theirs = csrf_of(&second.get("/portal/apps").await.body).unwrap();
        assert_ne!(theirs, csrf);
        let mut form = fields.to_vec();
        form.push(("csrf_token", &theirs));
        assert_eq!(agent.post("/portal/apps", &form).await.status, 403);
        assert_eq!(agent.post("/portal/token", &[("csrf_token", &theirs)]).await.status, 403);
        let apps = agent.get("/portal/apps").await;
        assert!(apps.body.contains("id=\"no-apps\""), "nothing registered: {}", apps.body);
        // With its own token, from its own origin: registered.
        let mut form = fields.to_vec();
        form.push(("csrf_token", &csrf));
        let a = agent.send(Method::POST, "/portal/apps", &form, Some(&app.base)).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains("id=\"client-secret\""), "{}", a.body);
    }

    async fn next_stays_on_this_server(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Next Host").await;
        let (_, password) = user(&app, p.partner_id, "jane@example.com");
        for evil in ["//evil.example/x", "https://evil.example/", "/\\evil.example", "portal"] {
            let mut agent = Agent::new(&app);
            let a = agent.sign_in_to("jane@example.com", &password, Some(evil)).await;
            assert_eq!(a.status, 303, "{evil}: {}", a.body);
            assert_eq!(a.location.as_deref(), Some("/portal/"), "{evil}");
            let page = Agent::new(&app).get(&format!("/portal/login?next={}", evil.replace('/', "%2F"))).await;
            assert!(!page.body.contains("name=\"next\""), "{evil}: {}", page.body);
        }
    }

    async fn disabling_a_user_ends_its_sessions(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Disable Host").await;
        let (id, password) = user(&app, p.partner_id, "jane@example.com");
        let mut agent = Agent::new(&app);
        assert_eq!(agent.sign_in("jane@example.com", &password).await.status, 303);
        let home = agent.get("/portal/").await;
        let csrf = csrf_of(&home.body).unwrap();
        let t = agent.post("/portal/token", &[("csrf_token", &csrf)]).await;
        assert_eq!(t.status, 200, "{}", t.body);
        assert!(t.body.contains("id=\"token\""), "{}", t.body);
        let d = app.admin(&["user", "disable", &id.to_string()]).unwrap();
        assert_eq!(d["revoked_sessions"], 1, "{d}");
        assert_eq!(d["revoked_tokens"], 1, "{d}");
        let a = agent.get("/portal/").await;
        assert_eq!(a.status, 303, "the very next request");
        // Enabled again: the old session stays revoked; a new sign-in works.
        app.admin(&["user", "enable", &id.to_string()]).unwrap();
        assert_eq!(agent.get("/portal/").await.status, 303);
        assert_eq!(agent.sign_in("jane@example.com", &password).await.status, 303);
        assert_eq!(agent.get("/portal/").await.status, 200);
    }

    async fn cookies_are_secure_behind_an_https_public_url(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default().arg("--public-url").arg("https://portal.example")).await;
        let p = app.partner("Secure Host").await;
        let (_, password) = user(&app, p.partner_id, "jane@example.com");
        let mut agent = Agent::new(&app);
        agent.get("/portal/login").await;
        assert!(agent.set_cookies.iter().all(|c| c.contains("; Secure")), "{:?}", agent.set_cookies);
        let a = agent.sign_in("jane@example.com", &password).await;
        assert_eq!(a.status, 303, "{}", a.body);
        let session = agent.set_cookies.iter().find(|c| c.starts_with("jpstart_session=")).unwrap();
        assert!(session.contains("; Secure") && session.contains("HttpOnly") && session.contains("SameSite=Lax"), "{session}");
    }

    async fn sessions_expire(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default().test_clock().arg("--portal-session-ttl").arg("1h")).await;
        let p = app.partner("Expiry Host").await;
        let (_, password) = user(&app, p.partner_id, "jane@example.com");
        let mut agent = Agent::new(&app);
        assert_eq!(agent.sign_in("jane@example.com", &password).await.status, 303);
        assert_eq!(agent.get("/portal/").await.status, 200);
        app.advance_clock("59m");
        assert_eq!(agent.get("/portal/").await.status, 200);
        app.advance_clock("2m");
        let a = agent.get("/portal/").await;
        assert_eq!(a.status, 303);
    }
}
