//! Issue 3: the authorization page in a real headless Chromium, driven over
//! WebDriver (`webdriver.rs`): open `next_url`, press Approve, and see the
//! site connected through the status endpoint.

use std::time::Duration;

use crate::authorize::pending;
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

        let approve = browser.wait_for("form button#approve", WAIT).await;
        browser.click(&approve).await;
        let result = browser.wait_for("#result", WAIT).await;
        assert_eq!(browser.text(&result).await, format!("{site} is connected to Jetpack."));
        let activated = browser.wait_for("#activated", WAIT).await;
        assert_eq!(browser.text(&activated).await, "premium");

        let st = app.status_ok(&p.token, site).await;
        assert!(st.blog.is_connected, "{st:?}");
        assert_eq!(st.products[0].slug, "premium", "{st:?}");
        assert!(!st.products[0].is_pending, "{st:?}");

        // Back to the link: it is spent.
        browser.goto(&next_url).await;
        let refusal = browser.wait_for("#refusal", WAIT).await;
        assert!(browser.text(&refusal).await.contains("approved"), "{}", browser.source().await);
        assert!(browser.title().await.contains("already been used"));
        browser.quit().await;
    }
}
