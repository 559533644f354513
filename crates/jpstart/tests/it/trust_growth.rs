//! Issue 12, finding 8: one key cannot grow the database without bound.
//! Each test is the attack (with a small configured bound, to stay fast),
//! then the positive control that normal use still works.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Row;

use crate::common::*;
use crate::rawdb;

async fn count(db: &Db, sql: &str, id: u64) -> i64 {
    let mut conn = rawdb::connect(db).await;
    sqlx::query(sql)
        .bind(i64::try_from(id).unwrap())
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get("n")
}

async fn tokens_of(db: &Db, key: u64) -> i64 {
    count(
        db,
        "SELECT COUNT(*) AS n FROM tokens WHERE key_id = $1",
        key,
    )
    .await
}

async fn links_of(db: &Db, blog: u64) -> i64 {
    count(
        db,
        "SELECT COUNT(*) AS n FROM auth_links WHERE blog_id = $1",
        blog,
    )
    .await
}

/// `partner-keys/verify` with the token: 200, or the auth error it gets.
async fn verified(app: &TestApp, token: &str) -> (StatusCode, Value) {
    json(
        app.post("/rest/v1.3/jpphp/partner-keys/verify", token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn verify(app: &TestApp, token: &str) -> StatusCode {
    app.post("/rest/v1.3/jpphp/partner-keys/verify", token)
        .send()
        .await
        .unwrap()
        .status()
}

fn opts(env: &[(&str, &str)]) -> Opts {
    // The token throttles are other bounds, not under test here.
    let mut o = Opts::default()
        .arg("--token-rate-limit")
        .arg("0")
        .arg("--token-rate-limit-per-address")
        .arg("0");
    for (k, v) in env {
        o = o.env(*k, *v);
    }
    o
}

fn plain(site: &str) -> [(&'static str, String); 2] {
    [
        ("siteurl", format!("https://{site}")),
        ("local_user", "admin".to_string()),
    ]
}

async fn provision(app: &TestApp, token: &str, fields: &[(&str, String)]) -> (StatusCode, Value) {
    let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.provision(token, &f).await
}

both_backends! {
    /// Attack: a script mints a token per run, forever. Each request used to
    /// add a row that never expired.
    async fn token_requests_keep_at_most_the_cap_per_key(db: Db) {
        let app = TestApp::spawn_with(db, opts(&[("JPSTART_TOKENS_PER_KEY", "5")])).await;
        let p = app.partner("Minter").await;
        let mut minted = Vec::new();
        for _ in 0..20 {
            minted.push(app.token(&p.client_id, &p.client_secret).await);
        }
        assert_eq!(tokens_of(&app.db, p.key_id).await, 5, "live token rows of the key");
        // The least recently used went first: the earliest, never used.
        assert_eq!(verify(&app, &p.token).await, 403);
        let (status, body) = verified(&app, &minted[0]).await;
        assert_error(status, &body, 403, "invalid_token");
        for t in &minted[15..] {
            assert_eq!(verify(&app, t).await, 200);
        }
        // Another key of the same partner has its own cap.
        let other = app.key(p.partner_id, &[]).await;
        assert_eq!(verify(&app, &other.token).await, 200);
    }

    /// Attack: the same, in parallel, to slip past a check-then-insert.
    async fn the_token_cap_is_exact_under_concurrency(db: Db) {
        let app = TestApp::spawn_with(db, opts(&[("JPSTART_TOKENS_PER_KEY", "5")])).await;
        let p = app.partner("Parallel").await;
        let mut tasks = Vec::new();
        for _ in 0..40 {
            let (client, url) = (app.client.clone(), app.url("/oauth2/token"));
            let (id, secret) = (p.client_id.clone(), p.client_secret.clone());
            tasks.push(tokio::spawn(async move {
                let form = [("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret), ("scope", "jetpack-partner")];
                client.post(url).form(&form).send().await.unwrap().status()
            }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), 200);
        }
        assert_eq!(tokens_of(&app.db, p.key_id).await, 5);
    }

    /// Positive control: the panel's stored token, in daily use, survives
    /// 150 scripts that each mint a token and use it once.
    async fn a_token_in_daily_use_survives_150_new_tokens(db: Db) {
        let app = TestApp::spawn_with(db, opts(&[
            ("JPSTART_TOKENS_PER_KEY", "5"),
            // Every use counts at once here; the default (1 minute) is the
            // unit test's.
            ("JPSTART_TOKEN_TOUCH_INTERVAL", "0s"),
        ])).await;
        let p = app.partner("Panel").await;
        let stored = p.token.clone();
        for i in 0..150 {
            let script = app.token(&p.client_id, &p.client_secret).await;
            assert_eq!(verify(&app, &script).await, 200, "script token {i}");
            assert_eq!(verify(&app, &stored).await, 200, "stored token after {i} scripts");
        }
        assert_eq!(tokens_of(&app.db, p.key_id).await, 5);
    }

    /// Attack: retrying a pending provision used to add a link row each time.
    async fn a_repeated_pending_provision_reissues_its_one_link(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Retrier").await;
        let mut links = Vec::new();
        for _ in 0..4 {
            let mut form = plain("retry.example").to_vec();
            form.push(("plan", "premium".to_string()));
            let (status, body) = provision(&app, &a.token, &form).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["auth_required"], true, "{body}");
            links.push(body["next_url"].as_str().unwrap().to_string());
        }
        // A plan-less retry reissues it too.
        let (status, body) = provision(&app, &a.token, &plain("retry.example")).await;
        assert_eq!(status, 200, "{body}");
        links.push(body["next_url"].as_str().unwrap().to_string());
        let blog = app.blog_id("retry.example");
        assert_eq!(links_of(&app.db, blog).await, 1, "link rows of the site");
        // The old links stop working; the newest is the one.
        for old in &links[..links.len() - 1] {
            let res = app.client.get(old).send().await.unwrap();
            assert_eq!(res.status(), 404, "{old}");
        }
        let newest = links.last().unwrap();
        assert_eq!(app.client.get(newest).send().await.unwrap().status(), 200);
        // Another partner's link is its own: it does not replace this one.
        let b = app.partner("Other").await;
        let (status, body) = provision(&app, &b.token, &plain("retry.example")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(links_of(&app.db, blog).await, 2);
        assert_eq!(app.client.get(newest).send().await.unwrap().status(), 200);
    }

    /// Attack: writes as fast as the key can send them, plan-less
    /// registrations included. Beyond the burst: 429 with Retry-After, and
    /// nothing registered.
    async fn writes_beyond_the_key_rate_are_refused_with_retry_after(db: Db) {
        let app = TestApp::spawn_with(db, opts(&[("JPSTART_WRITE_RATE_LIMIT", "1/h:5")])).await;
        let a = app.partner("Flooder").await;
        // Five writes of the five kinds use up the burst.
        let (status, body) = provision(&app, &a.token, &plain("w1.example")).await;
        assert_eq!(status, 200, "{body}");
        let blog = app.blog_id("w1.example");
        let res = app.post(&format!("/rest/v1.3/jpphp/{blog}/partner-provision"), &a.token)
            .json(&serde_json::json!({})).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let res = app.post(&format!("/rest/v1.3/jpphp/{blog}/ssh-credentials"), &a.token)
            .form(&[("ssh_user", "u"), ("ssh_pass", "p"), ("ssh_host", "h")]).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let (status, body) = app.cancel(&a.token, "w1.example", &[]).await;
        assert_eq!(status, 200, "{body}");
        let res = app.post("/rest/v1.3/jpphp/partner-keys/new", &a.token)
            .form(&[("name", "sub")]).send().await.unwrap();
        assert_eq!(res.status(), 200);
        // The sixth is refused, whatever it is.
        let res = app.post("/rest/v1.3/jpphp/provision", &a.token)
            .form(&[("siteurl", "https://w2.example"), ("local_user", "admin")]).send().await.unwrap();
        let retry_after = res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
        let (status, body) = json(res).await;
        assert_error(status, &body, 429, "too_many_requests");
        assert_eq!(body["message"], "Too many requests per time interval");
        let secs: u64 = retry_after.expect("Retry-After").parse().unwrap();
        assert!((1..=3600).contains(&secs), "{secs}");
        let (status, body) = app.cancel(&a.token, "w1.example", &[]).await;
        assert_error(status, &body, 429, "too_many_requests");
        assert!(app.admin(&["site", "show", "w2.example"]).is_err(), "w2 was not registered");
        // Reads are not writes; another key has its own bucket.
        let (status, body) = app.status(&a.token, "w1.example").await;
        assert_eq!(status, 200, "{body}");
        let b = app.partner("Quiet").await;
        let (status, body) = provision(&app, &b.token, &plain("w3.example")).await;
        assert_eq!(status, 200, "{body}");
    }

    /// Positive control: at the default rate, a steady run of provisions
    /// (more than the burst, over a few seconds) all succeed.
    async fn provisioning_under_the_default_rate_works(db: Db) {
        let app = TestApp::spawn_with(db, opts(&[("JPSTART_WRITE_RATE_LIMIT", "20/s:100")])).await;
        let a = app.partner("Steady").await;
        for i in 0..130 {
            let mut form = plain(&format!("s{i}.example")).to_vec();
            form.push(("plan", "personal".to_string()));
            let (status, body) = provision(&app, &a.token, &form).await;
            assert_eq!(status, 200, "provision {i}: {body}");
            if i >= 90 {
                // Stay under 20/s once the burst is nearly spent.
                tokio::time::sleep(Duration::from_millis(60)).await;
            }
        }
    }

    /// Attack: free text stored up to the whole 64 KiB body.
    async fn oversized_fields_are_refused_with_their_codes(db: Db) {
        let app = TestApp::spawn(db).await;
        let a = app.partner("Verbose").await;
        let long_user = "u".repeat(256);
        let mut form = plain("long.example").to_vec();
        form[1].1 = long_user.clone();
        let (status, body) = provision(&app, &a.token, &form).await;
        assert_error(status, &body, 400, "invalid_local_user");
        let long_url = format!("https://long.example/{}", "p".repeat(2048));
        let (status, body) = provision(&app, &a.token, &[("siteurl", long_url), ("local_user", "admin".into())]).await;
        assert_error(status, &body, 400, "invalid_siteurl");
        let tracking = "t".repeat(256);
        let res = app.post(&format!("/rest/v1.3/jpphp/provision?partner_tracking_id={tracking}"), &a.token)
            .form(&[("siteurl", "https://long.example"), ("local_user", "admin"), ("plan", "personal")])
            .send().await.unwrap();
        let (status, body) = json(res).await;
        assert_error(status, &body, 400, "invalid_partner_tracking_id");
        let (status, body) = provision(&app, &a.token, &[("siteurl", "https://long.example".into()), ("local_user", "admin".into()), ("partner-tracking-id", tracking)]).await;
        assert_error(status, &body, 400, "invalid_partner_tracking_id");
        assert!(app.admin(&["site", "show", "long.example"]).is_err(), "nothing registered");
        // At the bounds: accepted.
        let at_url = format!("https://long.example/{}", "p".repeat(2048 - "https://long.example/".len()));
        let (status, body) = provision(&app, &a.token, &[
            ("siteurl", at_url),
            ("local_user", "u".repeat(255)),
            ("partner_tracking_id", "t".repeat(255)),
            ("plan", "personal".into()),
        ]).await;
        assert_eq!(status, 200, "{body}");
        // partner-provision stores the user too.
        let res = app.post("/rest/v1.3/jpphp/provision", &a.token)
            .form(&[("siteurl", "https://short.example"), ("local_user", "admin")]).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let short = app.blog_id("short.example");
        let res = app.post(&format!("/rest/v1.3/jpphp/{short}/partner-provision"), &a.token)
            .json(&serde_json::json!({ "user_login": long_user })).send().await.unwrap();
        let (status, body) = json(res).await;
        assert_error(status, &body, 400, "invalid_local_user");
    }

    /// The bounds are configurable.
    async fn field_bounds_follow_the_configuration(db: Db) {
        let app = TestApp::spawn_with(db, opts(&[("JPSTART_MAX_FIELD_LENGTH", "8"), ("JPSTART_MAX_URL_LENGTH", "30")])).await;
        let a = app.partner("Tight").await;
        let (status, body) = provision(&app, &a.token, &[("siteurl", "https://tight.example".into()), ("local_user", "ninechars".into())]).await;
        assert_error(status, &body, 400, "invalid_local_user");
        assert!(body["message"].as_str().unwrap().contains('8'), "{body}");
        let (status, body) = provision(&app, &a.token, &[("siteurl", "https://tight.example/0123456789".into()), ("local_user", "admin".into())]).await;
        assert_error(status, &body, 400, "invalid_siteurl");
        let (status, body) = provision(&app, &a.token, &[("siteurl", "https://tight.example".into()), ("local_user", "eightchr".into())]).await;
        assert_eq!(status, 200, "{body}");
    }
}
