//! Issue 12, finding 2 (SPEC §11): `next_url` poisoning. Site URLs are
//! `http`/`https` only, a stored URL keeps no query or fragment, and
//! `next_url` is built from the caller's own `siteurl`, never from the URL
//! another partner registered.

use crate::authorize::{approve, page};
use crate::common::*;
use crate::rawdb;

/// The attack of the issue, as partner B sent it.
const POISON: &str = "javascript://victim.example?%0aalert(document.domain)//x";

fn fields<'a>(siteurl: &'a str, plan: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![("siteurl", siteurl), ("local_user", "admin")];
    if !plan.is_empty() {
        f.push(("plan", plan));
    }
    f
}

/// `POST /rest/v1.3/jpphp/{blog_id}/partner-provision` (JSON body).
async fn partner_provision(
    app: &TestApp,
    token: &str,
    blog_id: u64,
    plan: &str,
) -> (reqwest::StatusCode, serde_json::Value) {
    let path = format!("/rest/v1.3/jpphp/{blog_id}/partner-provision");
    json(
        app.post(&path, token)
            .json(&serde_json::json!({ "plan": plan }))
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn stored_url(app: &TestApp, site: &str) -> String {
    app.admin(&["site", "show", site]).unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string()
}

both_backends! {
    async fn another_partners_poisoned_url_never_reaches_the_caller(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Host A").await;
        let b = app.partner("Host B").await;
        // B tries to register the victim's site under a script URL and
        // approve its own link, so that A's panel would render the script.
        let (status, body) = app.provision(&b.token, &fields(POISON, "")).await;
        assert_error(status, &body, 400, "invalid_siteurl");
        if let Some(next) = body["next_url"].as_str() {
            approve(next, None).await;
        }
        // A provisions the real site: its next_url starts with A's own URL.
        let (status, body) = app.provision(&a.token, &fields("https://victim.example", "premium")).await;
        assert_eq!(status, 200, "{body}");
        app.admin(&["site", "connect", "victim.example"]).unwrap();
        let (status, body) = app.provision(&a.token, &fields("https://victim.example", "jetpack-backup-realtime")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["next_url"], "https://victim.example/wp-admin/admin.php?page=jetpack", "{body}");
        assert_eq!(stored_url(&app, "victim.example"), "https://victim.example");
    }

    async fn only_http_and_https_site_urls_are_accepted(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Host A").await;
        for bad in [
            POISON,
            "javascript:victim.example",
            "JavaScript://victim.example/x",
            "data://victim.example/x",
            "ftp://victim.example",
            "file://victim.example/etc/passwd",
            "vbscript://victim.example",
        ] {
            let (status, body) = app.provision(&p.token, &fields(bad, "premium")).await;
            assert_error(status, &body, 400, "invalid_siteurl");
        }
        let acts = app.admin(&["activations"]).unwrap();
        assert_eq!(acts.as_array().unwrap().len(), 0, "nothing was provisioned: {acts}");
        // Positive control: both schemes, any case, and a URL without one.
        for (good, site) in [
            ("https://a.example", "a.example"),
            ("HTTP://b.example/blog/", "b.example::blog"),
            ("c.example/shop", "c.example::shop"),
            ("https://d.example:8443/wp", "d.example:8443::wp"),
        ] {
            let (status, body) = app.provision(&p.token, &fields(good, "premium")).await;
            assert_eq!(status, 200, "{good}: {body}");
            app.blog_id(site);
        }
    }

    async fn next_url_comes_from_the_callers_siteurl_and_keeps_no_query(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Host A").await;
        let b = app.partner("Host B").await;
        // B registers first, with a query and a fragment (tracking, or worse).
        let (status, body) = app.provision(&b.token, &fields("http://Shop.Example/store/?utm=x&q=%22#frag", "jetpack-scan")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(stored_url(&app, "shop.example::store"), "http://Shop.Example/store/", "no query or fragment is stored");
        app.admin(&["site", "connect", "shop.example::store"]).unwrap();
        // A's next_url is built from A's own siteurl.
        let (status, body) = app.provision(&a.token, &fields("https://shop.example/store", "premium")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["next_url"], "https://shop.example/store/wp-admin/admin.php?page=jetpack", "{body}");
        // And A's query never reaches the link either.
        let (status, body) = app.provision(&a.token, &fields("https://shop.example/store/?x=1#y", "premium")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["next_url"], "https://shop.example/store/wp-admin/admin.php?page=jetpack", "{body}");
        // Positive control: B's own call points at B's URL.
        let (status, body) = app.provision(&b.token, &fields("http://shop.example/store", "jetpack-scan")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["next_url"], "http://shop.example/store/wp-admin/admin.php?page=jetpack", "{body}");
    }

    async fn a_poisoned_stored_url_is_neither_linked_nor_kept_by_force_register(db: Db) {
        let app = TestApp::spawn(db.share()).await;
        let a = app.partner("Host A").await;
        let (status, body) = app.provision(&a.token, &fields("https://legacy.example/wp", "premium")).await;
        assert_eq!(status, 200, "{body}");
        app.admin(&["site", "connect", "legacy.example::wp"]).unwrap();
        let blog_id = app.blog_id("legacy.example::wp");
        // A URL stored before URLs were checked (an older release).
        let mut conn = rawdb::connect(&db).await;
        sqlx::query("UPDATE sites SET url = $1 WHERE blog_id = $2")
            .bind("javascript://legacy.example/wp?%0aalert(1)//x")
            .bind(blog_id as i64)
            .execute(&mut conn)
            .await
            .unwrap();
        // By blog id (no siteurl): the link is built from the checked parts only.
        let (status, body) = partner_provision(&app, &a.token, blog_id, "premium").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["next_url"], "https://legacy.example/wp/wp-admin/admin.php?page=jetpack", "{body}");
        // force_register gives the site a fresh registration, and the URL given.
        let mut f = fields("https://legacy.example/wp", "premium");
        f.push(("force_register", "1"));
        let (status, body) = app.provision(&a.token, &f).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(stored_url(&app, "legacy.example::wp"), "https://legacy.example/wp");
        assert!(!body.to_string().contains("javascript"), "{body}");
        let (status, _, html) = page(app.client.get(body["next_url"].as_str().unwrap()).send().await.unwrap()).await;
        assert_eq!(status, 200, "{html}");
        assert!(!html.contains("javascript"), "{html}");
    }
}
