//! Issue 14, SPEC §8: the activations list and summary over HTTP — fields,
//! paging edges, filters, scales without gaps, and who may read what.
//! Invoices: `invoices.rs`.

use jpstart_types::reporting::{ActivationsList, SiteObject, SummaryPeriod};
use jpstart_types::wire::{PartnerKeyCreated, ProvisionResponse};
use reqwest::StatusCode;
use serde_json::Value;

use crate::authorize::approve;
use crate::common::*;

/// `GET` a reporting path with a token.
pub async fn get(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    json(app.get(path, token).send().await.unwrap()).await
}

pub fn list_path(partner: u64, key: u64, query: &str) -> String {
    format!("/wpcom/v2/jetpack-partners/{partner}/key/{key}/activations{query}")
}

/// Provisions `plan` to `https://{site}` and, when the site waits for its
/// owner, approves the authorization link (so the server's clock, the test
/// clock, stamps the activation).
pub async fn activate(app: &TestApp, token: &str, site: &str, plan: &str) {
    let res = provision(app, token, site, plan).await;
    if res.auth_required {
        let answer = approve(&res.next_url, None).await;
        assert!(answer.status().is_success() || answer.status().is_redirection());
    }
}

/// Provisions and leaves the activation pending (a site not yet connected).
pub async fn provision(app: &TestApp, token: &str, site: &str, plan: &str) -> ProvisionResponse {
    let url = format!("https://{site}");
    app.provision_ok(
        token,
        &[("siteurl", &url), ("local_user", "owner-7"), ("plan", plan)],
    )
    .await
}

/// A sub-key of `parent` (limits for the products it provisions), with a token.
pub async fn sub_key(app: &TestApp, parent: &Partner) -> Partner {
    let res = app
        .post("/rest/v1.3/jpphp/partner-keys/new", &parent.token)
        .form(&[
            ("name", "Reseller"),
            ("allowed_premium_plans", "10"),
            ("allowed_jetpack-scan_plans", "10"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let created: PartnerKeyCreated = serde_json::from_str(&res.text().await.unwrap()).unwrap();
    let token = app
        .token(&created.client_id, created.client_secret.expose())
        .await;
    Partner {
        partner_id: parent.partner_id,
        key_id: created.id,
        client_id: created.client_id,
        client_secret: created.client_secret.expose().to_string(),
        token,
    }
}

async fn forbidden(app: &TestApp, path: String, token: String) {
    let (status, body) = get(app, &token, &path).await;
    assert_error(status, &body, 403, "forbidden");
}

fn is_datetime(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

async fn list_ok(app: &TestApp, p: &Partner, query: &str) -> ActivationsList {
    let (status, body) = get(app, &p.token, &list_path(p.partner_id, p.key_id, query)).await;
    ok(status, &body)
}

both_backends! {
    async fn the_list_has_every_field_newest_first(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default().test_clock()).await;
        let p = app.partner("Host").await;
        activate(&app, &p.token, "a.example", "premium").await;
        app.advance_clock("1d");
        provision(&app, &p.token, "b.example", "jetpack-scan").await;
        app.advance_clock("1d");
        activate(&app, &p.token, "c.example", "personal").await;
        app.cancel_ok(&p.token, "c.example", &[]).await;

        let path = list_path(p.partner_id, p.key_id, "");
        let (status, body) = get(&app, &p.token, &path).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(keys(&body), ["total", "activations"]);
        assert_eq!(
            keys(&body["activations"][0]),
            [
                "id", "jetpack_partner_key_id", "wpcom_blog_id", "wpcom_user_id",
                "external_user_id", "product_id", "created_on", "activated_on",
                "cancelled_on", "disputed_on", "site_registered", "site_url", "site_name",
                "site_icon", "current_product_id", "product_slug", "state",
            ]
        );
        let list: ActivationsList = decode(&body);
        assert_eq!(list.total, 3);
        let seen: Vec<(&str, &str)> = list
            .activations
            .iter()
            .map(|a| (a.product_slug.as_str(), a.state.as_str()))
            .collect();
        assert_eq!(seen, [("personal", "cancelled"), ("jetpack-scan", "pending"), ("premium", "active")]);
        let [c, b, a]: [&SiteObject; 3] = [&list.activations[0], &list.activations[1], &list.activations[2]];
        assert_eq!(a.jetpack_partner_key_id, p.key_id as i64);
        assert_eq!(a.wpcom_blog_id, app.blog_id("a.example"));
        assert_eq!((a.product_id, a.current_product_id), (2000, 2000));
        assert_eq!(a.site_url, "https://a.example");
        assert_eq!(a.site_name, "a.example");
        assert_eq!(a.external_user_id.as_deref(), Some("owner-7"));
        assert_eq!(a.wpcom_user_id, 0);
        assert!(is_datetime(&a.created_on) && is_datetime(&a.site_registered), "{a:?}");
        assert!(a.activated_on.as_deref().is_some_and(is_datetime), "{a:?}");
        assert_eq!((&a.cancelled_on, &a.disputed_on, &a.site_icon), (&None, &None, &None));
        assert_eq!(b.activated_on, None);
        assert!(c.cancelled_on.as_deref().is_some_and(is_datetime), "{c:?}");
        assert!(c.created_on > b.created_on && b.created_on > a.created_on);
    }

    async fn paging_edges_and_filters(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default().test_clock()).await;
        let p = app.partner("Host").await;
        activate(&app, &p.token, "a.example", "premium").await;
        let after_a = app.advance_clock("1d")["now"].as_str().unwrap().to_string();
        provision(&app, &p.token, "b.example", "jetpack-scan").await;
        activate(&app, &p.token, "c.example", "personal").await;

        // Paging: per_page, a page past the end (empty, same total).
        let two = list_ok(&app, &p, "?per_page=2").await;
        assert_eq!((two.total, two.activations.len()), (3, 2));
        let second = list_ok(&app, &p, "?per_page=2&page=2").await;
        assert_eq!((second.total, second.activations.len()), (3, 1));
        assert_eq!(second.activations[0].product_slug, "premium");
        let past = list_ok(&app, &p, "?per_page=2&page=3").await;
        assert_eq!((past.total, past.activations.len()), (3, 0));
        assert_eq!(list_ok(&app, &p, "?per_page=100").await.activations.len(), 3);
        for bad in ["per_page=0", "per_page=101", "page=0", "page=x", "scale=x&per_page=-3"] {
            let (status, body) = get(&app, &p.token, &list_path(p.partner_id, p.key_id, &format!("?{bad}"))).await;
            assert_error(status, &body, 400, "rest_invalid_param");
        }

        // plans[]: every array form; an unknown slug is invalid_plan.
        let both = list_ok(&app, &p, "?plans[]=premium&plans%5B%5D=personal").await;
        assert_eq!(both.total, 2);
        assert_eq!(list_ok(&app, &p, "?plans=jetpack-scan").await.total, 1);
        let (status, body) = get(&app, &p.token, &list_path(p.partner_id, p.key_id, "?plans[]=gold")).await;
        assert_error(status, &body, 400, "invalid_plan");

        // Dates: ISO 8601 or UNIX seconds; a pending one never matches.
        let iso = list_ok(&app, &p, &format!("?activated_after={after_a}")).await;
        let slugs: Vec<&str> = iso.activations.iter().map(|a| a.product_slug.as_str()).collect();
        assert_eq!(slugs, ["personal"]);
        assert_eq!(list_ok(&app, &p, "?activated_after=0").await.total, 2);
        let before = list_ok(&app, &p, &format!("?activated_before={after_a}")).await;
        assert_eq!(before.activations[0].product_slug, "premium");
        assert_eq!(before.total, 1);
        assert_eq!(list_ok(&app, &p, "?activated_before=4102444800").await.total, 2);
        assert_eq!(list_ok(&app, &p, "?activated_after=2000-01-01&plans[]=jetpack-scan").await.total, 0);
        let (status, body) = get(&app, &p.token, &list_path(p.partner_id, p.key_id, "?activated_after=yesterday")).await;
        assert_error(status, &body, 400, "rest_invalid_param");
    }

    async fn reach_across_partners_and_sub_keys(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("A").await;
        let b = app.partner("B").await;
        let sub = sub_key(&app, &a).await;
        provision(&app, &sub.token, "sub.example", "premium").await;
        provision(&app, &a.token, "top.example", "premium").await;

        for tail in ["activations", "stripe/invoices", "stripe/upcoming-invoice"] {
            let on = |partner: u64, key: u64| format!("/wpcom/v2/jetpack-partners/{partner}/key/{key}/{tail}");
            // A's token on B's ids, on B's key under A's id, on a key that does not exist.
            forbidden(&app, on(b.partner_id, b.key_id), a.token.clone()).await;
            forbidden(&app, on(a.partner_id, b.key_id), a.token.clone()).await;
            forbidden(&app, on(b.partner_id, a.key_id), a.token.clone()).await;
            forbidden(&app, on(a.partner_id, 999_999), a.token.clone()).await;
            // A sub-key does not read its parent; the parent reads its sub-key.
            forbidden(&app, on(a.partner_id, a.key_id), sub.token.clone()).await;
            let (status, body) = get(&app, &a.token, &on(a.partner_id, sub.key_id)).await;
            assert_eq!(status, 200, "{body}");
            let (status, body) = get(&app, &sub.token, &on(a.partner_id, sub.key_id)).await;
            assert_eq!(status, 200, "{body}");
            // No token, a bad token.
            let (status, body) = json(app.request(reqwest::Method::GET, &on(a.partner_id, a.key_id)).send().await.unwrap()).await;
            assert_error(status, &body, 403, "authorization_required");
            let (status, body) = get(&app, "nope", &on(a.partner_id, a.key_id)).await;
            assert_error(status, &body, 403, "invalid_token");
        }
        // The parent's list is its own: the sub-key's activation is on the sub-key's.
        let own = list_ok(&app, &a, "").await;
        assert_eq!(own.total, 1);
        assert_eq!(own.activations[0].site_url, "https://top.example");
        let of_sub = list_ok(&app, &Partner { token: a.token.clone(), ..sub.clone() }, "").await;
        assert_eq!(of_sub.activations[0].site_url, "https://sub.example");

        // The summary: key_id of another partner, or the parent from a sub-key.
        let summary = |key: u64| format!("/wpcom/v2/jetpack-partners/activations?key_id={key}");
        forbidden(&app, summary(b.key_id), a.token.clone()).await;
        forbidden(&app, summary(a.key_id), sub.token.clone()).await;
        let (status, body) = get(&app, &a.token, &summary(sub.key_id)).await;
        assert_eq!(status, 200, "{body}");
        // Bad ids are bad parameters (after the token is checked).
        let (status, body) = get(&app, &a.token, "/wpcom/v2/jetpack-partners/x/key/1/activations").await;
        assert_error(status, &body, 400, "rest_invalid_param");
        let (status, body) = get(&app, &a.token, "/wpcom/v2/jetpack-partners/activations?key_id=0").await;
        assert_error(status, &body, 400, "rest_invalid_param");
    }

    async fn summary_scales_without_gaps(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default().test_clock()).await;
        let p = app.partner("Host").await;
        let path = |q: &str| format!("/wpcom/v2/jetpack-partners/activations{q}");
        // No activations yet: no periods.
        let (status, body) = get(&app, &p.token, &path("")).await;
        assert_eq!((status.as_u16(), body.clone()), (200, serde_json::json!([])));

        app.admin(&["clock", "set", "2031-01-15T00:00:00Z"]).unwrap();
        activate(&app, &p.token, "a.example", "premium").await;
        activate(&app, &p.token, "b.example", "premium").await;
        app.admin(&["clock", "set", "2031-03-10T00:00:00Z"]).unwrap();
        app.cancel_ok(&p.token, "b.example", &[]).await;
        provision(&app, &p.token, "c.example", "jetpack-scan").await;
        app.admin(&["clock", "set", "2031-05-02T00:00:00Z"]).unwrap();

        let (status, body) = get(&app, &p.token, &path(&format!("?key_id={}", p.key_id))).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(keys(&body[0]), ["date", "new", "total"]);
        let months: Vec<SummaryPeriod> = decode(&body);
        let got: Vec<(&str, u64, u64)> = months.iter().map(|m| (m.date.as_str(), m.new, m.total)).collect();
        // c.example waits for its owner: live until it expires (14 days).
        assert_eq!(
            got,
            [("2031-01", 2, 2), ("2031-02", 0, 2), ("2031-03", 1, 1), ("2031-04", 0, 1), ("2031-05", 0, 1)]
        );
        // Default key: the bearer's own; default scale: month.
        let (_, again) = get(&app, &p.token, &path("?scale=month")).await;
        assert_eq!(again, body);
        let (_, years) = get(&app, &p.token, &path("?scale=year")).await;
        assert_eq!(years, serde_json::json!([{"date": "2031", "new": 3, "total": 1}]));
        let (_, days) = get(&app, &p.token, &path("?scale=day")).await;
        let days: Vec<SummaryPeriod> = decode(&days);
        assert_eq!(days.len(), 108, "2031-01-15 to 2031-05-02");
        assert_eq!((days[0].date.as_str(), days[0].new), ("2031-01-15", 2));
        assert_eq!(days[1].date, "2031-01-16");
        assert_eq!(days.last().unwrap().date, "2031-05-02");
        assert_eq!(days.iter().map(|d| d.new).sum::<u64>(), 3);
        let (status, body) = get(&app, &p.token, &path("?scale=week")).await;
        assert_error(status, &body, 400, "rest_invalid_param");
    }
}

both_backends! {
    async fn the_report_commands_print_the_api_json(db: Db) {
        use crate::cli::{jpstart, partner_env};
        use jpstart_types::reporting::Invoice;
        let app = TestApp::spawn(db).await;
        let p = app.partner("Host").await;
        activate(&app, &p.token, "a.example", "premium").await;
        provision(&app, &p.token, "b.example", "jetpack-scan").await;
        let env = partner_env(&app, &p);
        let partner = p.partner_id.to_string();

        let run = jpstart(&["report", "activations", "--partner", &partner, "--plan", "premium", "--per-page", "5"], &env).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        let list: ActivationsList = run.json_as();
        assert_eq!((list.total, list.activations[0].product_slug.as_str()), (1, "premium"));
        let (_, direct) = get(&app, &p.token, &list_path(p.partner_id, p.key_id, "?plans[]=premium&per_page=5")).await;
        assert_eq!(run.json(), direct, "the API's JSON as it is");

        let run = jpstart(&["report", "summary", "--scale", "year"], &env).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        let years: Vec<SummaryPeriod> = run.json_as();
        assert_eq!((years.len(), years[0].new, years[0].total), (1, 2, 2));

        let run = jpstart(&["report", "invoices", "--partner", &partner], &env).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert_eq!(run.json(), serde_json::json!([]));
        let run = jpstart(&["report", "invoices", "--partner", &partner, "--key", &p.key_id.to_string(), "--upcoming"], &env).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        let up: Invoice = run.json_as();
        assert_eq!((up.status.as_str(), up.total), ("upcoming", 900));

        // A refusal: the API's error JSON on stderr, exit 1.
        let run = jpstart(&["report", "invoices", "--partner", "999"], &env).await;
        assert_eq!(run.code, 1, "{}", run.stdout);
        assert_eq!(run.error_body().error, "forbidden");
        let run = jpstart(&["report", "activations", "--partner", &partner, "--per-page", "0"], &env).await;
        assert_eq!((run.code, run.error_body().error.as_str()), (1, "rest_invalid_param"));
    }
}
