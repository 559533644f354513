//! Issue 14: the portal in a real headless Chromium over WebDriver
//! (`webdriver.rs`): sign in on the form, the session cookie's flags as
//! the browser holds them, sign out; register an OAuth app and see its
//! secret once; the OAuth approve page, landing on the app's redirect URI
//! with a code that buys a working token.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

use crate::common::*;
use crate::portal_auth::user;
use crate::webdriver::{Driver, Session};

const WAIT: Duration = Duration::from_secs(20);

/// A loopback server answering every GET with `#landed` showing the
/// request target: the OAuth app's redirect URI.
fn landing() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let target = line.split(' ').nth(1).unwrap_or("").to_string();
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 0) && header.trim() != "" {
                header.clear();
            }
            let body = format!(
                "<!doctype html><title>landed</title><p id=\"landed\">{}</p>",
                target.replace('&', "&amp;").replace('<', "&lt;")
            );
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    base
}

async fn fill(browser: &Session<'_>, css: &str, text: &str) {
    let el = browser.wait_for(css, WAIT).await;
    browser.type_text(&el, text).await;
}

async fn press(browser: &Session<'_>, css: &str) {
    let el = browser.wait_for(css, WAIT).await;
    browser.click(&el).await;
}

async fn text_of(browser: &Session<'_>, css: &str) -> String {
    let el = browser.wait_for(css, WAIT).await;
    browser.text(&el).await
}

both_backends! {
    async fn sign_in_and_out_in_headless_chromium(db: Db) {
        let Some(driver) = Driver::start().await else { return };
        let app = TestApp::spawn(db).await;
        let p = app.partner("Browser Portal").await;
        let (_, password) = user(&app, p.partner_id, "jane@example.com");
        let browser = driver.session().await;

        // A page of the portal sends the browser to sign in first.
        browser.goto(&app.url("/portal/apps")).await;
        browser.wait_for("form#login", WAIT).await;
        assert!(browser.current_url().await.contains("/portal/login?next="));
        assert!(browser.try_find("form#login input[type=hidden][name=csrf_token]").await.is_some());

        fill(&browser, "#email", "jane@example.com").await;
        fill(&browser, "#password", "not the password").await;
        press(&browser, "#sign-in").await;
        assert!(text_of(&browser, "#error").await.contains("Wrong e-mail address or password"));

        fill(&browser, "#email", "jane@example.com").await;
        fill(&browser, "#password", &password).await;
        press(&browser, "#sign-in").await;
        // Back where it was going.
        browser.wait_for("form#new-app", WAIT).await;
        assert_eq!(browser.current_url().await, app.url("/portal/apps"));
        assert_eq!(text_of(&browser, "#who").await, "jane@example.com");

        let cookies = browser.cookies().await;
        let session = cookies.iter().find(|c| c["name"] == "jpstart_session").expect("session cookie");
        assert_eq!(session["httpOnly"], true, "{session}");
        assert_eq!(session["sameSite"], "Lax", "{session}");
        assert_eq!(session["secure"], false, "plain http: {session}");

        // Register an app: its secret shown once.
        fill(&browser, "#name", "Reports").await;
        fill(&browser, "#redirect_uri", "http://127.0.0.1:3210").await;
        press(&browser, "#register").await;
        let secret = text_of(&browser, "#client-secret").await;
        assert_eq!(secret.len(), 64, "{}", browser.source().await);
        browser.goto(&app.url("/portal/apps")).await;
        browser.wait_for("table#apps", WAIT).await;
        assert!(!browser.source().await.contains(&secret));

        press(&browser, "#logout").await;
        browser.wait_for("form#login", WAIT).await;
        assert!(browser.cookies().await.iter().all(|c| c["name"] != "jpstart_session"));
        browser.goto(&app.url("/portal/")).await;
        browser.wait_for("form#login", WAIT).await;
        browser.quit().await;
    }

    async fn oauth_approve_page_in_headless_chromium(db: Db) {
        let Some(driver) = Driver::start().await else { return };
        let app = TestApp::spawn(db).await;
        let landing = landing();
        let p = app.partner("Browser OAuth").await;
        let (_, password) = user(&app, p.partner_id, "jane@example.com");
        let browser = driver.session().await;
        browser.goto(&app.url("/portal/login")).await;
        fill(&browser, "#email", "jane@example.com").await;
        fill(&browser, "#password", &password).await;
        press(&browser, "#sign-in").await;
        browser.wait_for("#api-token", WAIT).await;
        browser.goto(&app.url("/portal/apps")).await;
        fill(&browser, "#name", "Landing app").await;
        fill(&browser, "#redirect_uri", &format!("{landing}/back")).await;
        press(&browser, "#register").await;
        let client_id = text_of(&browser, "#client-id").await;
        let secret = text_of(&browser, "#client-secret").await;

        browser
            .goto(&app.url(&format!("/oauth2/authorize?client_id={client_id}&response_type=code&state=st8&scope=global")))
            .await;
        assert_eq!(text_of(&browser, "#app-name").await, "Landing app");
        assert_eq!(text_of(&browser, "#redirect-uri").await, format!("{landing}/back"));
        press(&browser, "#approve").await;
        let landed = text_of(&browser, "#landed").await;
        assert!(landed.starts_with("/back?code=") && landed.ends_with("&state=st8"), "{landed}");
        let code = landed.trim_start_matches("/back?code=").trim_end_matches("&state=st8").to_string();

        let res = app
            .client
            .post(app.url("/oauth2/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", client_id.as_str()),
                ("client_secret", secret.as_str()),
                ("code", code.as_str()),
                ("redirect_uri", &format!("{landing}/back")),
            ])
            .send()
            .await
            .unwrap();
        let (status, body) = json(res).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["scope"], "global");

        // Denying lands with access_denied.
        browser
            .goto(&app.url(&format!("/oauth2/authorize?client_id={client_id}&response_type=code")))
            .await;
        press(&browser, "#deny").await;
        assert_eq!(text_of(&browser, "#landed").await, "/back?error=access_denied");
        browser.quit().await;
    }
}
