//! Issue 16: webhooks (SPEC §10) against a real receiver on loopback:
//! every event type from the API call that causes it, signed (checked with
//! the receiver's own HMAC), retried after 500s and timeouts, failed after
//! the retry window (on the test clock), replayed; the SSRF guard; reach.

use std::time::Duration;

use jpstart_types::site_object::SiteObject;
use jpstart_types::webhooks::{
    Delivery, DeliveryList, DeliveryStatus, DowntimeReport, Event, EventData, WebhookCreated,
    WebhookList,
};
use serde_json::Value;

use crate::common::*;
use crate::receiver::{verify_signature, Answer, Receiver};

const WAIT: Duration = Duration::from_secs(20);

/// A server that may reach the loopback receiver, retries quickly, and
/// times a receiver out after 1 s.
pub fn opts() -> Opts {
    Opts::default()
        .test_clock()
        .arg("--webhook-allow-private")
        .arg("--webhook-retry-base")
        .arg("100ms")
        .arg("--webhook-timeout")
        .arg("1s")
}

pub fn hooks(p: &Partner) -> String {
    format!("/wpcom/v2/jetpack-partners/{}/webhooks", p.partner_id)
}

pub async fn register(app: &TestApp, p: &Partner, url: &str, events: &[&str]) -> WebhookCreated {
    let mut body = serde_json::json!({ "url": url });
    if !events.is_empty() {
        body["events"] = serde_json::json!(events);
    }
    let (status, body) = json(
        app.post(&hooks(p), &p.token)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    ok(status, &body)
}

pub async fn deliveries(app: &TestApp, p: &Partner, id: i64) -> Vec<Delivery> {
    let path = format!("{}/{id}/deliveries", hooks(p));
    let (status, body) = json(app.get(&path, &p.token).send().await.unwrap()).await;
    ok::<DeliveryList>(status, &body).deliveries
}

/// Polls the delivery log until `done`; panics after [`WAIT`].
pub async fn wait_log(
    app: &TestApp,
    p: &Partner,
    id: i64,
    done: impl Fn(&[Delivery]) -> bool,
) -> Vec<Delivery> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let log = deliveries(app, p, id).await;
        if done(&log) {
            return log;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "delivery log: {log:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn site(n: &str) -> String {
    format!("https://{n}.example.com")
}

async fn provision(app: &TestApp, p: &Partner, url: &str, plan: &str, extra: &[(&str, &str)]) {
    let mut fields = vec![("siteurl", url), ("local_user", "admin"), ("plan", plan)];
    fields.extend_from_slice(extra);
    app.provision_ok(&p.token, &fields).await;
}

fn kinds(hits: &[crate::receiver::Hit]) -> Vec<String> {
    let mut k: Vec<String> = hits.iter().map(|h| h.kind()).collect();
    k.sort();
    k
}

both_backends! {
    async fn every_event_type_is_signed_and_delivered(db: Db) {
        let rx = Receiver::start().await;
        let app = TestApp::spawn_with(db, opts()).await;
        let p = app.partner("hooks").await;
        let hook = register(&app, &p, &rx.url, &[]).await;
        assert!(hook.secret.starts_with("whsec_"), "{}", hook.secret);
        assert_eq!(hook.events.len(), 7);
        // Listed without the secret (a strict decode: no extra key).
        let (status, body) = json(app.get(&hooks(&p), &p.token).send().await.unwrap()).await;
        let list: WebhookList = ok(status, &body);
        assert_eq!(list.webhooks.len(), 1);
        assert!(!body.to_string().contains("whsec_"), "{body}");

        let url = site("events");
        let ident = "events.example.com";
        provision(&app, &p, &url, "personal", &[]).await;
        rx.wait_until(WAIT, |h| h.len() == 1).await;
        app.admin(&["site", "connect", ident]).unwrap();
        rx.wait_until(WAIT, |h| h.len() == 3).await;
        provision(&app, &p, &url, "premium", &[]).await;
        rx.wait_until(WAIT, |h| h.len() == 5).await;
        app.cancel_ok(&p.token, ident, &[("plan", "premium")]).await;
        rx.wait_until(WAIT, |h| h.len() == 6).await;
        provision(&app, &p, &url, "personal", &[("force_connect", "1")]).await;
        rx.wait_until(WAIT, |h| h.len() == 8).await;
        let before_move = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        app.advance_clock("15d");
        let hits = rx.wait_until(WAIT, |h| h.len() == 9).await;
        assert_eq!(
            kinds(&hits),
            [
                "activation.active",
                "activation.active",
                "activation.cancelled",
                "activation.expired",
                "activation.pending",
                "activation.pending",
                "activation.superseded",
                "site.connected",
                "site.disconnected",
            ]
        );
        for h in &hits {
            assert_eq!(h.content_type.as_deref(), Some("application/json"));
            verify_signature(&hook.secret, h.signature.as_deref().unwrap(), &h.body);
            let event: Event = decode(&h.json);
            assert!(event.id.starts_with("evt_"), "{}", event.id);
            match &event.data {
                EventData::Activation(a) => {
                    let a: SiteObject = a.clone();
                    assert_eq!(format!("activation.{}", a.state), h.kind(), "{}", h.body);
                    assert_eq!(a.jetpack_partner_key_id, Some(p.key_id as i64));
                    assert_eq!(a.site_url, url);
                    assert_eq!(a.external_user_id.as_deref(), Some("admin"));
                    assert_eq!(a.current_product_id, a.product_id);
                    assert!(a.product_id.is_some());
                    assert_eq!(a.created_on.len(), "YYYY-MM-DD HH:MM:SS".len(), "{}", a.created_on);
                    assert_eq!(a.created_on.as_bytes()[10], b' ');
                    assert_eq!(a.disputed_on, None);
                    if a.state == "active" {
                        assert!(a.activated_on.is_some());
                    }
                    if ["cancelled", "superseded", "expired"].contains(&a.state.as_str()) {
                        assert!(a.cancelled_on.is_some(), "{}", h.body);
                    }
                }
                EventData::Site(s) => {
                    assert_eq!(s.site, ident);
                    assert_eq!(s.is_connected, h.kind() == "site.connected");
                }
            }
            // `created` is on the server's clock: the pending activation
            // expired 14 days (the pending TTL) after it was made, which
            // the clock moved past.
            if h.kind() == "activation.expired" {
                assert!(event.created >= before_move + 14 * 86_400 - 60, "{}", event.created);
            } else {
                assert!(event.created < before_move + 60, "{}", event.created);
            }
        }
        // Each event once, every delivery logged as delivered at the first try.
        let ids: std::collections::BTreeSet<String> = hits.iter().map(|h| h.event_id()).collect();
        assert_eq!(ids.len(), 9);
        let log = wait_log(&app, &p, hook.id, |l| {
            l.len() == 9 && l.iter().all(|d| d.status == DeliveryStatus::Delivered)
        })
        .await;
        assert!(log.iter().all(|d| d.attempts == 1 && d.last_status == Some(200)), "{log:#?}");
        assert!(log.windows(2).all(|w| w[0].id > w[1].id), "newest first: {log:#?}");

        // The metrics count them; the queue is empty.
        let metrics = app.request(reqwest::Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("jpstart_webhook_deliveries_total{outcome=\"delivered\"} 9"), "{metrics}");
        assert!(metrics.contains("jpstart_webhook_queue_depth 0"), "{metrics}");

        // Deleted: nothing more is sent.
        let res = app.request(reqwest::Method::DELETE, &format!("{}/{}", hooks(&p), hook.id))
            .bearer_auth(&p.token).send().await.unwrap();
        assert_eq!(res.status(), 200);
        provision(&app, &p, &site("after-delete"), "personal", &[]).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(rx.hits().len(), 9);
        let (status, body) = json(app.get(&hooks(&p), &p.token).send().await.unwrap()).await;
        assert_eq!(ok::<WebhookList>(status, &body).webhooks, []);
    }

    async fn only_the_chosen_events_and_only_the_partners_own(db: Db) {
        let rx = Receiver::start().await;
        let app = TestApp::spawn_with(db, opts()).await;
        let a = app.partner("a").await;
        let b = app.partner("b").await;
        register(&app, &a, &rx.url, &["activation.cancelled"]).await;
        provision(&app, &a, &site("chosen"), "personal", &[]).await;
        provision(&app, &b, &site("others"), "personal", &[]).await;
        app.cancel_ok(&b.token, "others.example.com", &[]).await;
        app.cancel_ok(&a.token, "chosen.example.com", &[]).await;
        let hits = rx.wait_until(WAIT, |h| !h.is_empty()).await;
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let hits = if rx.hits().len() > hits.len() { rx.hits() } else { hits };
        assert_eq!(kinds(&hits), ["activation.cancelled"]);
        let event: Event = decode(&hits[0].json);
        let EventData::Activation(obj) = event.data else { panic!("{}", hits[0].body) };
        assert_eq!(obj.site_url, site("chosen"));
    }

    async fn retried_after_500s_and_a_timeout_then_replayed(db: Db) {
        let rx = Receiver::start().await;
        rx.script([
            Answer::Status(500),
            Answer::Status(503),
            Answer::Hang(Duration::from_secs(3)),
        ]);
        let app = TestApp::spawn_with(db, opts()).await;
        let p = app.partner("retries").await;
        let hook = register(&app, &p, &rx.url, &["activation.pending"]).await;
        provision(&app, &p, &site("retry"), "personal", &[]).await;
        let log = wait_log(&app, &p, hook.id, |l| {
            l.first().is_some_and(|d| d.status == DeliveryStatus::Delivered)
        })
        .await;
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].attempts, 4, "{log:#?}");
        assert_eq!(log[0].last_status, Some(200));
        let hits = rx.hits();
        assert_eq!(hits.len(), 4);
        // One event, the same body each time; each signature verifies.
        assert!(hits.iter().all(|h| h.body == hits[0].body));
        for h in &hits {
            verify_signature(&hook.secret, h.signature.as_deref().unwrap(), &h.body);
        }
        // Backoff: the retries came later and later.
        let gaps: Vec<Duration> = hits.windows(2).map(|w| w[1].at - w[0].at).collect();
        assert!(gaps[0] >= Duration::from_millis(90), "{gaps:?}");
        assert!(gaps[1] >= Duration::from_millis(190), "{gaps:?}");

        // Replay: the same event again, a fresh attempt.
        let path = format!("{}/{}/deliveries/{}/replay", hooks(&p), hook.id, log[0].id);
        let (status, body) = json(app.post(&path, &p.token).send().await.unwrap()).await;
        let replayed: Delivery = ok(status, &body);
        assert_eq!(replayed.status, DeliveryStatus::Pending);
        let hits = rx.wait_until(WAIT, |h| h.len() == 5).await;
        assert_eq!(hits[4].event_id(), hits[0].event_id());
        let log = wait_log(&app, &p, hook.id, |l| {
            l[0].status == DeliveryStatus::Delivered && l[0].attempts == 5
        })
        .await;
        assert_eq!(log[0].last_status, Some(200));
        // Unknown ids are 404 unknown_webhook.
        let path = format!("{}/{}/deliveries/999999/replay", hooks(&p), hook.id);
        let (status, body) = json(app.post(&path, &p.token).send().await.unwrap()).await;
        assert_error(status, &body, 404, "unknown_webhook");
        let path = format!("{}/999999/deliveries", hooks(&p));
        let (status, body) = json(app.get(&path, &p.token).send().await.unwrap()).await;
        assert_error(status, &body, 404, "unknown_webhook");
    }

    async fn failed_once_the_retry_window_has_passed(db: Db) {
        let rx = Receiver::start().await;
        rx.always(Answer::Status(500));
        let app = TestApp::spawn_with(db, opts()).await;
        let p = app.partner("fails").await;
        let hook = register(&app, &p, &rx.url, &[]).await;
        provision(&app, &p, &site("fails"), "personal", &[]).await;
        rx.wait_until(WAIT, |h| h.len() >= 3).await;
        let log = deliveries(&app, &p, hook.id).await;
        assert_eq!(log[0].status, DeliveryStatus::Pending, "{log:#?}");
        // Three days on the test clock: the next attempt is the last.
        app.advance_clock("73h");
        let log = wait_log(&app, &p, hook.id, |l| l[0].status == DeliveryStatus::Failed).await;
        assert_eq!(log[0].last_status, Some(500));
        let n = rx.hits().len();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(rx.hits().len(), n, "no attempt after failing");
        let metrics = app.request(reqwest::Method::GET, "/metrics").send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("jpstart_webhook_deliveries_total{outcome=\"failed\"} 1"), "{metrics}");
        assert!(metrics.contains("jpstart_webhook_deliveries_total{outcome=\"retry\"}"), "{metrics}");
    }

    async fn the_ssrf_guard_refuses_internal_addresses(db: Db) {
        // No --webhook-allow-private, no --sandbox.
        let app = TestApp::spawn(db).await;
        let p = app.partner("ssrf").await;
        for url in [
            "http://127.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://localhost:8080/hook",
            "http://[::1]/",
            "http://10.1.2.3/",
            "http://192.168.0.10/",
            "http://100.64.0.1/",
            "http://[fd00:ec2::254]/",
            "http://0.0.0.0/",
            "http://[::ffff:127.0.0.1]/",
        ] {
            let res = app.post(&hooks(&p), &p.token).form(&[("url", url)]).send().await.unwrap();
            let (status, body) = json(res).await;
            assert_error(status, &body, 400, "webhook_url_not_allowed");
            let path = format!("/wpcom/v2/jetpack-partners/{}/monitor-webhook", p.partner_id);
            let res = app.post(&path, &p.token).form(&[("url", url)]).send().await.unwrap();
            let (status, body) = json(res).await;
            assert_error(status, &body, 400, "webhook_url_not_allowed");
        }
        for url in ["", "ftp://example.com/", "file:///etc/passwd", "https://u:p@example.com/", "nonsense"] {
            let res = app.post(&hooks(&p), &p.token).form(&[("url", url)]).send().await.unwrap();
            let (status, body) = json(res).await;
            assert_error(status, &body, 400, "invalid_webhook_url");
        }
        let res = app
            .post(&hooks(&p), &p.token)
            .form(&[("url", "https://example.com/"), ("events[]", "activation.paid")])
            .send()
            .await
            .unwrap();
        let (status, body) = json(res).await;
        assert_error(status, &body, 400, "invalid_webhook_event");
        let (status, body) = json(app.get(&hooks(&p), &p.token).send().await.unwrap()).await;
        assert_eq!(ok::<WebhookList>(status, &body).webhooks, []);
    }

    async fn other_partners_and_sub_keys_are_refused(db: Db) {
        let rx = Receiver::start().await;
        let app = TestApp::spawn_with(db, opts()).await;
        let a = app.partner("a").await;
        let b = app.partner("b").await;
        let hook = register(&app, &a, &rx.url, &[]).await;
        let res = app
            .post("/rest/v1.3/jpphp/partner-keys/new", &a.token)
            .form(&[("name", "sub")])
            .send()
            .await
            .unwrap();
        let (status, body) = json(res).await;
        assert_eq!(status, 200, "{body}");
        let sub = app
            .token(body["client_id"].as_str().unwrap(), body["client_secret"].as_str().unwrap())
            .await;
        let base = hooks(&a);
        let item = format!("{base}/{}", hook.id);
        let log = format!("{item}/deliveries");
        let replay = format!("{log}/1/replay");
        for token in [&b.token, &sub] {
            let calls = [
                app.get(&base, token),
                app.post(&base, token).form(&[("url", rx.url.as_str())]),
                app.request(reqwest::Method::DELETE, &item).bearer_auth(token),
                app.get(&log, token),
                app.post(&replay, token),
                app.post(&format!("/wpcom/v2/jetpack-partners/{}/monitor-webhook", a.partner_id), token)
                    .form(&[("url", rx.url.as_str())]),
            ];
            for call in calls {
                let (status, body) = json(call.send().await.unwrap()).await;
                assert_error(status, &body, 403, "forbidden");
            }
        }
        // No token at all.
        let (status, body) = json(app.request(reqwest::Method::GET, &base).send().await.unwrap()).await;
        assert_error(status, &body, 403, "authorization_required");
        // Still there for its owner.
        let (status, body) = json(app.get(&base, &a.token).send().await.unwrap()).await;
        assert_eq!(ok::<WebhookList>(status, &body).webhooks.len(), 1);
    }

    async fn monitor_downtime_in_the_sandbox(db: Db) {
        let rx = Receiver::start().await;
        rx.script([Answer::Body("2030-01-01T00:00:00Z".into())]);
        let sandbox = Opts::default().arg("--sandbox");
        let app = TestApp::spawn_with(db, sandbox).await;
        let p = app.partner("Monitor Host").await;
        let path = format!("/wpcom/v2/jetpack-partners/{}/monitor-webhook", p.partner_id);
        let res = app.post(&path, &p.token).form(&[("url", rx.url.as_str())]).send().await.unwrap();
        assert_eq!(res.status(), 200);
        provision(&app, &p, &site("down"), "personal", &[]).await;
        let down = "/sandbox/sites/down.example.com/downtime";
        let (status, body) = json(app.post(down, &p.token).form(&[("code", "500")]).send().await.unwrap()).await;
        let report: DowntimeReport = ok(status, &body);
        assert_eq!(report.notifications.len(), 1);
        assert_eq!(report.notifications[0].outcome, "sent");
        assert_eq!(report.notifications[0].suppressed_until.as_deref(), Some("2030-01-01T00:00:00Z"));
        let hits = rx.hits();
        assert_eq!(hits.len(), 1);
        // Upstream's payload, keys in its order, slashes escaped as its PHP does.
        assert_eq!(keys(&hits[0].json), ["ts", "url", "code", "host", "type"]);
        assert!(hits[0].body.contains(r#""url":"https:\/\/down.example.com""#), "{}", hits[0].body);
        assert_eq!(hits[0].json["code"], 500);
        assert_eq!(hits[0].json["type"], "http");
        assert_eq!(hits[0].json["host"], "monitor-host");
        assert!(hits[0].json["ts"].as_i64().is_some());
        // Quiet until 2030: the next one is not sent.
        let (status, body) = json(app.post(down, &p.token).send().await.unwrap()).await;
        let report: DowntimeReport = ok(status, &body);
        assert_eq!(report.notifications[0].outcome, "suppressed");
        assert_eq!(rx.hits().len(), 1);
        // An unknown site.
        let (status, body) = json(app.post("/sandbox/sites/nowhere.example/downtime", &p.token).send().await.unwrap()).await;
        assert_error(status, &body, 404, "unknown_blog");
    }
}

/// Outside the sandbox the downtime route answers nothing.
#[tokio::test]
async fn no_downtime_route_outside_the_sandbox() {
    let app = TestApp::spawn(Db::sqlite()).await;
    let p = app.partner("plain").await;
    let (status, body) = json(
        app.post("/sandbox/sites/x.example.com/downtime", &p.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(status, &body, 404, "unknown_blog");
}

/// The partner CLI and client: create, list, deliveries, replay, delete.
#[tokio::test]
async fn the_cli_manages_webhooks() {
    let rx = Receiver::start().await;
    let app = TestApp::spawn_with(Db::sqlite(), opts()).await;
    let p = app.partner("cli").await;
    let pid = p.partner_id.to_string();
    let cli = |args: &[&str]| -> Value {
        let out = std::process::Command::new(BIN)
            .args(args)
            .args([
                "--partner",
                &pid,
                "--api-url",
                &app.base,
                "--token",
                &p.token,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let created = cli(&[
        "webhooks",
        "create",
        "--url",
        &rx.url,
        "--event",
        "activation.pending",
    ]);
    let created: WebhookCreated = decode(&created);
    assert_eq!(created.events.len(), 1);
    let list: WebhookList = decode(&cli(&["webhooks", "list"]));
    assert_eq!(list.webhooks[0].id, created.id);
    provision(&app, &p, &site("cli"), "personal", &[]).await;
    rx.wait_until(WAIT, |h| h.len() == 1).await;
    let id = created.id.to_string();
    let log = wait_log(&app, &p, created.id, |l| {
        l.first()
            .is_some_and(|d| d.status == DeliveryStatus::Delivered)
    })
    .await;
    let shown: DeliveryList = decode(&cli(&["webhooks", "deliveries", &id]));
    assert_eq!(shown.deliveries, log);
    let did = log[0].id.to_string();
    cli(&["webhooks", "replay", &id, &did]);
    rx.wait_until(WAIT, |h| h.len() == 2).await;
    cli(&["webhooks", "delete", &id]);
    let list: WebhookList = decode(&cli(&["webhooks", "list"]));
    assert_eq!(list.webhooks, []);
    // An unknown event type is a usage error (exit 2), nothing sent.
    let out = std::process::Command::new(BIN)
        .args([
            "webhooks",
            "create",
            "--url",
            &rx.url,
            "--event",
            "nope",
            "--partner",
            &pid,
            "--api-url",
            &app.base,
            "--token",
            &p.token,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
