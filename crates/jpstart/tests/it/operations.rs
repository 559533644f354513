//! Issue 8: operability (health, readiness, metrics, backup) and the limits
//! against abusive or slow clients.

use std::time::{Duration, Instant};

use jpstart_types::wire::{AdminActivation, KeyCredentials, OAuthErrorBody};
use reqwest::Method;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;

/// The Prometheus text of `/metrics`.
async fn metrics(app: &TestApp) -> String {
    let res = app.request(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let ct = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    res.text().await.unwrap()
}

/// The value of the sample line that starts with `series ` (0 when absent).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().unwrap())
        .unwrap_or(0.0)
}

fn provision_fields(site: &str, plan: &'static str) -> [(&'static str, String); 3] {
    [
        ("siteurl", format!("https://{site}")),
        ("local_user", "admin".into()),
        ("plan", plan.into()),
    ]
}

async fn token_request(app: &TestApp, client_id: &str, secret: &str) -> reqwest::Response {
    app.token_request(client_id, secret).await
}

/// Asserts a 429 with the RFC 6749-shaped body and a Retry-After header.
async fn assert_throttled(res: reqwest::Response) {
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["error", "error_description"], "{body}");
    let err: OAuthErrorBody = decode(&body);
    assert_eq!(err.error, "too_many_requests");
    assert!(
        err.error_description.contains(&format!("{retry} seconds")),
        "{body}"
    );
}

both_backends! {
    async fn health_readiness_and_metrics(db: Db) {
        let app = TestApp::spawn(db).await;
        for path in ["/healthz", "/readyz"] {
            let res = app.request(Method::GET, path).send().await.unwrap();
            assert_eq!(res.status(), 200, "{path}");
            assert_eq!(res.text().await.unwrap(), r#"{"status":"ok"}"#, "{path}");
        }
        let p = app.partner("Acme").await;
        for site in ["m1.example", "m2.example"] {
            let (status, body) = app.provision(&p.token, &provision_fields(site, "premium").each_ref().map(|(k, v)| (*k, v.as_str()))).await;
            assert_eq!(status, 200, "{body}");
        }
        let (status, _) = app.provision(&p.token, &[("siteurl", "https://m3.example"), ("local_user", "admin"), ("plan", "jetpack-scan")]).await;
        assert_eq!(status, 200);
        let (status, _) = app.provision(&p.token, &[("siteurl", "https://m3.example"), ("local_user", "admin"), ("plan", "bogus")]).await;
        assert_eq!(status, 400);
        let (status, _) = app.status(&p.token, "m1.example").await;
        assert_eq!(status, 200);
        app.request(Method::GET, "/no/such/path/m1.example").send().await.unwrap();

        let text = metrics(&app).await;
        let provision = r#"route="/rest/jpphp/provision""#;
        assert_eq!(sample(&text, &format!(r#"jpstart_http_requests_total{{{provision},method="POST",status="200"}}"#)), 3.0, "{text}");
        assert_eq!(sample(&text, &format!(r#"jpstart_http_requests_total{{{provision},method="POST",status="400"}}"#)), 1.0, "{text}");
        assert_eq!(sample(&text, r#"jpstart_http_requests_total{route="/rest/jpphp/{site_or_blog_id}/status",method="GET",status="200"}"#), 1.0, "{text}");
        assert_eq!(sample(&text, r#"jpstart_http_requests_total{route="/oauth2/token",method="POST",status="200"}"#), 1.0, "{text}");
        // Unknown paths share one label: no site name leaks into a label.
        assert_eq!(sample(&text, r#"jpstart_http_requests_total{route="unmatched",method="GET",status="404"}"#), 1.0, "{text}");
        assert!(!text.contains("m1.example"), "{text}");
        assert_eq!(sample(&text, &format!("jpstart_http_request_duration_seconds_count{{{provision}}}")), 4.0, "{text}");
        assert_eq!(sample(&text, &format!(r#"jpstart_http_request_duration_seconds_bucket{{{provision},le="+Inf"}}"#)), 4.0, "{text}");
        assert!(sample(&text, &format!("jpstart_http_request_duration_seconds_sum{{{provision}}}")) > 0.0, "{text}");
        assert_eq!(sample(&text, r#"jpstart_live_activations{product="premium"}"#), 2.0, "{text}");
        assert_eq!(sample(&text, r#"jpstart_live_activations{product="jetpack-scan"}"#), 1.0, "{text}");
        // The gauge is read from the database at scrape time.
        let (status, body) = app.cancel(&p.token, "m2.example", &[("plan", "premium")]).await;
        assert_eq!(status, 200, "{body}");
        let text = metrics(&app).await;
        assert_eq!(sample(&text, r#"jpstart_live_activations{product="premium"}"#), 1.0, "{text}");
        // /metrics counted itself the first time.
        assert_eq!(sample(&text, r#"jpstart_http_requests_total{route="/metrics",method="GET",status="200"}"#), 1.0, "{text}");
    }

    async fn backup_of_a_live_server_restores(db: Db) {
        let app = TestApp::spawn(db).await;
        let Some((file, restored_db)) = app.db.sibling("backup.db") else {
            let out = app.admin(&["backup", "/tmp/jpstart-never-written.db"]).unwrap_err();
            assert!(out.contains("pg_dump"), "{out}");
            assert!(!std::path::Path::new("/tmp/jpstart-never-written.db").exists());
            return;
        };
        let p = app.partner("Acme").await;
        for i in 0..5 {
            let site = format!("b{i}.example");
            let (status, body) = app.provision(&p.token, &provision_fields(&site, "premium").each_ref().map(|(k, v)| (*k, v.as_str()))).await;
            assert_eq!(status, 200, "{body}");
        }
        let (status, _) = app.cancel(&p.token, "b4.example", &[]).await;
        assert_eq!(status, 200);
        // Load goes on while the backup runs.
        let load = {
            let (base, token) = (app.base.clone(), p.token.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut ok = 0;
                for i in 0..30 {
                    let res = http.post(format!("{base}/rest/v1.3/jpphp/provision")).bearer_auth(&token)
                        .form(&[("siteurl", format!("https://load{i}.example")), ("local_user", "a".into()), ("plan", "premium".into())])
                        .send().await.unwrap();
                    ok += usize::from(res.status() == 200);
                }
                ok
            })
        };
        let before = app.activations(&[]);
        let out = app.admin(&["backup", file.to_str().unwrap()]).unwrap();
        assert_eq!(out["database"], file.to_str().unwrap(), "{out}");
        assert_eq!(out["key"], format!("{}.key", file.display()), "{out}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for f in [file.clone(), file.with_extension("db.key")] {
                let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", f.display());
            }
        }
        assert_eq!(load.await.unwrap(), 30, "the server kept serving");
        let after = app.activations(&[]);
        // A second backup to the same file is refused, and changes nothing.
        let len = std::fs::metadata(&file).unwrap().len();
        let err = app.admin(&["backup", file.to_str().unwrap()]).unwrap_err();
        assert!(err.contains("exists"), "{err}");
        assert_eq!(std::fs::metadata(&file).unwrap().len(), len);
        // A database that is not there is not created by backing it up.
        let (missing, missing_db) = app.db.sibling("missing.db").unwrap();
        let err = admin(&missing_db.url, &["backup", &format!("{}.copy", file.display())]).unwrap_err();
        assert!(err.contains("no database at"), "{err}");
        assert!(!missing.exists());

        // A new server on the copy has everything acknowledged before the
        // backup began, and nothing that was not committed when it ended.
        let restored = TestApp::spawn(restored_db).await;
        let copy = restored.activations(&[]);
        let ids = |v: &[AdminActivation]| v.iter().map(|a| a.id).collect::<Vec<_>>();
        let (copy_ids, before_ids, after_ids) = (ids(&copy), ids(&before), ids(&after));
        assert!(before_ids.iter().all(|id| copy_ids.contains(id)), "{copy:?} lacks some of {before:?}");
        assert!(copy_ids.iter().all(|id| after_ids.contains(id)), "{copy:?} vs {after:?}");
        let b4 = copy.iter().find(|a| a.site == "b4.example").unwrap();
        assert_eq!(b4.state, "cancelled");
        // The partner's token works on the restored server.
        let st = restored.status_ok(&p.token, "b0.example").await;
        assert_eq!(st.products[0].slug, "premium", "{st:?}");
    }

    async fn token_endpoint_is_rate_limited_per_client_id(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default()
            .arg("--token-rate-limit").arg("1/min:3")
            .arg("--token-rate-limit-per-address").arg("0")).await;
        let a: KeyCredentials = app.admin_as(&["partner", "create", "--name", "A"]);
        let b: KeyCredentials = app.admin_as(&["partner", "create", "--name", "B"]);
        let (a_id, b_id) = (a.client_id.as_str(), b.client_id.as_str());
        // Guessing secrets: each wrong one counts.
        for _ in 0..3 {
            let res = token_request(&app, a_id, "wrong").await;
            assert_eq!(res.status(), 400);
        }
        // Over the burst: wrong secrets are refused, but the right one still
        // gets its token (SPEC §11: guessing must not lock the owner out).
        assert_throttled(token_request(&app, a_id, "wrong").await).await;
        let res = token_request(&app, a_id, &a.client_secret).await;
        assert_eq!(res.status(), 200);
        // Another client id is not affected.
        let res = token_request(&app, b_id, &b.client_secret).await;
        assert_eq!(res.status(), 200);
        // The limit is exact: three wrong secrets for B, then B is refused too.
        for _ in 0..3 {
            assert_eq!(token_request(&app, b_id, "wrong").await.status(), 400);
        }
        assert_throttled(token_request(&app, b_id, "wrong").await).await;
        assert!(app.logs().contains("throttled"), "logged");
    }

    async fn token_endpoint_is_rate_limited_per_address(db: Db) {
        let app = TestApp::spawn_with(db, Opts::default()
            .arg("--token-rate-limit").arg("0")
            .arg("--token-rate-limit-per-address").arg("2/min")).await;
        for i in 0..2 {
            assert_eq!(token_request(&app, &format!("{}", 100 + i), "x").await.status(), 400);
        }
        // A fresh client id does not help: the address is over its rate.
        assert_throttled(token_request(&app, "999", "x").await).await;
        // Other endpoints are not limited.
        let res = app.request(Method::GET, "/rest/v1.3/jpphp/errors").send().await.unwrap();
        assert_eq!(res.status(), 200);
    }

    async fn oversized_body_is_refused(db: Db) {
        let app = TestApp::spawn(db).await;
        let p = app.partner("Acme").await;
        let big = "x".repeat(64 * 1024 + 1);
        let res = app.post("/rest/v1.3/jpphp/provision", &p.token)
            .form(&[("siteurl", "https://big.example"), ("local_user", big.as_str())])
            .send().await.unwrap();
        let (status, body) = json(res).await;
        assert_error(status, &body, 413, "request_too_large");
        let acts = app.activations(&[]);
        assert_eq!(acts.len(), 0, "{acts:?}");
    }
}

/// Opens a raw connection to the server.
async fn raw(app: &TestApp) -> TcpStream {
    let addr = app.base.strip_prefix("http://").unwrap();
    TcpStream::connect(addr).await.unwrap()
}

/// Reads until the server closes the connection (or `limit` passes).
async fn read_to_close(stream: &mut TcpStream, limit: Duration) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(limit, stream.read_to_end(&mut out))
        .await
        .expect("server closes the connection");
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_are_cut_off() {
    let app = TestApp::spawn_with(
        Db::sqlite(),
        Opts::default().arg("--header-timeout").arg("300ms"),
    )
    .await;
    let mut slow = raw(&app).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let start = Instant::now();
    // The rest of the headers never come: the server hangs up.
    read_to_close(&mut slow, Duration::from_secs(5)).await;
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    // A connection that never says anything is closed as well.
    let mut silent = raw(&app).await;
    let start = Instant::now();
    read_to_close(&mut silent, Duration::from_secs(5)).await;
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    // A prompt client on another connection is served meanwhile.
    let mut quick = raw(&app).await;
    quick
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut quick, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_tls_clients_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let app = TestApp::spawn_with(
        Db::sqlite(),
        Opts::default()
            .arg("--tls-cert")
            .arg(cert.to_str().unwrap())
            .arg("--tls-key")
            .arg(key.to_str().unwrap())
            .arg("--header-timeout")
            .arg("300ms"),
    )
    .await;
    let addr = app.base.strip_prefix("https://").unwrap();
    // Connected, no ClientHello: the handshake times out like headers do.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let start = Instant::now();
    read_to_close(&mut silent, Duration::from_secs(5)).await;
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_time_out() {
    let app = TestApp::spawn_with(
        Db::sqlite(),
        Opts::default().arg("--request-timeout").arg("500ms"),
    )
    .await;
    let p = app.partner("Acme").await;
    let mut slow = raw(&app).await;
    let head = format!(
        "POST /rest/v1.3/jpphp/provision HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nsiteurl=",
        p.token
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let start = Instant::now();
    let mut buf = Vec::new();
    // Until the whole (small, JSON object) body is in.
    while !String::from_utf8_lossy(&buf).ends_with('}') {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), slow.read(&mut chunk))
            .await
            .expect("answered")
            .unwrap();
        assert!(
            n > 0,
            "closed without an answer: {}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
    let answer = String::from_utf8_lossy(&buf).into_owned();
    assert!(start.elapsed() < Duration::from_secs(3));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let err = assert_error(
        reqwest::StatusCode::REQUEST_TIMEOUT,
        &body,
        408,
        "request_timeout",
    );
    assert_eq!(err.message, "The request was not completed within 500ms");
    assert_eq!(app.activations(&[]).len(), 0);
}

/// PostgreSQL only: an SQLite file is opened once and `SELECT 1` never
/// touches it, so there is no way for it to become unreachable under a
/// running server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_while_the_database_is_unreachable() {
    use sqlx::Connection;
    let Some(db) = Db::postgres().await else {
        return postgres_skipped();
    };
    let name = db
        .url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let app = TestApp::spawn(db).await;
    let ready = |app: &TestApp| {
        let req = app.request(Method::GET, "/readyz");
        async move {
            let res = req.send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    assert_eq!(ready(&app).await, (200, r#"{"status":"ok"}"#.to_string()));
    let mut admin = sqlx::postgres::PgConnection::connect(&std::env::var(POSTGRES_ENV).unwrap())
        .await
        .unwrap();
    let cut = |allow: bool| format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {allow}");
    sqlx::query(&cut(false)).execute(&mut admin).await.unwrap();
    sqlx::query(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    let start = Instant::now();
    assert_eq!(
        ready(&app).await,
        (503, r#"{"status":"unavailable"}"#.to_string())
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "answered in time: {:?}",
        start.elapsed()
    );
    let res = app.request(Method::GET, "/healthz").send().await.unwrap();
    assert_eq!(res.status(), 200, "alive all the same");
    sqlx::query(&cut(true)).execute(&mut admin).await.unwrap();
    let mut answer = ready(&app).await;
    for _ in 0..50 {
        if answer.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        answer = ready(&app).await;
    }
    assert_eq!(answer.0, 200, "ready again: {answer:?}\n{}", app.logs());
    assert!(app.logs().contains("readiness check: database unreachable"));
}
