//! Issue 3: the authorization page over HTTP (`GET`/`POST /authorize/{token}`).
//! The same page in a real browser: `authorize_browser.rs`.

use jpstart_types::wire::{ProvisionResponse, StatusV14};
use reqwest::redirect::Policy;
use reqwest::StatusCode;

use crate::common::*;

/// A client that shows redirects instead of following them.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// Status, headers and text of a page.
pub async fn page(res: reqwest::Response) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let status = res.status();
    let headers = res.headers().clone();
    (status, headers, res.text().await.unwrap())
}

/// The anti-forgery token of the page's form (`None`: the page has no form).
pub async fn form_token(next_url: &str) -> Option<String> {
    let html = no_redirects()
        .get(next_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (_, rest) = html.split_once("name=\"form_token\" value=\"")?;
    rest.split_once('"').map(|(t, _)| t.to_string())
}

/// `POST next_url` as the page's form does (after showing the page, whose
/// form carries the anti-forgery token), with `partner_redirect` in the body.
pub async fn approve(next_url: &str, redirect: Option<&str>) -> reqwest::Response {
    let token = form_token(next_url).await;
    let form: Vec<(&str, &str)> = redirect
        .map(|r| ("partner_redirect", r))
        .into_iter()
        .chain(token.as_deref().map(|t| ("form_token", t)))
        .collect();
    no_redirects()
        .post(next_url)
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Provisions and returns the pending activation's `next_url`, checking its
/// shape: the page, a 64-character token, and a query string (the site's
/// blog id) for `&partner_redirect=` to be appended to.
pub async fn pending(app: &TestApp, token: &str, siteurl: &str, plan: &str) -> String {
    let (status, body) = app
        .provision(
            token,
            &[
                ("siteurl", siteurl),
                ("local_user", "admin"),
                ("plan", plan),
            ],
        )
        .await;
    let res: ProvisionResponse = ok(status, &body);
    assert!(res.auth_required, "{body}");
    let next = res.next_url;
    let rest = next
        .strip_prefix(&format!("{}/authorize/", app.base))
        .unwrap_or_else(|| panic!("{next}"));
    let (token, query) = rest
        .split_once('?')
        .unwrap_or_else(|| panic!("no query string: {next}"));
    assert!(
        token.len() == 64 && token.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{next}"
    );
    let blog_id = query
        .strip_prefix("blog_id=")
        .unwrap_or_else(|| panic!("{next}"));
    assert!(
        !blog_id.is_empty() && blog_id.bytes().all(|b| b.is_ascii_digit()),
        "{next}"
    );
    next
}

/// The link's token alone (without the query string).
pub fn link_token(next_url: &str) -> &str {
    let path = next_url.split_once('?').map_or(next_url, |(p, _)| p);
    path.rsplit('/').next().unwrap()
}

/// The documented recipe (redirect-after-authorization.md): `next_url`
/// followed by `&partner_redirect=` and the URL-encoded target.
pub fn with_redirect(next_url: &str, target: &str) -> String {
    format!("{next_url}&partner_redirect={}", encode(target))
}

/// Asserts a 303 to `location`, with the page's protective headers.
pub fn assert_see_other(res: &reqwest::Response, location: &str) {
    assert_eq!(res.status(), 303, "{res:?}");
    assert_eq!(res.headers()["location"], location);
    assert_eq!(res.headers()["referrer-policy"], "same-origin");
    assert_eq!(res.headers()["cache-control"], "no-store");
}

fn products(status: &StatusV14) -> Vec<(String, bool)> {
    status
        .products
        .iter()
        .map(|p| (p.slug.clone(), p.is_pending))
        .collect()
}

fn assert_html(headers: &reqwest::header::HeaderMap) {
    let ct = headers["content-type"].to_str().unwrap();
    assert!(ct.starts_with("text/html"), "{ct}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-frame-options"], "DENY");
    // Same-origin: no Referer to another origin, and the page's own form
    // still sends its Origin (SPEC §11, the origin check).
    assert_eq!(headers["referrer-policy"], "same-origin");
}

both_backends! {
    async fn approval_connects_the_site_and_activates_its_partners_pending(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Host A").await;
        let b = app.partner("Host B").await;
        let site = "example.org::shop";
        let link_a = pending(&app, &a.token, "https://Example.org/shop/", "premium").await;
        // Premium includes daily backups; realtime is a higher tier, so another partner may add it.
        let link_b = pending(&app, &b.token, "https://example.org/shop", "jetpack-backup-realtime").await;
        assert_ne!(link_a, link_b);
        // The query string names the site by its blog id.
        let blog = app.blog_id(site);
        for link in [&link_a, &link_b] {
            assert!(link.ends_with(&format!("?blog_id={blog}")), "{link}");
        }
        let st = app.status_ok(&a.token, site).await;
        assert!(!st.blog.is_connected, "{st:?}");
        assert_eq!(products(&st), [("premium".into(), true), ("jetpack-backup-realtime".into(), true)]);

        let (status, headers, html) = page(app.client.get(&link_a).send().await.unwrap()).await;
        assert_eq!(status, 200, "{html}");
        assert_html(&headers);
        assert!(html.contains("<dd id=\"site\">example.org::shop</dd>"), "{html}");
        assert!(html.contains("https://Example.org/shop/"), "{html}");
        // A's page offers A's pending activation only (SPEC §11).
        assert!(html.contains("<code>premium</code>") && !html.contains("<code>jetpack-backup-realtime</code>"), "{html}");
        assert!(html.contains("<form method=\"post\">") && html.contains("id=\"approve\""), "{html}");
        // Showing the page changes nothing.
        let st = app.status_ok(&a.token, site).await;
        assert!(!st.blog.is_connected, "{st:?}");

        // Approved without partner_redirect: to the site's wp-admin/, as
        // upstream's SSO redirect (the URL as first registered).
        let res = approve(&link_a, None).await;
        assert_see_other(&res, "https://Example.org/shop/wp-admin/");

        // Connected; B's activation waits for B's own link (SPEC §11).
        let st = app.status_ok(&a.token, site).await;
        assert!(st.blog.is_connected, "{st:?}");
        assert_eq!(products(&st), [("premium".into(), false), ("jetpack-backup-realtime".into(), true)]);
        let res = approve(&link_b, None).await;
        assert_see_other(&res, "https://Example.org/shop/wp-admin/");
        let st = app.status_ok(&a.token, site).await;
        assert_eq!(products(&st), [("premium".into(), false), ("jetpack-backup-realtime".into(), false)]);
        for row in app.activations(&["--site", site]) {
            assert_eq!(row.state, "active", "{row:?}");
            assert!(row.activated_at.is_some(), "{row:?}");
        }

        // Both links are spent, each by its own approval.
        for link in [&link_a, &link_b] {
            let (status, headers, html) = page(app.client.get(link).send().await.unwrap()).await;
            assert_eq!(status, 410, "{html}");
            assert_html(&headers);
            assert!(html.contains("already been used"), "{html}");
            let (status, _, _) = page(approve(link, None).await).await;
            assert_eq!(status, 410);
        }

        // Connected now: provisioning needs no authorization and points at wp-admin.
        let (status, body) = app
            .provision(&a.token, &[("siteurl", "https://example.org/shop"), ("local_user", "admin"), ("plan", "professional")])
            .await;
        let res: ProvisionResponse = ok(status, &body);
        // Built from this call's own siteurl, not the stored one (SPEC §11).
        assert!(!res.auth_required, "{body}");
        assert_eq!(res.next_url, "https://example.org/shop/wp-admin/admin.php?page=jetpack", "{body}");
        let st = app.status_ok(&a.token, site).await;
        assert!(products(&st).contains(&("professional".into(), false)), "{st:?}");
    }

    async fn unknown_links_are_refused_and_change_nothing(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Host A").await;
        let link = pending(&app, &a.token, "https://refused.example", "personal").await;
        let forged = format!("{}/authorize/{}", app.base, "x".repeat(64));
        let malformed = format!("{}/authorize/%3Cscript%3Ealert(1)%3C%2Fscript%3E", app.base);
        let token = link_token(&link);
        let truncated = link.replace(token, &token[..token.len() - 1]);
        for url in [forged.as_str(), malformed.as_str(), truncated.as_str()] {
            let (status, headers, html) = page(app.client.get(url).send().await.unwrap()).await;
            assert_eq!(status, 404, "{url}: {html}");
            assert_html(&headers);
            assert!(html.contains("Unknown link") && !html.contains("<script>"), "{html}");
            let (status, _, html) = page(approve(url, None).await).await;
            assert_eq!(status, 404, "{url}: {html}");
        }
        let st = app.status_ok(&a.token, "refused.example").await;
        assert!(!st.blog.is_connected, "{st:?}");
        assert_eq!(products(&st), [("personal".into(), true)]);
        // The real link still works afterwards.
        assert_see_other(&approve(&link, None).await, "https://refused.example/wp-admin/");
    }

    async fn everything_shown_is_escaped(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Host A").await;
        let evil = "https://xss.example/<b>\"bold\"</b>&'q'";
        let link = pending(&app, &a.token, evil, "premium").await;
        let redirect = "https://panel.example/\"><script>alert(1)</script>";
        let url = with_redirect(&link, redirect);
        let (status, _, html) = page(app.client.get(&url).send().await.unwrap()).await;
        assert_eq!(status, 200, "{html}");
        assert!(!html.contains("<b>") && !html.contains("<script>"), "{html}");
        assert!(html.contains("xss.example::&lt;b&gt;&quot;bold&quot;&lt;::b&gt;&amp;&#39;q&#39;"), "{html}");
        assert!(html.contains("value=\"https://panel.example/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""), "{html}");
        // Not allow-listed: to the site's wp-admin/, its URL percent-encoded.
        let res = approve(&link, Some(redirect)).await;
        assert_see_other(&res, "https://xss.example/%3Cb%3E%22bold%22%3C/b%3E&'q'/wp-admin/");
    }

    async fn partner_redirect_only_to_allow_listed_prefixes(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Host A").await;
        let b = app.partner("Host B").await;
        let pid = |p: &Partner| p.partner_id.to_string();
        app.admin(&["partner", "allow-redirect", "--partner", &pid(&a), "https://panel.a.example/"]).unwrap();
        app.admin(&["partner", "allow-redirect", "--partner", &pid(&b), "https://panel.b.example"]).unwrap();
        let back = "https://panel.a.example/sites/1?done=1&x=%20y";

        // Allowed: 303 to exactly the URL, after the approval happened.
        let link = pending(&app, &a.token, "https://one.example", "premium").await;
        let (status, _, html) = page(app.client.get(with_redirect(&link, back)).send().await.unwrap()).await;
        assert_eq!(status, 200);
        assert!(html.contains("taken back to <code>https://panel.a.example/sites/1?done=1&amp;x=%20y</code>"), "{html}");
        let res = approve(&link, Some(back)).await;
        assert_see_other(&res, back);
        let st = app.status_ok(&a.token, "one.example").await;
        assert!(st.blog.is_connected, "{st:?}");

        // As a query parameter of the POST too: the recipe's URL itself,
        // which is where the page's form (no action) posts (the form's
        // token in the body).
        let link = pending(&app, &a.token, "https://two.example", "premium").await;
        let token = form_token(&link).await.unwrap();
        let res = no_redirects().post(with_redirect(&link, back)).form(&[("form_token", token)]).send().await.unwrap();
        assert_see_other(&res, back);

        // Not allowed: another partner's prefix, a look-alike host, an unlisted
        // URL. The approval stands, the owner goes to the site's wp-admin/.
        for (i, bad) in [
            "https://panel.b.example/x",
            "https://panel.a.example.evil.example/",
            "https://evil.example/https://panel.a.example/",
            "javascript:alert(1)//https://panel.a.example/",
        ]
        .into_iter()
        .enumerate()
        {
            let siteurl = format!("https://bad{i}.example");
            let link = pending(&app, &a.token, &siteurl, "premium").await;
            let (_, _, html) = page(app.client.get(with_redirect(&link, bad)).send().await.unwrap()).await;
            assert!(!html.contains("taken back"), "{bad}: {html}");
            let res = approve(&link, Some(bad)).await;
            assert_see_other(&res, &format!("{siteurl}/wp-admin/"));
            let st = app.status_ok(&a.token, &format!("bad{i}.example")).await;
            assert!(st.blog.is_connected, "{bad}: {st:?}");
        }

        // Partner B's host-only prefix admits its own host, at a boundary only.
        let link = pending(&app, &b.token, "https://three.example", "premium").await;
        let res = approve(&link, Some("https://panel.b.example.evil.example/")).await;
        assert_see_other(&res, "https://three.example/wp-admin/");
        let link = pending(&app, &b.token, "https://four.example", "premium").await;
        let res = approve(&link, Some("https://panel.b.example?site=4")).await;
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"], "https://panel.b.example?site=4");
    }

    async fn link_tokens_stay_out_of_the_log(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default().env("JPSTART_LOG", "debug")).await;
        let a = app.partner("Host A").await;
        let link = pending(&app, &a.token, "https://log.example", "premium").await;
        let token = link_token(&link).to_string();
        page(app.client.get(&link).send().await.unwrap()).await;
        let (status, _, _) = page(approve(&link, None).await).await;
        assert_eq!(status, 303);
        let logs = app.logs();
        assert!(logs.contains("site approved on the authorization page"), "{logs}");
        assert!(!logs.contains(&token), "the link token was logged:\n{logs}");
    }
}

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
