//! Issue 15: the request log (SPEC §9) — recorded with `--request-log` (or
//! in the sandbox), off by default; read at
//! `GET /wpcom/v2/jetpack-partners/{partner_id}/requests` and with
//! `jpstart admin requests`; pruned past its retention by the test clock;
//! entries dropped (and counted) when its queue is full.
//!
//! Entries are written asynchronously: every read polls, bounded.

use std::time::Duration;

use jpstart_types::requests::{AdminLoggedRequest, LoggedRequest, RequestsPage};
use reqwest::Method;

use crate::common::*;

fn log_path(partner_id: u64, query: &str) -> String {
    format!("/wpcom/v2/jetpack-partners/{partner_id}/requests{query}")
}

/// One page of the log as `token` reads it.
async fn page(app: &TestApp, token: &str, partner_id: u64, query: &str) -> RequestsPage {
    let (status, body) = json(
        app.get(&log_path(partner_id, query), token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    ok(status, &body)
}

/// Polls the page until `done` holds (at most 20 s).
async fn page_when(
    app: &TestApp,
    token: &str,
    partner_id: u64,
    query: &str,
    done: impl Fn(&RequestsPage) -> bool,
) -> RequestsPage {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let p = page(app, token, partner_id, query).await;
        if done(&p) {
            return p;
        }
        assert!(tokio::time::Instant::now() < deadline, "never came: {p:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `jpstart admin requests ARGS`, polled until `done` holds (at most 20 s).
async fn admin_when(
    app: &TestApp,
    args: &[&str],
    done: impl Fn(&[AdminLoggedRequest]) -> bool,
) -> Vec<AdminLoggedRequest> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut all = vec!["requests"];
    all.extend_from_slice(args);
    loop {
        let got: Vec<AdminLoggedRequest> = app.admin_as(&all);
        if done(&got) {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never came: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn find<'a>(p: &'a RequestsPage, method: &str, path: &str) -> &'a LoggedRequest {
    p.requests
        .iter()
        .find(|r| r.method == method && r.path == path)
        .unwrap_or_else(|| panic!("no {method} {path} in {p:?}"))
}

/// The value of a metric line in `/metrics`.
async fn metric(app: &TestApp, name: &str) -> Option<f64> {
    let text = app
        .request(Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

both_backends! {
    async fn entries_carry_every_field_under_their_key(db: Db) {
        let opts = Opts::default().arg("--request-log").test_clock();
        let app = TestApp::spawn_with(db, opts).await;
        let a = app.partner("Log A").await;
        let b = app.key(a.partner_id, &[]).await;
        // Business time far ahead: entries take the server's clock.
        let clock = app.advance_clock("30d");
        let now = humantime::parse_rfc3339(clock["now"].as_str().unwrap()).unwrap();

        app.provision_ok(&a.token, &[
            ("siteurl", "https://logged.example"), ("local_user", "admin"), ("plan", "premium"),
            ("ssh_user", "u"), ("ssh_pass", "Sekrit-pass-1"),
        ]).await;
        let (status, _) = app.provision(&a.token, &[("siteurl", "https://logged.example"), ("local_user", "admin"), ("plan", "nope")]).await;
        assert_eq!(status, 400);
        let res = app.get("/rest/v1.4/jpphp/logged.example/status?pretty=1&http_envelope=1", &b.token).send().await.unwrap();
        assert_eq!(res.status(), 200);
        // Token requests: a wrong secret for b, an unknown client id.
        assert_eq!(app.token_request(&b.client_id, "wrong-secret-123").await.status(), 400);
        assert_eq!(app.token_request("999999", "wrong-secret-456").await.status(), 400);

        let p = page_when(&app, &a.token, a.partner_id, "?per_page=100", |p| {
            p.requests.iter().filter(|r| r.path == "/oauth2/token").count() >= 3
        }).await;
        let prov = find(&p, "POST", "/rest/v1.3/jpphp/provision");
        assert_eq!(prov.key_id, Some(a.key_id));
        let ok_prov = p.requests.iter().find(|r| r.path == "/rest/v1.3/jpphp/provision" && r.status == 200).unwrap();
        assert_eq!(ok_prov.error_code, None);
        assert_eq!(ok_prov.params["siteurl"], "https://logged.example");
        assert_eq!(ok_prov.params["ssh_pass"], "[redacted]");
        assert_eq!(ok_prov.response["success"], true);
        let next_url = ok_prov.response["next_url"].as_str().unwrap();
        assert!(next_url.contains("/authorize/[redacted]?blog_id="), "{next_url}");
        let bad_prov = p.requests.iter().find(|r| r.path == "/rest/v1.3/jpphp/provision" && r.status == 400).unwrap();
        assert_eq!(bad_prov.error_code.as_deref(), Some("invalid_plan"));
        assert_eq!(bad_prov.response["error"], "invalid_plan");
        let time = humantime::parse_rfc3339(&ok_prov.time).unwrap();
        assert!(time + Duration::from_secs(2) >= now, "{} is before the clock's {clock}", ok_prov.time);
        // As the client saw it: enveloped, the envelope's error-free body.
        let st = find(&p, "GET", "/rest/v1.4/jpphp/logged.example/status");
        assert_eq!(st.key_id, Some(b.key_id));
        assert_eq!(st.params["http_envelope"], "1");
        assert_eq!(st.response["code"], 200);
        assert!(st.response["body"]["products"].is_array(), "{:?}", st.response);
        // The wrong secret is logged under the key its client_id names.
        let tokens: Vec<&LoggedRequest> = p.requests.iter().filter(|r| r.path == "/oauth2/token").collect();
        let wrong = tokens.iter().find(|r| r.status == 400).unwrap();
        assert_eq!(wrong.key_id, Some(b.key_id));
        assert_eq!(wrong.error_code.as_deref(), Some("invalid_client"));
        assert_eq!(wrong.params["client_secret"], "[redacted]");
        assert_eq!(wrong.params["client_id"], b.client_id.as_str());
        let issued = tokens.iter().find(|r| r.status == 200).unwrap();
        assert_eq!(issued.response["access_token"], "[redacted]");
        // Newest first.
        let times: Vec<&str> = p.requests.iter().map(|r| r.time.as_str()).collect();
        let mut sorted = times.clone();
        sorted.sort_by(|x, y| y.cmp(x));
        assert_eq!(times, sorted);
        assert!(p.requests.windows(2).all(|w| w[0].id > w[1].id || w[0].time > w[1].time));
        assert_eq!(p.total as usize, p.requests.len());

        // The unknown client id named no key: the operator's only.
        assert!(!p.requests.iter().any(|r| r.params.get("client_id").is_some_and(|c| c == "999999")));
        let all = admin_when(&app, &[], |e| e.iter().any(|r| r.request.params.get("client_id").is_some_and(|c| c == "999999"))).await;
        let unknown = all.iter().find(|r| r.request.params.get("client_id").is_some_and(|c| c == "999999")).unwrap();
        assert_eq!((unknown.partner_id, unknown.request.key_id), (None, None));
        let of_a = app.admin_as::<Vec<AdminLoggedRequest>>(&["requests", "--partner", &a.partner_id.to_string()]);
        assert!(of_a.iter().all(|r| r.partner_id == Some(a.partner_id)));
        let of_b = app.admin_as::<Vec<AdminLoggedRequest>>(&["requests", "--key", &b.key_id.to_string(), "--limit", "1"]);
        assert_eq!(of_b.len(), 1);
        assert_eq!(of_b[0].request.key_id, Some(b.key_id));
    }

    async fn filters_paging_and_reach(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default().arg("--request-log")).await;
        let a = app.partner("Reach A").await;
        let other = app.partner("Reach B").await;
        let (status, sub) = json(
            app.post("/rest/v1.3/jpphp/partner-keys/new", &a.token)
                .form(&[("name", "reseller"), ("allowed_premium_plans", "2")])
                .send().await.unwrap(),
        ).await;
        assert_eq!(status, 200, "{sub}");
        let sub_id = sub["id"].as_u64().unwrap();
        let sub_token = app.token(sub["client_id"].as_str().unwrap(), sub["client_secret"].as_str().unwrap()).await;
        for site in ["one.example", "two.example", "three.example"] {
            let (status, _) = app.status(&a.token, site).await;
            assert_eq!(status, 403);
        }
        let (status, _) = app.status(&sub_token, "four.example").await;
        assert_eq!(status, 403);
        app.provision_ok(&sub_token, &[("siteurl", "https://sub.example"), ("local_user", "u"), ("plan", "premium")]).await;

        // Everything of the partner: a's and its sub-key's.
        let all = page_when(&app, &a.token, a.partner_id, "", |p| {
            p.requests.iter().any(|r| r.path == "/rest/v1.3/jpphp/provision")
        }).await;
        assert!(all.requests.iter().any(|r| r.key_id == Some(sub_id)));
        assert!(all.requests.iter().any(|r| r.key_id == Some(a.key_id)));
        // Paging: 2 per page, stable, total over every page.
        let p1 = page(&app, &a.token, a.partner_id, "?per_page=2&page=1").await;
        let p2 = page(&app, &a.token, a.partner_id, "?per_page=2&page=2").await;
        assert_eq!(p1.requests.len(), 2);
        assert!(p1.total >= 6, "{p1:?}");
        assert!(p1.requests.iter().all(|r| !p2.requests.iter().any(|s| s.id == r.id)));
        assert!(p1.requests[1].id > p2.requests[0].id);
        let far = page(&app, &a.token, a.partner_id, "?page=1000").await;
        assert!(far.requests.is_empty());
        assert_eq!(far.total, p1.total);
        // Filters.
        let unknown = page(&app, &a.token, a.partner_id, "?status=403").await;
        assert_eq!(unknown.total, 4, "{unknown:?}");
        assert!(unknown.requests.iter().all(|r| r.status == 403 && r.error_code.as_deref() == Some("invalid_blog")), "{unknown:?}");
        let by_path = page(&app, &a.token, a.partner_id, "?path=/rest/v1.4/jpphp/t").await;
        assert_eq!(by_path.total, 2, "{by_path:?}");
        let by_key = page(&app, &a.token, a.partner_id, &format!("?key_id={sub_id}&status=403")).await;
        assert_eq!(by_key.total, 1, "{by_key:?}");
        assert_eq!(by_key.requests[0].path, "/rest/v1.4/jpphp/four.example/status");
        let (status, body) = json(app.get(&log_path(a.partner_id, "?per_page=0"), &a.token).send().await.unwrap()).await;
        assert_error(status, &body, 400, "invalid_request_filter");
        let (status, body) = json(app.get(&log_path(a.partner_id, "?status=abc"), &a.token).send().await.unwrap()).await;
        assert_error(status, &body, 400, "invalid_request_filter");

        // A sub-key sees its own requests only, and cannot ask for others'.
        let mine = page(&app, &sub_token, a.partner_id, "?per_page=100").await;
        assert!(!mine.requests.is_empty());
        assert!(mine.requests.iter().all(|r| r.key_id == Some(sub_id)), "{mine:?}");
        let (status, body) = json(app.get(&log_path(a.partner_id, &format!("?key_id={}", a.key_id)), &sub_token).send().await.unwrap()).await;
        assert_error(status, &body, 403, "forbidden");
        let own = page(&app, &sub_token, a.partner_id, &format!("?key_id={sub_id}")).await;
        assert_eq!(own.total, mine.total);

        // Another partner: 403, whatever the token.
        for token in [&other.token, &sub_token] {
            let pid = if token == &other.token { a.partner_id } else { other.partner_id };
            let (status, body) = json(app.get(&log_path(pid, ""), token).send().await.unwrap()).await;
            assert_error(status, &body, 403, "forbidden");
        }
        let (status, body) = json(app.request(Method::GET, &log_path(a.partner_id, "")).send().await.unwrap()).await;
        assert_error(status, &body, 403, "authorization_required");
        // The partner CLI (`jpstart requests`, to become `jpstart sandbox
        // requests`) and the client crate read the same page.
        let pid = a.partner_id.to_string();
        let args = ["sandbox", "requests", "--partner", pid.as_str(), "--status", "403", "--path", "/rest/v1.4/jpphp/t", "--per-page", "1"];
        let run = crate::cli::jpstart(&args, &crate::cli::partner_env(&app, &a)).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        let cli: RequestsPage = run.json_as();
        assert_eq!((cli.total, cli.requests.len()), (2, 1), "{cli:?}");
        let client = jpstart_client::Client::builder().base_url(&app.base).token(&sub_token).build().unwrap();
        let query = jpstart_client::RequestLogQuery { key_id: Some(sub_id), status: Some(403), ..Default::default() };
        let got = client.request_log(a.partner_id, &query).await.unwrap();
        assert_eq!(got.total, 1, "{got:?}");
        assert_eq!(got.requests[0].path, "/rest/v1.4/jpphp/four.example/status");
        // Another partner's log holds none of a's requests.
        let theirs = page(&app, &other.token, other.partner_id, "?per_page=100").await;
        assert!(theirs.requests.iter().all(|r| r.key_id == Some(other.key_id)), "{theirs:?}");
    }

    async fn retention_follows_the_test_clock(db: Db) {
        let opts = Opts::default().arg("--request-log").arg("--request-log-retention").arg("1d").test_clock();
        let app = TestApp::spawn_with(db, opts).await;
        let a = app.partner("Old").await;
        let (status, _) = app.status(&a.token, "old.example").await;
        assert_eq!(status, 403);
        page_when(&app, &a.token, a.partner_id, "", |p| p.requests.iter().any(|r| r.path.contains("old.example"))).await;
        app.advance_clock("2d");
        let (status, _) = app.status(&a.token, "new.example").await;
        assert_eq!(status, 403);
        let p = page_when(&app, &a.token, a.partner_id, "?per_page=100", |p| {
            p.requests.iter().any(|r| r.path.contains("new.example"))
                && !p.requests.iter().any(|r| r.path.contains("old.example"))
        }).await;
        // The token request was older than a day too.
        assert!(!p.requests.iter().any(|r| r.path == "/oauth2/token"), "{p:?}");
    }

    async fn a_full_queue_drops_and_counts(db: Db) {
        let opts = Opts::default().arg("--request-log").arg("--request-log-queue").arg("1");
        let app = TestApp::spawn_with(db, opts).await;
        let a = app.partner("Burst").await;
        assert_eq!(metric(&app, "jpstart_request_log_dropped_total").await, Some(0.0));
        // Bursts of concurrent requests until one finds the queue full
        // (its writer cannot keep a one-entry queue empty), at most 20.
        let mut dropped = 0.0;
        for _ in 0..20 {
            let burst = (0..64).map(|_| app.status(&a.token, "burst.example"));
            for (status, _) in futures_util::future::join_all(burst).await {
                assert_eq!(status, 403);
            }
            dropped = metric(&app, "jpstart_request_log_dropped_total").await.unwrap();
            if dropped > 0.0 {
                break;
            }
        }
        assert!(dropped > 0.0, "no entry dropped");
        // What was not dropped is stored.
        page_when(&app, &a.token, a.partner_id, "", |p| p.total > 0).await;
    }

    async fn body_limits_stay_and_bodies_are_capped(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default().arg("--request-log")).await;
        let a = app.partner("Big").await;
        // Over the 64 KiB limit: still 413, the log notes the status.
        // A client of their own: the server closes a connection whose body
        // it did not read, which a pooled connection would trip over.
        let once = || reqwest::Client::new().post(app.url("/rest/v1.3/jpphp/provision")).bearer_auth(&a.token);
        let big = "x".repeat(70 * 1024);
        let res = once().form(&[("siteurl", big.as_str())]).send().await.unwrap();
        assert_eq!(res.status(), 413);
        // Chunked (no length): the handler reads past the cap, the log keeps a note.
        let chunks = futures_util::stream::iter((0..70).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 1024])));
        let res = once()
            .header("content-type", "application/x-www-form-urlencoded")
            .body(reqwest::Body::wrap_stream(chunks))
            .send().await.unwrap();
        assert_eq!(res.status(), 413);
        let p = page_when(&app, &a.token, a.partner_id, "?status=413", |p| p.total == 2).await;
        for r in &p.requests {
            assert_eq!(r.error_code.as_deref(), Some("request_too_large"), "{r:?}");
            assert!(!r.params.values().any(|v| v.as_str().is_some_and(|s| s.contains("xxxx") || s.contains("yyyy"))), "{r:?}");
        }
        assert!(p.requests.iter().any(|r| r.params.get("(body)").and_then(|v| v.as_str()).is_some_and(|n| n.starts_with("[not kept:"))), "{p:?}");
    }

    async fn off_by_default_on_in_the_sandbox(db: Db) {
        let app = TestApp::spawn(db.share()).await;
        let a = app.partner("Quiet").await;
        let (status, _) = app.status(&a.token, "quiet.example").await;
        assert_eq!(status, 403);
        let (status, body) = json(app.get(&log_path(a.partner_id, ""), &a.token).send().await.unwrap()).await;
        assert_error(status, &body, 404, "request_log_off");
        // Another partner is refused first: the answer tells nothing else.
        let (status, body) = json(app.get(&log_path(a.partner_id + 1, ""), &a.token).send().await.unwrap()).await;
        assert_error(status, &body, 403, "forbidden");
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(app.admin(&["requests"]).unwrap(), serde_json::json!([]));
        assert!(metric(&app, "jpstart_request_log_dropped_total").await.is_some());
        drop(app);

        let app = TestApp::spawn_with(db, Opts::default().arg("--sandbox")).await;
        let (status, _) = app.status(&a.token, "sandboxed.example").await;
        assert_eq!(status, 403);
        // Reads of the log are logged too (their answer is not kept).
        let p = page_when(&app, &a.token, a.partner_id, "", |p| {
            p.requests.iter().any(|r| r.path == "/rest/v1.4/jpphp/sandboxed.example/status")
        }).await;
        let read = find(&p, "GET", &log_path(a.partner_id, ""));
        assert_eq!(read.response, "[not kept: a read of the request log]");
    }
}
