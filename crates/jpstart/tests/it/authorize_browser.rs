//! Issue 3: the authorization page in a real headless Chromium, driven over
//! WebDriver (`webdriver.rs`): open `next_url`, press Approve, and see the
//! site connected through the status endpoint. Issue 13: after approval the
//! browser lands on the site's `wp-admin/`, or on the partner's allow-listed
//! `partner_redirect` appended to `next_url` as upstream documents; both are
//! served by [`Landing`], a tiny HTTP server on loopback. The form carries
//! its anti-forgery token, and the same form posted from another origin is
//! refused (SPEC §11).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

use crate::authorize::{encode, form_token, pending};
use crate::common::*;
use crate::webdriver::Driver;

const WAIT: Duration = Duration::from_secs(20);

/// A loopback HTTP server answering every GET with a page that shows the
/// request target in `#landed`: where the browser was sent.
struct Landing {
    base: String,
}

impl Landing {
    fn start() -> Landing {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let target = line.split(' ').nth(1).unwrap_or("").to_string();
                // The rest of the head, up to the blank line.
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
        Landing { base }
    }
}

both_backends! {
    async fn owner_approves_in_headless_chromium(db: Db) {
        let Some(driver) = Driver::start().await else { return };
        let app = TestApp::spawn(db).await;
        let landing = Landing::start();
        let p = app.partner("Browser Host").await;
        let host = landing.base.trim_start_matches("http://");
        let site = format!("{host}::shop");
        let next_url = pending(&app, &p.token, &format!("{}/shop/", landing.base), "premium").await;

        let browser = driver.session().await;
        browser.goto(&next_url).await;
        let title = browser.title().await;
        assert!(title.contains(&site), "title {title:?}");
        let pending_list = browser.wait_for("#pending", WAIT).await;
        assert_eq!(browser.text(&pending_list).await, "premium");
        let shown = browser.wait_for("#site", WAIT).await;
        assert_eq!(browser.text(&shown).await, site);

        assert!(browser.try_find("form input[type=hidden][name=form_token]").await.is_some(), "{}", browser.source().await);

        let approve = browser.wait_for("form button#approve", WAIT).await;
        browser.click(&approve).await;
        // No partner_redirect: to the site's wp-admin/, as upstream.
        let landed = browser.wait_for("#landed", WAIT).await;
        assert_eq!(browser.text(&landed).await, "/shop/wp-admin/");
        assert_eq!(browser.current_url().await, format!("{}/shop/wp-admin/", landing.base));

        let st = app.status_ok(&p.token, &site).await;
        assert!(st.blog.is_connected, "{st:?}");
        assert_eq!(st.products[0].slug, "premium", "{st:?}");
        assert!(!st.products[0].is_pending, "{st:?}");

        // Back to the link: it is spent.
        browser.goto(&next_url).await;
        let refusal = browser.wait_for("#refusal", WAIT).await;
        assert!(browser.text(&refusal).await.contains("approved"), "{}", browser.source().await);
        assert!(browser.title().await.contains("already been used"));

        // The same form on a page of another origin (a data: URL, an opaque
        // origin), even with the link's real token: refused, nothing changes.
        let other = "forged.example";
        let link = pending(&app, &p.token, "https://forged.example", "premium").await;
        let token = form_token(&link).await.unwrap();
        let forged = format!(
            "<form method=\"post\" action=\"{link}\"><input type=\"hidden\" name=\"form_token\" value=\"{token}\"><button id=\"go\">Go</button></form>"
        );
        browser.goto(&format!("data:text/html,{}", encode(&forged))).await;
        let go = browser.wait_for("#go", WAIT).await;
        browser.click(&go).await;
        let refusal = browser.wait_for("#refusal", WAIT).await;
        assert!(browser.text(&refusal).await.contains("Nothing was changed"), "{}", browser.source().await);
        assert!(browser.title().await.contains("not sent from its page"));
        let st = app.status_ok(&p.token, other).await;
        assert!(!st.blog.is_connected, "{st:?}");
        assert!(st.products[0].is_pending, "{st:?}");
        browser.quit().await;
    }

    /// redirect-after-authorization.md's recipe, in a browser: `next_url`
    /// with `&partner_redirect=` and the URL-encoded target appended, the
    /// target under the partner's allow-listed prefix.
    async fn partner_redirect_appended_to_next_url_lands_in_chromium(db: Db) {
        let Some(driver) = Driver::start().await else { return };
        let app = TestApp::spawn(db).await;
        let landing = Landing::start();
        let p = app.partner("Browser Host").await;
        let prefix = format!("{}/panel/", landing.base);
        app.admin(&["partner", "allow-redirect", "--partner", &p.partner_id.to_string(), &prefix]).unwrap();
        let next_url = pending(&app, &p.token, "https://redirected.example", "premium").await;
        let target = format!("{prefix}done?site=redirected.example&step=2");
        let recipe = format!("{next_url}&partner_redirect={}", encode(&target));

        let browser = driver.session().await;
        browser.goto(&recipe).await;
        let approve = browser.wait_for("form button#approve", WAIT).await;
        browser.click(&approve).await;
        let landed = browser.wait_for("#landed", WAIT).await;
        assert_eq!(browser.text(&landed).await, "/panel/done?site=redirected.example&step=2");
        assert_eq!(browser.current_url().await, target);
        let (_, st) = app.status(&p.token, "redirected.example").await;
        assert_eq!(st["blog"]["is_connected"], true, "{st}");
        assert_eq!(st["products"][0]["is_pending"], false, "{st}");
        browser.quit().await;
    }
}
