//! Issue 12, finding 1 (SPEC §11): a sub-key never exceeds its parent. Each
//! test is written as the attack a partner with a limited key would try, with
//! a positive control that a sub-key within its parent's limits still works.

use std::sync::Arc;

use futures_util::future::join_all;
use jpstart_types::admin::KeyListed;
use jpstart_types::wire::PartnerKeyCreated;
use serde_json::{json as js, Value};

use crate::common::*;

const NEW: &str = "/rest/v1.3/jpphp/partner-keys/new";
const VERIFY: &str = "/rest/v1.3/jpphp/partner-keys/verify";

async fn new_key(
    app: &TestApp,
    token: &str,
    form: &[(&str, &str)],
) -> (reqwest::StatusCode, Value) {
    json(app.post(NEW, token).form(form).send().await.unwrap()).await
}

/// A sub-key of the key behind `token`, with its token.
async fn sub_key(app: &TestApp, token: &str, form: &[(&str, &str)]) -> (PartnerKeyCreated, String) {
    let mut form = form.to_vec();
    form.push(("name", "Sub"));
    let (status, body) = new_key(app, token, &form).await;
    assert_eq!(status, 200, "{body}");
    let created: PartnerKeyCreated = serde_json::from_value(body).unwrap();
    let token = app
        .token(&created.client_id, created.client_secret.expose())
        .await;
    (created, token)
}

async fn provision(
    app: &TestApp,
    token: &str,
    site: &str,
    plan: &str,
) -> (reqwest::StatusCode, Value) {
    let url = format!("https://{site}");
    app.provision(
        token,
        &[("siteurl", &url), ("local_user", "admin"), ("plan", plan)],
    )
    .await
}

/// Live activations of `product` made by any key of the partner.
fn live_of_partner(app: &TestApp, partner: u64, product: &str) -> usize {
    let acts = app
        .admin(&["activations", "--partner", &partner.to_string()])
        .unwrap();
    acts.as_array()
        .unwrap()
        .iter()
        .filter(|a| a["product"] == product && (a["state"] == "pending" || a["state"] == "active"))
        .count()
}

fn keys_listed(app: &TestApp, args: &[&str]) -> Vec<KeyListed> {
    let mut all = vec!["key", "list"];
    all.extend_from_slice(args);
    serde_json::from_value(app.admin(&all).unwrap()).unwrap()
}

async fn paths(app: &TestApp, token: &str, site: &str) -> Value {
    let path = format!("/rest/v1.3/jpphp/{site}/upgrade-paths");
    let (status, body) = json(app.get(&path, token).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    body
}

both_backends! {
    /// The attack: a key the operator limited to premium=1 gives
    /// itself a sub-key with 1000 and provisions 5 premiums through it.
    async fn a_limited_key_cannot_mint_itself_more_through_a_sub_key(db: Db) {
        let app = TestApp::spawn(db).await;
        let owner = app.partner("Reseller").await;
        let p = app.key(owner.partner_id, &["--limit", "premium=1"]).await;
        let (status, body) = new_key(&app, &p.token, &[("name", "Mine"), ("allowed_premium_plans", "1000")]).await;
        let sub = if status == 200 {
            let created: PartnerKeyCreated = serde_json::from_value(body.clone()).unwrap();
            app.token(&created.client_id, created.client_secret.expose()).await
        } else {
            sub_key(&app, &p.token, &[("allowed_premium_plans", "1")]).await.1
        };
        let mut ok = 0;
        for i in 0..5 {
            let (s, _) = provision(&app, &sub, &format!("attack{i}.example"), "premium").await;
            ok += usize::from(s == 200);
        }
        let (s, b) = provision(&app, &p.token, "parent.example", "premium").await;
        ok += usize::from(s == 200);
        assert_eq!(live_of_partner(&app, owner.partner_id, "premium"), 1, "the parent's limit of 1 was exceeded");
        assert_eq!(ok, 1, "last answer {s} {b}");
        // The creation above the parent's limit is refused, naming the limit.
        assert_error(status, &body, 400, "invalid_limit");
        let msg = body["message"].as_str().unwrap();
        assert!(msg.contains("allowed_premium_plans") && msg.contains('1'), "{msg}");
    }

    async fn sub_key_limits_fit_the_parents_and_a_sane_bound(db: Db) {
        let app = TestApp::spawn(db).await;
        let owner = app.partner("Reseller").await;
        let p = app.key(owner.partner_id, &["--limit", "premium=5"]).await;
        let before = app.admin(&["key", "list"]).map(|v| v.as_array().map(Vec::len));
        // Above the parent's 5, above the bound, i64::MAX.
        for form in [
            &[("name", "K"), ("allowed_premium_plans", "6")][..],
            &[("name", "K"), ("allowed_jetpack-scan_plans", "1000001")][..],
            &[("name", "K"), ("allowed_jetpack-scan_plans", "9223372036854775807")][..],
        ] {
            let (status, body) = new_key(&app, &p.token, form).await;
            assert_error(status, &body, 400, "invalid_limit");
        }
        // A top-level key without limits: the bound still applies.
        let (status, body) = new_key(&app, &owner.token, &[("name", "K"), ("allowed_premium_plans", "9223372036854775807")]).await;
        assert_error(status, &body, 400, "invalid_limit");
        assert_eq!(app.admin(&["key", "list"]).map(|v| v.as_array().map(Vec::len)), before, "a refused request created a key");
        // Positive controls: at the parent's limit, and any finite limit of a
        // product the parent is unlimited in.
        let (created, _) = sub_key(&app, &p.token, &[("allowed_premium_plans", "5"), ("allowed_jetpack-scan_plans", "1000000")]).await;
        assert_eq!(created.limits.get("premium"), Some(&5));
        assert_eq!(created.limits.get("jetpack-scan"), Some(&1_000_000));
    }

    async fn sub_key_activations_count_against_the_parent(db: Db) {
        let app = TestApp::spawn(db).await;
        let owner = app.partner("Reseller").await;
        let p = app.key(owner.partner_id, &["--limit", "premium=2"]).await;
        let (_, sub) = sub_key(&app, &p.token, &[("allowed_premium_plans", "2")]).await;
        let (s, b) = provision(&app, &p.token, "p1.example", "premium").await;
        assert_eq!(s, 200, "{b}");
        // Positive control: within both limits.
        let (s, b) = provision(&app, &sub, "s1.example", "premium").await;
        assert_eq!(s, 200, "{b}");
        // The sub-key has room of its own (1 of 2), the parent's is full.
        let (s, b) = provision(&app, &sub, "s2.example", "premium").await;
        assert_error(s, &b, 400, "activation_limit_reached");
        assert_eq!(b["message"], "This key has reached its activation limit for product premium");
        // And the parent's own provisions count its sub-keys' too.
        let (s, b) = provision(&app, &p.token, "p2.example", "premium").await;
        assert_error(s, &b, 400, "activation_limit_reached");
        // A retry of a live one still succeeds.
        let (s, b) = provision(&app, &sub, "s1.example", "premium").await;
        assert_eq!(s, 200, "{b}");
        // Cancelling the sub-key's frees the parent's slot.
        let (s, b) = app.cancel(&sub, "s1.example", &[]).await;
        assert_eq!((s.as_u16(), &b["success"]), (200, &Value::Bool(true)), "{b}");
        let (s, b) = provision(&app, &p.token, "p2.example", "premium").await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(live_of_partner(&app, owner.partner_id, "premium"), 2);
    }

    async fn disabling_a_key_disables_its_sub_keys_on_every_server(db: Db) {
        let second = db.share();
        let a = TestApp::spawn(db).await;
        let b = TestApp::spawn(second).await;
        let p = a.partner("Reseller").await;
        let (created, sub) = sub_key(&a, &p.token, &[("allowed_premium_plans", "1")]).await;
        for app in [&a, &b] {
            let (s, body) = json(app.post(VERIFY, &sub).send().await.unwrap()).await;
            assert_eq!(s, 200, "{body}");
        }
        let pid = p.key_id.to_string();
        a.admin(&["key", "disable", &pid]).unwrap();
        for app in [&a, &b] {
            let (s, body) = json(app.post(VERIFY, &sub).send().await.unwrap()).await;
            assert_error(s, &body, 400, "partner_key_disabled");
            let (s, body) = provision(app, &sub, "while-disabled.example", "premium").await;
            assert_error(s, &body, 400, "partner_key_disabled");
        }
        // No new token for the sub-key either.
        let res = a.request(reqwest::Method::POST, "/oauth2/token").form(&[
            ("grant_type", "client_credentials"),
            ("client_id", created.client_id.as_str()),
            ("client_secret", created.client_secret.expose()),
            ("scope", "jetpack-partner"),
        ]).send().await.unwrap();
        assert_eq!(res.status(), 400);
        assert!(a.admin(&["activations", "--site", "while-disabled.example"]).unwrap().as_array().unwrap().is_empty());
        // Re-enabling the parent restores them, at the next request.
        a.admin(&["key", "enable", &pid]).unwrap();
        for app in [&a, &b] {
            let (s, body) = json(app.post(VERIFY, &sub).send().await.unwrap()).await;
            assert_eq!(s, 200, "{body}");
        }
        // Disabling the sub-key alone leaves the parent working.
        a.admin(&["key", "disable", &created.client_id]).unwrap();
        let (s, body) = json(b.post(VERIFY, &sub).send().await.unwrap()).await;
        assert_error(s, &body, 400, "partner_key_disabled");
        let (s, body) = json(b.post(VERIFY, &p.token).send().await.unwrap()).await;
        assert_eq!(s, 200, "{body}");
    }

    async fn upgrade_paths_follow_the_parents_limit(db: Db) {
        let app = TestApp::spawn(db).await;
        let owner = app.partner("Reseller").await;
        let p = app.key(owner.partner_id, &["--limit", "premium=1"]).await;
        let (_, sub) = sub_key(&app, &p.token, &[("allowed_premium_plans", "1"), ("allowed_jetpack-scan_plans", "1")]).await;
        assert_eq!(paths(&app, &sub, "fresh.example").await["jetpack-plans"], js!(["premium"]));
        let (s, b) = provision(&app, &p.token, "p1.example", "premium").await;
        assert_eq!(s, 200, "{b}");
        // The parent's one premium is used: the sub-key is offered none, the
        // product it has room of its own for (scan) still.
        let got = paths(&app, &sub, "fresh.example").await;
        assert_eq!(got["jetpack-plans"], js!([]), "{got}");
        assert_eq!(got["jetpack-scan"], js!(["jetpack-scan"]), "{got}");
        let (s, b) = provision(&app, &sub, "s1.example", "premium").await;
        assert_error(s, &b, 400, "activation_limit_reached");
        app.cancel(&p.token, "p1.example", &[]).await;
        assert_eq!(paths(&app, &sub, "fresh.example").await["jetpack-plans"], js!(["premium"]));
        // The other way round: the sub-key's premium fills the parent's.
        let (s, b) = provision(&app, &sub, "s1.example", "premium").await;
        assert_eq!(s, 200, "{b}");
        let got = paths(&app, &p.token, "fresh.example").await;
        assert_eq!(got["jetpack-plans"], js!(["personal", "professional"]), "{got}");
    }

    async fn the_operator_lists_every_key(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Alpha").await;
        let limited = app.key(a.partner_id, &["--limit", "premium=3", "--test", "--name", "staging"]).await;
        let (created, sub) = sub_key(&app, &limited.token, &[("allowed_premium_plans", "2")]).await;
        let b = app.partner("Bravo").await;
        let (s, body) = provision(&app, &sub, "s1.example", "premium").await;
        assert_eq!(s, 200, "{body}");
        let (s, body) = provision(&app, &limited.token, "s2.example", "premium").await;
        assert_eq!(s, 200, "{body}");
        app.admin(&["key", "disable", &b.key_id.to_string()]).unwrap();

        let all = keys_listed(&app, &[]);
        let ids: Vec<u64> = all.iter().map(|k| k.key_id.get() as u64).collect();
        assert_eq!(ids, [a.key_id, limited.key_id, created.id, b.key_id]);
        let parent = &all[1];
        assert_eq!(parent.partner_id.get() as u64, a.partner_id);
        assert_eq!(parent.parent_key_id, None);
        assert_eq!(parent.name, "staging");
        assert!(parent.test && !parent.disabled);
        assert_eq!(parent.limits.get("premium"), Some(&3));
        assert_eq!(parent.live.get("premium"), Some(&1));
        assert_eq!(parent.live_with_sub_keys.get("premium"), Some(&2));
        let child = &all[2];
        assert_eq!(child.parent_key_id.map(|k| k.get() as u64), Some(limited.key_id));
        assert!(child.test, "a test key's sub-keys are test keys");
        assert_eq!(child.limits.get("premium"), Some(&2));
        assert_eq!(child.limits.get("personal"), Some(&0));
        assert_eq!(child.live.get("premium"), Some(&1));
        assert!(all[3].disabled);
        assert!(all[0].limits.is_empty() && all[0].live.is_empty());

        let only_b = keys_listed(&app, &["--partner", &b.partner_id.to_string()]);
        assert_eq!(only_b.len(), 1);
        assert_eq!(only_b[0].key_id.get() as u64, b.key_id);
        let only_a = keys_listed(&app, &["--partner", &a.partner_id.to_string()]);
        assert_eq!(only_a.len(), 3);
    }

    async fn sub_keys_per_partner_are_capped(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default().arg("--max-sub-keys").arg("3")).await;
        let p = app.partner("Reseller").await;
        let p2 = app.key(p.partner_id, &[]).await;
        for _ in 0..2 {
            sub_key(&app, &p.token, &[]).await;
        }
        sub_key(&app, &p2.token, &[]).await;
        // Per partner, whichever key asks.
        for token in [&p.token, &p2.token] {
            let (s, body) = new_key(&app, token, &[("name", "one too many")]).await;
            assert_error(s, &body, 403, "forbidden");
            assert!(body["message"].as_str().unwrap().contains('3'), "{body}");
        }
        // Another partner has its own allowance.
        let other = app.partner("Other").await;
        sub_key(&app, &other.token, &[]).await;
        let listed = keys_listed(&app, &["--partner", &p.partner_id.to_string()]);
        assert_eq!(listed.iter().filter(|k| k.parent_key_id.is_some()).count(), 3);
    }

    async fn the_sub_key_cap_is_exact_under_concurrency(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default().env("JPSTART_MAX_SUB_KEYS", "4")).await;
        let p = app.partner("Reseller").await;
        let p2 = app.key(p.partner_id, &[]).await;
        let results = join_all((0..16).map(|i| {
            let token = if i % 2 == 0 { p.token.clone() } else { p2.token.clone() };
            let app = &app;
            async move { new_key(app, &token, &[("name", "racer")]).await }
        }))
        .await;
        let ok = results.iter().filter(|(s, _)| *s == 200).count();
        assert_eq!(ok, 4, "{results:?}");
        for (s, body) in results.iter().filter(|(s, _)| *s != 200) {
            assert_error(*s, body, 403, "forbidden");
        }
        let listed = keys_listed(&app, &["--partner", &p.partner_id.to_string()]);
        assert_eq!(listed.iter().filter(|k| k.parent_key_id.is_some()).count(), 4);
    }

    async fn the_default_sub_key_cap_is_100(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Reseller").await;
        for i in 0..100 {
            let (s, body) = new_key(&app, &p.token, &[("name", "k")]).await;
            assert_eq!(s, 200, "sub-key {i}: {body}");
        }
        let (s, body) = new_key(&app, &p.token, &[("name", "k")]).await;
        assert_error(s, &body, 403, "forbidden");
    }

    /// Parent premium=3; it and two sub-keys (3 each) provision in parallel
    /// to many sites, through two servers: exactly 3 succeed.
    async fn a_parent_and_its_sub_keys_share_the_limit_exactly(db: Db) {
        let second = db.share();
        let a = Arc::new(TestApp::spawn(db).await);
        let b = Arc::new(TestApp::spawn(second).await);
        let owner = a.partner("Reseller").await;
        let p = a.key(owner.partner_id, &["--limit", "premium=3"]).await;
        let (_, s1) = sub_key(&a, &p.token, &[("allowed_premium_plans", "3")]).await;
        let (_, s2) = sub_key(&a, &p.token, &[("allowed_premium_plans", "3")]).await;
        let tokens = [p.token.clone(), s1, s2];
        let results = join_all((0..36).map(|i| {
            let app = if i % 2 == 0 { a.clone() } else { b.clone() };
            let token = tokens[i % 3].clone();
            async move { provision(&app, &token, &format!("race{i}.example"), "premium").await }
        }))
        .await;
        let ok = results.iter().filter(|(s, _)| *s == 200).count();
        assert_eq!(ok, 3, "{results:?}");
        for (s, body) in results.iter().filter(|(s, _)| *s != 200) {
            assert_error(*s, body, 400, "activation_limit_reached");
        }
        assert_eq!(live_of_partner(&a, owner.partner_id, "premium"), 3);
    }
}
