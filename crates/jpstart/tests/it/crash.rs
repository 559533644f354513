//! Issue 8: crash safety. Clients run provision/cancel load while the server
//! is `kill -9`ed at random moments and restarted on the same database; the
//! database must then agree with everything the clients were told.
//!
//! The check is a model replay. Each client is one partner key working on
//! `premium` over a set of sites shared with the other clients, and is
//! sequential, so per (key, site) its requests are totally ordered and only
//! it can change its own activations (other partners are refused). For each
//! (key, site) the set of possible states (activation rows created, one of
//! them live?, rows cancelled) is replayed through the client's log: an
//! acknowledged response applies its effect and must be consistent with at
//! least one possible state (a cancel answering `success:true` requires a
//! live activation; a refused provision requires none), a request without a
//! response forks into "applied" and "not applied". The rows `admin
//! activations` lists must then be one of the possible final states, exactly
//! (counts, not "at least"), and every activation must have exactly the
//! events of its state history, never half of it.
//!
//! Client 0's key is limited to [`FAMILY_LIMIT`] live premiums and client 1
//! is a sub-key of it (issue 12): besides being told `activation_limit_reached`
//! (a refusal, like another partner's product), the two together must never
//! hold more than the limit, neither at the end nor at any point of the
//! event history. Clients 2 and 3 are other partners on the same sites.
//!
//! `JPSTART_CRASH_CYCLES` sets the number of kill/restart cycles (default
//! 20; 50 by hand).
//!
//! Seen to catch injected bugs: committing 30 ms after answering (the store
//! acknowledging before its commit) failed on both backends within 20
//! cycles, as an acknowledged provision and cancel missing from the
//! database, or as a later answer contradicting every possible history; a
//! cancel that wrote no event failed the event-history check.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jpstart_types::wire::{AdminActivation, CancelResponse, ErrorBody, ProvisionResponse};
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tokio::sync::watch;

use crate::common::*;

const CLIENTS: usize = 4;
const SITES: usize = 6;
const PRODUCT: &str = "premium";
/// The premium limit of client 0's key, shared with its sub-key (client 1).
const FAMILY_LIMIT: usize = 2;
/// The clients whose keys share [`FAMILY_LIMIT`].
const FAMILY: [usize; 2] = [0, 1];

fn cycles() -> usize {
    std::env::var("JPSTART_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

fn site_url(i: usize) -> String {
    format!("https://site{i}.crash.example")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Provision,
    Cancel,
}

/// What a client learnt from one request.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    /// 200 `success:true` provision.
    Provisioned,
    /// 200 cancel: `success:true` (something was cancelled) or `false`.
    Cancelled(bool),
    /// An acknowledged refusal: 4xx with this error code.
    Refused(String),
    /// No response (connection reset or refused), or a 5xx: unknown effect.
    Unknown,
}

#[derive(Clone, Debug)]
struct Entry {
    site: usize,
    op: Op,
    outcome: Outcome,
}

/// One possible state of a (key, site) pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct State {
    rows: u32,
    live: bool,
    cancelled: u32,
}

fn apply(s: State, op: Op) -> State {
    match (op, s.live) {
        (Op::Provision, false) => State {
            rows: s.rows + 1,
            live: true,
            ..s
        },
        (Op::Cancel, true) => State {
            live: false,
            cancelled: s.cancelled + 1,
            ..s
        },
        _ => s,
    }
}

/// Replays one (key, site) log; panics when an acknowledged answer fits no
/// possible history (an acknowledged write was lost or doubled).
fn replay(log: &[&Entry]) -> BTreeSet<State> {
    let mut states = BTreeSet::from([State {
        rows: 0,
        live: false,
        cancelled: 0,
    }]);
    for (i, e) in log.iter().enumerate() {
        states = match &e.outcome {
            Outcome::Unknown => states.iter().flat_map(|s| [*s, apply(*s, e.op)]).collect(),
            // Success whether it created the activation or found it live.
            Outcome::Provisioned => states.iter().map(|s| apply(*s, Op::Provision)).collect(),
            Outcome::Cancelled(true) => states
                .iter()
                .filter(|s| s.live)
                .map(|s| apply(*s, Op::Cancel))
                .collect(),
            // Nothing to cancel, or a refusal (another partner's activation):
            // the key had nothing live here. A refused provision likewise:
            // with its own premium live the key would have been answered
            // success.
            Outcome::Cancelled(false) | Outcome::Refused(_) => {
                states.iter().filter(|s| !s.live).copied().collect()
            }
        };
        assert!(
            !states.is_empty(),
            "answer {i} ({e:?}) contradicts every possible history; log: {log:#?}"
        );
    }
    states
}

async fn client(
    id: usize,
    token: String,
    mut base: watch::Receiver<Option<String>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    log: Arc<Mutex<Vec<Entry>>>,
    seed: u64,
) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ id as u64);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let url = {
            let Ok(b) = base.wait_for(Option::is_some).await else {
                return;
            };
            b.clone().unwrap()
        };
        let site = rng.random_range(0..SITES);
        let op = if rng.random_bool(0.6) {
            Op::Provision
        } else {
            Op::Cancel
        };
        let req = match op {
            Op::Provision => http
                .post(format!("{url}/rest/v1.3/jpphp/provision"))
                .form(&[
                    ("siteurl", site_url(site).as_str()),
                    ("local_user", "admin"),
                    ("plan", PRODUCT),
                ]),
            Op::Cancel => http
                .post(format!(
                    "{url}/rest/v1.3/jpphp/site{site}.crash.example/partner-cancel"
                ))
                .form(&[("plan", PRODUCT)]),
        };
        let outcome = match req.bearer_auth(&token).send().await {
            Err(_) => Outcome::Unknown,
            Ok(res) => {
                let status = res.status();
                match res.json::<Value>().await {
                    // The connection died after the head: still unknown.
                    Err(_) => Outcome::Unknown,
                    Ok(_) if status.is_server_error() => Outcome::Unknown,
                    Ok(body) if status == 200 => match op {
                        Op::Provision => {
                            assert!(decode::<ProvisionResponse>(&body).success, "{body}");
                            Outcome::Provisioned
                        }
                        Op::Cancel => Outcome::Cancelled(decode::<CancelResponse>(&body).success),
                    },
                    Ok(body) => {
                        let code = decode::<ErrorBody>(&body).error;
                        let expected: &[&str] = match op {
                            Op::Provision if FAMILY.contains(&id) => &[
                                "product_owned_by_another_partner",
                                "activation_limit_reached",
                            ],
                            Op::Provision => &["product_owned_by_another_partner"],
                            Op::Cancel => &["incorrect_partner_key"],
                        };
                        assert!(
                            expected.contains(&code.as_str()),
                            "client {id}: {status} {body}"
                        );
                        Outcome::Refused(code)
                    }
                }
            }
        };
        log.lock().unwrap().push(Entry { site, op, outcome });
    }
}

/// A sub-key of `parent` with a premium limit, as a client key.
async fn sub_key(app: &TestApp, parent: &Partner, premium: usize) -> Partner {
    let limit = premium.to_string();
    let res = app
        .post("/rest/v1.3/jpphp/partner-keys/new", &parent.token)
        .form(&[
            ("name", "crash sub"),
            ("allowed_premium_plans", limit.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_eq!(status, 200, "{body}");
    let client_id = body["client_id"].as_str().unwrap().to_string();
    let client_secret = body["client_secret"].as_str().unwrap().to_string();
    let token = app.token(&client_id, &client_secret).await;
    Partner {
        partner_id: parent.partner_id,
        key_id: body["id"].as_u64().unwrap(),
        client_id,
        client_secret,
        token,
    }
}

both_backends! {
    async fn acknowledged_writes_survive_kill_9(db: Db) {
        let cycles = cycles();
        let seed: u64 = rand::random();
        eprintln!("crash test: {cycles} cycles, seed {seed}");
        let started = Instant::now();
        let mut app = TestApp::spawn(db.share()).await;
        let mut keys = Vec::new();
        let head = app.partner("Crash family").await;
        let limit = format!("premium={FAMILY_LIMIT}");
        keys.push(app.key(head.partner_id, &["--limit", &limit]).await);
        keys.push(sub_key(&app, &keys[0], FAMILY_LIMIT).await);
        for i in 2..CLIENTS {
            keys.push(app.partner(&format!("Crash {i}")).await);
        }
        let (base_tx, base_rx) = watch::channel(Some(app.base.clone()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let logs: Vec<Arc<Mutex<Vec<Entry>>>> = (0..CLIENTS).map(|_| Arc::default()).collect();
        let tasks: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                tokio::spawn(client(i, k.token.clone(), base_rx.clone(), stop.clone(), logs[i].clone(), seed))
            })
            .collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        for _ in 0..cycles {
            // Let the clients work, then kill the server wherever it is.
            tokio::time::sleep(Duration::from_millis(rng.random_range(20..300))).await;
            base_tx.send_replace(None);
            app.kill9().await;
            app = TestApp::spawn(db.share()).await;
            base_tx.send_replace(Some(app.base.clone()));
        }
        // A last stretch of load on the final server, then stop cleanly.
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(30), t).await.expect("clients stop").unwrap();
        }
        app.kill9().await;
        let elapsed = started.elapsed();

        // --- The invariant check ---
        let acts: Vec<AdminActivation> = decode(&admin(&db.url, &["activations"]).unwrap());
        let mut actual: BTreeMap<(u64, String), State> = BTreeMap::new();
        let mut live_per_site: BTreeMap<String, u32> = BTreeMap::new();
        for a in &acts {
            assert_eq!(a.product, PRODUCT, "{a:?}");
            let key = a.key_id.expect("a partner key made every activation");
            let site = a.site.clone();
            let s = actual.entry((key, site.clone())).or_insert(State { rows: 0, live: false, cancelled: 0 });
            s.rows += 1;
            match a.state.as_str() {
                "pending" => {
                    assert!(!s.live, "two live activations of one key on {site}: {acts:?}");
                    s.live = true;
                    assert!(a.ended_at.is_none(), "{a:?}");
                    *live_per_site.entry(site).or_default() += 1;
                }
                "cancelled" => {
                    s.cancelled += 1;
                    assert!(a.ended_at.is_some(), "{a:?}");
                }
                other => panic!("unexpected state {other}: {a:?}"),
            }
        }
        for (site, n) in &live_per_site {
            assert_eq!(*n, 1, "{site} has {n} live activations of one family");
        }
        let family_keys: Vec<u64> = FAMILY.iter().map(|c| keys[*c].key_id).collect();
        let in_family = |a: &AdminActivation| a.key_id.is_some_and(|k| family_keys.contains(&k));
        let family_live = acts.iter().filter(|a| in_family(a) && a.state == "pending").count();
        assert!(family_live <= FAMILY_LIMIT, "a key and its sub-key hold {family_live} premiums: {acts:?}");
        let (mut acked, mut unknown, mut total_rows) = (0, 0, 0);
        for (i, k) in keys.iter().enumerate() {
            let log = logs[i].lock().unwrap().clone();
            acked += log.iter().filter(|e| e.outcome != Outcome::Unknown).count();
            unknown += log.iter().filter(|e| e.outcome == Outcome::Unknown).count();
            for site in 0..SITES {
                let entries: Vec<&Entry> = log.iter().filter(|e| e.site == site).collect();
                let possible = replay(&entries);
                let ident = format!("site{site}.crash.example");
                let got = actual.get(&(k.key_id, ident.clone())).copied().unwrap_or(State { rows: 0, live: false, cancelled: 0 });
                total_rows += got.rows;
                assert!(
                    possible.contains(&got),
                    "key {} on {ident}: database has {got:?}, the client's answers allow only {possible:?}\nlog: {entries:#?}",
                    k.key_id
                );
            }
        }
        assert_eq!(total_rows as usize, acts.len(), "activations of no client: {acts:?}");

        // Never half-written: each activation has exactly the events of its
        // history, in order, and no event points elsewhere.
        sqlx::any::install_default_drivers();
        use sqlx::{Connection, Row};
        let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
        let rows = sqlx::query("SELECT activation_id, from_state, to_state FROM events ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        let mut events: BTreeMap<i64, Vec<(Option<String>, String)>> = BTreeMap::new();
        for r in &rows {
            events.entry(r.get::<i64, _>(0)).or_default().push((r.get(1), r.get(2)));
        }
        // "Ever": replaying the history in order, no site had two live
        // activations of the family at any point (the writes to one site
        // are serialised, so id order is commit order per site).
        let site_of: BTreeMap<i64, &str> = acts.iter().map(|a| (i64::try_from(a.id).unwrap(), a.site.as_str())).collect();
        // Likewise the key family's limit: its provisions serialise on the
        // parent's row, and a provision that saw a cancel is written after it.
        let family_ids: BTreeSet<i64> = acts.iter().filter(|a| in_family(a)).map(|a| i64::try_from(a.id).unwrap()).collect();
        let mut live_now: BTreeMap<&str, BTreeSet<i64>> = BTreeMap::new();
        let mut family_now: BTreeSet<i64> = BTreeSet::new();
        for r in &rows {
            let (id, to): (i64, String) = (r.get(0), r.get(2));
            let live = live_now.entry(site_of[&id]).or_default();
            let is_live = to == "pending" || to == "active";
            if is_live {
                live.insert(id);
            } else {
                live.remove(&id);
            }
            assert!(live.len() <= 1, "{} had live activations {live:?} at once", site_of[&id]);
            if family_ids.contains(&id) {
                if is_live {
                    family_now.insert(id);
                } else {
                    family_now.remove(&id);
                }
                assert!(family_now.len() <= FAMILY_LIMIT, "the key family held {family_now:?} at once");
            }
        }
        let created = (None, "pending".to_string());
        let cancelled = (Some("pending".to_string()), "cancelled".to_string());
        for a in &acts {
            let id = i64::try_from(a.id).unwrap();
            let want = match a.state.as_str() {
                "pending" => vec![created.clone()],
                _ => vec![created.clone(), cancelled.clone()],
            };
            assert_eq!(events.remove(&id).unwrap_or_default(), want, "events of {a:?}");
        }
        assert!(events.is_empty(), "events of no activation: {events:?}");
        // Sites are registered only by provisions: none without an activation.
        let sites: i64 = sqlx::query("SELECT COUNT(*) FROM sites").fetch_one(&mut conn).await.unwrap().get(0);
        let with_acts = acts.iter().map(|a| a.site.as_str()).collect::<BTreeSet<_>>().len();
        assert_eq!(sites as usize, with_acts, "a site without its activation");
        conn.close().await.unwrap();

        eprintln!(
            "crash test: {cycles} kills in {elapsed:?}; {acked} acknowledged and {unknown} unanswered requests; {} activations",
            acts.len()
        );
        assert!(acked >= cycles, "too little load to mean anything: {acked} acknowledged");
        assert!(elapsed < Duration::from_secs(30 + 6 * cycles as u64), "bounded time: {elapsed:?}");
    }
}

// --- Webhooks (issue 16): the outbox survives kill -9 ---

/// Every webhook event the database holds after the crashes, by id.
async fn webhook_event_ids(db: &Db) -> BTreeSet<String> {
    use sqlx::Row;
    let mut conn = crate::rawdb::connect(db).await;
    sqlx::query("SELECT public_id FROM webhook_events")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>("public_id"))
        .collect()
}

/// (activation state changes in the event log, activation webhook events):
/// equal when every change queued its event in its own transaction.
async fn outbox_counts(db: &Db) -> (i64, i64) {
    use sqlx::Row;
    let mut conn = crate::rawdb::connect(db).await;
    let count = |sql: &'static str| sqlx::query(sql);
    let changes: i64 = count("SELECT COUNT(*) AS n FROM events")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get("n");
    let queued: i64 =
        count("SELECT COUNT(*) AS n FROM webhook_events WHERE type LIKE 'activation.%'")
            .fetch_one(&mut conn)
            .await
            .unwrap()
            .get("n");
    (changes, queued)
}

/// Provisions new sites (pending: one event each) against whichever server
/// is up, until stopped; answers are not needed, only the database's word.
async fn provisioner(
    token: String,
    base: watch::Receiver<Option<String>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut n = 0u64;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let Some(url) = base.borrow().clone() else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        n += 1;
        let site = format!("https://hook-{n}-{}.example.com", rand::random::<u32>());
        let _ = http
            .post(format!("{url}/rest/v1.3/jpphp/provision"))
            .bearer_auth(&token)
            .form(&[
                ("siteurl", site.as_str()),
                ("local_user", "admin"),
                ("plan", PRODUCT),
            ])
            .send()
            .await;
    }
}

fn webhook_opts() -> Opts {
    crate::webhooks::opts()
}

both_backends! {
    async fn webhook_events_survive_kill_9(db: Db) {
        let rx = crate::receiver::Receiver::start().await;
        // Slow answers and some 500s: kills land on deliveries in flight
        // and on ones waiting for a retry.
        rx.script((0..40).map(|i| if i % 3 == 0 {
            crate::receiver::Answer::Status(500)
        } else {
            crate::receiver::Answer::Slow(Duration::from_millis(150))
        }));
        let mut app = TestApp::spawn_with(db.share(), webhook_opts()).await;
        let p = app.partner("Hooked").await;
        crate::webhooks::register(&app, &p, &rx.url, &[]).await;
        let (base_tx, base_rx) = watch::channel(Some(app.base.clone()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let load = tokio::spawn(provisioner(p.token.clone(), base_rx, stop.clone()));
        let mut rng = rand::rngs::StdRng::seed_from_u64(rand::random());
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_millis(rng.random_range(150..600))).await;
            base_tx.send_replace(None);
            app.kill9().await;
            app = TestApp::spawn_with(db.share(), webhook_opts()).await;
            base_tx.send_replace(Some(app.base.clone()));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        load.await.unwrap();
        app.kill9().await;

        // Every committed change has its event, and every event is
        // delivered at least once by a server started afterwards (claims
        // of the killed ones run out).
        let (changes, queued) = outbox_counts(&db).await;
        assert!(changes > 0, "no provision got through");
        assert_eq!(changes, queued, "state changes without their webhook event");
        let ids = webhook_event_ids(&db).await;
        let _app = TestApp::spawn_with(db.share(), webhook_opts()).await;
        rx.wait_until(Duration::from_secs(60), |hits| {
            let seen: BTreeSet<String> = hits.iter().map(|h| h.event_id()).collect();
            ids.is_subset(&seen)
        })
        .await;
        eprintln!("webhook crash test: {} events delivered, {} requests", ids.len(), rx.hits().len());
    }
}

/// Two servers on one PostgreSQL database: every delivery sent by one of
/// them, never by both at once.
#[tokio::test]
async fn two_servers_never_send_a_delivery_twice_at_once() {
    let Some(db) = Db::postgres().await else {
        return postgres_skipped();
    };
    let rx = crate::receiver::Receiver::start().await;
    rx.always(crate::receiver::Answer::Slow(Duration::from_millis(100)));
    let one = TestApp::spawn_with(db.share(), webhook_opts()).await;
    let two = TestApp::spawn_with(db.share(), webhook_opts()).await;
    let p = one.partner("Twice").await;
    crate::webhooks::register(&one, &p, &rx.url, &["activation.pending"]).await;
    for i in 0..40 {
        let app = if i % 2 == 0 { &one } else { &two };
        let site = format!("https://twice-{i}.example.com");
        app.provision_ok(
            &p.token,
            &[
                ("siteurl", site.as_str()),
                ("local_user", "admin"),
                ("plan", PRODUCT),
            ],
        )
        .await;
    }
    let hits = rx
        .wait_until(Duration::from_secs(60), |h| h.len() >= 40)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.overlaps(), Vec::<String>::new(), "sent twice at once");
    let ids: BTreeSet<String> = hits.iter().map(|h| h.event_id()).collect();
    assert_eq!(ids.len(), 40);
    assert_eq!(rx.hits().len(), 40, "each delivery sent once");
}
