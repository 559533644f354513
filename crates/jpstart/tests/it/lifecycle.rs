//! Helpers shared by the cancellation, status and model tests: provisioning a
//! site, reading raw responses, the operator's view of activations, and
//! injecting a fault into the test's own database.

use jpstart_types::wire::{AdminActivation, ProvisionResponse};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::*;

/// `POST /jpphp/provision` of `plan` to `https://{url}`; asserts success and
/// returns the blog id.
pub async fn provision_ok(app: &TestApp, token: &str, url: &str, plan: &str) -> u64 {
    provision_with(app, token, url, plan, &[]).await
}

/// As [`provision_ok`], with extra form fields (e.g. `force_connect`).
pub async fn provision_with(
    app: &TestApp,
    token: &str,
    url: &str,
    plan: &str,
    extra: &[(&str, &str)],
) -> u64 {
    let siteurl = format!("https://{url}");
    let mut fields = vec![
        ("siteurl", siteurl.as_str()),
        ("local_user", "admin"),
        ("plan", plan),
    ];
    fields.extend_from_slice(extra);
    let (status, body) = app.provision(token, &fields).await;
    assert_eq!(status, 200, "provision {plan} to {url}: {body}");
    assert!(decode::<ProvisionResponse>(&body).success, "{body}");
    app.blog_id(&siteurl)
}

/// Status and raw text of any request.
pub async fn send_text(req: reqwest::RequestBuilder) -> (StatusCode, String) {
    let res = req.send().await.expect("request");
    let status = res.status();
    (status, res.text().await.expect("body"))
}

/// Status and body of a GET or POST with a bearer token.
pub async fn call(app: &TestApp, method: Method, path: &str, token: &str) -> (StatusCode, Value) {
    json(
        app.request(method, path)
            .bearer_auth(token)
            .send()
            .await
            .expect("request"),
    )
    .await
}

/// `GET /rest/v1.3/jpphp/{site}/upgrade-paths`.
pub async fn upgrade_paths(app: &TestApp, token: &str, site: &str) -> (StatusCode, Value) {
    let path = format!("/rest/v1.3/jpphp/{site}/upgrade-paths");
    call(app, Method::GET, &path, token).await
}

/// `jpstart admin activations --site SITE`.
pub fn activations(app: &TestApp, site: &str) -> Vec<AdminActivation> {
    app.activations(&["--site", site])
}

/// `(product, state, key_id)` of every activation of a site, in id order.
pub fn states(app: &TestApp, site: &str) -> Vec<(String, String, Option<u64>)> {
    activations(app, site)
        .iter()
        .map(|a| (a.product.clone(), a.state.clone(), a.key_id))
        .collect()
}

/// How a test breaks the database under a running server.
pub enum Fault {
    /// Updating an activation of this product to `cancelled` fails.
    CancelOf(&'static str),
    /// Writing a `cancelled` event fails (after the state change).
    CancelEvent,
}

/// Installs a trigger in the test's own database that makes a statement of
/// the server fail, as a real storage fault would; returns an undo.
pub async fn inject(db: &Db, fault: Fault) -> FaultGuard {
    // The table and condition are fixed by the test, never input.
    let (table, when) = match fault {
        Fault::CancelOf(product) => (
            "activations",
            format!("NEW.state = 'cancelled' AND NEW.product = '{product}'"),
        ),
        Fault::CancelEvent => ("events", "NEW.to_state = 'cancelled'".to_string()),
    };
    let event = if table == "events" {
        "INSERT"
    } else {
        "UPDATE"
    };
    let stmts: Vec<String> = match db.backend {
        Backend::Sqlite => vec![format!(
            "CREATE TRIGGER test_fault BEFORE {event} ON {table} WHEN {when} \
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
        )],
        Backend::Postgres => vec![
            "CREATE FUNCTION test_fault() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$"
                .to_string(),
            format!(
                "CREATE TRIGGER test_fault BEFORE {event} ON {table} FOR EACH ROW \
                 WHEN ({when}) EXECUTE FUNCTION test_fault()"
            ),
        ],
    };
    for s in &stmts {
        execute(db, s).await;
    }
    FaultGuard {
        undo: match db.backend {
            Backend::Sqlite => vec!["DROP TRIGGER test_fault".into()],
            Backend::Postgres => vec![
                format!("DROP TRIGGER test_fault ON {table}"),
                "DROP FUNCTION test_fault()".into(),
            ],
        },
    }
}

/// Removes an injected fault ([`FaultGuard::remove`]).
pub struct FaultGuard {
    undo: Vec<String>,
}

impl FaultGuard {
    pub async fn remove(self, db: &Db) {
        for s in &self.undo {
            execute(db, s).await;
        }
    }
}

/// Runs one statement on the test's database, beside the server.
pub async fn execute(db: &Db, sql: &str) {
    use sqlx::Connection;
    match db.backend {
        Backend::Sqlite => {
            let mut c = sqlx::sqlite::SqliteConnection::connect(&db.url)
                .await
                .expect("open the test's SQLite file");
            sqlx::raw_sql(sql).execute(&mut c).await.expect(sql);
            c.close().await.expect("close");
        }
        Backend::Postgres => {
            let mut c = sqlx::postgres::PgConnection::connect(&db.url)
                .await
                .expect("connect to the test database");
            sqlx::raw_sql(sql).execute(&mut c).await.expect(sql);
            c.close().await.expect("close");
        }
    }
}

/// One integer a query returns, read beside the server.
pub async fn count(db: &Db, sql: &str) -> i64 {
    use sqlx::{Connection, Row};
    match db.backend {
        Backend::Sqlite => {
            let mut c = sqlx::sqlite::SqliteConnection::connect(&db.url)
                .await
                .expect("open the test's SQLite file");
            sqlx::query(sql)
                .fetch_one(&mut c)
                .await
                .expect(sql)
                .get::<i64, _>(0)
        }
        Backend::Postgres => {
            let mut c = sqlx::postgres::PgConnection::connect(&db.url)
                .await
                .expect("connect to the test database");
            sqlx::query(sql)
                .fetch_one(&mut c)
                .await
                .expect(sql)
                .get::<i64, _>(0)
        }
    }
}
