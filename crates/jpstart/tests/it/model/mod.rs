//! Issue 4, the property test: random sequences of provision, upgrade,
//! cancel, connect and operator-grant operations on three sites by three keys
//! (two partners; one of them has two keys, since cancelling is per key and
//! status per partner), against the real server, checked after every step
//! against a model the test keeps.
//!
//! The model applies the SPEC §5 rules itself, from its own copy of the
//! catalogue table (SPEC §4); it never calls the server's rules. After every
//! operation the response must be the model's, and the v1.4 and v1.3 status
//! and the upgrade paths of the touched site, from every key, must be what
//! the model says; no status ever lists two products of one family. At the
//! end of each case the operator's list of activations must match the model's
//! history row by row: every activation's final state, so a cancel by one key
//! can never have touched another key's activation.

mod spec;

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;

use crate::common::*;
use crate::lifecycle::*;
use spec::*;

// --- Operations ---

#[derive(Debug, Clone)]
enum Op {
    Provision {
        key: usize,
        site: usize,
        product: usize,
        force_connect: bool,
    },
    /// Provision the next tier above what the site has in a family.
    Upgrade {
        key: usize,
        site: usize,
        family: usize,
    },
    Cancel {
        key: usize,
        site: usize,
        by_blog_id: bool,
        target: Target,
    },
    /// The site owner approves (operator `site connect`).
    Connect { site: usize },
    /// The operator grants a product outside the partner API.
    Grant { site: usize, product: usize },
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS;
    let site = 0..SITES;
    prop_oneof![
        5 => (key.clone(), site.clone(), 0..PRODUCTS.len(), prop::bool::weighted(0.1))
            .prop_map(|(key, site, product, force_connect)| Op::Provision { key, site, product, force_connect }),
        2 => (key.clone(), site.clone(), 0..FAMILIES.len())
            .prop_map(|(key, site, family)| Op::Upgrade { key, site, family }),
        4 => (key, site.clone(), any::<bool>(), prop_oneof![
                Just(Target::Plans),
                (0..PRODUCTS.len()).prop_map(Target::Product),
                Just(Target::All),
            ])
            .prop_map(|(key, site, by_blog_id, target)| Op::Cancel { key, site, by_blog_id, target }),
        2 => site.clone().prop_map(|site| Op::Connect { site }),
        1 => (site, 0..PRODUCTS.len()).prop_map(|(site, product)| Op::Grant { site, product }),
    ]
}

// --- Running a case against the server ---

struct World<'a> {
    app: &'a TestApp,
    keys: [Partner; KEYS],
    urls: Vec<String>,
    idents: Vec<String>,
}

fn fail(msg: String) -> TestCaseError {
    TestCaseError::fail(msg)
}

fn products_of(v: &Value, field: &str) -> Vec<String> {
    v[field]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| x["product"].as_str().unwrap_or("?").to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn step(w: &World<'_>, m: &mut Model, op: &Op) -> Result<usize, TestCaseError> {
    let (site, expect, got) = match op {
        Op::Provision {
            key,
            site,
            product,
            force_connect,
        } => {
            let slug = PRODUCTS[*product].0;
            let (site, key) = (*site, *key);
            let expect = m.provision(key, site, slug, *force_connect);
            let (got, blog) = provision(w, key, site, slug, *force_connect).await;
            m.sites[site].blog_id = m.sites[site].blog_id.or(blog);
            (site, expect, got)
        }
        Op::Upgrade { key, site, family } => {
            let slug = m.upgrade_target(*site, FAMILIES[*family]);
            let (site, key) = (*site, *key);
            let expect = m.provision(key, site, slug, false);
            let (got, blog) = provision(w, key, site, slug, false).await;
            m.sites[site].blog_id = m.sites[site].blog_id.or(blog);
            (site, expect, got)
        }
        Op::Cancel {
            key,
            site,
            by_blog_id,
            target,
        } => {
            let address = match (by_blog_id, m.sites[*site].blog_id) {
                (true, Some(id)) => id.to_string(),
                _ => w.idents[*site].clone(),
            };
            let fields: Vec<(&str, &str)> = match target {
                Target::Plans => vec![],
                Target::Product(p) => vec![("plan", PRODUCTS[*p].0)],
                Target::All => vec![("cancel-all", "1")],
            };
            let expect = m.cancel(*key, *site, target);
            let (status, body) = w.app.cancel(&w.keys[*key].token, &address, &fields).await;
            let got = if status == 200 {
                Expect::Cancelled {
                    success: body["success"] == true,
                    active: products_of(&body, "activations"),
                    pending: products_of(&body, "pending_activations"),
                }
            } else {
                error_of(status.as_u16(), &body)
            };
            if matches!(target, Target::All) && body["success"] == true {
                prop_assert!(
                    body["activations"].is_array() && body["pending_activations"].is_array(),
                    "{body}"
                );
            } else if status == 200 {
                prop_assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{}", body);
            }
            (*site, expect, got)
        }
        Op::Connect { site } => {
            let site = *site;
            let res = w.app.admin(&["site", "connect", &w.idents[site]]);
            match (m.sites[site].known, res) {
                (true, Ok(_)) => m.connect(site),
                (false, Err(_)) => {}
                (known, res) => {
                    return Err(fail(format!("connect {site} (known {known}): {res:?}")))
                }
            }
            return Ok(site);
        }
        Op::Grant { site, product } => {
            let (site, slug) = (*site, PRODUCTS[*product].0);
            let url = format!("https://{}", w.urls[site]);
            let res = w.app.admin(&["site", "grant", &url, "--product", slug]);
            let granted = m.grant(site, slug);
            prop_assert_eq!(
                res.is_ok(),
                granted,
                "grant {} to {}: {:?}",
                slug,
                site,
                res
            );
            return Ok(site);
        }
    };
    prop_assert_eq!(got, expect, "after {:?}", op);
    Ok(site)
}

fn error_of(status: u16, body: &Value) -> Expect {
    let code = body["error"].as_str().unwrap_or("?");
    let known = [
        "product_owned_by_another_partner",
        "plan_downgrade_disallowed",
        "product_already_included",
        "incorrect_partner_key",
        "not_jps_plan",
        "forbidden",
    ];
    match known.iter().find(|k| **k == code) {
        Some(k) => Expect::Error(status, k),
        None => Expect::Error(status, "unexpected error"),
    }
}

/// The provision's outcome, and the site's blog id when it succeeded.
async fn provision(
    w: &World<'_>,
    key: usize,
    site: usize,
    slug: &str,
    force_connect: bool,
) -> (Expect, Option<u64>) {
    let siteurl = format!("https://{}", w.urls[site]);
    let mut fields = vec![
        ("siteurl", siteurl.as_str()),
        ("local_user", "admin"),
        ("plan", slug),
    ];
    if force_connect {
        fields.push(("force_connect", "1"));
    }
    let (status, body) = w.app.provision(&w.keys[key].token, &fields).await;
    if status == 200 && body["success"] == true {
        let got = Expect::Provisioned {
            auth_required: body["auth_required"] == true,
        };
        (got, Some(w.app.blog_id(&siteurl)))
    } else {
        (error_of(status.as_u16(), &body), None)
    }
}

/// The status of one site from both keys, in both shapes, against the model.
async fn check_status(w: &World<'_>, m: &Model, site: usize) -> Result<(), TestCaseError> {
    for caller in 0..KEYS {
        let token = &w.keys[caller].token;
        let (s, text) = send_text(w.app.get(
            &format!("/rest/v1.4/jpphp/{}/status", w.idents[site]),
            token,
        ))
        .await;
        let (_, paths) = send_text(w.app.get(
            &format!("/rest/v1.3/jpphp/{}/upgrade-paths", w.idents[site]),
            token,
        ))
        .await;
        prop_assert_eq!(
            &paths,
            &m.upgrade_paths(site, caller).to_string(),
            "upgrade paths of site {} for key {}",
            site,
            caller
        );
        if !m.sites[site].known {
            prop_assert_eq!(s, 403, "status of an unknown site: {}", text);
            continue;
        }
        prop_assert_eq!(s, 200, "{}", text);
        prop_assert_eq!(
            &text,
            &m.status_v14(site, caller).to_string(),
            "v1.4 of site {} for key {}",
            site,
            caller
        );
        // Independently of the model: one live product per family at most.
        let v: Value = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
        let mut families: Vec<&str> = v["products"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| product(p["slug"].as_str().unwrap_or("free")).1)
            .collect();
        let n = families.len();
        families.sort_unstable();
        families.dedup();
        prop_assert_eq!(
            families.len(),
            n,
            "two live products in one family: {}",
            text
        );
        let (_, text) = send_text(w.app.get(
            &format!("/rest/v1.3/jpphp/{}/status", w.idents[site]),
            token,
        ))
        .await;
        prop_assert_eq!(
            &text,
            &m.status_v13(site, caller).to_string(),
            "v1.3 of site {} for key {}",
            site,
            caller
        );
    }
    Ok(())
}

/// Every activation of the case's sites, as the operator sees them, against
/// the model's history.
fn check_history(w: &World<'_>, m: &Model) -> Result<(), TestCaseError> {
    let all = w.app.admin(&["activations"]).map_err(fail)?;
    let rows: Vec<(String, String, String, Option<u64>)> = all
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| w.idents.iter().any(|i| a["site"] == i.as_str()))
        .map(|a| {
            (
                a["site"].as_str().unwrap_or("?").to_string(),
                a["product"].as_str().unwrap_or("?").to_string(),
                a["state"].as_str().unwrap_or("?").to_string(),
                a["key_id"].as_u64(),
            )
        })
        .collect();
    let want: Vec<(String, String, String, Option<u64>)> = m
        .acts
        .iter()
        .map(|a| {
            (
                w.idents[a.site].clone(),
                a.product.to_string(),
                a.state.name().to_string(),
                a.key.map(|k| w.keys[k].key_id),
            )
        })
        .collect();
    prop_assert_eq!(&rows, &want);
    for site in &w.idents {
        for family in FAMILIES {
            let live = rows
                .iter()
                .filter(|r| {
                    &r.0 == site
                        && product(&r.1).1 == family
                        && (r.2 == "active" || r.2 == "pending")
                })
                .count();
            prop_assert!(
                live <= 1,
                "{} has {} live {} activations",
                site,
                live,
                family
            );
        }
    }
    Ok(())
}

async fn run_case(
    app: &TestApp,
    keys: &[Partner; KEYS],
    case: usize,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let urls: Vec<String> = (0..SITES)
        .map(|i| format!("site{i}.example/case{case}"))
        .collect();
    let idents = urls.iter().map(|u| u.replace('/', "::")).collect();
    let w = World {
        app,
        keys: keys.clone(),
        urls,
        idents,
    };
    let mut m = Model::default();
    for op in ops {
        let site = step(&w, &mut m, op).await?;
        check_status(&w, &m, site).await?;
    }
    check_history(&w, &m)
}

both_backends! {
    async fn status_agrees_with_the_model(db: Db) {
        let app = TestApp::spawn(db).await;
        let acme = app.partner("Acme").await;
        let acme2 = app.key(acme.partner_id, &[]).await;
        let keys = [acme, app.partner("Bravo").await, acme2];
        let cases = AtomicUsize::new(0);
        let mut runner = TestRunner::new(Config {
            cases: 24,
            max_shrink_iters: 200,
            failure_persistence: None,
            ..Config::default()
        });
        let handle = tokio::runtime::Handle::current();
        let result = tokio::task::block_in_place(|| {
            runner.run(&prop::collection::vec(op(), 8..=25), |ops| {
                let case = cases.fetch_add(1, Ordering::Relaxed);
                handle.block_on(run_case(&app, &keys, case, &ops))
            })
        });
        if let Err(e) = result {
            panic!("{e}");
        }
        assert!(cases.load(Ordering::Relaxed) >= 24);
    }
}
