//! Issue 14, SPEC §8: the portal's data pages over plain HTTP on both
//! backends — the activations table's filters, paging and CSV (with its
//! formula guard), invoices and their CSV, the keys page's forms (a
//! sub-key's secret once, rotation, disable/enable), the site page, and
//! the refusals: every form without its anti-forgery token or with
//! another session's is a 403 that changes nothing, and a user of one
//! partner reaches no key or site of another by editing a URL. The same
//! pages in Chromium: `portal_pages_browser.rs`.

use reqwest::StatusCode;

use crate::common::*;
use crate::portal_auth::{csrf_of, user, Agent};
use crate::reporting::{activate, provision, sub_key};

/// A partner with a signed-in user.
pub struct Signed<'a> {
    pub partner: Partner,
    pub agent: Agent<'a>,
    pub password: String,
}

pub async fn signed_in<'a>(app: &'a TestApp, name: &str, email: &str) -> Signed<'a> {
    let partner = app.partner(name).await;
    let (_, password) = user(app, partner.partner_id, email);
    let mut agent = Agent::new(app);
    let answer = agent.sign_in(email, &password).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    Signed {
        partner,
        agent,
        password,
    }
}

/// The text of the element with `id` (up to its closing tag).
pub fn by_id(html: &str, id: &str) -> Option<String> {
    let (_, rest) = html.split_once(&format!("id=\"{id}\""))?;
    let (_, rest) = rest.split_once('>')?;
    rest.split_once('<').map(|(t, _)| t.to_string())
}

/// The `href` of the link with `id`, unescaped.
pub fn href_of(html: &str, id: &str) -> Option<String> {
    let (before, _) = html.split_once(&format!("id=\"{id}\""))?;
    let (_, tail) = before.rsplit_once("href=\"")?;
    tail.split_once('"').map(|(h, _)| h.replace("&amp;", "&"))
}

async fn token_status(app: &TestApp, client_id: &str, secret: &str) -> StatusCode {
    app.token_request(client_id, secret).await.status()
}

/// `partner-keys/verify` with a token: 200 while the token works.
async fn verify(app: &TestApp, token: &str) -> StatusCode {
    app.post("/rest/v1.3/jpphp/partner-keys/verify", token)
        .send()
        .await
        .unwrap()
        .status()
}

both_backends! {
    async fn activations_filter_page_and_export(db: Db) {
        let app = TestApp::spawn(db).await;
        let mut s = signed_in(&app, "Table Host", "table@example.com").await;
        let p = s.partner.clone();
        for i in 0..4 {
            activate(&app, &p.token, &format!("table{i}.example"), "premium").await;
        }
        // A customer name a spreadsheet would run: exported as text.
        app.provision_ok(&p.token, &[
            ("siteurl", "https://formula.example"),
            ("local_user", "=HYPERLINK(\"http://evil.example\")"),
            ("plan", "jetpack-scan"),
        ]).await;
        app.cancel_ok(&p.token, "table0.example", &[]).await;

        let page = s.agent.get("/portal/activations").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(by_id(&page.body, "total").as_deref(), Some("5"));
        assert_eq!(page.body.matches("class=\"activation\"").count(), 5);

        let page = s.agent.get("/portal/activations?state=cancelled").await;
        assert_eq!(by_id(&page.body, "total").as_deref(), Some("1"), "{}", page.body);
        assert!(page.body.contains("table0.example"));
        let page = s.agent.get("/portal/activations?plans=jetpack-scan&state=pending").await;
        assert_eq!(by_id(&page.body, "total").as_deref(), Some("1"));
        assert!(page.body.contains("formula.example"));
        // A never activated one matches no date filter.
        let page = s.agent.get("/portal/activations?activated_after=2000-01-01").await;
        assert_eq!(by_id(&page.body, "total").as_deref(), Some("4"));
        let page = s.agent.get("/portal/activations?activated_before=2000-01-01").await;
        assert_eq!(by_id(&page.body, "total").as_deref(), Some("0"));
        assert!(page.body.contains("id=\"no-rows\""));

        // Paging: 2 a page, newest first, the filters kept in the links.
        let page = s.agent.get(&format!("/portal/activations?key={}&per_page=2", p.key_id)).await;
        assert_eq!(by_id(&page.body, "pages").as_deref(), Some("3"));
        assert_eq!(page.body.matches("class=\"activation\"").count(), 2);
        assert!(page.body.contains("formula.example"), "newest first");
        assert!(!page.body.contains("id=\"prev\""));
        let next = href_of(&page.body, "next").unwrap();
        assert!(next.contains(&format!("key={}", p.key_id)) && next.contains("page=2"), "{next}");
        let page = s.agent.get(&next).await;
        let next = href_of(&page.body, "next").unwrap();
        let last = s.agent.get(&next).await;
        assert_eq!(last.body.matches("class=\"activation\"").count(), 1);
        assert!(last.body.contains("table0.example"), "oldest last");
        assert!(!last.body.contains("id=\"next\"") && last.body.contains("id=\"prev\""));
        // Beyond the end: empty; a bad parameter: a 400 page naming it.
        let past = s.agent.get("/portal/activations?page=9").await;
        assert_eq!(past.status, 200);
        assert!(past.body.contains("id=\"no-rows\""));
        for bad in ["page=0", "per_page=101", "state=gone", "plans=gold", "activated_after=soon", "key=x"] {
            let res = s.agent.get(&format!("/portal/activations?{bad}")).await;
            assert_eq!(res.status, 400, "{bad}: {}", res.body);
        }

        // The CSV: the page's link with the same filters, every page.
        let page = s.agent.get("/portal/activations?state=active&per_page=1").await;
        let link = href_of(&page.body, "csv").unwrap();
        assert!(link.starts_with("/portal/activations.csv?") && link.contains("state=active"), "{link}");
        let csv = s.agent.get(&link).await;
        assert_eq!(csv.status, 200);
        let rows: Vec<&str> = csv.body.lines().collect();
        assert!(rows[0].starts_with("id,jetpack_partner_key_id,wpcom_blog_id,site_url"), "{}", rows[0]);
        assert_eq!(rows.len(), 1 + 3, "{}", csv.body);
        assert!(rows[1..].iter().all(|r| r.contains(",active,")), "{}", csv.body);
        let all = s.agent.get("/portal/activations.csv").await;
        assert_eq!(all.body.lines().count(), 1 + 5);
        let formula = all.body.lines().find(|l| l.contains("formula.example")).unwrap();
        assert!(formula.contains(",\"'=HYPERLINK(\"\"http://evil.example\"\")\","), "{formula}");
        let res = app.client.get(app.url("/portal/activations.csv")).send().await.unwrap();
        assert_eq!(res.url().path(), "/portal/login", "no session: sign in first");
    }

    async fn content_type_of_the_exports(db: Db) {
        let app = TestApp::spawn(db).await;
        let s = signed_in(&app, "Type Host", "type@example.com").await;
        activate(&app, &s.partner.token, "typed.example", "premium").await;
        let cookie = format!("jpstart_session={}", s.agent.cookies["jpstart_session"]);
        for path in ["/portal/activations.csv", "/portal/invoices.csv"] {
            let res = app.client.get(app.url(path)).header("cookie", &cookie).send().await.unwrap();
            assert_eq!(res.status(), 200, "{path}");
            let ct = res.headers()["content-type"].to_str().unwrap().to_string();
            assert!(ct.starts_with("text/csv"), "{path}: {ct}");
            assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
        }
    }

    async fn invoices_page_and_export(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default().test_clock()).await;
        let mut s = signed_in(&app, "Billing Host", "billing@example.com").await;
        let p = s.partner.clone();
        let test_key = app.key(p.partner_id, &["--test"]).await;
        activate(&app, &p.token, "billed1.example", "premium").await;
        activate(&app, &p.token, "billed2.example", "premium").await;
        activate(&app, &test_key.token, "free-ride.example", "premium").await;
        app.advance_clock("40d");
        // Sessions expire on the same clock: sign in again.
        assert_eq!(s.agent.sign_in("billing@example.com", &s.password).await.status, 303);
        let page = s.agent.get("/portal/invoices").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains(&format!("id=\"key-{}\"", p.key_id)));
        assert!(page.body.contains(&format!("id=\"key-{}\"", test_key.key_id)));
        assert!(page.body.contains("class=\"invoice upcoming\"") && page.body.contains("class=\"invoice closed\""));
        let one = s.agent.get(&format!("/portal/invoices?key={}", test_key.key_id)).await;
        assert!(!one.body.contains(&format!("id=\"key-{}\"", p.key_id)));

        let csv = s.agent.get(&href_of(&page.body, "csv").unwrap()).await;
        let rows: Vec<&str> = csv.body.lines().collect();
        assert_eq!(rows[0], "key_id,invoice_id,status,period_start,period_end,currency,product_slug,product_id,quantity,unit_amount,amount,invoice_total");
        let key = format!("{},", p.key_id);
        let mine: Vec<&&str> = rows.iter().filter(|r| r.starts_with(&key) && r.contains(",premium,")).collect();
        assert!(mine.len() >= 2, "{}", csv.body);
        assert!(mine.iter().all(|r| r.contains(",2,")), "quantity 2: {}", csv.body);
        let test = format!("{},", test_key.key_id);
        for r in rows.iter().filter(|r| r.starts_with(&test)) {
            assert!(r.ends_with(",0,0,0") || r.ends_with(",0,0"), "a test key pays 0: {r}");
        }
    }

    async fn keys_page_sub_key_rotation_and_disable(db: Db) {
        let app = TestApp::spawn(db).await;
        let mut s = signed_in(&app, "Keys Host", "keys@example.com").await;
        let p = s.partner.clone();
        activate(&app, &p.token, "counted.example", "premium").await;
        let page = s.agent.get("/portal/keys").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains(&format!("id=\"key-{}\"", p.key_id)));
        let csrf = csrf_of(&page.body).unwrap();

        // A sub-key: its secret on the answer to the POST, this once.
        let parent = p.key_id.to_string();
        let created = s.agent.post("/portal/keys", &[
            ("csrf_token", &csrf), ("parent", &parent), ("name", "Reseller <b>"),
            ("allowed_premium_plans", "3"),
        ]).await;
        assert_eq!(created.status, 200, "{}", created.body);
        assert!(created.body.contains("Reseller &lt;b&gt;"), "escaped");
        let client_id = by_id(&created.body, "client-id").unwrap();
        let secret = by_id(&created.body, "client-secret").unwrap();
        assert_eq!(secret.len(), 64);
        assert_eq!(token_status(&app, &client_id, &secret).await, 200);
        let again = s.agent.get("/portal/keys").await;
        assert!(!again.body.contains(&secret), "shown once");
        assert!(again.body.contains(&format!("id=\"key-{client_id}\"")));
        assert!(!app.logs().contains(&secret), "never logged");
        // Refusals of the unit of work, on the page with their status: a
        // sub-key as a parent, an empty name.
        let refused = s.agent.post("/portal/keys", &[
            ("csrf_token", &csrf), ("parent", &client_id), ("name", "Third level"),
        ]).await;
        assert_eq!(refused.status, 403, "{}", refused.body);
        let refused = s.agent.post("/portal/keys", &[
            ("csrf_token", &csrf), ("parent", &parent), ("name", " "),
        ]).await;
        assert_eq!(refused.status, 400, "{}", refused.body);
        assert!(refused.body.contains("id=\"error\""));

        // Rotation: the old secret and its tokens stop at once.
        let rotated = s.agent.post(&format!("/portal/keys/{}/rotate", p.key_id), &[("csrf_token", &csrf)]).await;
        assert_eq!(rotated.status, 200, "{}", rotated.body);
        let new_secret = by_id(&rotated.body, "client-secret").unwrap();
        assert_ne!(new_secret, p.client_secret);
        assert_ne!(token_status(&app, &p.client_id, &p.client_secret).await, 200);
        assert_eq!(token_status(&app, &p.client_id, &new_secret).await, 200);
        assert_eq!(verify(&app, &p.token).await, 403, "the old token was revoked");
        assert!(!app.logs().contains(&new_secret), "never logged");

        // Disable, then enable: 303 back to the list each time.
        let new_token = app.token(&p.client_id, &new_secret).await;
        let off = s.agent.post(&format!("/portal/keys/{}/disable", p.key_id), &[("csrf_token", &csrf)]).await;
        assert_eq!((off.status, off.location.as_deref()), (StatusCode::SEE_OTHER, Some("/portal/keys")));
        let (status, body) = app.status(&new_token, "counted.example").await;
        assert_error(status, &body, 400, "partner_key_disabled");
        let list = s.agent.get("/portal/keys").await;
        assert!(list.body.contains(&format!("id=\"enable-{}\"", p.key_id)));
        assert!(list.body.contains("disabled with its parent"), "the sub-key follows");
        let on = s.agent.post(&format!("/portal/keys/{}/enable", p.key_id), &[("csrf_token", &csrf)]).await;
        assert_eq!(on.status, 303);
        assert_eq!(verify(&app, &new_token).await, 200);
    }

    async fn site_page_status_activations_and_history(db: Db) {
        let app = TestApp::spawn(db).await;
        let mut s = signed_in(&app, "Site Host", "site@example.com").await;
        let p = s.partner.clone();
        activate(&app, &p.token, "history.example", "jetpack-backup-daily").await;
        provision(&app, &p.token, "history.example", "jetpack-scan").await;
        app.cancel_ok(&p.token, "history.example", &[("cancel-all", "1")]).await;
        let blog = app.blog_id("history.example");
        for path in [format!("/portal/sites/{blog}"), "/portal/sites/history.example".to_string()] {
            let page = s.agent.get(&path).await;
            assert_eq!(page.status, 200, "{path}: {}", page.body);
            assert_eq!(by_id(&page.body, "blog-id"), Some(blog.to_string()));
            assert_eq!(by_id(&page.body, "connected").as_deref(), Some("yes"));
            assert_eq!(page.body.matches("class=\"activation\"").count(), 2);
            assert!(page.body.matches("class=\"event\"").count() >= 3, "{}", page.body);
            assert!(page.body.contains("cancelled"));
        }
        let page = s.agent.get("/portal/activations").await;
        assert!(page.body.contains(&format!("href=\"/portal/sites/{blog}\"")));
        for unknown in ["/portal/sites/999999", "/portal/sites/nowhere.example", "/portal/sites/%20"] {
            assert_eq!(s.agent.get(unknown).await.status, 404, "{unknown}");
        }
    }

    /// A user of partner A edits URLs to reach partner B's keys and sites:
    /// refused (403 for keys, the unknown site's 404 for sites), nothing of
    /// B's shown or changed.
    async fn another_partners_keys_and_sites_are_out_of_reach(db: Db) {
        let app = TestApp::spawn(db).await;
        let mut a = signed_in(&app, "Partner A", "a@example.com").await;
        let b = app.partner("Partner B").await;
        activate(&app, &b.token, "b-only.example", "premium").await;
        let b_sub = sub_key(&app, &b).await;
        let blog = app.blog_id("b-only.example");
        let page = a.agent.get("/portal/keys").await;
        let csrf = csrf_of(&page.body).unwrap();
        assert!(!page.body.contains(&format!("id=\"key-{}\"", b.key_id)));

        for key in [b.key_id, b_sub.key_id] {
            for path in ["/portal/", "/portal/activations", "/portal/activations.csv", "/portal/invoices", "/portal/invoices.csv"] {
                let res = a.agent.get(&format!("{path}?key={key}")).await;
                assert_eq!(res.status, 403, "{path}?key={key}: {}", res.body);
                assert!(!res.body.contains("b-only.example"));
            }
            for action in ["disable", "rotate"] {
                let res = a.agent.post(&format!("/portal/keys/{key}/{action}"), &[("csrf_token", &csrf)]).await;
                assert_eq!(res.status, 403, "{action} {key}: {}", res.body);
            }
        }
        let res = a.agent.post("/portal/keys", &[("csrf_token", &csrf), ("parent", &b.key_id.to_string()), ("name", "Mine now")]).await;
        assert_eq!(res.status, 403, "{}", res.body);
        for path in [format!("/portal/sites/{blog}"), "/portal/sites/b-only.example".to_string()] {
            let res = a.agent.get(&path).await;
            assert_eq!(res.status, 404, "{path}");
            assert!(!res.body.contains("b-only.example"));
        }
        let all = a.agent.get("/portal/activations.csv").await;
        assert_eq!(all.body.lines().count(), 1, "A has none: {}", all.body);
        // B's keys still work, with their own secrets.
        assert_eq!(token_status(&app, &b.client_id, &b.client_secret).await, 200);
        assert_eq!(verify(&app, &b.token).await, 200);
        assert_eq!(verify(&app, &b_sub.token).await, 200);
        let keys = app.admin(&["key", "list", "--partner", &b.partner_id.to_string()]).unwrap();
        assert_eq!(keys.as_array().map(Vec::len), Some(2), "{keys}");
    }

    /// Every form of the data pages, posted without the anti-forgery token
    /// or with another session's: 403, and nothing changed.
    async fn forms_without_their_token_are_refused(db: Db) {
        let app = TestApp::spawn(db).await;
        let mut s = signed_in(&app, "Forged Host", "victim@example.com").await;
        let p = s.partner.clone();
        // The attacker's own session (another user, another partner).
        let mut other = signed_in(&app, "Attacker Host", "attacker@example.com").await;
        let theirs = csrf_of(&other.agent.get("/portal/keys").await.body).unwrap();
        // And another session of the same user: its token is not this one's.
        let mut second = Agent::new(&app);
        assert_eq!(second.sign_in("victim@example.com", &s.password).await.status, 303);
        let sibling = csrf_of(&second.agent_page("/portal/keys").await).unwrap();
        assert_ne!(sibling, csrf_of(&s.agent.get("/portal/keys").await.body).unwrap());

        let key = p.key_id.to_string();
        let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
            ("/portal/keys".into(), vec![("parent", key.as_str()), ("name", "Forged"), ("allowed_premium_plans", "1")]),
            (format!("/portal/keys/{key}/disable"), vec![]),
            (format!("/portal/keys/{key}/enable"), vec![]),
            (format!("/portal/keys/{key}/rotate"), vec![]),
        ];
        for (path, fields) in &forms {
            for token in [None, Some(""), Some(theirs.as_str()), Some(sibling.as_str()), Some("x")] {
                let mut form = fields.clone();
                if let Some(t) = token {
                    form.push(("csrf_token", t));
                }
                let res = s.agent.post(path, &form).await;
                assert_eq!(res.status, 403, "{path} with {token:?}: {}", res.body);
                assert!(res.body.contains("Nothing was changed"));
            }
        }
        // Nothing changed: no new key, the key enabled, its secret and token good.
        let keys = app.admin(&["key", "list", "--partner", &p.partner_id.to_string()]).unwrap();
        assert_eq!(keys.as_array().map(Vec::len), Some(1), "{keys}");
        assert_eq!(token_status(&app, &p.client_id, &p.client_secret).await, 200);
        assert_eq!(verify(&app, &p.token).await, 200);
    }
}

impl Agent<'_> {
    /// A page's body (asserting it answers 200).
    async fn agent_page(&mut self, path: &str) -> String {
        let res = self.get(path).await;
        assert_eq!(res.status, 200, "{path}: {}", res.body);
        res.body
    }
}
