//! Issue 3: the authorization page in a real headless Chromium, driven over
//! WebDriver (`webdriver.rs`): open `next_url`, press Approve, and see the
//! site connected through the status endpoint. The form carries its
//! anti-forgery token, and the same form posted from another origin is
//! refused (SPEC §11).

use std::time::Duration;

use crate::authorize::{encode, form_token, pending};
use crate::common::*;
use crate::webdriver::Driver;

const WAIT: Duration = Duration::from_secs(20);

both_backends! {
    async fn owner_approves_in_headless_chromium(db: Db) {
        let Some(driver) = Driver::start().await else { return };
        let app = TestApp::spawn(db).await;
        let p = app.partner("Browser Host").await;
        let site = "browser.example::shop";
        let next_url = pending(&app, &p.token, "https://browser.example/shop/", "premium").await;

        let browser = driver.session().await;
        browser.goto(&next_url).await;
        let title = browser.title().await;
        assert!(title.contains(site), "title {title:?}");
        let pending_list = browser.wait_for("#pending", WAIT).await;
        assert_eq!(browser.text(&pending_list).await, "premium");
        let shown = browser.wait_for("#site", WAIT).await;
        assert_eq!(browser.text(&shown).await, site);

        assert!(browser.try_find("form input[type=hidden][name=form_token]").await.is_some(), "{}", browser.source().await);

        let approve = browser.wait_for("form button#approve", WAIT).await;
        browser.click(&approve).await;
        let result = browser.wait_for("#result", WAIT).await;
        assert_eq!(browser.text(&result).await, format!("{site} is connected to Jetpack."));
        let activated = browser.wait_for("#activated", WAIT).await;
        assert_eq!(browser.text(&activated).await, "premium");

        let (status, st) = app.status(&p.token, site).await;
        assert_eq!(status, 200, "{st}");
        assert_eq!(st["blog"]["is_connected"], true, "{st}");
        assert_eq!(st["products"][0]["slug"], "premium", "{st}");
        assert_eq!(st["products"][0]["is_pending"], false, "{st}");

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
        let (_, st) = app.status(&p.token, other).await;
        assert_eq!(st["blog"]["is_connected"], false, "{st}");
        assert_eq!(st["products"][0]["is_pending"], true, "{st}");
        browser.quit().await;
    }
}
