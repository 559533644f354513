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

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Value};

use crate::common::*;
use crate::lifecycle::*;

// --- The catalogue, as SPEC §4 tabulates it ---

const PLANS: &str = "jetpack-plans";
/// (slug, family, tier).
const PRODUCTS: [(&str, &str, u8); 8] = [
    ("free", PLANS, 0),
    ("personal", PLANS, 1),
    ("premium", PLANS, 2),
    ("professional", PLANS, 3),
    ("jetpack-backup-daily", "jetpack-backup", 0),
    ("jetpack-backup-realtime", "jetpack-backup", 1),
    ("jetpack-scan", "jetpack-scan", 0),
    ("jetpack-anti-spam", "jetpack-anti-spam", 0),
];
/// In the order the upstream upgrade-paths example lists them.
const FAMILIES: [&str; 4] = ["jetpack-backup", PLANS, "jetpack-scan", "jetpack-anti-spam"];

fn includes(slug: &str) -> &'static [&'static str] {
    match slug {
        "personal" => &["jetpack-backup-daily", "jetpack-anti-spam"],
        "premium" => &["jetpack-backup-daily", "jetpack-scan", "jetpack-anti-spam"],
        "professional" => &[
            "jetpack-backup-realtime",
            "jetpack-scan",
            "jetpack-anti-spam",
        ],
        _ => &[],
    }
}

fn product(slug: &str) -> (&'static str, &'static str, u8) {
    *PRODUCTS
        .iter()
        .find(|p| p.0 == slug)
        .expect("slug of the table")
}

// --- Operations ---

const SITES: usize = 3;
/// Keys 0 and 2 belong to one partner, key 1 to another.
const KEYS: usize = 3;
const PARTNER_OF: [usize; KEYS] = [0, 1, 0];

/// Whether activation owner `key` belongs to the calling key's partner.
fn same_partner(key: Option<usize>, caller: usize) -> bool {
    key.is_some_and(|k| PARTNER_OF[k] == PARTNER_OF[caller])
}

#[derive(Debug, Clone)]
enum Target {
    /// No `plan`: the plans family.
    Plans,
    Product(usize),
    All,
}

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

// --- The model ---

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Active,
    Cancelled,
    Superseded,
}

impl State {
    fn live(self) -> bool {
        matches!(self, State::Pending | State::Active)
    }

    fn name(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Active => "active",
            State::Cancelled => "cancelled",
            State::Superseded => "superseded",
        }
    }
}

#[derive(Debug, Clone)]
struct Act {
    site: usize,
    product: &'static str,
    /// `None`: granted by the operator.
    key: Option<usize>,
    state: State,
}

#[derive(Debug, Clone, Default)]
struct SiteModel {
    /// Registered (by a provision or a grant).
    known: bool,
    /// Learnt from a provision response.
    blog_id: Option<u64>,
    connected: bool,
}

#[derive(Debug, Clone, Default)]
struct Model {
    sites: [SiteModel; SITES],
    /// Every activation ever created, in creation (= id) order.
    acts: Vec<Act>,
}

/// What the server must answer.
#[derive(Debug, PartialEq)]
enum Expect {
    Provisioned {
        auth_required: bool,
    },
    Error(u16, &'static str),
    Cancelled {
        success: bool,
        active: Vec<String>,
        pending: Vec<String>,
    },
}

impl Model {
    fn live(&self, site: usize) -> impl Iterator<Item = (usize, &Act)> {
        self.acts
            .iter()
            .enumerate()
            .filter(move |(_, a)| a.site == site && a.state.live())
    }

    /// SPEC §5 provision rules, in the SPEC's order. A refusal changes
    /// nothing (not even `force_connect`).
    fn provision(
        &mut self,
        key: usize,
        site: usize,
        slug: &'static str,
        force_connect: bool,
    ) -> Expect {
        let (_, family, tier) = product(slug);
        let live: Vec<(usize, Act)> = self.live(site).map(|(i, a)| (i, a.clone())).collect();
        // None: already live from this key; Some(x): create, superseding x.
        let create: Option<Option<usize>> = match live.iter().find(|(_, a)| a.product == slug) {
            Some((_, same)) if same.key == Some(key) => None,
            Some(_) => return Expect::Error(400, "product_owned_by_another_partner"),
            None => {
                let same_family = live.iter().find(|(_, a)| product(a.product).1 == family);
                if same_family.is_some_and(|(_, a)| product(a.product).2 > tier) {
                    return Expect::Error(400, "plan_downgrade_disallowed");
                }
                let included = live.iter().any(|(_, a)| {
                    product(a.product).1 != family
                        && includes(a.product).iter().any(|inc| {
                            let (_, f, t) = product(inc);
                            f == family && t >= tier
                        })
                });
                if included {
                    return Expect::Error(400, "product_already_included");
                }
                match same_family {
                    // A lower tier of another key's: not ours to upgrade.
                    Some((_, a)) if a.key != Some(key) => {
                        return Expect::Error(400, "product_owned_by_another_partner")
                    }
                    Some((i, _)) => Some(Some(*i)),
                    None => Some(None),
                }
            }
        };
        self.sites[site].known = true;
        if force_connect {
            self.sites[site].connected = false;
        }
        if let Some(supersede) = create {
            if let Some(i) = supersede {
                self.acts[i].state = State::Superseded;
            }
            let state = if self.sites[site].connected {
                State::Active
            } else {
                State::Pending
            };
            self.acts.push(Act {
                site,
                product: slug,
                key: Some(key),
                state,
            });
        }
        Expect::Provisioned {
            auth_required: !self.sites[site].connected,
        }
    }

    fn upgrade_target(&self, site: usize, family: &str) -> &'static str {
        let mut in_family: Vec<_> = PRODUCTS.iter().filter(|p| p.1 == family).collect();
        in_family.sort_by_key(|p| p.2);
        let current = self
            .live(site)
            .find(|(_, a)| product(a.product).1 == family);
        let next = match current {
            Some((_, a)) => in_family.iter().find(|p| p.2 > product(a.product).2),
            None => in_family.iter().find(|p| p.2 > 0).or(in_family.first()),
        };
        next.or(in_family.last()).expect("families are not empty").0
    }

    fn cancel(&mut self, key: usize, site: usize, target: &Target) -> Expect {
        let nothing = Expect::Cancelled {
            success: false,
            active: vec![],
            pending: vec![],
        };
        let found: Vec<usize> = match target {
            // Only the caller's: never the operator's, never another key's.
            Target::All => self
                .live(site)
                .filter(|(_, a)| a.key == Some(key))
                .map(|(i, _)| i)
                .collect(),
            Target::Plans | Target::Product(_) => {
                let hit = self.live(site).find(|(_, a)| match target {
                    Target::Product(p) => a.product == PRODUCTS[*p].0,
                    _ => product(a.product).1 == PLANS,
                });
                match hit {
                    None => vec![],
                    Some((_, a)) if a.key.is_none() => return Expect::Error(400, "not_jps_plan"),
                    Some((_, a)) if a.key != Some(key) => {
                        return Expect::Error(403, "incorrect_partner_key")
                    }
                    Some((i, _)) => vec![i],
                }
            }
        };
        if found.is_empty() {
            return nothing;
        }
        let (mut active, mut pending) = (vec![], vec![]);
        for i in found {
            let a = &mut self.acts[i];
            match a.state {
                State::Active => active.push(a.product.to_string()),
                _ => pending.push(a.product.to_string()),
            }
            a.state = State::Cancelled;
        }
        if matches!(target, Target::All) {
            Expect::Cancelled {
                success: true,
                active,
                pending,
            }
        } else {
            Expect::Cancelled {
                success: true,
                active: vec![],
                pending: vec![],
            }
        }
    }

    /// The operator's grant: refused when the family is live, else active.
    fn grant(&mut self, site: usize, slug: &'static str) -> bool {
        let family = product(slug).1;
        if self.live(site).any(|(_, a)| product(a.product).1 == family) {
            return false;
        }
        self.sites[site].known = true;
        self.acts.push(Act {
            site,
            product: slug,
            key: None,
            state: State::Active,
        });
        true
    }

    /// Per family, the slugs a provision by `caller` would create now.
    fn upgrade_paths(&self, site: usize, caller: usize) -> Value {
        let mut map = serde_json::Map::new();
        for family in FAMILIES {
            let slugs: Vec<&str> = PRODUCTS
                .iter()
                .filter(|p| p.1 == family && p.0 != "free")
                .filter(|p| {
                    let mut trial = self.clone();
                    trial.provision(caller, site, p.0, false);
                    trial.acts.len() > self.acts.len()
                })
                .map(|p| p.0)
                .collect();
            map.insert(family.to_string(), json!(slugs));
        }
        Value::Object(map)
    }

    fn connect(&mut self, site: usize) {
        self.sites[site].connected = true;
        for a in self
            .acts
            .iter_mut()
            .filter(|a| a.site == site && a.state == State::Pending)
        {
            a.state = State::Active;
        }
    }

    fn status_v14(&self, site: usize, caller: usize) -> Value {
        let products: Vec<Value> = self
            .live(site)
            .map(|(_, a)| {
                json!({
                    "slug": a.product,
                    "is_provisioned_by_partner": a.key.is_some(),
                    "is_provisioned_by_calling_partner": same_partner(a.key, caller),
                    "is_pending": a.state == State::Pending,
                })
            })
            .collect();
        json!({
            "blog": {"is_connected": self.sites[site].connected, "has_backups_credentials": false},
            "products": products,
        })
    }

    fn status_v13(&self, site: usize, caller: usize) -> Value {
        let plan = self
            .live(site)
            .find(|(_, a)| product(a.product).1 == PLANS)
            .map(|(_, a)| a);
        let products: Vec<Value> = self
            .live(site)
            .filter(|(_, a)| product(a.product).1 != PLANS)
            .map(|(_, a)| {
                json!({
                    "product": a.product,
                    "is_partner_product": a.key.is_some(),
                    "has_pending_product": a.state == State::Pending,
                    "is_provisioned_by_calling_partner": same_partner(a.key, caller),
                })
            })
            .collect();
        json!({
            "plan": plan.map_or("", |a| a.product),
            "is_partner_plan": plan.is_some_and(|a| a.key.is_some()),
            "is_provisioned_by_calling_partner": plan.is_some_and(|a| same_partner(a.key, caller)),
            "is_connected": self.sites[site].connected,
            "has_pending_plan": plan.is_some_and(|a| a.state == State::Pending),
            "has_backups_credentials": false,
            "products": products,
        })
    }
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
        (got, body["blog_id"].as_u64())
    } else {
        (error_of(status.as_u16(), &body), None)
    }
}

/// The status of one site from both keys, in both shapes, against the model.
async fn check_status(w: &World<'_>, m: &Model, site: usize) -> Result<(), TestCaseError> {
    for caller in 0..KEYS {
        let token = &w.keys[caller].token;
        let (s, text) = raw(w.app.get(
            &format!("/rest/v1.4/jpphp/{}/status", w.idents[site]),
            token,
        ))
        .await;
        let (_, paths) = raw(w.app.get(
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
        let (_, text) = raw(w.app.get(
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
