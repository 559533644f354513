//! Issue 17: limits stay exact when provisions no longer serialise on their
//! key (SPEC §5, §11). A lock, or a conditional counter, is needed only where
//! a limit applies to the product being provisioned: the key's own, or for
//! a sub-key its parent's. These tests mix, in one burst, products with and
//! without a limit, parents with sub-keys, and one server with two on one
//! database, so that a limit checked in the wrong scope (or not at all)
//! shows as one activation too many, and a count that drifts under
//! concurrent cancels shows as a slot too few afterwards.
//!
//! concurrency.rs has one key and one product; trust_sub_keys.rs a parent
//! and its sub-keys, provisions only.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use jpstart_types::admin::KeyListed;
use jpstart_types::wire::{CancelResponse, PartnerKeyCreated, ProvisionResponse};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Row;

use crate::common::*;
use crate::rawdb;

async fn provision(app: &TestApp, token: &str, site: &str, plan: &str) -> (StatusCode, Value) {
    let url = format!("https://{site}");
    app.provision(
        token,
        &[("siteurl", &url), ("local_user", "admin"), ("plan", plan)],
    )
    .await
}

/// A sub-key of `parent` with these `allowed_{slug}_plans` limits.
async fn sub_key(app: &TestApp, parent: &Partner, limits: &[(&str, &str)]) -> Partner {
    let mut form = vec![("name", "parallel sub")];
    form.extend_from_slice(limits);
    let res = app
        .post("/rest/v1.3/jpphp/partner-keys/new", &parent.token)
        .form(&form)
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    let created: PartnerKeyCreated = ok(status, &body);
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

/// `n` servers on one database (the first given).
async fn servers(db: Db, n: usize) -> Vec<Arc<TestApp>> {
    let mut apps = Vec::new();
    for _ in 1..n {
        apps.push(Arc::new(TestApp::spawn(db.share()).await));
    }
    apps.insert(0, Arc::new(TestApp::spawn(db).await));
    apps
}

/// One provision per (token, site, plan), all at once, spread over the
/// servers; the answers in order. Each 200 must be a success.
async fn burst(apps: &[Arc<TestApp>], calls: &[(String, String, &'static str)]) -> Vec<bool> {
    let tasks: Vec<_> = calls
        .iter()
        .enumerate()
        .map(|(i, (token, site, plan))| {
            let app = apps[i % apps.len()].clone();
            let (token, site, plan) = (token.clone(), site.clone(), *plan);
            tokio::spawn(async move {
                let (status, body) = provision(&app, &token, &site, plan).await;
                if status == 200 {
                    assert!(decode::<ProvisionResponse>(&body).success, "{body}");
                    true
                } else {
                    let err = assert_error(status, &body, 400, "activation_limit_reached");
                    assert_eq!(
                        err.message,
                        format!("This key has reached its activation limit for product {plan}")
                    );
                    false
                }
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("an answer's checks failed"));
    }
    out
}

fn listed(app: &TestApp, key: u64) -> KeyListed {
    let all: Vec<KeyListed> = app.admin_as(&["key", "list"]);
    all.into_iter()
        .find(|k| k.key_id.get() as u64 == key)
        .unwrap_or_else(|| panic!("key {key} not listed"))
}

fn live(k: &KeyListed, product: &str) -> i64 {
    k.live.get(product).copied().unwrap_or(0)
}

async fn site_rows(db: &Db) -> i64 {
    let mut conn = rawdb::connect(db).await;
    sqlx::query("SELECT COUNT(*) AS n FROM sites")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get("n")
}

/// (a) One key, premium limited to 5, provisions premium (new sites and
/// upgrades of its own personals) and unlimited scan at once.
async fn limited_beside_unlimited(db: Db, servers_n: usize) {
    let apps = servers(db, servers_n).await;
    let app = &apps[0];
    let owner = app.partner("Side by side").await;
    let k = app.key(owner.partner_id, &["--limit", "premium=5"]).await;
    for i in 0..6 {
        let (s, b) = provision(app, &k.token, &format!("up{i}.example"), "personal").await;
        assert_eq!(s, 200, "{b}");
    }
    let mut calls = Vec::new();
    for i in 0..24 {
        calls.push((k.token.clone(), format!("prem{i}.example"), "premium"));
        calls.push((k.token.clone(), format!("scan{i}.example"), "jetpack-scan"));
    }
    for i in 0..6 {
        calls.push((k.token.clone(), format!("up{i}.example"), "premium"));
    }
    let won = burst(&apps, &calls).await;
    let count = |plan: &str| {
        calls
            .iter()
            .zip(&won)
            .filter(|(c, w)| c.2 == plan && **w)
            .count()
    };
    assert_eq!(
        count("premium"),
        5,
        "premium successes: {:?}",
        calls.iter().zip(&won).collect::<Vec<_>>()
    );
    assert_eq!(
        count("jetpack-scan"),
        24,
        "an unlimited product was refused"
    );

    let listed = listed(app, k.key_id);
    assert_eq!(live(&listed, "premium"), 5, "{listed:?}");
    assert_eq!(live(&listed, "jetpack-scan"), 24, "{listed:?}");
    // A won upgrade superseded its personal; a refused one left it live.
    let upgraded = calls
        .iter()
        .zip(&won)
        .filter(|(c, w)| c.1.starts_with("up") && **w)
        .count();
    assert_eq!(live(&listed, "personal"), 6 - upgraded as i64, "{listed:?}");
    // A refused provision registered no site.
    let new_premium = count("premium") - upgraded;
    assert_eq!(
        site_rows(&app.db).await,
        (6 + 24 + new_premium) as i64,
        "sites"
    );
    let path = crate::reporting::list_path(owner.partner_id, k.key_id, "?per_page=1");
    let (status, body) = crate::reporting::get(app, &k.token, &path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], 6 + 24 + 5, "the reporting total");
    // Still exactly at the limit: one more premium is refused, scan is not.
    let (s, b) = provision(&apps[servers_n - 1], &k.token, "late.example", "premium").await;
    assert_error(s, &b, 400, "activation_limit_reached");
    let (s, b) = provision(
        &apps[servers_n - 1],
        &k.token,
        "late.example",
        "jetpack-scan",
    )
    .await;
    assert_eq!(s, 200, "{b}");
}

/// (c) A sub-key's own limit under an unlimited parent: each sub-key's is
/// exact on its own, and neither limits the parent.
async fn own_limits_of_sub_keys(db: Db, servers_n: usize) {
    let apps = servers(db, servers_n).await;
    let app = &apps[0];
    let p = app.partner("Unlimited parent").await;
    let a = sub_key(
        app,
        &p,
        &[
            ("allowed_premium_plans", "3"),
            ("allowed_jetpack-scan_plans", "100"),
        ],
    )
    .await;
    let b = sub_key(app, &p, &[("allowed_premium_plans", "2")]).await;
    let mut calls = Vec::new();
    for i in 0..16 {
        calls.push((a.token.clone(), format!("a{i}.example"), "premium"));
        calls.push((b.token.clone(), format!("b{i}.example"), "premium"));
        calls.push((a.token.clone(), format!("as{i}.example"), "jetpack-scan"));
    }
    for i in 0..8 {
        calls.push((p.token.clone(), format!("p{i}.example"), "premium"));
    }
    let won = burst(&apps, &calls).await;
    let count = |token: &str, plan: &str| {
        calls
            .iter()
            .zip(&won)
            .filter(|(c, w)| c.0 == token && c.2 == plan && **w)
            .count()
    };
    assert_eq!(count(&a.token, "premium"), 3, "sub-key a (premium=3)");
    assert_eq!(count(&b.token, "premium"), 2, "sub-key b (premium=2)");
    assert_eq!(count(&a.token, "jetpack-scan"), 16, "sub-key a (scan=100)");
    assert_eq!(count(&p.token, "premium"), 8, "the unlimited parent");
    for (key, want) in [(a.key_id, 3), (b.key_id, 2), (p.key_id, 8)] {
        assert_eq!(live(&listed(app, key), "premium"), want, "key {key}");
    }
    assert_eq!(
        listed(app, p.key_id).live_with_sub_keys.get("premium"),
        Some(&13)
    );
}

/// Live premiums of these keys, in one statement (a consistent snapshot).
async fn family_live(conn: &mut sqlx::AnyConnection, keys: &str) -> i64 {
    let sql = format!(
        "SELECT COUNT(*) AS n FROM activations WHERE product = 'premium' \
         AND state IN ('pending', 'active') AND key_id IN ({keys})"
    );
    sqlx::query(&sql).fetch_one(conn).await.unwrap().get("n")
}

both_backends! {
    async fn a_limited_product_beside_unlimited_ones(db: Db) {
        limited_beside_unlimited(db, 1).await;
    }

    async fn a_limited_product_beside_unlimited_ones_on_two_servers(db: Db) {
        limited_beside_unlimited(db, 2).await;
    }

    async fn sub_keys_own_limits_are_exact(db: Db) {
        own_limits_of_sub_keys(db, 1).await;
    }

    async fn sub_keys_own_limits_are_exact_on_two_servers(db: Db) {
        own_limits_of_sub_keys(db, 2).await;
    }

    /// (b) A parent limited to premium=4 and three sub-keys (4 each), on two
    /// servers: provisions, then provisions racing cancels, while a sampler
    /// reads the family's live count; then the free slots are filled one by
    /// one and must be exactly what the limit leaves.
    async fn a_key_family_never_holds_more_than_the_parents_limit(db: Db) {
        const LIMIT: i64 = 4;
        let apps = servers(db, 2).await;
        let app = &apps[0];
        let owner = app.partner("Family").await;
        let parent = app.key(owner.partner_id, &["--limit", "premium=4"]).await;
        let mut family = vec![parent.clone()];
        for _ in 0..3 {
            family.push(sub_key(app, &parent, &[("allowed_premium_plans", "4")]).await);
        }
        let ids = family.iter().map(|k| k.key_id.to_string()).collect::<Vec<_>>().join(",");
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (db, ids, stop) = (app.db.share(), ids.clone(), stop.clone());
            tokio::spawn(async move {
                let mut conn = rawdb::connect(&db).await;
                let mut samples = 0;
                while !stop.load(Ordering::Relaxed) {
                    let n = family_live(&mut conn, &ids).await;
                    assert!(n <= LIMIT, "the family held {n} premiums at once");
                    samples += 1;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                samples
            })
        };

        // Round 1: 40 provisions, exactly the limit succeed.
        let calls: Vec<_> = (0..40).map(|i| (family[i % 4].token.clone(), format!("f1-{i}.example"), "premium")).collect();
        let won = burst(&apps, &calls).await;
        let first: Vec<_> = calls.iter().zip(&won).filter(|(_, w)| **w).map(|(c, _)| c.clone()).collect();
        assert_eq!(first.len() as i64, LIMIT, "round 1");

        // Round 2: the winners cancel while 40 more provisions race them.
        let cancels = first.iter().enumerate().map(|(i, (token, site, _))| {
            let (app, token, site) = (apps[i % 2].clone(), token.clone(), site.clone());
            tokio::spawn(async move {
                let (status, body) = app.cancel(&token, &site, &[]).await;
                assert!(ok::<CancelResponse>(status, &body).success, "cancel {site}: {body}");
            })
        });
        let cancels: Vec<_> = cancels.collect();
        let calls: Vec<_> = (0..40).map(|i| (family[i % 4].token.clone(), format!("f2-{i}.example"), "premium")).collect();
        let won = burst(&apps, &calls).await;
        join_all(cancels).await.into_iter().for_each(|r| r.expect("a cancel's checks failed"));
        let second = won.iter().filter(|w| **w).count() as i64;
        assert!(second <= LIMIT, "round 2: {second} successes");
        stop.store(true, Ordering::Relaxed);
        let samples = sampler.await.expect("the sampler saw the limit exceeded");
        assert!(samples > 0);

        let mut conn = rawdb::connect(&app.db).await;
        assert_eq!(family_live(&mut conn, &ids).await, second, "live after round 2");
        // Round 3, one at a time: the limit leaves exactly LIMIT - second
        // slots, whichever key and server asks.
        let mut third = 0;
        for i in 0..(LIMIT + 2) as usize {
            let server = &apps[i % 2];
            let (s, b) = provision(server, &family[(i + 1) % 4].token, &format!("f3-{i}.example"), "premium").await;
            if s == 200 {
                third += 1;
            } else {
                assert_error(s, &b, 400, "activation_limit_reached");
            }
        }
        assert_eq!(second + third, LIMIT, "slots left after the race: round 2 took {second}, round 3 got {third}");
        let listed = listed(app, parent.key_id);
        assert_eq!(listed.live_with_sub_keys.get("premium"), Some(&LIMIT), "{listed:?}");
    }
}

/// The point of issue 17 on PostgreSQL: a provision of a product no limit
/// applies to does not wait for its key's row. A raw transaction holds the
/// row (as a concurrent limited provision of the same key would); the
/// unlimited provision must still be answered.
#[tokio::test]
async fn an_unlimited_provision_does_not_wait_for_its_keys_row() {
    use sqlx::Connection;
    let Some(db) = Db::postgres().await else {
        return postgres_skipped();
    };
    let app = TestApp::spawn(db).await;
    let owner = app.partner("Unlocked").await;
    let k = app.key(owner.partner_id, &["--limit", "premium=5"]).await;
    let mut conn = sqlx::postgres::PgConnection::connect(&app.db.url)
        .await
        .unwrap();
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SELECT id FROM keys WHERE id = $1 FOR NO KEY UPDATE")
        .bind(k.key_id as i64)
        .execute(&mut *tx)
        .await
        .unwrap();
    let answer = tokio::time::timeout(
        Duration::from_secs(5),
        provision(&app, &k.token, "unlocked.example", "jetpack-scan"),
    )
    .await;
    tx.rollback().await.unwrap();
    let (status, body) = answer.expect("the unlimited provision waited for the key's row lock");
    assert_eq!(status, 200, "{body}");
}
