//! Issue: PostgreSQL backend and scale-out. Two `jpstart serve` processes on
//! one PostgreSQL database: whatever must hold across processes (limits, one
//! live activation per site and family, exactly-once cancels, what status
//! sees, revoked tokens) holds because PostgreSQL enforces it, not because
//! of anything in one server's memory.
//!
//! PostgreSQL only: without `JPSTART_TEST_POSTGRES_URL` it reports itself
//! skipped.

use std::sync::Arc;

use jpstart_types::wire::ProvisionResponse;
use sqlx::Connection;

use crate::common::*;

/// Rounds of the whole check; every round asserts the exact properties.
const ROUNDS: usize = 20;
/// Concurrent provisions per round, each to a different site.
const PROVISIONS: usize = 200;
/// The key's limit of live `premium` activations.
const LIMIT: usize = 37;
/// Concurrent identical provisions per round (same key, site and plan).
const IDENTICAL: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_one_database() {
    let Some(db) = Db::postgres().await else {
        postgres_skipped();
        return;
    };
    let second = db.share();
    // All the load comes from one loopback address, as from a load
    // balancer: the per-address connection cap is for the open internet.
    let opts = || {
        Opts::default()
            .arg("--max-connections-per-address")
            .arg("0")
    };
    let a = Arc::new(TestApp::spawn_with(db, opts()).await);
    let b = Arc::new(TestApp::spawn_with(second, opts()).await);
    let mut pg = sqlx::postgres::PgConnection::connect(&a.db.url)
        .await
        .expect("connect to the test database");
    let owner = a.partner("Scale-out").await;

    for round in 0..ROUNDS {
        // A fresh limited key each round; its token (minted by server a) is
        // used on both servers.
        let limit = format!("premium={LIMIT}");
        let key = a.key(owner.partner_id, &["--limit", &limit]).await;

        // 1. Exactly LIMIT of PROVISIONS concurrent provisions succeed.
        let calls = (0..PROVISIONS).map(|i| {
            let app = if i % 2 == 0 { a.clone() } else { b.clone() };
            let token = key.token.clone();
            async move {
                let url = format!("https://r{round}-s{i}.scale.example");
                app.provision(
                    &token,
                    &[
                        ("siteurl", &url),
                        ("local_user", "admin"),
                        ("plan", "premium"),
                    ],
                )
                .await
            }
        });
        let results = all(calls).await;
        let mut ok = 0;
        for (status, body) in &results {
            if status.as_u16() == 200 {
                assert!(
                    decode::<ProvisionResponse>(body).success,
                    "round {round}: {body}"
                );
                ok += 1;
            } else {
                assert_error(*status, body, 400, "activation_limit_reached");
            }
        }
        assert_eq!(ok, LIMIT, "round {round}: successes");
        let live: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM activations WHERE key_id = $1 AND state IN ('pending', 'active')",
        )
        .bind(key.key_id as i64)
        .fetch_one(&mut pg)
        .await
        .unwrap();
        assert_eq!(
            live, LIMIT as i64,
            "round {round}: live activations in the database"
        );

        // 2. Identical provisions through both servers: one activation.
        let site = format!("https://r{round}-same.scale.example");
        let calls = (0..IDENTICAL).map(|i| {
            let app = if i % 2 == 0 { a.clone() } else { b.clone() };
            let token = owner.token.clone();
            let site = site.clone();
            async move {
                app.provision(
                    &token,
                    &[
                        ("siteurl", &site),
                        ("local_user", "admin"),
                        ("plan", "premium"),
                    ],
                )
                .await
            }
        });
        let results = all(calls).await;
        let mut blog_ids = Vec::new();
        for (status, body) in &results {
            assert_eq!(
                status.as_u16(),
                200,
                "round {round}: {body}\n{}\n{}",
                a.logs(),
                b.logs()
            );
            assert!(
                decode::<ProvisionResponse>(body).success,
                "round {round}: {body}"
            );
            blog_ids.push(a.blog_id(&site));
        }
        blog_ids.dedup();
        assert_eq!(blog_ids.len(), 1, "round {round}: one site, one blog id");
        let blog_id = blog_ids[0];
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM activations WHERE blog_id = $1")
            .bind(blog_id as i64)
            .fetch_one(&mut pg)
            .await
            .unwrap();
        assert_eq!(rows, 1, "round {round}: activations of the site");

        // 3. A cancel through the servers is seen by status through each.
        let site_path = blog_id.to_string();
        let st = b.status_ok(&owner.token, &site_path).await;
        assert_eq!(st.products[0].slug, "premium", "round {round}: {st:?}");
        // Concurrent identical cancels through both servers: one state change.
        let calls = (0..IDENTICAL).map(|i| {
            let app = if i % 2 == 0 { a.clone() } else { b.clone() };
            let token = owner.token.clone();
            let site_path = site_path.clone();
            async move { app.cancel(&token, &site_path, &[]).await }
        });
        for (status, body) in all(calls).await {
            assert_eq!(status, 200, "round {round}: cancel: {body}");
        }
        let cancelled: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM events e JOIN activations a ON a.id = e.activation_id \
             WHERE a.blog_id = $1 AND e.to_state = 'cancelled'",
        )
        .bind(blog_id as i64)
        .fetch_one(&mut pg)
        .await
        .unwrap();
        assert_eq!(cancelled, 1, "round {round}: cancelled exactly once");
        for app in [&a, &b] {
            let st = app.status_ok(&owner.token, &site_path).await;
            assert_eq!(st.products, [], "round {round}: status after cancel");
        }
    }

    // No server caches tokens: a revocation (here by the operator, on the
    // shared database) holds on both servers with the next request, as
    // does disabling a key.
    let site = "r0-same.scale.example";
    for app in [&a, &b] {
        assert_eq!(app.status(&owner.token, site).await.0, 200);
    }
    a.admin(&["token", "revoke", "--token", &owner.token])
        .unwrap();
    for app in [&a, &b] {
        let (status, body) = app.status(&owner.token, site).await;
        assert_error(status, &body, 403, "invalid_token");
    }
    let other = a.partner("Disabled later").await;
    for app in [&a, &b] {
        assert_eq!(app.status(&other.token, site).await.0, 200);
    }
    b.admin(&["key", "disable", &other.key_id.to_string()])
        .unwrap();
    for app in [&a, &b] {
        let (status, body) = app.status(&other.token, site).await;
        assert_error(status, &body, 400, "partner_key_disabled");
    }
}

/// Runs the calls as concurrent tasks; their results in order.
async fn all<F, T>(calls: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = calls.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}
