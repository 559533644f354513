//! Issue 14: the portal's data pages in a real headless Chromium over
//! WebDriver (`webdriver.rs`), on both backends: sign in, the overview's
//! chart (one SVG bar per period of the summary, the scale switched by
//! its links), the activations table filtered and paged by its form, its
//! CSV link fetched with the browser's session cookie, a sub-key created
//! and its secret seen once, a secret rotated (the old one refused at
//! `/oauth2/token`, the new one accepted), a key disabled and enabled,
//! another partner's key and site refused, sign out.
//!
//! `portal_screenshots` (ignored) regenerates docs/portal-overview.png and
//! docs/portal-activations.png from a database filled by
//! `jpstart admin seed-demo`:
//! `cargo test -p jpstart --test it -- --ignored portal_screenshots`.

use std::time::Duration;

use jpstart_types::reporting::SummaryPeriod;

use crate::common::*;
use crate::portal_auth::user;
use crate::reporting::{activate, get};
use crate::webdriver::{Driver, Session};

const WAIT: Duration = Duration::from_secs(20);

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

/// Signs in on the form and waits for the overview.
async fn sign_in(browser: &Session<'_>, app: &TestApp, email: &str, password: &str) {
    browser.goto(&app.url("/portal/login")).await;
    fill(browser, "#email", email).await;
    fill(browser, "#password", password).await;
    press(browser, "#sign-in").await;
    browser.wait_for("#overview", WAIT).await;
}

/// How many periods the summary endpoint answers for the key.
async fn periods(app: &TestApp, p: &Partner, scale: &str) -> usize {
    let path = format!(
        "/wpcom/v2/jetpack-partners/activations?key_id={}&scale={scale}",
        p.key_id
    );
    let (status, body) = get(app, &p.token, &path).await;
    assert_eq!(status, 200, "{body}");
    decode::<Vec<SummaryPeriod>>(&body).len()
}

fn bars(html: &str) -> usize {
    html.matches("class=\"bar\"").count()
}

fn rows(html: &str) -> usize {
    html.matches("class=\"activation\"").count()
}

/// The session cookie the browser holds, as a `Cookie` header.
async fn session_cookie(browser: &Session<'_>) -> String {
    let cookies = browser.cookies().await;
    let c = cookies
        .iter()
        .find(|c| c["name"] == "jpstart_session")
        .expect("session cookie");
    format!("jpstart_session={}", c["value"].as_str().unwrap())
}

/// Some history over three months: the chart has several bars.
async fn history(app: &TestApp, p: &Partner) {
    for i in 0..3 {
        activate(app, &p.token, &format!("first{i}.example"), "premium").await;
    }
    app.advance_clock("35d");
    activate(app, &p.token, "second0.example", "jetpack-scan").await;
    activate(app, &p.token, "second1.example", "premium").await;
    app.advance_clock("35d");
    activate(app, &p.token, "third0.example", "premium").await;
    app.cancel_ok(&p.token, "first0.example", &[]).await;
}

both_backends! {
    async fn data_pages_in_headless_chromium(db: Db) {
        let Some(driver) = Driver::start().await else { return };
        let opts = Opts::default().test_clock();
        let app = TestApp::spawn_with(db, opts).await;
        let p = app.partner("Browser Data").await;
        let (_, password) = user(&app, p.partner_id, "data@example.com");
        history(&app, &p).await;
        let other = app.partner("Someone Else").await;
        activate(&app, &other.token, "elsewhere.example", "premium").await;
        let browser = driver.session().await;
        sign_in(&browser, &app, "data@example.com", &password).await;

        // The overview: one bar per month of the summary, an accessible chart.
        browser.wait_for("svg#chart", WAIT).await;
        let months = periods(&app, &p, "month").await;
        assert!(months >= 3, "{months}");
        let html = browser.source().await;
        assert_eq!(bars(&html), months, "{html}");
        assert!(html.contains("<title id=\"chart-title\">Activations per month"));
        assert!(browser.try_find("svg#chart desc#chart-desc").await.is_some());
        assert!(browser.try_find("details#numbers table#summary").await.is_some());
        press(&browser, "a#scale-day").await;
        browser.wait_for("strong#scale-day", WAIT).await;
        assert!(browser.current_url().await.contains("scale=day"));
        assert_eq!(bars(&browser.source().await), periods(&app, &p, "day").await);
        press(&browser, "a#scale-year").await;
        browser.wait_for("strong#scale-year", WAIT).await;
        assert_eq!(bars(&browser.source().await), periods(&app, &p, "year").await);

        // Activations: filtered by the form, then paged.
        press(&browser, "nav.top a[href='/portal/activations']").await;
        browser.wait_for("form#filters", WAIT).await;
        assert_eq!(text_of(&browser, "#total").await, "6");
        press(&browser, "#state-cancelled").await;
        press(&browser, "#apply").await;
        browser.wait_for("#state-cancelled[checked]", WAIT).await;
        assert!(browser.current_url().await.contains("state=cancelled"));
        assert_eq!(text_of(&browser, "#total").await, "1");
        assert!(browser.source().await.contains("first0.example"));
        browser.goto(&app.url("/portal/activations")).await;
        fill(&browser, "#per_page", "4").await;
        press(&browser, "#plan-premium").await;
        press(&browser, "#apply").await;
        browser.wait_for("#plan-premium[checked]", WAIT).await;
        assert_eq!(text_of(&browser, "#total").await, "5");
        assert_eq!(rows(&browser.source().await), 4);
        press(&browser, "#next").await;
        browser.wait_for("#prev", WAIT).await;
        assert_eq!(text_of(&browser, "#page").await, "2");
        assert_eq!(rows(&browser.source().await), 1);

        // The CSV link, fetched over HTTP with the browser's session.
        let link = browser.wait_for("#csv", WAIT).await;
        let href = browser.attribute(&link, "href").await.expect("href");
        assert!(href.starts_with("/portal/activations.csv?") && href.contains("plans=premium"), "{href}");
        let res = app.client.get(app.url(&href)).header("cookie", session_cookie(&browser).await).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        let body = res.text().await.unwrap();
        assert_eq!(body.lines().count(), 1 + 5, "{body}");
        assert!(body.lines().skip(1).all(|l| l.contains(",premium,")), "{body}");

        // A site's page from the table.
        press(&browser, "a[href^='/portal/sites/']").await;
        browser.wait_for("table#events", WAIT).await;
        assert_eq!(text_of(&browser, "#connected").await, "yes");

        // Keys: a sub-key, its secret once.
        browser.goto(&app.url("/portal/keys")).await;
        fill(&browser, "#name", "Browser reseller").await;
        fill(&browser, "#allowed_premium_plans", "2").await;
        press(&browser, "#create-key").await;
        let client_id = text_of(&browser, "#client-id").await;
        let secret = text_of(&browser, "#client-secret").await;
        assert_eq!(secret.len(), 64, "{}", browser.source().await);
        assert_eq!(app.token_request(&client_id, &secret).await.status(), 200);
        browser.goto(&app.url("/portal/keys")).await;
        browser.wait_for(&format!("tr#key-{client_id}"), WAIT).await;
        assert!(!browser.source().await.contains(&secret), "shown once");
        assert!(browser.try_find("#client-secret").await.is_none());

        // Rotate the partner's key: the old secret refused, the new one good.
        press(&browser, &format!("#rotate-{}", p.key_id)).await;
        let rotated = text_of(&browser, "#client-secret").await;
        assert_eq!(rotated.len(), 64);
        let (status, body) = json(app.token_request(&p.client_id, &p.client_secret).await).await;
        assert_eq!((status.as_u16(), body["error"].as_str()), (400, Some("invalid_client")), "{body}");
        assert_eq!(app.token_request(&p.client_id, &rotated).await.status(), 200);
        browser.goto(&app.url("/portal/keys")).await;
        browser.wait_for("table#keys", WAIT).await;
        assert!(!browser.source().await.contains(&rotated), "shown once");

        // Disable and enable the sub-key (POST, then back to the list).
        press(&browser, &format!("#disable-{client_id}")).await;
        browser.wait_for(&format!("#enable-{client_id}"), WAIT).await;
        assert_eq!(browser.current_url().await, app.url("/portal/keys"));
        assert_eq!(text_of(&browser, &format!("tr#key-{client_id} td.status")).await, "disabled");
        press(&browser, &format!("#enable-{client_id}")).await;
        browser.wait_for(&format!("#disable-{client_id}"), WAIT).await;

        // Another partner's key and site, by editing the URL: refused.
        browser.goto(&app.url(&format!("/portal/activations?key={}", other.key_id))).await;
        assert!(text_of(&browser, "#refusal").await.contains("not within"), "{}", browser.source().await);
        assert!(!browser.source().await.contains("elsewhere.example"));
        let blog = app.blog_id("elsewhere.example");
        browser.goto(&app.url(&format!("/portal/sites/{blog}"))).await;
        browser.wait_for("#refusal", WAIT).await;
        assert!(browser.title().await.contains("No such site"));
        assert!(!browser.source().await.contains("elsewhere.example"));

        // Sign out: the pages send to the sign-in form again.
        browser.goto(&app.url("/portal/")).await;
        press(&browser, "#logout").await;
        browser.wait_for("form#login", WAIT).await;
        browser.goto(&app.url("/portal/keys")).await;
        browser.wait_for("form#login", WAIT).await;
        browser.quit().await;
    }
}

/// Regenerates docs/portal-overview.png and docs/portal-activations.png
/// against a database filled by `jpstart admin seed-demo`.
#[tokio::test]
#[ignore = "writes docs/*.png; run on purpose"]
async fn portal_screenshots() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let app = TestApp::spawn(Db::sqlite()).await;
    let seeded = app
        .admin(&["seed-demo", "--activations", "3000"])
        .expect("seed-demo");
    // seed-demo makes a user of its first partner, its password shown once.
    let email = seeded["partner_user"]["email"]
        .as_str()
        .expect("email")
        .to_string();
    let password = seeded["partner_user"]["password"]
        .as_str()
        .expect("password")
        .to_string();
    let browser = driver.session().await;
    browser.set_window_size(1280, 1000).await;
    sign_in(&browser, &app, &email, &password).await;
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    browser.wait_for("svg#chart", WAIT).await;
    std::fs::write(docs.join("portal-overview.png"), browser.screenshot().await).expect("write");
    browser
        .goto(&app.url("/portal/activations?per_page=15"))
        .await;
    browser.wait_for("table#activations", WAIT).await;
    std::fs::write(
        docs.join("portal-activations.png"),
        browser.screenshot().await,
    )
    .expect("write");
    browser.quit().await;
}
