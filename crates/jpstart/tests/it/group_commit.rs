//! Issue 17: what group commit must keep. Concurrent write requests may share
//! one transaction and one sync, but each is still its own unit of work: a
//! refusal undoes only its own writes (a new site it registered included),
//! never a neighbour's, and every 2xx is acknowledged only once it is on
//! disk, so the server's own next read sees it and a `kill -9` cannot take
//! it back.
//!
//! `neighbours_of_a_refusal_keep_their_writes` fires one key's mixed batch
//! at once; `acknowledged_concurrent_writes_survive_kill_9` floods one
//! server from many tasks and kills it mid-flood (crash.rs kills under the
//! load of four sequential clients; this is the wide-batch case).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jpstart_types::wire::{AdminActivation, CancelResponse, ProvisionResponse};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Row;

use crate::common::*;
use crate::rawdb;

/// The premium limit of the key under test in the mixed batch.
const PREMIUM_LIMIT: usize = 4;

/// One request of the batch and what it may answer.
#[derive(Clone, Debug)]
struct Call {
    cancel: bool,
    site: String,
    plan: &'static str,
    want: Want,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// 200 and a new activation.
    Created,
    /// 200 or `activation_limit_reached`: which of the racers win is open,
    /// how many is not.
    Racer,
    /// 200, nothing new (the product is already live from this key).
    Retry,
    /// 200 `success:true`: the live activation is cancelled.
    Cancelled,
    /// This refusal, and nothing changed.
    Refused(u16, &'static str),
}

fn call(cancel: bool, site: String, plan: &'static str, want: Want) -> Call {
    Call {
        cancel,
        site,
        plan,
        want,
    }
}

fn url(site: &str) -> String {
    format!("https://{site}")
}

/// (site, product, state, key) of every activation, sorted.
fn rows(acts: &[AdminActivation]) -> Vec<(String, String, String, Option<u64>)> {
    let mut v: Vec<_> = acts
        .iter()
        .map(|a| (a.site.clone(), a.product.clone(), a.state.clone(), a.key_id))
        .collect();
    v.sort();
    v
}

/// Every event, per activation, in id order: (from, to).
async fn events(db: &Db) -> BTreeMap<i64, Vec<(Option<String>, String)>> {
    let mut conn = rawdb::connect(db).await;
    let mut out: BTreeMap<i64, Vec<_>> = BTreeMap::new();
    for r in sqlx::query("SELECT activation_id, from_state, to_state FROM events ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap()
    {
        out.entry(r.get::<i64, _>(0))
            .or_default()
            .push((r.get(1), r.get(2)));
    }
    out
}

async fn site_rows(db: &Db) -> i64 {
    let mut conn = rawdb::connect(db).await;
    sqlx::query("SELECT COUNT(*) AS n FROM sites")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get("n")
}

/// Asserts that every activation has exactly the events of its state:
/// created pending, and cancelled on top for a cancelled one.
async fn assert_event_history(db: &Db, acts: &[AdminActivation]) {
    let mut events = events(db).await;
    let created = (None, "pending".to_string());
    let cancelled = (Some("pending".to_string()), "cancelled".to_string());
    for a in acts {
        let want = match a.state.as_str() {
            "pending" => vec![created.clone()],
            "cancelled" => vec![created.clone(), cancelled.clone()],
            other => panic!("unexpected state {other}: {a:?}"),
        };
        let id = i64::try_from(a.id).unwrap();
        assert_eq!(
            events.remove(&id).unwrap_or_default(),
            want,
            "events of {a:?}"
        );
    }
    assert!(events.is_empty(), "events of no activation: {events:?}");
}

/// The key's reporting total (SPEC §8: every activation of the key, every state).
async fn reporting_total(app: &TestApp, k: &Partner) -> u64 {
    let path = crate::reporting::list_path(k.partner_id, k.key_id, "?per_page=1");
    let (status, body) = crate::reporting::get(app, &k.token, &path).await;
    assert_eq!(status, 200, "{body}");
    body["total"].as_u64().unwrap()
}

/// The live products the key sees on a site (the server's own read).
async fn live_products(app: &TestApp, token: &str, site: &str) -> Vec<String> {
    let st = app.status_ok(token, site).await;
    st.products
        .iter()
        .filter(|p| p.is_provisioned_by_calling_partner)
        .map(|p| p.slug.clone())
        .collect()
}

/// Runs one call and checks its answer against what it may answer; then,
/// for a 2xx, that the same server reads it back at once. Returns whether
/// it changed something.
async fn send_call(app: &TestApp, token: &str, c: &Call) -> bool {
    let (status, body) = if c.cancel {
        app.cancel(token, &c.site, &[("plan", c.plan)]).await
    } else {
        let url = url(&c.site);
        app.provision(
            token,
            &[("siteurl", &url), ("local_user", "admin"), ("plan", c.plan)],
        )
        .await
    };
    let won = match c.want {
        Want::Refused(s, code) => {
            assert_error(status, &body, s, code);
            return false;
        }
        Want::Racer if status != StatusCode::OK => {
            assert_error(status, &body, 400, "activation_limit_reached");
            return false;
        }
        Want::Cancelled => {
            assert!(ok::<CancelResponse>(status, &body).success, "{c:?}: {body}");
            true
        }
        Want::Created | Want::Racer | Want::Retry => {
            assert!(
                ok::<ProvisionResponse>(status, &body).success,
                "{c:?}: {body}"
            );
            c.want != Want::Retry
        }
    };
    let live = live_products(app, token, &c.site).await;
    assert_eq!(
        live.contains(&c.plan.to_string()),
        !c.cancel,
        "{c:?} was acknowledged but the server reads {live:?}"
    );
    won
}

/// A provision of the setup, before the batch.
async fn seed(app: &TestApp, token: &str, site: &str, plan: &str) {
    let url = url(site);
    app.provision_ok(
        token,
        &[("siteurl", &url), ("local_user", "admin"), ("plan", plan)],
    )
    .await;
}

/// The batch (and its setup, sequential, before it): provisions that
/// create, racers for the last premium slots, retries, cancels, and four
/// kinds of refusal, two of them for new sites (nothing may be registered).
async fn batch(app: &TestApp, k: &Partner, other: &Partner) -> Vec<Call> {
    let (scan, backup) = ("jetpack-scan", "jetpack-backup-daily");
    let mut calls = Vec::new();
    for i in 0..20 {
        calls.push(call(
            false,
            format!("gc-new{i}.example"),
            scan,
            Want::Created,
        ));
    }
    for i in 0..12 {
        let site = format!("gc-race{i}.example");
        calls.push(call(false, site, "premium", Want::Racer));
    }
    for i in 0..4 {
        let want = Want::Refused(400, "invalid_plan");
        calls.push(call(false, format!("gc-bad{i}.example"), "gold", want));
    }
    for i in 0..6 {
        let site = format!("gc-theirs{i}.example");
        seed(app, &other.token, &site, scan).await;
        let want = Want::Refused(400, "product_owned_by_another_partner");
        calls.push(call(false, site, scan, want));
    }
    for i in 0..4 {
        let site = format!("gc-theirs-cancel{i}.example");
        seed(app, &other.token, &site, scan).await;
        let want = Want::Refused(403, "incorrect_partner_key");
        calls.push(call(true, site, scan, want));
    }
    for i in 0..6 {
        let site = format!("gc-pro{i}.example");
        seed(app, &k.token, &site, "professional").await;
        let want = Want::Refused(400, "plan_downgrade_disallowed");
        calls.push(call(false, site, "personal", want));
    }
    for i in 0..4 {
        let site = format!("gc-again{i}.example");
        seed(app, &k.token, &site, "jetpack-anti-spam").await;
        calls.push(call(false, site, "jetpack-anti-spam", Want::Retry));
    }
    for i in 0..10 {
        let site = format!("gc-cancel{i}.example");
        seed(app, &k.token, &site, backup).await;
        calls.push(call(true, site, backup, Want::Cancelled));
    }
    calls
}

both_backends! {
    async fn neighbours_of_a_refusal_keep_their_writes(db: Db) {
        let app = Arc::new(TestApp::spawn(db.share()).await);
        let owner = app.partner("Neighbours").await;
        let limit = format!("premium={PREMIUM_LIMIT}");
        let k = app.key(owner.partner_id, &["--limit", &limit]).await;
        let other = app.partner("Someone else").await;
        let calls = batch(&app, &k, &other).await;
        let before = app.activations(&[]);
        let sites_before = site_rows(&db).await;

        // Interleaved, so that each kind has neighbours of every other kind.
        let mut order: Vec<usize> = (0..calls.len()).collect();
        order.sort_by_key(|i| (i * 7919) % calls.len());
        let tasks: Vec<_> = order
            .iter()
            .map(|&i| {
                let (app, token, c) = (app.clone(), k.token.clone(), calls[i].clone());
                tokio::spawn(async move { (i, send_call(&app, &token, &c).await) })
            })
            .collect();
        let mut won = BTreeSet::new();
        for t in tasks {
            let (i, changed) = t.await.expect("a request's checks failed");
            if changed {
                won.insert(i);
            }
        }
        let winners: Vec<&Call> = won.iter().map(|i| &calls[*i]).filter(|c| c.want == Want::Racer).collect();
        assert_eq!(winners.len(), PREMIUM_LIMIT, "premium racers that won: {winners:?}");

        // The whole database is the setup plus exactly the acknowledged changes.
        let mut want = rows(&before);
        for c in won.iter().map(|i| &calls[*i]) {
            if c.cancel {
                let row = want.iter_mut().find(|r| r.0 == c.site && r.1 == c.plan).unwrap();
                row.2 = "cancelled".to_string();
            } else {
                want.push((c.site.clone(), c.plan.to_string(), "pending".to_string(), Some(k.key_id)));
            }
        }
        want.sort();
        let acts = app.activations(&[]);
        assert_eq!(rows(&acts), want, "the database after the batch");
        // Refused provisions to new sites registered nothing.
        let created_sites = won.iter().filter(|i| !calls[**i].cancel).count() as i64;
        assert_eq!(site_rows(&db).await, sites_before + created_sites, "sites registered");
        let new_site = |c: &Call| c.site.starts_with("gc-race") || c.site.starts_with("gc-bad");
        let refused_new: Vec<&Call> = calls.iter().enumerate().filter(|(i, c)| !won.contains(i) && new_site(c)).map(|(_, c)| c).collect();
        assert_eq!(refused_new.len(), 12 - PREMIUM_LIMIT + 4);
        for c in refused_new {
            let (status, body) = app.status(&k.token, &c.site).await;
            assert_error(status, &body, 403, "invalid_blog");
        }
        assert_event_history(&db, &acts).await;
        let mine = acts.iter().filter(|a| a.key_id == Some(k.key_id)).count() as u64;
        assert_eq!(reporting_total(&app, &k).await, mine, "the key's reporting total");
        assert_eq!(reporting_total(&app, &other).await, 10, "the other partner's reporting total");

        // Durable: killed at once, a fresh server on the database reads the same.
        let app = Arc::into_inner(app).expect("no task holds the server");
        app.kill9().await;
        let fresh = TestApp::spawn(db.share()).await;
        assert_eq!(rows(&fresh.activations(&[])), want, "after kill -9");
        for c in won.iter().map(|i| &calls[*i]) {
            let live = live_products(&fresh, &k.token, &c.site).await;
            assert_eq!(live.contains(&c.plan.to_string()), !c.cancel, "{c:?} after kill -9: {live:?}");
        }
        assert_eq!(reporting_total(&fresh, &k).await, mine, "the reporting total after kill -9");
    }
}

// --- kill -9 in the middle of a wide flood ---

/// What the flood's client learnt from one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Told {
    Yes,
    /// No answer (the server died) or a 5xx: either way.
    Unknown,
}

#[derive(Clone, Debug, Default)]
struct SiteLog {
    provisioned: Option<Told>,
    cancelled: Option<Told>,
}

/// Concurrent tasks of the flood per cycle.
const TASKS: usize = 12;
/// Acknowledged writes per cycle before the kill.
const ACKS_BEFORE_KILL: usize = 30;
const CYCLES: usize = 3;

/// One task of the flood: provisions new sites one after another, and
/// cancels every third one it was told succeeded, until stopped.
async fn flooder(
    base: String,
    token: String,
    prefix: String,
    stop: Arc<AtomicBool>,
    acks: Arc<AtomicUsize>,
    log: Arc<Mutex<BTreeMap<String, SiteLog>>>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let site = format!("{prefix}-{n}.flood.example");
        log.lock()
            .unwrap()
            .entry(site.clone())
            .or_default()
            .provisioned = Some(Told::Unknown);
        let res = http
            .post(format!("{base}/rest/v1.3/jpphp/provision"))
            .bearer_auth(&token)
            .form(&[
                ("siteurl", url(&site).as_str()),
                ("local_user", "admin"),
                ("plan", "jetpack-scan"),
            ])
            .send()
            .await;
        if told(res, &site).await != Told::Yes {
            continue;
        }
        acks.fetch_add(1, Ordering::Relaxed);
        log.lock().unwrap().get_mut(&site).unwrap().provisioned = Some(Told::Yes);
        if n % 3 != 0 {
            continue;
        }
        log.lock().unwrap().get_mut(&site).unwrap().cancelled = Some(Told::Unknown);
        let res = http
            .post(format!("{base}/rest/v1.3/jpphp/{site}/partner-cancel"))
            .bearer_auth(&token)
            .form(&[("plan", "jetpack-scan")])
            .send()
            .await;
        if told(res, &site).await == Told::Yes {
            acks.fetch_add(1, Ordering::Relaxed);
            log.lock().unwrap().get_mut(&site).unwrap().cancelled = Some(Told::Yes);
        }
    }
}

/// `Yes` for a 200 `success:true`; a 4xx is a failed test (nothing in the
/// flood may be refused).
async fn told(res: reqwest::Result<reqwest::Response>, site: &str) -> Told {
    let Ok(res) = res else { return Told::Unknown };
    let status = res.status();
    let Ok(body) = res.json::<Value>().await else {
        return Told::Unknown;
    };
    if status.is_server_error() {
        return Told::Unknown;
    }
    assert_eq!(status, 200, "{site}: {body}");
    assert_eq!(body["success"], true, "{site}: {body}");
    Told::Yes
}

both_backends! {
    async fn acknowledged_concurrent_writes_survive_kill_9(db: Db) {
        let mut app = TestApp::spawn(db.share()).await;
        let p = app.partner("Flood").await;
        let log: Arc<Mutex<BTreeMap<String, SiteLog>>> = Arc::default();
        let mut acked = 0;
        for cycle in 0..CYCLES {
            let stop = Arc::new(AtomicBool::new(false));
            let acks = Arc::new(AtomicUsize::new(0));
            let tasks: Vec<_> = (0..TASKS)
                .map(|t| {
                    let prefix = format!("c{cycle}t{t}");
                    tokio::spawn(flooder(app.base.clone(), p.token.clone(), prefix, stop.clone(), acks.clone(), log.clone()))
                })
                .collect();
            // Waits for the answers, not for time: the kill lands while the
            // tasks have their next requests in flight.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            while acks.load(Ordering::Relaxed) < ACKS_BEFORE_KILL {
                assert!(tokio::time::Instant::now() < deadline, "cycle {cycle}: too few answers\n{}", app.logs());
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            app.kill9().await;
            stop.store(true, Ordering::Relaxed);
            for t in tasks {
                tokio::time::timeout(Duration::from_secs(30), t).await.expect("tasks stop").expect("a task's checks failed");
            }
            acked += acks.load(Ordering::Relaxed);
            app = TestApp::spawn(db.share()).await;
        }

        let acts = app.activations(&[]);
        let log = log.lock().unwrap().clone();
        let mut per_site: BTreeMap<&str, Vec<&AdminActivation>> = BTreeMap::new();
        for a in &acts {
            assert_eq!((a.product.as_str(), a.key_id), ("jetpack-scan", Some(p.key_id)), "{a:?}");
            assert!(log.contains_key(&a.site), "an activation no one asked for: {a:?}");
            per_site.entry(a.site.as_str()).or_default().push(a);
        }
        for (site, l) in &log {
            let got = per_site.get(site.as_str()).map(Vec::as_slice).unwrap_or_default();
            assert!(got.len() <= 1, "{site} has {} activations: {got:?}", got.len());
            let state = got.first().map(|a| a.state.as_str());
            let allowed: &[Option<&str>] = match (l.provisioned, l.cancelled) {
                (Some(Told::Yes), Some(Told::Yes)) => &[Some("cancelled")],
                (Some(Told::Yes), Some(Told::Unknown)) => &[Some("pending"), Some("cancelled")],
                (Some(Told::Yes), None) => &[Some("pending")],
                (_, None) => &[None, Some("pending")],
                other => panic!("{site}: a cancel of an unacknowledged provision: {other:?}"),
            };
            assert!(allowed.contains(&state), "{site}: {state:?} in the database, the client was told {l:?}");
        }
        assert_event_history(&db, &acts).await;
        // Sites are registered only with their activation, in one unit.
        assert_eq!(site_rows(&db).await as usize, per_site.len(), "a site without its activation");
        assert_eq!(reporting_total(&app, &p).await, acts.len() as u64, "the reporting total");
        // And the restarted server reads each acknowledged write back.
        let acked_sites: Vec<(&String, &SiteLog)> = log.iter().filter(|(_, l)| l.provisioned == Some(Told::Yes)).collect();
        for (site, l) in acked_sites {
            let live = live_products(&app, &p.token, site).await;
            if l.cancelled == Some(Told::Yes) {
                assert_eq!(live, Vec::<String>::new(), "{site}");
            } else if l.cancelled.is_none() {
                assert_eq!(live, ["jetpack-scan"], "{site}");
            }
        }
        assert!(acked >= CYCLES * ACKS_BEFORE_KILL, "{acked} acknowledged");
        let unanswered = log.values().filter(|l| l.provisioned == Some(Told::Unknown) || l.cancelled == Some(Told::Unknown)).count();
        eprintln!("flood: {CYCLES} kills, {acked} acknowledged writes, {unanswered} unanswered, {} activations", acts.len());
    }
}
