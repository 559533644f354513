//! Issue: PostgreSQL backend. Database URLs the binary refuses, and
//! `jpstart admin migrate` (SQLite → PostgreSQL).

use std::process::Command;

use sqlx::Connection;

use crate::common::*;

/// `jpstart ARGS`: exit success, stdout, stderr. With a server key set, so
/// that a server on PostgreSQL (which needs one) gets as far as the database.
fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("JPSTART_DATABASE_URL")
        .env_remove("JPSTART_SECRET_KEY_FILE")
        .env(
            "JPSTART_SECRET_KEY",
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        )
        .output()
        .expect("run jpstart");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn unsupported_scheme_is_a_clear_error() {
    let (ok, _, err) = run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        "mysql://root:hunter2@127.0.0.1/jpstart",
    ]);
    assert!(!ok);
    assert!(err.contains("unsupported database URL"), "{err}");
    assert!(
        err.contains("sqlite://") && err.contains("postgres://"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "the password is not shown: {err}");
    let (ok, _, err) = run(&[
        "admin",
        "--database-url",
        "mysql://x/y",
        "partner",
        "create",
        "--name",
        "A",
    ]);
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains("unsupported database URL"), "{err}");
}

#[tokio::test]
async fn a_missing_postgres_database_is_not_created() {
    let Some(cluster) = std::env::var(POSTGRES_ENV).ok().filter(|s| !s.is_empty()) else {
        return postgres_skipped();
    };
    let name = format!("jpstart_typo_{}", rand::random::<u64>());
    let url = with_database(&cluster, &name);
    let (ok, _, err) = run(&["serve", "--listen", "127.0.0.1:0", "--database-url", &url]);
    assert!(!ok);
    assert!(
        err.contains(&format!("database \"{name}\" does not exist")),
        "{err}"
    );
    let (ok, _, err) = run(&[
        "admin",
        "--database-url",
        &url,
        "partner",
        "create",
        "--name",
        "A",
    ]);
    assert!(!ok);
    assert!(
        err.contains("does not exist") && err.contains("never creates"),
        "{err}"
    );
    let mut pg = sqlx::postgres::PgConnection::connect(&cluster)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_one(&mut pg)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_migrate_copies_an_embedded_database() {
    let Some(target) = Db::postgres().await else {
        return postgres_skipped();
    };
    // Some history on SQLite: keys with limits, a sub-key, tokens, sites,
    // pending/active/superseded/cancelled activations, a grant, an
    // authorization link, redirect prefixes, credentials.
    let app = TestApp::spawn(Db::sqlite()).await;
    let acme = app.partner("Acme").await;
    let sub = app.key(acme.partner_id, &["--limit", "premium=5"]).await;
    let other = app.partner("Other").await;
    app.admin(&[
        "partner",
        "allow-redirect",
        "--partner",
        &acme.partner_id.to_string(),
        "https://panel.example/",
    ])
    .unwrap();
    let mut blog_ids = Vec::new();
    for (i, plan) in ["personal", "premium", "professional"].iter().enumerate() {
        let url = format!("https://m{i}.example");
        let (status, body) = app
            .provision(
                &acme.token,
                &[("siteurl", &url), ("local_user", "admin"), ("plan", plan)],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        blog_ids.push(app.blog_id(&url));
    }
    let (status, body) = app
        .provision(
            &acme.token,
            &[
                ("siteurl", "https://m0.example"),
                ("local_user", "admin"),
                ("plan", "premium"),
            ],
        )
        .await;
    assert_eq!(status, 200, "upgrade: {body}");
    let (status, body) = app
        .provision(
            &sub.token,
            &[
                ("siteurl", "https://m3.example"),
                ("local_user", "admin"),
                ("plan", "premium"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.admin(&["site", "connect", "https://m1.example"])
        .unwrap();
    let (status, body) = app.cancel(&acme.token, &blog_ids[2].to_string(), &[]).await;
    assert_eq!(status, 200, "{body}");
    app.admin(&[
        "site",
        "grant",
        "https://m4.example",
        "--product",
        "premium",
    ])
    .unwrap();
    // Accounts, their tokens, the allow-list and the outbox (issue 13).
    app.admin(&[
        "partner",
        "allow-user-creation",
        &acme.partner_id.to_string(),
    ])
    .unwrap();
    let (status, body) = app
        .provision(
            &acme.token,
            &[
                ("siteurl", "https://m5.example"),
                ("local_user", "admin"),
                ("plan", "personal"),
                ("wpcom_user_email", "owner@m5.example"),
            ],
        )
        .await;
    assert!(status == 200 && body["access_token"].is_string(), "{body}");
    let res = app
        .post("/rest/v1.3/jpphp/mobile-magic-link", &acme.token)
        .form(&[("email", "owner@m5.example")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // A partner user with a session and a reporting token (issue 14).
    let (_, password) = crate::portal_auth::user(&app, acme.partner_id, "jane@m5.example");
    let mut agent = crate::portal_auth::Agent::new(&app);
    assert_eq!(
        agent.sign_in("jane@m5.example", &password).await.status,
        303
    );
    let home = agent.get("/portal/").await;
    let csrf = crate::portal_auth::csrf_of(&home.body).unwrap();
    assert_eq!(
        agent
            .post("/portal/token", &[("csrf_token", &csrf)])
            .await
            .status,
        200
    );
    let source_url = app.db.url.clone();
    let before = app.admin(&["activations"]).unwrap();
    let _keep_dir = app.db.share();
    assert!(app.terminate().await.success());

    // The copy.
    let (ok, out, err) = run(&[
        "admin",
        "migrate",
        "--from",
        &source_url,
        "--to",
        &target.url,
    ]);
    assert!(ok, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let mut sqlite = sqlx::sqlite::SqliteConnection::connect(&source_url)
        .await
        .unwrap();
    let mut pg = sqlx::postgres::PgConnection::connect(&target.url)
        .await
        .unwrap();
    let tables = report["tables"].as_array().unwrap();
    assert_eq!(
        tables.len(),
        jpstart_server::store::copy::TABLES.len(),
        "{report}"
    );
    for t in tables {
        let name = t["table"].as_str().unwrap();
        let q = format!("SELECT COUNT(*) FROM {name}");
        let in_sqlite: i64 = sqlx::query_scalar(&q).fetch_one(&mut sqlite).await.unwrap();
        let in_pg: i64 = sqlx::query_scalar(&q).fetch_one(&mut pg).await.unwrap();
        assert_eq!(
            (t["rows"].as_i64().unwrap(), in_pg),
            (in_sqlite, in_sqlite),
            "{name}"
        );
    }
    for name in [
        "partners",
        "keys",
        "tokens",
        "sites",
        "activations",
        "events",
        "partner_redirects",
        "wpcom_users",
        "partner_user_creation",
        "wpcom_user_tokens",
        "mail_outbox",
        "partner_users",
        "portal_sessions",
        "partner_user_tokens",
    ] {
        let n = tables.iter().find(|t| t["table"] == name).unwrap()["rows"]
            .as_i64()
            .unwrap();
        assert!(n > 0, "the fixture has {name}");
    }

    // The same data, the same ids, served from PostgreSQL; old tokens work.
    let app = TestApp::spawn(target.share()).await;
    assert_eq!(app.admin(&["activations"]).unwrap(), before);
    let st = app.status_ok(&acme.token, "m1.example").await;
    assert!(st.blog.is_connected, "{st:?}");
    assert_eq!(st.products[0].slug, "premium", "{st:?}");
    // New rows get ids past the copied ones.
    let (status, body) = app
        .provision(
            &other.token,
            &[
                ("siteurl", "https://new.example"),
                ("local_user", "admin"),
                ("plan", "premium"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let max: i64 =
        sqlx::query_scalar("SELECT MAX(blog_id) FROM sites WHERE identifier <> 'new.example'")
            .fetch_one(&mut sqlite)
            .await
            .unwrap();
    assert_eq!(app.blog_id("new.example") as i64, max + 1);
    let p = app.partner("After").await;
    assert!(p.partner_id > other.partner_id && p.key_id > sub.key_id);
    // Limits came along: the sub-key has 1 of 5.
    let (status, _) = app
        .provision(
            &sub.token,
            &[
                ("siteurl", "https://n2.example"),
                ("local_user", "admin"),
                ("plan", "premium"),
            ],
        )
        .await;
    assert_eq!(status, 200);

    // A non-empty target is refused, and left as it was.
    let (ok, _, err) = run(&[
        "admin",
        "migrate",
        "--from",
        &source_url,
        "--to",
        &target.url,
    ]);
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains("not empty"), "{err}");
    let sites: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sites")
        .fetch_one(&mut pg)
        .await
        .unwrap();
    // Seven from before, and m5.example of the accounts fixture.
    assert_eq!(sites, 8);
}

#[tokio::test]
async fn admin_migrate_refuses_bad_urls() {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("sqlite://{}", dir.path().join("nope.db").display());
    let to = std::env::var(POSTGRES_ENV).unwrap_or_else(|_| "postgres://127.0.0.1:1/x".into());
    let (ok, _, err) = run(&["admin", "migrate", "--from", &missing, "--to", &to]);
    assert!(!ok);
    assert!(err.contains("no SQLite database"), "{err}");
    assert!(
        !dir.path().join("nope.db").exists(),
        "a typo does not create a file"
    );
    let db = Db::sqlite();
    admin(&db.url, &["partner", "create", "--name", "A"]).unwrap();
    let (ok, _, err) = run(&["admin", "migrate", "--from", &db.url, "--to", &db.url]);
    assert!(!ok);
    assert!(err.contains("--to must be a postgres:// URL"), "{err}");
    let (ok, _, err) = run(&["admin", "migrate", "--from", &to, "--to", &to]);
    assert!(!ok);
    assert!(err.contains("--from must be an sqlite:// URL"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_starting_at_once_migrate_once() {
    let Some(db) = Db::postgres().await else {
        return postgres_skipped();
    };
    // Servers and admin commands on one fresh database, all at once: the
    // advisory lock lets one of them create the schema; the others wait and
    // find it done.
    let admins: Vec<_> = (0..3)
        .map(|i| {
            Command::new(BIN)
                .args([
                    "admin",
                    "--database-url",
                    &db.url,
                    "partner",
                    "create",
                    "--name",
                    &format!("P{i}"),
                ])
                .env_remove("JPSTART_DATABASE_URL")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let servers: Vec<_> = (0..3)
        .map(|_| tokio::spawn(TestApp::spawn(db.share())))
        .collect();
    for a in admins {
        let out = a.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut apps = Vec::new();
    for s in servers {
        apps.push(s.await.unwrap());
    }
    for app in &apps {
        let p = app.partner("Ready").await;
        assert_eq!(p.token.len(), 64);
    }
    let mut pg = sqlx::postgres::PgConnection::connect(&db.url)
        .await
        .unwrap();
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT version, COUNT(*) FROM _sqlx_migrations WHERE success GROUP BY version ORDER BY version",
    )
    .fetch_all(&mut pg)
    .await
    .unwrap();
    assert_eq!(rows.first(), Some(&(1, 1)), "{rows:?}");
    assert!(
        rows.iter().all(|(_, n)| *n == 1),
        "each migration applied once: {rows:?}"
    );
}
